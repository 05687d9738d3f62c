//! Pane borders, popups and fitting text into cells (the text measures
//! themselves are `crate::tui::text`'s).

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Widget};

pub use crate::tui::text::{char_width, str_width, truncate, wrap};
use crate::tui::theme::Theme;

/// A pane's frame; the focused pane gets a bright, thick border.
pub fn pane_block<'a>(theme: &Theme, title: Line<'a>, focused: bool) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_type(if focused { BorderType::Thick } else { BorderType::Plain })
        .border_style(if focused { theme.border_focused() } else { theme.border() })
        .title(title)
}

/// Clears `area` and draws a popup frame; returns the inner area.
pub fn popup(buf: &mut Buffer, theme: &Theme, area: Rect, title: &str) -> Rect {
    Clear.render(area, buf);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Rounded)
        .border_style(theme.border_focused())
        .title(Line::from(Span::styled(format!(" {title} "), theme.title())));
    let inner = block.inner(area);
    block.render(area, buf);
    inner
}

/// A rectangle of `w`×`h` centred in `area` (clamped to it).
pub fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect::new(area.x + (area.width - w) / 2, area.y + (area.height - h) / 2, w, h)
}

/// Writes a line clipped to `area`'s row `y` (relative).
pub fn put_line(buf: &mut Buffer, area: Rect, y: u16, line: &Line<'_>) {
    if y < area.height {
        buf.set_line(area.x, area.y + y, line, area.width);
    }
}

/// A `key description` hint pair; disabled keys are dimmed and struck.
pub fn hint<'a>(theme: &Theme, key: &'a str, what: &'a str, enabled: bool) -> Vec<Span<'a>> {
    let ks = if enabled { theme.key() } else { theme.key_disabled() };
    let ws = if enabled { theme.dim() } else { theme.key_disabled() };
    vec![Span::styled(key, ks), Span::raw(" "), Span::styled(what, ws), Span::raw("  ")]
}

/// Fills a row with a style (for bars and banners).
pub fn fill(buf: &mut Buffer, area: Rect, style: Style) {
    buf.set_style(area, style);
}
