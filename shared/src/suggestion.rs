//! Suggestions: proposed section edits and register changes that a human
//! accepts or rejects.
//!
//! An edit suggestion is a text operation against the section's current
//! text. It is *rebased* whenever the section changes ([`rebase_on_edit`],
//! called from `change::apply`, so the server, a replay and every client
//! agree): the operation is transformed over the accepted edit like any
//! pending operation, unless the edit deleted text the suggestion deletes
//! or replaces (its *target text*); then the suggestion becomes
//! `conflicting` and keeps the operation it had.
//!
//! A register suggestion merges duplicate objections into one, rewords an
//! objection, or sets a missing kind or anchor.
//!
//! Accepting an edit suggestion records the decision
//! (`suggestion_decided`) and then applies the operation as a normal
//! `section_edited` change by the acceptor; the audit entry of that edit
//! names the proposer and the acceptor. Accepting a register suggestion
//! is followed by `objection_amended` / `objection_status_changed`.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::boundary::{BoundaryFlag, BoundaryRule, default_rules};
use crate::ids::{ObjectionId, SectionId, SuggestionId, UserId};
use crate::objection::ObjectionKind;
use crate::ot::{Component, OpError, TextOp};
use crate::role::Role;

/// Longest rationale, in chars.
pub const MAX_RATIONALE_CHARS: usize = 4_000;
/// Most evidence references on one suggestion.
pub const MAX_EVIDENCE: usize = 32;
/// Longest evidence reference, in chars.
pub const MAX_EVIDENCE_CHARS: usize = 80;
/// Most duplicates merged by one suggestion.
pub const MAX_MERGE: usize = 32;

/// Lifecycle: `open` → `accepted` | `rejected` | `withdrawn`; an open
/// suggestion whose target text was deleted, or whose objections are no
/// longer open, becomes `conflicting` (then only rejected or withdrawn).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SuggestionStatus {
    Open,
    Accepted,
    Rejected,
    Conflicting,
    Withdrawn,
}

impl fmt::Display for SuggestionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SuggestionStatus::Open => "open",
            SuggestionStatus::Accepted => "accepted",
            SuggestionStatus::Rejected => "rejected",
            SuggestionStatus::Conflicting => "conflicting",
            SuggestionStatus::Withdrawn => "withdrawn",
        })
    }
}

/// A change to the register an agent (or anyone who may suggest) proposes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum RegisterProposal {
    /// `duplicates` say the same as `keep`: they are withdrawn with a
    /// pointer to `keep` (and their replies stay in their own threads).
    MergeObjections { keep: ObjectionId, duplicates: Vec<ObjectionId> },
    /// Replace an objection's text.
    Reword { objection: ObjectionId, text: String },
    /// Set the kind of an objection filed as `other`.
    SetKind { objection: ObjectionId, kind: ObjectionKind },
    /// Set the statement and/or quote an objection is about.
    SetAnchor {
        objection: ObjectionId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        statement: Option<usize>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        quote: Option<String>,
    },
}

impl RegisterProposal {
    /// Every objection the proposal is about (`keep` first).
    pub fn objections(&self) -> Vec<ObjectionId> {
        match self {
            RegisterProposal::MergeObjections { keep, duplicates } => {
                std::iter::once(*keep).chain(duplicates.iter().copied()).collect()
            }
            RegisterProposal::Reword { objection, .. }
            | RegisterProposal::SetKind { objection, .. }
            | RegisterProposal::SetAnchor { objection, .. } => vec![*objection],
        }
    }

    /// Short name: `merge_objections`, `reword`, `set_kind`, `set_anchor`.
    pub fn action(&self) -> &'static str {
        match self {
            RegisterProposal::MergeObjections { .. } => "merge_objections",
            RegisterProposal::Reword { .. } => "reword",
            RegisterProposal::SetKind { .. } => "set_kind",
            RegisterProposal::SetAnchor { .. } => "set_anchor",
        }
    }
}

