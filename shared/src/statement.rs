//! Statements and their labels, parsed from a section body.
//!
//! A statement is a paragraph (lines separated by a blank line). A label is
//! written at the start of the paragraph so it travels with the text under
//! concurrent editing and stays visible in every editor:
//!
//! ```text
//! [verified: TL-0412, SL-0088] The engineer opened session S-19 at 09:14.
//! [contested: O-3] Only one tenant's data was visible.
//! [restricted] Full tenant identifiers: see [[annex:A1]].
//! [residual] Legal and privacy disagree on "exposure" vs "visibility".
//! ```
//!
//! An unlabeled paragraph that is not a heading (`# …`) is a *material
//! statement without evidence*: readiness counts it as a blocker.

use serde::{Deserialize, Serialize};

/// A statement's label.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "label", rename_all = "kebab-case")]
pub enum StatementLabel {
    /// Backed by evidence references (source record ids).
    Verified { evidence: Vec<String> },
    /// Disputed; should link to open objections by number (`O-3`).
    Contested { objections: Vec<u32> },
    /// Only points at annexes; holds no restricted detail itself.
    Restricted,
    /// Disagreement the owner accepted to hand off unresolved.
    AcceptedResidual,
    /// No label: a material statement without evidence.
    Unlabeled,
    /// A heading line (`# …`), not a statement.
    Heading,
}

/// One parsed statement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Statement {
    /// Index of the paragraph in the section (0-based).
    pub index: usize,
    /// Char offset of the paragraph start in the section body.
    pub start: usize,
    /// Char length of the paragraph.
    pub len: usize,
    pub label: StatementLabel,
    /// Annex codes referenced with `[[annex:CODE]]`.
    pub annex_refs: Vec<String>,
    /// The text after the label.
    pub text: String,
}

/// Splits a body into statements and parses their labels.
pub fn statements(body: &str) -> Vec<Statement> {
    let mut out = Vec::new();
    let mut chars_before = 0usize;
    let mut bytes_before = 0usize;
    for (index, (start_bytes, text)) in split_paragraphs(body).into_iter().enumerate() {
        chars_before += body[bytes_before..start_bytes].chars().count();
        bytes_before = start_bytes;
        let start = chars_before;
        let len = text.chars().count();
        let trimmed = text.trim();
        let (label, rest) = parse_label(trimmed);
        out.push(Statement {
            index,
            start,
            len,
            annex_refs: annex_refs(trimmed),
            label,
            text: rest.trim().to_string(),
        });
    }
    out
}

fn split_paragraphs(body: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut para_start: Option<usize> = None;
    let mut pos = 0usize;
    for line in body.split_inclusive('\n') {
        let blank = line.trim().is_empty();
        if blank {
            if let Some(s) = para_start.take() {
                out.push((s, body[s..pos].trim_end_matches('\n')));
            }
        } else if para_start.is_none() {
            para_start = Some(pos);
        }
        pos += line.len();
    }
    if let Some(s) = para_start {
        out.push((s, body[s..].trim_end_matches('\n')));
    }
    out
}

fn parse_label(text: &str) -> (StatementLabel, &str) {
    if text.starts_with('#') {
        return (StatementLabel::Heading, text);
    }
    let Some(rest) = text.strip_prefix('[') else {
        return (StatementLabel::Unlabeled, text);
    };
    let Some(end) = rest.find(']') else {
        return (StatementLabel::Unlabeled, text);
    };
    let inner = &rest[..end];
    let after = &rest[end + 1..];
    let (name, args) = match inner.split_once(':') {
        Some((n, a)) => (n.trim(), a.trim()),
        None => (inner.trim(), ""),
    };
    let list = || args.split(',').map(str::trim).filter(|s| !s.is_empty());
    let label = match name {
        "verified" => StatementLabel::Verified { evidence: list().map(String::from).collect() },
        "contested" => StatementLabel::Contested {
            objections: list()
                .filter_map(|s| s.trim_start_matches(['O', 'o']).trim_start_matches('-').parse().ok())
                .collect(),
        },
        "restricted" => StatementLabel::Restricted,
        "residual" | "accepted-residual" => StatementLabel::AcceptedResidual,
        _ => return (StatementLabel::Unlabeled, text),
    };
    (label, after)
}

/// Annex codes referenced as `[[annex:CODE]]` in `text`.
pub fn annex_refs(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("[[annex:") {
        let tail = &rest[i + 8..];
        match tail.find("]]") {
            Some(j) => {
                out.push(tail[..j].trim().to_string());
                rest = &tail[j + 2..];
            }
            None => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_labels_and_offsets() {
        let body = "# Heading\n\n[verified: TL-1, SL-2] A fact.\n\n[contested: O-3] Disputed.\nmore\n\nPlain claim.\n\n[restricted] See [[annex:A1]].";
        let s = statements(body);
        assert_eq!(s.len(), 5);
        assert_eq!(s[0].label, StatementLabel::Heading);
        assert_eq!(s[1].label, StatementLabel::Verified { evidence: vec!["TL-1".into(), "SL-2".into()] });
        assert_eq!(s[2].label, StatementLabel::Contested { objections: vec![3] });
        assert_eq!(s[3].label, StatementLabel::Unlabeled);
        assert_eq!(s[4].label, StatementLabel::Restricted);
        assert_eq!(s[4].annex_refs, vec!["A1".to_string()]);
        let chars: Vec<char> = body.chars().collect();
        let p: String = chars[s[3].start..s[3].start + s[3].len].iter().collect();
        assert_eq!(p, "Plain claim.");
    }
}
