//! Several `trustroom-server serve` nodes on one PostgreSQL database
//! (docs/cluster.md): room leases, the `moved` redirect, failover after the
//! owner is killed, and fencing of an owner that was paused past its lease.
//!
//! Needs `TRUSTROOM_TEST_PG_URL` (e.g.
//! `postgres://postgres@127.0.0.1:5432/postgres`); each test creates its own
//! database and drops it at the end. Without it every test is ignored, and
//! fails under `CI=true` (tests/build.rs).
// Test code: a failed expectation is the verdict (the lints bind product code).
#![allow(clippy::expect_used, clippy::panic)]

mod clients;
mod failover;
mod fencing;

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use serde_json::{Value, json};
use tokio::time::Instant;
use trustroom_e2e::{Node, PgTestDb, T, WsClient, client_bin, run_process};
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
