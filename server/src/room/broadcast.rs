//! Fan-out to the room's subscribers: a subscriber whose queue is full is
//! disconnected (it resyncs when it returns).

use trustroom_shared::UserId;
use trustroom_shared::protocol::{ErrorCode, ServerFrame};

use super::Room;
use crate::metrics::METRICS;
use crate::outbox::{Frame, encode};

impl Room {
    /// Sends a frame to every subscriber (except `skip`); a subscriber whose
    /// queue is full is disconnected (it resyncs when it returns).
    pub(super) fn broadcast(&mut self, frame: &Frame, skip: Option<u64>) {
        self.broadcast_to(|id| (Some(id) != skip).then(|| frame.clone()));
    }

    /// Sends each subscriber its own frame (egress.rs filters per recipient).
    pub(super) fn broadcast_each(&mut self, frame_for: impl Fn(u64) -> Frame) {
        self.broadcast_to(|id| Some(frame_for(id)));
    }

    pub(super) fn broadcast_to(&mut self, frame_for: impl Fn(u64) -> Option<Frame>) {
        let mut stalled = Vec::new();
        for (id, sub) in &self.subscribers {
            let Some(frame) = frame_for(*id) else { continue };
            if !sub.conn.out.try_frame(frame) {
                stalled.push(*id);
            }
        }
        for id in stalled {
            if let Some(sub) = self.subscribers.remove(&id) {
                if sub.conn.out.is_closed() {
                    // Gone already; its Leave is on the way.
                    self.presence.remove(&sub.conn.client);
                    continue;
                }
                tracing::warn!(room = %self.id, conn = id, "subscriber stalled; disconnecting");
                METRICS.stalled();
                sub.conn.out.close_now(ErrorCode::TooLarge, "you fell too far behind; reconnect and resync");
                self.presence.remove(&sub.conn.client);
            }
        }
    }

    pub(super) fn cut_off(&mut self, user: UserId, reason: &str) {
        let watching: Vec<u64> =
            self.lane_watchers.iter().filter(|(_, w)| w.user() == user).map(|(id, _)| *id).collect();
        for id in watching {
            self.unwatch_lane(id);
        }
        let ids: Vec<u64> = self.subscribers.iter().filter(|(_, s)| s.conn.user == user).map(|(id, _)| *id).collect();
        for id in ids {
            if let Some(sub) = self.subscribers.remove(&id) {
                let frame = encode(&ServerFrame::Removed { room: self.id, reason: reason.to_string() });
                if !sub.conn.out.try_frame(frame) {
                    sub.conn.out.close_now(ErrorCode::NotFound, reason.to_string());
                }
                self.presence.remove(&sub.conn.client);
                let gone = encode(&ServerFrame::PresenceGone { room: self.id, client: sub.conn.client });
                self.broadcast(&gone, None);
            }
        }
    }
}
