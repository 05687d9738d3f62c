//! The stats screen's state: the room's working metrics (the server's
//! `stats` answer) and the chronology timeline (`trustroom_shared::timeline`).

use crossterm::event::{KeyCode, KeyEvent};
use serde_json::Value;
use trustroom_shared::protocol::Request;
use trustroom_shared::stats::RoomStats;
pub use trustroom_shared::timeline::{minutes, timeline};

use super::app::{App, Level, Pending};

/// The stats screen.
#[derive(Clone, Debug, Default)]
pub struct StatsView {
    /// The newest figures from the server, when they arrived.
    pub stats: Option<RoomStats>,
    /// Why the figures could not be read.
    pub error: Option<String>,
    /// Room revision the figures were asked for.
    pub asked_at: u64,
}

impl App {
    /// Opens the stats screen and asks the server for the figures.
    pub fn open_stats(&mut self) {
        let Some(state) = &self.room.replica.state else { return };
        let asked_at = state.revision;
        self.stats = Some(StatsView { asked_at, ..StatsView::default() });
        self.ask_stats();
    }

    fn ask_stats(&mut self) {
        if let Some(room) = self.room.id {
            self.room.outbox.send(Request::Stats { room }, Pending::Stats);
        }
    }

    /// The server's figures arrived.
    pub fn on_stats(&mut self, v: Value) {
        let Some(view) = &mut self.stats else { return };
        match serde_json::from_value::<RoomStats>(v) {
            Ok(s) => {
                view.stats = Some(s);
                view.error = None;
            }
            Err(e) => view.error = Some(format!("unreadable figures: {e}")),
        }
    }

    /// Keys on the stats screen.
    pub fn stats_key(&mut self, key: KeyEvent) {
        match key.code {
            KeyCode::Esc | KeyCode::Char('q' | 'm') => self.stats = None,
            KeyCode::Char('r') => {
                if let Some(v) = &mut self.stats {
                    v.asked_at = self.room.replica.state.as_ref().map_or(0, |s| s.revision);
                }
                self.ask_stats();
                self.notify(Level::Info, "refreshing the figures");
            }
            KeyCode::Char('?') => self.run_action(super::actions::Action::Help),
            _ => {}
        }
    }
}
