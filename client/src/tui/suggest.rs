//! The suggestions screen's state and the pure helpers it draws from:
//! which suggestions to step through, a suggestion shown inline in its
//! section (insertions and deletions marked in the text), the register
//! change in words, and whether we may decide it.

use trustroom_shared::SuggestionId;
use trustroom_shared::ot::{Component, TextOp};
use trustroom_shared::room::RoomState;
use trustroom_shared::suggestion::{Proposal, RegisterProposal, Suggestion, SuggestionStatus, may_decide};

use crossterm::event::{KeyCode, KeyEvent};
use trustroom_shared::protocol::Request;

use super::app::{App, Level, Overlay, Pending};
use super::diffing::{DiffResult, diff_into};
use super::diffview::DIFF_BUDGET;
use super::forms::{Dialog, ReasonForm, ReasonPurpose, input};

/// Inline (text with marks) or a unified diff.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SuggestMode {
    Inline,
    Diff,
}

/// The suggestions screen.
#[derive(Clone, Debug)]
pub struct SuggestionsView {
    /// The suggestion shown (kept across changes while it is listed).
    pub selected: Option<SuggestionId>,
    pub mode: SuggestMode,
    pub scroll: u16,
}

impl SuggestionsView {
    pub fn new(selected: Option<SuggestionId>) -> Self {
        Self { selected, mode: SuggestMode::Inline, scroll: 0 }
    }
}

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

impl App {
    /// Whether we may accept or reject suggestions, or why not.
    pub fn may_decide_suggestions(&self) -> Result<(), String> {
        let (Some(state), Some(me)) = (&self.replica.state, &self.me) else { return Err("not joined yet".into()) };
        may_decide(&state.suggestions, me.user, &me.role).map_err(|e| match e {
            trustroom_shared::suggestion::DecideRefusal::Role => {
                format!("{} may not accept or reject suggestions", me.role.label())
            }
            trustroom_shared::suggestion::DecideRefusal::NotAllowed => {
                "only the owner, or a reviewer the owner allowed, accepts or rejects suggestions".into()
            }
        })
    }

    /// The suggestions listed on the screen, and the index of the selected one.
    pub fn suggestion_cursor(&self) -> (Vec<&Suggestion>, usize) {
        let Some(state) = &self.replica.state else { return (Vec::new(), 0) };
        let list = listed(state);
        let selected = match &self.suggestions {
            Some(v) => v.selected.and_then(|id| list.iter().position(|s| s.id == id)).unwrap_or(0),
            None => 0,
        };
        (list, selected)
    }
}

impl App {
    /// Opens the suggestions screen on the current section's first open
    /// suggestion (or the first one listed).
    pub fn open_suggestions(&mut self) {
        let Some(state) = &self.replica.state else { return };
        let list = listed(state);
        if list.is_empty() {
            self.notify(Level::Info, "no open suggestions");
            return;
        }
        let current = self.current_section_id();
        let first = list.iter().find(|s| current.is_some() && s.section() == current).or(list.first()).map(|s| s.id);
        self.suggestions = Some(SuggestionsView::new(first));
        self.editor.mode = super::editor::EditMode::Normal;
    }

    /// `S-N` of a suggestion.
    pub fn suggestion_code(&self, id: SuggestionId) -> String {
        self.replica
            .state
            .as_ref()
            .and_then(|s| s.suggestions.suggestions.get(&id))
            .map_or_else(|| "the suggestion".into(), Suggestion::code)
    }

    /// Sends the acceptance of a suggestion.
    pub fn send_accept(&mut self, suggestion: SuggestionId) {
        let Some(room) = self.room else { return };
        let code = self.suggestion_code(suggestion);
        let seq = self.next_seq();
        self.send(
            Request::AcceptSuggestion { room, suggestion, note: None, seq: Some(seq) },
            Pending::DecideSuggestion { code, accept: true },
        );
    }

    /// Keys on the suggestions screen.
    pub fn suggestions_key(&mut self, key: KeyEvent) {
        let (list, i) = self.suggestion_cursor();
        let ids: Vec<(SuggestionId, bool, Vec<String>)> = list
            .iter()
            .map(|s| {
                let flags =
                    s.flags.iter().map(|f| format!("{}: \"{}\" ({})", f.category.label(), f.matched, f.rule)).collect();
                (s.id, s.is_open(), flags)
            })
            .collect();
        let Some(view) = self.suggestions.as_mut() else { return };
        let step = |to: usize, view: &mut SuggestionsView| {
            if let Some((id, _, _)) = ids.get(to) {
                view.selected = Some(*id);
                view.scroll = 0;
            }
        };
        match key.code {
            KeyCode::Esc | KeyCode::Char('q' | 'u') => self.suggestions = None,
            KeyCode::Char('j' | 'n') | KeyCode::Down => step((i + 1).min(ids.len().saturating_sub(1)), view),
            KeyCode::Char('k' | 'p') | KeyCode::Up => step(i.saturating_sub(1), view),
            KeyCode::Char('g') | KeyCode::Home => step(0, view),
            KeyCode::Char('G') | KeyCode::End => step(ids.len().saturating_sub(1), view),
            KeyCode::Char('i') | KeyCode::Tab => {
                view.mode = match view.mode {
                    SuggestMode::Inline => SuggestMode::Diff,
                    SuggestMode::Diff => SuggestMode::Inline,
                };
                view.scroll = 0;
            }
            KeyCode::PageDown | KeyCode::Char('J') => view.scroll = view.scroll.saturating_add(5),
            KeyCode::PageUp | KeyCode::Char('K') => view.scroll = view.scroll.saturating_sub(5),
            KeyCode::Char('y') | KeyCode::Enter => {
                let Some((id, open, flags)) = ids.get(i).cloned() else { return };
                if let Err(why) = self.may_decide_suggestions() {
                    return self.notify(Level::Warn, why);
                }
                if !open {
                    return self.notify(
                        Level::Warn,
                        "a conflicting suggestion cannot be accepted (its target text is gone); reject it with x",
                    );
                }
                if flags.is_empty() {
                    self.send_accept(id);
                } else {
                    let code = self.suggestion_code(id);
                    self.overlay = Some(Overlay::dialog(Dialog::AcceptFlagged { suggestion: id, code, flags }));
                }
            }
            KeyCode::Char('x') => {
                let Some((id, _, _)) = ids.get(i).cloned() else { return };
                if let Err(why) = self.may_decide_suggestions() {
                    return self.notify(Level::Warn, why);
                }
                self.overlay = Some(Overlay::dialog(Dialog::Reason(ReasonForm {
                    purpose: ReasonPurpose::RejectSuggestion(id),
                    text: input(&self.theme, "why this suggestion is rejected (the proposer sees it)"),
                    confirming: false,
                    error: None,
                })));
            }
            KeyCode::Char('?') => self.run_action(super::actions::Action::Help),
            _ => {}
        }
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
