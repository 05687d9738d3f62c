//! Redirects, convergence and failover; a paused owner is fenced.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(any(pg_url, ci)), ignore = "needs TRUSTROOM_TEST_PG_URL (PostgreSQL)")]
async fn nodes_redirect_to_the_owner_converge_and_fail_over_when_it_is_killed() -> Result<()> {
    let (db, store, seed) = demo_db().await?;
    let home = tempfile::tempdir()?;
    let mut nodes = Vec::new();
    for id in ["n0", "n1", "n2"] {
        nodes.push(Node::start(db.url(), home.path(), id, LEASE_SECS).await?);
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
    let a = Node::start(db.url(), home.path(), "a", LEASE_SECS).await?;
    let b = Node::start(db.url(), home.path(), "b", LEASE_SECS).await?;
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
            ensure!(answer["type"] == "error" && answer["code"] == "unavailable", "late write answered {answer}");
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
