//! The one-shot CLI rides out a failover (docs/cluster.md): two
//! `trustroom-server serve` nodes on one PostgreSQL database; the node that
//! owns the room is killed; a command sent to the survivor is answered
//! `moved` to the dead owner until its lease expires. The CLI retries with
//! the session layer's backoff, asks the survivor again, and succeeds once
//! the survivor takes the room over; with a `--timeout` shorter than the
//! lease it reports `cannot_connect` only when that timeout is spent.
//!
//! Runs only when `TRUSTROOM_TEST_PG_URL` is set, like tests/cluster.rs.
// Test code: a failed expectation is the verdict (the lints bind product code).
#![allow(clippy::expect_used, clippy::panic)]

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use serde_json::json;
use tokio::time::Instant;
use trustroom_e2e::{Node, PgTestDb, WsClient, client_bin, run_process};
use trustroom_server::demo;
use trustroom_server::storage;

/// Long enough that the short-timeout run below starts well inside the
/// dead owner's lease, short enough to keep the test to seconds.
const LEASE_SECS: &str = "12";
/// The dead owner's lease runs at least this long after the kill (its last
/// renewal came at most a third of the lease before).
const LEASE_LEFT: Duration = Duration::from_secs(8);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(any(pg_url, ci)), ignore = "needs TRUSTROOM_TEST_PG_URL (PostgreSQL)")]
async fn the_cli_rides_out_a_failover_within_its_timeout() -> Result<()> {
    let db = PgTestDb::create().await?;
    // Built before the nodes start: a build must not starve their renewals.
    let client = client_bin()?;
    let store = storage::open(db.url()).await?;
    let seed = demo::seed(&store).await?;
    let home = tempfile::tempdir()?;
    let mut n0 = Node::start(db.url(), home.path(), "n0", LEASE_SECS).await?;
    let n1 = Node::start(db.url(), home.path(), "n1", LEASE_SECS).await?;
    let room = seed.room.to_string();
    let owner = seed.member("owner").context("owner")?.token.clone();
    let env = [("TRUSTROOM_TOKEN", owner.as_str())];

    // n0 takes the room's lease with the first join; n1 redirects there.
    let mut first = WsClient::connect(&n0.url, &owner).await?;
    let snapshot = first.join(&room).await?;
    let title = snapshot["state"]["sections"][0]["title"].as_str().context("a section title")?.to_string();
    let mut probe = WsClient::connect(&n1.url, &owner).await?;
    let moved = probe.refused(json!({"type": "join", "room": room}), "moved").await?;
    ensure!(moved["url"] == n0.url.as_str(), "n1 names the owner: {moved}");
    probe.close().await;
    first.close().await;

    // The owner dies holding the lease.
    n0.kill().await?;
    let killed = Instant::now();

    // Within a timeout shorter than the lease, the CLI cannot reach the
    // room: it keeps asking, and reports cannot_connect when the time is spent.
    let started = Instant::now();
    let run = run_process(&client, &["--url", &n1.url, "--timeout", "1.5", "show", &room], home.path(), &env).await?;
    let waited = started.elapsed();
    ensure!(
        killed.elapsed() < LEASE_LEFT,
        "the short run must end inside the dead owner's lease (machine too slow to tell): {:?}",
        killed.elapsed()
    );
    ensure!(run.code == Some(3) && run.stderr.starts_with("error[cannot_connect]:"), "{run:?}");
    ensure!(waited >= Duration::from_millis(1500), "reported after {waited:?}, before --timeout was spent: {run:?}");

    // With time enough, the same kind of command rides the failover out:
    // n1 takes the room over once the lease expires, and the change lands once.
    let text = " Appended during the failover.";
    let args = ["--url", n1.url.as_str(), "--timeout", "60", "section", "append", &room, &title, text];
    let run = run_process(&client, &args, home.path(), &env).await?;
    ensure!(run.success(), "the CLI rides out the failover: {run:?}");
    let lease = store.lease_of(seed.room).await?.context("lease row")?;
    ensure!(lease.node == "n1" && lease.epoch == 2, "n1 took the room over: {lease:?}");
    let revs = store.revisions_between(seed.room, 0, i64::MAX as u64).await?;
    let landed = revs.iter().filter(|r| serde_json::to_string(&r.change).is_ok_and(|c| c.contains("failover"))).count();
    ensure!(landed == 1, "the append landed {landed} times");

    let run = run_process(&client, &["--url", &n1.url, "--json", "show", &room], home.path(), &env).await?;
    ensure!(run.success() && run.stdout.contains("Appended during the failover."), "{run:?}");
    drop((n0, n1));
    drop(store);
    drop(db);
    Ok(())
}
