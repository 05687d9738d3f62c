//! The chronology agent's rules (pure): which source records the
//! chronology section lacks, and the entries that add them in time order.
//!
//! - An entry is a statement `[verified: ID] HH:MM text` (or
//!   `[verified: ID] YYYY-MM-DD HH:MM text` when the record is not on the
//!   incident day, the day of the earliest source record).
//! - A record is *covered* when its id is cited anywhere in the section
//!   (any label), or the agent already proposed it in a suggestion that is
//!   open, accepted or rejected (a rejection is a human decision: it is not
//!   proposed again). Records of kind `comment` or `note` are discussion,
//!   not events: never proposed.
//! - Missing records are grouped by the gap between two timed entries they
//!   fall into; each gap becomes one suggestion that inserts its records,
//!   in time order, right after the entry before the gap (or before the
//!   first entry). Different gaps insert at different places, so accepting
//!   them in any order keeps the section in time order.
//! - Existing entries are ordered by their leading time (minutes); a record
//!   in the same minute as an entry goes after it.
//! - A record whose entry the room's boundary rules would flag (it reads
//!   like disclosure advice, customer communication, a privilege change or
//!   a remediation command) is held back and proposed **alone**, once the
//!   agent has no other open suggestion on the section: the human can
//!   reject it without rejecting its neighbours, and it lands at its own
//!   place in time order.

use std::collections::BTreeSet;

use trustroom_shared::ot::TextOp;
use trustroom_shared::statement::{StatementLabel, statements};
use trustroom_shared::timeline;

use super::sources::{SourceRecord, Sources};

/// Record kinds that are never chronology entries.
pub const NOT_EVENTS: [&str; 2] = ["comment", "note"];

pub use trustroom_shared::timeline::is_chronology_title;

/// The incident day: the date of the earliest record.
pub fn incident_day(sources: &Sources) -> Option<&str> {
    sources.records.first().map(SourceRecord::date)
}

/// The section line for `record`.
pub fn entry_text(record: &SourceRecord, day: &str) -> String {
    if record.date() == day {
        format!("[verified: {}] {} {}", record.id, record.clock(), record.text)
    } else {
        format!("[verified: {}] {} {} {}", record.id, record.date(), record.clock(), record.text)
    }
}

/// Every evidence id cited in `body`.
pub fn cited_ids(body: &str) -> BTreeSet<String> {
    statements(body)
        .into_iter()
        .filter_map(|s| match s.label {
            StatementLabel::Verified { evidence } => Some(evidence),
            _ => None,
        })
        .flatten()
        .collect()
}

/// A timed entry of the section: `(date, HH:MM)` and where its paragraph is.
#[derive(Clone, Debug, PartialEq, Eq)]
struct TimedEntry {
    key: (String, String),
    start: usize,
    end: usize,
}

/// `(date, HH:MM)` at the start of `text`; an undated entry is on `day`.
fn leading_time(text: &str, day: &str) -> Option<(String, String)> {
    let t = timeline::leading_time(text.trim_start())?;
    Some((t.date.unwrap_or(day).to_string(), t.clock.to_string()))
}

fn timed_entries(body: &str, day: &str) -> Vec<TimedEntry> {
    statements(body)
        .into_iter()
        .filter(|s| s.label != StatementLabel::Heading)
        .filter_map(|s| leading_time(&s.text, day).map(|key| TimedEntry { key, start: s.start, end: s.start + s.len }))
        .collect()
}

/// One suggestion's worth of entries: inserted at `at` (a char offset in
/// the body it was computed against).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Insertion {
    pub at: usize,
    pub text: String,
    /// The records it adds, in time order.
    pub records: Vec<String>,
}

impl Insertion {
    /// The operation inserting this into a body of `len` chars.
    pub fn op(&self, len: usize) -> TextOp {
        let mut op = TextOp::new();
        op.retain(self.at).insert(&self.text).retain(len - self.at);
        op
    }
}

/// The records the chronology lacks: events not cited in `body` and not in `proposed`.
pub fn missing<'a>(body: &str, sources: &'a Sources, proposed: &BTreeSet<String>) -> Vec<&'a SourceRecord> {
    let cited = cited_ids(body);
    sources
        .records
        .iter()
        .filter(|r| !NOT_EVENTS.contains(&r.kind.as_str()))
        .filter(|r| !cited.contains(&r.id) && !proposed.contains(&r.id))
        .collect()
}

