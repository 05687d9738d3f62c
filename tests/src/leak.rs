//! Restricted-detail leak checks (the trust boundary).

use super::*;

/// The sensitive patterns each demo annex declares, by code (the seed's
/// `sensitive` lists in `server/src/demo.rs`).
pub const DEMO_PATTERNS: [(&str, &[&str]); 3] = [
    ("A1", &["acct-4471-NWF", "acct-9902-BLT", "Bluefin Logistics"]),
    ("A2", &["rs://support-replays", "SSR-55810"]),
    ("A3", &["/ops/tenant-switch", "tctx:v2"]),
];

/// The patterns of the demo annexes `name` is NOT on the need-to-know list
/// of (what must never reach that member, grants and break-glass aside).
pub fn hidden_patterns(name: &str) -> Vec<&'static str> {
    DEMO_PATTERNS.iter().filter(|(code, _)| !may_read(name, code)).flat_map(|(_, p)| p.iter().copied()).collect()
}

/// Lower-case hex SHA-256 of `text` (its UTF-8 bytes).
pub fn sha256_hex(text: &str) -> String {
    trustroom_shared::canonical::sha256_hex(text.as_bytes())
}

/// Invisible characters a paste or an evader may carry (zero-width space,
/// joiners, direction marks, word joiner, soft hyphen, BOM, variation
/// selectors, tags): removed by [`simple_fold`].
pub(crate) fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{E0000}'..='\u{E0FFF}'
    )
}

/// A small fold written independently of the server's normaliser (which
/// [`assert_no_restricted`] also applies): full-width ASCII (U+FF01–FF5E)
/// and mathematical digits to ASCII, invisible characters removed, every
/// whitespace run to one space, lower case. It is a cross-check, so a
/// regression in `trustroom_shared::restricted::normalise` cannot hide a
/// leak from the test as well.
pub fn simple_fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last_space = false;
    for c in text.chars() {
        let c = match c as u32 {
            0xFF01..=0xFF5E => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            0x3000 => ' ',
            // MATHEMATICAL BOLD / DOUBLE-STRUCK / SANS-SERIF / MONOSPACE digits.
            n @ 0x1D7CE..=0x1D7FF => char::from_digit((n - 0x1D7CE) % 10, 10).unwrap_or(c),
            _ => c,
        };
        if is_invisible(c) {
            continue;
        }
        if c.is_whitespace() {
            if !last_space {
                out.push(' ');
            }
            last_space = true;
            continue;
        }
        last_space = false;
        out.extend(c.to_lowercase());
    }
    out
}

