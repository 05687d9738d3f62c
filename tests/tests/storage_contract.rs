//! The storage contract, one story for every backend: each case runs on a
//! fresh SQLite file (always) and on a fresh PostgreSQL database of its own
//! on the server `TRUSTROOM_TEST_PG_URL` names (without it `<case>::postgres`
//! is ignored, and fails under `CI=true`: see tests/build.rs). The PostgreSQL database is created with a unique name
//! and dropped when the case ends, failed or not (`PgTestDb`).
//!
//! Run on both: `TRUSTROOM_TEST_PG_URL=postgres://postgres@127.0.0.1:5432/postgres
//! cargo test -p trustroom-e2e --test storage_contract`.
// Test code: a failed expectation is the verdict (the lints bind product code).
#![allow(clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;

use anyhow::{Context, bail, ensure};
use serde_json::json;
use trustroom_e2e::PgTestDb;
use trustroom_server::admin;
use trustroom_server::storage::{self, CommitBatch, KeyRecord, StorageError, Store, UserRecord};
use trustroom_shared::audit::{AuditEntry, next_entry, verify_chain};
use trustroom_shared::change::{Change, ClientStamp, Revision, apply};
use trustroom_shared::room::RoomState;
use trustroom_shared::{ClientId, RoomId, SectionId, UserId};

/// A store under test and what keeps its database alive.
struct Fixture {
    store: Store,
    _dir: tempfile::TempDir,
    _pg: Option<PgTestDb>,
}

async fn sqlite() -> anyhow::Result<Fixture> {
    let dir = tempfile::tempdir()?;
    let store = storage::open(&format!("sqlite://{}", dir.path().join("contract.db").display())).await?;
    Ok(Fixture { store, _dir: dir, _pg: None })
}

async fn postgres() -> anyhow::Result<Fixture> {
    let db = PgTestDb::create().await?;
    let store = storage::open(db.url()).await.with_context(|| format!("opening {}", db.url()))?;
    Ok(Fixture { store, _dir: tempfile::tempdir()?, _pg: Some(db) })
}

/// `case!(name)`: `name::sqlite` and `name::postgres`, both running
/// `async fn name(store: &Store)`.
macro_rules! case {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() -> anyhow::Result<()> {
                let f = super::sqlite().await?;
                super::$name(&f.store).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[cfg_attr(not(any(pg_url, ci)), ignore = "needs TRUSTROOM_TEST_PG_URL (PostgreSQL)")]
            async fn postgres() -> anyhow::Result<()> {
                let f = super::postgres().await?;
                super::$name(&f.store).await
            }
        }
    };
}

case!(users);
case!(rooms_commit_and_reload);
case!(snapshots);
case!(client_seqs_are_idempotent_keys);
case!(audit_chain);
case!(signing_key_and_manifests);
case!(admin_queue_and_heartbeats);
case!(purge_removes_annex_content);
case!(failing_batch_stores_nothing);
case!(concurrent_commits);

// ---------------------------------------------------------------------------
// Helpers: real changes, applied to a real room state, with a real chain
// ---------------------------------------------------------------------------

fn user(name: &str) -> UserRecord {
    UserRecord {
        id: UserId::new(),
        name: name.to_string(),
        token_hash: format!("hash-of-{name}"),
        created_ms: 1_700_000_000_000,
        revoked_ms: None,
    }
}

/// A room being written through the store the way the room actor does:
/// its state, its audit head and the next client seq.
struct Writer {
    id: RoomId,
    state: RoomState,
    head: Option<(u64, String)>,
    author: UserId,
    client: ClientId,
    seq: u64,
}

impl Writer {
    /// Creates a room owned by a new user `owner` (admin code path).
    async fn create(store: &Store, owner: &str) -> anyhow::Result<Writer> {
        let (author, _token) = admin::add_user(store, owner).await?;
        let id = admin::create_room(store, &format!("room of {owner}"), owner).await?;
        let loaded = store.load_room(id).await?.context("the new room loads")?;
        let mut state = RoomState::new(id, loaded.record.title.clone(), loaded.record.created_ms);
        for rev in &loaded.tail {
            apply(&mut state, rev)?;
        }
        Ok(Writer { id, state, head: loaded.audit_head, author, client: ClientId::new(), seq: 0 })
    }

