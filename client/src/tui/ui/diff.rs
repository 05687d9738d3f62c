//! The diff screen: unified or side by side, with word-level emphasis.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use super::chrome::{pane_block, put_line, truncate};
use crate::tui::diffing::{DiffRow, Seg, side_by_side};
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
    let bottom = Line::from(Span::styled(
        " s layout · p section/packet · l last looked · e last release · b revisions [ ] { } · Esc close ",
        t.dim(),
    ));
    let block = pane_block(t, Line::from(title), true).title_bottom(bottom);
    let inner = block.inner(area);
    block.render(area, buf);
    match d.layout {
        DiffLayout::Unified => {
            for (y, row) in d.result.rows.iter().skip(d.scroll).take(inner.height as usize).enumerate() {
                put_line(buf, inner, y as u16, &unified_line(t, row, inner.width as usize));
            }
        }
        DiffLayout::SideBySide => {
            let half = inner.width / 2;
            let left = Rect::new(inner.x, inner.y, half, inner.height);
            let right = Rect::new(inner.x + half + 1, inner.y, inner.width.saturating_sub(half + 1), inner.height);
            let pairs = side_by_side(&d.result.rows);
            for (y, (l, r)) in pairs.iter().skip(d.scroll).take(inner.height as usize).enumerate() {
                let y = y as u16;
                if let Some(row @ (DiffRow::Title(s) | DiffRow::Hunk(s) | DiffRow::Note(s))) = l {
                    // Shared rows span both halves.
                    let style = if matches!(row, DiffRow::Title(_)) { t.title() } else { t.diff_hunk() };
                    put_line(buf, inner, y, &Line::from(Span::styled(truncate(s, inner.width as usize), style)));
                    continue;
                }
                if let Some(row) = l {
                    put_line(buf, left, y, &half_line(t, row, true, left.width as usize));
                }
                if let Some(row) = r {
                    put_line(buf, right, y, &half_line(t, row, false, right.width as usize));
                }
                buf.set_string(inner.x + half, inner.y + y, t.sym.bar, t.border());
            }
        }
    }
}

fn segs<'a>(_t: &Theme, segs: &[Seg], base: Style, emph: Style) -> Vec<Span<'a>> {
    segs.iter().map(|s| Span::styled(s.text.clone(), if s.emph { emph } else { base })).collect()
}

fn unified_line<'a>(t: &Theme, row: &DiffRow, width: usize) -> Line<'a> {
    match row {
        DiffRow::Title(s) => Line::from(Span::styled(format!("§ {}", truncate(s, width.saturating_sub(2))), t.title())),
        DiffRow::Hunk(s) => Line::from(Span::styled(s.clone(), t.diff_hunk())),
        DiffRow::Note(s) => Line::from(Span::styled(s.clone(), t.dim())),
        DiffRow::Equal { old, new, text } => {
            Line::from(vec![Span::styled(format!("{old:>4} {new:>4}   "), t.dim()), Span::raw(text.clone())])
        }
        DiffRow::Delete { old, segs: s } => {
            let mut v = vec![Span::styled(format!("{old:>4}      - "), t.diff_delete())];
            v.extend(segs(t, s, t.diff_delete(), t.diff_delete_emph()));
            Line::from(v)
        }
        DiffRow::Insert { new, segs: s } => {
            let mut v = vec![Span::styled(format!("     {new:>4} + "), t.diff_insert())];
            v.extend(segs(t, s, t.diff_insert(), t.diff_insert_emph()));
            Line::from(v)
        }
    }
}

fn half_line<'a>(t: &Theme, row: &DiffRow, left: bool, width: usize) -> Line<'a> {
    match row {
        DiffRow::Equal { old, new, text } => {
            let n = if left { old } else { new };
            Line::from(vec![Span::styled(format!("{n:>4} "), t.dim()), Span::raw(text.clone())])
        }
        DiffRow::Delete { old, segs: s } => {
            let mut v = vec![Span::styled(format!("{old:>4}-"), t.diff_delete())];
            v.extend(segs(t, s, t.diff_delete(), t.diff_delete_emph()));
            Line::from(v)
        }
        DiffRow::Insert { new, segs: s } => {
            let mut v = vec![Span::styled(format!("{new:>4}+"), t.diff_insert())];
            v.extend(segs(t, s, t.diff_insert(), t.diff_insert_emph()));
            Line::from(v)
        }
        DiffRow::Title(s) | DiffRow::Hunk(s) | DiffRow::Note(s) => {
            Line::from(Span::styled(truncate(s, width), t.dim()))
        }
    }
}
