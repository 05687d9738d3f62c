//! The suggestions screen: which suggestion is shown and how (inline in the
//! section text, or as a diff), whether we may decide, and its keys —
//! step through, accept (flagged ones ask again) or reject with a reason.
//! The pure helpers it draws from are in `suggest.rs`.

use crossterm::event::{KeyCode, KeyEvent};
use trustroom_shared::SuggestionId;
use trustroom_shared::protocol::Request;
use trustroom_shared::room::RoomState;
use trustroom_shared::suggestion::{DecideRefusal, Suggestion, may_decide as may_decide_in};

use super::{Command, Component, Ctx, Outcome};
use crate::session::outbox::Pending;
use crate::session::room::{Level, Room};
use crate::tui::action::{Action, ReasonPurpose};
use crate::tui::suggest::listed;

/// Inline (text with marks) or a unified diff.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SuggestMode {
    Inline,
    Diff,
}

#[derive(Clone, Debug)]
pub struct SuggestionsScreen {
    /// The suggestion shown (kept across changes while it is listed).
    pub selected: Option<SuggestionId>,
    pub mode: SuggestMode,
    pub scroll: u16,
}

impl SuggestionsScreen {
    pub fn new(selected: Option<SuggestionId>) -> Self {
        Self { selected, mode: SuggestMode::Inline, scroll: 0 }
    }

    /// The suggestions listed on the screen, and the index of the selected one.
    pub fn cursor<'a>(&self, state: Option<&'a RoomState>) -> (Vec<&'a Suggestion>, usize) {
        let Some(state) = state else { return (Vec::new(), 0) };
        let list = listed(state);
        let selected = self.selected.and_then(|id| list.iter().position(|s| s.id == id)).unwrap_or(0);
        (list, selected)
    }
}

/// Whether we may accept or reject suggestions, or why not.
pub fn may_decide(room: &Room) -> Result<(), String> {
    let (Some(state), Some(me)) = (&room.replica.state, &room.me) else { return Err("not joined yet".into()) };
    may_decide_in(&state.suggestions, me.user, &me.role).map_err(|e| match e {
        DecideRefusal::Role => format!("{} may not accept or reject suggestions", me.role.label()),
        DecideRefusal::NotAllowed => {
            "only the owner, or a reviewer the owner allowed, accepts or rejects suggestions".into()
        }
    })
}

/// `S-N` of a suggestion.
pub fn suggestion_code(room: &Room, id: SuggestionId) -> String {
    room.replica
        .state
        .as_ref()
        .and_then(|s| s.suggestions.suggestions.get(&id))
        .map_or_else(|| "the suggestion".into(), Suggestion::code)
}

/// The acceptance of a suggestion, to send (none before the room is known).
pub fn accept(room: &Room, suggestion: SuggestionId) -> Option<Command> {
    let room_id = room.id?;
    let code = suggestion_code(room, suggestion);
    Some(Command::numbered(Pending::DecideSuggestion { code, accept: true }, move |seq| Request::AcceptSuggestion {
        room: room_id,
        suggestion,
        note: None,
        seq: Some(seq),
    }))
}

impl SuggestionsScreen {
    /// Shows the suggestion `to` (when there is one) from its top.
    fn step(&mut self, to: Option<&(SuggestionId, bool, Vec<String>)>) {
        if let Some((id, _, _)) = to {
            self.selected = Some(*id);
            self.scroll = 0;
        }
    }
}

impl Component for SuggestionsScreen {
    fn event(&mut self, key: KeyEvent, ctx: &Ctx<'_>) -> Outcome {
        let (list, i) = self.cursor(ctx.room.replica.state.as_ref());
        let ids: Vec<(SuggestionId, bool, Vec<String>)> = list
            .iter()
            .map(|s| {
                let flags =
                    s.flags.iter().map(|f| format!("{}: \"{}\" ({})", f.category.label(), f.matched, f.rule)).collect();
                (s.id, s.is_open(), flags)
            })
            .collect();
        let last = ids.len().saturating_sub(1);
        match key.code {
            KeyCode::Esc | KeyCode::Char('q' | 'u') => return Outcome::close(),
            KeyCode::Char('j' | 'n') | KeyCode::Down => self.step(ids.get((i + 1).min(last))),
            KeyCode::Char('k' | 'p') | KeyCode::Up => self.step(ids.get(i.saturating_sub(1))),
            KeyCode::Char('g') | KeyCode::Home => self.step(ids.first()),
            KeyCode::Char('G') | KeyCode::End => self.step(ids.get(last)),
            KeyCode::Char('i') | KeyCode::Tab => {
                self.mode = match self.mode {
                    SuggestMode::Inline => SuggestMode::Diff,
                    SuggestMode::Diff => SuggestMode::Inline,
                };
                self.scroll = 0;
            }
            KeyCode::PageDown | KeyCode::Char('J') => self.scroll = self.scroll.saturating_add(5),
            KeyCode::PageUp | KeyCode::Char('K') => self.scroll = self.scroll.saturating_sub(5),
            KeyCode::Char('y') | KeyCode::Enter => {
                let Some((id, open, flags)) = ids.get(i).cloned() else { return Outcome::used() };
                if let Err(why) = may_decide(ctx.room) {
                    return Outcome::with(Command::Notify(Level::Warn, why));
                }
                if !open {
                    return Outcome::with(Command::notify(
                        Level::Warn,
                        "a conflicting suggestion cannot be accepted (its target text is gone); reject it with x",
                    ));
                }
                if flags.is_empty() {
                    return Outcome::Used(accept(ctx.room, id).into_iter().collect());
                }
                let code = suggestion_code(ctx.room, id);
                return Outcome::with(Command::ConfirmAccept { suggestion: id, code, flags });
            }
            KeyCode::Char('x') => {
                let Some((id, _, _)) = ids.get(i).cloned() else { return Outcome::used() };
                if let Err(why) = may_decide(ctx.room) {
                    return Outcome::with(Command::Notify(Level::Warn, why));
                }
                return Outcome::with(Command::AskReason(ReasonPurpose::RejectSuggestion(id)));
            }
            KeyCode::Char('?') => return Outcome::run(Action::Help),
            _ => {}
        }
        Outcome::used()
    }
}
