//! The reconnecting editor: edits one section through `SectionSync`, raises objections and replies, resends what was not acknowledged.

use super::*;

/// What an editor does each step.
#[derive(Clone, Copy, Debug)]
pub struct Mix {
    /// Percent of steps that raise an objection (the rest edit).
    pub object: u64,
    /// Percent of steps that reply to an objection.
    pub reply: u64,
    /// Percent of reconnects delayed by 300–700 ms (the room moves on
    /// meanwhile, so the catch-up may come as a snapshot).
    pub away: u64,
}

#[derive(Clone, Debug)]
pub(crate) enum Kind {
    Edit,
    Object,
    Reply(ObjectionId),
}

/// An operation sent and not yet acknowledged.
#[derive(Clone, Debug)]
pub(crate) struct Outstanding {
    pub(crate) seq: u64,
    pub(crate) kind: Kind,
    pub(crate) marker: String,
    pub(crate) id: String,
}

/// What an editor ends with.
#[derive(Debug, Default, Clone)]
pub struct EditorReport {
    pub name: String,
    pub client: Option<ClientId>,
    /// Markers of every operation acknowledged (`ok` or own event), by kind.
    pub acked_edits: Vec<String>,
    pub acked_objections: Vec<String>,
    pub acked_replies: Vec<String>,
    /// Markers sent at least once (acknowledged or not).
    pub sent: Vec<String>,
    pub connects: u32,
    pub resent: u32,
    pub duplicates: u32,
    pub closings: Vec<String>,
    pub snapshots: u32,
    pub catchups: u32,
    /// Refusals that should never happen.
    pub errors: Vec<String>,
    /// Room revision of the first snapshot, and events from other clients
    /// received after it (for reach).
    pub first_revision: Option<u64>,
    pub received_from_others: u64,
    /// The room state and section text at the end.
    pub state: Option<RoomState>,
    pub text: String,
}

pub struct Editor {
    pub name: String,
    token: String,
    /// The client id this editor claims in `hello`.
    claimed: ClientId,
    /// The id the server bound it to (set at each connect).
    client: ClientId,
    room: RoomId,
    section: SectionId,
    mix: Mix,
    rng: Rng,
    state: Option<RoomState>,
    sync: SectionSync,
    /// `seq` and marker of the edit in flight.
    edit: Option<Outstanding>,
    others: Vec<Outstanding>,
    next_seq: u64,
    next_id: u64,
    joined: bool,
    join_id: Option<String>,
    report: EditorReport,
    burst_seen: u64,
    fanout: Arc<Fanout>,
    idle_reported: bool,
}

impl Editor {
    pub fn new(name: &str, token: &str, room: RoomId, section: SectionId, mix: Mix, seed: u64) -> Editor {
        let client = ClientId::new();
        Editor {
            name: name.to_string(),
            token: token.to_string(),
            claimed: client,
            client,
            room,
            section,
            mix,
            rng: Rng::new(seed),
            state: None,
            sync: SectionSync::default(),
            edit: None,
            others: Vec::new(),
            next_seq: 0,
            next_id: 0,
            joined: false,
            join_id: None,
            report: EditorReport { name: name.to_string(), client: Some(client), ..Default::default() },
            burst_seen: 0,
            fanout: Arc::new(Fanout::default()),
            idle_reported: false,
        }
    }

    pub(crate) fn id(&mut self) -> String {
        self.next_id += 1;
        format!("{}-{}", self.name, self.next_id)
    }

    pub(crate) fn busy(&self) -> bool {
        self.edit.is_some() || !self.others.is_empty()
    }

