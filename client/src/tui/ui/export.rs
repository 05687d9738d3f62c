//! Where the export went (key `X`): the file, its SHA-256, and what the
//! bundle holds (room and packet revision, content hash, released or not).

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::chrome::{centered, popup, put_line, wrap};
use crate::tui::pane::export::Exported;
use crate::tui::pane::{Ctx, Draw};

impl Draw for Exported {
    fn draw(&self, ctx: &Ctx<'_>, area: Rect, buf: &mut Buffer) {
        let t = ctx.theme;
        let inner = popup(buf, t, centered(area, 96, 13), "Exported");
        let w = inner.width as usize;
        let released =
            if self.released { "released: carries its signed manifest" } else { "not released: no manifest" };
        let exact = if self.exact { "" } else { " · restricted detail redacted (not exact)" };
        let rows: Vec<(String, String)> = vec![
            ("file".into(), self.path.display().to_string()),
            ("sha256".into(), self.file_hash.clone()),
            ("room rev".into(), self.revision.to_string()),
            ("packet rev".into(), self.packet_revision.to_string()),
            ("content".into(), self.content_hash.clone()),
            ("bundle".into(), format!("{released}{exact}")),
        ];
        let mut y = 0u16;
        for (k, v) in rows {
            for (i, l) in wrap(&v, w.saturating_sub(12)).into_iter().enumerate() {
                let key = if i == 0 { format!("{k:<11} ") } else { " ".repeat(12) };
                put_line(buf, inner, y, &Line::from(vec![Span::styled(key, t.dim()), Span::styled(l, t.text())]));
                y += 1;
            }
        }
        y += 1;
        let hint = "A new file each time (never over another). Verify a released bundle with `trustroom-server manifest verify`.";
        for l in wrap(hint, w) {
            put_line(buf, inner, y, &Line::from(Span::styled(l, t.dim())));
            y += 1;
        }
        put_line(buf, inner, inner.height.saturating_sub(1), &Line::from(Span::styled("any key close", t.dim())));
    }
}
