//! The bad-input catalogue: hostile frames sent to a real server over real
//! websockets, table-driven.
//!
//! For every case the test asserts
//! - the exact stable error `code` of the answer (`error` or `closing` frame),
//!   and whether the error echoes the request id;
//! - that the room's revision and content hash did not change (a separate,
//!   well-behaved observer re-joins before and after and compares
//!   `snapshot.state.revision` + `snapshot.content_hash`; it also must not see
//!   any `event`);
//! - that nothing was stored (row counts of `revisions` and `snapshots`);
//! - that refusals inside a room are audited (`refused` entries of the room's
//!   audit chain grew by one; server-level refusals in the `server` chain);
//! - where the protocol allows, that the same connection still answers a
//!   following `ping` and `rooms` correctly; otherwise that it was closed.
//!
//! Every case runs even when an earlier one fails; the summary table is
//! printed (see it with `--nocapture`) and the test fails listing every
//! mismatch at once.
//!
//! Self-contained on purpose: it starts its own server in-process with small
//! limits and speaks the protocol with a raw tokio-tungstenite client.
// Test code: a failed expectation is the verdict (the lints bind product code).
#![allow(clippy::expect_used, clippy::panic)]

mod catalogue;
mod client;
mod run;
mod server;

use catalogue::*;
use client::*;
use run::*;
use server::*;

use std::fmt::Write as _;
use std::str::FromStr;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use trustroom_server::config::ServerConfig;
use trustroom_server::storage::Store;

type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

// Small limits so the oversized cases stay cheap.
const MAX_FRAME: usize = 64 * 1024;
const HARD_FRAME: usize = 4 * MAX_FRAME;
const HANDSHAKE: Duration = Duration::from_millis(300);
const MAX_TEXT: usize = 2_000;
const MAX_COMPONENTS: usize = 1_000;
const MAX_SECTION: usize = 20_000;
/// How long we wait for any single answer.
const ANSWER_WAIT: Duration = Duration::from_secs(3);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_input_catalogue() -> anyhow::Result<()> {
    let started = Instant::now();
    let env = start_server().await?;

    let mut observer = Observer { ws: login(&env.url, &env.observer_token).await?, n: 0, room: env.room.clone() };
    let mut shared = Some(login(&env.url, &env.owner_token).await?);
    // The long-lived hostile connection is joined, like a real editor.
    if let Some(ws) = shared.as_mut() {
        ws.send(Message::text(json!({"id": "join", "type": "join", "room": env.room}).to_string())).await?;
        let (got, _) = answer(ws, ANSWER_WAIT).await;
        anyhow::ensure!(matches!(got, Got::Ok), "owner cannot join: {got:?}");
    }
    let initial = observer.look().await?;
    let counts_initial = env.counts().await?;

    let cases = catalogue();
    let mut rows = Vec::new();
    for (n, case) in cases.iter().enumerate() {
        let row = run_case(&env, &mut observer, &mut shared, n + 1, case).await?;
        rows.push(row);
    }

    // The server is alive and well after all of it.
    let mut last = login(&env.url, &env.owner_token).await?;
    check_usable(&mut last, 0, &env.room, true).await.map_err(|e| anyhow::anyhow!("server unwell at the end: {e}"))?;
    let end = observer.look().await?;
    let counts_end = env.counts().await?;

    let mut table = String::new();
    let _ = writeln!(
        table,
        "\n{:<3} {:<48} {:<26} {:<6} {:<28} {:>6}  result",
        "#", "case", "expected", "usable", "actual", "ms"
    );
    for (i, r) in rows.iter().enumerate() {
        let verdict = if r.problems.is_empty() { "ok".to_string() } else { format!("FAIL: {}", r.problems.join("; ")) };
        let _ = writeln!(
            table,
            "{:<3} {:<48} {:<26} {:<6} {:<28} {:>6}  {verdict}",
            i + 1,
            r.name,
            r.want,
            if r.usable { "yes" } else { "no" },
            r.got,
            r.ms
        );
    }
    let failed: Vec<&Row> = rows.iter().filter(|r| !r.problems.is_empty()).collect();
    let _ = writeln!(
        table,
        "\n{} cases, {} failed; room revision {} -> {}, stored revisions {} -> {}, room refusals audited {} -> {}, server refusals {} -> {}; {:.1?}",
        rows.len(),
        failed.len(),
        initial.revision,
        end.revision,
        counts_initial.revisions,
        counts_end.revisions,
        counts_initial.room_refused,
        counts_end.room_refused,
        counts_initial.server_refused,
        counts_end.server_refused,
        started.elapsed()
    );
    println!("{table}");

    drop(observer);
    drop(shared);
    drop(last);
    env.stop().await?;

    assert!(rows.len() >= 30, "the catalogue must hold at least 30 hostile inputs, has {}", rows.len());
    assert!(
        failed.is_empty(),
        "{} hostile case(s) failed:\n{}",
        failed.len(),
        failed.iter().map(|r| format!("  - {}: {}", r.name, r.problems.join("; "))).collect::<Vec<_>>().join("\n")
    );
    // The positive controls are the only accepted changes of the whole run.
    let accepted = cases.iter().filter(|c| matches!(c.want, Want::Accept)).count() as u64;
    assert_eq!(end.revision, initial.revision + accepted, "only the positive controls may change the room");
    assert_eq!(
        counts_end.revisions,
        counts_initial.revisions + accepted as i64,
        "only the positive controls may be stored"
    );
    Ok(())
}
