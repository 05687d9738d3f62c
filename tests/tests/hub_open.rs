//! Opening rooms: a room is opened once however many clients join it at
//! the same moment, an open that fails is reported to everyone who waited
//! and tried again by the next caller, and while one room's open is stuck
//! every other room keeps answering. A store wrapper holds one room's load
//! at a gate the test opens, so "while the open is stuck" is a fact of the
//! test, not a matter of timing.
// Test code: a failed expectation is the verdict (the lints bind product code).
#![allow(clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context, ensure};
use async_trait::async_trait;
use serde_json::{Value, json};
use tokio::sync::{oneshot, watch};
use trustroom_e2e::{WsClient, revision_of};
use trustroom_server::config::ServerConfig;
use trustroom_server::demo::{self, DemoSeed};
use trustroom_server::storage::{
    self, Acquired, CommitBatch, KeyRecord, Lease, Leases, LoadedRoom, PurgeReport, QueuedAdmin, RoomRecord, Storage,
    StorageError, StorageResult, Store, UserRecord,
};
use trustroom_shared::audit::AuditEntry;
use trustroom_shared::change::Revision;
use trustroom_shared::manifest::ManifestRecord;
use trustroom_shared::restricted::Redaction;
use trustroom_shared::room::RoomState;
use trustroom_shared::{ClientId, RoomId, UserId};

/// What a load of the gated room does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pass {
    /// Waits until the test lets it through.
    Hold,
    /// Goes through to the database.
    Through,
    /// Fails as a broken database would.
    Fail,
}

/// The gate in front of one room's load.
struct Gate {
    room: RoomId,
    /// Loads of the room that reached the gate.
    loads: AtomicUsize,
    /// The same count, to wait on.
    arrived: watch::Sender<usize>,
    pass: watch::Sender<Pass>,
}

impl Gate {
    async fn pass(&self) -> StorageResult<()> {
        let n = self.loads.fetch_add(1, Ordering::SeqCst) + 1;
        self.arrived.send_replace(n);
        let mut pass = self.pass.subscribe();
        let decided =
            *pass.wait_for(|p| *p != Pass::Hold).await.map_err(|_| StorageError::Corrupt("gate gone".into()))?;
        match decided {
            Pass::Fail => Err(StorageError::Corrupt("the test fails this load".into())),
            Pass::Hold | Pass::Through => Ok(()),
        }
    }

    /// Waits until `n` loads of the room reached the gate.
    async fn arrived(&self, n: usize) -> anyhow::Result<()> {
        let mut arrived = self.arrived.subscribe();
        tokio::time::timeout(trustroom_e2e::T, arrived.wait_for(|a| *a >= n))
            .await
            .context("no load reached the gate")??;
        Ok(())
    }
}

/// A real SQLite store with a gate in front of one room's load.
struct GatedStore {
    inner: Store,
    gate: Arc<Gate>,
}

