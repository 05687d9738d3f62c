//! Keeping a [`Room`] in step with the server: connection changes,
//! snapshots, events, presence, and the answers to our requests. The
//! room's state is the [`Replica`](super::Replica), with its resync rules
//! (a gap asks for a replay, an event that does not apply for a full
//! snapshot); this file adds the sections' local text, the cursors and the
//! history.
//!
//! After a reconnect we join with `since: <last revision>` and the server
//! replays what we missed (or sends a snapshot) — never a silent
//! divergence. Pending edits survive both: in-flight operations are re-sent
//! with their original `seq` (idempotent on the server), and on a snapshot
//! they are rebased onto the new text.

use std::time::Instant;

use serde_json::Value;
use trustroom_shared::change::{Change, Revision};
use trustroom_shared::protocol::{Ack, Request, RoomsResult, ServerFrame};
use trustroom_shared::view::Snapshot;

use super::connection::NetEvent;
use super::doc::{SectionDoc, rebase_pending};
use super::history;
use super::outbox::{Pending, authored_text};
use super::pending::RequestError;
use super::replica::Fit;
use super::room::{ConnState, Effect, Level, Room};

impl Room {
    /// Takes in what the network task reports.
    pub fn on_net(&mut self, ev: NetEvent) {
        match ev {
            NetEvent::Connecting { attempt } => {
                if attempt == 0 {
                    self.conn = ConnState::Connecting { attempt };
                }
            }
            NetEvent::Connected { user, name, client, .. } => {
                let was_down = matches!(self.conn, ConnState::Disconnected { .. });
                self.user = Some((user, name));
                if client != self.client {
                    tracing::debug!("server bound our client id {} to {client}", self.client);
                    self.client = client;
                }
                self.conn = ConnState::Syncing;
                if was_down {
                    self.notify(Level::Info, "reconnected — catching up");
                }
                self.join();
            }
            NetEvent::Disconnected { reason, retry_in, attempt } => {
                if !matches!(self.conn, ConnState::Disconnected { .. }) && self.replica.state.is_some() {
                    self.notify(Level::Error, format!("disconnected: {reason}; local edits are kept"));
                }
                self.conn = ConnState::Disconnected { reason, retry_at: Instant::now() + retry_in, attempt };
                self.presence.clear();
                self.last_cursor_sent = None;
            }
            NetEvent::Fatal(msg) => self.fail(msg),
            NetEvent::Frame(frame) => self.on_frame(frame),
            NetEvent::Reply { tag, result } => self.on_reply(tag, result),
        }
    }

    fn fail(&mut self, msg: String) {
        tracing::error!("{msg}");
        self.effects.push(Effect::Fatal(msg));
    }

    /// Joins (or rejoins) the room: with `since` when we hold a state.
    pub fn join(&mut self) {
        let Some(room) = self.id else {
            self.outbox.send(Request::Rooms, Pending::ResolveRoom);
            return;
        };
        let since = self.replica.join_since();
        self.outbox.send(Request::Join { room, since }, Pending::Join { full: since.is_none() });
    }

    /// Resyncs with the server: a replay of what we missed (`join` with
    /// `since`), or with `full` a fresh snapshot. Out-of-order events are
    /// dropped until the join's answer; the replay fills them in.
    pub fn resync(&mut self, why: &str, full: bool) {
        if !self.replica.start_resync(full) {
            return;
        }
        tracing::warn!("resync (full: {full}): {why}");
        self.notify(Level::Warn, format!("resyncing with the server ({why})"));
        if matches!(self.conn, ConnState::Connected | ConnState::Syncing) {
            self.conn = ConnState::Syncing;
            self.join();
        }
    }

    fn on_frame(&mut self, frame: ServerFrame) {
        match frame {
            ServerFrame::Snapshot { room, snapshot } if Some(room) == self.id => self.apply_snapshot(*snapshot),
            ServerFrame::Event { room, rev } if Some(room) == self.id => self.apply_event(*rev),
            ServerFrame::Presence { room, mut presence } if Some(room) == self.id => {
                if presence.client == self.client {
                    return;
                }
                if let Some(state) = &self.replica.state
                    && presence.revision < state.revision
                {
                    for op in self.history.ops_between(presence.section, presence.revision, state.revision) {
                        presence.pos = op.transform_index(presence.pos);
                        presence.anchor = presence.anchor.map(|a| op.transform_index(a));
                    }
                    presence.revision = state.revision;
                }
                self.presence.insert(presence.client, presence);
            }
            ServerFrame::PresenceGone { room, client } if Some(room) == self.id => {
                self.presence.remove(&client);
            }
            ServerFrame::Removed { room, reason } if Some(room) == self.id => {
                self.fail(format!("you were removed from the room: {reason}"));
            }
            ServerFrame::Closing { code, reason } => {
                self.notify(Level::Warn, format!("server closing the connection: error[{code}]: {reason}"));
            }
            ServerFrame::Error { code, message, .. } => {
                self.notify(Level::Error, format!("server error[{code}]: {message}"));
            }
            other => tracing::debug!("ignored frame {other:?}"),
        }
    }

