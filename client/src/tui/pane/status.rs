//! The status bar and the notification line above it: the notices the user
//! was given, and the readiness record the blocker count comes from — the
//! server's when it is for the current revision (it also checks the annex
//! boundary, which needs patterns a client never receives), else our own.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use trustroom_shared::protocol::Request;
use trustroom_shared::readiness::{Readiness, readiness};
use trustroom_shared::room::RoomState;

use crate::session::outbox::Pending;
use crate::session::room::{ConnState, Level, Room};

/// How long a notification stays bright on the notification line.
pub const NOTICE_FRESH: Duration = Duration::from_secs(20);

/// Notices kept (the newest is shown; the message history lists them all).
pub const NOTICES_KEPT: usize = 200;

/// Where a notice comes from (the message history can show one kind).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoticeKind {
    /// What the app tells the user about their own actions and the connection.
    Notice,
    /// The server refused a request the user made.
    Refusal,
    /// Something someone (or the room) did: an announcement of an event.
    Room,
}

impl NoticeKind {
    pub fn name(self) -> &'static str {
        match self {
            NoticeKind::Notice => "notice",
            NoticeKind::Refusal => "refused",
            NoticeKind::Room => "room",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Notice {
    pub text: String,
    pub level: Level,
    pub kind: NoticeKind,
    /// When it was given, for the notification line's freshness.
    pub at: Instant,
    /// When it was given, wall clock (ms since the epoch), for the history.
    pub at_ms: i64,
}

#[derive(Clone, Debug, Default)]
pub struct StatusBar {
    pub notices: VecDeque<Notice>,
    /// Our own readiness record (see [`StatusBar::refresh`]).
    pub readiness: Option<Readiness>,
    /// The server's readiness record.
    pub server_readiness: Option<Readiness>,
    /// Revision and time of the last readiness request.
    pub readiness_asked: Option<(u64, Instant)>,
}

impl StatusBar {
    /// A notice of a kind (a refusal, a room event); the history keeps it.
    pub fn push_kind(&mut self, kind: NoticeKind, level: Level, text: String) {
        tracing::info!(target: "trustroom::notice", "{}: {text}", kind.name());
        let at_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        self.notices.push_back(Notice { text, level, kind, at: Instant::now(), at_ms });
        while self.notices.len() > NOTICES_KEPT {
            self.notices.pop_front();
        }
    }

    /// The notice for the notification line, if any is fresh.
    pub fn current_notice(&self, now: Instant) -> Option<&Notice> {
        self.notices.back().filter(|n| now.duration_since(n.at) < NOTICE_FRESH)
    }

    /// Recomputes our own readiness record.
    pub fn refresh(&mut self, state: &RoomState) {
        self.readiness = Some(readiness(state));
    }

    /// The readiness record to show: the server's when it is for the
    /// current revision, else our own (without the annex-boundary check).
    pub fn current_readiness(&self, room: &Room) -> Option<&Readiness> {
        let rev = room.replica.state.as_ref()?.revision;
        match &self.server_readiness {
            Some(r) if r.revision == rev => Some(r),
            _ => self.readiness.as_ref(),
        }
    }

    /// Asks the server for its readiness record when the room moved on
    /// (at most once a second; called from the tick).
    pub fn ask_readiness(&mut self, room: &mut Room, now: Instant) {
        let (Some(id), Some(state)) = (room.id, &room.replica.state) else { return };
        if room.conn != ConnState::Connected {
            return;
        }
        let rev = state.revision;
        let due = match self.readiness_asked {
            None => true,
            Some((r, at)) => r != rev && now.duration_since(at) >= Duration::from_secs(1),
        };
        if due && self.server_readiness.as_ref().is_none_or(|r| r.revision != rev) {
            self.readiness_asked = Some((rev, now));
            room.outbox.send(Request::Readiness { room: id }, Pending::Readiness { then_cosign: false });
        }
    }
}
