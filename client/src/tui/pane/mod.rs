//! The panes, after gitui's components: each owns its state, takes a key
//! in [`Component::event`] (`&mut self`) and answers with what the app
//! should do — [`Command`]s: requests to send, focus changes, notices —
//! instead of reaching into the app; each is drawn by [`Draw::draw`]
//! (`&self`, so drawing never changes state), implemented in `ui/` in the
//! file of the same name. Both read the rest of the app through a
//! [`Ctx`]: the session's room and what the screen shows.

pub mod annex;
pub mod approvals;
pub mod break_glass;
pub mod dialog;
pub mod diff;
pub mod editor;
pub mod evidence;
pub mod export;
pub mod grants;
pub mod help;
pub mod history;
pub mod holds;
pub mod manifests;
pub mod palette;
pub mod register;
pub mod sections;
pub mod stats;
pub mod status;
pub mod suggestions;

use std::collections::VecDeque;

use crossterm::event::KeyEvent;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use trustroom_shared::protocol::Request;
use trustroom_shared::room::Section;
use trustroom_shared::{SectionId, SuggestionId};

use self::status::Notice;
use super::action::{Action, EditMode, Pane, ReasonPurpose};
use super::keyedit::KeyEdit;
use super::theme::Theme;
use crate::session::outbox::Pending;
use crate::session::room::{Level, Room};

/// A pane that takes keys.
pub trait Component {
    /// Handles a key; says what the app should do next.
    fn event(&mut self, key: KeyEvent, ctx: &Ctx<'_>) -> Outcome;
}

/// A pane that draws itself (in `ui/`); drawing only reads.
pub trait Draw {
    fn draw(&self, ctx: &Ctx<'_>, area: Rect, buf: &mut Buffer);
}

/// The full screens drawn instead of the panes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScreenKind {
    Diff,
    Suggestions,
    Stats,
    History,
}

/// What panes read of the rest of the app.
pub struct Ctx<'a> {
    /// The room as this client holds it (the session layer).
    pub room: &'a Room,
    pub theme: &'a Theme,
    /// The pane with the keyboard focus.
    pub focus: Pane,
    /// Index of the section in view (the sections list's selection).
    pub current: usize,
    /// Whether keys type into the section in view.
    pub mode: EditMode,
    /// The full screen open over the panes, if any.
    pub screen: Option<ScreenKind>,
    /// The terminal's size.
    pub size: Rect,
    /// The notices given, oldest first (the message history lists them).
    pub notices: &'a VecDeque<Notice>,
}

impl<'a> Ctx<'a> {
    pub fn current_section(&self) -> Option<&'a Section> {
        self.room.sections().get(self.current)
    }

    pub fn current_section_id(&self) -> Option<SectionId> {
        self.current_section().map(|s| s.id)
    }
}

/// What became of a key.
#[must_use]
pub enum Outcome {
    /// Not this pane's key: the global keys get it.
    Ignored,
    /// The pane took the key; the app does these, in order.
    Used(Vec<Command>),
}

impl Outcome {
    /// Taken, nothing more to do.
    pub fn used() -> Outcome {
        Outcome::Used(Vec::new())
    }

    pub fn with(command: Command) -> Outcome {
        Outcome::Used(vec![command])
    }

    pub fn run(action: Action) -> Outcome {
        Outcome::with(Command::Run(action))
    }

    /// The overlay or screen that took the key closes.
    pub fn close() -> Outcome {
        Outcome::with(Command::Close)
    }

    pub fn commands(self) -> Vec<Command> {
        match self {
            Outcome::Ignored => Vec::new(),
            Outcome::Used(c) => c,
        }
    }
}

/// Builds a request that changes the room from the `seq` it gets.
pub type Numbered = Box<dyn FnOnce(u64) -> Request>;

/// Something a pane asks the app to do.
pub enum Command {
    /// A named action, as from its key or the palette.
    Run(Action),
    /// Show section `i` in the editor (clamped).
    SelectSection(usize),
    Focus(Pane),
    /// Queue a request.
    Send(Request, Pending),
    /// Queue a request that changes the room, with the next `seq`.
    SendNumbered(Pending, Numbered),
    Notify(Level, String),
    /// A key or a paste changed the editor's text: send what it did.
    Edited(KeyEdit),
    /// Ask for a reason (hold, escalate, rejection).
    AskReason(ReasonPurpose),
    /// Ask again before accepting a suggestion flagged out of bounds.
    ConfirmAccept {
        suggestion: SuggestionId,
        code: String,
        flags: Vec<String>,
    },
    /// Open the help overlay where it was last scrolled (`Action::Help`
    /// opens it at the top).
    ShowHelp,
    /// Close the overlay or screen that took the key.
    Close,
}

impl Command {
    pub fn numbered(pending: Pending, build: impl FnOnce(u64) -> Request + 'static) -> Command {
        Command::SendNumbered(pending, Box::new(build))
    }

    pub fn notify(level: Level, text: impl Into<String>) -> Command {
        Command::Notify(level, text.into())
    }
}
