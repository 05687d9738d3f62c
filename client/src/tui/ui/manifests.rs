//! The release manifests (key `W`): the server key and where it came from,
//! then each release — revisions, lane and audience, who released and
//! co-signed, the hashes — and the verdict of its offline verification.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::chrome::{centered, popup, put_line, truncate, wrap};
use trustroom_shared::release_status::StatusVerdict;

use crate::tui::pane::manifests::ManifestsView;
use crate::tui::pane::{Ctx, Draw};

impl Draw for ManifestsView {
    fn draw(&self, ctx: &Ctx<'_>, area: Rect, buf: &mut Buffer) {
        let t = ctx.theme;
        // The lines are worked out for the popup's width, then its height fits them.
        let w = area.width.min(110).saturating_sub(2) as usize;
        let mut lines: Vec<Line> = Vec::new();
        let para = |lines: &mut Vec<Line>, s: &str, style| {
            for l in wrap(s, w) {
                lines.push(Line::from(Span::styled(l, style)));
            }
        };
        para(&mut lines, &format!("server key {}", self.result.public_key), t.bold());
        para(
            &mut lines,
            "The key came with this answer from the server; this client holds no copy of its own. A VERIFIED \
             line proves the manifest is signed by that key — compare the key with the one your organisation \
             published before trusting it.",
            t.dim(),
        );
        if self.result.manifests.is_empty() {
            lines.push(Line::from(""));
            para(&mut lines, "no releases yet", t.dim());
        }
        for (m, v) in self.result.manifests.iter().zip(&self.verifications) {
            let b = &m.manifest.body;
            lines.push(Line::from(""));
            let audience = b.audience.map(|a| format!(" · {a}")).unwrap_or_default();
            para(
                &mut lines,
                &format!(
                    "packet rev {} (room rev {}) → {}{audience}  {}",
                    b.revision,
                    m.event.release_revision,
                    b.lane,
                    trustroom_shared::export::utc(m.event.released_at_ms)
                ),
                t.bold(),
            );
            let co: Vec<&str> = b.cosigners.iter().map(|c| c.name.as_str()).collect();
            let who = format!(
                "  released by {}; co-signed by {}",
                b.signer.name,
                if co.is_empty() { "nobody".to_string() } else { co.join(", ") }
            );
            para(&mut lines, &who, t.text());
            para(&mut lines, &format!("  content  {}", b.content_hash), t.dim());
            para(&mut lines, &format!("  manifest {}", m.manifest.manifest_hash), t.dim());
            let style = if v.verified { t.ok() } else { t.error() };
            para(&mut lines, &format!("  {}", v.summary), style);
            // Where the release stands now (its signed status, verified here).
            if let Some((verdict, summary)) = self.status_of(&m.manifest.manifest_hash) {
                let style = match verdict {
                    StatusVerdict::Current => t.ok(),
                    StatusVerdict::Superseded => t.warn(),
                    StatusVerdict::Withdrawn | StatusVerdict::Invalid => t.error(),
                };
                para(&mut lines, &format!("  now: {summary}"), style);
            }
        }
        let h = (lines.len() as u16 + 3).min(area.height.saturating_sub(2));
        let inner =
            popup(buf, t, centered(area, 110, h), &format!("Release manifests ({})", self.result.manifests.len()));
        let body_h = inner.height.saturating_sub(1) as usize;
        let scroll = (self.scroll as usize).min(lines.len().saturating_sub(body_h));
        for (y, l) in lines.iter().skip(scroll).take(body_h).enumerate() {
            put_line(buf, inner, y as u16, l);
        }
        let hints = "j/k PgUp PgDn scroll · Esc close";
        put_line(buf, inner, inner.height.saturating_sub(1), &Line::from(Span::styled(truncate(hints, w), t.dim())));
    }
}
