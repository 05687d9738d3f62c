//! The trace-keeper's rules (pure): findings the room should see as
//! objections (kind `evidence-sufficiency`), each raised once.
//!
//! - *Unsupported statement*: a paragraph that is not a heading and has no
//!   label (or `[verified]` with no ids) — a material statement with no
//!   evidence and no contested label. Quote: the statement text.
//! - *Dangling reference*: an evidence id in a `[verified: …]` label that
//!   names no record in the source files (checked only when sources were
//!   given). Quote: the id.
//!
//! A finding is identified by its section and quote. It is raised at most
//! once: an objection by this agent on the same section with the same quote
//! (in any status, withdrawn and addressed included) means it was raised.

use std::collections::BTreeSet;

use trustroom_shared::SectionId;
use trustroom_shared::room::RoomState;
use trustroom_shared::statement::{StatementLabel, statements};

use super::sources::Sources;

/// Longest quote kept from a statement, in chars.
pub const MAX_QUOTE_CHARS: usize = 160;

/// What is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    Unsupported,
    /// The id, and the records whose text mentions it (a likely fix).
    Dangling {
        id: String,
        mentioned_in: Vec<String>,
    },
}

/// One finding, anchored on a statement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub section: SectionId,
    pub section_title: String,
    /// Paragraph index in the section (0-based, as `Anchor::statement`).
    pub statement: usize,
    pub quote: String,
    pub problem: Problem,
}

impl Finding {
    /// The objection text.
    pub fn objection_text(&self, sources: &Sources) -> String {
        let n = self.statement + 1;
        match &self.problem {
            Problem::Unsupported => format!(
                "Trace: statement {n} of \"{}\" is a material statement with no evidence and no contested label. \
                 Cite the source records that back it ([verified: ID]) or mark it [contested: O-N].",
                self.section_title
            ),
            Problem::Dangling { id, mentioned_in } => {
                let files = sources.file_names().join(", ");
                let hint = if mentioned_in.is_empty() {
                    String::new()
                } else {
                    format!(" Records that mention it: {}.", mentioned_in.join(", "))
                };
                format!(
                    "Trace: evidence {id} in statement {n} of \"{}\" names no record in the source files ({files}).{hint}",
                    self.section_title
                )
            }
        }
    }
}

/// The first `MAX_QUOTE_CHARS` chars of `text`.
pub fn quote_of(text: &str) -> String {
    text.chars().take(MAX_QUOTE_CHARS).collect()
}

/// Every finding in the room, in packet order (sections, then statements,
/// then ids as written).
pub fn findings(state: &RoomState, sources: &Sources) -> Vec<Finding> {
    let known = sources.ids();
    let mut out = Vec::new();
    for section in &state.sections {
        for st in statements(&section.body) {
            let finding = |quote: String, problem| Finding {
                section: section.id,
                section_title: section.title.clone(),
                statement: st.index,
                quote,
                problem,
            };
            match &st.label {
                StatementLabel::Unlabeled => out.push(finding(quote_of(&st.text), Problem::Unsupported)),
                StatementLabel::Verified { evidence } if evidence.is_empty() => {
                    out.push(finding(quote_of(&st.text), Problem::Unsupported));
                }
                StatementLabel::Verified { evidence } if !sources.is_empty() => {
                    for id in evidence.iter().filter(|id| !known.contains(id.as_str())) {
                        let mentioned_in =
                            sources.records.iter().filter(|r| mentions(&r.text, id)).map(|r| r.id.clone()).collect();
                        out.push(finding(id.clone(), Problem::Dangling { id: id.clone(), mentioned_in }));
                    }
                }
                _ => {}
            }
        }
    }
    out
}

/// Whether `text` mentions `id` as a whole word.
fn mentions(text: &str, id: &str) -> bool {
    text.match_indices(id).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + id.len()..].chars().next();
        let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '-' || c == '_');
        !word(before) && !word(after)
    })
}

/// Findings not raised yet, given `(section, quote)` of the agent's own objections.
pub fn to_raise(all: Vec<Finding>, raised: &BTreeSet<(SectionId, String)>) -> Vec<Finding> {
    let mut seen = raised.clone();
    all.into_iter().filter(|f| seen.insert((f.section, f.quote.clone()))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::fixtures::{self, room};

    fn srcs() -> Sources {
        fixtures::sources(
            "timeline.jsonl",
            &[
                r#"{"id":"TL-1","time":"2026-11-17T09:02Z","actor":"a","kind":"k","text":"Case CASE-9 opened (not CASE-99)."}"#,
                r#"{"id":"SL-2","time":"2026-11-17T09:03Z","actor":"a","kind":"k","text":"Started."}"#,
            ],
        )
    }

    const BODY: &str = "# Title\n\n[verified: TL-1, CASE-9] Opened.\n\n[contested: O-1] Disputed.\n\nNo label here.\n\n[verified:] Empty.\n\n[restricted] See [[annex:A1]].\n\n[residual] Accepted.";

    #[test]
    fn finds_unsupported_statements_and_dangling_references() {
        let state = room(&[("Summary", BODY)]);
        let found = findings(&state, &srcs());
        let short: Vec<(usize, &str)> = found.iter().map(|f| (f.statement, f.quote.as_str())).collect();
        assert_eq!(short, [(1, "CASE-9"), (3, "No label here."), (4, "Empty.")]);
        assert_eq!(found[0].problem, Problem::Dangling { id: "CASE-9".into(), mentioned_in: vec!["TL-1".into()] });
        assert_eq!(
            found[0].objection_text(&srcs()),
            "Trace: evidence CASE-9 in statement 2 of \"Summary\" names no record in the source files (timeline.jsonl). \
             Records that mention it: TL-1."
        );
        assert!(
            found[1]
                .objection_text(&srcs())
                .contains("statement 4 of \"Summary\" is a material statement with no evidence")
        );
    }

    #[test]
    fn without_sources_references_are_not_judged() {
        let state = room(&[("Summary", BODY)]);
        let found = findings(&state, &Sources::default());
        assert!(found.iter().all(|f| f.problem == Problem::Unsupported), "{found:?}");
        assert_eq!(found.len(), 2);
    }

    #[test]
    fn each_finding_is_raised_once() {
        let state = room(&[("Summary", BODY)]);
        let all = findings(&state, &srcs());
        let sid = state.sections[0].id;
        let raised = BTreeSet::from([(sid, "CASE-9".to_string())]);
        let left = to_raise(all.clone(), &raised);
        assert_eq!(left.len(), 2);
        // The same quote twice in one pass is raised once.
        let doubled: Vec<Finding> = all.iter().chain(all.iter()).cloned().collect();
        assert_eq!(to_raise(doubled, &BTreeSet::new()).len(), 3);
    }

    #[test]
    fn quotes_are_bounded() {
        let long = "x".repeat(500);
        assert_eq!(quote_of(&long).chars().count(), MAX_QUOTE_CHARS);
    }
}
