//! The disagreement register pane: the objections on the section in view
//! (or all of them), which one is selected, and whose threads are open.
//!
//! The selection is an objection, not a row: when another member raises an
//! objection or a status change re-sorts the list, the same objection stays
//! selected, so `s` `Enter` acts on the one the user looked at.

use std::collections::BTreeSet;

use crossterm::event::{KeyCode, KeyEvent};
use trustroom_shared::ObjectionId;
use trustroom_shared::objection::ObjectionStatus;

use super::{Command, Component, Ctx, Outcome};
use crate::tui::action::{Action, Pane};

/// From this terminal width the register is shown beside the packet unless
/// the user chose otherwise.
pub const SHOWN_FROM_WIDTH: u16 = 120;

#[derive(Clone, Debug, Default)]
pub struct Register {
    /// The user showed (`true`) or hid (`false`) the pane, this session or
    /// remembered from an earlier one; `None` follows the width rule
    /// ([`SHOWN_FROM_WIDTH`]).
    pub choice: Option<bool>,
    /// Show every objection, not only the current section's.
    pub all: bool,
    /// The selected objection.
    pub selected: Option<ObjectionId>,
    /// Its place in the list when last seen: when it leaves the list (a
    /// filter or section change), the objection now at that place is
    /// selected instead.
    index: usize,
    /// Objections whose whole thread is shown.
    pub expanded: BTreeSet<ObjectionId>,
}

impl Register {
    /// Whether the pane is on screen in a terminal `width` columns wide.
    pub fn shown(&self, width: u16) -> bool {
        self.choice.unwrap_or(width >= SHOWN_FROM_WIDTH)
    }

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

    /// The place of the selected objection in `items`; when it is not
    /// listed, the place it had (clamped); `None` for an empty list.
    pub fn selected_index(&self, items: &[ObjectionId]) -> Option<usize> {
        let last = items.len().checked_sub(1)?;
        Some(self.selected.and_then(|id| items.iter().position(|i| *i == id)).unwrap_or(self.index.min(last)))
    }

    pub fn selected_objection(&self, ctx: &Ctx<'_>) -> Option<ObjectionId> {
        let items = self.items(ctx);
        self.selected_index(&items).map(|i| items[i])
    }

    /// After the room or the list changed: keeps the selected objection
    /// selected where it is now, or selects its neighbour when it left.
    pub fn settle(&mut self, ctx: &Ctx<'_>) {
        let items = self.items(ctx);
        if let Some(i) = self.selected_index(&items) {
            self.select_at(&items, i);
        }
    }

    /// After the section in view or the filter changed: keeps the selected
    /// objection when it is still listed, else selects the first.
    pub fn keep_or_first(&mut self, ctx: &Ctx<'_>) {
        let items = self.items(ctx);
        match self.selected.and_then(|id| items.iter().position(|i| *i == id)) {
            Some(i) => self.select_at(&items, i),
            None => {
                self.index = 0;
                self.selected = items.first().copied();
            }
        }
    }

    fn select_at(&mut self, items: &[ObjectionId], i: usize) {
        self.index = i;
        self.selected = items.get(i).copied();
    }

    /// Whether `id`'s whole thread is shown.
    pub fn is_expanded(&self, id: ObjectionId) -> bool {
        self.expanded.contains(&id)
    }
}

impl Component for Register {
    fn event(&mut self, key: KeyEvent, ctx: &Ctx<'_>) -> Outcome {
        let items = self.items(ctx);
        let at = self.selected_index(&items);
        match key.code {
            KeyCode::Char('j') | KeyCode::Down => {
                if let Some(i) = at {
                    self.select_at(&items, (i + 1).min(items.len() - 1));
                }
            }
            KeyCode::Char('k') | KeyCode::Up => {
                if let Some(i) = at {
                    self.select_at(&items, i.saturating_sub(1));
                }
            }
            KeyCode::Char('g') | KeyCode::Home if !items.is_empty() => self.select_at(&items, 0),
            KeyCode::Char('G') | KeyCode::End if !items.is_empty() => self.select_at(&items, items.len() - 1),
            KeyCode::Enter | KeyCode::Char(' ') => {
                if let Some(i) = at {
                    let id = items[i];
                    self.select_at(&items, i);
                    if !self.expanded.remove(&id) {
                        self.expanded.insert(id);
                    }
                }
            }
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