#[async_trait]
impl Storage for GatedStore {
    async fn create_user(&self, user: &UserRecord) -> StorageResult<()> {
        self.inner.create_user(user).await
    }
    async fn user_by_token_hash(&self, hash: &str) -> StorageResult<Option<UserRecord>> {
        self.inner.user_by_token_hash(hash).await
    }
    async fn user_by_name(&self, name: &str) -> StorageResult<Option<UserRecord>> {
        self.inner.user_by_name(name).await
    }
    async fn user_by_id(&self, id: UserId) -> StorageResult<Option<UserRecord>> {
        self.inner.user_by_id(id).await
    }
    async fn list_users(&self) -> StorageResult<Vec<UserRecord>> {
        self.inner.list_users().await
    }
    async fn revoke_user(&self, name: &str, at_ms: i64) -> StorageResult<bool> {
        self.inner.revoke_user(name, at_ms).await
    }
    async fn create_room(&self, room: &RoomRecord, first: &CommitBatch) -> StorageResult<()> {
        self.inner.create_room(room, first).await
    }
    async fn list_rooms(&self) -> StorageResult<Vec<RoomRecord>> {
        self.inner.list_rooms().await
    }
    async fn room(&self, id: RoomId) -> StorageResult<Option<RoomRecord>> {
        self.inner.room(id).await
    }
    async fn rooms_for_user(&self, user: UserId) -> StorageResult<Vec<(RoomRecord, String)>> {
        self.inner.rooms_for_user(user).await
    }
    async fn load_room(&self, id: RoomId) -> StorageResult<Option<LoadedRoom>> {
        if id == self.gate.room {
            self.gate.pass().await?;
        }
        self.inner.load_room(id).await
    }
    async fn commit(&self, room: RoomId, batch: &CommitBatch) -> StorageResult<()> {
        self.inner.commit(room, batch).await
    }
    async fn revisions_between(&self, room: RoomId, after: u64, upto: u64) -> StorageResult<Vec<Revision>> {
        self.inner.revisions_between(room, after, upto).await
    }
    async fn find_client_seq(&self, room: RoomId, client: ClientId, seq: u64) -> StorageResult<Option<u64>> {
        self.inner.find_client_seq(room, client, seq).await
    }
    async fn append_audit(&self, entries: &[AuditEntry]) -> StorageResult<()> {
        self.inner.append_audit(entries).await
    }
    async fn audit_head(&self, chain: &str) -> StorageResult<Option<(u64, String)>> {
        self.inner.audit_head(chain).await
    }
    async fn audit_chain(&self, chain: &str) -> StorageResult<Vec<AuditEntry>> {
        self.inner.audit_chain(chain).await
    }
    async fn signing_key(&self, candidate: &KeyRecord) -> StorageResult<KeyRecord> {
        self.inner.signing_key(candidate).await
    }
    async fn stored_key(&self, name: &str) -> StorageResult<Option<KeyRecord>> {
        self.inner.stored_key(name).await
    }
    async fn manifests(&self, room: RoomId) -> StorageResult<Vec<ManifestRecord>> {
        self.inner.manifests(room).await
    }
    async fn snapshot_at_or_before(&self, room: RoomId, revision: u64) -> StorageResult<Option<RoomState>> {
        self.inner.snapshot_at_or_before(room, revision).await
    }
    async fn audit_change_entry(&self, chain: &str, revision: u64) -> StorageResult<Option<AuditEntry>> {
        self.inner.audit_change_entry(chain, revision).await
    }
    async fn enqueue_admin(&self, room: RoomId, command: &str, at_ms: i64) -> StorageResult<i64> {
        self.inner.enqueue_admin(room, command, at_ms).await
    }
    async fn pending_admin(&self) -> StorageResult<Vec<QueuedAdmin>> {
        self.inner.pending_admin().await
    }
    async fn finish_admin(&self, id: i64, result: &str, at_ms: i64) -> StorageResult<()> {
        self.inner.finish_admin(id, result, at_ms).await
    }
    async fn admin_result(&self, id: i64) -> StorageResult<Option<String>> {
        self.inner.admin_result(id).await
    }
    async fn heartbeat(&self, node: &str, at_ms: i64) -> StorageResult<()> {
        self.inner.heartbeat(node, at_ms).await
    }
    async fn remove_node(&self, node: &str) -> StorageResult<()> {
        self.inner.remove_node(node).await
    }
    async fn latest_heartbeat(&self) -> StorageResult<Option<i64>> {
        self.inner.latest_heartbeat().await
    }
    async fn purge_content(&self, room: RoomId, redaction: &Redaction) -> StorageResult<PurgeReport> {
        self.inner.purge_content(room, redaction).await
    }
}

#[async_trait]
impl Leases for GatedStore {
    fn shared_by_nodes(&self) -> bool {
        self.inner.shared_by_nodes()
    }
    async fn acquire_lease(&self, room: RoomId, node: &str, url: &str, duration_ms: i64) -> StorageResult<Acquired> {
        self.inner.acquire_lease(room, node, url, duration_ms).await
    }
    async fn renew_leases(&self, node: &str, held: &[(RoomId, i64)], duration_ms: i64) -> StorageResult<Vec<RoomId>> {
        self.inner.renew_leases(node, held, duration_ms).await
    }
    async fn release_lease(&self, room: RoomId, node: &str, epoch: i64) -> StorageResult<()> {
        self.inner.release_lease(room, node, epoch).await
    }
    async fn lease_of(&self, room: RoomId) -> StorageResult<Option<Lease>> {
        self.inner.lease_of(room).await
    }
}

/// A running server whose store gates `cold`'s load.
struct Node {
    url: String,
    seed: DemoSeed,
    /// A room of the demo owner, gated.
    cold: RoomId,
    gate: Arc<Gate>,
    stop: Option<oneshot::Sender<()>>,
    _dir: tempfile::TempDir,
}

impl Node {
    async fn start() -> anyhow::Result<Node> {
        let dir = tempfile::tempdir()?;
        let inner = storage::open(&format!("sqlite://{}", dir.path().join("t.db").display())).await?;
        let seed = demo::seed(&inner).await?;
        let owner = seed.member("owner").context("no owner")?.name.clone();
        let cold = trustroom_server::admin::create_room(&inner, "Cold room", &owner).await?;
        let (arrived, _) = watch::channel(0);
        let (pass, _) = watch::channel(Pass::Hold);
        let gate = Arc::new(Gate { room: cold, loads: AtomicUsize::new(0), arrived, pass });
        let store: Store = Arc::new(GatedStore { inner, gate: gate.clone() });
        let config =
            ServerConfig { max_connections_per_user: 1_000, max_connections_per_ip: 1_000, ..ServerConfig::default() };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("ws://{}", listener.local_addr()?);
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(trustroom_server::serve::run(listener, store, config, async move {
            let _ = stopped.await;
        }));
        Ok(Node { url, seed, cold, gate, stop: Some(stop), _dir: dir })
    }

    async fn owner(&self) -> anyhow::Result<WsClient> {
        let owner = self.seed.member("owner").context("no owner")?;
        WsClient::connect(&self.url, &owner.token).await
    }

