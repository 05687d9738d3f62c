//! The disagreement register: objections, their anchors, threads and status.

use serde::{Deserialize, Serialize};

use crate::ids::{ObjectionId, ReplyId, SectionId, UserId};
use crate::role::{ParseEnumError, kebab_enum_text};
use std::fmt;
use std::str::FromStr;

/// What an objection is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ObjectionKind {
    ExposureScope,
    EvidenceSufficiency,
    Wording,
    Sensitivity,
    Other,
}

kebab_enum_text!(ObjectionKind, "objection kind", [
    ObjectionKind::ExposureScope => "exposure-scope",
    ObjectionKind::EvidenceSufficiency => "evidence-sufficiency",
    ObjectionKind::Wording => "wording",
    ObjectionKind::Sensitivity => "sensitivity",
    ObjectionKind::Other => "other",
]);

/// Lifecycle: `open` → `addressed` | `withdrawn` | `accepted-residual`, and
/// `addressed` → `open` (a reopen). `withdrawn` and `accepted-residual` are
/// final: see [`status_move_allowed`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ObjectionStatus {
    Open,
    Addressed,
    Withdrawn,
    AcceptedResidual,
}

kebab_enum_text!(ObjectionStatus, "objection status", [
    ObjectionStatus::Open => "open",
    ObjectionStatus::Addressed => "addressed",
    ObjectionStatus::Withdrawn => "withdrawn",
    ObjectionStatus::AcceptedResidual => "accepted-residual",
]);

/// Where an objection points.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anchor {
    pub section: SectionId,
    /// Paragraph index in the section, when it is about one statement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statement: Option<usize>,
    /// The quoted text it is about, when anchored to a selection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quote: Option<String>,
}

/// One reply in an objection's thread.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    pub id: ReplyId,
    pub author: UserId,
    pub text: String,
    pub at_ms: i64,
}

/// One status change, kept as history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusChange {
    pub status: ObjectionStatus,
    pub by: UserId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rationale: Option<String>,
    pub at_ms: i64,
}

/// An objection in the register. Never deleted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Objection {
    pub id: ObjectionId,
    /// Per-room number, shown as `O-N` and used by `[contested: O-N]`.
    pub number: u32,
    pub author: UserId,
    pub anchor: Anchor,
    pub kind: ObjectionKind,
    pub blocking: bool,
    pub text: String,
    pub status: ObjectionStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rationale: Option<String>,
    pub replies: Vec<Reply>,
    pub history: Vec<StatusChange>,
    pub at_ms: i64,
    /// Set when a downstream lane opened it from a finding after the
    /// handoff (absent in objections stored before there were any).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub found_downstream: Option<crate::downstream::FoundDownstream>,
}

impl Objection {
    /// `O-N`.
    pub fn code(&self) -> String {
        format!("O-{}", self.number)
    }

    pub fn is_open(&self) -> bool {
        self.status == ObjectionStatus::Open
    }
}

impl ObjectionStatus {
    /// No move leaves this status: `withdrawn` and `accepted-residual`.
    pub fn is_final(self) -> bool {
        matches!(self, ObjectionStatus::Withdrawn | ObjectionStatus::AcceptedResidual)
    }
}

/// Whether `from → to` is a legal status move: an open objection may become
/// addressed, withdrawn or accepted-residual; an addressed one may be
/// reopened. Nothing else (withdrawn and accepted-residual are final, and a
/// status never "moves" to itself).
pub fn status_move_allowed(from: ObjectionStatus, to: ObjectionStatus) -> bool {
    use ObjectionStatus::*;
    matches!((from, to), (Open, Addressed | Withdrawn | AcceptedResidual) | (Addressed, Open))
}

/// Who is asking to change an objection's status: the rules beyond the
/// capability the request table checks depend on these two facts only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatusActor {
    pub user: UserId,
    /// The actor is an owner of the room.
    pub owner: bool,
}

impl StatusActor {
    fn is_author_of(self, o: &Objection) -> bool {
        o.author == self.user
    }
}

/// Why a status change is refused (the server answers with the matching
/// error code: `conflict`, `forbidden`, `invalid`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StatusRefusal {
    /// The move is not in the lifecycle (a final status, or no change).
    Conflict(String),
    /// The actor may not make this move on this objection.
    Forbidden(String),
    /// A rationale is missing.
    Invalid(String),
}

