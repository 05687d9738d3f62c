//! The hold register (key `L`): every hold of the room, open ones first,
//! each with who or which check placed it and, once cleared, who cleared
//! it and why. Everyone may read it; an owner chooses an open hold
//! (`j`/`k`), Enter asks for the rationale (required), Enter again asks to
//! confirm, `y` clears it. The choice follows the hold, not the row: a hold
//! placed or cleared meanwhile never moves it.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui_textarea::TextArea;
use trustroom_shared::holds::{self, Hold};
use trustroom_shared::protocol::Request;

use super::dialog::type_fixing;
use super::{Command, Component, Ctx, Outcome};
use crate::session::outbox::Pending;
use crate::session::room::Room;
use crate::tui::forms::input_text;

/// Where the clear dialog is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HoldsStep {
    Choose,
    Rationale,
    Confirm,
}

pub struct HoldsDialog {
    /// The hold the cursor is on (by number, so it stays as the list moves).
    pub selected: Option<u32>,
    pub rationale: TextArea<'static>,
    pub step: HoldsStep,
    pub error: Option<String>,
}

/// The register as listed: open holds oldest first, then cleared ones
/// newest first.
pub fn register(room: &Room) -> Vec<Hold> {
    let Some(state) = &room.replica.state else { return Vec::new() };
    let mut open: Vec<Hold> = holds::open_holds(state).cloned().collect();
    let mut cleared: Vec<Hold> = state.holds.iter().filter(|h| !h.is_open()).cloned().collect();
    cleared.sort_by_key(|h| std::cmp::Reverse(h.number));
    open.append(&mut cleared);
    open
}

impl HoldsDialog {
    pub fn new(rationale: TextArea<'static>, room: &Room) -> Self {
        let selected = register(room).first().map(|h| h.number);
        HoldsDialog { selected, rationale, step: HoldsStep::Choose, error: None }
    }

    /// The row the cursor is on (the first one if its hold is gone).
    pub fn selected_index(&self, list: &[Hold]) -> usize {
        self.selected.and_then(|n| list.iter().position(|h| h.number == n)).unwrap_or(0)
    }

    /// The chosen hold, if it is still open.
    pub fn chosen_open(&self, room: &Room) -> Option<Hold> {
        let n = self.selected?;
        let state = room.replica.state.as_ref()?;
        holds::hold(state, n).filter(|h| h.is_open()).cloned()
    }

    fn step_by(&mut self, list: &[Hold], delta: isize) {
        if list.is_empty() {
            return;
        }
        let i = self.selected_index(list) as isize + delta;
        let i = i.clamp(0, list.len() as isize - 1) as usize;
        self.selected = Some(list[i].number);
    }
}

impl Component for HoldsDialog {
    fn event(&mut self, key: KeyEvent, ctx: &Ctx<'_>) -> Outcome {
        let list = register(ctx.room);
        if self.step != HoldsStep::Choose && self.chosen_open(ctx.room).is_none() {
            self.step = HoldsStep::Choose;
            self.error = Some("that hold was cleared meanwhile (see its line); choose again".into());
            return Outcome::used();
        }
        match (self.step, key.code) {
            (HoldsStep::Choose, KeyCode::Char('j') | KeyCode::Down) => self.step_by(&list, 1),
            (HoldsStep::Choose, KeyCode::Char('k') | KeyCode::Up) => self.step_by(&list, -1),
            (HoldsStep::Choose, KeyCode::Char('g') | KeyCode::Home) => self.selected = list.first().map(|h| h.number),
            (HoldsStep::Choose, KeyCode::Char('G') | KeyCode::End) => self.selected = list.last().map(|h| h.number),
            (HoldsStep::Choose, KeyCode::Char('q')) => return Outcome::close(),
            (HoldsStep::Choose, KeyCode::Enter | KeyCode::Char('c')) => {
                if !ctx.room.is_owner() {
                    self.error = Some(format!(
                        "only an owner clears a hold (you are {}); the register is yours to read",
                        ctx.room.role_label()
                    ));
                    return Outcome::used();
                }
                let Some(h) = self.selected.and_then(|n| list.iter().find(|h| h.number == n)) else {
                    return Outcome::used();
                };
                if let Some(c) = &h.cleared {
                    self.error = Some(format!(
                        "{} is already cleared (rev {}); holds stay in the register",
                        h.code(),
                        c.revision
                    ));
                    return Outcome::used();
                }
                if let Some(state) = &ctx.room.replica.state
                    && let Some(holds::ClearRefusal::CheckStillFails(m)) = holds::clear_refusal(state, h.number)
                {
                    self.error = Some(m);
                    return Outcome::used();
                }
                self.step = HoldsStep::Rationale;
                self.error = None;
            }
            (HoldsStep::Rationale, KeyCode::Enter) => {
                if input_text(&self.rationale).is_empty() {
                    self.error = Some("write why this hold may be cleared (kept in the register and the audit)".into());
                } else {
                    self.step = HoldsStep::Confirm;
                }
            }
            (HoldsStep::Rationale, _) => type_fixing(&mut self.rationale, &mut self.error, key),
            (HoldsStep::Confirm, KeyCode::Char('y' | 'Y') | KeyCode::Enter) => {
                let (Some(room), Some(h)) = (ctx.room.id, self.chosen_open(ctx.room)) else {
                    return Outcome::close();
                };
                let request = Request::ClearHold { room, hold: h.number, rationale: input_text(&self.rationale) };
                return Outcome::Used(vec![
                    Command::Send(request, Pending::ClearHold { code: h.code() }),
                    Command::Close,
                ]);
            }
            (HoldsStep::Confirm, KeyCode::Char('n' | 'N')) => self.step = HoldsStep::Rationale,
            _ => {}
        }
        Outcome::used()
    }
}
