//! Source records: the evidence a packet statement cites with
//! `[verified: ID]` — case-timeline entries, session-log lines,
//! tenant-registry rows, escalation notes. A record is registered in the
//! room with the SHA-256 of its canonical form; registering the same id
//! with other content adds a new version (records are never deleted), and
//! every statement citing the id shows as stale evidence until it is
//! re-confirmed, updated or relabelled (see `evidence`).
//!
//! The wire and file form is one JSON object per record:
//!
//! ```text
//! {"id":"SL-0091","time":"2026-11-17T09:17:03Z","kind":"render","actor":"session tooling",
//!  "origin":"remote-session-log","text":"…","annex":"A1"}
//! ```
//!
//! `annex` (optional) makes the record restricted: it follows that annex's
//! rules (only its readers register or read the text; the text is never in
//! a snapshot or event, and retention purges it with the annex content).
//! Unrestricted records are free text to the ingress gate.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

use crate::canonical::{canonical_json, sha256_hex};
use crate::ids::UserId;

/// Longest id, in chars.
pub const MAX_ID_CHARS: usize = 64;
/// Longest `kind`, `actor` or `origin`, in chars.
pub const MAX_LABEL_CHARS: usize = 200;
/// Longest `text`, in chars (a record is a line, not a document).
pub const MAX_TEXT_CHARS: usize = 2_000;
/// Most records in one `add_source` request.
pub const MAX_RECORDS_PER_REQUEST: usize = 500;
/// Most distinct record ids in one room.
pub const MAX_RECORDS_PER_ROOM: usize = 10_000;
/// Most versions of one record.
pub const MAX_VERSIONS: usize = 100;

/// One source record as a member or agent sends it (and as a `.jsonl` line holds it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceRecord {
    pub id: String,
    /// UTC, `YYYY-MM-DDTHH:MM[:SS[.fff]]Z`.
    pub time: String,
    pub kind: String,
    pub text: String,
    /// Who or what wrote the entry (`sam.reyes`, `session tooling`).
    #[serde(default)]
    pub actor: String,
    /// The system or file it came from (`remote-session-log`).
    #[serde(default)]
    pub origin: String,
    /// The annex code whose rules the record follows (restricted record).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annex: Option<String>,
}

impl SourceRecord {
    /// `YYYY-MM-DD`.
    pub fn date(&self) -> &str {
        self.time.get(..10).unwrap_or("")
    }

    /// `HH:MM`.
    pub fn clock(&self) -> &str {
        self.time.get(11..16).unwrap_or("")
    }

    /// The order of records: time, then id.
    pub fn sort_key(&self) -> (String, &str) {
        (time_key(&self.time), &self.id)
    }

    /// The canonical form: text fields NFC-normalised, whitespace runs of
    /// `text` collapsed (a record is one paragraph), labels trimmed. What
    /// the room stores and the digest covers.
    pub fn canonical(&self) -> SourceRecord {
        let nfc = |s: &str| s.nfc().collect::<String>();
        SourceRecord {
            id: self.id.clone(),
            time: self.time.clone(),
            kind: nfc(self.kind.trim()),
            text: nfc(&self.text).split_whitespace().collect::<Vec<_>>().join(" "),
            actor: nfc(self.actor.trim()),
            origin: nfc(self.origin.trim()),
            annex: self.annex.clone(),
        }
    }

    /// SHA-256 (hex) of the canonical JSON of the canonical form.
    pub fn digest(&self) -> String {
        sha256_hex(&canonical_json(&self.canonical()))
    }

    /// The digest the room shows: a restricted record's is salted (like an
    /// annex's content hash), so nobody who may not read it can confirm a
    /// guess of its text against the digest; an unrestricted record's is
    /// [`Self::digest`].
    pub fn digest_with(&self, salt: Option<&str>) -> String {
        match salt {
            Some(salt) => sha256_hex(format!("{salt}\n{}", self.digest()).as_bytes()),
            None => self.digest(),
        }
    }