/// Every string (values and keys) inside a JSON value.
pub(crate) fn json_strings<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::String(s) => out.push(s),
        Value::Array(items) => items.iter().for_each(|i| json_strings(i, out)),
        Value::Object(map) => {
            for (k, v) in map {
                out.push(k);
                json_strings(v, out);
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// One pattern in every form the frame recorder looks for.
pub(crate) struct Needle {
    pub(crate) shown: String,
    pub(crate) lower: String,
    pub(crate) folded: String,
    pub(crate) normalised: String,
    pub(crate) hashes: Vec<String>,
}

pub(crate) fn needle(pattern: &str) -> Option<Needle> {
    let folded = simple_fold(pattern).trim().to_string();
    let normalised = trustroom_shared::restricted::normalise(pattern).text.trim().to_string();
    if folded.is_empty() && normalised.is_empty() {
        return None;
    }
    let mut hashes: Vec<String> =
        [pattern.to_string(), pattern.to_lowercase(), pattern.to_uppercase(), folded.clone(), normalised.clone()]
            .iter()
            .map(|s| sha256_hex(s))
            .collect();
    hashes.sort();
    hashes.dedup();
    Some(Needle { shown: pattern.to_string(), lower: pattern.to_lowercase(), folded, normalised, hashes })
}

/// The frame recorder's check: fails (naming `who`, the pattern, how it
/// matched and the frame) if any frame carries any of `patterns`
///
/// - as is, or in any mix of upper and lower case;
/// - after NFKC normalisation with zero-width / default-ignorable
///   characters removed and whitespace runs collapsed (the server's
///   `restricted::normalise`), and after [`simple_fold`], an independent
///   fold of the same common evasions (full-width forms, invisible
///   characters, odd spaces), both applied to every JSON string of the
///   frame (so `\u` escapes are decoded) and to the raw frame;
/// - as the lower-case hex SHA-256 of the pattern (or of its lower-case,
///   upper-case or normalised form): a 4-digit identifier's unsalted hash
///   is as good as the identifier.
///
/// Use it on every frame a member not entitled to the patterns' annex
/// received (`WsClient::captured()`).
pub fn assert_no_restricted(frames: &[String], patterns: &[&str], who: &str) {
    if let Some(leak) = find_restricted(frames, patterns) {
        panic!("LEAK: {who} received {leak}");
    }
}

/// The non-panicking form of [`assert_no_restricted`]: a description of
/// the first leak found (pattern, how it matched, frame), or `None`.
pub fn find_restricted(frames: &[String], patterns: &[&str]) -> Option<String> {
    // The hash oracle itself must be right (FIPS 180-2 test vector).
    assert_eq!(
        sha256_hex("abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        "sha256_hex is broken: the recorder's hash check would prove nothing"
    );
    let needles: Vec<Needle> = patterns.iter().filter_map(|p| needle(p)).collect();
    for (i, frame) in frames.iter().enumerate() {
        let parsed: Option<Value> = serde_json::from_str(frame).ok();
        let mut strings: Vec<&str> = vec![frame.as_str()];
        if let Some(v) = &parsed {
            json_strings(v, &mut strings);
        }
        let frame_lower = frame.to_lowercase();
        let forms: Vec<(String, String, String)> = strings
            .iter()
            .map(|s| (s.to_lowercase(), simple_fold(s), trustroom_shared::restricted::normalise(s).text))
            .collect();
        for n in &needles {
            let how = if forms.iter().any(|(lower, _, _)| lower.contains(&n.lower)) {
                Some("in plain text (any case)")
            } else if !n.folded.is_empty() && forms.iter().any(|(_, folded, _)| folded.contains(&n.folded)) {
                Some("after removing invisible characters / folding full-width forms")
            } else if !n.normalised.is_empty() && forms.iter().any(|(_, _, norm)| norm.contains(&n.normalised)) {
                Some("after NFKC normalisation")
            } else if n.hashes.iter().any(|h| frame_lower.contains(h)) {
                Some("as its SHA-256")
            } else {
                None
            };
            if let Some(how) = how {
                return Some(format!("restricted detail {:?} {how} in frame #{i}: {}", n.shown, truncate(frame, 600)));
            }
        }
    }
    None
}

/// The frame recorder, run for every [`WsClient`] of every end-to-end test
/// when it is dropped: the frames a demo member received must not carry a
/// pattern of a demo annex they are not on the need-to-know list of (in any
/// normalised variant, or as its SHA-256). Exempt by design: the answers of
/// audited reads of annex detail (`view_annex`, `view_promotion`: `logged`),
/// and passages an owner approved for promotion (the paragraph after a
/// `[verified: annex:…]` label). Members of non-demo rooms or with grants
/// are checked against the same demo lists, which only makes the check
/// stricter where it applies and silent where the patterns differ.
pub(crate) fn recorder_check(client: &WsClient) -> Option<String> {
    let name = client.welcome["name"].as_str()?;
    if !ANNEX_ACCESS.iter().any(|(_, names)| names.contains(&name)) && !DEMO_MEMBER_NAMES.contains(&name) {
        return None;
    }
    let hidden = hidden_patterns(name);
    let frames: Vec<String> = client
        .captured
        .iter()
        .filter(|f| {
            serde_json::from_str::<Value>(f).map_or(true, |v| !(v["type"] == "ok" && v["result"]["logged"] == true))
        })
        .map(|f| strip_promoted(f))
        .collect();
    find_restricted(&frames, &hidden).map(|leak| format!("{name} received {leak}"))
}

/// The demo members' names (everyone the recorder knows the lists of).
pub(crate) const DEMO_MEMBER_NAMES: [&str; 10] = [
    "morgan.hale",
    "ines.moreau",
    "priya.natarajan",
    "daniel.okafor",
    "sam.reyes",
    "lena.fischer",
    "chronology-agent",
    "trace-keeper-agent",
    "normaliser-agent",
    "ari.observer",
];

/// `frame` without promoted passages: from each `[verified: annex:` label
/// to the end of its paragraph line (a JSON `\n` escape or the string's end).
pub(crate) fn strip_promoted(frame: &str) -> String {
    const LABEL: &str = "[verified: annex:";
    let mut out = String::with_capacity(frame.len());
    let mut rest = frame;
    while let Some(i) = rest.find(LABEL) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let end = [tail.find("\\n"), tail.find('"')].into_iter().flatten().min().unwrap_or(tail.len());
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}
