//! The suggestions screen's behaviour: whether we may decide, opening the
//! screen, its keys, and accepting or rejecting (the screen's state and
//! pure helpers are in `suggest.rs`).

use crossterm::event::{KeyCode, KeyEvent};
use trustroom_shared::SuggestionId;
use trustroom_shared::protocol::Request;
use trustroom_shared::suggestion::{Suggestion, may_decide};

use super::app::{App, Level, Overlay, Pending};
use super::forms::{Dialog, ReasonForm, ReasonPurpose, input};
use super::suggest::{SuggestMode, SuggestionsView, listed};

impl App {
    /// Whether we may accept or reject suggestions, or why not.
    pub fn may_decide_suggestions(&self) -> Result<(), String> {
        let (Some(state), Some(me)) = (&self.room.replica.state, &self.room.me) else { return Err("not joined yet".into()) };
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
        let Some(state) = &self.room.replica.state else { return (Vec::new(), 0) };
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
        let Some(state) = &self.room.replica.state else { return };
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
        self.room.replica
            .state
            .as_ref()
            .and_then(|s| s.suggestions.suggestions.get(&id))
            .map_or_else(|| "the suggestion".into(), Suggestion::code)
    }

    /// Sends the acceptance of a suggestion.
    pub fn send_accept(&mut self, suggestion: SuggestionId) {
        let Some(room) = self.room.id else { return };
        let code = self.suggestion_code(suggestion);
        let seq = self.room.outbox.next_seq();
        self.room.outbox.send(
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
