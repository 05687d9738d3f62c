//! The help overlay: the keys of the focused pane (or of the open screen),
//! the global keys (owner-only ones disabled for others), and extra lines
//! from the caller (the demo's join commands). The lines are worked out
//! here, so the scroll can stop at the last one; `ui/help.rs` styles them.

use std::path::PathBuf;

use crossterm::event::{KeyCode, KeyEvent};

use super::{Component, Ctx, Outcome, ScreenKind};
use crate::tui::keys::{self, KeyHelp};
use crate::tui::text::wrap;

#[derive(Clone, Debug, Default)]
pub struct Help {
    /// Lines scrolled past (kept between openings; `Action::Help` starts
    /// at the top).
    pub scroll: u16,
    /// Extra lines shown (the demo puts the join commands here).
    pub extra: Vec<String>,
    /// Where the log goes.
    pub log_path: Option<PathBuf>,
}

/// One line of help.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HelpLine {
    Heading(String),
    /// A key and what it does; disabled keys are the owner's.
    Key {
        help: KeyHelp,
        enabled: bool,
    },
    Blank,
    /// A remark, dimmed.
    Note(String),
    Text(String),
}

impl Help {
    /// Every help line, in order, for a popup `width` cells wide.
    pub fn lines(&self, ctx: &Ctx<'_>, width: usize) -> Vec<HelpLine> {
        let owner = ctx.room.is_owner();
        let (title, pane_keys): (String, &[KeyHelp]) = match ctx.screen {
            Some(ScreenKind::Diff) => ("Diff view".into(), keys::DIFF),
            Some(ScreenKind::Suggestions) => ("Suggestions".into(), keys::SUGGESTIONS),
            Some(ScreenKind::Stats) => ("Stats".into(), keys::STATS),
            None => (format!("Focused: {}", ctx.focus.name()), keys::for_pane(ctx.focus, ctx.mode)),
        };
        let mut out = Vec::new();
        let mut section = |heading: String, list: &[KeyHelp]| {
            out.push(HelpLine::Heading(heading));
            for k in list {
                out.push(HelpLine::Key { help: *k, enabled: !k.owner_only || owner });
            }
            out.push(HelpLine::Blank);
        };
        section(title, pane_keys);
        section("Everywhere".into(), keys::GLOBAL);
        if !self.extra.is_empty() {
            out.push(HelpLine::Heading("Join this room from other terminals".into()));
            out.push(HelpLine::Note("  (also printed in your terminal before the TUI opened)".into()));
            for l in &self.extra {
                for w in wrap(l, width.saturating_sub(2)) {
                    out.push(HelpLine::Text(format!("  {w}")));
                }
            }
            out.push(HelpLine::Blank);
        }
        if let Some(path) = &self.log_path {
            out.push(HelpLine::Note(format!("log file: {}", path.display())));
        }
        out
    }
}

impl Component for Help {
    /// `j`/`k` scroll; any other key closes.
    fn event(&mut self, key: KeyEvent, ctx: &Ctx<'_>) -> Outcome {
        match key.code {
            KeyCode::Down | KeyCode::Char('j') => {
                let width = ctx.size.width.saturating_sub(6).min(98) as usize;
                let lines = self.lines(ctx, width).len();
                let max = lines.saturating_sub(ctx.size.height.saturating_sub(4) as usize);
                self.scroll = (self.scroll.saturating_add(1)).min(max as u16);
                Outcome::used()
            }
            KeyCode::Up | KeyCode::Char('k') => {
                self.scroll = self.scroll.saturating_sub(1);
                Outcome::used()
            }
            _ => Outcome::close(),
        }
    }
}
