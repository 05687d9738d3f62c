//! The help overlay: the keys of the focused pane (or of the open screen),
//! the global keys (owner-only ones disabled for others), extra lines from
//! the caller (the demo: the commands that join, and who to join as for
//! each flow), and a legend of the symbols. The lines are worked out here,
//! so the scroll can stop at the last one; `ui/help.rs` styles them.
//!
//! The caller's lines are marked by their first characters: [`HEADING`] a
//! heading, [`COMMAND`] a command, anything else text (wrapped). A command
//! is never wrapped and nothing else is drawn on its row — not even the
//! overlay's border — so selecting it in the terminal copies exactly the
//! command.

use std::path::PathBuf;

use crossterm::event::{KeyCode, KeyEvent};

use super::{Component, Ctx, Outcome, ScreenKind};
use crate::tui::keys::{self, KeyHelp};
use crate::tui::text::{str_width, wrap};
use crate::tui::theme::Theme;

/// A line of the caller's extra help that is a command.
pub const COMMAND: &str = "$ ";
/// A line of the caller's extra help that is a heading.
pub const HEADING: &str = "# ";

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
    /// A heading among the caller's lines (bold, not a title).
    Subheading(String),
    /// A command to copy: whole, alone on its row.
    Command(String),
    /// A row of the symbol legend: the symbol column (blank on a wrapped
    /// meaning's continuation) and the meaning.
    Symbol {
        sym: String,
        what: String,
    },
}

impl Help {
    /// Every help line, in order, for a popup `width` cells wide.
    pub fn lines(&self, ctx: &Ctx<'_>, width: usize) -> Vec<HelpLine> {
        let owner = ctx.room.is_owner();
        let (title, pane_keys): (String, &[KeyHelp]) = match ctx.screen {
            Some(ScreenKind::Diff) => ("Diff view".into(), keys::DIFF),
            Some(ScreenKind::Suggestions) => ("Suggestions".into(), keys::SUGGESTIONS),
            Some(ScreenKind::Stats) => ("Stats".into(), keys::STATS),
            Some(ScreenKind::History) => ("Message history".into(), keys::HISTORY),
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
            for l in &self.extra {
                if let Some(cmd) = l.strip_prefix(COMMAND) {
                    // Whole, on a row of its own (drawn past the border when wide).
                    out.push(HelpLine::Command(cmd.to_string()));
                } else if let Some(h) = l.strip_prefix(HEADING) {
                    out.extend(wrap(h, width).into_iter().map(HelpLine::Subheading));
                } else {
                    let indent = 2 + l.len() - l.trim_start().len();
                    for w in wrap(l.trim_start(), width.saturating_sub(indent)) {
                        out.push(HelpLine::Text(format!("{}{w}", " ".repeat(indent))));
                    }
                }
            }
            out.push(HelpLine::Blank);
        }
        out.push(HelpLine::Heading("Symbols".into()));
        for (sym, what) in legend(ctx.theme) {
            let first = format!("  {sym}{}", " ".repeat(8usize.saturating_sub(str_width(&sym))));
            for (i, what) in wrap(what, width.saturating_sub(10)).into_iter().enumerate() {
                let sym = if i == 0 { first.clone() } else { " ".repeat(10) };
                out.push(HelpLine::Symbol { sym, what });
            }
        }
        out.push(HelpLine::Blank);
        if let Some(path) = &self.log_path {
            out.push(HelpLine::Note(format!("log file: {}", path.display())));
        }
        out
    }
}

/// What each symbol on the screen means (one meaning per symbol).
pub fn legend(t: &Theme) -> Vec<(String, &'static str)> {
    let s = &t.sym;
    vec![
        (format!("{}2", s.verified), "statements verified by evidence (case, session-log, registry ids)"),
        (format!("{}1", s.contested), "contested statements: an objection disputes them"),
        (format!("{}1", s.restricted), "restricted statements: they only point at an annex"),
        (format!("{}1", s.residual), "accepted-residual disagreement, handed on unresolved"),
        (format!("{}1", s.unsupported), "statements with no label or evidence: they must not stand as fact"),
        (format!("{}3{}1", s.objection, s.blocking), "open objections, and how many of them block release"),
        ("✎2".into(), "open suggestions waiting for a decision (u)"),
        (format!("{}priya", s.editing), "who is in that section now"),
        ("•".into(), "your edits the server has not acknowledged yet"),
        (format!("{} {}", s.lock, s.unlocked), "annex map: gated for you / you may read it (views are logged)"),
        (format!("{} {}", s.connected, s.disconnected), "connected / not connected (edits are kept and re-sent)"),
    ]
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
