//! Release state: drafting → held / ready → released / escalated.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::change::{Change, Revision};
use crate::export::redact_sensitive;
use crate::ids::{ObjectionId, SectionId, UserId};
use crate::role::{Discipline, ParseEnumError, kebab_enum_text};
use crate::room::RoomState;

/// A downstream review lane.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Lane {
    Privacy,
    ProductSecurity,
    AccountGovernance,
}

kebab_enum_text!(Lane, "lane", [
    Lane::Privacy => "privacy",
    Lane::ProductSecurity => "product-security",
    Lane::AccountGovernance => "account-governance",
]);

impl Lane {
    /// Every lane, in wire order.
    pub const ALL: [Lane; 3] = [Lane::Privacy, Lane::ProductSecurity, Lane::AccountGovernance];
}

/// Who downstream may read a release: the privacy/audience scope an
/// approval binds. Ordered narrow → wide: a co-signature for audience `A`
/// covers releases to any audience `≤ A`, never a wider one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Audience {
    /// Only the reviewers of the named downstream lane (the default).
    #[default]
    LaneReviewers,
    /// The lane's reviewers plus its accountable leads.
    LaneAndLeads,
    /// Any internal team of the organisation.
    Organisation,
}

kebab_enum_text!(Audience, "audience", [
    Audience::LaneReviewers => "lane-reviewers",
    Audience::LaneAndLeads => "lane-and-leads",
    Audience::Organisation => "organisation",
]);

impl Audience {
    /// Every audience, narrow → wide.
    pub const ALL: [Audience; 3] = [Audience::LaneReviewers, Audience::LaneAndLeads, Audience::Organisation];

    /// Who may read a release to this audience, for people.
    pub fn description(self) -> &'static str {
        match self {
            Audience::LaneReviewers => "the downstream lane's reviewers only",
            Audience::LaneAndLeads => "the lane's reviewers and its accountable leads",
            Audience::Organisation => "any internal team of the organisation",
        }
    }

    /// Whether an approval for `self` covers a release to `release`
    /// (the same audience or a narrower one).
    pub fn covers(self, release: Audience) -> bool {
        release <= self
    }
}

/// The room's release state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum ReleaseState {
    Drafting,
    Held { reasons: Vec<String>, by: UserId, at_ms: i64 },
    Ready { revision: u64, by: UserId, at_ms: i64 },
    Released { revision: u64, content_hash: String, lane: Lane, by: UserId, at_ms: i64 },
    Escalated { reason: String, by: UserId, at_ms: i64 },
}

impl ReleaseState {
    /// Upper-case name for status bars.
    pub fn name(&self) -> &'static str {
        match self {
            ReleaseState::Drafting => "DRAFTING",
            ReleaseState::Held { .. } => "HELD",
            ReleaseState::Ready { .. } => "READY",
            ReleaseState::Released { .. } => "RELEASED",
            ReleaseState::Escalated { .. } => "ESCALATED",
        }
    }

    /// Escalated rooms are read-only for everyone.
    pub fn is_read_only(&self) -> bool {
        matches!(self, ReleaseState::Escalated { .. })
    }
}

/// Co-signatures a room requires besides the owner's release: named
/// members, and one member of each named reviewer discipline.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleasePolicy {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<UserId>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub disciplines: Vec<Discipline>,
}

impl ReleasePolicy {
    /// True when no co-signature is required.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty() && self.disciplines.is_empty()
    }

    /// The same policy with members and disciplines sorted and deduplicated.
    pub fn normalized(mut self) -> Self {
        self.members.sort();
        self.members.dedup();
        self.disciplines.sort();
        self.disciplines.dedup();
        self
    }
}

/// One co-signature: a member's statement that they reviewed the packet
/// with this exact content hash and approve its release to one lane, for
/// an audience up to `audience`. Any later content change voids it. A
/// member holds at most one co-signature per lane (signing again for the
/// same lane replaces it; signing for another lane keeps both).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cosignature {
    pub user: UserId,
    pub name: String,
    /// The signer's role label when signing (`reviewer/privacy`, …).
    pub role: String,
    /// The signer's discipline, for reviewers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discipline: Option<Discipline>,
    /// The packet revision signed (the room's `content_revision` then).
    pub revision: u64,
    /// The content hash signed.
    pub content_hash: String,
    /// The downstream lane approved. `None` only in co-signatures stored
    /// before approvals were scoped: such a legacy co-signature covers no
    /// release at all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lane: Option<Lane>,
    /// The widest audience approved (releases to it or a narrower one).
    #[serde(default)]
    pub audience: Audience,
    pub at_ms: i64,
    /// The revision of the content change that voided it; `None` while valid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voided_at: Option<u64>,
}