    /// Takes a snapshot: the sections keep their pending edits, rebased
    /// onto the new text when they can be.
    pub fn apply_snapshot(&mut self, snap: Snapshot) {
        let old_state = self.replica.state.take();
        let applied_seq = snap.applied_seq.unwrap_or(0);
        let first = old_state.is_none();
        if first && let (Some(room), Some(user)) = (self.id, self.user.as_ref().map(|u| u.0)) {
            self.history.previous = history::load_last_looked(room, user);
        }
        self.docs.retain(|id, _| snap.state.section(*id).is_some());
        for s in &snap.state.sections {
            let Some(doc) = self.docs.get_mut(&s.id) else {
                self.docs.insert(s.id, SectionDoc::new(s.id, s.body.clone()));
                continue;
            };
            let op = if doc.has_pending() {
                rebase_pending(
                    doc,
                    old_state.as_ref().and_then(|o| o.section(s.id)).map(|x| x.body.as_str()),
                    &s.body,
                    applied_seq,
                )
            } else {
                Some(doc.reset(&s.body))
            };
            let op = op.unwrap_or_else(|| doc.reset(&s.body));
            self.effects.push(Effect::Text { section: s.id, op });
        }
        self.history.reset_from(&snap.state);
        self.presence = snap.presence.into_iter().filter(|p| p.client != self.client).map(|p| (p.client, p)).collect();
        self.me = Some(snap.me);
        self.content_hash = snap.content_hash;
        let title = snap.state.title.clone();
        self.replica.replace(snap.state);
        if first {
            tracing::info!("joined room {title}");
        }
        self.effects.push(Effect::Snapshot { first });
    }

    /// Applies the next event, or asks for what is missing.
    pub fn apply_event(&mut self, rev: Revision) {
        match self.replica.fit(&rev) {
            // Before the first snapshot, or a replay overlapping what we saw.
            Fit::NoState | Fit::Known => return,
            Fit::Gap { first, last } => {
                if !self.replica.resyncing {
                    self.resync(&format!("missed revisions {first}..{last}"), false);
                }
                return;
            }
            Fit::Next => {}
        }
        if let Err(e) = self.replica.apply(&rev) {
            self.resync(&format!("event {} does not apply: {e}", rev.revision), true);
            return;
        }
        let own = rev.client.is_some_and(|c| c.client == self.client);
        match &rev.change {
            Change::SectionEdited { section, op } => {
                self.history.record(*section, rev.revision, op.clone());
                for p in self.presence.values_mut().filter(|p| p.section == *section) {
                    p.pos = op.transform_index(p.pos);
                    p.anchor = p.anchor.map(|a| op.transform_index(a));
                    p.revision = rev.revision;
                }
                let seq = rev.client.map(|c| c.seq);
                let Some(doc) = self.docs.get_mut(section) else { return };
                let is_ack = own && doc.in_flight.is_some_and(|f| Some(f.seq) == seq);
                if is_ack {
                    if let Some(next) = doc.ack() {
                        self.send_edit(*section, next, None);
                    }
                } else {
                    match doc.remote(op) {
                        Ok(local) => self.effects.push(Effect::Text { section: *section, op: local }),
                        Err(e) => {
                            self.resync(&format!("remote edit does not line up: {e}"), true);
                            return;
                        }
                    }
                }
            }
            Change::SectionAdded { section, body, .. } => {
                self.history.section_added(*section, body, rev.revision);
                self.docs.insert(*section, SectionDoc::new(*section, body.clone()));
            }
            _ => {}
        }
        self.effects.push(Effect::Applied(Box::new(rev)));
    }

