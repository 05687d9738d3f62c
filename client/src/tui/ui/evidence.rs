//! Evidence (key `e`): the cited records with their state, then the
//! opened record's text with its digest and version (the keys are in
//! `pane/evidence.rs`).

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use trustroom_shared::evidence::CitationStatus;
use trustroom_shared::holds::one_line;

use super::chrome::{centered, popup, put_line, truncate, wrap};
use crate::tui::pane::evidence::{EvidenceView, SourceOpen};
use crate::tui::pane::{Ctx, Draw};

/// One citation's state for people.
pub fn status_text(status: &CitationStatus) -> String {
    match status {
        CitationStatus::Fresh { version, digest } => {
            format!("fresh · checked against v{version} · sha256:{}", digest.get(..12).unwrap_or(digest))
        }
        CitationStatus::Stale { cited_version, version, since_revision } => format!(
            "STALE EVIDENCE · cited v{cited_version}, the record is v{version} since rev {since_revision}: \
             re-confirm (c), update or relabel the statement"
        ),
        CitationStatus::Unknown => "UNKNOWN · no registered record has this id (blocks release)".into(),
        CitationStatus::Unchecked => "unchecked · the room keeps no source register".into(),
    }
}

impl Draw for EvidenceView {
    fn draw(&self, ctx: &Ctx<'_>, area: Rect, buf: &mut Buffer) {
        let t = ctx.theme;
        let list = self.list(ctx.room);
        let section = ctx.room.replica.state.as_ref().and_then(|s| s.section(self.section));
        let title = match (section, self.statement) {
            (Some(s), Some(i)) => format!("Evidence — \"{}\", statement {}", one_line(&s.title), i + 1),
            (Some(s), None) => format!("Evidence — \"{}\"", one_line(&s.title)),
            (None, _) => "Evidence".to_string(),
        };
        let inner = popup(buf, t, centered(area, 100, area.height.saturating_sub(2).max(12)), &title);
        let w = inner.width as usize;
        let mut y = 0u16;
        if list.is_empty() {
            let none = "this section cites no source records ([verified: ID] labels)";
            put_line(buf, inner, y, &Line::from(Span::styled(truncate(none, w), t.dim())));
            y += 1;
        }
        let chosen = self.selected_index(&list);
        for (i, c) in list.iter().enumerate() {
            if y + 4 >= inner.height {
                break;
            }
            let style = match (&c.status, i == chosen) {
                (_, true) => t.selected(),
                (CitationStatus::Stale { .. } | CitationStatus::Unknown, false) => t.error(),
                (CitationStatus::Fresh { .. }, false) => t.text(),
                (CitationStatus::Unchecked, false) => t.dim(),
            };
            let marker = if i == chosen { t.sym.selected } else { " " };
            let restricted = ctx
                .room
                .replica
                .state
                .as_ref()
                .and_then(|s| s.evidence.sources.get(&c.source))
                .and_then(|s| s.annex.as_deref())
                .map(|a| format!(" [restricted: {a}]"))
                .unwrap_or_default();
            let line = format!("{marker}{:<14} {}{restricted}", c.source, status_text(&c.status));
            put_line(buf, inner, y, &Line::from(Span::styled(truncate(&line, w), style)));
            y += 1;
        }
        y += 1;
        match &self.open {
            None => {}
            Some(SourceOpen::Loading(id)) => {
                put_line(buf, inner, y, &Line::from(Span::styled(format!("opening {id}…"), t.dim())));
            }
            Some(SourceOpen::Failed(id, why)) => {
                for l in wrap(&format!("{id}: {why}"), w) {
                    put_line(buf, inner, y, &Line::from(Span::styled(l, t.warn())));
                    y += 1;
                }
            }
            Some(SourceOpen::Content(c)) => {
                let restricted = c.annex.as_deref().map(|a| format!(" · restricted: annex {a}")).unwrap_or_default();
                let head = format!(
                    "{} v{} of {} · {} · {} · {} · {}{restricted}",
                    c.id,
                    c.version,
                    c.versions,
                    c.time,
                    one_line(&c.kind),
                    one_line(&c.actor),
                    one_line(&c.origin)
                );
                put_line(buf, inner, y, &Line::from(Span::styled(truncate(&head, w), t.bold())));
                y += 1;
                put_line(
                    buf,
                    inner,
                    y,
                    &Line::from(Span::styled(truncate(&format!("sha256:{}", c.digest), w), t.dim())),
                );
                y += 1;
                for l in wrap(&one_line(&c.text), w) {
                    if y + 2 >= inner.height {
                        break;
                    }
                    put_line(buf, inner, y, &Line::from(Span::styled(l, t.text())));
                    y += 1;
                }
                let logged = "this view is in the room's audit log";
                put_line(buf, inner, y, &Line::from(Span::styled(truncate(logged, w), t.dim())));
            }
        }
        if let Some(e) = &self.error {
            for (i, l) in wrap(e, w).into_iter().rev().take(2).enumerate() {
                let row = inner.height.saturating_sub(2 + i as u16);
                put_line(buf, inner, row, &Line::from(Span::styled(l, t.error())));
            }
        }
        let hints = "j/k choose · Enter open the record (audited) · c re-confirm a stale citation · Esc close";
        put_line(buf, inner, inner.height.saturating_sub(1), &Line::from(Span::styled(truncate(hints, w), t.dim())));
    }
}
