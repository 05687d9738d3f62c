//! Several `trustroom-server serve` nodes on one PostgreSQL database
//! (docs/cluster.md): room leases, the `moved` redirect, failover after the
//! owner is killed, and fencing of an owner that was paused past its lease.
//!
//! Needs `TRUSTROOM_TEST_PG_URL` (e.g.
//! `postgres://postgres@127.0.0.1:5432/postgres`); each test creates its own
//! database and drops it at the end. Without it every test is ignored, and
//! fails under `CI=true` (tests/build.rs).

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use serde_json::{Value, json};
use tokio::time::Instant;
use trustroom_e2e::{PgTestDb, T, WsClient, client_bin, free_port, isolated_command, run_process, server_bin};
use trustroom_server::admin::{self, AdminCommand};
use trustroom_server::demo::{self, DemoSeed};
use trustroom_server::hub::{Hub, Located};
use trustroom_server::room::RoomCmd;
use trustroom_server::storage::{self, Acquired, CommitBatch, Fence, StorageError, Store};
use trustroom_shared::ClientId;
use trustroom_shared::audit::{next_entry, verify_chain};

/// Short leases keep the failover tests to seconds (long enough that a
/// busy 2-core machine does not starve a node's renewals past it).
const LEASE_SECS: &str = "2";
const LEASE: Duration = Duration::from_secs(2);

/// One `trustroom-server serve` process.
struct Node {
    url: String,
    child: tokio::process::Child,
    log: PathBuf,
}