    /// `n` new sections, each one revision with a client stamp and an audit
    /// entry, as one batch (not yet committed; the state moves on).
    fn batch(&mut self, n: usize) -> anyhow::Result<CommitBatch> {
        let mut batch = CommitBatch::default();
        for _ in 0..n {
            self.seq += 1;
            let change = Change::SectionAdded {
                section: SectionId::new(),
                title: format!("Section {}", self.seq),
                body: format!("Body \"{}\" — ünïcödé ✓\n\ttab", self.seq),
                after: None,
            };
            let rev = Revision {
                revision: self.state.revision + 1,
                author: self.author,
                at_ms: 1_700_000_000_000 + self.seq as i64,
                client: Some(ClientStamp { client: self.client, seq: self.seq }),
                change,
            };
            apply(&mut self.state, &rev)?;
            let entry = next_entry(
                self.head.as_ref().map(|(s, h)| (*s, h.as_str())),
                &self.id.to_string(),
                rev.at_ms,
                &self.author.to_string(),
                &format!("change.{}", rev.change.kind_name()),
                rev.revision,
                json!({"revision": rev.revision, "client_seq": self.seq, "note": "x\u{0}y \u{1F600}"}),
            );
            self.head = Some((entry.seq, entry.hash.clone()));
            batch.revisions.push(rev);
            batch.audit.push(entry);
        }
        Ok(batch)
    }

    async fn commit(&mut self, store: &Store, n: usize) -> anyhow::Result<CommitBatch> {
        let batch = self.batch(n)?;
        store.commit(self.id, &batch).await?;
        Ok(batch)
    }
}

async fn all_revisions(store: &Store, room: RoomId) -> anyhow::Result<Vec<Revision>> {
    Ok(store.revisions_between(room, 0, u64::MAX).await?)
}

