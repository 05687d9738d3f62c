//! One room as this client holds it: who we are in it, the replica of the
//! server's state with its resync rules, each section's text with our
//! pending edits (the per-section OT client), other members' cursors, the
//! section bodies at past revisions, and the ledger of our requests.
//!
//! A front end feeds it what the network task reports
//! ([`Room::on_net`], in `sync.rs`) and the user's edits ([`Room::local_op`]
//! and its kin), and reads back what happened as [`Effect`]s, in order:
//! what to tell the user, which section text moved, what was applied. It
//! knows nothing of terminals; the TUI keeps only what is about the screen.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

use serde_json::Value;
use trustroom_shared::change::Revision;
use trustroom_shared::ot::{OpError, TextOp};
use trustroom_shared::policy::Capability;
use trustroom_shared::protocol::{Presence, Request};
use trustroom_shared::room::Section;
use trustroom_shared::view::MemberSelf;
use trustroom_shared::{AnnexId, ClientId, ObjectionId, RoomId, SectionId, UserId};

use super::Replica;
use super::doc::{EditOrigin, InFlight, SectionDoc};
use super::history::History;
use super::outbox::{Outbox, Pending, keep_text};
use super::pending::RequestError;
use super::splice::Splice;

/// Where the connection is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConnState {
    Connecting {
        attempt: u32,
    },
    /// Connected; waiting for the join to finish (catching up).
    Syncing,
    Connected,
    Disconnected {
        reason: String,
        retry_at: Instant,
        attempt: u32,
    },
}

/// How much a notice matters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Info,
    Warn,
    Error,
}

/// What happened to the room, for the front end, in the order it happened.
#[derive(Debug)]
pub enum Effect {
    /// Something to tell the user.
    Notice(Level, String),
    /// The local text of `section` changed by `op` (someone else's edit, a
    /// rebase onto a snapshot, a reset to the server's text): a view of the
    /// section moves with it.
    Text { section: SectionId, op: TextOp },
    /// A snapshot replaced the room's state (`first`: the first one).
    Snapshot { first: bool },
    /// An event was applied to the room and to the sections' text.
    Applied(Box<Revision>),
    /// The join was answered: in step again. `syncing`: we were catching
    /// up after a (re)connect; how many edits and requests were re-sent.
    Joined { syncing: bool, edits: usize, requests: usize },
    /// The answer to a request the room does not act on itself, with the
    /// request when it carries the user's words or may be re-sent (so a
    /// refusal can give the words back where they were written).
    Answer { pending: Pending, result: Result<Value, RequestError>, request: Option<Request> },
    /// The session cannot go on (refused, removed, no such room).
    Fatal(String),
}

/// An active break-glass invocation: (code, who, annex codes, reason, ends_at_ms).
pub type BreakGlassLine = (String, String, Vec<String>, String, i64);

pub struct Room {
    /// The room as the user named it (id or exact title).
    pub room_ref: String,
    /// The room's id, once known (from `room_ref` or the room list).
    pub id: Option<RoomId>,
    /// Our client id (the server may bind another in `welcome`).
    pub client: ClientId,
    pub conn: ConnState,
    /// Who the server says we are (from `welcome`).
    pub user: Option<(UserId, String)>,
    pub me: Option<MemberSelf>,
    /// The room as the server has it (`replica.state`, at its revision),
    /// kept in step by the replica's rules.
    pub replica: Replica,
    pub content_hash: String,
    /// Each section's local text: the server's with our pending edits.
    pub docs: HashMap<SectionId, SectionDoc>,
    /// Other members' cursors, positions in server text at `state.revision`.
    pub presence: HashMap<ClientId, Presence>,
    pub history: History,
    pub outbox: Outbox,
    pub(super) last_cursor_sent: Option<(SectionId, usize, Option<usize>)>,
    /// Where refused words are kept (`<log dir>/unsent`).
    unsent_dir: PathBuf,
    pub(super) effects: Vec<Effect>,
}

