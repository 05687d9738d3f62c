//! The chronology timeline: the chronology section's timed entries
//! (`[verified: ID] HH:MM text`, or `[verified: ID] YYYY-MM-DD HH:MM text`
//! for an entry not on the incident day). The TUI's stats screen draws
//! them; the chronology agent orders its insertions by them.

use crate::room::{RoomState, Section};
use crate::statement::{StatementLabel, statements};

/// Whether a section title is the chronology's (`Chronology`, `Chronology (UTC)`, …).
pub fn is_chronology_title(title: &str) -> bool {
    title.trim().to_lowercase().starts_with("chronology")
}

/// The room's chronology section, if it has one.
pub fn chronology_section(state: &RoomState) -> Option<&Section> {
    state.sections.iter().find(|s| is_chronology_title(&s.title))
}

/// The time an entry starts with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeadingTime<'a> {
    /// `YYYY-MM-DD` when the entry names a day.
    pub date: Option<&'a str>,
    /// `HH:MM`.
    pub clock: &'a str,
    /// The text after the time.
    pub rest: &'a str,
}

/// `YYYY-MM-DD HH:MM rest` or `HH:MM rest` at the very start of `text`.
pub fn leading_time(text: &str) -> Option<LeadingTime<'_>> {
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
        return Some(LeadingTime { date: Some(&text[..10]), clock: &text[11..16], rest: &text[16..] });
    }
    clock_at(text).then(|| LeadingTime { date: None, clock: &text[..5], rest: &text[5..] })
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
    let Some(section) = chronology_section(state) else { return Vec::new() };
    statements(&section.body)
        .into_iter()
        .filter(|s| s.label != StatementLabel::Heading)
        .filter_map(|s| {
            let t = leading_time(&s.text)?;
            let (evidence, unverified) = match &s.label {
                StatementLabel::Verified { evidence } => (evidence.clone(), evidence.is_empty()),
                _ => (Vec::new(), true),
            };
            Some(TimelineEntry {
                date: t.date.unwrap_or_default().to_string(),
                clock: t.clock.to_string(),
                evidence,
                text: t.rest.trim().to_string(),
                unverified,
            })
        })
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{RoomId, SectionId};
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

    #[test]
    fn leading_time_takes_a_date_and_a_clock() {
        let t = leading_time("2026-11-18 08:30 Next").expect("dated");
        assert_eq!((t.date, t.clock, t.rest), (Some("2026-11-18"), "08:30", " Next"));
        let t = leading_time("09:02 x").expect("clock");
        assert_eq!((t.date, t.clock), (None, "09:02"));
        assert!(leading_time("9:02 x").is_none());
        assert!(leading_time("no time").is_none());
        assert!(is_chronology_title(" Chronology (UTC)"));
    }
}
