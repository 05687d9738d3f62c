//! Subscribers joining (events to catch up, or a snapshot) and leaving.

use serde_json::json;
use tokio::sync::oneshot;
use trustroom_shared::change::Revision;
use trustroom_shared::protocol::{ErrorCode, Presence, Request, ServerFrame};
use trustroom_shared::view::snapshot_for;

use super::{Answer, Batch, Room, Subscriber};
use crate::outbox::{ConnInfo, encode};

impl Room {
    pub(super) fn join(
        &mut self,
        conn: ConnInfo,
        since: Option<u64>,
        reply: oneshot::Sender<Answer>,
        batch: &mut Batch,
    ) {
        let user = conn.user;
        let Some(member) = self.state.member(user) else {
            let answer = self.refuse(batch, user, "join", crate::hub::room_not_found());
            batch.replies.push((reply, answer));
            return;
        };
        // Joining needs the table's capability for `join` (downstream
        // members lack it: they never see the room, only their lane).
        let role = member.role;
        let needs = Request::Join { room: self.id, since }.capability();
        if !trustroom_shared::access::capabilities_of(&self.state, user, &role).contains(&needs) {
            let msg = format!("your role ({}) may not join the room", role.label());
            let answer = self.refuse(batch, user, "join", (ErrorCode::Forbidden, msg));
            batch.replies.push((reply, answer));
            return;
        }
        let oldest_kept = self.history.front().map_or(self.state.revision + 1, |r| r.revision);
        // Catch up with events when we still hold them all and they fit the
        // connection's queue comfortably; otherwise send a snapshot.
        let catch_up = since.filter(|s| {
            *s <= self.state.revision
                && *s + 1 >= oldest_kept
                && (self.state.revision - *s) as usize <= self.config.outbox_frames / 2
        });
        let delivered = match catch_up {
            Some(s) => {
                let missed: Vec<Revision> = self.history.iter().filter(|r| r.revision > s).cloned().collect();
                missed.iter().all(|rev| {
                    let frame =
                        self.egress_frame(user, &ServerFrame::Event { room: self.id, rev: Box::new(rev.redacted()) });
                    conn.out.try_frame(frame)
                })
            }
            None => {
                let applied = self.client_seqs.get(&conn.client).copied();
                let presence: Vec<Presence> = self.presence.values().cloned().collect();
                match snapshot_for(&self.state, user, applied, presence) {
                    Some(snapshot) => {
                        let frame = self
                            .egress_frame(user, &ServerFrame::Snapshot { room: self.id, snapshot: Box::new(snapshot) });
                        conn.out.try_frame(frame)
                    }
                    None => false,
                }
            }
        };
        if !delivered {
            conn.out.close_now(ErrorCode::TooLarge, "your connection cannot take the room's state; reconnect");
            batch.replies.push((reply, Err((ErrorCode::Unavailable, "could not deliver the room state".into()))));
            return;
        }
        self.audit(batch, &user.to_string(), "room.join", json!({"since": since, "catch_up": catch_up.is_some()}));
        self.subscribers.insert(conn.conn_id, Subscriber { conn });
        batch.join_replies.push((reply, Ok(json!({"revision": self.state.revision}))));
    }

    pub(super) fn leave(&mut self, conn_id: u64) {
        self.unwatch_lane(conn_id);
        if let Some(sub) = self.subscribers.remove(&conn_id)
            && self.presence.remove(&sub.conn.client).is_some()
        {
            let gone = encode(&ServerFrame::PresenceGone { room: self.id, client: sub.conn.client });
            self.broadcast(&gone, None);
        }
    }
}