/// Whether `actor` may reopen `o` (move it from addressed back to open):
/// its author, or an owner. A reviewer who marked someone else's objection
/// addressed cannot take that back; the author can.
pub fn may_reopen(o: &Objection, actor: StatusActor) -> bool {
    actor.is_author_of(o) || actor.owner
}

/// Whether moving `o` to `to` needs a rationale from `actor`:
/// accepted-residual always; resolving a blocking objection someone else
/// raised (addressed, withdrawn) too, so the author sees why.
pub fn needs_rationale(o: &Objection, to: ObjectionStatus, actor: StatusActor) -> bool {
    match to {
        ObjectionStatus::AcceptedResidual => true,
        ObjectionStatus::Addressed | ObjectionStatus::Withdrawn => o.blocking && !actor.is_author_of(o),
        ObjectionStatus::Open => false,
    }
}

/// Whether moving `o` to `to` cannot be undone by `actor`: withdrawn and
/// accepted-residual are final, and addressed is final for whoever may not
/// reopen it.
pub fn is_one_way_for(o: &Objection, to: ObjectionStatus, actor: StatusActor) -> bool {
    match to {
        ObjectionStatus::Withdrawn | ObjectionStatus::AcceptedResidual => true,
        ObjectionStatus::Addressed => !may_reopen(o, actor),
        ObjectionStatus::Open => false,
    }
}

