//! The pure helpers the suggestions screen draws from: which suggestions
//! to step through, a suggestion shown inline in its section (insertions
//! and deletions marked in the text), and the register change in words.

use trustroom_shared::ot::{Component, TextOp};
use trustroom_shared::room::RoomState;
use trustroom_shared::suggestion::{Proposal, RegisterProposal, Suggestion, SuggestionStatus};

use super::diffing::{DiffResult, diff_into};
use super::diffview::DIFF_BUDGET;

/// Suggestions to step through: open ones, then conflicting ones (those
/// can still be rejected), each by number.
pub fn listed(state: &RoomState) -> Vec<&Suggestion> {
    let mut v: Vec<&Suggestion> = state
        .suggestions
        .suggestions
        .values()
        .filter(|s| matches!(s.status, SuggestionStatus::Open | SuggestionStatus::Conflicting))
        .collect();
    v.sort_by_key(|s| (s.status != SuggestionStatus::Open, s.number));
    v
}

/// Open edit suggestions per section (for badges).
pub fn open_on(state: &RoomState, section: trustroom_shared::SectionId) -> usize {
    state.suggestions.open().filter(|s| s.section() == Some(section)).count()
}

/// A run of text in the inline view.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Inline {
    Same(String),
    Insert(String),
    Delete(String),
}

/// `body` with `op` marked in it: kept, inserted and deleted runs in order.
/// `None` when the operation does not fit the text.
pub fn inline(body: &str, op: &TextOp) -> Option<Vec<Inline>> {
    let chars: Vec<char> = body.chars().collect();
    if op.base_len() != chars.len() {
        return None;
    }
    let mut out = Vec::new();
    let mut pos = 0usize;
    for c in op.components() {
        match c {
            Component::Retain(n) => {
                out.push(Inline::Same(chars[pos..pos + n].iter().collect()));
                pos += n;
            }
            Component::Insert(s) => out.push(Inline::Insert(s.clone())),
            Component::Delete(n) => {
                out.push(Inline::Delete(chars[pos..pos + n].iter().collect()));
                pos += n;
            }
        }
    }
    if pos < chars.len() {
        out.push(Inline::Same(chars[pos..].iter().collect()));
    }
    Some(out)
}

/// The section text with the suggestion applied.
pub fn suggested_text(body: &str, op: &TextOp) -> Option<String> {
    op.apply(body).ok()
}

/// The unified diff of an edit suggestion against its section.
pub fn diff(body: &str, op: &TextOp) -> Option<DiffResult> {
    let new = suggested_text(body, op)?;
    let mut out = DiffResult::default();
    diff_into(&mut out, body, &new, 3, std::time::Instant::now() + DIFF_BUDGET);
    Some(out)
}

/// A register change in words (`merge O-6 into O-1`).
pub fn describe_register(state: &RoomState, change: &RegisterProposal) -> String {
    let code =
        |id: &trustroom_shared::ObjectionId| state.objections.get(id).map_or_else(|| "O-?".to_string(), |o| o.code());
    match change {
        RegisterProposal::MergeObjections { keep, duplicates } => {
            let d: Vec<String> = duplicates.iter().map(code).collect();
            format!(
                "merge {} into {} (the duplicates are withdrawn, pointing at {})",
                d.join(", "),
                code(keep),
                code(keep)
            )
        }
        RegisterProposal::Reword { objection, text } => format!("reword {}: \"{text}\"", code(objection)),
        RegisterProposal::SetKind { objection, kind } => {
            let from = state.objections.get(objection).map_or_else(|| "?".into(), |o| o.kind.to_string());
            format!("set the kind of {} from {from} to {kind}", code(objection))
        }
        RegisterProposal::SetAnchor { objection, statement, quote } => {
            let mut s = format!("anchor {}", code(objection));
            if let Some(n) = statement {
                s.push_str(&format!(" on statement {}", n + 1));
            }
            if let Some(q) = quote {
                s.push_str(&format!(" quoting \"{q}\""));
            }
            s
        }
    }
}

/// What the suggestion is about, in one line (`Chronology`, `register`).
pub fn target(state: &RoomState, s: &Suggestion) -> String {
    match &s.proposal {
        Proposal::Edit { section, .. } => {
            state.section(*section).map_or_else(|| "(deleted section)".into(), |sec| sec.title.clone())
        }
        Proposal::Register { .. } => "register".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_marks_inserts_and_deletes() {
        let body = "alpha beta gamma";
        let op = TextOp::from_texts(body, "alpha BETA gamma");
        let runs = inline(body, &op).expect("fits");
        assert_eq!(
            runs,
            [
                Inline::Same("alpha ".into()),
                Inline::Insert("BETA".into()),
                Inline::Delete("beta".into()),
                Inline::Same(" gamma".into())
            ]
        );
        assert_eq!(suggested_text(body, &op).as_deref(), Some("alpha BETA gamma"));
        assert!(inline("short", &op).is_none(), "a mismatched op is not drawn");
        let d = diff(body, &op).expect("diff");
        assert_eq!((d.added, d.removed), (1, 1));
    }
}
