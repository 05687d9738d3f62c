//! What the user is told about a change someone made (or that the room
//! made): one notice per applied event, in the room's words. Owners hear
//! of access requests at once; a member hears when their own access begins
//! or ends.

use trustroom_shared::UserId;
use trustroom_shared::access::{format_duration, possible_approvers};
use trustroom_shared::change::{Change, Revision};
use trustroom_shared::objection::ObjectionStatus;
use trustroom_shared::release::ReleaseState;
use trustroom_shared::role::Role;

use crate::session::room::{Level, Room};

/// The notice for an event already applied to the room, if it deserves one.
pub fn announce(room: &Room, rev: &Revision) -> Option<(Level, String)> {
    let author = room.member_name(rev.author);
    let mine = Some(rev.author) == room.my_user();
    Some(match &rev.change {
        Change::SectionEdited { .. } => return None,
        Change::SectionAdded { title, .. } => {
            if mine {
                return None;
            }
            (Level::Info, format!("{author} added section \"{title}\""))
        }
        Change::ObjectionRaised { objection } => {
            if mine {
                return None;
            }
            let section = room.section_title(objection.anchor.section);
            let b = if objection.blocking { "blocking " } else { "" };
            (
                Level::Warn,
                format!(
                    "new {b}objection {} by {author} on \"{section}\": {}",
                    objection.code(),
                    excerpt(&objection.text, 60)
                ),
            )
        }
        Change::ReplyAdded { objection, reply } => {
            if mine {
                return None;
            }
            let code = room.objection_code(*objection);
            (Level::Info, format!("{author} replied on {code}: {}", excerpt(&reply.text, 60)))
        }
        Change::ObjectionStatusChanged { objection, change } => {
            let code = room.objection_code(*objection);
            match change.status {
                ObjectionStatus::Open => (Level::Info, format!("{code} was reopened by {author}")),
                status => (Level::Info, format!("{code} is now {status} (by {author})")),
            }
        }
        Change::AnnexAdded { annex } => {
            (Level::Info, format!("annex {} \"{}\" added ({})", annex.code, annex.title, annex.classification))
        }
        Change::MemberAdded { member } => (Level::Info, format!("{} joined as {}", member.name, member.role.label())),
        Change::MemberRemoved { user } => {
            let name = room.member_name(*user);
            (Level::Info, format!("{name} was removed from the room"))
        }
        Change::ReleaseChanged { release } => {
            let text = match release {
                ReleaseState::Drafting => "release state: DRAFTING".to_string(),
                ReleaseState::Held { reasons, .. } => format!("HELD by {author}: {}", reasons.join("; ")),
                ReleaseState::Ready { revision, .. } => format!("READY at rev {revision} (marked by {author})"),
                ReleaseState::Released { revision, lane, .. } => {
                    format!("RELEASED rev {revision} to the {lane} lane by {author}")
                }
                ReleaseState::Escalated { reason, .. } => {
                    format!("ESCALATED by {author}: {reason} — the room is read-only")
                }
            };
            let level = if matches!(release, ReleaseState::Escalated { .. }) { Level::Error } else { Level::Info };
            (level, text)
        }
        Change::HoldPlaced { hold } => {
            let by = room.replica.state.as_ref().map_or_else(|| author.clone(), |s| hold.placed_by.describe(s));
            (Level::Warn, format!("HELD by {by}: {} {} (L: the hold register)", hold.code(), hold.reason))
        }
        Change::HoldCleared { hold, clearance } => {
            let by = room.replica.state.as_ref().map_or_else(|| author.clone(), |s| clearance.by.describe(s));
            let code = trustroom_shared::holds::code(*hold);
            (Level::Info, format!("{code} cleared by {by}: {}", clearance.rationale))
        }
        Change::ReleaseWithdrawn { withdrawal } => (
            Level::Warn,
            format!(
                "release {} WITHDRAWN by {author}: {}",
                withdrawal.manifest_hash.chars().take(16).collect::<String>(),
                withdrawal.reason
            ),
        ),
        Change::Cosigned { .. } => (Level::Info, format!("{author} co-signed the current content")),
        Change::ProbeSuspected { name, until_ms, .. } => (
            Level::Error,
            format!(
                "ALERT: {name}'s requests kept hitting restricted detail (possible probe); their free-text requests are \
                 refused until {}",
                trustroom_shared::export::utc(*until_ms)
            ),
        ),
        Change::ReleasePolicySet { .. } => (Level::Info, format!("{author} changed the release policy")),
        // Annex access governance: requests, grants, break-glass, checks.
        change if is_access(change) => return access_notice(room, rev),
        // Kinds added to the protocol after this client was written.
        #[allow(unreachable_patterns)]
        other => (Level::Info, format!("{author}: {}", other.kind_name().replace('_', " "))),
    })
}

