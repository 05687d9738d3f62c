//! The egress filter: every frame the room sends is filtered for its
//! recipient. Text matching an annex's declared patterns is masked
//! (trustroom_shared::restricted::MASK, char for char, so text operations
//! still apply) for every recipient who may not read that annex, in
//! events, snapshots, catch-up events and answers to requests alike.
//!
//! The ingress gate (gate.rs) keeps new restricted detail out; this filter
//! covers what was there before its pattern was declared (an annex or a
//! pattern added later) and anything a future request kind forgets. The
//! one exemption is a passage an owner approved for promotion: it belongs
//! to the packet, for every member.
//!
//! Frames without any match (the usual case) are encoded once and their
//! bytes shared by every recipient, as before; only a frame that matches
//! is masked, once per distinct set of hidden annexes.

use std::collections::{BTreeSet, HashMap};

use serde_json::Value;
use trustroom_shared::UserId;
use trustroom_shared::access::{access_via, promoted_passages};
use trustroom_shared::change::Revision;
use trustroom_shared::ids::AnnexId;
use trustroom_shared::protocol::ServerFrame;
use trustroom_shared::restricted::Matcher;

use super::{Answer, Room};
use crate::outbox::{Frame, encode};

/// Masks every string in `value` for a recipient who may not read `hidden`.
fn mask_value(matcher: &Matcher, value: &mut Value, hidden: &BTreeSet<AnnexId>, promoted: &[String]) -> bool {
    matcher.mask_json_except(value, &|a| hidden.contains(&a), promoted)
}

impl Room {
    /// The annexes `user` may not read right now.
    pub(super) fn hidden_for(&self, user: UserId) -> BTreeSet<AnnexId> {
        let now = self.now();
        self.state.annexes.keys().copied().filter(|a| access_via(&self.state, user, *a, Some(now)).is_none()).collect()
    }

    fn promoted_texts(&self) -> Vec<String> {
        promoted_passages(&self.state).into_iter().map(|(_, p)| p.to_string()).collect()
    }

    /// Filters a JSON value for `user` in place.
    pub(super) fn egress_value(&mut self, user: UserId, value: &mut Value) {
        let hidden = self.hidden_for(user);
        if hidden.is_empty() || self.matcher().is_empty() {
            return;
        }
        let promoted = self.promoted_texts();
        let matcher = self.matcher();
        mask_value(matcher, value, &hidden, &promoted);
    }

    /// Filters an answer (its result, or its refusal message) for `user`.
    pub(super) fn egress_answer(&mut self, user: UserId, answer: Answer) -> Answer {
        match answer {
            Ok(mut v) => {
                self.egress_value(user, &mut v);
                Ok(v)
            }
            Err((code, message)) => {
                let mut v = Value::String(message);
                self.egress_value(user, &mut v);
                Err((code, v.as_str().unwrap_or_default().to_string()))
            }
        }
    }

    /// One frame for `user`, filtered.
    pub(super) fn egress_frame(&mut self, user: UserId, frame: &ServerFrame) -> Frame {
        if self.matcher().is_empty() || self.hidden_for(user).is_empty() {
            return encode(frame);
        }
        match serde_json::to_value(frame) {
            Ok(mut v) => {
                self.egress_value(user, &mut v);
                Frame::from(v.to_string())
            }
            Err(_) => encode(frame),
        }
    }

    /// Broadcasts one accepted revision, filtered per recipient.
    pub(super) fn broadcast_revision(&mut self, rev: &Revision) {
        let event = ServerFrame::Event { room: self.id, rev: Box::new(rev.redacted()) };
        let shared = encode(&event);
        if self.matcher().is_empty() {
            self.broadcast(&shared, None);
            return;
        }
        let Ok(value) = serde_json::to_value(&event) else {
            self.broadcast(&shared, None);
            return;
        };
        if !self.matcher().any_in_json(&value) {
            self.broadcast(&shared, None);
            return;
        }
        // Masked once per distinct set of hidden annexes.
        let promoted = self.promoted_texts();
        let mut by_hidden: HashMap<BTreeSet<AnnexId>, Frame> = HashMap::new();
        let mut frames: HashMap<u64, Frame> = HashMap::new();
        let users: Vec<(u64, UserId)> = self.subscribers.iter().map(|(id, s)| (*id, s.conn.user)).collect();
        for (conn_id, user) in users {
            let hidden = self.hidden_for(user);
            let frame = match by_hidden.get(&hidden) {
                Some(f) => f.clone(),
                None => {
                    let mut v = value.clone();
                    let f = if mask_value(self.matcher(), &mut v, &hidden, &promoted) {
                        Frame::from(v.to_string())
                    } else {
                        shared.clone()
                    };
                    by_hidden.insert(hidden, f.clone());
                    f
                }
            };
            frames.insert(conn_id, frame);
        }
        self.broadcast_each(|conn_id| frames.get(&conn_id).cloned().unwrap_or_else(|| shared.clone()));
    }
}