/// What a suggestion proposes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "target", rename_all = "snake_case")]
pub enum Proposal {
    /// A text operation against the section's text at the suggestion's
    /// `revision` (for an open suggestion: the current text). Typed, like
    /// `Change::SectionEdited`'s (see `crate::ot`).
    Edit { section: SectionId, op: TextOp },
    /// A register change.
    Register { change: RegisterProposal },
}

/// A change to an objection's text, kind or anchor (from an accepted
/// register suggestion). Absent fields stay.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Amendment {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<ObjectionKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statement: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quote: Option<String>,
    /// The suggestion it comes from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suggestion: Option<SuggestionId>,
}

/// The human decision on a suggestion (or the proposer's withdrawal).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub status: SuggestionStatus,
    pub by: UserId,
    /// Why (required for a rejection).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub at_ms: i64,
}

/// A suggestion. Never deleted: decided ones stay as history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suggestion {
    pub id: SuggestionId,
    /// Per-room number, shown as `S-N`.
    pub number: u32,
    pub proposer: UserId,
    /// The proposer's role when proposing (metrics count per role).
    pub proposer_role: Role,
    pub proposal: Proposal,
    pub rationale: String,
    /// Evidence references: source record ids, `O-N`, annex codes (ids
    /// only, never annex content).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<String>,
    pub status: SuggestionStatus,
    /// Boundary rules this suggestion tripped (shown as out-of-bounds).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<BoundaryFlag>,
    /// Room revision when proposed.
    pub proposed_revision: u64,
    /// Room revision the operation applies against (moves with rebasing;
    /// frozen once the suggestion is no longer open).
    pub revision: u64,
    /// Why it became conflicting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conflict: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
    pub at_ms: i64,
}

impl Suggestion {
    /// `S-N`.
    pub fn code(&self) -> String {
        format!("S-{}", self.number)
    }

    pub fn is_open(&self) -> bool {
        self.status == SuggestionStatus::Open
    }

    /// The section an edit suggestion is about.
    pub fn section(&self) -> Option<SectionId> {
        match &self.proposal {
            Proposal::Edit { section, .. } => Some(*section),
            Proposal::Register { .. } => None,
        }
    }

    /// The text an edit suggestion inserts (all inserts, joined by newlines).
    pub fn inserted_text(&self) -> String {
        match &self.proposal {
            Proposal::Edit { op, .. } => inserted_text(op),
            Proposal::Register { change: RegisterProposal::Reword { text, .. } } => text.clone(),
            Proposal::Register { change: RegisterProposal::SetAnchor { quote: Some(q), .. } } => q.clone(),
            Proposal::Register { .. } => String::new(),
        }
    }
}

