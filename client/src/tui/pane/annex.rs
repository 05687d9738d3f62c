//! The annex map pane: every annex of the room, the selected one, and what
//! is open beside the map — content the server sent for us (the view is
//! logged), or a gated pane when we have no access, with our own access
//! requests for it as they move (pending → approved, denied, …).

use crossterm::event::{KeyCode, KeyEvent};
use trustroom_shared::AnnexId;
use trustroom_shared::access::AccessRequest;
use trustroom_shared::protocol::AnnexContent;

use super::{Command, Component, Ctx, Outcome};
use crate::session::room::Room;
use crate::tui::action::{Action, Pane};

/// What the annex pane shows beside the map.
#[derive(Clone, Debug, PartialEq)]
pub enum AnnexOpen {
    Loading(AnnexId),
    /// Content sent by the server for us (the view is logged).
    Content(AnnexContent),
    /// We have no access: the pane is gated.
    Gated(AnnexId),
    Failed(AnnexId, String),
}

#[derive(Clone, Debug, Default)]
pub struct AnnexMap {
    /// The pane is on screen.
    pub shown: bool,
    pub selected: usize,
    pub open: Option<AnnexOpen>,
    pub scroll: u16,
}

/// The room's annexes, by code.
pub fn annex_ids(room: &Room) -> Vec<AnnexId> {
    let Some(state) = &room.replica.state else { return Vec::new() };
    let mut v: Vec<_> = state.annexes.values().collect();
    v.sort_by(|a, b| a.code.cmp(&b.code));
    v.into_iter().map(|a| a.id).collect()
}

/// Our own access requests for `annex`, newest first — never anyone
/// else's (the room's records hold every member's; this pane shows only
/// the requester's).
pub fn my_requests(room: &Room, annex: AnnexId) -> Vec<&AccessRequest> {
    let (Some(state), Some(me)) = (&room.replica.state, room.my_user()) else { return Vec::new() };
    let mut v: Vec<&AccessRequest> =
        state.access.requests.values().filter(|r| r.requester == me && r.annex == annex).collect();
    v.sort_by_key(|r| std::cmp::Reverse(r.number));
    v
}

/// Our pending request for `annex`, if any.
pub fn my_pending(room: &Room, annex: AnnexId) -> Option<&AccessRequest> {
    my_requests(room, annex).into_iter().find(|r| r.is_pending())
}

impl AnnexMap {
    /// Scrolls the open annex (the mouse wheel).
    pub fn scroll_open(&mut self, down: bool) {
        self.scroll = if down { self.scroll.saturating_add(3) } else { self.scroll.saturating_sub(3) };
    }
}

impl Component for AnnexMap {
    fn event(&mut self, key: KeyEvent, ctx: &Ctx<'_>) -> Outcome {
        let ids = annex_ids(ctx.room);
        match key.code {
            KeyCode::Char('j') | KeyCode::Down => {
                self.selected = (self.selected + 1).min(ids.len().saturating_sub(1));
            }
            KeyCode::Char('k') | KeyCode::Up => self.selected = self.selected.saturating_sub(1),
            KeyCode::Enter => {
                if let Some(id) = ids.get(self.selected) {
                    return Outcome::run(Action::OpenAnnex(*id));
                }
            }
            KeyCode::PageDown => self.scroll = self.scroll.saturating_add(5),
            KeyCode::PageUp => self.scroll = self.scroll.saturating_sub(5),
            KeyCode::Char('A') if matches!(self.open, Some(AnnexOpen::Gated(_))) => {
                if let Some(AnnexOpen::Gated(id)) = self.open {
                    return Outcome::run(Action::RequestAccess(id));
                }
            }
            KeyCode::Char('w') if matches!(self.open, Some(AnnexOpen::Gated(_))) => {
                if let Some(AnnexOpen::Gated(id)) = self.open {
                    return Outcome::run(Action::WithdrawAccess(id));
                }
            }
            KeyCode::Esc if self.open.is_some() => self.open = None,
            KeyCode::Esc => return Outcome::with(Command::Focus(Pane::Editor)),
            _ => return Outcome::Ignored,
        }
        Outcome::used()
    }
}
