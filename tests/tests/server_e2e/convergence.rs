//! 2. Concurrent edits converge (the OT client state machine at every client), on SQLite and PostgreSQL.

use super::*;

/// Markers are private-use characters: unique per (client, edit), never
/// present in the seed text, never deleted by any client.
pub(crate) fn marker(client: usize, i: usize) -> char {
    char::from_u32(0xE000 + (client as u32) * 256 + i as u32).unwrap_or('\u{E000}')
}

pub(crate) fn is_marker(c: char) -> bool {
    ('\u{E000}'..='\u{F8FF}').contains(&c)
}

pub(crate) const FILLERS: [&str; 8] = ["é", "😀", "\n", "ß", "a", "—", "€", "ü\n"];

pub(crate) struct Editor {
    pub(crate) c: WsClient,
    pub(crate) index: usize,
    pub(crate) room: String,
    pub(crate) section: String,
    pub(crate) text: String,
    pub(crate) rev: u64,
    pub(crate) sync: SectionSync,
    pub(crate) next_seq: u64,
    pub(crate) in_flight_seq: Option<u64>,
    pub(crate) rng: Rng,
    pub(crate) inserted: Vec<char>,
    pub(crate) acks: usize,
    /// Remote edits that arrived while one of ours was unacknowledged
    /// (each one is transformed at this client and at the server).
    pub(crate) concurrent: usize,
}

impl Editor {
    pub(crate) async fn send(&mut self, op: &TextOp) -> Result<()> {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.in_flight_seq = Some(seq);
        let wire: WireOp = op.to_wire();
        self.c
            .send_request(json!({"type": "edit", "room": self.room, "section": self.section, "base": self.rev, "op": wire, "seq": seq}))
            .await?;
        Ok(())
    }

    /// One random local edit: an insert carrying a unique marker, or a
    /// delete of 1–3 non-marker chars.
    pub(crate) async fn local_edit(&mut self, i: usize) -> Result<()> {
        let len = self.text.chars().count();
        let cs: Vec<char> = self.text.chars().collect();
        let mut op = TextOp::new();
        let mut deleted = false;
        if len > 4 && self.rng.chance(25) {
            let pos = self.rng.below(len - 3);
            let n = 1 + self.rng.below(3);
            if cs[pos..pos + n].iter().all(|c| !is_marker(*c)) {
                op.retain(pos).delete(n).retain(len - pos - n);
                deleted = true;
            }
        }
        if !deleted {
            let pos = self.rng.below(len + 1);
            let mut s = String::new();
            s.push(marker(self.index, i));
            for _ in 0..self.rng.below(3) {
                s.push_str(FILLERS[self.rng.below(FILLERS.len())]);
            }
            op.retain(pos).insert(&s).retain(len - pos);
            self.inserted.push(marker(self.index, i));
        }
        self.text = op.apply(&self.text)?;
        if let Some(to_send) = self.sync.local(op)? {
            self.send(&to_send).await?;
        }
        Ok(())
    }

    pub(crate) async fn process(&mut self, frame: Value) -> Result<()> {
        match frame["type"].as_str() {
            Some("event") => {
                let rev = &frame["rev"];
                let revision = rev["revision"].as_u64().context("event revision")?;
                ensure!(
                    revision == self.rev + 1,
                    "client {}: event {revision} after {} (gap or reorder)",
                    self.index,
                    self.rev
                );
                let change = &rev["change"];
                if change["kind"] == "section_edited" && change["section"] == self.section.as_str() {
                    let mine = rev["client"]["client"] == json!(self.c.client_id);
                    if mine {
                        ensure!(
                            rev["client"]["seq"].as_u64() == self.in_flight_seq,
                            "client {}: ack for seq {} but {:?} in flight",
                            self.index,
                            rev["client"]["seq"],
                            self.in_flight_seq
                        );
                        self.rev = revision;
                        self.acks += 1;
                        self.in_flight_seq = None;
                        if let Some(next) = self.sync.ack() {
                            self.send(&next).await?;
                        }
                    } else {
                        if self.sync.has_pending() {
                            self.concurrent += 1;
                        }
                        let wire: WireOp = serde_json::from_value(change["op"].clone())?;
                        let op = TextOp::from_wire(&wire, Default::default())?;
                        let transformed = self.sync.remote(&op)?;
                        self.text = transformed.apply(&self.text)?;
                        self.rev = revision;
                    }
                } else {
                    self.rev = revision;
                }
            }
            Some("ok") => {}
            Some("error") => bail!("client {}: request refused: {frame}", self.index),
            Some("presence" | "presence_gone") => {}
            other => bail!("client {}: unexpected frame {other:?}: {frame}", self.index),
        }
        Ok(())
    }