/// The insertions that add the missing records, one per gap, in body
/// order. `flagged` tells which entries the boundary rules would flag;
/// `busy` is true while the agent has an open suggestion on the section.
pub fn plan(
    body: &str,
    sources: &Sources,
    proposed: &BTreeSet<String>,
    flagged: &dyn Fn(&str) -> bool,
    busy: bool,
) -> Vec<Insertion> {
    let Some(day) = incident_day(sources) else { return Vec::new() };
    let (held, missing): (Vec<&SourceRecord>, Vec<&SourceRecord>) =
        missing(body, sources, proposed).into_iter().partition(|r| flagged(&entry_text(r, day)));
    let missing = match (missing.is_empty(), held.first()) {
        (false, _) => missing,
        (true, Some(first)) if !busy => vec![*first],
        (true, _) => return Vec::new(),
    };
    let entries = timed_entries(body, day);
    // Gap g holds records after entry g-1 and before entry g (entries in
    // body order; a record goes after the last entry not later than it).
    let mut gaps: Vec<Vec<&SourceRecord>> = vec![Vec::new(); entries.len() + 1];
    for r in missing {
        let key = (r.date().to_string(), r.clock().to_string());
        let after = entries.iter().rposition(|e| e.key <= key).map_or(0, |i| i + 1);
        gaps[after].push(r);
    }
    let body_len = body.chars().count();
    let mut out = Vec::new();
    for (g, records) in gaps.into_iter().enumerate() {
        if records.is_empty() {
            continue;
        }
        let lines: Vec<String> = records.iter().map(|r| entry_text(r, day)).collect();
        let joined = lines.join("\n\n");
        let (at, text) = if g > 0 {
            (entries[g - 1].end, format!("\n\n{joined}"))
        } else if let Some(first) = entries.first() {
            (first.start, format!("{joined}\n\n"))
        } else {
            let trailing = body.chars().rev().take_while(|c| *c == '\n').count().min(2);
            let sep = if body.trim().is_empty() { String::new() } else { "\n".repeat(2 - trailing) };
            (body_len, format!("{sep}{joined}"))
        };
        out.push(Insertion { at, text, records: records.iter().map(|r| r.id.clone()).collect() });
    }
    out
}

