//! Source records the agents read: case-timeline entries, remote-session
//! log lines and escalation notes, one JSON object per line:
//!
//! ```text
//! {"id":"SL-0091","time":"2026-11-17T09:17:03Z","actor":"session tooling","kind":"render","text":"…"}
//! ```
//!
//! `time` is UTC in RFC 3339 form with a `Z` (`YYYY-MM-DDTHH:MM[:SS[.fff]]Z`),
//! so records order by their text. Ids are unique across all files read.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// One source record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceRecord {
    pub id: String,
    /// UTC, `YYYY-MM-DDTHH:MM[:SS[.fff]]Z`.
    pub time: String,
    pub actor: String,
    pub kind: String,
    pub text: String,
}

impl SourceRecord {
    /// `YYYY-MM-DD`.
    pub fn date(&self) -> &str {
        &self.time[..10]
    }

    /// `HH:MM`.
    pub fn clock(&self) -> &str {
        &self.time[11..16]
    }

    /// The order of records: time, then id.
    pub fn sort_key(&self) -> (String, &str) {
        (time_key(&self.time), &self.id)
    }
}

/// Why a source file cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("cannot read {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{origin}:{line}: {message}")]
    Record { origin: String, line: usize, message: String },
    #[error("{origin}:{line}: record id {id} is also in {first}")]
    DuplicateId { origin: String, line: usize, id: String, first: String },
}

/// Longest accepted field, in chars (a source line is a record, not a document).
const MAX_FIELD_CHARS: usize = 2_000;

/// Whether `time` is `YYYY-MM-DDTHH:MM[:SS[.fff]]Z`.
pub fn valid_time(time: &str) -> bool {
    let b = time.as_bytes();
    let digits = |r: std::ops::Range<usize>| b.get(r).is_some_and(|s| s.iter().all(u8::is_ascii_digit));
    if b.len() < 17 || !digits(0..4) || b[4] != b'-' || !digits(5..7) || b[7] != b'-' || !digits(8..10) {
        return false;
    }
    if b[10] != b'T' || !digits(11..13) || b[13] != b':' || !digits(14..16) || b.last() != Some(&b'Z') {
        return false;
    }
    let rest = &time[16..time.len() - 1];
    let seconds_ok = match rest.strip_prefix(':') {
        None => rest.is_empty(),
        Some(s) => {
            let (whole, frac) = s.split_once('.').unwrap_or((s, "0"));
            whole.len() == 2
                && whole.bytes().all(|c| c.is_ascii_digit())
                && !frac.is_empty()
                && frac.bytes().all(|c| c.is_ascii_digit())
        }
    };
    let num = |r: std::ops::Range<usize>| time[r].parse::<u32>().unwrap_or(99);
    seconds_ok
        && (1..=12).contains(&num(5..7))
        && (1..=31).contains(&num(8..10))
        && num(11..13) < 24
        && num(14..16) < 60
}

/// A key that orders valid times: `YYYY-MM-DDTHH:MM:SS.fffffffff`.
pub fn time_key(time: &str) -> String {
    let body = time.trim_end_matches('Z');
    let (minute, rest) = body.split_at(body.len().min(16));
    let rest = rest.strip_prefix(':').unwrap_or("00");
    let (seconds, frac) = rest.split_once('.').unwrap_or((rest, ""));
    let seconds = if seconds.is_empty() { "00" } else { seconds };
    format!("{minute}:{seconds}.{frac:0<9}")
}

/// Parses one file's text; `origin` names it in errors. Blank lines and
/// lines starting with `#` or `//` are skipped.
pub fn parse(origin: &str, text: &str) -> Result<Vec<SourceRecord>, SourceError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with("//") {
            continue;
        }
        let err = |message: String| SourceError::Record { origin: origin.to_string(), line: line_no, message };
        let record: SourceRecord =
            serde_json::from_str(trimmed).map_err(|e| err(format!("not a source record: {e}")))?;
        if record.id.trim().is_empty() || record.id.chars().any(|c| c.is_whitespace() || c == ',' || c == ']') {
            return Err(err(format!("id {:?} must be non-empty without spaces, commas or `]`", record.id)));
        }
        if !valid_time(&record.time) {
            return Err(err(format!("time {:?} is not UTC `YYYY-MM-DDTHH:MM[:SS]Z`", record.time)));
        }
        if record.text.trim().is_empty() {
            return Err(err(format!("record {} has no text", record.id)));
        }
        for (name, value) in [("actor", &record.actor), ("kind", &record.kind), ("text", &record.text)] {
            if value.chars().count() > MAX_FIELD_CHARS {
                return Err(err(format!("{name} of {} is longer than {MAX_FIELD_CHARS} chars", record.id)));
            }
        }
        out.push(SourceRecord { text: one_line(&record.text), ..record });
    }
    Ok(out)
}

/// Collapses whitespace so a record is one paragraph of a section.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Records from several files, sorted by time then id; ids must be unique.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sources {
    pub records: Vec<SourceRecord>,
    /// The file each record came from (same order as `records`).
    pub origins: Vec<String>,
}

