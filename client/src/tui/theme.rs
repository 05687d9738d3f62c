//! Colours and symbols. `NO_COLOR` turns every colour off (modifiers like
//! bold and reverse stay, so focus and selection remain visible);
//! `TRUSTROOM_ASCII=1` or a non-UTF-8 locale swaps the symbols for ASCII.

use ratatui::style::{Color, Modifier, Style};
use trustroom_shared::UserId;

/// Symbols used in badges and banners, with ASCII fallbacks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Symbols {
    pub verified: &'static str,
    pub contested: &'static str,
    pub restricted: &'static str,
    pub residual: &'static str,
    pub unsupported: &'static str,
    pub objection: &'static str,
    pub blocking: &'static str,
    pub editing: &'static str,
    pub lock: &'static str,
    pub unlocked: &'static str,
    pub connected: &'static str,
    pub disconnected: &'static str,
    pub warning: &'static str,
    pub bar: &'static str,
    pub selected: &'static str,
    pub reply: &'static str,
}

const UNICODE: Symbols = Symbols {
    verified: "✓",
    contested: "?",
    restricted: "🔒",
    residual: "≈",
    unsupported: "✗",
    objection: "⚑",
    blocking: "!",
    editing: "@",
    lock: "🔒",
    unlocked: "🔓",
    connected: "●",
    disconnected: "○",
    warning: "⚠",
    bar: "│",
    selected: "▶",
    reply: "↳",
};

const ASCII: Symbols = Symbols {
    verified: "v",
    contested: "?",
    restricted: "#",
    residual: "~",
    unsupported: "x",
    objection: "O",
    blocking: "!",
    editing: "@",
    lock: "[#]",
    unlocked: "[ ]",
    connected: "*",
    disconnected: "o",
    warning: "!",
    bar: "|",
    selected: ">",
    reply: "->",
};

/// The palette. Every style goes through here so `NO_COLOR` is honoured in
/// one place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Theme {
    pub color: bool,
    pub sym: Symbols,
}

/// Colours given to other members' cursors, picked by user id.
const USER_COLORS: [Color; 8] = [
    Color::Magenta,
    Color::Cyan,
    Color::Yellow,
    Color::LightGreen,
    Color::LightBlue,
    Color::LightRed,
    Color::LightMagenta,
    Color::LightCyan,
];