    fn set(&self, pass: Pass) {
        self.gate.pass.send_replace(pass);
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        // Whatever still waits at the gate goes through.
        self.gate.pass.send_replace(Pass::Through);
    }
}

fn join(room: RoomId) -> Value {
    json!({"type": "join", "room": room.to_string()})
}

/// The revision a join's `ok` answered with.
fn joined_at(answer: &Value) -> anyhow::Result<u64> {
    ensure!(answer["type"] == "ok", "the join was refused: {answer}");
    answer["result"]["revision"].as_u64().context("a join answer without a revision")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_joins_of_a_cold_room_open_it_once() -> anyhow::Result<()> {
    let node = Node::start().await?;
    let mut clients = Vec::new();
    for _ in 0..24 {
        clients.push(node.owner().await?);
    }
    let mut ids = Vec::new();
    for c in &mut clients {
        ids.push(c.send_request(join(node.cold)).await?);
    }
    // At least one join is inside the open; the others wait for it or come
    // after it.
    node.gate.arrived(1).await?;
    node.set(Pass::Through);
    let mut revisions = Vec::new();
    for (c, id) in clients.iter_mut().zip(&ids) {
        revisions.push(joined_at(&c.await_answer_text(id).await?.1)?);
    }
    ensure!(
        node.gate.loads.load(Ordering::SeqCst) == 1,
        "the room was loaded {} times",
        node.gate.loads.load(Ordering::SeqCst)
    );
    ensure!(revisions.iter().all(|r| *r == revisions[0]), "the joins saw different revisions: {revisions:?}");
    // One actor: an edit by one joiner reaches every other joiner.
    let (first, rest) = clients.split_first_mut().context("no clients")?;
    let added = first
        .ok(json!({"type": "add_section", "room": node.cold.to_string(), "title": "Once", "body": "", "seq": 1}))
        .await?;
    let revision = added["revision"].as_u64().context("no revision")?;
    for c in rest {
        c.wait_for_revision(revision).await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_warm_room_answers_while_another_room_is_stuck_opening() -> anyhow::Result<()> {
    let node = Node::start().await?;
    let warm = node.seed.room;
    let mut editor = node.owner().await?;
    let snapshot = editor.join(&warm.to_string()).await?;
    let (section, body) = trustroom_e2e::section(&snapshot, "Summary")?;
    let mut base = revision_of(&snapshot);

    let mut stuck = node.owner().await?;
    let stuck_join = stuck.send_request(join(node.cold)).await?;
    let mut waiter = node.owner().await?;
    let waiter_join = waiter.send_request(join(node.cold)).await?;
    node.gate.arrived(1).await?;

    // The open is stuck at the gate: the warm room still takes edits, a new
    // connection still joins it, and the hub still answers for it.
    for i in 0..5u64 {
        let op = json!([trustroom_e2e::chars(&body) + i as i64, "x"]);
        let ack = editor
            .ok(json!({"type": "edit", "room": warm.to_string(), "section": section, "base": base, "op": op, "seq": i + 1}))
            .await?;
        base = ack["revision"].as_u64().context("no revision")?;
    }
    let mut late = node.owner().await?;
    ensure!(revision_of(&late.join(&warm.to_string()).await?) == base, "the late joiner missed an edit");
    let ready = late.ok(json!({"type": "readiness", "room": warm.to_string()})).await?;
    ensure!(ready.is_object(), "readiness answered {ready}");
    // The second joiner of the stuck room waits for the first one's open.
    ensure!(node.gate.loads.load(Ordering::SeqCst) == 1, "the stuck room was loaded twice");

    node.set(Pass::Through);
    let a = joined_at(&stuck.await_answer_text(&stuck_join).await?.1)?;
    let b = joined_at(&waiter.await_answer_text(&waiter_join).await?.1)?;
    ensure!(a == b, "the two joiners of the stuck room saw revisions {a} and {b}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_open_is_told_to_every_waiter_and_the_next_join_retries() -> anyhow::Result<()> {
    let node = Node::start().await?;
    let mut first = node.owner().await?;
    let mut second = node.owner().await?;
    let a = first.send_request(join(node.cold)).await?;
    node.gate.arrived(1).await?;
    let b = second.send_request(join(node.cold)).await?;
    node.set(Pass::Fail);
    for (c, id) in [(&mut first, &a), (&mut second, &b)] {
        let answer = c.await_answer_text(id).await?.1;
        ensure!(answer["type"] == "error" && answer["code"] == "unavailable", "a failed open answered {answer}");
    }
    let failed_loads = node.gate.loads.load(Ordering::SeqCst);
    // The failure is not kept: the next join opens the room.
    node.set(Pass::Through);
    let snapshot = first.join(&node.cold.to_string()).await?;
    ensure!(snapshot["state"]["title"] == "Cold room", "unexpected snapshot: {snapshot}");
    ensure!(node.gate.loads.load(Ordering::SeqCst) == failed_loads + 1, "the retry did not load the room again");
    Ok(())
}