    /// Runs until `stop` is set and nothing is outstanding (or `deadline`).
    pub async fn run(mut self, mut ctl: Control, deadline: Instant) -> EditorReport {
        self.fanout = ctl.fanout.clone();
        let mut attempt = 0u32;
        let mut was_away = false;
        loop {
            if Instant::now() > deadline {
                self.report.errors.push(format!("{}: deadline reached while busy={}", self.name, self.busy()));
                break;
            }
            if self.done(&ctl) && self.joined {
                break;
            }
            let url = ctl.url.borrow().clone();
            let ws = match connect_bound(&url, &self.token, self.claimed).await {
                Ok((ws, bound)) => {
                    // Events carry the id the server bound ours to.
                    self.client = bound;
                    self.report.client = Some(bound);
                    ws
                }
                Err(_) => {
                    // Backoff with jitter, short: the test restarts the server quickly.
                    attempt = attempt.saturating_add(1);
                    let base = 10u64 << attempt.min(4);
                    let wait = base + self.rng.below(base as usize + 1) as u64;
                    let _ = tokio::time::timeout(Duration::from_millis(wait), ctl.url.changed()).await;
                    continue;
                }
            };
            if !was_away && self.report.connects > 0 && self.rng.chance(self.mix.away) {
                was_away = true;
                drop(ws);
                tokio::time::sleep(Duration::from_millis(300 + self.rng.below(400) as u64)).await;
                continue;
            }
            attempt = 0;
            was_away = false;
            self.report.connects += 1;
            let outcome = self.session(ws, &mut ctl, deadline).await;
            if self.joined {
                ctl.joined.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
            }
            self.joined = false;
            match outcome {
                Ok(true) => break,
                Ok(false) => {}
                Err(e) => self.report.errors.push(format!("{}: {e:#}", self.name)),
            }
        }
        self.report.state = self.state.clone();
        self.report.text = self.text();
        self.report
    }

    /// The local text of the edited section (server text + op in flight).
    pub(crate) fn text(&self) -> String {
        let server =
            self.state.as_ref().and_then(|s| s.section(self.section)).map(|s| s.body.clone()).unwrap_or_default();
        match self.sync.in_flight() {
            Some(op) => op.apply(&server).unwrap_or(server),
            None => server,
        }
    }

