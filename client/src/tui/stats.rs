//! The stats screen's state: the room's working metrics (the server's
//! `stats` answer) and the chronology timeline, read from the chronology
//! section's entries (`[verified: ID] HH:MM text`).

use crossterm::event::{KeyCode, KeyEvent};
use serde_json::Value;
use trustroom_shared::protocol::Request;
use trustroom_shared::room::RoomState;
use trustroom_shared::statement::{StatementLabel, statements};
use trustroom_shared::stats::RoomStats;

use super::app::{App, Level, Pending};

/// The stats screen.
#[derive(Clone, Debug, Default)]
pub struct StatsView {
    /// The newest figures from the server, when they arrived.
    pub stats: Option<RoomStats>,
    /// Why the figures could not be read.
    pub error: Option<String>,
    /// Room revision the figures were asked for.
    pub asked_at: u64,
}

/// One entry of the chronology timeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimelineEntry {
    /// `YYYY-MM-DD` when the entry names a day, else empty.
    pub date: String,
    /// `HH:MM`.
    pub clock: String,
    /// Evidence ids of the entry (empty for unlabelled ones).
    pub evidence: Vec<String>,
    pub text: String,
    /// The entry is not `verified`.
    pub unverified: bool,
}

/// The chronology section's timed entries, in section order.
pub fn timeline(state: &RoomState) -> Vec<TimelineEntry> {
    let Some(section) = state.sections.iter().find(|s| s.title.trim().to_lowercase().starts_with("chronology")) else {
        return Vec::new();
    };
    statements(&section.body)
        .into_iter()
        .filter(|s| s.label != StatementLabel::Heading)
        .filter_map(|s| {
            let (date, clock, rest) = leading_time(&s.text)?;
            let (evidence, unverified) = match &s.label {
                StatementLabel::Verified { evidence } => (evidence.clone(), evidence.is_empty()),
                _ => (Vec::new(), true),
            };
            Some(TimelineEntry { date, clock, evidence, text: rest.trim().to_string(), unverified })
        })
        .collect()
}

/// `(date, HH:MM, rest)` from `YYYY-MM-DD HH:MM rest` or `HH:MM rest`.
fn leading_time(text: &str) -> Option<(String, String, &str)> {
    let clock_at = |s: &str| {
        let b = s.as_bytes();
        b.len() >= 5 && b[..2].iter().all(u8::is_ascii_digit) && b[2] == b':' && b[3..5].iter().all(u8::is_ascii_digit)
    };
    let b = text.as_bytes();
    if b.len() >= 16
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b' '
        && clock_at(&text[11..])
    {
        return Some((text[..10].to_string(), text[11..16].to_string(), &text[16..]));
    }
    clock_at(text).then(|| (String::new(), text[..5].to_string(), &text[5..]))
}

/// Minutes since midnight of the first day, for placing entries on an axis.
/// Undated entries are on the incident day; each other date seen is a day
/// later than the one before.
pub fn minutes(entries: &[TimelineEntry]) -> Vec<u32> {
    let base = u32::from(entries.iter().any(|e| e.date.is_empty()));
    let mut days: Vec<&str> = Vec::new();
    entries
        .iter()
        .map(|e| {
            if !e.date.is_empty() && !days.contains(&e.date.as_str()) {
                days.push(&e.date);
            }
            let day =
                if e.date.is_empty() { 0 } else { base + days.iter().position(|d| *d == e.date).unwrap_or(0) as u32 };
            let h: u32 = e.clock[..2].parse().unwrap_or(0);
            let m: u32 = e.clock[3..5].parse().unwrap_or(0);
            day * 24 * 60 + h * 60 + m
        })
        .collect()
}

impl App {
    /// Opens the stats screen and asks the server for the figures.
    pub fn open_stats(&mut self) {
        let Some(state) = &self.state else { return };
        let asked_at = state.revision;
        self.stats = Some(StatsView { asked_at, ..StatsView::default() });
        self.ask_stats();
    }

    fn ask_stats(&mut self) {
        if let Some(room) = self.room {
            self.send(Request::Stats { room }, Pending::Stats);
        }
    }

    /// The server's figures arrived.
    pub fn on_stats(&mut self, v: Value) {
        let Some(view) = &mut self.stats else { return };
        match serde_json::from_value::<RoomStats>(v) {
            Ok(s) => {
                view.stats = Some(s);
                view.error = None;
            }
            Err(e) => view.error = Some(format!("unreadable figures: {e}")),
        }
    }

    /// Keys on the stats screen.
    pub fn stats_key(&mut self, key: KeyEvent) {
        match key.code {
            KeyCode::Esc | KeyCode::Char('q' | 'm') => self.stats = None,
            KeyCode::Char('r') => {
                if let Some(v) = &mut self.stats {
                    v.asked_at = self.state.as_ref().map_or(0, |s| s.revision);
                }
                self.ask_stats();
                self.notify(Level::Info, "refreshing the figures");
            }
            KeyCode::Char('?') => self.run_action(super::actions::Action::Help),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trustroom_shared::room::Section;
    use trustroom_shared::{RoomId, SectionId};
    use uuid::Uuid;

    #[test]
    fn timeline_reads_the_chronology_entries() {
        let mut s = RoomState::new(RoomId(Uuid::from_u128(1)), "R".into(), 0);
        s.sections.push(Section::new(
            SectionId(Uuid::from_u128(2)),
            "Chronology (UTC)".into(),
            "# Chronology\n\n[verified: TL-1, SL-2] 09:02 Opened.\n\nNo time here.\n\n10:05 Unlabelled.\n\n[verified: EN-5] 2026-11-18 08:30 Next day.".into(),
            1,
        ));
        let t = timeline(&s);
        assert_eq!(t.len(), 3);
        assert_eq!((t[0].clock.as_str(), t[0].evidence.len(), t[0].text.as_str()), ("09:02", 2, "Opened."));
        assert!(t[1].unverified);
        assert_eq!(t[2].date, "2026-11-18");
        assert_eq!(minutes(&t), [9 * 60 + 2, 10 * 60 + 5, 24 * 60 + 8 * 60 + 30]);
    }
}