impl Theme {
    /// From the environment: `NO_COLOR` (any non-empty value), `TRUSTROOM_ASCII`
    /// and the locale.
    pub fn from_env() -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let ascii = std::env::var("TRUSTROOM_ASCII").is_ok_and(|v| v == "1" || v == "true") || !utf8_locale();
        Self::new(!no_color, ascii)
    }

    pub fn new(color: bool, ascii: bool) -> Self {
        Self { color, sym: if ascii { ASCII } else { UNICODE } }
    }

    fn fg(&self, c: Color) -> Style {
        if self.color { Style::new().fg(c) } else { Style::new() }
    }

    pub fn text(&self) -> Style {
        Style::new()
    }
    pub fn dim(&self) -> Style {
        if self.color { Style::new().fg(Color::DarkGray) } else { Style::new().add_modifier(Modifier::DIM) }
    }
    pub fn bold(&self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }
    pub fn border(&self) -> Style {
        self.dim()
    }
    pub fn border_focused(&self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }
    pub fn title(&self) -> Style {
        self.bold()
    }
    /// The selected row of a list.
    pub fn selected(&self) -> Style {
        if self.color {
            Style::new().bg(Color::Rgb(40, 48, 64)).add_modifier(Modifier::BOLD)
        } else {
            Style::new().add_modifier(Modifier::REVERSED)
        }
    }
    pub fn key(&self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }
    pub fn key_disabled(&self) -> Style {
        self.dim().add_modifier(Modifier::CROSSED_OUT)
    }
    pub fn verified(&self) -> Style {
        self.fg(Color::Green)
    }
    pub fn contested(&self) -> Style {
        self.fg(Color::Yellow)
    }
    pub fn restricted(&self) -> Style {
        self.fg(Color::Magenta)
    }
    pub fn residual(&self) -> Style {
        self.fg(Color::Blue)
    }
    pub fn unsupported(&self) -> Style {
        self.fg(Color::Red)
    }
    /// Statement label text (`[verified: …]`).
    pub fn label(&self) -> Style {
        self.bold()
    }
    /// Evidence references inside a label (`TL-0412`).
    pub fn evidence(&self) -> Style {
        self.fg(Color::Green).add_modifier(Modifier::UNDERLINED)
    }
    /// `[[annex:A1]]` references.
    pub fn annex_ref(&self) -> Style {
        self.fg(Color::Magenta).add_modifier(Modifier::UNDERLINED | Modifier::BOLD)
    }
    pub fn heading(&self) -> Style {
        self.bold().add_modifier(Modifier::UNDERLINED)
    }
    pub fn blocking(&self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }
    pub fn ok(&self) -> Style {
        self.fg(Color::Green)
    }
    pub fn warn(&self) -> Style {
        self.fg(Color::Yellow)
    }
    pub fn error(&self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }
    /// The red banner (disconnected, escalated, break-glass).
    pub fn banner_error(&self) -> Style {
        if self.color {
            Style::new().bg(Color::Red).fg(Color::White).add_modifier(Modifier::BOLD)
        } else {
            Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD)
        }
    }
    /// The "this view is logged" banner.
    pub fn banner_logged(&self) -> Style {
        if self.color {
            Style::new().bg(Color::Yellow).fg(Color::Black).add_modifier(Modifier::BOLD)
        } else {
            Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD)
        }
    }
    pub fn status_bar(&self) -> Style {
        if self.color { Style::new().bg(Color::Rgb(30, 34, 42)).fg(Color::Gray) } else { Style::new() }
    }
    pub fn release_state(&self, name: &str) -> Style {
        let c = match name {
            "DRAFTING" => Color::Blue,
            "HELD" => Color::Yellow,
            "READY" => Color::Green,
            "RELEASED" => Color::LightGreen,
            _ => Color::Red,
        };
        if self.color {
            Style::new().bg(c).fg(Color::Black).add_modifier(Modifier::BOLD)
        } else {
            Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD)
        }
    }
    pub fn diff_insert(&self) -> Style {
        self.fg(Color::Green)
    }
    pub fn diff_delete(&self) -> Style {
        self.fg(Color::Red)
    }
    /// Word-level emphasis inside a changed line.
    pub fn diff_insert_emph(&self) -> Style {
        if self.color {
            Style::new().fg(Color::Black).bg(Color::Green)
        } else {
            Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD)
        }
    }
    pub fn diff_delete_emph(&self) -> Style {
        if self.color {
            Style::new().fg(Color::Black).bg(Color::Red)
        } else {
            Style::new().add_modifier(Modifier::REVERSED | Modifier::CROSSED_OUT)
        }
    }
    pub fn diff_hunk(&self) -> Style {
        self.fg(Color::Cyan)
    }
    pub fn textarea_cursor(&self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }
    pub fn textarea_selection(&self) -> Style {
        if self.color {
            Style::new().bg(Color::Rgb(60, 70, 100))
        } else {
            Style::new().add_modifier(Modifier::UNDERLINED)
        }
    }
    /// A colour for another member, stable per user.
    pub fn user_color(&self, user: UserId) -> Option<Color> {
        if !self.color {
            return None;
        }
        let b = user.0.as_bytes();
        let idx = b.iter().fold(0usize, |acc, x| acc.wrapping_mul(31).wrapping_add(*x as usize));
        Some(USER_COLORS[idx % USER_COLORS.len()])
    }
    pub fn user(&self, user: UserId) -> Style {
        match self.user_color(user) {
            Some(c) => Style::new().fg(c).add_modifier(Modifier::BOLD),
            None => Style::new().add_modifier(Modifier::BOLD),
        }
    }
    /// A remote cursor cell.
    pub fn remote_cursor(&self, user: UserId) -> Style {
        match self.user_color(user) {
            Some(c) => Style::new().bg(c).fg(Color::Black),
            None => Style::new().add_modifier(Modifier::UNDERLINED | Modifier::SLOW_BLINK),
        }
    }
    pub fn remote_selection(&self, user: UserId) -> Style {
        match self.user_color(user) {
            Some(c) => Style::new().fg(c).add_modifier(Modifier::UNDERLINED),
            None => Style::new().add_modifier(Modifier::UNDERLINED),
        }
    }
}

fn utf8_locale() -> bool {
    for var in ["LC_ALL", "LC_CTYPE", "LANG"] {
        if let Ok(v) = std::env::var(var) {
            if v.is_empty() {
                continue;
            }
            let v = v.to_ascii_lowercase();
            return v.contains("utf-8") || v.contains("utf8");
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_color_has_no_colours() {
        let t = Theme::new(false, false);
        for s in [t.verified(), t.blocking(), t.border_focused(), t.diff_insert(), t.status_bar()] {
            assert_eq!(s.fg, None);
            assert_eq!(s.bg, None);
        }
        assert!(t.user_color(UserId::new()).is_none());
    }
}
