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

pub use trustroom_shared::source::SourceRecord;

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

/// Parses one file's text (the room's rules: `trustroom_shared::source::parse_lines`);
/// `origin` names it in errors and is the records' origin when they name none.
pub fn parse(origin: &str, text: &str) -> Result<Vec<SourceRecord>, SourceError> {
    let stem = Path::new(origin).file_stem().map_or_else(|| origin.to_string(), |s| s.to_string_lossy().into_owned());
    trustroom_shared::source::parse_lines(&stem, text).map_err(|(line, message)| SourceError::Record {
        origin: origin.to_string(),
        line,
        message,
    })
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
    use trustroom_shared::source::{time_key, valid_time};

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
