//! A stale epoch cannot commit; two nodes keep one unbroken server audit chain.

use super::*;

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

/// Refusals that concern no room are audited in the `server` chain, which
/// every node appends to. Two nodes refusing at the same time must neither
/// lose an entry nor break the chain: a node that loses the race for the
/// next `seq` chains onto the new head and tries again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(any(pg_url, ci)), ignore = "needs TRUSTROOM_TEST_PG_URL (PostgreSQL)")]
async fn two_nodes_refusing_at_once_keep_one_unbroken_server_audit_chain() -> Result<()> {
    let (db, store, _seed) = demo_db().await?;
    let home = tempfile::tempdir()?;
    let nodes = [
        Node::start(db.url(), home.path(), "a0", LEASE_SECS).await?,
        Node::start(db.url(), home.path(), "a1", LEASE_SECS).await?,
    ];
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
