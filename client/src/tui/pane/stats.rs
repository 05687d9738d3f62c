//! The stats screen: the room's working metrics (the server's `stats`
//! answer), asked for when the screen opens and on `r`; the chronology
//! timeline is drawn from the room itself (`trustroom_shared::timeline`).

use crossterm::event::{KeyCode, KeyEvent};
use serde_json::Value;
use trustroom_shared::protocol::Request;
use trustroom_shared::stats::RoomStats;

use super::{Command, Component, Ctx, Outcome};
use crate::session::outbox::Pending;
use crate::session::room::{Level, Room};
use crate::tui::action::Action;

#[derive(Clone, Debug, Default)]
pub struct StatsScreen {
    /// The newest figures from the server, when they arrived.
    pub stats: Option<RoomStats>,
    /// Why the figures could not be read.
    pub error: Option<String>,
    /// Room revision the figures were asked for.
    pub asked_at: u64,
}

impl StatsScreen {
    pub fn new(asked_at: u64) -> Self {
        StatsScreen { asked_at, ..StatsScreen::default() }
    }

    /// The request for the figures (none before the room is known).
    pub fn ask(room: &Room) -> Option<Command> {
        room.id.map(|room| Command::Send(Request::Stats { room }, Pending::Stats))
    }

    /// The server's figures arrived.
    pub fn answered(&mut self, v: Value) {
        match serde_json::from_value::<RoomStats>(v) {
            Ok(s) => {
                self.stats = Some(s);
                self.error = None;
            }
            Err(e) => self.error = Some(format!("unreadable figures: {e}")),
        }
    }
}

impl Component for StatsScreen {
    fn event(&mut self, key: KeyEvent, ctx: &Ctx<'_>) -> Outcome {
        match key.code {
            KeyCode::Esc | KeyCode::Char('q' | 'm') => Outcome::close(),
            KeyCode::Char('r') => {
                self.asked_at = ctx.room.replica.state.as_ref().map_or(0, |s| s.revision);
                let mut then: Vec<Command> = StatsScreen::ask(ctx.room).into_iter().collect();
                then.push(Command::notify(Level::Info, "refreshing the figures"));
                Outcome::Used(then)
            }
            KeyCode::Char('?') => Outcome::run(Action::Help),
            _ => Outcome::used(),
        }
    }
}