impl Sources {
    /// Merges parsed files (`(origin, records)`), checking ids are unique.
    pub fn merge(files: Vec<(String, Vec<SourceRecord>)>) -> Result<Sources, SourceError> {
        let mut seen: std::collections::BTreeMap<String, String> = Default::default();
        let mut all = Vec::new();
        for (origin, records) in files {
            for (i, r) in records.into_iter().enumerate() {
                if let Some(first) = seen.get(&r.id) {
                    return Err(SourceError::DuplicateId {
                        origin: origin.clone(),
                        line: i + 1,
                        id: r.id,
                        first: first.clone(),
                    });
                }
                seen.insert(r.id.clone(), origin.clone());
                all.push((r, origin.clone()));
            }
        }
        all.sort_by(|(a, _), (b, _)| a.sort_key().cmp(&b.sort_key()));
        let (records, origins) = all.into_iter().unzip();
        Ok(Sources { records, origins })
    }

    /// Reads and merges files from disk.
    pub fn load(paths: &[PathBuf]) -> Result<Sources, SourceError> {
        let mut files = Vec::new();
        for path in paths {
            let text = std::fs::read_to_string(path)
                .map_err(|source| SourceError::Io { path: path.display().to_string(), source })?;
            files.push((file_name(path), parse(&path.display().to_string(), &text)?));
        }
        Sources::merge(files)
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Every record id.
    pub fn ids(&self) -> BTreeSet<&str> {
        self.records.iter().map(|r| r.id.as_str()).collect()
    }

    /// The file names read, sorted and deduplicated (for messages).
    pub fn file_names(&self) -> Vec<String> {
        let set: BTreeSet<&String> = self.origins.iter().collect();
        set.into_iter().cloned().collect()
    }
}

/// The file name without directories (what messages show).
pub fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: &str, time: &str) -> String {
        format!(r#"{{"id":"{id}","time":"{time}","actor":"a","kind":"k","text":"t  of\n{id}"}}"#)
    }

    #[test]
    fn parses_records_and_skips_blank_and_comment_lines() {
        let text = format!(
            "# a comment\n\n{}\n// another\n{}\n",
            rec("TL-1", "2026-11-17T09:02:00Z"),
            rec("TL-2", "2026-11-17T09:03Z")
        );
        let records = parse("t.jsonl", &text).expect("parses");
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].text, "t of TL-1", "whitespace collapsed to one paragraph");
        assert_eq!(records[1].clock(), "09:03");
        assert_eq!(records[1].date(), "2026-11-17");
    }

    #[test]
    fn rejects_bad_lines_with_the_line_number() {
        let bad = [
            "not json",
            r#"{"id":"X","time":"2026-11-17 09:02","actor":"a","kind":"k","text":"t"}"#,
            r#"{"id":"a b","time":"2026-11-17T09:02Z","actor":"a","kind":"k","text":"t"}"#,
            r#"{"id":"X","time":"2026-11-17T09:02Z","actor":"a","kind":"k","text":"  "}"#,
            r#"{"id":"X","time":"2026-11-17T09:02Z","actor":"a","kind":"k"}"#,
        ];
        for line in bad {
            let text = format!("{}\n{line}\n", rec("OK-1", "2026-11-17T09:00Z"));
            let err = parse("f.jsonl", &text).expect_err(line).to_string();
            assert!(err.starts_with("f.jsonl:2: "), "{err}");
        }
    }

    #[test]
    fn times_are_checked() {
        for ok in ["2026-11-17T09:02Z", "2026-11-17T09:02:59Z", "2026-11-17T23:59:59.125Z"] {
            assert!(valid_time(ok), "{ok}");
        }
        for bad in [
            "2026-11-17T24:00Z",
            "2026-13-17T09:02Z",
            "2026-11-17T09:02",
            "2026-11-17T09:02+01:00",
            "2026-11-17T09:02:5Z",
            "20261117T0902Z",
            "",
        ] {
            assert!(!valid_time(bad), "{bad}");
        }
    }

    #[test]
    fn merge_sorts_by_time_then_id_and_refuses_duplicate_ids() {
        let a =
            parse("a", &format!("{}\n{}", rec("B", "2026-11-17T09:05Z"), rec("A", "2026-11-17T09:05Z"))).expect("a");
        let b = parse("b", &rec("C", "2026-11-17T09:01:00Z")).expect("b");
        let s = Sources::merge(vec![("a".into(), a.clone()), ("b".into(), b)]).expect("merges");
        let ids: Vec<&str> = s.records.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["C", "A", "B"]);
        assert_eq!(s.origins, ["b", "a", "a"]);
        assert!(time_key("2026-11-17T09:05Z") < time_key("2026-11-17T09:05:30Z"));
        assert!(time_key("2026-11-17T09:05:00Z") < time_key("2026-11-17T09:05:00.5Z"));
        assert_eq!(time_key("2026-11-17T09:05Z"), time_key("2026-11-17T09:05:00.000Z"));
        let err = Sources::merge(vec![("a".into(), a.clone()), ("again".into(), a)]).expect_err("duplicate");
        assert!(err.to_string().contains("record id B is also in a"), "{err}");
    }

    #[cfg(feature = "demo")]
    #[test]
    fn the_demo_sources_parse() {
        for (name, text) in crate::demo::SOURCE_FILES {
            let records = parse(name, text).unwrap_or_else(|e| panic!("{e}"));
            assert!(!records.is_empty(), "{name}");
        }
    }
}