impl Room {
    /// `room_ref` is the room's id or exact title; refused words are saved
    /// under `unsent_dir`.
    pub fn new(room_ref: String, client: ClientId, unsent_dir: PathBuf) -> Room {
        Room {
            id: room_ref.parse::<RoomId>().ok(),
            room_ref,
            client,
            conn: ConnState::Connecting { attempt: 0 },
            user: None,
            me: None,
            replica: Replica::default(),
            content_hash: String::new(),
            docs: HashMap::new(),
            presence: HashMap::new(),
            history: History::default(),
            outbox: Outbox::default(),
            last_cursor_sent: None,
            unsent_dir,
            effects: Vec::new(),
        }
    }

    /// What happened since the last call, in order.
    pub fn take_effects(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.effects)
    }

    pub(super) fn notify(&mut self, level: Level, text: impl Into<String>) {
        self.effects.push(Effect::Notice(level, text.into()));
    }

    // ----- identity and permissions -----

    pub fn my_user(&self) -> Option<UserId> {
        self.me.as_ref().map(|m| m.user).or(self.user.as_ref().map(|u| u.0))
    }

    pub fn can(&self, cap: Capability) -> bool {
        self.me.as_ref().is_some_and(|m| m.capabilities.contains(&cap))
    }

    pub fn is_owner(&self) -> bool {
        self.can(Capability::DecideRelease)
    }

    pub fn role_label(&self) -> String {
        self.me.as_ref().map(|m| m.role.label()).unwrap_or_else(|| "…".into())
    }

    /// Why the packet is read-only for us, if it is.
    pub fn read_only_reason(&self) -> Option<String> {
        let me = self.me.as_ref()?;
        if !me.capabilities.contains(&Capability::Edit) {
            return Some(format!("read-only: {}", me.role.label()));
        }
        if self.replica.state.as_ref().is_some_and(|s| s.release.is_read_only()) {
            return Some("read-only: escalated".into());
        }
        None
    }

    /// Whether the room's records let us read `annex` now (need-to-know,
    /// an active grant or break-glass), recomputed as events arrive.
    pub fn has_annex_access(&self, annex: AnnexId) -> bool {
        let Some(me) = &self.me else { return false };
        match &self.replica.state {
            Some(state) => trustroom_shared::access::annex_access(state, me.user).contains(&annex),
            None => me.annex_access.contains(&annex),
        }
    }

    /// Active break-glass invocations.
    pub fn break_glass(&self) -> Vec<BreakGlassLine> {
        let Some(state) = &self.replica.state else { return Vec::new() };
        trustroom_shared::access::active_break_glass(state)
            .map(|b| {
                let annexes = b.annexes.iter().filter_map(|a| state.annexes.get(a)).map(|a| a.code.clone()).collect();
                (format!("BG-{}", b.number), self.member_name(b.user), annexes, b.reason.clone(), b.ends_at)
            })
            .collect()
    }

    pub fn member_name(&self, user: UserId) -> String {
        trustroom_shared::members::name_or_short_id(self.replica.state.as_ref(), user)
    }

    // ----- sections and objections -----

    pub fn sections(&self) -> &[Section] {
        self.replica.state.as_ref().map_or(&[], |s| s.sections.as_slice())
    }

    pub fn section_title(&self, id: SectionId) -> String {
        self.replica.state.as_ref().and_then(|s| s.section(id)).map(|s| s.title.clone()).unwrap_or_default()
    }

    pub fn objection_code(&self, id: ObjectionId) -> String {
        self.replica
            .state
            .as_ref()
            .and_then(|s| s.objections.get(&id))
            .map(|o| o.code())
            .unwrap_or_else(|| "objection".into())
    }

    /// Names of other members with a cursor in `section`.
    pub fn editing_in(&self, section: SectionId) -> Vec<(UserId, String)> {
        let mut out: Vec<(UserId, String)> = Vec::new();
        for p in self.presence.values() {
            if p.section == section && Some(p.user) != self.my_user() && !out.iter().any(|(u, _)| *u == p.user) {
                out.push((p.user, p.name.clone()));
            }
        }
        out.sort_by(|a, b| a.1.cmp(&b.1));
        out
    }

    /// Edits or requests the server has not acknowledged yet.
    pub fn has_unacknowledged(&self) -> bool {
        self.docs.values().any(|d| d.has_pending()) || self.outbox.waiting() > 0
    }

    // ----- local edits -----

    /// A local edit made as a splice (a key in the editor). An error means
    /// the splice does not fit the section's text (the caller then sends
    /// the diff of the whole text, [`Room::replace_text`]).
    pub fn local_splice(&mut self, id: SectionId, splice: &Splice) -> Result<(), OpError> {
        let Some(doc) = self.docs.get_mut(&id) else { return Ok(()) };
        if let Some(send) = doc.local_splice(splice, EditOrigin::Typed, Instant::now())? {
            self.send_edit(id, send, None);
        }
        Ok(())
    }

    /// The section's local text became `text` in a way no splice describes:
    /// the diff against the section is recorded and sent.
    pub fn replace_text(&mut self, id: SectionId, text: &str) {
        let Some(doc) = self.docs.get(&id) else { return };
        let op = TextOp::from_texts(&doc.text, text);
        if op.is_noop() {
            return;
        }
        self.local_op(id, op, EditOrigin::Typed);
    }

    /// Records and sends a local operation on section `id`.
    pub fn local_op(&mut self, id: SectionId, op: TextOp, origin: EditOrigin) {
        let Some(doc) = self.docs.get_mut(&id) else { return };
        match doc.local(op, origin, Instant::now()) {
            Ok(Some(send)) => self.send_edit(id, send, None),
            Ok(None) => {}
            Err(e) => {
                tracing::error!("local edit does not apply: {e}");
                self.notify(Level::Error, format!("edit could not be recorded: {e}"));
                self.reset_section(id);
            }
        }
    }

    /// Sends the operation in flight for `id`; `seq` is reused on resends.
    pub fn send_edit(&mut self, id: SectionId, op: TextOp, seq: Option<u64>) {
        let (Some(room), Some(state)) = (self.id, &self.replica.state) else { return };
        let base = state.revision;
        let seq = seq.unwrap_or_else(|| self.outbox.next_seq());
        if let Some(doc) = self.docs.get_mut(&id) {
            doc.in_flight = Some(InFlight { seq });
        }
        self.outbox.send(
            Request::Edit { room, section: id, base, op: op.to_wire(), seq: Some(seq) },
            Pending::Edit { section: id, seq },
        );
    }

    /// Shows the server's text of `id` again, dropping local pending edits
    /// from the document — but never the user's words: when the local text
    /// differs, it is first saved to a file whose path is told.
    pub fn reset_section(&mut self, id: SectionId) {
        let Some(body) = self.replica.state.as_ref().and_then(|s| s.section(id)).map(|s| s.body.clone()) else {
            return;
        };
        let Some(doc) = self.docs.get_mut(&id) else { return };
        let kept = (doc.text != body).then(|| keep_text(&self.unsent_dir, &id.to_string(), &doc.text));
        let op = doc.reset(&body);
        match kept {
            Some(Ok(path)) => self.notify(Level::Warn, format!("your unsent text is kept in {}", path.display())),
            Some(Err(e)) => self.notify(Level::Error, format!("your unsent text could not be saved: {e}")),
            None => {}
        }
        self.effects.push(Effect::Text { section: id, op });
    }

    /// Saves the words of a request the connection lost (never one the
    /// server refused: a refusal gives them back where they were written)
    /// under the unsent directory; says where, after `what` happened.
    pub(super) fn keep_words(&mut self, what: &str, noun: &str, text: &str) {
        match keep_text(&self.unsent_dir, noun, text) {
            Ok(path) => self.notify(Level::Warn, format!("{what}; your {noun} text is kept in {}", path.display())),
            Err(err) => self.notify(Level::Error, format!("{what}; your {noun} text could not be saved: {err}")),
        }
    }

    /// Sends our cursor in `section` when it moved (skipped while edits are
    /// pending there, since positions refer to the server's text).
    pub fn send_cursor(&mut self, section: SectionId, pos: usize, anchor: Option<usize>) {
        if self.conn != ConnState::Connected || self.read_only_reason().is_some() {
            return;
        }
        let Some(room) = self.id else { return };
        if self.docs.get(&section).is_some_and(|d| d.has_pending()) {
            return;
        }
        let now = (section, pos, anchor);
        if self.last_cursor_sent == Some(now) {
            return;
        }
        self.last_cursor_sent = Some(now);
        self.outbox.send(Request::Cursor { room, section, pos, anchor }, Pending::Cursor);
    }
}
