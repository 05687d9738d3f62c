//! The owner's active grants (key `G`): who may read which annex until
//! when. Choose one (`j`/`k`), Enter asks for an optional note (the server
//! keeps it with the revocation), Enter again asks to confirm, `y` revokes.
//! A grant ended meanwhile (expired, revoked by another owner) drops out of
//! the list; the choice follows the grant, not the row.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui_textarea::TextArea;
use trustroom_shared::export::utc;
use trustroom_shared::ids::AccessRequestId;
use trustroom_shared::protocol::Request;

use super::dialog::type_fixing;
use super::{Command, Component, Ctx, Outcome};
use crate::session::outbox::Pending;
use crate::session::room::Room;
use crate::tui::forms::input_text;

/// Where the revoke dialog is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GrantsStep {
    Choose,
    Note,
    Confirm,
}

pub struct GrantsDialog {
    pub selected: usize,
    /// The grant chosen (kept while the list moves).
    pub chosen: Option<AccessRequestId>,
    pub note: TextArea<'static>,
    pub step: GrantsStep,
    pub error: Option<String>,
}

/// One active grant as listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GrantRow {
    pub id: AccessRequestId,
    pub code: String,
    pub who: String,
    pub annex: String,
    /// `until 2026-12-03 21:14 UTC` (or `no expiry`).
    pub until: String,
    pub reason: String,
}

/// The room's active grants, oldest first.
pub fn active_grants(room: &Room) -> Vec<GrantRow> {
    let Some(state) = &room.replica.state else { return Vec::new() };
    let mut grants: Vec<_> = state.access.requests.values().filter(|r| r.is_active_grant(None)).collect();
    grants.sort_by_key(|r| r.number);
    grants
        .into_iter()
        .map(|r| GrantRow {
            id: r.id,
            code: r.code(),
            who: room.member_name(r.requester),
            annex: state.annexes.get(&r.annex).map_or_else(|| "?".into(), |a| format!("{} {}", a.code, a.title)),
            until: r.expires_at.map_or_else(|| "no expiry".into(), |t| format!("until {}", utc(t))),
            reason: r.reason.clone(),
        })
        .collect()
}

impl GrantsDialog {
    pub fn new(note: TextArea<'static>) -> Self {
        GrantsDialog { selected: 0, chosen: None, note, step: GrantsStep::Choose, error: None }
    }

    /// The chosen grant, if it is still active.
    pub fn chosen_row(&self, room: &Room) -> Option<GrantRow> {
        let id = self.chosen?;
        active_grants(room).into_iter().find(|g| g.id == id)
    }
}

impl Component for GrantsDialog {
    fn event(&mut self, key: KeyEvent, ctx: &Ctx<'_>) -> Outcome {
        let list = active_grants(ctx.room);
        if self.step != GrantsStep::Choose && self.chosen_row(ctx.room).is_none() {
            self.step = GrantsStep::Choose;
            self.error = Some("that grant ended meanwhile; choose again".into());
            return Outcome::used();
        }
        match (self.step, key.code) {
            (GrantsStep::Choose, KeyCode::Char('j') | KeyCode::Down) => {
                self.selected = (self.selected + 1).min(list.len().saturating_sub(1));
            }
            (GrantsStep::Choose, KeyCode::Char('k') | KeyCode::Up) => self.selected = self.selected.saturating_sub(1),
            (GrantsStep::Choose, KeyCode::Enter) => {
                if let Some(g) = list.get(self.selected) {
                    self.chosen = Some(g.id);
                    self.step = GrantsStep::Note;
                    self.error = None;
                }
            }
            (GrantsStep::Note, KeyCode::Enter) => self.step = GrantsStep::Confirm,
            (GrantsStep::Note, _) => type_fixing(&mut self.note, &mut self.error, key),
            (GrantsStep::Confirm, KeyCode::Char('y' | 'Y') | KeyCode::Enter) => {
                let (Some(room), Some(g)) = (ctx.room.id, self.chosen_row(ctx.room)) else {
                    return Outcome::close();
                };
                let note = input_text(&self.note);
                let request = Request::RevokeGrant { room, grant: g.id, note: (!note.is_empty()).then_some(note) };
                return Outcome::Used(vec![
                    Command::Send(request, Pending::RevokeGrant { code: g.code }),
                    Command::Close,
                ]);
            }
            (GrantsStep::Confirm, KeyCode::Char('n' | 'N')) => self.step = GrantsStep::Note,
            _ => {}
        }
        Outcome::used()
    }
}