/// The text `op` inserts (inserts joined by newlines).
pub fn inserted_text(op: &TextOp) -> String {
    op.components()
        .iter()
        .filter_map(|c| match c {
            Component::Insert(t) => Some(t.as_str()),
            Component::Retain(_) | Component::Delete(_) => None,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The room's suggestions and their settings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuggestionState {
    #[serde(default)]
    pub suggestions: BTreeMap<SuggestionId, Suggestion>,
    /// Reviewers the owner allowed to accept and reject (owners always may).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub acceptors: Vec<UserId>,
    /// The room's boundary rules; `None`: [`default_rules`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boundary_rules: Option<Vec<BoundaryRule>>,
}

impl SuggestionState {
    /// The boundary rules in force.
    pub fn rules(&self) -> Vec<BoundaryRule> {
        self.boundary_rules.clone().unwrap_or_else(default_rules)
    }

    /// Next free suggestion number.
    pub fn next_number(&self) -> u32 {
        self.suggestions.values().map(|s| s.number).max().unwrap_or(0) + 1
    }

    /// `S-N` or a full id.
    pub fn by_name(&self, name: &str) -> Option<&Suggestion> {
        let n = name.trim();
        if let Some(num) = n.strip_prefix("S-").or_else(|| n.strip_prefix("s-")).and_then(|d| d.parse::<u32>().ok()) {
            return self.suggestions.values().find(|s| s.number == num);
        }
        n.parse::<SuggestionId>().ok().and_then(|id| self.suggestions.get(&id))
    }

    /// Open suggestions, oldest first.
    pub fn open(&self) -> impl Iterator<Item = &Suggestion> {
        self.suggestions.values().filter(|s| s.is_open())
    }
}

/// Why a member may not accept or reject suggestions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecideRefusal {
    /// Agents, observers and downstream members never decide suggestions.
    Role,
    /// A reviewer the owner has not allowed.
    NotAllowed,
}

/// Whether `user` (with `role`) may accept or reject suggestions: owners,
/// and reviewers the owner allowed. Agents never.
pub fn may_decide(state: &SuggestionState, user: UserId, role: &Role) -> Result<(), DecideRefusal> {
    match role {
        Role::Owner => Ok(()),
        Role::Reviewer { .. } if state.acceptors.contains(&user) => Ok(()),
        Role::Reviewer { .. } => Err(DecideRefusal::NotAllowed),
        Role::Agent { .. } | Role::Observer | Role::Downstream { .. } => Err(DecideRefusal::Role),
    }
}

/// Half-open char ranges (in `op`'s base text) that `op` deletes.
pub fn deleted_ranges(op: &TextOp) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    for c in op.components() {
        match c {
            Component::Retain(n) => pos += n,
            Component::Insert(_) => {}
            Component::Delete(n) => {
                out.push(pos..pos + n);
                pos += n;
            }
        }
    }
    out
}

/// Whether `edit` deletes any char `suggestion` deletes (both against the
/// same text): the suggestion's target text is gone.
pub fn target_deleted(suggestion: &TextOp, edit: &TextOp) -> bool {
    let a = deleted_ranges(suggestion);
    let b = deleted_ranges(edit);
    a.iter().any(|x| b.iter().any(|y| x.start < y.end && y.start < x.end))
}

/// The outcome of rebasing one suggestion over an accepted edit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rebased {
    /// Still applicable: the operation against the edited text.
    Moved(TextOp),
    /// Its target text was deleted.
    Conflicting,
}

/// Rebases a suggestion's operation over an accepted `edit` of the same
/// text. The accepted edit's inserts win ties (it was sequenced first).
pub fn rebase(suggestion: &TextOp, edit: &TextOp) -> Result<Rebased, OpError> {
    if suggestion.base_len() != edit.base_len() {
        return Err(OpError::Misaligned("suggestion and edit have different base lengths"));
    }
    if target_deleted(suggestion, edit) {
        return Ok(Rebased::Conflicting);
    }
    let (_, moved) = TextOp::transform(edit, suggestion)?;
    Ok(Rebased::Moved(moved))
}

/// Rebases every open edit suggestion on `section` over `edit` (already
/// applied as room revision `revision`). Pure; called by `change::apply`.
pub fn rebase_on_edit(state: &mut SuggestionState, section: SectionId, edit: &TextOp, revision: u64) {
    for s in state.suggestions.values_mut().filter(|s| s.is_open()) {
        let Proposal::Edit { section: sec, op } = &s.proposal else { continue };
        if *sec != section {
            continue;
        }
        match rebase(op, edit) {
            Ok(Rebased::Moved(op)) => {
                s.proposal = Proposal::Edit { section, op };
                s.revision = revision;
            }
            Ok(Rebased::Conflicting) => {
                s.status = SuggestionStatus::Conflicting;
                s.conflict = Some(format!("the text it changes was deleted at rev {revision}"));
            }
            Err(e) => {
                s.status = SuggestionStatus::Conflicting;
                s.conflict = Some(format!("cannot follow the edit at rev {revision}: {e}"));
            }
        }
    }
}