    /// Why the record cannot be registered, if it cannot (one line; never
    /// quotes the text).
    pub fn invalid(&self) -> Option<String> {
        if let Some(why) = invalid_id(&self.id) {
            return Some(why);
        }
        if !valid_time(&self.time) {
            return Some(format!("{}: time {:?} is not UTC `YYYY-MM-DDTHH:MM[:SS[.fff]]Z`", self.id, clip(&self.time)));
        }
        if self.kind.trim().is_empty() {
            return Some(format!("{}: kind is empty", self.id));
        }
        if self.text.trim().is_empty() {
            return Some(format!("{}: text is empty", self.id));
        }
        for (name, value, limit) in [
            ("kind", &self.kind, MAX_LABEL_CHARS),
            ("actor", &self.actor, MAX_LABEL_CHARS),
            ("origin", &self.origin, MAX_LABEL_CHARS),
            ("text", &self.text, MAX_TEXT_CHARS),
        ] {
            let n = value.chars().count();
            if n > limit {
                return Some(format!("{}: {name} has {n} characters (limit {limit})", self.id));
            }
            if value.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
                return Some(format!("{}: {name} holds control characters", self.id));
            }
        }
        None
    }
}

/// Parses a `.jsonl` file's text: one record per line; blank lines and
/// lines starting with `#` or `//` are skipped. A record without `origin`
/// gets `origin` (the file's name). Each record is checked
/// ([`SourceRecord::invalid`]) and returned in canonical form; ids must be
/// unique in the file. The error is `(line, message)`.
pub fn parse_lines(origin: &str, text: &str) -> Result<Vec<SourceRecord>, (usize, String)> {
    let mut out: Vec<SourceRecord> = Vec::new();
    let mut seen = std::collections::BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with("//") {
            continue;
        }
        let mut record: SourceRecord =
            serde_json::from_str(trimmed).map_err(|e| (line_no, format!("not a source record: {e}")))?;
        if record.origin.trim().is_empty() {
            record.origin = origin.to_string();
        }
        if let Some(why) = record.invalid() {
            return Err((line_no, why));
        }
        if let Some(first) = seen.insert(record.id.clone(), line_no) {
            return Err((line_no, format!("record id {} is also on line {first}", record.id)));
        }
        out.push(record.canonical());
    }
    Ok(out)
}

fn clip(s: &str) -> String {
    s.chars().take(40).collect()
}

/// Why `id` is not a record id: 1–64 chars of ASCII letters, digits and
/// `-_.:/#`, not starting with `annex:` (those cite annexes).
pub fn invalid_id(id: &str) -> Option<String> {
    if id.is_empty() {
        return Some("record id is empty".into());
    }
    if id.chars().count() > MAX_ID_CHARS {
        return Some(format!("record id is longer than {MAX_ID_CHARS} characters"));
    }
    if !id.chars().all(|c| c.is_ascii_alphanumeric() || "-_.:/#".contains(c)) {
        return Some(format!(
            "record id {:?} may hold only ASCII letters, digits and -_.:/# (no spaces, commas or invisible characters)",
            id.escape_debug().to_string().chars().take(80).collect::<String>()
        ));
    }
    if is_annex_citation(id) {
        return Some(format!("record id {id:?} starts with `annex:`, which cites an annex, not a record"));
    }
    None
}

/// Whether an evidence id cites an annex passage (`annex:A1`) rather than a
/// source record.
pub fn is_annex_citation(id: &str) -> bool {
    id.get(..6).is_some_and(|p| p.eq_ignore_ascii_case("annex:"))
}

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
                && frac.len() <= 9
                && frac.bytes().all(|c| c.is_ascii_digit())
        }
    };
    let num = |r: std::ops::Range<usize>| time[r].parse::<u32>().unwrap_or(99);
    seconds_ok
        && (1..=12).contains(&num(5..7))
        && (1..=31).contains(&num(8..10))
        && num(11..13) < 24
        && num(14..16) < 60
        && time.get(17..19).is_none_or(|s| s.parse::<u32>().is_ok_and(|s| s < 60) || s.ends_with('Z'))
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

/// One registered version of a record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceVersion {
    /// 1, 2, …
    pub version: u32,
    /// SHA-256 of the canonical form (salted for a restricted record:
    /// [`SourceRecord::digest_with`]).
    pub digest: String,
    /// A restricted record's salt: on the server, and in the answer to a
    /// reader of its annex (never in a snapshot or event).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub salt: Option<String>,
    pub time: String,
    pub kind: String,
    #[serde(default)]
    pub actor: String,
    #[serde(default)]
    pub origin: String,
    /// The text; absent in every view that leaves the server (read it with
    /// `view_source`, audited) and after retention purged a restricted record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Length of the text in chars (kept when the text is not).
    pub text_chars: usize,
    pub added_by: UserId,
    pub revision: u64,
    pub at_ms: i64,
}

