//! The room actor's clock and timer: when the room must act by itself
//! next, waiting for that or the next command, and ending what is due.

use std::time::Duration;

use tokio::sync::mpsc;
use trustroom_shared::access::{self as acc, EndCause, Ended, SYSTEM};

use super::{ADMIN_ACTOR, Batch, Room, RoomCmd};

/// What wakes the room actor.
#[allow(clippy::large_enum_variant)] // one value at a time, moved at once
pub(super) enum Wake {
    Command(RoomCmd),
    /// The room must act by itself now (expiry, break-glass end, retention,
    /// checks to evaluate after opening).
    Deadline,
    /// Every handle is gone.
    Closed,
}

impl Room {
    /// The room's clock (the server's, or a test's manual clock).
    pub(super) fn now(&self) -> i64 {
        self.config.clock.now_ms()
    }

    /// When the room must act by itself next (`i64::MIN`: at once).
    fn access_deadline(&self) -> Option<i64> {
        if self.access.checks_dirty || self.access.purge_pending {
            return Some(i64::MIN);
        }
        acc::next_deadline(&self.state)
    }

    /// Waits for the next command or the room's next deadline on its
    /// clock, whichever comes first (deadlines win ties).
    pub(super) async fn wait_next(&mut self, rx: &mut mpsc::Receiver<RoomCmd>) -> Wake {
        let Some(at) = self.access_deadline() else {
            return rx.recv().await.map_or(Wake::Closed, Wake::Command);
        };
        let backoff = match self.access.retry {
            Some((d, until)) if d == at => Some(until),
            _ => None,
        };
        let sleep = self.config.clock.sleep_until(at);
        let timer = async move {
            if let Some(until) = backoff {
                tokio::time::sleep_until(until).await;
            }
            sleep.await;
        };
        tokio::select! {
            biased;
            _ = timer => Wake::Deadline,
            cmd = rx.recv() => cmd.map_or(Wake::Closed, Wake::Command),
        }
    }

    /// Acts on whatever is due: expired grants, ended break-glass, the
    /// retention purge; then the checks (in `flush`).
    pub(super) async fn on_deadline(&mut self) {
        let deadline = self.access_deadline();
        let now = self.now();
        let mut batch = Batch::default();
        self.end_due(&mut batch, now);
        if acc::retention_due_at(&self.state).is_some_and(|due| due <= now) {
            self.purge(&mut batch, now);
        }
        self.flush(batch).await;
        // Still due (storage refused the change?): try again in a second,
        // not in a busy loop.
        match deadline {
            Some(d) if d != i64::MIN && self.access_deadline() == Some(d) => {
                self.access.retry = Some((d, tokio::time::Instant::now() + Duration::from_secs(1)));
            }
            _ => self.access.retry = None,
        }
    }

    /// Ends every grant and break-glass whose time is up at `now`.
    fn end_due(&mut self, batch: &mut Batch, now: i64) {
        for grant in acc::due_grants(&self.state, now) {
            let ended = Ended { at_ms: now, by: SYSTEM, cause: EndCause::Expired, note: None };
            let _ = self.end_grant(batch, grant, ended, None);
        }
        for invocation in acc::due_break_glass(&self.state, now) {
            let ended = Ended { at_ms: now, by: SYSTEM, cause: EndCause::Expired, note: None };
            let _ = self.end_break_glass(batch, invocation, ended, ADMIN_ACTOR);
        }
    }
}
