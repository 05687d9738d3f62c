//! The small forms dialogs are made of: objections, replies, status
//! changes, reasons (hold, escalate, rejection), access requests (reason
//! and duration), co-signing (lane and audience) and the readiness record
//! before release.

use ratatui::style::Style;
use ratatui_textarea::TextArea;
use trustroom_shared::access::{AccessPolicy, duration_choices};
use trustroom_shared::objection::{Objection, ObjectionKind, ObjectionStatus};
use trustroom_shared::readiness::{Armed, LaneCover, Readiness};
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
    /// The objection the form was opened for (whatever the register does
    /// while it is open).
    pub objection: ObjectionId,
    pub code: String,
    /// Code, first words and author of the objection.
    pub about: String,
    pub text: TextArea<'static>,
    pub error: Option<String>,
}

/// One status the status form offers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusChoice {
    pub status: ObjectionStatus,
    /// Why we may not choose it (shown beside it), when we may not.
    pub refused: Option<String>,
    /// The server wants a rationale for it.
    pub needs_rationale: bool,
    /// We could not undo it: the form asks before sending.
    pub one_way: bool,
}

impl StatusChoice {
    /// What choosing it does, in the form's words (`reopen` for open).
    pub fn verb(&self) -> String {
        match self.status {
            ObjectionStatus::Open => "reopen".into(),
            other => other.to_string(),
        }
    }
}

pub struct StatusForm {
    /// The objection the form was opened for; the form acts on it whatever
    /// the register does while it is open.
    pub objection: ObjectionId,
    pub code: String,
    /// The objection named for the confirmation: code, first words, author.
    pub about: String,
    pub choices: Vec<StatusChoice>,
    pub selected: usize,
    pub rationale: TextArea<'static>,
    /// Asking "this cannot be undone — really?" before sending.
    pub confirming: bool,
    pub error: Option<String>,
}

impl StatusForm {
    pub fn chosen(&self) -> Option<&StatusChoice> {
        self.choices.get(self.selected)
    }

    pub fn needs_rationale(&self) -> bool {
        self.chosen().is_some_and(|c| c.needs_rationale)
    }
}

/// `O-3 “Session logs show two tenant contexts…” by priya.natarajan`: an
/// objection named so the user knows which one a dialog acts on.
pub fn objection_about(o: &Objection, author: &str) -> String {
    const WORDS: usize = 5;
    let words: Vec<&str> = o.text.split_whitespace().collect();
    let mut first = words.iter().take(WORDS).copied().collect::<Vec<_>>().join(" ");
    if words.len() > WORDS {
        first.push('…');
    }
    format!("{} “{first}” by {author}", o.code())
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
