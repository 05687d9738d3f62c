//! The owner's approvals queue (key `V`): pending access requests and
//! promotions of the room, newest last, with who asks, for which annex,
//! why and for how long. `y`/Enter approves, `n` denies, `j`/`k` move.
//! Requests that are the owner's own are listed but cannot be decided
//! here: another owner must (self-approval is impossible).

use crossterm::event::{KeyCode, KeyEvent};
use trustroom_shared::access::{PromotionStatus, format_duration};
use trustroom_shared::ids::{AccessRequestId, PromotionId};
use trustroom_shared::protocol::Request;

use super::{Command, Component, Ctx, Outcome};
use crate::session::outbox::Pending;
use crate::session::room::{Level, Room};

/// The queue: which pending item is selected.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ApprovalsQueue {
    pub selected: usize,
}

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
pub fn items(room: &Room) -> Vec<Item> {
    let Some(state) = &room.replica.state else { return Vec::new() };
    let me = room.me.as_ref().map(|m| m.user);
    let code =
        |a| state.annexes.get(&a).map_or_else(|| "?".to_string(), |x: &trustroom_shared::annex::Annex| x.code.clone());
    let mut requests: Vec<_> = state.access.requests.values().filter(|r| r.is_pending()).collect();
    requests.sort_by_key(|r| r.number);
    let mut out: Vec<Item> = requests
        .into_iter()
        .map(|r| Item::Access {
            id: r.id,
            code: r.code(),
            who: room.member_name(r.requester),
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
        who: room.member_name(p.requester),
        annex: code(p.annex),
        section: state.section(p.section).map(|s| s.title.clone()).unwrap_or_default(),
        chars: p.passage_chars,
        reason: p.reason.clone(),
        own: Some(p.requester) == me,
    }));
    out
}

impl Component for ApprovalsQueue {
    fn event(&mut self, key: KeyEvent, ctx: &Ctx<'_>) -> Outcome {
        let list = items(ctx.room);
        match key.code {
            KeyCode::Char('j') | KeyCode::Down => self.selected = (self.selected + 1).min(list.len().saturating_sub(1)),
            KeyCode::Char('k') | KeyCode::Up => self.selected = self.selected.saturating_sub(1),
            KeyCode::Char('y' | 'Y' | 'n' | 'N') | KeyCode::Enter => {
                let approve = matches!(key.code, KeyCode::Char('y' | 'Y') | KeyCode::Enter);
                let Some(item) = list.get(self.selected) else { return Outcome::used() };
                if item.own() {
                    let text = format!("{} is your own request: another owner must decide it", item.code());
                    return Outcome::with(Command::Notify(Level::Warn, text));
                }
                let Some(room) = ctx.room.id else { return Outcome::close() };
                let code = item.code().to_string();
                let request = match (item, approve) {
                    (Item::Access { id, .. }, true) => Request::ApproveAccess { room, request: *id, note: None },
                    (Item::Access { id, .. }, false) => Request::DenyAccess { room, request: *id, note: None },
                    (Item::Promotion { id, .. }, true) => {
                        Request::ApprovePromotion { room, promotion: *id, note: None }
                    }
                    (Item::Promotion { id, .. }, false) => Request::DenyPromotion { room, promotion: *id, note: None },
                };
                return Outcome::with(Command::Send(request, Pending::Decide { code, approve }));
            }
            _ => {}
        }
        Outcome::used()
    }
}
