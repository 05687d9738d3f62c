//! Keeping the app in step with the server: connection changes, snapshots,
//! events, presence, and answers to our requests. The room itself is the
//! session layer's [`Replica`](crate::session::Replica), with its resync
//! rules (a gap asks for a replay, an event that does not apply for a full
//! snapshot); this file adds what the TUI shows and edits.
//!
//! After a reconnect we join with `since: <last revision>` and the server
//! replays what we missed (or sends a snapshot) — never a silent divergence. Pending
//! edits survive both: in-flight operations are re-sent with their original
//! `seq` (idempotent on the server), and on a snapshot they are rebased
//! onto the new text.

use std::time::Instant;

use serde_json::Value;
use trustroom_shared::change::{Change, Revision};
use trustroom_shared::protocol::{Ack, AnnexContent, Request, RoomsResult, ServerFrame};
use trustroom_shared::readiness::Readiness;
use trustroom_shared::release::ReleaseState;
use trustroom_shared::view::Snapshot;

use super::app::{AnnexOpen, App, ConnState, Level, Pending};
use crate::session::RequestError;
use crate::session::doc::{SectionDoc, rebase_pending};
use crate::session::history;
use crate::session::connection::NetEvent;
use crate::session::replica::Fit;

impl App {
    pub fn on_net(&mut self, ev: NetEvent) {
        self.dirty = true;
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
                self.join_room();
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
        self.exit_error = Some(msg);
        self.quit = true;
    }

