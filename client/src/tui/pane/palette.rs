//! The command palette (`:`): every action by name, plus "go to section"
//! and "open annex" entries, filtered as you type; Enter runs the selected
//! one.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use trustroom_shared::release::cosign_refusal;

use super::{Command, Component, Ctx, Outcome};
use crate::session::room::Room;
use crate::tui::action::{Action, Pane};

#[derive(Clone, Debug, Default)]
pub struct Palette {
    pub input: String,
    pub selected: usize,
}

/// One palette entry.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub name: String,
    pub key: &'static str,
    pub action: Action,
    /// Shown but refused for our role (owner-only decisions).
    pub disabled: bool,
}

const STATIC: &[(&str, &str, Action)] = &[
    ("help: show keys", "?", Action::Help),
    ("quit", "q", Action::Quit),
    ("focus: sections", "1", Action::Focus(Pane::Sections)),
    ("focus: editor", "2", Action::Focus(Pane::Editor)),
    ("focus: register", "3", Action::Focus(Pane::Register)),
    ("focus: annex map", "4", Action::Focus(Pane::Annexes)),
    ("toggle disagreement register pane", "r", Action::ToggleRegister),
    ("toggle annex map pane", "a", Action::ToggleAnnexes),
    ("edit the section", "i", Action::EditStart),
    ("undo my last edit", "Ctrl-z", Action::Undo),
    ("redo", "Ctrl-y", Action::Redo),
    ("object: new objection on this section / selection", "o", Action::ObjectionNew),
    ("reply to the selected objection", "c", Action::ObjectionReply),
    ("change the selected objection's status", "s", Action::ObjectionStatus),
    ("register: this section / all", "f", Action::RegisterFilter),
    ("diff: this section since I last looked", "d", Action::DiffOpen),
    ("diff: whole packet since I last looked", "D", Action::DiffPacket),
    ("diff: since the last release", "", Action::DiffSinceRelease),
    ("release or hold: readiness record", "R", Action::Readiness),
    ("mark ready (the room's checks decide)", "M", Action::MarkReady),
    ("hold the release (with a reason)", "H", Action::Hold),
    ("escalate to direct human handling", "E", Action::Escalate),
    ("grants: revoke an active annex grant", "G", Action::Grants),
    ("holds: the hold register; clear a hold (rationale)", "L", Action::Holds),
    ("evidence: the cited source records; open one, re-confirm a stale one", "e", Action::Evidence),
    ("break-glass: emergency annex access, or end it", "B", Action::BreakGlass),
    ("export the room's bundle to a file", "X", Action::Export),
    ("manifests: releases and their signatures, verified", "W", Action::Manifests),
    ("co-sign the current content", "S", Action::Cosign),
    ("suggestions: review, accept or reject", "u", Action::Suggestions),
    ("stats: the room's working metrics", "m", Action::Stats),
    ("messages: history of refusals, notices and room events", "N", Action::History),
    ("reconnect now", "", Action::ReconnectNow),
];

/// All entries for the room (`owner`: whether we are an owner), filtered
/// by `query` (every word must appear, case-insensitive).
pub fn entries(room: &Room, query: &str) -> Vec<Entry> {
    let owner = room.is_owner();
    let state = room.replica.state.as_ref();
    // Co-sign is shown disabled to whoever the server would refuse.
    let cosign_refused = match (&room.me, state) {
        (Some(me), Some(state)) => cosign_refusal(&state.release_policy, me.user, &me.role).is_some(),
        _ => false,
    };
    let sections = state.map_or(&[][..], |s| s.sections.as_slice());
    let mut all: Vec<Entry> = STATIC
        .iter()
        .map(|(name, key, action)| Entry {
            name: (*name).to_string(),
            key,
            action: action.clone(),
            disabled: (action.owner_only() && !owner) || (*action == Action::Cosign && cosign_refused),
        })
        .collect();
    for (i, s) in sections.iter().enumerate() {
        all.push(Entry {
            name: format!("go to § {}", s.title),
            key: "",
            action: Action::GotoSection(i),
            disabled: false,
        });
    }
    if let Some(state) = state {
        let mut annexes: Vec<_> = state.annexes.values().collect();
        annexes.sort_by(|a, b| a.code.cmp(&b.code));
        for a in annexes {
            all.push(Entry {
                name: format!("open annex {} {} ({})", a.code, a.title, a.classification),
                key: "",
                action: Action::OpenAnnex(a.id),
                disabled: false,
            });
        }
    }
    let words: Vec<String> = query.split_whitespace().map(str::to_lowercase).collect();
    all.retain(|c| {
        let name = c.name.to_lowercase();
        words.iter().all(|w| name.contains(w.as_str()))
    });
    all
}

impl Component for Palette {
    fn event(&mut self, key: KeyEvent, ctx: &Ctx<'_>) -> Outcome {
        let entries = entries(ctx.room, &self.input);
        match key.code {
            KeyCode::Esc => return Outcome::close(),
            KeyCode::Enter => {
                // A disabled (owner-only) entry runs too: the action
                // explains why it is refused. It may open another overlay.
                let mut then = vec![Command::Close];
                then.extend(entries.get(self.selected).map(|e| Command::Run(e.action.clone())));
                return Outcome::Used(then);
            }
            KeyCode::Down | KeyCode::Tab => self.selected = (self.selected + 1).min(entries.len().saturating_sub(1)),
            KeyCode::Up | KeyCode::BackTab => self.selected = self.selected.saturating_sub(1),
            KeyCode::Backspace => {
                self.input.pop();
                self.selected = 0;
            }
            KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                self.input.push(c);
                self.selected = 0;
            }
            _ => {}
        }
        Outcome::used()
    }
}
