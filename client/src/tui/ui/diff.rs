//! The diff screen: unified or side by side, long lines wrapped (no change
//! past the right edge), changed words emphasised inside changed lines,
//! scrolled by screen line.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use super::chrome::{pane_block, put_line, str_width};
use crate::tui::diffing::lines::{Part, Piece, ScreenLine, halves, screen_lines};
use crate::tui::diffview::{DiffLayout, DiffView};
use crate::tui::pane::diff::DiffScreen;
use crate::tui::pane::{Ctx, Draw};
use crate::tui::theme::Theme;

impl Draw for DiffScreen {
    fn draw(&self, ctx: &Ctx<'_>, area: Rect, buf: &mut Buffer) {
        draw(ctx.theme, &self.view, area, buf);
    }
}

pub fn draw(t: &Theme, d: &DiffView, area: Rect, buf: &mut Buffer) {
    let layout = match d.layout {
        DiffLayout::Unified => "unified",
        DiffLayout::SideBySide => "side by side",
    };
    let mut title = vec![
        Span::styled(" Diff ", t.title()),
        Span::styled(format!("{} ", d.heading), t.text()),
        Span::styled(format!("· {layout} "), t.dim()),
        Span::styled(format!("+{} ", d.result.added), t.diff_insert()),
        Span::styled(format!("-{} ", d.result.removed), t.diff_delete()),
    ];
    if d.result.over_budget {
        title.push(Span::styled("(time budget hit: coarse diff) ", t.warn()));
    }
    let keys = [
        " s layout · p section/packet · l last looked · e last release · b revisions [ ] { } · j k PgUp PgDn scroll · Esc close ",
        " s layout · p packet · l e b base · [ ] { } revisions · j k scroll · Esc close ",
        " s layout · j k scroll · Esc close ",
    ];
    let inner = pane_block(t, Line::default(), true).inner(area);
    let (width, height) = (usize::from(inner.width), usize::from(inner.height));
    d.drawn_at(inner.width, inner.height);
    let split = d.layout == DiffLayout::SideBySide;
    let total = screen_lines(&d.result.rows, split, width).count();
    let top = d.scroll.min(total.saturating_sub(height));
    // Where we are, when the diff is taller than the screen.
    let at = if total > height {
        format!(" {}–{} of {total} ", top + 1, (top + height).min(total))
    } else {
        String::new()
    };
    let room = width.saturating_sub(str_width(&at) + 2);
    let keys = keys.iter().find(|k| str_width(k) <= room).copied().unwrap_or("");
    let block = pane_block(t, Line::from(title), true)
        .title_bottom(Line::from(Span::styled(keys, t.dim())))
        .title_bottom(Line::from(Span::styled(at, t.dim())).right_aligned());
    block.render(area, buf);
    let (lw, _) = halves(width);
    let half = lw as u16;
    let left = Rect::new(inner.x, inner.y, half, inner.height);
    let right = Rect::new(inner.x + half + 1, inner.y, inner.width.saturating_sub(half + 1), inner.height);
    for (y, line) in screen_lines(&d.result.rows, split, width).skip(top).take(height).enumerate() {
        let y = y as u16;
        match line {
            ScreenLine::Full(pieces) => put_line(buf, inner, y, &to_line(t, &pieces)),
            ScreenLine::Split(l, r) => {
                put_line(buf, left, y, &to_line(t, &l));
                put_line(buf, right, y, &to_line(t, &r));
                if half < inner.width {
                    buf.set_string(inner.x + half, inner.y + y, t.sym.bar, t.border());
                }
            }
        }
    }
}

/// The style a piece of a diff line is drawn in.
pub fn style_of(t: &Theme, part: Part) -> Style {
    match part {
        Part::Gutter | Part::Note => t.dim(),
        Part::DeleteGutter | Part::Delete => t.diff_delete(),
        Part::DeleteEmph => t.diff_delete_emph(),
        Part::InsertGutter | Part::Insert => t.diff_insert(),
        Part::InsertEmph => t.diff_insert_emph(),
        Part::Text => t.text(),
        Part::Hunk => t.diff_hunk(),
        Part::Title => t.title(),
    }
}

/// A screen line of a diff, styled.
pub fn to_line(t: &Theme, pieces: &[Piece]) -> Line<'static> {
    Line::from(pieces.iter().map(|(s, part)| Span::styled(s.clone(), style_of(t, *part))).collect::<Vec<_>>())
}