    /// One connection. Ok(true) when finished, Ok(false) when the
    /// connection ended and the editor should reconnect.
    pub(crate) async fn session(&mut self, mut ws: Ws, ctl: &mut Control, deadline: Instant) -> anyhow::Result<bool> {
        let since = self.state.as_ref().map(|s| s.revision);
        let join_id = self.id();
        self.join_id = Some(join_id.clone());
        ws.send(frame(&join_id, Request::Join { room: self.room, since })?).await?;
        let mut to_send: Vec<Message> = Vec::new();
        loop {
            if self.joined {
                if *ctl.stop.borrow() && !self.busy() && !self.idle_reported {
                    self.idle_reported = true;
                    ctl.idle.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
                if self.done(ctl) {
                    let _ = ws.close(None).await;
                    return Ok(true);
                }
                let burst = *ctl.burst.borrow();
                if burst != self.burst_seen {
                    self.burst_seen = burst;
                    for _ in 0..8 {
                        to_send.push(self.new_objection()?);
                    }
                }
                if !*ctl.stop.borrow() && self.edit.is_none() && self.others.len() < 2 {
                    to_send.push(self.next_op()?);
                }
            }
            for m in to_send.drain(..) {
                if ws.send(m).await.is_err() {
                    return Ok(false);
                }
            }
            if Instant::now() > deadline {
                bail!("deadline reached in session");
            }
            let Ok(msg) = tokio::time::timeout(Duration::from_millis(200), ws.next()).await else { continue };
            let text = match msg {
                Some(Ok(Message::Text(t))) => t,
                Some(Ok(Message::Close(_)) | Err(_)) | None => return Ok(false),
                Some(Ok(_)) => continue,
            };
            let frame: ServerFrame = serde_json::from_str(&text).with_context(|| format!("bad frame {text}"))?;
            match frame {
                ServerFrame::Snapshot { snapshot, .. } => {
                    self.report.snapshots += 1;
                    let applied = snapshot.applied_seq.unwrap_or(0);
                    if self.report.first_revision.is_none() {
                        self.report.first_revision = Some(snapshot.state.revision);
                    }
                    self.state = Some(snapshot.state);
                    // Whatever landed is acknowledged; the rest is rebuilt
                    // on the new text and re-sent with the same seq.
                    if let Some(e) = self.edit.take() {
                        self.sync = SectionSync::default();
                        if e.seq <= applied {
                            self.report.acked_edits.push(e.marker);
                        } else {
                            let op = self.insert_op(&e.marker);
                            if let Ok(Some(_)) = self.sync.local(op) {
                                self.edit = Some(e);
                            }
                        }
                    }
                    let (landed, rest): (Vec<Outstanding>, Vec<Outstanding>) =
                        std::mem::take(&mut self.others).into_iter().partition(|o| o.seq <= applied);
                    for o in landed {
                        self.acked(&o);
                    }
                    self.others = rest;
                }
                ServerFrame::Event { rev, .. } => {
                    if !self.joined {
                        self.report.catchups += 1;
                    }
                    self.on_event(&rev, &ctl.fanout)?;
                }
                ServerFrame::Ok { id, result } => {
                    if Some(&id) == self.join_id.as_ref() {
                        self.joined = true;
                        ctl.joined.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        // Re-send what is still unacknowledged, in seq order.
                        let mut resend: Vec<Outstanding> = self.others.clone();
                        if let Some(e) = &self.edit {
                            resend.push(e.clone());
                        }
                        resend.sort_by_key(|o| o.seq);
                        for o in resend {
                            self.report.resent += 1;
                            to_send.push(self.request_for(&o)?);
                        }
                        continue;
                    }
                    if result["duplicate"] == true {
                        self.report.duplicates += 1;
                    }
                    if let Some(pos) = self.others.iter().position(|o| o.id == id) {
                        let o = self.others.remove(pos);
                        self.acked(&o);
                    } else if self.edit.as_ref().is_some_and(|e| e.id == id) {
                        // A duplicate answer to a resent edit: its event was
                        // seen before the reconnect (or is in a snapshot).
                        if let Some(e) = self.edit.take() {
                            self.sync = SectionSync::default();
                            self.report.acked_edits.push(e.marker);
                        }
                    }
                }
                ServerFrame::Error { id, code, message } => {
                    let what = format!("{}: error {code} for {id:?}: {message}", self.name);
                    if code == trustroom_shared::protocol::ErrorCode::Unavailable {
                        // The server is going down; the op is re-sent later.
                        continue;
                    }
                    self.report.errors.push(what);
                    // Do not retry a refused op forever.
                    if let Some(id) = id {
                        self.others.retain(|o| o.id != id);
                        if self.edit.as_ref().is_some_and(|e| e.id == id) {
                            self.edit = None;
                            self.sync = SectionSync::default();
                        }
                    }
                }
                ServerFrame::Closing { code, reason } => {
                    self.report.closings.push(format!("{code}: {reason}"));
                }
                _ => {}
            }
        }
    }

    /// Stopped, nothing outstanding, and caught up to the target revision.
    pub(crate) fn done(&self, ctl: &Control) -> bool {
        let target = *ctl.target.borrow();
        *ctl.stop.borrow()
            && !self.busy()
            && target.is_some_and(|t| self.state.as_ref().is_some_and(|s| s.revision >= t))
    }

    pub(crate) fn acked(&mut self, o: &Outstanding) {
        match o.kind {
            Kind::Edit => self.report.acked_edits.push(o.marker.clone()),
            Kind::Object => self.report.acked_objections.push(o.marker.clone()),
            Kind::Reply(_) => self.report.acked_replies.push(o.marker.clone()),
        }
    }

    pub(crate) fn on_event(&mut self, rev: &Revision, fanout: &Fanout) -> anyhow::Result<()> {
        let Some(state) = self.state.as_mut() else { bail!("event before any snapshot") };
        if rev.revision <= state.revision {
            return Ok(());
        }
        apply(state, rev).map_err(|e| anyhow::anyhow!("event {} does not apply: {e}", rev.revision))?;
        let own = rev.client.filter(|c| c.client == self.client).map(|c| c.seq);
        if own.is_none()
            && let Some(stamp) = rev.client
        {
            self.report.received_from_others += 1;
            fanout.received(stamp.client, stamp.seq);
        }
        if let Change::SectionEdited { section, op } = &rev.change
            && *section == self.section
        {
            let is_ack = own.is_some() && self.edit.as_ref().is_some_and(|e| Some(e.seq) == own);
            if is_ack {
                let _ = self.sync.ack();
                if let Some(e) = self.edit.take() {
                    self.report.acked_edits.push(e.marker);
                }
            } else if own.is_none() {
                self.sync.remote(op)?;
            }
        }
        if let Some(seq) = own
            && let Some(pos) = self.others.iter().position(|o| o.seq == seq)
        {
            let o = self.others.remove(pos);
            self.acked(&o);
        }
        Ok(())
    }

    /// An insert of `marker` at a marker boundary of the current local text.
    pub(crate) fn insert_op(&mut self, marker: &str) -> TextOp {
        let text = self.text();
        let len = text.chars().count();
        // Boundaries: the start, the end, and right after each marker.
        let mut cuts = vec![0, len];
        for (i, c) in text.chars().enumerate() {
            if c == '⟧' {
                cuts.push(i + 1);
            }
        }
        let pos = cuts[self.rng.below(cuts.len())];
        let mut op = TextOp::new();
        op.retain(pos).insert(marker).retain(len - pos);
        op
    }

    pub(crate) fn next_op(&mut self) -> anyhow::Result<Message> {
        let roll = self.rng.below(100) as u64;
        if roll < self.mix.object {
            return self.new_objection();
        }
        if roll < self.mix.object + self.mix.reply
            && let Some(target) = self.state.as_ref().and_then(|s| {
                let ids: Vec<ObjectionId> = s.objections.keys().copied().collect();
                (!ids.is_empty()).then(|| ids[self.rng.below(ids.len())])
            })
        {
            self.next_seq += 1;
            let seq = self.next_seq;
            let o = Outstanding {
                seq,
                kind: Kind::Reply(target),
                marker: format!("reply-{}-{seq}", self.client),
                id: self.id(),
            };
            self.report.sent.push(o.marker.clone());
            let m = self.request_for(&o)?;
            self.others.push(o);
            return Ok(m);
        }
        self.next_seq += 1;
        let seq = self.next_seq;
        let marker = format!("⟦{}·{seq}⟧", &self.client.to_string()[24..]);
        let op = self.insert_op(&marker);
        let _ = self.sync.local(op)?;
        let o = Outstanding { seq, kind: Kind::Edit, marker, id: self.id() };
        self.report.sent.push(o.marker.clone());
        let m = self.request_for(&o)?;
        self.edit = Some(o);
        Ok(m)
    }

    pub(crate) fn new_objection(&mut self) -> anyhow::Result<Message> {
        self.next_seq += 1;
        let seq = self.next_seq;
        let o =
            Outstanding { seq, kind: Kind::Object, marker: format!("objection-{}-{seq}", self.client), id: self.id() };
        self.report.sent.push(o.marker.clone());
        let m = self.request_for(&o)?;
        self.others.push(o);
        Ok(m)
    }

    /// The request for an outstanding op (a resend gets a fresh id, the
    /// same seq, and for an edit the op as transformed so far on the
    /// current base).
    pub(crate) fn request_for(&mut self, o: &Outstanding) -> anyhow::Result<Message> {
        self.fanout.sent(self.client, o.seq);
        let room = self.room;
        let request = match &o.kind {
            Kind::Edit => {
                let op = self.sync.in_flight().context("edit without an op in flight")?.to_wire();
                let base = self.state.as_ref().map_or(0, |s| s.revision);
                Request::Edit { room, section: self.section, base, op, seq: Some(o.seq) }
            }
            Kind::Object => Request::Object {
                room,
                section: self.section,
                kind: ObjectionKind::Wording,
                blocking: false,
                text: o.marker.clone(),
                statement: None,
                quote: None,
                seq: Some(o.seq),
            },
            Kind::Reply(objection) => {
                Request::Reply { room, objection: *objection, text: o.marker.clone(), seq: Some(o.seq) }
            }
        };
        // Answers are matched by id: keep the id the op was first sent
        // with, and for the edit remember it too.
        let id = o.id.clone();
        if let Some(e) = self.edit.as_mut().filter(|e| e.seq == o.seq) {
            e.id = id.clone();
        }
        frame(&id, request)
    }
}