impl SourceVersion {
    /// The version's record (text empty when not held here).
    pub fn record(&self, id: &str, annex: Option<&str>) -> SourceRecord {
        SourceRecord {
            id: id.to_string(),
            time: self.time.clone(),
            kind: self.kind.clone(),
            text: self.text.clone().unwrap_or_default(),
            actor: self.actor.clone(),
            origin: self.origin.clone(),
            annex: annex.map(str::to_string),
        }
    }
}

/// A registered record and all its versions, oldest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    pub id: String,
    /// The annex code whose rules the record follows (fixed at registration).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annex: Option<String>,
    pub versions: Vec<SourceVersion>,
}

impl Source {
    /// The newest version.
    pub fn current(&self) -> Option<&SourceVersion> {
        self.versions.last()
    }

    pub fn version(&self, version: u32) -> Option<&SourceVersion> {
        self.versions.iter().find(|v| v.version == version)
    }

    pub fn digest(&self) -> &str {
        self.current().map_or("", |v| v.digest.as_str())
    }

    /// Without any text (what leaves the server).
    pub fn redacted(&self) -> Source {
        let mut out = self.clone();
        for v in &mut out.versions {
            v.text = None;
            v.salt = None;
        }
        out
    }
}

/// What registering one record did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Registered {
    /// A new id.
    Added,
    /// A known id with other content: a new version.
    NewVersion,
    /// The same digest as the current version: nothing stored.
    Unchanged,
}

/// What registering `record` in `sources` would do, or why it is refused
/// (`Err` text for a `conflict`).
pub fn classify(sources: &BTreeMap<String, Source>, record: &SourceRecord) -> Result<Registered, String> {
    let Some(known) = sources.get(&record.id) else {
        return Ok(Registered::Added);
    };
    if known.annex != record.annex {
        return Err(format!(
            "record {} is {}; a new version must keep that (restriction is fixed when a record is first registered)",
            record.id,
            match &known.annex {
                Some(code) => format!("restricted to annex {code}"),
                None => "unrestricted".into(),
            }
        ));
    }
    let salt = known.current().and_then(|v| v.salt.as_deref());
    if known.digest() == record.digest_with(salt) {
        return Ok(Registered::Unchanged);
    }
    if known.versions.len() >= MAX_VERSIONS {
        return Err(format!("record {} already has {MAX_VERSIONS} versions", record.id));
    }
    Ok(Registered::NewVersion)
}