    pub(crate) async fn run(mut self, edits: usize) -> Result<Editor> {
        for i in 0..edits {
            self.local_edit(i).await?;
            // Take whatever has arrived, waiting 0–2 ms to vary interleavings.
            let wait = Duration::from_millis(self.rng.below(3) as u64);
            while let Some(frame) = self.c.next_frame(wait).await? {
                self.process(frame).await?;
            }
        }
        while self.sync.has_pending() {
            let frame =
                self.c.next_frame(T).await?.with_context(|| format!("client {}: no ack within {T:?}", self.index))?;
            self.process(frame).await?;
        }
        Ok(self)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_edits_from_five_clients_converge() -> Result<()> {
    five_clients_converge(Backend::Sqlite).await
}

/// The same on PostgreSQL (ignored without `TRUSTROOM_TEST_PG_URL`, failing under CI).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(any(pg_url, ci)), ignore = "needs TRUSTROOM_TEST_PG_URL (PostgreSQL)")]
async fn concurrent_edits_from_five_clients_converge_on_postgres() -> Result<()> {
    five_clients_converge(Backend::Postgres).await
}

pub(crate) async fn five_clients_converge(backend: Backend) -> Result<()> {
    const EDITS: usize = 30;
    let server = TestServer::start_backend(backend, Default::default()).await?;
    let room = server.room();
    let editors_roles =
        ["owner", "reviewer/privacy", "reviewer/legal", "reviewer/support-engineering", "reviewer/support-trust"];
    let mut tasks = Vec::new();
    for (index, role) in editors_roles.iter().enumerate() {
        let (c, snap) = server.joined(role).await?;
        let (sid, body) = section(&snap, "Exposure scope")?;
        let editor = Editor {
            c,
            index,
            room: room.clone(),
            section: sid,
            text: body,
            rev: revision_of(&snap),
            sync: SectionSync::default(),
            next_seq: 1,
            in_flight_seq: None,
            rng: Rng::new(0x5eed_0000 + index as u64),
            inserted: Vec::new(),
            acks: 0,
            concurrent: 0,
        };
        tasks.push(tokio::spawn(editor.run(EDITS)));
    }
    let mut editors = Vec::new();
    for t in tasks {
        editors.push(tokio::time::timeout(T * 6, t).await.context("an editor hung")???);
    }

    // The server's text, from a fresh join.
    let (mut fresh, snap) = server.joined("observer").await?;
    let (_, server_text) = section(&snap, "Exposure scope")?;
    let final_rev = revision_of(&snap);
    for e in &mut editors {
        while e.rev < final_rev {
            let frame = e.c.next_frame(T).await?.with_context(|| format!("client {} stuck at {}", e.index, e.rev))?;
            e.process(frame).await?;
        }
        assert_eq!(e.text, server_text, "client {} diverged from the server", e.index);
        ensure!(e.acks > 0, "client {} got no ack", e.index);
    }
    let mut total = 0;
    for e in &editors {
        for m in &e.inserted {
            let n = server_text.chars().filter(|c| c == m).count();
            assert_eq!(n, 1, "marker U+{:04X} of client {} appears {n} times", *m as u32, e.index);
            total += 1;
        }
    }
    let concurrent: usize = editors.iter().map(|e| e.concurrent).sum();
    eprintln!("remote edits transformed against a pending local edit: {concurrent}");
    ensure!(concurrent >= 10, "only {concurrent} concurrent edits: the test did not exercise transforms");
    let markers_in_text = server_text.chars().filter(|c| is_marker(*c)).count();
    assert_eq!(markers_in_text, total, "unexpected markers in the text");

    // A replay of the stored log gives the same room (text and content hash).
    let record = server.store.room(server.seed.room).await?.context("room record")?;
    let mut replayed = RoomState::new(record.id, record.title, record.created_ms);
    for rev in server.stored_revisions().await? {
        apply(&mut replayed, &rev).map_err(|e| anyhow::anyhow!("replaying revision {}: {e}", rev.revision))?;
    }
    let replayed_text = replayed.sections.iter().find(|s| s.title == "Exposure scope").map(|s| s.body.clone());
    assert_eq!(replayed_text.as_deref(), Some(server_text.as_str()), "replay of the log differs");
    assert_eq!(replayed.revision, final_rev);
    assert_eq!(
        trustroom_shared::canonical::content_hash(&replayed),
        snap["content_hash"].as_str().unwrap_or_default(),
        "content hash of the replay differs"
    );
    fresh.drain(Duration::from_millis(1)).await?;
    Ok(())
}
