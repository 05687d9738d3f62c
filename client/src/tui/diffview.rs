//! The diff screen's state: what is compared (a section or the whole
//! packet; since I last looked, since the last release, or between two
//! revisions), how (unified or side by side), and the computed rows.

use std::cell::Cell;
use std::time::{Duration, Instant};

use trustroom_shared::SectionId;
use trustroom_shared::release::ReleaseState;
use trustroom_shared::room::RoomState;

use super::diffing::lines::screen_lines;
use super::diffing::{DiffResult, DiffRow, diff_into};
use crate::session::history::History;

/// Time budget for computing one diff screen.
pub const DIFF_BUDGET: Duration = Duration::from_millis(120);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiffScope {
    Section(SectionId),
    Packet,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiffBase {
    LastLooked,
    LastRelease,
    Revisions { from: u64, to: u64 },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiffLayout {
    Unified,
    SideBySide,
}

#[derive(Clone, Debug)]
pub struct DiffView {
    pub scope: DiffScope,
    pub base: DiffBase,
    pub layout: DiffLayout,
    /// The first screen line shown (wrapped lines count one each).
    pub scroll: usize,
    pub result: DiffResult,
    /// What is compared, for the header.
    pub heading: String,
    computed_at: Option<u64>,
    /// Width and height of the text area as last drawn, for scrolling by
    /// screen line (a `Cell`, as gitui's diff keeps its `current_size`:
    /// drawing records the size it had, and changes nothing else).
    viewport: Cell<(u16, u16)>,
}

impl DiffView {
    pub fn new(scope: DiffScope, base: DiffBase) -> Self {
        Self {
            scope,
            base,
            layout: DiffLayout::Unified,
            scroll: 0,
            result: DiffResult::default(),
            heading: String::new(),
            computed_at: None,
            viewport: Cell::new((0, 0)),
        }
    }

    /// Needs recomputing (the room moved on, or the settings changed).
    pub fn stale(&self, revision: u64) -> bool {
        self.computed_at != Some(revision)
    }

    /// Where the text was drawn last (drawing calls this).
    pub fn drawn_at(&self, width: u16, height: u16) {
        self.viewport.set((width, height));
    }

    /// Screen lines of the wrapped diff at `width` cells in this layout.
    pub fn line_count(&self, width: u16) -> usize {
        screen_lines(&self.result.rows, self.layout == DiffLayout::SideBySide, usize::from(width)).count()
    }

    /// How many scroll positions there are: one per screen line of the
    /// wrapped diff at the size it was last drawn, up to the one that puts
    /// the last line at the bottom (one per diff row before the first draw).
    pub fn row_count(&self) -> usize {
        let (width, height) = self.viewport.get();
        if width == 0 {
            return match self.layout {
                DiffLayout::Unified => self.result.rows.len(),
                DiffLayout::SideBySide => super::diffing::side_by_side(&self.result.rows).len(),
            };
        }
        self.line_count(width).saturating_sub(usize::from(height)) + 1
    }

    /// Recomputes the rows from the room's state and this session's history.
    pub fn compute(&mut self, state: &RoomState, history: &History) {
        let now_rev = state.revision;
        self.computed_at = Some(now_rev);
        let mut result = DiffResult::default();
        let deadline = Instant::now() + DIFF_BUDGET;
        let sections: Vec<(SectionId, String)> = match self.scope {
            DiffScope::Section(id) => state.section(id).map(|s| vec![(s.id, s.title.clone())]).unwrap_or_default(),
            DiffScope::Packet => state.sections.iter().map(|s| (s.id, s.title.clone())).collect(),
        };
        let release_rev = match &state.release {
            ReleaseState::Released { revision, .. } => Some(*revision),
            _ => None,
        };
        let (base_label, to_rev) = match self.base {
            DiffBase::LastLooked => ("since you last looked".to_string(), now_rev),
            DiffBase::LastRelease => match release_rev {
                Some(r) => (format!("since the release at rev {r}"), now_rev),
                None => ("since the last release (none yet: showing since you joined)".to_string(), now_rev),
            },
            DiffBase::Revisions { from, to } => (format!("rev {from} → rev {to}"), to),
        };
        let scope_label = match self.scope {
            DiffScope::Section(_) => sections.first().map(|s| format!("§ {}", s.1)).unwrap_or_default(),
            DiffScope::Packet => "whole packet".to_string(),
        };
        self.heading = format!("{scope_label} — {base_label}");
        let multi = matches!(self.scope, DiffScope::Packet);
        for (id, title) in sections {
            let (old, old_label) = match self.base {
                DiffBase::LastLooked => history.last_looked(id),
                DiffBase::LastRelease => {
                    let r = release_rev.unwrap_or(history.since);
                    match history.body_at(id, r) {
                        Some(b) => (b, format!("rev {r}")),
                        None => {
                            result.rows.push(DiffRow::Title(title.clone()));
                            result.rows.push(DiffRow::Note(format!(
                                "rev {r} is older than this session's history (from rev {})",
                                history.since
                            )));
                            continue;
                        }
                    }
                }
                DiffBase::Revisions { from, .. } => match history.body_at(id, from) {
                    Some(b) => (b, format!("rev {from}")),
                    None => {
                        result.rows.push(DiffRow::Title(title.clone()));
                        result.rows.push(DiffRow::Note(format!("rev {from} is not in this session's history")));
                        continue;
                    }
                },
            };
            let new = if to_rev == now_rev {
                state.section(id).map(|s| s.body.clone()).unwrap_or_default()
            } else {
                history.body_at(id, to_rev).unwrap_or_default()
            };
            if old == new {
                if !multi {
                    result.rows.push(DiffRow::Note(format!("no changes ({old_label} → rev {to_rev})")));
                }
                continue;
            }
            if multi {
                result.rows.push(DiffRow::Title(format!("{title}  ({old_label} → rev {to_rev})")));
            }
            diff_into(&mut result, &old, &new, 3, deadline);
        }
        if result.rows.is_empty() {
            result.rows.push(DiffRow::Note("no changes".into()));
        }
        self.result = result;
        self.scroll = self.scroll.min(self.row_count().saturating_sub(1));
    }
}
