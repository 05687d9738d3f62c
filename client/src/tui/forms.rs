//! The small forms dialogs are made of: objections, replies, status
//! changes, reasons (hold, escalate, rejection), access requests (reason
//! and duration), co-signing (lane and audience) and the readiness record
//! before release.

use ratatui::style::Style;
use ratatui_textarea::TextArea;
use trustroom_shared::access::{AccessPolicy, duration_choices};
use trustroom_shared::objection::{ObjectionKind, ObjectionStatus};
use trustroom_shared::readiness::{LaneCover, Readiness};
use trustroom_shared::release::{Audience, Lane};
use trustroom_shared::{AnnexId, ObjectionId, SectionId};

use super::action::ReasonPurpose;
use super::theme::Theme;

pub const KINDS: [ObjectionKind; 5] = [
    ObjectionKind::ExposureScope,
    ObjectionKind::EvidenceSufficiency,
    ObjectionKind::Wording,
    ObjectionKind::Sensitivity,
    ObjectionKind::Other,
];

pub const LANES: [Lane; 3] = Lane::ALL;

/// Audiences, narrow → wide; the first (`lane-reviewers`) is the default.
pub const AUDIENCES: [Audience; 3] = Audience::ALL;

/// The next index of a list of `len` choices, forward or back, wrapping.
pub fn cycle(i: usize, len: usize, forward: bool) -> usize {
    if forward { (i + 1) % len } else { (i + len - 1) % len }
}

/// A one-line text input.
pub fn input(theme: &Theme, placeholder: &str) -> TextArea<'static> {
    let mut t = TextArea::default();
    t.set_cursor_line_style(Style::default());
    t.set_cursor_style(theme.textarea_cursor());
    t.set_placeholder_text(placeholder.to_string());
    t.set_placeholder_style(theme.dim());
    t.set_max_histories(20);
    t
}

pub fn input_text(t: &TextArea<'_>) -> String {
    t.lines().join(" ").trim().to_string()
}

/// Co-signing: the content hash (and packet revision) the signature binds,
/// and the lane and audience it approves, chosen in the dialog.
pub struct CosignForm {
    pub content_hash: String,
    pub revision: u64,
    pub lane: usize,
    pub audience: usize,
}

impl CosignForm {
    /// Lane `privacy` and audience `lane-reviewers` until the signer picks others.
    pub fn new(content_hash: String, revision: u64) -> Self {
        CosignForm { content_hash, revision, lane: 0, audience: 0 }
    }

    pub fn lane(&self) -> Lane {
        LANES[self.lane % LANES.len()]
    }

    pub fn audience(&self) -> Audience {
        AUDIENCES[self.audience % AUDIENCES.len()]
    }

    /// `Co-sign packet rev 12 (hash 9f2c3a1b0d4e…) for lane privacy · audience lane-reviewers`.
    pub fn summary(&self) -> String {
        let short: String = self.content_hash.chars().take(12).collect();
        format!(
            "Co-sign packet rev {} (hash {short}…) for lane {} · audience {}",
            self.revision,
            self.lane(),
            self.audience()
        )
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ObjectionField {
    Kind,
    Blocking,
    Text,
}

pub struct ObjectionForm {
    pub section: SectionId,
    pub section_title: String,
    /// Selected text the objection is about.
    pub quote: Option<String>,
    pub kind: usize,
    pub blocking: bool,
    pub text: TextArea<'static>,
    pub field: ObjectionField,
    pub error: Option<String>,
}

pub struct ReplyForm {
    pub objection: ObjectionId,
    pub code: String,
    pub text: TextArea<'static>,
    pub error: Option<String>,
}

pub struct StatusForm {
    pub objection: ObjectionId,
    pub code: String,
    /// Each target status and whether our role may choose it.
    pub choices: Vec<(ObjectionStatus, bool)>,
    pub selected: usize,
    pub rationale: TextArea<'static>,
    pub error: Option<String>,
}

impl StatusForm {
    pub fn chosen(&self) -> Option<(ObjectionStatus, bool)> {
        self.choices.get(self.selected).copied()
    }

    pub fn needs_rationale(&self) -> bool {
        self.chosen().is_some_and(|(s, _)| s == ObjectionStatus::AcceptedResidual)
    }
}

pub struct ReasonForm {
    pub purpose: ReasonPurpose,
    pub text: TextArea<'static>,
    /// Escalate asks again before sending.
    pub confirming: bool,
    pub error: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadinessStep {
    Review,
    Confirm,
}

pub struct ReadinessForm {
    pub record: Readiness,
    /// The record came from the server (with the annex-boundary check).
    pub server_checked: bool,
    pub lane: usize,
    /// Index into [`AUDIENCES`] (default `lane-reviewers`).
    pub audience: usize,
    pub step: ReadinessStep,
    pub scroll: u16,
}

impl ReadinessForm {
    pub fn lane(&self) -> Lane {
        LANES[self.lane % LANES.len()]
    }

    pub fn audience(&self) -> Audience {
        AUDIENCES[self.audience % AUDIENCES.len()]
    }

    /// Whether the co-signatures cover the chosen lane and audience.
    pub fn cover(&self) -> Option<&LaneCover> {
        self.record.cosign.cover(self.lane(), self.audience())
    }

    /// Nothing blocks releasing to the chosen lane and audience: no content
    /// blocker or failing room check, and co-signatures that cover it (a
    /// record without lane covers, from an older server, must be clear).
    pub fn releasable(&self) -> bool {
        match self.cover() {
            Some(cover) => cover.met && self.record.blockers.iter().all(|b| b.is_cosign()),
            None => self.record.is_clear(),
        }
    }
}

/// Asking for access to a gated annex: why (audited; an owner other than
/// the requester decides) and for how long, chosen among a few durations
/// within the room's longest grant (the CLI's `--for`).
pub struct AccessForm {
    pub annex: AnnexId,
    /// The annex's code (`A1`).
    pub code: String,
    pub text: TextArea<'static>,
    /// The durations offered, shortest first (ms).
    pub durations: Vec<u64>,
    /// Index into `durations`.
    pub duration: usize,
    /// The room's longest grant (ms).
    pub max_ms: u64,
    /// Who decides, in words: `an owner (morgan.hale)`.
    pub deciders: String,
    /// Our request for this annex still pending (`R-3 for 1h`): a new
    /// request folds into it.
    pub pending: Option<String>,
    /// Why the last attempt failed (the server's refusal, with its code).
    pub error: Option<String>,
}

impl AccessForm {
    /// The form for `annex`, offering the durations `policy` allows, its
    /// default chosen.
    pub fn new(theme: &Theme, annex: AnnexId, code: String, policy: &AccessPolicy, deciders: String) -> Self {
        let durations = duration_choices(policy);
        let duration = durations.iter().position(|d| *d == policy.default_duration_ms).unwrap_or(0);
        AccessForm {
            annex,
            code,
            text: input(theme, "why you need this annex (e.g. the case id); audited"),
            durations,
            duration,
            max_ms: policy.max_duration_ms,
            deciders,
            pending: None,
            error: None,
        }
    }

    /// The chosen duration (ms).
    pub fn duration_ms(&self) -> u64 {
        self.durations.get(self.duration).copied().unwrap_or(self.max_ms)
    }
}