/// The version `record` becomes when registered; `salt` (fresh random
/// bytes from the server) is used only for a restricted record.
pub fn version_of(
    sources: &BTreeMap<String, Source>,
    record: &SourceRecord,
    salt: &str,
    added_by: UserId,
    revision: u64,
    at_ms: i64,
) -> SourceVersion {
    let c = record.canonical();
    let version = sources.get(&record.id).map_or(0, |s| s.versions.len() as u32) + 1;
    let salt = record.annex.is_some().then(|| salt.to_string());
    SourceVersion {
        version,
        digest: record.digest_with(salt.as_deref()),
        salt,
        time: c.time,
        kind: c.kind,
        actor: c.actor,
        origin: c.origin,
        text_chars: c.text.chars().count(),
        text: Some(c.text),
        added_by,
        revision,
        at_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: &str, text: &str) -> SourceRecord {
        SourceRecord {
            id: id.into(),
            time: "2026-11-17T09:17:03Z".into(),
            kind: "render".into(),
            text: text.into(),
            actor: "session tooling".into(),
            origin: "remote-session-log".into(),
            annex: None,
        }
    }

    #[test]
    fn digest_is_of_the_canonical_form() {
        let a = rec("SL-1", "Caf\u{e9}  rendered\n view");
        let b = rec("SL-1", "Cafe\u{301} rendered view");
        assert_eq!(a.digest(), b.digest(), "NFC and whitespace runs do not change the digest");
        assert_ne!(a.digest(), rec("SL-1", "Cafe rendered view").digest());
        assert_ne!(a.digest(), rec("SL-2", "Caf\u{e9} rendered view").digest());
        let mut restricted = a.clone();
        restricted.annex = Some("A1".into());
        assert_ne!(a.digest(), restricted.digest(), "the restriction is part of the record");
        // Stable bytes: the digest is pinned.
        assert_eq!(rec("SL-1", "x").digest(), rec("SL-1", " x ").digest());
        assert_eq!(rec("SL-1", "x").digest().len(), 64);
    }

    #[test]
    fn bad_records_are_refused_with_reasons() {
        assert!(rec("SL-1", "fine").invalid().is_none());
        for (r, want) in [
            (rec("", "x"), "empty"),
            (rec("SL 1", "x"), "may hold only"),
            (rec("SL\u{200b}1", "x"), "may hold only"),
            (rec("annex:A1", "x"), "cites an annex"),
            (rec(&"X".repeat(65), "x"), "longer than 64"),
            (rec("SL-1", "  "), "text is empty"),
            (rec("SL-1", &"y".repeat(2001)), "limit 2000"),
            (rec("SL-1", "bell\u{7}"), "control"),
        ] {
            let why = r.invalid().expect("refused");
            assert!(why.contains(want), "{why}");
        }
        let mut t = rec("SL-1", "x");
        for bad in ["2026-11-17 09:17Z", "2026-13-01T09:17Z", "2026-11-17T24:00Z", "2026-11-17T09:17:61Z", "", "9"] {
            t.time = bad.into();
            assert!(t.invalid().is_some_and(|w| w.contains("UTC")), "{bad}");
        }
        t.time = "2026-11-17T09:17Z".into();
        assert!(t.invalid().is_none());
    }

    #[test]
    fn files_parse_line_by_line() {
        let text = "# comment\n\n{\"id\":\"TL-1\",\"time\":\"2026-11-17T09:02Z\",\"kind\":\"k\",\"text\":\" a  b \"}\n";
        let r = parse_lines("case-timeline", text).expect("parses");
        assert_eq!(r.len(), 1);
        assert_eq!((r[0].origin.as_str(), r[0].text.as_str()), ("case-timeline", "a b"));
        let dup = format!("{}{}", text, text.lines().nth(2).unwrap_or_default());
        assert_eq!(parse_lines("f", &dup).map_err(|e| e.0), Err(4));
        assert!(parse_lines("f", "{\"id\":1}").is_err_and(|e| e.0 == 1 && e.1.contains("not a source record")));
    }

    #[test]
    fn versions_and_restriction() {
        let mut sources = BTreeMap::new();
        let r = rec("SL-1", "one");
        assert_eq!(classify(&sources, &r), Ok(Registered::Added));
        let v = version_of(&sources, &r, "salt", UserId(uuid::Uuid::nil()), 3, 10);
        sources.insert("SL-1".to_string(), Source { id: "SL-1".into(), annex: None, versions: vec![v] });
        assert_eq!(classify(&sources, &r), Ok(Registered::Unchanged));
        assert_eq!(classify(&sources, &rec("SL-1", "two")), Ok(Registered::NewVersion));
        assert_eq!(version_of(&sources, &rec("SL-1", "two"), "salt", UserId(uuid::Uuid::nil()), 4, 11).version, 2);
        let mut restricted = rec("SL-1", "one");
        restricted.annex = Some("A1".into());
        assert!(classify(&sources, &restricted).is_err_and(|e| e.contains("fixed")));
        assert!(sources["SL-1"].redacted().versions.iter().all(|v| v.text.is_none()));
        assert!(sources["SL-1"].versions[0].salt.is_none(), "an unrestricted record's digest is plain");
        // A restricted record's digest is salted: the plain digest of a
        // guessed text does not match it.
        let mut secret = rec("TR-1", "acct-4471-NWF");
        secret.annex = Some("A1".into());
        let v = version_of(&BTreeMap::new(), &secret, "s4lt", UserId(uuid::Uuid::nil()), 5, 12);
        assert_ne!(v.digest, secret.digest());
        assert_eq!(v.digest, secret.digest_with(Some("s4lt")));
        let known = Source { id: "TR-1".into(), annex: Some("A1".into()), versions: vec![v] };
        let sources = BTreeMap::from([("TR-1".to_string(), known.clone())]);
        assert_eq!(classify(&sources, &secret), Ok(Registered::Unchanged), "the same text again is recognised");
        assert!(known.redacted().versions[0].salt.is_none());
    }
}