impl Node {
    async fn start(db: &str, home: &Path, id: &str) -> Result<Node> {
        let port = free_port()?;
        let log = home.join(format!("{id}.log"));
        let mut cmd = isolated_command(&server_bin()?, home);
        cmd.args(["--db", db, "serve", "--listen", &format!("127.0.0.1:{port}"), "--node-id", id])
            .args(["--lease-secs", LEASE_SECS])
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?)
            .kill_on_drop(true);
        let child = cmd.spawn().context("starting trustroom-server serve")?;
        let node = Node { url: format!("ws://127.0.0.1:{port}"), child, log };
        let deadline = Instant::now() + T;
        while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            ensure!(Instant::now() < deadline, "node {id} did not listen within {T:?}: {}", node.log_text());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(node)
    }

    fn pid(&self) -> Result<String> {
        Ok(self.child.id().context("the node has exited")?.to_string())
    }

    /// SIGKILL: no shutdown, no lease release.
    async fn kill(&mut self) -> Result<()> {
        self.child.start_kill()?;
        self.child.wait().await?;
        Ok(())
    }

    async fn signal(&self, sig: &str) -> Result<()> {
        let status = tokio::process::Command::new("kill").args([sig, &self.pid()?]).status().await?;
        ensure!(status.success(), "kill {sig} failed");
        Ok(())
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// A PostgreSQL database with the demo room (an error without
/// `TRUSTROOM_TEST_PG_URL`).
async fn demo_db() -> Result<(PgTestDb, Store, DemoSeed)> {
    let db = PgTestDb::create().await?;
    let store = storage::open(db.url()).await?;
    let seed = demo::seed(&store).await?;
    Ok((db, store, seed))
}

fn add_section(room: &str, title: &str, seq: u64) -> Value {
    json!({"type": "add_section", "room": room, "title": title, "body": format!("body of {title}\n"), "seq": seq})
}

/// Connects with `client` id and joins `room`, starting at `urls` in turn
/// and following `moved` answers, until a node serves the room (a room
/// whose dead owner's lease has not expired yet redirects to a dead node:
/// then it tries again shortly, as the real client does). Returns the
/// client, its snapshot and the URL of the node that serves it.
async fn join_anywhere(
    urls: &[&str],
    token: &str,
    client: ClientId,
    room: &str,
    since: Option<u64>,
) -> Result<(WsClient, Value, String)> {
    let deadline = Instant::now() + T;
    let mut last = String::new();
    loop {
        for start in urls {
            let mut url = start.to_string();
            for _hop in 0..3 {
                let Ok(mut c) = WsClient::connect_as(&url, token, Some(client)).await else {
                    last = format!("cannot connect to {url}");
                    break;
                };
                let mut join = json!({"type": "join", "room": room});
                if let Some(s) = since {
                    join["since"] = json!(s);
                }
                let answer = match c.request(join).await {
                    Ok(a) => a,
                    Err(e) => {
                        last = format!("join on {url}: {e:#}");
                        break;
                    }
                };
                if answer["type"] == "ok" {
                    let snap = c
                        .pending()
                        .filter(|v| v["type"] == "snapshot")
                        .last()
                        .map(|v| v["snapshot"].clone())
                        .unwrap_or(Value::Null);
                    return Ok((c, snap, url));
                }
                last = answer.to_string();
                if answer["code"] != "moved" {
                    break;
                }
                url = answer["url"].as_str().context("moved without url")?.to_string();
                c.close().await;
            }
        }
        ensure!(Instant::now() < deadline, "no node served room {room} within {T:?}; last: {last}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Section titles of a snapshot.
fn titles(snapshot: &Value) -> Vec<String> {
    snapshot["state"]["sections"]
        .as_array()
        .map(|s| s.iter().filter_map(|s| s["title"].as_str().map(String::from)).collect())
        .unwrap_or_default()
}

/// What the database holds for the room: contiguous revisions, a valid
/// audit chain; returns the newest revision.
async fn check_stored(store: &Store, seed: &DemoSeed) -> Result<u64> {
    let revs = store.revisions_between(seed.room, 0, i64::MAX as u64).await?;
    for (i, r) in revs.iter().enumerate() {
        ensure!(r.revision == i as u64 + 1, "revisions not contiguous at {i}: {}", r.revision);
    }
    let chain = store.audit_chain(&seed.room.to_string()).await?;
    verify_chain(&chain).map_err(|e| anyhow::anyhow!("audit chain broken: {e:?}"))?;
    Ok(revs.last().map_or(0, |r| r.revision))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(any(pg_url, ci)), ignore = "needs TRUSTROOM_TEST_PG_URL (PostgreSQL)")]
async fn nodes_redirect_to_the_owner_converge_and_fail_over_when_it_is_killed() -> Result<()> {
    let (db, store, seed) = demo_db().await?;
    let home = tempfile::tempdir()?;
    let mut nodes = Vec::new();
    for id in ["n0", "n1", "n2"] {
        nodes.push(Node::start(db.url(), home.path(), id).await?);
    }
    let room = seed.room.to_string();
    let roles = ["owner", "reviewer/privacy", "reviewer/legal"];
    let token = |role: &str| seed.member(role).map(|m| m.token.clone()).context("demo role");

    // The first join takes the room's lease on n0.
    let ids: Vec<ClientId> = roles.iter().map(|_| ClientId::new()).collect();
    let (first, _, at) = join_anywhere(&[&nodes[0].url], &token(roles[0])?, ids[0], &room, None).await?;
    ensure!(at == nodes[0].url);
    let lease = store.lease_of(seed.room).await?.context("no lease row after the first join")?;
    ensure!(lease.node == "n0" && lease.url == nodes[0].url && lease.epoch == 1, "{lease:?}");

    // A member on another node is told where the room lives…
    let mut other = WsClient::connect_as(&nodes[1].url, &token(roles[1])?, Some(ids[1])).await?;
    let moved = other.refused(json!({"type": "join", "room": room}), "moved").await?;
    ensure!(moved["url"] == nodes[0].url.as_str(), "moved to the owner: {moved}");
    // …and so is a request other than join; nothing is applied there.
    other.refused(add_section(&room, "not here", 1), "moved").await?;
    other.close().await;
    // A non-member learns nothing, on any node: the same not_found as for
    // a room that does not exist.
    let (_, outsider) = admin::add_user(&store, "outsider").await?;
    for node in &nodes {
        let mut c = WsClient::connect(&node.url, &outsider).await?;
        c.refused(json!({"type": "join", "room": room}), "not_found").await?;
        c.refused(json!({"type": "join", "room": uuid::Uuid::now_v7().to_string()}), "not_found").await?;
    }

    // Clients spread over the three nodes all end up on the owner and
    // converge on the same revisions.
    let mut clients = vec![first];
    for (i, start) in [(1, 1), (2, 2)] {
        let (c, _, at) = join_anywhere(&[&nodes[start].url], &token(roles[i])?, ids[i], &room, None).await?;
        ensure!(at == nodes[0].url, "client {i} redirected to the owner, not {at}");
        clients.push(c);
    }
    let mut acked: BTreeMap<String, u64> = BTreeMap::new();
    let mut seqs = [0u64; 3];
    let mut tasks = Vec::new();
    for (i, mut c) in clients.into_iter().enumerate() {
        let room = room.clone();
        tasks.push(tokio::spawn(async move {
            let mut done = Vec::new();
            for k in 1..=5u64 {
                let title = format!("c{i}-{k}");
                let ack = c.ok(add_section(&room, &title, k)).await?;
                done.push((title, ack["revision"].as_u64().context("ack revision")?));
            }
            anyhow::Ok((c, done))
        }));
    }
    let mut clients = Vec::new();
    for (i, t) in tasks.into_iter().enumerate() {
        let (c, done) = t.await??;
        seqs[i] = 5;
        acked.extend(done);
        clients.push(c);
    }
    let top = *acked.values().max().context("acks")?;
    for c in &mut clients {
        c.wait_for_revision(top).await?;
    }

    // In flight while the owner dies: one more request each (client 0's
    // surely acknowledged, the others' perhaps not), then SIGKILL.
    let mut in_flight = Vec::new();
    let mut acked_before_crash: BTreeMap<String, u64> = BTreeMap::new();
    for (i, c) in clients.iter_mut().enumerate() {
        seqs[i] += 1;
        let title = format!("c{i}-{}", seqs[i]);
        let id = c.send_request(add_section(&room, &title, seqs[i])).await?;
        if i == 0 {
            let (_, ack) = c.await_answer_text(&id).await?;
            ensure!(ack["type"] == "ok", "{ack}");
            acked_before_crash.insert(title.clone(), ack["result"]["revision"].as_u64().context("ack revision")?);
        }
        in_flight.push((i, title, seqs[i], id));
    }
    nodes[0].kill().await?;
    let killed = Instant::now();
    // What was acknowledged before the crash must survive it.
    let mut last_seen = 0;
    for (i, c) in clients.iter_mut().enumerate() {
        let _ = c.drain(Duration::from_millis(300)).await;
        for v in c.take_pending() {
            if let Some((_, title, _, _)) =
                in_flight.iter().find(|(j, _, _, id)| *j == i && v["type"] == "ok" && v["id"] == id.as_str())
            {
                acked_before_crash.insert(title.clone(), v["result"]["revision"].as_u64().context("ack revision")?);
            }
            if let Some(r) = v["rev"]["revision"].as_u64() {
                last_seen = last_seen.max(r);
            }
        }
    }
    drop(clients);

    // Everyone reconnects to the surviving nodes (in different orders) with
    // the same client ids; the room moves to one of them after the lease
    // expires, from the committed state; resends are exactly-once.
    let survivors = [nodes[1].url.clone(), nodes[2].url.clone()];
    let mut clients = Vec::new();
    let mut owner_url = None;
    for i in 0..3 {
        let order: Vec<&str> =
            if i % 2 == 0 { vec![&survivors[0], &survivors[1]] } else { vec![&survivors[1], &survivors[0]] };
        let (c, _, at) = join_anywhere(&order, &token(roles[i])?, ids[i], &room, Some(last_seen)).await?;
        ensure!(owner_url.get_or_insert(at.clone()) == &at, "two nodes serve the room: {at} and {owner_url:?}");
        clients.push(c);
    }
    let took = killed.elapsed();
    ensure!(took >= LEASE.mul_f64(0.5), "the room moved after {took:?}, before the dead owner's lease could expire");
    eprintln!("failover: the room was served again {took:?} after SIGKILL of its owner (lease {LEASE:?})");
    let lease = store.lease_of(seed.room).await?.context("lease row")?;
    ensure!(lease.epoch == 2 && lease.node != "n0" && Some(&lease.url) == owner_url.as_ref(), "{lease:?}");
    // Resending what was in flight is exactly-once: what landed before
    // the crash is answered `duplicate` with its revision.
    for (i, title, seq, _) in &in_flight {
        let ack = clients[*i].ok(add_section(&room, title, *seq)).await?;
        let revision = ack["revision"].as_u64().context("ack revision")?;
        if let Some(before) = acked_before_crash.get(title) {
            ensure!(ack["duplicate"] == true && revision == *before, "resend of acked {title}: {ack}");
        }
        acked.insert(title.clone(), revision);
    }
    ensure!(!acked_before_crash.is_empty());
    eprintln!("{} of 3 in-flight requests were acknowledged before the crash", acked_before_crash.len());
    for (i, c) in clients.iter_mut().enumerate() {
        for _ in 0..3 {
            seqs[i] += 1;
            let title = format!("c{i}-{}", seqs[i]);
            let ack = c.ok(add_section(&room, &title, seqs[i])).await?;
            acked.insert(title, ack["revision"].as_u64().context("ack revision")?);
        }
    }

    // Every acknowledged section is there exactly once, everywhere.
    let top = *acked.values().max().context("acks")?;
    for c in &mut clients {
        c.wait_for_revision(top).await?;
    }
    let owner = owner_url.context("owner")?;
    let (_, snap, _) = join_anywhere(&[&owner], &token("owner")?, ClientId::new(), &room, None).await?;
    let all = titles(&snap);
    for title in acked.keys() {
        ensure!(all.iter().filter(|t| *t == title).count() == 1, "{title} not exactly once in {all:?}");
    }
    ensure!(acked.len() == 3 * 9, "acked {}", acked.len());
    let stored = check_stored(&store, &seed).await?;
    ensure!(stored >= top, "stored {stored} < acked {top}");
    let revisions: HashSet<u64> = acked.values().copied().collect();
    ensure!(revisions.len() == acked.len(), "two acks share a revision: {acked:?}");
    drop(nodes);
    drop(db);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(any(pg_url, ci)), ignore = "needs TRUSTROOM_TEST_PG_URL (PostgreSQL)")]
async fn a_paused_owner_is_fenced_and_stops_sequencing() -> Result<()> {
    let (db, store, seed) = demo_db().await?;
    let home = tempfile::tempdir()?;
    let a = Node::start(db.url(), home.path(), "a").await?;
    let b = Node::start(db.url(), home.path(), "b").await?;
    let room = seed.room.to_string();
    let owner = seed.member("owner").context("owner")?.token.clone();
    let privacy = seed.member("reviewer/privacy").context("privacy")?.token.clone();

    let (mut on_a, _, at) = join_anywhere(&[&a.url], &owner, ClientId::new(), &room, None).await?;
    ensure!(at == a.url);
    on_a.ok(add_section(&room, "before the pause", 1)).await?;

    // Pause the owner; a write reaches it while it sleeps.
    a.signal("-STOP").await?;
    let late = on_a.send_request(add_section(&room, "late write", 2)).await?;
    tokio::time::sleep(LEASE + Duration::from_millis(700)).await;

    // Its lease expired: b takes the room over and sequences it.
    let (mut on_b, _, at) = join_anywhere(&[&b.url], &privacy, ClientId::new(), &room, None).await?;
    ensure!(at == b.url, "b should own the room now, got {at}");
    let lease = store.lease_of(seed.room).await?.context("lease")?;
    ensure!(lease.node == "b" && lease.epoch == 2, "{lease:?}");
    on_b.ok(add_section(&room, "after the takeover", 1)).await?;

    // The old owner wakes up: its late write is refused, never acked, and
    // its clients are told to reconnect.
    a.signal("-CONT").await?;
    match on_a.await_answer_text(&late).await {
        Ok((_, answer)) => {
            ensure!(answer["type"] == "error" && answer["code"] == "unavailable", "late write answered {answer}")
        }
        Err(e) => eprintln!("the old owner closed the connection before answering the late write: {e:#}"),
    }
    let _ = on_a.drain(Duration::from_millis(500)).await;
    ensure!(
        on_a.captured().iter().any(|f| f.contains(r#""type":"closing""#) && f.contains(r#""code":"moved""#)),
        "the old owner's client got no `closing` `moved`: {:?}",
        on_a.captured().iter().rev().take(3).collect::<Vec<_>>()
    );

    // Storage holds one history: the late write is not in it.
    check_stored(&store, &seed).await?;
    let revs = store.revisions_between(seed.room, 0, i64::MAX as u64).await?;
    let bodies: Vec<String> = revs.iter().map(|r| serde_json::to_string(&r.change).unwrap_or_default()).collect();
    ensure!(!bodies.iter().any(|b| b.contains("late write")), "the fenced write landed");
    ensure!(bodies.iter().filter(|b| b.contains("after the takeover")).count() == 1);
    ensure!(bodies.iter().filter(|b| b.contains("before the pause")).count() == 1);

    // A member on the old owner is now sent to b.
    let mut again = WsClient::connect(&a.url, &owner).await?;
    let moved = again.refused(json!({"type": "join", "room": room}), "moved").await?;
    ensure!(moved["url"] == b.url.as_str(), "{moved}");
    ensure!(a.log_text().contains("stopped sequencing the room"), "node a log: {}", a.log_text());
    drop((a, b));
    drop(db);
    Ok(())
}

/// The fence at the storage level and in the room actor: a node whose
/// lease was taken over cannot commit, even if it still believes its term
/// runs (a long pause, a clock that jumped); its room stops and the next
/// lookup sends clients to the new owner.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(any(pg_url, ci)), ignore = "needs TRUSTROOM_TEST_PG_URL (PostgreSQL)")]
async fn a_stale_epoch_cannot_commit_and_its_room_stops() -> Result<()> {
    let (db, store, seed) = demo_db().await?;
    let other = storage::open(db.url()).await?;

    // Storage: leases and the fence, node by node.
    let Acquired::Granted(first) = store.acquire_lease(seed.room, "x", "ws://x", 200).await? else {
        bail!("a free room's lease is granted");
    };
    ensure!(first.epoch == 1);
    let Acquired::HeldBy(held) = other.acquire_lease(seed.room, "y", "ws://y", 5_000).await? else {
        bail!("a live lease of another node is refused");
    };
    ensure!(held.node == "x" && held.url == "ws://x");
    ensure!(store.renew_leases("x", &[(seed.room, 1)], 200).await?.is_empty(), "x renews its own lease");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let Acquired::Granted(second) = other.acquire_lease(seed.room, "y", "ws://y", 5_000).await? else {
        bail!("an expired lease is taken over");
    };
    ensure!(second.epoch == 2);
    ensure!(store.renew_leases("x", &[(seed.room, 1)], 200).await? == vec![seed.room], "x learns it lost the room");
    let head = store.audit_head(&seed.room.to_string()).await?;
    let entry = next_entry(
        head.as_ref().map(|(s, h)| (*s, h.as_str())),
        &seed.room.to_string(),
        1,
        "t",
        "test.fenced",
        0,
        json!({}),
    );
    let stale = CommitBatch {
        audit: vec![entry.clone()],
        fence: Some(Fence { node: "x".into(), epoch: 1 }),
        ..Default::default()
    };
    match store.commit(seed.room, &stale).await {
        Err(StorageError::Fenced(msg)) => ensure!(msg.contains("epoch 1"), "{msg}"),
        other => bail!("a stale fence must be refused, got {other:?}"),
    }
    let none = CommitBatch { audit: vec![entry.clone()], fence: None, ..Default::default() };
    ensure!(store.audit_chain(&seed.room.to_string()).await?.iter().all(|e| e.kind != "test.fenced"), "nothing stored");
    let current = CommitBatch { fence: Some(Fence { node: "y".into(), epoch: 2 }), ..none };
    other.commit(seed.room, &current).await?;
    // Releasing lets the next node in at once, with a new epoch.
    other.release_lease(seed.room, "y", 2).await?;

    // The room actor: hub x opens the room under epoch 3…
    let config = trustroom_server::config::ServerConfig {
        node_id: Some("x".into()),
        advertise_url: Some("ws://x".into()),
        lease: Duration::from_millis(300),
        ..Default::default()
    };
    let hub = Hub::new(store.clone(), std::sync::Arc::new(config));
    let Located::Open(handle) = hub.locate(seed.room).await? else { bail!("hub x should open the room") };
    ensure!(hub.held_leases() == vec![(seed.room, 3)]);
    // …believes its term runs for an hour (no renewals happen here: no
    // serve loop), while its lease in the database expires and y takes it.
    hub.lease_term().renewed_at(std::time::Instant::now(), Duration::from_secs(3600));
    tokio::time::sleep(Duration::from_millis(400)).await;
    let Acquired::Granted(taken) = other.acquire_lease(seed.room, "y", "ws://y", 5_000).await? else {
        bail!("y takes the expired lease");
    };
    ensure!(taken.epoch == 4);
    let (reply, wait) = tokio::sync::oneshot::channel();
    let command = AdminCommand::Audit { kind: "test.stale_actor".into(), detail: json!({}) };
    handle.send(RoomCmd::Admin { command, reply }).await.map_err(|_| anyhow::anyhow!("room gone"))?;
    let answer = tokio::time::timeout(T, wait).await?.context("no reply")?;
    ensure!(answer.as_ref().is_err_and(|e| e.contains("lease lost")), "{answer:?}");
    let deadline = Instant::now() + T;
    while !handle.is_closed() {
        ensure!(Instant::now() < deadline, "the fenced room actor did not stop");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    match hub.locate(seed.room).await? {
        Located::Moved { node, url } => ensure!(node == "y" && url == "ws://y"),
        _ => bail!("the room should be located on y now"),
    }
    ensure!(store.audit_chain(&seed.room.to_string()).await?.iter().all(|e| e.kind != "test.stale_actor"));

    // The renewal round notices a takeover on its own, without a commit.
    other.release_lease(seed.room, "y", 4).await?;
    let Located::Open(handle) = hub.locate(seed.room).await? else { bail!("x takes the released room back") };
    ensure!(hub.held_leases() == vec![(seed.room, 5)]);
    hub.lease_term().renewed_at(std::time::Instant::now(), Duration::from_secs(3600));
    tokio::time::sleep(Duration::from_millis(400)).await;
    let Acquired::Granted(taken) = other.acquire_lease(seed.room, "y", "ws://y", 5_000).await? else {
        bail!("y takes the expired lease again");
    };
    ensure!(taken.epoch == 6);
    trustroom_server::cluster::renew_once(&hub).await;
    ensure!(hub.held_leases().is_empty(), "x still counts the lost lease: {:?}", hub.held_leases());
    let deadline = Instant::now() + T;
    while !handle.is_closed() {
        ensure!(Instant::now() < deadline, "the room whose lease was lost did not stop");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    hub.shutdown().await;
    drop(db);
    Ok(())
}

/// The real client follows `moved`: `trustroom` pointed at a node that does
/// not own the room reconnects to the owner and its change lands there.
/// Admin commands queued for the room are applied by its owner only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(any(pg_url, ci)), ignore = "needs TRUSTROOM_TEST_PG_URL (PostgreSQL)")]
async fn the_cli_follows_redirects_and_admin_commands_reach_the_owner() -> Result<()> {
    let (db, store, seed) = demo_db().await?;
    // Built before the nodes start: a build must not starve their renewals.
    let client = client_bin()?;
    let home = tempfile::tempdir()?;
    let n0 = Node::start(db.url(), home.path(), "n0").await?;
    let n1 = Node::start(db.url(), home.path(), "n1").await?;
    let room = seed.room.to_string();
    let owner = seed.member("owner").context("owner")?.token.clone();
    let (mut watcher, snap, _) = join_anywhere(&[&n0.url], &owner, ClientId::new(), &room, None).await?;
    let title = titles(&snap).into_iter().next().context("a section")?;

    let run = run_process(
        &client,
        &["--url", &n1.url, "--timeout", "20", "section", "append", &room, &title, " Appended via n1."],
        home.path(),
        &[("TRUSTROOM_TOKEN", owner.as_str())],
    )
    .await?;
    ensure!(run.success(), "trustroom through a non-owner node: {run:?}");
    let event = watcher.wait_for(|v| v["type"] == "event" && v.to_string().contains("Appended via n1."), T).await?;
    ensure!(event["rev"]["change"]["kind"] == "section_edited", "{event}");

    // An admin command for the room, queued while both nodes run: only n0
    // (the owner) applies it, once; its watcher on n0 sees the change.
    let (_, _) = admin::add_user(&store, "late.joiner").await?;
    let result = admin::add_member(&store, seed.room, "late.joiner", trustroom_shared::role::Role::Observer).await?;
    ensure!(!result.is_empty());
    let added = watcher.wait_for(|v| v["type"] == "event" && v["rev"]["change"]["kind"] == "member_added", T).await?;
    ensure!(added["rev"]["change"]["member"]["name"] == "late.joiner", "{added}");
    ensure!(n1.log_text().lines().all(|l| !l.contains("sequencing the room here")), "n1 must not take the room");
    check_stored(&store, &seed).await?;
    let revs = store.revisions_between(seed.room, 0, i64::MAX as u64).await?;
    let adds =
        revs.iter().filter(|r| serde_json::to_string(&r.change).is_ok_and(|c| c.contains("late.joiner"))).count();
    ensure!(adds == 1, "the member was added {adds} times");
    drop((n0, n1));
    drop(db);
    Ok(())
}

/// A private tmux server, killed on drop (also when the test fails).
struct Tmux {
    socket: String,
}

impl Tmux {
    fn screen(&self, session: &str) -> String {
        std::process::Command::new("tmux")
            .args(["-L", &self.socket, "capture-pane", "-p", "-t", session])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }

    async fn wait_for(&self, session: &str, text: &str, what: &str) -> Result<()> {
        let deadline = Instant::now() + T;
        loop {
            let screen = self.screen(session);
            if screen.contains(text) {
                return Ok(());
            }
            ensure!(Instant::now() < deadline, "{what}: {text:?} not on the screen within {T:?}:\n{screen}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = std::process::Command::new("tmux").args(["-L", &self.socket, "kill-server"]).output();
    }
}

/// The terminal UI, pointed at a node that does not own the room, follows
/// the redirect and shows the owner's live changes; when the owner is
/// killed it reconnects through its configured URL and goes on with the
/// node that took the room over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(any(pg_url, ci)), ignore = "needs TRUSTROOM_TEST_PG_URL (PostgreSQL)")]
async fn the_tui_follows_the_redirect_and_survives_failover() -> Result<()> {
    let (db, _store, seed) = demo_db().await?;
    std::process::Command::new("tmux").arg("-V").output().context("this test drives the TUI in tmux")?;
    let bin = client_bin()?;
    let home = tempfile::tempdir()?;
    let mut n0 = Node::start(db.url(), home.path(), "n0").await?;
    let n1 = Node::start(db.url(), home.path(), "n1").await?;
    let room = seed.room.to_string();
    let owner = seed.member("owner").context("owner")?.token.clone();
    let privacy = seed.member("reviewer/privacy").context("privacy")?.token.clone();
    let owner_id = ClientId::new();
    let (mut writer, _, _) = join_anywhere(&[&n0.url], &owner, owner_id, &room, None).await?;

    let tmux = Tmux { socket: format!("trustroom-cluster-{}", uuid::Uuid::now_v7().simple()) };
    let log_dir = home.path().join("tui-log");
    let command = format!(
        "env LANG=C.UTF-8 TERM=xterm-256color HOME={home} TRUSTROOM_LOG_DIR={log} TRUSTROOM_TOKEN={privacy} {bin} --url {url} connect {room}; sleep 600",
        home = home.path().display(),
        log = log_dir.display(),
        bin = bin.display(),
        url = n1.url,
    );
    let status = std::process::Command::new("tmux")
        .args(["-L", &tmux.socket, "new-session", "-d", "-s", "tui", "-x", "120", "-y", "40", &command])
        .status()?;
    ensure!(status.success(), "tmux new-session failed");
    tmux.wait_for("tui", "● connected", "the TUI did not join through n1").await?;

    writer.ok(add_section(&room, "CLUSTER-TUI-ONE", 1)).await?;
    tmux.wait_for("tui", "CLUSTER-TUI-ONE", "the owner's change did not reach the redirected TUI").await?;

    n0.kill().await?;
    let (mut writer, _, at) = join_anywhere(&[&n1.url], &owner, owner_id, &room, None).await?;
    ensure!(at == n1.url, "n1 should have taken the room over, got {at}");
    writer.ok(add_section(&room, "CLUSTER-TUI-TWO", 2)).await?;
    tmux.wait_for("tui", "CLUSTER-TUI-TWO", "the TUI did not follow the room to n1 after the owner died").await?;
    tmux.wait_for("tui", "● connected", "the TUI is not connected after failover").await?;
    drop(tmux);
    drop((n0, n1));
    drop(db);
    Ok(())
}

/// Refusals that concern no room are audited in the `server` chain, which
/// every node appends to. Two nodes refusing at the same time must neither
/// lose an entry nor break the chain: a node that loses the race for the
/// next `seq` chains onto the new head and tries again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(any(pg_url, ci)), ignore = "needs TRUSTROOM_TEST_PG_URL (PostgreSQL)")]
async fn two_nodes_refusing_at_once_keep_one_unbroken_server_audit_chain() -> Result<()> {
    let (db, store, _seed) = demo_db().await?;
    let home = tempfile::tempdir()?;
    let nodes = [Node::start(db.url(), home.path(), "a0").await?, Node::start(db.url(), home.path(), "a1").await?];
    let (_, outsider) = admin::add_user(&store, "outsider").await?;
    let before = store.audit_chain("server").await?.len();
    const PER_CLIENT: usize = 25;
    let mut tasks = Vec::new();
    for node in &nodes {
        for _ in 0..2 {
            let url = node.url.clone();
            let token = outsider.clone();
            tasks.push(tokio::spawn(async move {
                let mut c = WsClient::connect(&url, &token).await?;
                // Pipelined: every request is on the wire before the first answer.
                let mut ids = Vec::new();
                for _ in 0..PER_CLIENT {
                    let missing = uuid::Uuid::now_v7().to_string();
                    ids.push(c.send_request(json!({"type": "join", "room": missing})).await?);
                }
                for id in ids {
                    let (_, answer) = c.await_answer_text(&id).await?;
                    ensure!(answer["code"] == "not_found", "{answer}");
                }
                c.close().await;
                Ok::<(), anyhow::Error>(())
            }));
        }
    }
    for t in tasks {
        t.await??;
    }
    // Refusals are audited right after they are answered: wait for the
    // last ones to land.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut chain = store.audit_chain("server").await?;
    while chain.len() < before + 4 * PER_CLIENT && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
        chain = store.audit_chain("server").await?;
    }
    verify_chain(&chain).map_err(|e| anyhow::anyhow!("server audit chain broken: {e:?}"))?;
    let refused_joins =
        chain[before..].iter().filter(|e| e.kind == "refused" && e.detail["code"] == "not_found").count();
    ensure!(
        refused_joins == 4 * PER_CLIENT,
        "every refusal audited once: {refused_joins} of {} (node logs: {:?})",
        4 * PER_CLIENT,
        nodes
            .iter()
            .flat_map(|n| n.log_text().lines().filter(|l| l.contains("audit")).map(str::to_string).collect::<Vec<_>>())
            .take(5)
            .collect::<Vec<_>>()
    );
    Ok(())
}