/// Who decides `requester`'s access request, in words: owners other than
/// the requester (nobody approves their own request) — `an owner
/// (morgan.hale)`, `another owner (ines.moreau)` when the requester is an
/// owner, or that nobody can yet.
pub fn deciders(room: &Room, requester: UserId) -> String {
    let Some(state) = &room.replica.state else { return "an owner".into() };
    let names: Vec<String> = possible_approvers(state, requester).into_iter().map(|u| room.member_name(u)).collect();
    let owner = state.member(requester).is_some_and(|m| m.role == Role::Owner);
    let who = match (names.len(), owner) {
        (0, _) => return "no other owner yet (a second owner must be added to decide it)".into(),
        (1, true) => "another owner",
        (_, true) => "one of the other owners",
        (1, false) => "the owner",
        (_, false) => "an owner",
    };
    let shown: Vec<&str> = names.iter().take(3).map(String::as_str).collect();
    let more = if names.len() > 3 { ", …" } else { "" };
    format!("{who} ({}{more})", shown.join(", "))
}

fn excerpt(s: &str, n: usize) -> String {
    let one_line: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= n {
        one_line
    } else {
        format!("{}…", one_line.chars().take(n).collect::<String>())
    }
}

/// Whether a change is one of annex access governance's.
fn is_access(change: &Change) -> bool {
    use trustroom_shared::change::Change::*;
    matches!(
        change,
        AccessRequested { .. }
            | AccessFolded { .. }
            | AccessDecided { .. }
            | AccessWithdrawn { .. }
            | GrantEnded { .. }
            | BreakGlassInvoked { .. }
            | BreakGlassEnded { .. }
            | PromotionRequested { .. }
            | PromotionDecided { .. }
            | AccessPolicySet { .. }
            | ChecksEvaluated { .. }
            | CheckOverridden { .. }
            | CheckOverrideLapsed { .. }
            | ContentPurged { .. }
    )
}