impl Cosignature {
    pub fn is_valid(&self) -> bool {
        self.voided_at.is_none()
    }

    /// Whether this co-signature approves releasing content `content_hash`
    /// to `lane` for `audience`: valid, of that very content, for that lane
    /// and for that audience or a wider one. A legacy co-signature (no
    /// lane) covers nothing.
    pub fn covers(&self, content_hash: &str, lane: Lane, audience: Audience) -> bool {
        self.is_valid()
            && self.content_hash == content_hash
            && self.lane == Some(lane)
            && self.audience.covers(audience)
    }

    /// `privacy · lane-reviewers`, or `no lane (legacy)`.
    pub fn scope(&self) -> String {
        match self.lane {
            Some(lane) => format!("{lane} · {}", self.audience),
            None => "no lane (legacy)".into(),
        }
    }
}

/// The newest release of the room, kept after the release state moves on
/// (hold, ready, escalate) so staleness stays visible.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastRelease {
    /// The packet revision released (the newest content change then).
    pub revision: u64,
    pub content_hash: String,
    pub lane: Lane,
    pub by: UserId,
    pub at_ms: i64,
    /// The room revision of the `release_changed` event.
    pub release_revision: u64,
    /// The revision of the first content change after the release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub superseded_at: Option<u64>,
    /// The room revision after which the holds this release's manifest
    /// lists were cleared: the release of the packet revision before (a
    /// release of the same packet revision again keeps its window, so it
    /// gives the same manifest when nothing was held in between).
    #[serde(default)]
    pub holds_since: u64,
    /// The packet revision after which this release's transformation
    /// trace runs (see `trace::window_start`).
    #[serde(default)]
    pub trace_since: u64,
}

impl LastRelease {
    /// `RELEASED rev N` or `RELEASED rev N — superseded at rev M`.
    pub fn status_line(&self) -> String {
        match self.superseded_at {
            Some(m) => format!("RELEASED rev {} — superseded at rev {m}", self.revision),
            None => format!("RELEASED rev {}", self.revision),
        }
    }
}

/// Start of the reason of the automatic hold placed when the packet changes
/// after the owner marked it ready (the "release rules" room check).
pub const RELEASE_RULES_HOLD: &str = "room check failed: release rules";

/// The reason of that automatic hold.
pub fn release_rules_hold_reason(content_revision: u64, ready_revision: u64) -> String {
    format!(
        "{RELEASE_RULES_HOLD}: the room changed at rev {content_revision} after it was marked ready at rev \
         {ready_revision}; review it and mark it ready again"
    )
}

/// Why a release may not happen from the current release state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReleaseRefusal {
    /// The room is not ready (nor released at this very packet revision):
    /// answered with `conflict`.
    NotReady(String),
    /// The content changed since the owner marked it ready (or since the
    /// release being repeated, or since the packet revision the owner
    /// reviewed): answered with `stale`.
    Stale(String),
    /// The packet revision the owner names does not exist yet: answered
    /// with `invalid`.
    NoSuchRevision(String),
}

/// Why `role` may not co-sign under `policy` (`None`: it may): agents
/// never sign, owners sign by releasing, observers only when the policy
/// names them. The server refuses with these words; front ends refuse up
/// front with them.
pub fn cosign_refusal(policy: &ReleasePolicy, user: UserId, role: &crate::role::Role) -> Option<&'static str> {
    use crate::role::Role;
    match role {
        Role::Agent { .. } => Some("agents never sign"),
        Role::Downstream { .. } => Some("downstream lanes take releases in; they never sign them"),
        Role::Owner => Some("owners sign by releasing; co-signatures are for the other members the policy names"),
        Role::Observer if !policy.members.contains(&user) => {
            Some("observers co-sign only when the release policy names them")
        }
        Role::Observer | Role::Reviewer { .. } => None,
    }
}

