//! Pane borders, popups and fitting text into cells.

use ratatui::buffer::{Buffer, CellWidth};
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Widget};

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

pub fn char_width(c: char) -> usize {
    let mut b = [0u8; 4];
    usize::from(c.encode_utf8(&mut b).cell_width())
}

pub fn str_width(s: &str) -> usize {
    s.chars().map(char_width).sum()
}

/// Cuts `s` to `width` cells, ending with `…` when cut.
pub fn truncate(s: &str, width: usize) -> String {
    if str_width(s) <= width {
        return s.to_string();
    }
    let mut out = String::new();
    let mut w = 0;
    for c in s.chars() {
        let cw = char_width(c);
        if w + cw + 1 > width {
            break;
        }
        out.push(c);
        w += cw;
    }
    if width > 0 {
        out.push('…');
    }
    out
}

/// Word-wraps `s` to `width` cells (long words are split).
pub fn wrap(s: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines = Vec::new();
    for para in s.split('\n') {
        let mut line = String::new();
        let mut w = 0;
        for word in para.split(' ') {
            let ww = str_width(word);
            if w > 0 && w + 1 + ww > width {
                lines.push(std::mem::take(&mut line));
                w = 0;
            }
            if w > 0 {
                line.push(' ');
                w += 1;
            }
            if ww > width {
                for c in word.chars() {
                    let cw = char_width(c);
                    if w + cw > width {
                        lines.push(std::mem::take(&mut line));
                        w = 0;
                    }
                    line.push(c);
                    w += cw;
                }
            } else {
                line.push_str(word);
                w += ww;
            }
        }
        lines.push(line);
    }
    lines
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_and_truncate() {
        assert_eq!(wrap("one two three", 7), vec!["one two", "three"]);
        assert_eq!(wrap("abcdefghij", 4), vec!["abcd", "efgh", "ij"]);
        assert_eq!(truncate("hello world", 6), "hello…");
        assert_eq!(truncate("hi", 6), "hi");
    }
}
