//! The small forms dialogs are made of: objections, replies, status
//! changes, reasons (hold, escalate, access, rejection), co-signing (lane
//! and audience) and the readiness record before release.

use ratatui::style::Style;
use ratatui_textarea::TextArea;
use trustroom_shared::objection::{ObjectionKind, ObjectionStatus};
use trustroom_shared::readiness::{Armed, LaneCover, Readiness};
use trustroom_shared::release::{Audience, Lane};
use trustroom_shared::{ObjectionId, SectionId};

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
    /// What the confirm prompt was armed on (while it is open).
    pub armed: Option<Armed>,
    /// What changed under a prompt that disarmed itself, shown until the
    /// owner arms again.
    pub changed: Vec<String>,
    /// The content changes applied since the prompt was armed
    /// (`rev 147: section "Summary" edited`).
    pub seen: Vec<String>,
}

impl ReadinessForm {
    pub fn lane(&self) -> Lane {
        LANES[self.lane % LANES.len()]
    }

    pub fn audience(&self) -> Audience {
        AUDIENCES[self.audience % AUDIENCES.len()]
    }

    pub fn new(record: Readiness, server_checked: bool) -> Self {
        ReadinessForm {
            record,
            server_checked,
            lane: 0,
            audience: 0,
            step: ReadinessStep::Review,
            scroll: 0,
            armed: None,
            changed: Vec::new(),
            seen: Vec::new(),
        }
    }

    /// Arms the confirm prompt on the record as it is now.
    pub fn arm(&mut self) {
        self.armed = Some(Armed::new(&self.record, self.lane(), self.audience()));
        self.changed.clear();
        self.seen.clear();
        self.step = ReadinessStep::Confirm;
    }

    /// Back to the review step (the prompt disarmed).
    pub fn back(&mut self) {
        self.armed = None;
        self.step = ReadinessStep::Review;
    }

    /// The room moved: show `now`. An armed prompt whose readiness changed
    /// disarms, back to the review, listing what changed (with the content
    /// changes [`seen`](Self::seen) since it was armed). True when it
    /// disarmed.
    pub fn follow(&mut self, now: Readiness, server_checked: bool) -> bool {
        let disarmed = match (&self.armed, self.step) {
            (Some(armed), ReadinessStep::Confirm) => {
                let mut changes = armed.changes(&now);
                if !changes.is_empty() {
                    changes.append(&mut self.seen);
                }
                (!changes.is_empty()).then_some(changes)
            }
            _ => None,
        };
        self.record = now;
        self.server_checked = server_checked;
        match disarmed {
            Some(changes) => {
                self.back();
                self.changed = changes;
                true
            }
            None => false,
        }
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