fn contiguous(revs: &[Revision]) -> anyhow::Result<()> {
    for (i, r) in revs.iter().enumerate() {
        ensure!(r.revision == i as u64 + 1, "revision {} at position {i}", r.revision);
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// The cases
// ---------------------------------------------------------------------------

async fn users(store: &Store) -> anyhow::Result<()> {
    let (zed, ann) = (user("zed"), user("ann"));
    store.create_user(&zed).await?;
    store.create_user(&ann).await?;
    let mut dup = user("zed");
    dup.token_hash = "another-hash".into();
    match store.create_user(&dup).await {
        Err(StorageError::Conflict(m)) => ensure!(m.contains("zed"), "conflict names the user: {m}"),
        other => bail!("a second user named zed: {other:?}"),
    }
    ensure!(store.user_by_name("zed").await?.as_ref() == Some(&zed));
    ensure!(store.user_by_id(ann.id).await?.as_ref() == Some(&ann));
    ensure!(store.user_by_token_hash("hash-of-ann").await?.as_ref() == Some(&ann));
    ensure!(store.user_by_name("nobody").await?.is_none());
    let names: Vec<String> = store.list_users().await?.into_iter().map(|u| u.name).collect();
    ensure!(names == ["ann", "zed"], "users by name: {names:?}");
    ensure!(store.revoke_user("ann", 42).await?, "revoking an active user");
    ensure!(!store.revoke_user("ann", 43).await?, "revoking twice");
    ensure!(!store.revoke_user("nobody", 43).await?, "revoking nobody");
    ensure!(store.user_by_token_hash("hash-of-ann").await?.is_none(), "a revoked token no longer authenticates");
    ensure!(store.user_by_name("ann").await?.and_then(|u| u.revoked_ms) == Some(42));
    Ok(())
}

async fn rooms_commit_and_reload(store: &Store) -> anyhow::Result<()> {
    let mut w = Writer::create(store, "olga").await?;
    let other = Writer::create(store, "pete").await?;
    let first = all_revisions(store, w.id).await?.len() as u64;
    let mut sent = Vec::new();
    for n in [1, 5, 50] {
        sent.extend(w.commit(store, n).await?.revisions);
    }
    let stored = all_revisions(store, w.id).await?;
    contiguous(&stored)?;
    ensure!(stored[first as usize..] == sent[..], "committed revisions come back exactly");
    let mid = store.revisions_between(w.id, first + 2, first + 6).await?;
    ensure!(mid[..] == sent[2..6], "revisions_between is (after, upto]");
    ensure!(store.revisions_between(w.id, w.state.revision, u64::MAX).await?.is_empty());
    // Reload: the log replays to the same state; the audit head is the writer's.
    let loaded = store.load_room(w.id).await?.context("room loads")?;
    ensure!(loaded.snapshot.is_none());
    let mut state = RoomState::new(w.id, loaded.record.title.clone(), loaded.record.created_ms);
    for rev in &loaded.tail {
        apply(&mut state, rev)?;
    }
    ensure!(state == w.state, "replayed state equals the writer's");
    ensure!(loaded.audit_head == w.head, "audit head after reload");
    ensure!(loaded.client_seqs == vec![(w.client, 56)], "client seqs: {:?}", loaded.client_seqs);
    // Rooms and memberships.
    ensure!(store.room(w.id).await?.is_some() && store.room(RoomId::new()).await?.is_none());
    ensure!(store.load_room(RoomId::new()).await?.is_none(), "an unknown room loads as None");
    let ids: BTreeSet<RoomId> = store.list_rooms().await?.into_iter().map(|r| r.id).collect();
    ensure!(ids == BTreeSet::from([w.id, other.id]));
    let mine = store.rooms_for_user(w.author).await?;
    ensure!(mine.len() == 1 && mine[0].0.id == w.id && mine[0].1 == "owner", "olga's rooms: {mine:?}");
    Ok(())
}

async fn snapshots(store: &Store) -> anyhow::Result<()> {
    let mut w = Writer::create(store, "sara").await?;
    w.commit(store, 3).await?;
    let mut batch = w.batch(2)?;
    let at = w.state.revision;
    batch.snapshot = Some(w.state.clone());
    store.commit(w.id, &batch).await?;
    w.commit(store, 4).await?;
    let loaded = store.load_room(w.id).await?.context("room loads")?;
    ensure!(loaded.snapshot.as_ref() == Some(&batch.snapshot.clone().context("set above")?), "newest snapshot");
    ensure!(loaded.tail.len() == 4 && loaded.tail[0].revision == at + 1, "tail starts after the snapshot");
    let mut state = loaded.snapshot.clone().context("snapshot")?;
    for rev in &loaded.tail {
        apply(&mut state, rev)?;
    }
    ensure!(state == w.state, "snapshot + tail = the writer's state");
    ensure!(store.snapshot_at_or_before(w.id, at - 1).await?.is_none());
    ensure!(store.snapshot_at_or_before(w.id, at).await?.map(|s| s.revision) == Some(at));
    ensure!(store.snapshot_at_or_before(w.id, u64::MAX).await?.map(|s| s.revision) == Some(at));
    // Writing the same snapshot revision again replaces it (idempotent).
    let again = CommitBatch { snapshot: batch.snapshot.clone(), ..CommitBatch::default() };
    store.commit(w.id, &again).await?;
    Ok(())
}

async fn client_seqs_are_idempotent_keys(store: &Store) -> anyhow::Result<()> {
    let mut w = Writer::create(store, "ivan").await?;
    let batch = w.commit(store, 3).await?;
    let second = batch.revisions[1].revision;
    ensure!(store.find_client_seq(w.id, w.client, 2).await? == Some(second));
    ensure!(store.find_client_seq(w.id, w.client, 9).await?.is_none());
    ensure!(store.find_client_seq(w.id, ClientId::new(), 2).await?.is_none());
    // The same (client, seq) again, at a new revision: refused, nothing stored.
    let before = all_revisions(store, w.id).await?;
    let mut resend = w.batch(1)?;
    resend.revisions[0].client = Some(ClientStamp { client: w.client, seq: 2 });
    ensure!(store.commit(w.id, &resend).await.is_err(), "a duplicate (client, seq) must be refused");
    ensure!(all_revisions(store, w.id).await? == before);
    Ok(())
}

async fn audit_chain(store: &Store) -> anyhow::Result<()> {
    let mut w = Writer::create(store, "uma").await?;
    w.commit(store, 4).await?;
    let chain = store.audit_chain(&w.id.to_string()).await?;
    verify_chain(&chain).map_err(|b| anyhow::anyhow!("room chain broken: {b}"))?;
    ensure!(store.audit_head(&w.id.to_string()).await? == w.head);
    let entry = store.audit_change_entry(&w.id.to_string(), w.state.revision).await?.context("change entry")?;
    ensure!(entry.kind == "change.section_added" && Some((entry.seq, entry.hash.clone())) == w.head);
    // The server chain, appended outside room commits, in storage order.
    let mut head: Option<(u64, String)> = None;
    let mut written: Vec<AuditEntry> = Vec::new();
    for round in 0..3 {
        let mut entries = Vec::new();
        for i in 0..4 {
            let e = next_entry(
                head.as_ref().map(|(s, h)| (*s, h.as_str())),
                "server",
                round * 10 + i,
                "system",
                "refused",
                0,
                json!({"request": "join", "code": "not_found", "i": i, "b": [1.5, "ü", null]}),
            );
            head = Some((e.seq, e.hash.clone()));
            entries.push(e);
        }
        store.append_audit(&entries).await?;
        written.extend(entries);
    }
    let stored = store.audit_chain("server").await?;
    ensure!(stored == written, "the server chain comes back exactly, in order");
    verify_chain(&stored).map_err(|b| anyhow::anyhow!("server chain broken: {b}"))?;
    ensure!(store.audit_head("server").await? == head);
    ensure!(store.audit_head("no-such-chain").await?.is_none());
    // An entry whose seq is taken is refused.
    let dup = written[0].clone();
    ensure!(store.append_audit(&[dup]).await.is_err(), "a duplicate audit seq must be refused");
    ensure!(store.audit_chain("server").await?.len() == 12);
    Ok(())
}

async fn signing_key_and_manifests(store: &Store) -> anyhow::Result<()> {
    // First caller wins; every caller gets the same key.
    let first = KeyRecord {
        name: "contract".into(),
        algorithm: "ed25519".into(),
        public_key: "aa".into(),
        secret_key: "bb".into(),
        created_ms: 1,
    };
    let second = KeyRecord { public_key: "cc".into(), secret_key: "dd".into(), ..first.clone() };
    ensure!(store.stored_key("contract").await?.is_none());
    ensure!(store.signing_key(&first).await? == first);
    ensure!(store.signing_key(&second).await? == first, "the stored key wins");
    ensure!(store.stored_key("contract").await? == Some(first));
    // A real signed manifest, committed with its release revision.
    let key = trustroom_server::signing::server_key(store).await?;
    let mut w = Writer::create(store, "vera").await?;
    w.commit(store, 2).await?;
    let mut records = Vec::new();
    for lane in [trustroom_shared::release::Lane::Privacy, trustroom_shared::release::Lane::ProductSecurity] {
        let body = trustroom_shared::manifest::manifest_body(
            &w.state,
            w.author,
            lane,
            trustroom_shared::release::Audience::default(),
            None,
            &key.public_hex(),
        );
        let manifest = trustroom_shared::manifest::sign_manifest(body, key.signing());
        let mut batch = w.batch(1)?;
        let event =
            trustroom_shared::manifest::sign_event(&manifest.manifest_hash, 7, w.state.revision, None, key.signing());
        let record = trustroom_shared::manifest::ManifestRecord { manifest, event, trace: None };
        batch.manifests.push(record.clone());
        store.commit(w.id, &batch).await?;
        records.push(record);
    }
    ensure!(store.manifests(w.id).await? == records, "manifest history, oldest first");
    ensure!(store.manifests(RoomId::new()).await?.is_empty());
    // A batch whose revisions and audit entries are fine but whose manifest
    // repeats a stored release revision fails as a whole: the statements
    // that had already succeeded inside the transaction are rolled back.
    let revs_before = all_revisions(store, w.id).await?;
    let chain_before = store.audit_chain(&w.id.to_string()).await?;
    let saved = (w.state.clone(), w.head.clone(), w.seq);
    let mut batch = w.batch(3)?;
    batch.manifests.push(records[0].clone());
    ensure!(store.commit(w.id, &batch).await.is_err(), "a repeated manifest must fail the batch");
    ensure!(all_revisions(store, w.id).await? == revs_before, "no revision of the failed batch");
    ensure!(store.audit_chain(&w.id.to_string()).await? == chain_before, "no audit entry of the failed batch");
    ensure!(store.manifests(w.id).await? == records);
    (w.state, w.head, w.seq) = saved;
    w.commit(store, 1).await?;
    Ok(())
}

async fn admin_queue_and_heartbeats(store: &Store) -> anyhow::Result<()> {
    let w = Writer::create(store, "walt").await?;
    let a = store.enqueue_admin(w.id, r#"{"cmd":"a"}"#, 1).await?;
    let b = store.enqueue_admin(w.id, r#"{"cmd":"b"}"#, 2).await?;
    ensure!(b > a, "queue ids increase");
    let pending: Vec<(i64, String)> = store.pending_admin().await?.into_iter().map(|q| (q.id, q.command)).collect();
    ensure!(pending == vec![(a, r#"{"cmd":"a"}"#.to_string()), (b, r#"{"cmd":"b"}"#.to_string())]);
    ensure!(store.admin_result(a).await?.is_none(), "no result before it is done");
    store.finish_admin(a, r#"{"ok":"done"}"#, 3).await?;
    ensure!(store.admin_result(a).await?.as_deref() == Some(r#"{"ok":"done"}"#));
    ensure!(store.pending_admin().await?.iter().map(|q| q.id).collect::<Vec<_>>() == vec![b]);
    ensure!(store.latest_heartbeat().await?.is_none());
    store.heartbeat("n1", 100).await?;
    store.heartbeat("n2", 300).await?;
    store.heartbeat("n1", 200).await?;
    ensure!(store.latest_heartbeat().await? == Some(300));
    store.remove_node("n2").await?;
    ensure!(store.latest_heartbeat().await? == Some(200));
    Ok(())
}

async fn purge_removes_annex_content(store: &Store) -> anyhow::Result<()> {
    let seed = trustroom_server::demo::seed(store).await?;
    let canaries = trustroom_server::demo::CANARIES;
    let leaks = |revs: &[Revision]| -> usize {
        revs.iter()
            .filter(|r| {
                let body = serde_json::to_string(r).unwrap_or_default();
                canaries.iter().any(|c| body.contains(c))
            })
            .count()
    };
    let before = all_revisions(store, seed.room).await?;
    ensure!(leaks(&before) > 0, "the demo seed stores annex content");
    let chain_before = store.audit_chain(&seed.room.to_string()).await?;
    let report = store.purge_content(seed.room, &trustroom_shared::restricted::Redaction::default()).await?;
    ensure!(report.revisions > 0 && report.compacted, "purge report: {report:?}");
    let after = all_revisions(store, seed.room).await?;
    ensure!(leaks(&after) == 0, "annex content gone from the log");
    ensure!(after.len() == before.len(), "metadata stays: every revision is still there");
    ensure!(store.audit_chain(&seed.room.to_string()).await? == chain_before, "the audit chain is untouched");
    if let Some(snap) = store.snapshot_at_or_before(seed.room, u64::MAX).await? {
        let text = serde_json::to_string(&snap)?;
        ensure!(!canaries.iter().any(|c| text.contains(c)), "annex content gone from snapshots");
    }
    // A second purge has nothing left to rewrite.
    let again = store.purge_content(seed.room, &trustroom_shared::restricted::Redaction::default()).await?;
    ensure!(again.revisions == 0 && again.snapshots == 0, "second purge: {again:?}");
    Ok(())
}

async fn failing_batch_stores_nothing(store: &Store) -> anyhow::Result<()> {
    let mut w = Writer::create(store, "xena").await?;
    let (newcomer, _) = admin::add_user(store, "yuri").await?;
    w.commit(store, 2).await?;
    let revs_before = all_revisions(store, w.id).await?;
    let chain_before = store.audit_chain(&w.id.to_string()).await?;
    let rooms_before = store.rooms_for_user(newcomer).await?;
    // A batch that adds a member, two sections, a snapshot and a manifest,
    // whose last revision collides with a stored one.
    let saved = (w.state.clone(), w.head.clone(), w.seq);
    let mut batch = w.batch(2)?;
    let member = trustroom_shared::room::Member {
        user: newcomer,
        name: "yuri".into(),
        role: trustroom_shared::role::Role::Observer,
    };
    batch.revisions.insert(
        0,
        Revision {
            revision: batch.revisions[0].revision,
            author: w.author,
            at_ms: 5,
            client: None,
            change: Change::MemberAdded { member },
        },
    );
    for (i, r) in batch.revisions.iter_mut().enumerate() {
        r.revision = saved.0.revision + 1 + i as u64;
    }
    batch.revisions.last_mut().context("three revisions")?.revision = revs_before.last().context("stored")?.revision;
    batch.snapshot = Some(w.state.clone());
    match store.commit(w.id, &batch).await {
        Err(StorageError::Database(_)) => {}
        other => bail!("a batch with a duplicate revision must fail with a database error: {other:?}"),
    }
    ensure!(all_revisions(store, w.id).await? == revs_before, "no revision of the failed batch is stored");
    ensure!(store.audit_chain(&w.id.to_string()).await? == chain_before, "no audit entry of the failed batch");
    ensure!(store.rooms_for_user(newcomer).await? == rooms_before, "no membership of the failed batch");
    ensure!(store.snapshot_at_or_before(w.id, u64::MAX).await?.is_none(), "no snapshot of the failed batch");
    // The room goes on from where it was.
    (w.state, w.head, w.seq) = saved;
    w.commit(store, 2).await?;
    contiguous(&all_revisions(store, w.id).await?)?;
    verify_chain(&store.audit_chain(&w.id.to_string()).await?).map_err(|b| anyhow::anyhow!("chain: {b}"))?;
    Ok(())
}

async fn concurrent_commits(store: &Store) -> anyhow::Result<()> {
    // Several rooms committing at once, as several room actors do.
    let mut writers = Vec::new();
    for i in 0..6 {
        writers.push(Writer::create(store, &format!("writer{i}")).await?);
    }
    let mut tasks = Vec::new();
    for mut w in writers {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for round in 0..15 {
                w.commit(&store, 1 + round % 4).await?;
            }
            anyhow::Ok(w)
        }));
    }
    let mut done = Vec::new();
    for t in tasks {
        done.push(t.await??);
    }
    for w in &done {
        let revs = all_revisions(store, w.id).await?;
        contiguous(&revs)?;
        ensure!(revs.last().map(|r| r.revision) == Some(w.state.revision), "every acknowledged batch stored");
        verify_chain(&store.audit_chain(&w.id.to_string()).await?).map_err(|b| anyhow::anyhow!("chain: {b}"))?;
    }
    // Two writers racing for the same revision of one room: exactly one wins.
    let w = &done[0];
    let (mut a, mut b) = (w.fork(), w.fork());
    let (ba, bb) = (a.batch(3)?, b.batch(3)?);
    let (ra, rb) = tokio::join!(store.commit(a.id, &ba), store.commit(b.id, &bb));
    ensure!(ra.is_ok() != rb.is_ok(), "exactly one of two racing batches commits: {ra:?} / {rb:?}");
    let revs = all_revisions(store, w.id).await?;
    contiguous(&revs)?;
    let winner = if ra.is_ok() { &ba } else { &bb };
    ensure!(revs[revs.len() - 3..] == winner.revisions[..], "the winner's batch, whole");
    verify_chain(&store.audit_chain(&w.id.to_string()).await?).map_err(|b| anyhow::anyhow!("chain: {b}"))?;
    // A failing batch committed at the same moment as good batches of other
    // rooms (SQLite writes concurrent commits in one shared transaction):
    // it fails alone; every good batch is stored whole.
    let mut stale = done[0].fork(); // before the race: its revisions exist already
    let bad = stale.batch(2)?;
    let mut goods = Vec::new();
    for w in done.iter_mut().skip(1) {
        goods.push((w.id, w.batch(2)?));
    }
    let (rbad, rgoods) = tokio::join!(
        store.commit(stale.id, &bad),
        futures_util::future::join_all(goods.iter().map(|(id, b)| store.commit(*id, b)))
    );
    ensure!(rbad.is_err(), "the colliding batch is refused");
    for r in rgoods {
        r?;
    }
    for w in done.iter().skip(1) {
        let revs = all_revisions(store, w.id).await?;
        contiguous(&revs)?;
        ensure!(
            revs.last().map(|r| r.revision) == Some(w.state.revision),
            "every good batch stored beside the bad one"
        );
        verify_chain(&store.audit_chain(&w.id.to_string()).await?).map_err(|b| anyhow::anyhow!("chain: {b}"))?;
    }
    Ok(())
}

impl Writer {
    /// Another writer at the same point of the same room (a new client).
    fn fork(&self) -> Writer {
        Writer {
            id: self.id,
            state: self.state.clone(),
            head: self.head.clone(),
            author: self.author,
            client: ClientId::new(),
            seq: 0,
        }
    }
}

/// PostgreSQL only (SQLite's faults are in storage_faults.rs): when the
/// database ends the server's connections (restart, failover, an operator's
/// `pg_terminate_backend`), a commit fails as `unavailable`, not `internal`,
/// stores nothing, and the next commit works on a fresh connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(any(pg_url, ci)), ignore = "needs TRUSTROOM_TEST_PG_URL (PostgreSQL)")]
async fn postgres_lost_connections_are_unavailable_then_recover() -> anyhow::Result<()> {
    let f = postgres().await?;
    let store = &f.store;
    let mut w = Writer::create(store, "zoe").await?;
    w.commit(store, 1).await?;
    let before = all_revisions(store, w.id).await?.len();
    let db = f._pg.as_ref().context("a PostgreSQL fixture")?;
    let admin = sqlx::PgPool::connect(db.url()).await?;
    let killed: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid()) t",
    )
    .fetch_one(&admin)
    .await?;
    ensure!(killed > 0, "the store had no open connection to end");
    let saved = (w.state.clone(), w.head.clone(), w.seq);
    let mut failures = 0;
    // Every pooled connection is dead now; each fails once, as unavailable.
    loop {
        match w.commit(store, 1).await {
            Ok(_) => break,
            Err(e) => {
                let e = e.downcast::<StorageError>().context("a storage error")?;
                ensure!(e.is_unavailable(), "a lost connection must be `unavailable`: {e:?}");
                (w.state, w.head, w.seq) = saved.clone();
                failures += 1;
                ensure!(failures <= 16, "the store does not recover from lost connections");
            }
        }
    }
    ensure!(failures > 0, "the commit after the connections ended did not notice");
    ensure!(all_revisions(store, w.id).await?.len() == before + 1, "only the successful commit is stored");
    admin.close().await;
    Ok(())
}