/// The rationale of a suggestion adding `records`.
pub fn rationale(records: &[String], sources: &Sources) -> String {
    let day = incident_day(sources).unwrap_or_default();
    let listed: Vec<String> = records
        .iter()
        .filter_map(|id| sources.records.iter().position(|r| &r.id == id))
        .map(|i| {
            let r = &sources.records[i];
            let when = if r.date() == day { r.clock().to_string() } else { format!("{} {}", r.date(), r.clock()) };
            format!("{} {when} ({})", r.id, sources.origins[i])
        })
        .collect();
    let noun = if records.len() == 1 { "record" } else { "records" };
    format!(
        "Chronology refresh: {} source {noun} not yet in the chronology, in time order: {}.",
        records.len(),
        listed.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::sources::parse;

    fn sources(lines: &[(&str, &str, &str)]) -> Sources {
        let text: Vec<String> = lines
            .iter()
            .map(|(id, time, kind)| {
                format!(r#"{{"id":"{id}","time":"{time}","actor":"a","kind":"{kind}","text":"Event {id}."}}"#)
            })
            .collect();
        Sources::merge(vec![("log.jsonl".into(), parse("log.jsonl", &text.join("\n")).expect("parses"))])
            .expect("merges")
    }

    const BODY: &str = "# Chronology (UTC)\n\n[verified: A] 09:02 Opened.\n\n[verified: B, C] 09:14 Started.\n\n[verified: D] 09:28 Ended.";

    fn apply(body: &str, plan: &[Insertion]) -> String {
        // Apply in reverse body order so earlier offsets stay valid.
        let mut out = body.to_string();
        for ins in plan.iter().rev() {
            out = ins.op(out.chars().count()).apply(&out).expect("applies");
        }
        out
    }

    #[test]
    fn inserts_missing_records_into_their_gaps_in_time_order() {
        let s = sources(&[
            ("A", "2026-11-17T09:02:00Z", "case"),
            ("C", "2026-11-17T09:14:10Z", "session"),
            ("E", "2026-11-17T09:20:00Z", "render"),
            ("F", "2026-11-17T09:15:00Z", "render"),
            ("G", "2026-11-17T09:01:00Z", "case"),
            ("H", "2026-11-17T09:28:00Z", "case"),
            ("I", "2026-11-18T08:30:00Z", "review"),
            ("J", "2026-11-17T09:21:00Z", "comment"),
        ]);
        let plan = plan(BODY, &s, &BTreeSet::new(), &|_| false, false);
        let records: Vec<Vec<String>> = plan.iter().map(|i| i.records.clone()).collect();
        assert_eq!(
            records,
            [vec!["G"], vec!["F", "E"], vec!["H", "I"]].map(|v| v.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        );
        assert_eq!(
            apply(BODY, &plan),
            "# Chronology (UTC)\n\n[verified: G] 09:01 Event G.\n\n[verified: A] 09:02 Opened.\n\n\
             [verified: B, C] 09:14 Started.\n\n[verified: F] 09:15 Event F.\n\n[verified: E] 09:20 Event E.\n\n\
             [verified: D] 09:28 Ended.\n\n[verified: H] 09:28 Event H.\n\n[verified: I] 2026-11-18 08:30 Event I."
        );
    }

    #[test]
    fn gaps_apply_in_any_order_after_rebasing() {
        let s = sources(&[
            ("A", "2026-11-17T09:02Z", "x"),
            ("E", "2026-11-17T09:20Z", "x"),
            ("Z", "2026-11-17T11:00Z", "x"),
        ]);
        let plan = plan(BODY, &s, &BTreeSet::new(), &|_| false, false);
        assert_eq!(plan.len(), 2);
        let len = BODY.chars().count();
        let (first, second) = (plan[0].op(len), plan[1].op(len));
        // Accept the later gap first, then the earlier one rebased over it.
        let after_second = second.apply(BODY).expect("second");
        let rebased = trustroom_shared::ot::transform_server(&first, &second).expect("transforms");
        assert_eq!(rebased.apply(&after_second).expect("rebased"), apply(BODY, &plan));
    }

    #[test]
    fn covered_and_proposed_records_are_not_proposed_again() {
        let s = sources(&[
            ("A", "2026-11-17T09:02Z", "x"),
            ("B", "2026-11-17T09:14Z", "x"),
            ("E", "2026-11-17T09:20Z", "x"),
        ]);
        assert_eq!(plan(BODY, &s, &BTreeSet::new(), &|_| false, false).len(), 1);
        assert!(plan(BODY, &s, &BTreeSet::from(["E".to_string()]), &|_| false, false).is_empty());
        let done = apply(BODY, &plan(BODY, &s, &BTreeSet::new(), &|_| false, false));
        assert!(plan(&done, &s, &BTreeSet::new(), &|_| false, false).is_empty(), "idempotent once applied");
    }

    #[test]
    fn an_empty_or_untimed_section_gets_everything_appended() {
        let s = sources(&[("B", "2026-11-17T09:14Z", "x"), ("A", "2026-11-17T09:02Z", "x")]);
        for (body, expected) in [
            ("", "[verified: A] 09:02 Event A.\n\n[verified: B] 09:14 Event B."),
            ("# Chronology\n", "# Chronology\n\n[verified: A] 09:02 Event A.\n\n[verified: B] 09:14 Event B."),
            ("# Chronology", "# Chronology\n\n[verified: A] 09:02 Event A.\n\n[verified: B] 09:14 Event B."),
        ] {
            assert_eq!(apply(body, &plan(body, &s, &BTreeSet::new(), &|_| false, false)), expected, "{body:?}");
        }
    }

    #[test]
    fn flagged_records_wait_and_come_alone() {
        let s = sources(&[
            ("E", "2026-11-17T09:20Z", "x"),
            ("F", "2026-11-17T09:21Z", "x"),
            ("G", "2026-11-17T09:22Z", "x"),
        ]);
        let flag = |text: &str| text.contains("Event F.");
        let first = plan(BODY, &s, &BTreeSet::new(), &flag, false);
        assert_eq!(
            first.iter().map(|i| i.records.clone()).collect::<Vec<_>>(),
            [vec!["E".to_string(), "G".to_string()]]
        );
        let after = apply(BODY, &first);
        assert!(plan(&after, &s, &BTreeSet::new(), &flag, true).is_empty(), "not while another suggestion is open");
        let alone = plan(&after, &s, &BTreeSet::new(), &flag, false);
        assert_eq!(alone.iter().map(|i| i.records.clone()).collect::<Vec<_>>(), [vec!["F".to_string()]]);
        assert!(
            apply(&after, &alone).contains("09:20 Event E.\n\n[verified: F] 09:21 Event F.\n\n[verified: G] 09:22"),
            "in time order"
        );
    }

    #[test]
    fn rationale_names_records_times_and_files() {
        let s = sources(&[("A", "2026-11-17T09:02Z", "x"), ("I", "2026-11-18T08:30Z", "x")]);
        assert_eq!(
            rationale(&["A".into(), "I".into()], &s),
            "Chronology refresh: 2 source records not yet in the chronology, in time order: \
             A 09:02 (log.jsonl), I 2026-11-18 08:30 (log.jsonl)."
        );
    }

    #[test]
    fn chronology_titles() {
        assert!(is_chronology_title("Chronology (UTC)"));
        assert!(is_chronology_title(" chronology"));
        assert!(!is_chronology_title("Summary"));
    }
}
