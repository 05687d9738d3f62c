//! The sections list: which section is in view (the editor shows it, the
//! register filters by it) and each section's badge counts, cached.

use std::collections::HashMap;

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::Rect;
use trustroom_shared::SectionId;
use trustroom_shared::room::{RoomState, Section};
use trustroom_shared::statement::{StatementLabel, statements};

use super::{Command, Component, Ctx, Outcome};
use crate::tui::action::{Action, Pane};

/// Rows per section in the list.
pub const ROWS: usize = 2;

/// Badge counts of one section (cached).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SectionMeta {
    pub verified: usize,
    pub contested: usize,
    pub restricted: usize,
    pub residual: usize,
    pub unsupported: usize,
    pub open_objections: usize,
    pub blocking_open: usize,
}

#[derive(Clone, Debug, Default)]
pub struct SectionList {
    /// Index of the section in view.
    pub current: usize,
    /// Badge counts per section (see [`SectionList::refresh`]).
    pub meta: HashMap<SectionId, SectionMeta>,
}

impl SectionList {
    /// Index of the first section shown in `rect`, so the current one is visible.
    pub fn first_visible(&self, rect: Rect) -> usize {
        let per_screen = (rect.height.saturating_sub(2) as usize / ROWS).max(1);
        if self.current >= per_screen { self.current + 1 - per_screen } else { 0 }
    }

    /// Recounts the badges.
    pub fn refresh(&mut self, state: &RoomState) {
        self.meta = state.sections.iter().map(|s| (s.id, section_meta(state, s))).collect();
    }
}

impl Component for SectionList {
    fn event(&mut self, key: KeyEvent, _ctx: &Ctx<'_>) -> Outcome {
        match key.code {
            KeyCode::Char('j') | KeyCode::Down => Outcome::run(Action::SectionNext),
            KeyCode::Char('k') | KeyCode::Up => Outcome::run(Action::SectionPrev),
            KeyCode::Char('g') | KeyCode::Home => Outcome::with(Command::SelectSection(0)),
            // `G` is the grants list everywhere (End goes to the last section).
            KeyCode::End => Outcome::with(Command::SelectSection(usize::MAX)),
            KeyCode::Enter | KeyCode::Right | KeyCode::Char('l') => Outcome::with(Command::Focus(Pane::Editor)),
            KeyCode::Char('i') => Outcome::run(Action::EditStart),
            _ => Outcome::Ignored,
        }
    }
}

fn section_meta(state: &RoomState, s: &Section) -> SectionMeta {
    let mut m = SectionMeta::default();
    for st in statements(&s.body) {
        match st.label {
            StatementLabel::Verified { .. } => m.verified += 1,
            StatementLabel::Contested { .. } => m.contested += 1,
            StatementLabel::Restricted => m.restricted += 1,
            StatementLabel::AcceptedResidual => m.residual += 1,
            StatementLabel::Unlabeled => m.unsupported += 1,
            StatementLabel::Heading => {}
        }
    }
    for o in state.objections.values().filter(|o| o.anchor.section == s.id && o.is_open()) {
        m.open_objections += 1;
        if o.blocking {
            m.blocking_open += 1;
        }
    }
    m
}
