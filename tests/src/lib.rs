//! Harness for Trustroom's end-to-end tests.
//!
//! - [`TestServer`]: a real server (`serve::run`) on an ephemeral port with a
//!   temporary SQLite file seeded with the demo room; stop it gracefully,
//!   kill it (abort without shutdown) and restart it on the same file.
//!   With [`TestServer::start_pg`] the same server runs on a PostgreSQL
//!   database of its own ([`PgTestDb`]) on the server `TRUSTROOM_TEST_PG_URL`
//!   names ([`pg_url`]: a PostgreSQL test never passes without running).
//! - [`PgTestDb`]: a uniquely named PostgreSQL database created for one test
//!   and dropped when the value is dropped (also when the test fails).
//! - [`WsClient`]: a raw websocket client (tokio-tungstenite) that does the
//!   handshake, matches answers to requests by id while buffering pushed
//!   frames, and records every text frame it receives for leak checks.
//! - [`assert_no_canary`], a tiny seeded RNG, SQLite inspection helpers,
//!   golden files ([`check_golden`]), helpers to find and run the real
//!   binaries, and [`Tmux`] for real-terminal tests.
//!
//! Everything waits with a timeout ([`T`]) so a hang fails fast, and nothing
//! sleeps for a fixed time to wait for readiness.
// Test code: a failed expectation is the verdict (the lints bind product code).
#![allow(clippy::expect_used, clippy::panic)]

pub mod proxy;

mod golden;
mod leak;
mod node;
mod pg;
mod process;
mod rng;
mod server;
mod snapshot;
mod tamper;
mod tmux;
mod ws;

pub use golden::*;
pub use leak::*;
pub use node::*;
pub use pg::*;
pub use process::*;
pub use rng::*;
pub use server::*;
pub use snapshot::*;
pub use tamper::*;
pub use tmux::*;
pub use ws::*;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use sqlx::SqlitePool;
use sqlx::sqlite::SqliteConnectOptions;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use trustroom_server::config::ServerConfig;
use trustroom_server::demo::{self, DemoMember, DemoSeed};
use trustroom_server::storage::{self, Store};
use trustroom_shared::ClientId;
use trustroom_shared::audit::AuditEntry;

/// Default bound on every wait: a hang fails the test within this.
pub const T: Duration = Duration::from_secs(10);

/// Who may read each demo annex (the seed's need-to-know lists), by code.
pub const ANNEX_ACCESS: [(&str, &[&str]); 3] =
    [("A1", &["priya.natarajan", "daniel.okafor"]), ("A2", &["sam.reyes", "priya.natarajan"]), ("A3", &["sam.reyes"])];

/// The canary planted in the annex with `code` (`A1` → `CANARIES[0]`, …).
pub fn canary_of(code: &str) -> &'static str {
    match code {
        "A1" => demo::CANARIES[0],
        "A2" => demo::CANARIES[1],
        _ => demo::CANARIES[2],
    }
}

/// Whether demo member `name` is on annex `code`'s need-to-know list.
pub fn may_read(name: &str, code: &str) -> bool {
    ANNEX_ACCESS.iter().any(|(c, names)| *c == code && names.contains(&name))
}

/// The sensitive patterns the demo seed declares for its annexes.
pub const DEMO_SENSITIVE: [&str; 7] = [
    "acct-4471-NWF",
    "acct-9902-BLT",
    "Bluefin Logistics",
    "rs://support-replays",
    "SSR-55810",
    "/ops/tenant-switch",
    "tctx:v2",
];