/// The rules for moving `o` to `to` beyond the request's capability (which
/// the request table checks: `resolve_objection`, or `accept_residual` for
/// accepted-residual). `None` when the move may go ahead.
pub fn status_change_refusal(
    o: &Objection,
    to: ObjectionStatus,
    actor: StatusActor,
    rationale: Option<&str>,
) -> Option<StatusRefusal> {
    let code = o.code();
    if !status_move_allowed(o.status, to) {
        let why = if o.status.is_final() {
            format!("{code} is {}, which is final: it cannot become {to}", o.status)
        } else if o.status == to {
            format!("{code} is already {to}")
        } else {
            format!("{code} is {} and cannot become {to}; only an addressed objection can be reopened", o.status)
        };
        return Some(StatusRefusal::Conflict(why));
    }
    match to {
        ObjectionStatus::Withdrawn if !actor.is_author_of(o) && !actor.owner => {
            return Some(StatusRefusal::Forbidden(format!("only the author of {code} or an owner may withdraw it")));
        }
        ObjectionStatus::Open if !may_reopen(o, actor) => {
            return Some(StatusRefusal::Forbidden(format!("only the author of {code} or an owner may reopen it")));
        }
        _ => {}
    }
    let blank = rationale.is_none_or(crate::blank::is_blank);
    if blank && needs_rationale(o, to, actor) {
        let why = if to == ObjectionStatus::AcceptedResidual {
            "accepted-residual needs a rationale".to_string()
        } else {
            format!("{code} is a blocking objection another member raised: marking it {to} needs a rationale")
        };
        return Some(StatusRefusal::Invalid(why));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use ObjectionStatus::*;

    const ALL: [ObjectionStatus; 4] = [Open, Addressed, Withdrawn, AcceptedResidual];

    fn objection(author: UserId, blocking: bool, status: ObjectionStatus) -> Objection {
        Objection {
            id: ObjectionId::new(),
            number: 3,
            author,
            anchor: Anchor { section: SectionId::new(), statement: None, quote: None },
            kind: ObjectionKind::ExposureScope,
            blocking,
            text: "Scope is wider".into(),
            status,
            rationale: None,
            replies: Vec::new(),
            history: Vec::new(),
            at_ms: 0,
            found_downstream: None,
        }
    }

    #[test]
    fn the_lifecycle_moves_and_nothing_else() {
        let mut allowed = Vec::new();
        for from in ALL {
            for to in ALL {
                if status_move_allowed(from, to) {
                    allowed.push((from, to));
                }
            }
        }
        assert_eq!(allowed, vec![(Open, Addressed), (Open, Withdrawn), (Open, AcceptedResidual), (Addressed, Open)]);
    }

    #[test]
    fn withdrawn_and_accepted_residual_are_final() {
        for from in [Withdrawn, AcceptedResidual] {
            assert!(from.is_final());
            assert!(ALL.iter().all(|to| !status_move_allowed(from, *to)), "{from} must be final");
        }
        assert!(!Open.is_final() && !Addressed.is_final());
    }

    #[test]
    fn the_author_and_an_owner_may_reopen_others_may_not() {
        let (author, other) = (UserId::new(), UserId::new());
        let o = objection(author, false, Addressed);
        let as_author = StatusActor { user: author, owner: false };
        let as_owner = StatusActor { user: other, owner: true };
        let as_reviewer = StatusActor { user: other, owner: false };
        assert_eq!(status_change_refusal(&o, Open, as_author, None), None);
        assert_eq!(status_change_refusal(&o, Open, as_owner, None), None);
        assert!(
            matches!(status_change_refusal(&o, Open, as_reviewer, None), Some(StatusRefusal::Forbidden(m)) if m.contains("O-3"))
        );
    }

    #[test]
    fn reopening_a_final_status_is_a_conflict_for_everyone() {
        let author = UserId::new();
        for status in [Withdrawn, AcceptedResidual] {
            let o = objection(author, true, status);
            for actor in [StatusActor { user: author, owner: true }, StatusActor { user: author, owner: false }] {
                let refusal = status_change_refusal(&o, Open, actor, Some("why"));
                assert!(matches!(&refusal, Some(StatusRefusal::Conflict(m)) if m.contains("final")), "{refusal:?}");
            }
        }
        let open = objection(author, false, Open);
        assert!(matches!(
            status_change_refusal(&open, Open, StatusActor { user: author, owner: false }, None),
            Some(StatusRefusal::Conflict(m)) if m.contains("already open")
        ));
    }

    #[test]
    fn resolving_another_members_blocking_objection_needs_a_rationale() {
        let (author, other) = (UserId::new(), UserId::new());
        let blocking = objection(author, true, Open);
        let reviewer = StatusActor { user: other, owner: false };
        let owner = StatusActor { user: other, owner: true };
        assert!(matches!(
            status_change_refusal(&blocking, Addressed, reviewer, None),
            Some(StatusRefusal::Invalid(m)) if m.contains("rationale")
        ));
        assert!(matches!(
            status_change_refusal(&blocking, Withdrawn, owner, Some("  ")),
            Some(StatusRefusal::Invalid(_))
        ));
        assert_eq!(status_change_refusal(&blocking, Addressed, reviewer, Some("SL-0104 added")), None);
        // The author resolves their own without one; a non-blocking one needs none.
        assert_eq!(status_change_refusal(&blocking, Addressed, StatusActor { user: author, owner: false }, None), None);
        assert_eq!(status_change_refusal(&objection(author, false, Open), Addressed, reviewer, None), None);
        // Accepted-residual always needs one, and reopening never does.
        assert!(matches!(
            status_change_refusal(&objection(author, false, Open), AcceptedResidual, owner, None),
            Some(StatusRefusal::Invalid(_))
        ));
    }

    #[test]
    fn only_the_author_or_an_owner_withdraws() {
        let (author, other) = (UserId::new(), UserId::new());
        let o = objection(author, false, Open);
        assert!(matches!(
            status_change_refusal(&o, Withdrawn, StatusActor { user: other, owner: false }, Some("dup")),
            Some(StatusRefusal::Forbidden(_))
        ));
        assert_eq!(status_change_refusal(&o, Withdrawn, StatusActor { user: author, owner: false }, None), None);
    }

    #[test]
    fn one_way_moves_depend_on_who_acts() {
        let (author, other) = (UserId::new(), UserId::new());
        let o = objection(author, false, Open);
        let as_author = StatusActor { user: author, owner: false };
        let as_reviewer = StatusActor { user: other, owner: false };
        assert!(!is_one_way_for(&o, Addressed, as_author));
        assert!(is_one_way_for(&o, Addressed, as_reviewer));
        assert!(!is_one_way_for(&o, Addressed, StatusActor { user: other, owner: true }));
        assert!(is_one_way_for(&o, Withdrawn, as_author));
        assert!(is_one_way_for(&o, AcceptedResidual, as_author));
        assert!(!is_one_way_for(&o, Open, as_reviewer));
    }
}