    fn on_reply(&mut self, tag: u64, result: Result<Value, RequestError>) {
        let Some((pending, request)) = self.outbox.answered(tag) else { return };
        let disconnected = matches!(result, Err(RequestError::Disconnected));
        if disconnected
            && pending.is_retriable()
            && let Some(request) = request
        {
            // Never lost: re-sent with the same seq after the rejoin, so the
            // server applies it exactly once even if it had arrived. Its
            // words also go to a file, in case this client ends first.
            let what =
                format!("{} not acknowledged yet — it is kept and re-sent when the connection is back", pending.noun());
            match authored_text(&request) {
                Some(text) => self.keep_words(&what, pending.noun(), text),
                None => self.notify(Level::Warn, what),
            }
            self.outbox.unsent.push((request, pending));
            return;
        }
        match (pending, result) {
            (Pending::Cursor, _) => {}
            (Pending::ResolveRoom, Ok(v)) => {
                let rooms: RoomsResult = match serde_json::from_value(v) {
                    Ok(r) => r,
                    Err(e) => return self.fail(format!("unreadable room list: {e}")),
                };
                match rooms.rooms.iter().find(|r| r.title == self.room_ref || r.id.to_string() == self.room_ref) {
                    Some(r) => {
                        self.id = Some(r.id);
                        self.join();
                    }
                    None => {
                        let names: Vec<String> = rooms.rooms.iter().map(|r| format!("\"{}\"", r.title)).collect();
                        self.fail(format!("no room \"{}\" among your rooms ({})", self.room_ref, names.join(", ")));
                    }
                }
            }
            (Pending::Join { .. }, Ok(_)) => {
                self.replica.synced();
                let syncing = self.conn == ConnState::Syncing;
                self.conn = ConnState::Connected;
                let edits = self.resend_pending();
                let requests = self.resend_unsent();
                self.last_cursor_sent = None;
                self.effects.push(Effect::Joined { syncing, edits, requests });
            }
            (Pending::Join { .. } | Pending::ResolveRoom, Err(e)) if !disconnected => {
                self.fail(format!("cannot open room \"{}\": {e}", self.room_ref));
            }
            (Pending::Edit { section, seq }, Ok(v)) => {
                let dup = serde_json::from_value::<Ack>(v).is_ok_and(|a| a.duplicate);
                let still = self.docs.get(&section).and_then(|d| d.in_flight).is_some_and(|f| f.seq == seq);
                if dup && still {
                    self.resync("a resent edit was already applied", true);
                }
            }
            (Pending::Edit { section, .. }, Err(e)) if !disconnected => {
                let why = match e.code() {
                    Some(trustroom_shared::protocol::ErrorCode::Restricted) => {
                        "your text holds restricted annex detail and was not stored or shown to anyone: reference the \
                         annex as [[annex:CODE]] or ask for a promotion"
                            .to_string()
                    }
                    _ => e.to_string(),
                };
                self.notify(Level::Error, format!("edit refused: {why}; the section shows the server's text again"));
                self.reset_section(section);
            }
            // Lost with the connection: the rejoin joins again and re-sends
            // the operations in flight.
            (Pending::Join { .. } | Pending::ResolveRoom | Pending::Edit { .. }, Err(_)) => {}
            (pending, result) => {
                // Words the connection lost (a request that is not re-sent)
                // go to a file the notice names. A refusal's words are
                // handed back with the answer instead: the front end shows
                // them again with the server's error, where they were written.
                let lost = disconnected.then(|| request.as_ref().and_then(authored_text)).flatten().map(str::to_string);
                let noun = pending.noun();
                self.effects.push(Effect::Answer { pending, result, request });
                if let Some(text) = lost {
                    self.keep_words(&format!("{noun}: not sent, the connection was lost"), noun, &text);
                }
            }
        }
    }

    /// After a (re)join: send every section's operation in flight again,
    /// with its original `seq` when it has one.
    fn resend_pending(&mut self) -> usize {
        let todo: Vec<_> = self
            .docs
            .values()
            .filter_map(|d| d.sync.in_flight().map(|op| (d.id, op.clone(), d.in_flight.map(|f| f.seq))))
            .collect();
        let n = todo.len();
        for (id, op, seq) in todo {
            tracing::info!("re-sending pending edit on {id} (seq {seq:?})");
            self.send_edit(id, op, seq);
        }
        n
    }

    /// After a (re)join: send again every request the connection lost
    /// before its answer, in the order they were made, with their `seq`.
    fn resend_unsent(&mut self) -> usize {
        let todo = std::mem::take(&mut self.outbox.unsent);
        let n = todo.len();
        for (request, pending) in todo {
            tracing::info!("re-sending unsent {} (seq {:?})", pending.noun(), request.seq());
            self.outbox.send(request, pending);
        }
        n
    }
}
