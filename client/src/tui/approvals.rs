//! The owner's approvals queue (key `V`): pending access requests and
//! promotions of the room, newest last, with who asks, for which annex,
//! why and for how long. `y`/Enter approves, `n` denies, `j`/`k` move.
//! Requests that are the owner's own are listed but cannot be decided
//! here: another owner must (self-approval is impossible).

use crossterm::event::{KeyCode, KeyEvent};
use trustroom_shared::access::{PromotionStatus, format_duration};
use trustroom_shared::ids::{AccessRequestId, PromotionId};
use trustroom_shared::protocol::Request;

use super::app::{App, Level, Pending};
use super::forms::{ApprovalsForm, Dialog};

/// One thing waiting for an owner.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    Access {
        id: AccessRequestId,
        code: String,
        who: String,
        annex: String,
        reason: String,
        duration: String,
        own: bool,
    },
    Promotion {
        id: PromotionId,
        code: String,
        who: String,
        annex: String,
        section: String,
        chars: usize,
        reason: String,
        own: bool,
    },
}

impl Item {
    fn own(&self) -> bool {
        match self {
            Item::Access { own, .. } | Item::Promotion { own, .. } => *own,
        }
    }

    fn code(&self) -> &str {
        match self {
            Item::Access { code, .. } | Item::Promotion { code, .. } => code,
        }
    }
}

/// The pending requests and promotions, oldest first.
pub fn items(app: &App) -> Vec<Item> {
    let Some(state) = &app.room.replica.state else { return Vec::new() };
    let me = app.room.me.as_ref().map(|m| m.user);
    let code =
        |a| state.annexes.get(&a).map_or_else(|| "?".to_string(), |x: &trustroom_shared::annex::Annex| x.code.clone());
    let mut requests: Vec<_> = state.access.requests.values().filter(|r| r.is_pending()).collect();
    requests.sort_by_key(|r| r.number);
    let mut out: Vec<Item> = requests
        .into_iter()
        .map(|r| Item::Access {
            id: r.id,
            code: r.code(),
            who: app.room.member_name(r.requester),
            annex: code(r.annex),
            reason: r.reason.clone(),
            duration: format_duration(r.duration_ms),
            own: Some(r.requester) == me,
        })
        .collect();
    let mut promos: Vec<_> =
        state.access.promotions.values().filter(|p| p.status == PromotionStatus::Requested).collect();
    promos.sort_by_key(|p| p.number);
    out.extend(promos.into_iter().map(|p| Item::Promotion {
        id: p.id,
        code: p.code(),
        who: app.room.member_name(p.requester),
        annex: code(p.annex),
        section: state.section(p.section).map(|s| s.title.clone()).unwrap_or_default(),
        chars: p.passage_chars,
        reason: p.reason.clone(),
        own: Some(p.requester) == me,
    }));
    out
}

/// Opens the queue (owners only).
pub fn open(app: &mut App) {
    if !app.room.is_owner() {
        app.notify(Level::Warn, "the approvals queue is for owners");
        return;
    }
    app.overlay = Some(super::app::Overlay::dialog(Dialog::Approvals(ApprovalsForm::default())));
    app.dirty = true;
}

/// Handles a key; returns the dialog if it stays open.
pub fn key(app: &mut App, mut f: ApprovalsForm, key: KeyEvent) -> Option<Dialog> {
    let list = items(app);
    match key.code {
        KeyCode::Char('j') | KeyCode::Down => f.selected = (f.selected + 1).min(list.len().saturating_sub(1)),
        KeyCode::Char('k') | KeyCode::Up => f.selected = f.selected.saturating_sub(1),
        KeyCode::Char('y' | 'Y' | 'n' | 'N') | KeyCode::Enter => {
            let approve = matches!(key.code, KeyCode::Char('y' | 'Y') | KeyCode::Enter);
            let Some(item) = list.get(f.selected) else { return Some(Dialog::Approvals(f)) };
            if item.own() {
                app.notify(Level::Warn, format!("{} is your own request: another owner must decide it", item.code()));
                return Some(Dialog::Approvals(f));
            }
            let room = app.room.id?;
            let code = item.code().to_string();
            let request = match (item, approve) {
                (Item::Access { id, .. }, true) => Request::ApproveAccess { room, request: *id, note: None },
                (Item::Access { id, .. }, false) => Request::DenyAccess { room, request: *id, note: None },
                (Item::Promotion { id, .. }, true) => Request::ApprovePromotion { room, promotion: *id, note: None },
                (Item::Promotion { id, .. }, false) => Request::DenyPromotion { room, promotion: *id, note: None },
            };
            app.room.outbox.send(request, Pending::Decide { code, approve });
        }
        _ => {}
    }
    Some(Dialog::Approvals(f))
}

/// Whether a change is one of annex access governance's.
pub fn is_access(change: &trustroom_shared::change::Change) -> bool {
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
pub fn notice(app: &App, rev: &trustroom_shared::change::Revision) -> Option<(Level, String)> {
    use trustroom_shared::change::Change;
    let state = app.room.replica.state.as_ref()?;
    let me = app.room.me.as_ref().map(|m| m.user);
    let author = app.room.member_name(rev.author);
    let code = |a| {
        state
            .annexes
            .get(&a)
            .map_or_else(|| "an annex".to_string(), |x: &trustroom_shared::annex::Annex| x.code.clone())
    };
    let at = |ms: i64| trustroom_shared::export::utc(ms).get(11..16).unwrap_or_default().to_string();
    Some(match &rev.change {
        Change::AccessRequested { request } => {
            let what =
                format!("{} for {} — {}", code(request.annex), format_duration(request.duration_ms), request.reason);
            if Some(request.requester) == me {
                (Level::Info, format!("you asked for {what} ({}); an owner decides", request.code()))
            } else if app.room.is_owner() {
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
                format!("approved until {} UTC", expires_at.map(at).unwrap_or_default())
            } else {
                "denied".to_string()
            };
            if Some(r.requester) == me {
                (Level::Warn, format!("your request {} for {} was {verdict} by {author}", r.code(), code(r.annex)))
            } else {
                (
                    Level::Info,
                    format!(
                        "{} ({} for {}) {verdict} by {author}",
                        r.code(),
                        app.room.member_name(r.requester),
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
                    format!("{}'s access to {} ended ({})", app.room.member_name(r.requester), code(r.annex), ended.cause),
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
                if app.room.is_owner() { Level::Warn } else { Level::Info },
                if app.room.is_owner() { format!("{text} — press V") } else { text },
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
