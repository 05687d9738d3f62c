//! The disagreement register pane: the objections on the section in view
//! (or all of them), which one is selected, and whether its thread is open.

use crossterm::event::{KeyCode, KeyEvent};
use trustroom_shared::ObjectionId;
use trustroom_shared::objection::ObjectionStatus;

use super::{Command, Component, Ctx, Outcome};
use crate::tui::action::{Action, Pane};

#[derive(Clone, Debug, Default)]
pub struct Register {
    /// The pane is on screen.
    pub shown: bool,
    /// Show every objection, not only the current section's.
    pub all: bool,
    pub selected: usize,
    /// Show the whole thread of the selected objection.
    pub expanded: bool,
}

impl Register {
    /// Objections shown in the pane, in order: open first, blocking first,
    /// then by number.
    pub fn items(&self, ctx: &Ctx<'_>) -> Vec<ObjectionId> {
        let Some(state) = &ctx.room.replica.state else { return Vec::new() };
        let current = ctx.current_section_id();
        let mut items: Vec<_> =
            state.objections.values().filter(|o| self.all || Some(o.anchor.section) == current).collect();
        items.sort_by_key(|o| (o.status != ObjectionStatus::Open, !o.blocking, o.number));
        items.into_iter().map(|o| o.id).collect()
    }

    pub fn selected_objection(&self, ctx: &Ctx<'_>) -> Option<ObjectionId> {
        self.items(ctx).get(self.selected).copied()
    }
}

impl Component for Register {
    fn event(&mut self, key: KeyEvent, ctx: &Ctx<'_>) -> Outcome {
        let n = self.items(ctx).len();
        match key.code {
            KeyCode::Char('j') | KeyCode::Down => self.selected = (self.selected + 1).min(n.saturating_sub(1)),
            KeyCode::Char('k') | KeyCode::Up => self.selected = self.selected.saturating_sub(1),
            KeyCode::Enter | KeyCode::Char(' ') => self.expanded = !self.expanded,
            KeyCode::Char('n' | 'o') => return Outcome::run(Action::ObjectionNew),
            KeyCode::Char('c') => return Outcome::run(Action::ObjectionReply),
            KeyCode::Char('s') => return Outcome::run(Action::ObjectionStatus),
            KeyCode::Char('f') => return Outcome::run(Action::RegisterFilter),
            KeyCode::Esc => return Outcome::with(Command::Focus(Pane::Editor)),
            _ => return Outcome::Ignored,
        }
        Outcome::used()
    }
}