/// The live notification for an access change (already applied to the
/// state): owners hear of requests at once; a member hears when their own
/// access begins or ends.
fn access_notice(room: &Room, rev: &Revision) -> Option<(Level, String)> {
    let state = room.replica.state.as_ref()?;
    let me = room.me.as_ref().map(|m| m.user);
    let author = room.member_name(rev.author);
    let code = |a| {
        state
            .annexes
            .get(&a)
            .map_or_else(|| "an annex".to_string(), |x: &trustroom_shared::annex::Annex| x.code.clone())
    };
    let at = |ms: i64| format!("{} {}", crate::tui::clock::hm(ms), crate::tui::clock::zone());
    Some(match &rev.change {
        Change::AccessRequested { request } => {
            let what =
                format!("{} for {} — {}", code(request.annex), format_duration(request.duration_ms), request.reason);
            if Some(request.requester) == me {
                let who = deciders(room, request.requester);
                (Level::Info, format!("you asked for {what} ({}); {who} decides", request.code()))
            } else if room.is_owner() {
                (
                    Level::Warn,
                    format!("ACCESS REQUEST {}: {author} asks to read {what} — press V to decide", request.code()),
                )
            } else {
                (Level::Info, format!("{author} asked to read {}", code(request.annex)))
            }
        }
        Change::AccessFolded { request, .. } => {
            let r = state.access.requests.get(request)?;
            (Level::Info, format!("{author}'s request for {} folded into {}", code(r.annex), r.code()))
        }
        Change::AccessDecided { request, approved, expires_at, .. } => {
            let r = state.access.requests.get(request)?;
            let verdict = if *approved {
                format!("approved until {}", expires_at.map(at).unwrap_or_default())
            } else {
                "denied".to_string()
            };
            if Some(r.requester) == me {
                let then = if *approved {
                    format!(" — Enter on {} opens it (the view is logged)", code(r.annex))
                } else {
                    String::new()
                };
                (
                    Level::Warn,
                    format!("your request {} for {} was {verdict} by {author}{then}", r.code(), code(r.annex)),
                )
            } else {
                (
                    Level::Info,
                    format!(
                        "{} ({} for {}) {verdict} by {author}",
                        r.code(),
                        room.member_name(r.requester),
                        code(r.annex)
                    ),
                )
            }
        }
        Change::AccessWithdrawn { request, .. } => {
            let r = state.access.requests.get(request)?;
            (Level::Info, format!("{} withdrawn", r.code()))
        }
        Change::GrantEnded { grant, ended } => {
            let r = state.access.requests.get(grant)?;
            if Some(r.requester) == me {
                (
                    Level::Warn,
                    format!("your access to {} ended ({}); the content was dropped", code(r.annex), ended.cause),
                )
            } else {
                (
                    Level::Info,
                    format!("{}'s access to {} ended ({})", room.member_name(r.requester), code(r.annex), ended.cause),
                )
            }
        }
        Change::BreakGlassInvoked { invocation } => {
            let codes: Vec<String> = invocation.annexes.iter().map(|a| code(*a)).collect();
            (
                Level::Error,
                format!(
                    "BREAK-GLASS {}: {author} opened {} — {}",
                    invocation.code(),
                    codes.join(", "),
                    invocation.reason
                ),
            )
        }
        Change::BreakGlassEnded { review, ended, .. } => {
            (Level::Warn, format!("break-glass ended ({}); blocking review {} opened", ended.cause, review.code()))
        }
        Change::PromotionRequested { promotion } => {
            let text = format!(
                "{author} asks to promote {} chars of {} ({}) — {}",
                promotion.passage_chars,
                code(promotion.annex),
                promotion.code(),
                promotion.reason
            );
            (
                if room.is_owner() { Level::Warn } else { Level::Info },
                if room.is_owner() { format!("{text} — press V") } else { text },
            )
        }
        Change::PromotionDecided { promotion, provenance, .. } => {
            let p = state.access.promotions.get(promotion)?;
            let verdict = if provenance.is_some() { "approved: the passage was inserted" } else { "denied" };
            (Level::Info, format!("promotion {} {verdict} by {author}", p.code()))
        }
        Change::AccessPolicySet { .. } => (Level::Info, format!("{author} changed the access policy")),
        Change::ChecksEvaluated { checks } => {
            let failing: Vec<&str> = checks.iter().filter(|c| !c.overridden).map(|c| c.check.title()).collect();
            if failing.is_empty() {
                (Level::Info, "room checks pass".to_string())
            } else {
                (Level::Error, format!("room check failing: {}", failing.join(", ")))
            }
        }
        Change::CheckOverridden { check_override } => (
            Level::Warn,
            format!("{author} overrode the {} check: {}", check_override.check.title(), check_override.rationale),
        ),
        Change::CheckOverrideLapsed { check } => {
            (Level::Warn, format!("the override of the {} check lapsed (its text changed)", check.title()))
        }
        Change::ContentPurged { .. } => {
            (Level::Info, "retention: annex content was purged from the server".to_string())
        }
        _ => return None,
    })
}