    /// Joins (or rejoins) the room: with `since` when we hold a state.
    pub fn join_room(&mut self) {
        let Some(room) = self.room else {
            self.send(Request::Rooms, Pending::ResolveRoom);
            return;
        };
        let since = self.replica.join_since();
        self.send(Request::Join { room, since }, Pending::Join { full: since.is_none() });
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
            self.join_room();
        }
    }

    fn on_frame(&mut self, frame: ServerFrame) {
        match frame {
            ServerFrame::Snapshot { room, snapshot } if Some(room) == self.room => self.apply_snapshot(*snapshot),
            ServerFrame::Event { room, rev } if Some(room) == self.room => self.apply_event(*rev),
            ServerFrame::Presence { room, mut presence } if Some(room) == self.room => {
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
            ServerFrame::PresenceGone { room, client } if Some(room) == self.room => {
                self.presence.remove(&client);
            }
            ServerFrame::Removed { room, reason } if Some(room) == self.room => {
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

    pub fn apply_snapshot(&mut self, snap: Snapshot) {
        let old_state = self.replica.state.take();
        let applied_seq = snap.applied_seq.unwrap_or(0);
        let first = old_state.is_none();
        if first && let (Some(room), Some(user)) = (self.room, self.user.as_ref().map(|u| u.0)) {
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
            match op {
                Some(op) => {
                    if self.editor.section == Some(s.id) {
                        self.editor.apply_op(&op);
                    }
                }
                None => {
                    let op = doc.reset(&s.body);
                    if self.editor.section == Some(s.id) {
                        self.editor.apply_op(&op);
                    }
                }
            }
        }
        self.history.reset_from(&snap.state);
        self.presence = snap.presence.into_iter().filter(|p| p.client != self.client).map(|p| (p.client, p)).collect();
        self.me = Some(snap.me);
        self.content_hash = snap.content_hash;
        let title = snap.state.title.clone();
        self.replica.replace(snap.state);
        if first {
            self.current = 0;
            self.load_editor();
            tracing::info!("joined room {title}");
        } else if self.editor.section.is_some_and(|id| !self.docs.contains_key(&id)) {
            self.current = self.current.min(self.sections().len().saturating_sub(1));
            self.load_editor();
        }
        self.highlights_stale = true;
        self.state_changed();
    }

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
        let author = self.member_name(rev.author);
        let mine = Some(rev.author) == self.my_user();
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
                        Ok(local) => {
                            if self.editor.section == Some(*section) {
                                self.editor.apply_op(&local);
                                self.highlights_stale = true;
                            }
                        }
                        Err(e) => {
                            self.resync(&format!("remote edit does not line up: {e}"), true);
                            return;
                        }
                    }
                }
            }
            Change::SectionAdded { section, body, title, .. } => {
                self.history.section_added(*section, body, rev.revision);
                self.docs.insert(*section, SectionDoc::new(*section, body.clone()));
                // Keep the same section in view when one is inserted before it.
                if let Some(cur) = self.editor.section
                    && let Some(i) = self.sections().iter().position(|s| s.id == cur)
                {
                    self.current = i;
                }
                if !mine {
                    self.notify(Level::Info, format!("{author} added section \"{title}\""));
                }
            }
            Change::ObjectionRaised { objection } => {
                if !mine {
                    let section = self.section_title(objection.anchor.section);
                    let b = if objection.blocking { "blocking " } else { "" };
                    self.notify(
                        Level::Warn,
                        format!("new {b}objection {} by {author} on \"{section}\": {}", objection.code(), excerpt(&objection.text, 60)),
                    );
                }
            }
            Change::ReplyAdded { objection, reply } => {
                if !mine {
                    let code = self.objection_code(*objection);
                    self.notify(Level::Info, format!("{author} replied on {code}: {}", excerpt(&reply.text, 60)));
                }
            }
            Change::ObjectionStatusChanged { objection, change } => {
                let code = self.objection_code(*objection);
                self.notify(Level::Info, format!("{code} is now {} (by {author})", change.status));
            }
            Change::AnnexAdded { annex } => {
                self.notify(Level::Info, format!("annex {} \"{}\" added ({})", annex.code, annex.title, annex.classification));
            }
            Change::MemberAdded { member } => {
                self.notify(Level::Info, format!("{} joined as {}", member.name, member.role.label()));
            }
            Change::MemberRemoved { user } => {
                let name = self.member_name(*user);
                self.notify(Level::Info, format!("{name} was removed from the room"));
            }
            Change::ReleaseChanged { release } => {
                let text = match release {
                    ReleaseState::Drafting => "release state: DRAFTING".to_string(),
                    ReleaseState::Held { reasons, .. } => format!("HELD by {author}: {}", reasons.join("; ")),
                    ReleaseState::Ready { revision, .. } => format!("READY at rev {revision} (marked by {author})"),
                    ReleaseState::Released { revision, lane, .. } => {
                        format!("RELEASED rev {revision} to the {lane} lane by {author}")
                    }
                    ReleaseState::Escalated { reason, .. } => format!("ESCALATED by {author}: {reason} — the room is read-only"),
                };
                let level = if matches!(release, ReleaseState::Escalated { .. }) { Level::Error } else { Level::Info };
                self.notify(level, text);
                if release.is_read_only() {
                    self.editor.mode = super::editor::EditMode::Normal;
                }
            }
            Change::Cosigned { .. } => self.notify(Level::Info, format!("{author} co-signed the current content")),
            Change::ProbeSuspected { name, until_ms, .. } => self.notify(
                Level::Error,
                format!(
                    "ALERT: {name}'s requests kept hitting restricted detail (possible probe); their free-text requests are \
                     refused until {}",
                    trustroom_shared::export::utc(*until_ms)
                ),
            ),
            Change::ReleasePolicySet { .. } => self.notify(Level::Info, format!("{author} changed the release policy")),
            // Annex access governance: requests, grants, break-glass, checks.
            change if super::approvals::is_access(change) => {
                if let Some((level, text)) = super::approvals::notice(self, &rev) {
                    self.notify(level, text);
                }
            }
            // Kinds added to the protocol after this client was written.
            #[allow(unreachable_patterns)]
            other => self.notify(Level::Info, format!("{author}: {}", other.kind_name().replace('_', " "))),
        }
        self.state_changed();
    }

    fn section_title(&self, id: trustroom_shared::SectionId) -> String {
        self.replica.state.as_ref().and_then(|s| s.section(id)).map(|s| s.title.clone()).unwrap_or_default()
    }

    fn objection_code(&self, id: trustroom_shared::ObjectionId) -> String {
        self.replica
            .state
            .as_ref()
            .and_then(|s| s.objections.get(&id))
            .map(|o| o.code())
            .unwrap_or_else(|| "objection".into())
    }

    fn on_reply(&mut self, tag: u64, result: Result<Value, RequestError>) {
        let Some(pending) = self.pending.remove(&tag) else { return };
        let request = self.retriable.remove(&tag);
        let disconnected = matches!(result, Err(RequestError::Disconnected));
        if disconnected && let Some(request) = request {
            // Never lost: re-sent with the same seq after the rejoin, so the
            // server applies it exactly once even if it had arrived.
            self.notify(
                Level::Warn,
                format!("{} not acknowledged yet — it is kept and re-sent when the connection is back", pending.noun()),
            );
            self.unsent.push((request, pending));
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
                        self.room = Some(r.id);
                        self.join_room();
                    }
                    None => {
                        let names: Vec<String> = rooms.rooms.iter().map(|r| format!("\"{}\"", r.title)).collect();
                        self.fail(format!("no room \"{}\" among your rooms ({})", self.room_ref, names.join(", ")));
                    }
                }
            }
            (Pending::Join { .. }, Ok(_)) => {
                self.replica.synced();
                let rejoined = self.conn == ConnState::Syncing
                    && self.notices.back().is_some_and(|n| n.text.starts_with("reconnected"));
                self.conn = ConnState::Connected;
                let resent = self.resend_pending();
                let requests = self.resend_unsent();
                self.last_cursor_sent = None;
                if rejoined || resent > 0 || requests > 0 {
                    let rev = self.replica.state.as_ref().map_or(0, |s| s.revision);
                    let mut extra =
                        if resent > 0 { format!("; re-sent {resent} pending edit(s)") } else { String::new() };
                    if requests > 0 {
                        extra.push_str(&format!("; re-sent {requests} unsent request(s)"));
                    }
                    self.notify(Level::Info, format!("back in sync at rev {rev}{extra}"));
                }
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
            (Pending::Object, Ok(_)) => self.notify(Level::Info, "objection raised"),
            (Pending::Reply { code }, Ok(_)) => self.notify(Level::Info, format!("reply added to {code}")),
            (Pending::Status { code, status }, Ok(_)) => self.notify(Level::Info, format!("{code} marked {status}")),
            (Pending::ViewAnnex(id), Ok(v)) => {
                self.annexes.open = Some(match serde_json::from_value::<AnnexContent>(v) {
                    Ok(c) => AnnexOpen::Content(c),
                    Err(e) => AnnexOpen::Failed(id, format!("unreadable answer: {e}")),
                });
            }
            (Pending::ViewAnnex(id), Err(e)) => {
                self.annexes.open = Some(match e.code() {
                    Some(trustroom_shared::protocol::ErrorCode::Forbidden) => AnnexOpen::Gated(id),
                    _ => AnnexOpen::Failed(id, e.to_string()),
                });
            }
            (Pending::Readiness { then_cosign }, Ok(v)) => match serde_json::from_value::<Readiness>(v) {
                Ok(r) => {
                    if let Some(super::app::Overlay::Dialog(d)) = &mut self.overlay
                        && let super::forms::Dialog::Readiness(f) = d.as_mut()
                    {
                        f.record = r.clone();
                        f.server_checked = true;
                    }
                    if then_cosign && self.overlay.is_none() {
                        let form = super::forms::CosignForm::new(r.content_hash.clone(), r.content_revision);
                        let d = super::forms::Dialog::Cosign(form);
                        self.overlay = Some(super::app::Overlay::dialog(d));
                    }
                    self.server_readiness = Some(r);
                }
                Err(e) => tracing::warn!("unreadable readiness record: {e}"),
            },
            (Pending::Readiness { .. }, Err(e)) => tracing::info!("no readiness record from the server: {e}"),
            (Pending::Cosign, Ok(_)) => self.notify(Level::Info, "co-signed the current content"),
            (Pending::Decide { code, approve }, Ok(_)) => {
                self.notify(Level::Info, format!("{code} {}", if approve { "approved" } else { "denied" }));
            }
            (Pending::DecideSuggestion { code, accept }, Ok(_)) => {
                self.notify(Level::Info, format!("{code} {}", if accept { "accepted" } else { "rejected" }));
            }
            (Pending::Stats, Ok(v)) => self.on_stats(v),
            (Pending::Stats, Err(e)) => {
                if let Some(s) = &mut self.stats {
                    s.error = Some(e.to_string());
                }
            }
            (Pending::RequestAccess, Ok(_)) => {
                self.notify(Level::Info, "access requested — the owner decides; you will see the annex once granted");
            }
            (Pending::Hold, Ok(_)) => {}
            (Pending::MarkReady { then_release: Some((lane, audience)) }, Ok(_)) => {
                if let Some(room) = self.room {
                    self.send(Request::Release { room, lane, audience }, Pending::Release(lane));
                }
            }
            (Pending::MarkReady { .. } | Pending::Release(_) | Pending::Escalate, Ok(_)) => {}
            (p, Err(e)) => {
                let what = match p {
                    Pending::Object => "objection not raised",
                    Pending::Reply { .. } => "reply not added",
                    Pending::Status { .. } => "status not changed",
                    Pending::Hold => "hold refused",
                    Pending::MarkReady { .. } => "mark ready refused",
                    Pending::Release(_) => "release refused",
                    Pending::Escalate => "escalation refused",
                    Pending::Cosign => "co-signature refused",
                    Pending::RequestAccess => "access request refused",
                    Pending::Decide { .. } => "decision refused",
                    Pending::DecideSuggestion { accept: true, .. } => "accept refused",
                    Pending::DecideSuggestion { accept: false, .. } => "reject refused",
                    _ => "request failed",
                };
                if matches!(
                    p,
                    Pending::Hold
                        | Pending::MarkReady { .. }
                        | Pending::Release(_)
                        | Pending::Escalate
                        | Pending::Cosign
                ) {
                    // Decisions get the server's whole answer, not a cut line.
                    self.overlay = Some(super::app::Overlay::dialog(super::forms::Dialog::Message {
                        title: what.to_string(),
                        text: e.to_string(),
                    }));
                }
                if !matches!(p, Pending::Edit { .. } | Pending::Join { .. } | Pending::ResolveRoom) {
                    self.notify(Level::Error, format!("{what}: {e}"));
                }
                // The user's words survive a refusal (e.g. demoted while
                // offline): saved to a file the notice names.
                if let Some(text) = request.as_ref().and_then(authored_text) {
                    match super::actions::keep_text(p.noun(), text) {
                        Ok(path) => {
                            self.notify(Level::Warn, format!("your {} text is kept in {}", p.noun(), path.display()));
                        }
                        Err(err) => {
                            self.notify(Level::Error, format!("your {} text could not be saved: {err}", p.noun()));
                        }
                    }
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
        let todo = std::mem::take(&mut self.unsent);
        let n = todo.len();
        for (request, pending) in todo {
            tracing::info!("re-sending unsent {} (seq {:?})", pending.noun(), request.seq());
            self.send(request, pending);
        }
        n
    }

    /// Sends our cursor when it moved (called from the tick; skipped while
    /// edits are pending, since positions refer to the server's text).
    pub fn send_cursor_if_moved(&mut self) {
        if self.conn != ConnState::Connected || self.read_only_reason().is_some() {
            return;
        }
        let (Some(room), Some(section)) = (self.room, self.editor.section) else { return };
        if self.docs.get(&section).is_some_and(|d| d.has_pending()) {
            return;
        }
        let now = (section, self.editor.cursor_index(), self.editor.anchor_index());
        if self.last_cursor_sent == Some(now) {
            return;
        }
        self.last_cursor_sent = Some(now);
        self.send(Request::Cursor { room, section, pos: now.1, anchor: now.2 }, Pending::Cursor);
    }
}

/// The words a user typed into a request, if it carries any.
fn authored_text(request: &Request) -> Option<&str> {
    match request {
        Request::Object { text, .. } | Request::Reply { text, .. } => Some(text),
        Request::SetObjectionStatus { rationale: Some(r), .. } => Some(r),
        Request::RequestAccess { reason, .. } => Some(reason),
        _ => None,
    }
    .filter(|t| !t.trim().is_empty())
    .map(String::as_str)
}

fn excerpt(s: &str, n: usize) -> String {
    let one_line: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= n {
        one_line
    } else {
        format!("{}…", one_line.chars().take(n).collect::<String>())
    }
}