/// The state-machine part of `release`: legal from `READY` when nothing
/// changed since the reviewed packet revision, and from `RELEASED` when
/// nothing changed since that release (a repeat, e.g. to another lane).
/// Blockers and co-signatures are checked separately.
pub fn release_precondition(release: &ReleaseState, content_revision: u64) -> Result<(), ReleaseRefusal> {
    match release {
        ReleaseState::Ready { revision, .. } | ReleaseState::Released { revision, .. }
            if content_revision > *revision =>
        {
            let what = if matches!(release, ReleaseState::Ready { .. }) { "marked ready" } else { "released" };
            Err(ReleaseRefusal::Stale(format!(
                "the room changed at rev {content_revision} after it was {what} at rev {revision}; review it and mark it ready again"
            )))
        }
        ReleaseState::Ready { .. } | ReleaseState::Released { .. } => Ok(()),
        ReleaseState::Held { reasons, .. } if reasons.iter().any(|r| r.contains(RELEASE_RULES_HOLD)) => {
            Err(ReleaseRefusal::Stale(reasons.join("; ")))
        }
        other => Err(ReleaseRefusal::NotReady(format!("the room is {}; mark it ready first", other.name()))),
    }
}

/// The state-machine part of `release_packet`: the owner names the packet
/// revision they reviewed, and it must still be the room's. From any state
/// but escalated (drafting, held, ready — stale or not — or released), since
/// the same commit marks that very packet revision ready. Blockers and
/// co-signatures are checked separately, as for `release`.
pub fn reviewed_release_precondition(
    release: &ReleaseState,
    content_revision: u64,
    reviewed: u64,
) -> Result<(), ReleaseRefusal> {
    if release.is_read_only() {
        return Err(ReleaseRefusal::NotReady(format!("the room is {}; it is read-only", release.name())));
    }
    if reviewed > content_revision {
        return Err(ReleaseRefusal::NoSuchRevision(format!(
            "packet rev {reviewed} does not exist: the packet is at rev {content_revision}"
        )));
    }
    if reviewed < content_revision {
        return Err(ReleaseRefusal::Stale(format!(
            "you reviewed packet rev {reviewed}, but the packet changed since: it is at packet rev {content_revision}; \
             review it again"
        )));
    }
    Ok(())
}

/// Most changes a `stale` refusal lists.
const CHANGES_LISTED: usize = 5;

/// What changed the content after packet revision `since`, for a `stale`
/// refusal: `rev 152: BG-1 ended, review objection O-7 opened (blocking)`.
/// Only `revisions` are looked at (oldest first; the room passes the
/// history it keeps in memory); past the first five, the rest are counted.
/// Names only codes and section titles (with annex detail redacted), never
/// text.
pub fn content_changes_since<'a>(
    state: &RoomState,
    revisions: impl IntoIterator<Item = &'a Revision>,
    since: u64,
) -> Vec<String> {
    let changes: Vec<&Revision> =
        revisions.into_iter().filter(|r| r.revision > since && r.change.touches_content()).collect();
    let mut lines: Vec<String> = changes
        .iter()
        .take(CHANGES_LISTED)
        .map(|r| format!("rev {}: {}", r.revision, describe_content_change(state, &r.change)))
        .collect();
    if changes.len() > CHANGES_LISTED {
        lines.push(format!("{} more", changes.len() - CHANGES_LISTED));
    }
    lines
}