/// Marks open register suggestions about `objection` conflicting (the
/// objection is no longer open).
pub fn objection_closed(state: &mut SuggestionState, objection: ObjectionId, revision: u64) {
    for s in state.suggestions.values_mut().filter(|s| s.is_open()) {
        if let Proposal::Register { change } = &s.proposal
            && change.objections().contains(&objection)
        {
            s.status = SuggestionStatus::Conflicting;
            s.conflict = Some(format!("an objection it is about was closed at rev {revision}"));
        }
    }
}

/// The edit suggestions on `section` that are open, in number order.
pub fn open_on_section(state: &SuggestionState, section: SectionId) -> Vec<&Suggestion> {
    state.open().filter(|s| s.section() == Some(section)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_elsewhere_moves_the_suggestion() {
        let base = "alpha beta gamma";
        let s = TextOp::from_texts(base, "alpha BETA gamma");
        let e = TextOp::from_texts(base, "0 alpha beta gamma");
        let Rebased::Moved(s2) = rebase(&s, &e).expect("rebase") else { panic!("should move") };
        assert_eq!(s2.apply("0 alpha beta gamma").expect("applies"), "0 alpha BETA gamma");
    }

    #[test]
    fn deleting_the_target_conflicts() {
        let base = "alpha beta gamma";
        let s = TextOp::from_texts(base, "alpha BETA gamma");
        let e = TextOp::from_texts(base, "alpha gamma");
        assert_eq!(rebase(&s, &e).expect("rebase"), Rebased::Conflicting);
    }

    #[test]
    fn pure_insert_survives_deletion_around_it() {
        let base = "alpha beta gamma";
        let s = TextOp::from_texts(base, "alpha be-ta gamma");
        assert_eq!(deleted_ranges(&s), Vec::<std::ops::Range<usize>>::new());
        let e = TextOp::from_texts(base, "alpha gamma");
        let Rebased::Moved(s2) = rebase(&s, &e).expect("rebase") else { panic!("should move") };
        assert_eq!(s2.apply("alpha gamma").expect("applies"), "alpha -gamma");
    }

    #[test]
    fn may_decide_owner_and_allowed_reviewers_only() {
        use crate::role::{AgentRole, Discipline};
        let owner = UserId::new();
        let rev = UserId::new();
        let mut st = SuggestionState::default();
        let reviewer = Role::Reviewer { discipline: Discipline::Privacy };
        assert_eq!(may_decide(&st, owner, &Role::Owner), Ok(()));
        assert_eq!(may_decide(&st, rev, &reviewer), Err(DecideRefusal::NotAllowed));
        st.acceptors.push(rev);
        assert_eq!(may_decide(&st, rev, &reviewer), Ok(()));
        assert_eq!(may_decide(&st, rev, &Role::Agent { agent_role: AgentRole::Chronology }), Err(DecideRefusal::Role));
        assert_eq!(may_decide(&st, rev, &Role::Observer), Err(DecideRefusal::Role));
    }

    #[test]
    fn by_name_finds_codes_and_ids() {
        let mut st = SuggestionState::default();
        let s = Suggestion {
            id: SuggestionId::new(),
            number: 3,
            proposer: UserId::new(),
            proposer_role: Role::Owner,
            proposal: Proposal::Register {
                change: RegisterProposal::SetKind { objection: ObjectionId::new(), kind: ObjectionKind::Wording },
            },
            rationale: "r".into(),
            evidence: vec![],
            status: SuggestionStatus::Open,
            flags: vec![],
            proposed_revision: 1,
            revision: 1,
            conflict: None,
            decision: None,
            at_ms: 0,
        };
        let id = s.id;
        st.suggestions.insert(id, s);
        assert_eq!(st.by_name("S-3").map(|s| s.id), Some(id));
        assert_eq!(st.by_name(&id.to_string()).map(|s| s.number), Some(3));
        assert!(st.by_name("S-4").is_none());
        assert_eq!(st.next_number(), 4);
    }
}