fn describe_content_change(state: &RoomState, change: &Change) -> String {
    let objection = |id: &ObjectionId| state.objections.get(id).map_or_else(|| "an objection".into(), |o| o.code());
    let section = |id: &SectionId| {
        state.section(*id).map_or_else(
            || "a section".to_string(),
            |s| format!("section \"{}\"", redact_sensitive(&s.title, state.annexes.values()).0),
        )
    };
    let blocking = |b: bool| if b { " (blocking)" } else { "" };
    match change {
        Change::SectionAdded { section: id, .. } => format!("{} added", section(id)),
        Change::SectionEdited { section: id, .. } => format!("{} edited", section(id)),
        Change::ObjectionRaised { objection: o } => format!("objection {} raised{}", o.code(), blocking(o.blocking)),
        Change::ReplyAdded { objection: id, .. } => format!("reply on {}", objection(id)),
        Change::ObjectionStatusChanged { objection: id, change } => format!("{} {}", objection(id), change.status),
        Change::ObjectionAmended { objection: id, .. } => format!("{} amended", objection(id)),
        Change::AnnexAdded { annex } => format!("annex {} added", annex.code),
        Change::BreakGlassEnded { invocation, review, .. } => format!(
            "{} ended, review objection {} opened{}",
            state.access.break_glass.get(invocation).map_or_else(|| "a break-glass".into(), |b| b.code()),
            review.code(),
            blocking(review.blocking)
        ),
        other => other.kind_name().replace('_', " "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signature(lane: Option<Lane>, audience: Audience) -> Cosignature {
        Cosignature {
            user: UserId(uuid::Uuid::from_u128(1)),
            name: "priya".into(),
            role: "reviewer/privacy".into(),
            discipline: Some(Discipline::Privacy),
            revision: 3,
            content_hash: "h".into(),
            lane,
            audience,
            at_ms: 0,
            voided_at: None,
        }
    }

    #[test]
    fn audiences_are_ordered_narrow_to_wide_and_kebab_case() {
        assert!(Audience::LaneReviewers < Audience::LaneAndLeads && Audience::LaneAndLeads < Audience::Organisation);
        assert_eq!(Audience::default(), Audience::LaneReviewers);
        for a in Audience::ALL {
            assert_eq!(serde_json::to_value(a).ok(), Some(serde_json::Value::String(a.to_string())));
            assert_eq!(a.to_string().parse::<Audience>().ok(), Some(a));
        }
        assert_eq!(Audience::LaneAndLeads.to_string(), "lane-and-leads");
        assert!("everyone".parse::<Audience>().is_err());
    }

    #[test]
    fn a_cosignature_covers_its_lane_its_audience_and_narrower_ones_only() {
        let s = signature(Some(Lane::Privacy), Audience::LaneAndLeads);
        assert!(s.covers("h", Lane::Privacy, Audience::LaneReviewers), "wider covers narrower");
        assert!(s.covers("h", Lane::Privacy, Audience::LaneAndLeads));
        assert!(!s.covers("h", Lane::Privacy, Audience::Organisation), "narrower does not cover wider");
        assert!(!s.covers("h", Lane::ProductSecurity, Audience::LaneReviewers), "lane mismatch");
        assert!(!s.covers("other", Lane::Privacy, Audience::LaneReviewers), "content mismatch");
        let voided = Cosignature { voided_at: Some(9), ..s.clone() };
        assert!(!voided.covers("h", Lane::Privacy, Audience::LaneReviewers), "voided");
        let legacy = signature(None, Audience::Organisation);
        for lane in Lane::ALL {
            for audience in Audience::ALL {
                assert!(!legacy.covers("h", lane, audience), "a legacy co-signature covers nothing");
            }
        }
    }

    #[test]
    fn a_stored_cosignature_without_scope_loads_as_legacy() {
        let old = serde_json::json!({
            "user": uuid::Uuid::from_u128(1), "name": "priya", "role": "reviewer/privacy", "discipline": "privacy",
            "revision": 3, "content_hash": "h", "at_ms": 0
        });
        let c: Cosignature = serde_json::from_value(old).expect("an old co-signature loads");
        assert_eq!(c.lane, None);
        assert_eq!(c.audience, Audience::LaneReviewers);
        assert_eq!(c.scope(), "no lane (legacy)");
        let scoped = signature(Some(Lane::ProductSecurity), Audience::Organisation);
        let v = serde_json::to_value(&scoped).expect("json");
        assert_eq!(v["lane"], "product-security");
        assert_eq!(v["audience"], "organisation");
        assert_eq!(scoped.scope(), "product-security · organisation");
    }

    #[test]
    fn release_needs_ready_and_no_change_since() {
        let by = UserId(uuid::Uuid::nil());
        let ready = ReleaseState::Ready { revision: 5, by, at_ms: 0 };
        assert_eq!(release_precondition(&ready, 5), Ok(()));
        assert!(matches!(release_precondition(&ready, 6), Err(ReleaseRefusal::Stale(_))));
        let released =
            ReleaseState::Released { revision: 5, content_hash: String::new(), lane: Lane::Privacy, by, at_ms: 0 };
        assert_eq!(release_precondition(&released, 5), Ok(()), "a repeat of the same packet revision");
        assert!(matches!(release_precondition(&released, 7), Err(ReleaseRefusal::Stale(_))));
        for state in [
            ReleaseState::Drafting,
            ReleaseState::Held { reasons: vec![], by, at_ms: 0 },
            ReleaseState::Escalated { reason: String::new(), by, at_ms: 0 },
        ] {
            assert!(matches!(release_precondition(&state, 5), Err(ReleaseRefusal::NotReady(_))));
        }
    }

    #[test]
    fn release_packet_binds_the_reviewed_revision_from_any_state_but_escalated() {
        let by = UserId(uuid::Uuid::nil());
        for state in [
            ReleaseState::Drafting,
            ReleaseState::Held { reasons: vec!["waiting for legal".into()], by, at_ms: 0 },
            ReleaseState::Ready { revision: 3, by, at_ms: 0 },
            ReleaseState::Released { revision: 5, content_hash: String::new(), lane: Lane::Privacy, by, at_ms: 0 },
        ] {
            assert_eq!(reviewed_release_precondition(&state, 5, 5), Ok(()), "{}", state.name());
            match reviewed_release_precondition(&state, 5, 4) {
                Err(ReleaseRefusal::Stale(m)) => {
                    assert!(m.contains("packet rev 4") && m.contains("packet rev 5"), "{m}");
                }
                other => panic!("{}: {other:?}", state.name()),
            }
            assert!(matches!(reviewed_release_precondition(&state, 5, 6), Err(ReleaseRefusal::NoSuchRevision(_))));
        }
        let escalated = ReleaseState::Escalated { reason: "r".into(), by, at_ms: 0 };
        assert!(matches!(reviewed_release_precondition(&escalated, 5, 5), Err(ReleaseRefusal::NotReady(_))));
    }

    #[test]
    fn a_stale_refusal_names_the_content_changes_since_the_reviewed_revision() {
        use crate::objection::{Anchor, Objection, ObjectionKind, ObjectionStatus};
        let by = UserId(uuid::Uuid::from_u128(7));
        let mut state = RoomState::new(crate::RoomId(uuid::Uuid::from_u128(1)), "R".into(), 0);
        let section = SectionId(uuid::Uuid::from_u128(2));
        state.sections.push(crate::room::Section::new(section, "Summary".into(), "text".into(), 2));
        let objection = |n: u32, blocking: bool| Objection {
            id: ObjectionId(uuid::Uuid::from_u128(100 + u128::from(n))),
            number: n,
            author: by,
            anchor: Anchor { section, statement: None, quote: None },
            kind: ObjectionKind::Other,
            blocking,
            text: "t".into(),
            status: ObjectionStatus::Open,
            rationale: None,
            replies: Vec::new(),
            history: Vec::new(),
            at_ms: 0,
            found_downstream: None,
        };
        let rev = |revision: u64, change: Change| Revision { revision, author: by, at_ms: 0, client: None, change };
        let mut revisions = vec![
            rev(3, Change::ReleaseChanged { release: ReleaseState::Held { reasons: vec![], by, at_ms: 0 } }),
            rev(4, Change::ObjectionRaised { objection: objection(1, true) }),
            rev(5, Change::SectionEdited { section, op: crate::ot::TextOp::from_texts("text", "text!") }),
        ];
        assert_eq!(
            content_changes_since(&state, &revisions, 2),
            vec!["rev 4: objection O-1 raised (blocking)".to_string(), "rev 5: section \"Summary\" edited".into()],
            "release decisions are not content changes"
        );
        assert!(content_changes_since(&state, &revisions, 5).is_empty());
        revisions.extend((6..=12).map(|n| rev(n, Change::ObjectionRaised { objection: objection(n as u32, false) })));
        let listed = content_changes_since(&state, &revisions, 3);
        assert_eq!(listed.len(), CHANGES_LISTED + 1);
        assert_eq!(listed.last().map(String::as_str), Some("4 more"));
    }
}
