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
//! - [`assert_no_canary`], a tiny seeded RNG, SQLite inspection helpers and
//!   helpers to find and run the real binaries.
//!
//! Everything waits with a timeout ([`T`]) so a hang fails fast, and nothing
//! sleeps for a fixed time to wait for readiness.

pub mod proxy;

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

// ---------------------------------------------------------------------------
// PostgreSQL test databases
// ---------------------------------------------------------------------------

/// The environment variable naming the PostgreSQL server tests may use: a
/// URL of a database the user may connect to and `CREATE DATABASE` from,
/// e.g. `postgres://postgres@127.0.0.1:5432/postgres`.
pub const PG_URL_VAR: &str = "TRUSTROOM_TEST_PG_URL";

/// Prefix of every database a test creates (`trustroom_t_<secs>_<random>`).
const PG_DB_PREFIX: &str = "trustroom_t_";

/// Databases older than this are leftovers of killed runs and are dropped
/// by the next [`PgTestDb::create`].
const PG_STALE_SECS: u64 = 3600;

/// `TRUSTROOM_TEST_PG_URL`, when set and not empty.
pub fn pg_base_url() -> Option<String> {
    std::env::var(PG_URL_VAR).ok().filter(|u| !u.trim().is_empty())
}

/// The PostgreSQL server a test needs: `TRUSTROOM_TEST_PG_URL`, or an error
/// saying it is missing. This is the one place a PostgreSQL test learns
/// whether it can run; it never passes without running. Mark such a test
///
/// ```text
/// #[cfg_attr(not(any(pg_url, ci)), ignore = "needs TRUSTROOM_TEST_PG_URL (PostgreSQL)")]
/// ```
///
/// so that without the URL it shows as ignored in the runner's summary,
/// except under `CI=true`, where it runs and fails here (tests/build.rs
/// sets both cfgs from the environment).
pub fn pg_url() -> anyhow::Result<String> {
    pg_base_url().with_context(|| {
        format!(
            "{PG_URL_VAR} is not set: this test needs PostgreSQL and cannot run without it \
             (e.g. {PG_URL_VAR}=postgres://postgres@127.0.0.1:5432/postgres; outside CI it is ignored instead)"
        )
    })
}

/// A PostgreSQL database of one test: created with a unique name on the
/// server `TRUSTROOM_TEST_PG_URL` names, dropped (`WITH (FORCE)`, closing
/// any connection left) when this value is dropped, so runs never collide
/// and a failing test leaves nothing behind.
pub struct PgTestDb {
    admin_url: String,
    name: String,
    url: String,
}

impl PgTestDb {
    /// A fresh database on the server [`pg_url`] names; an error when
    /// `TRUSTROOM_TEST_PG_URL` is not set.
    pub async fn create() -> anyhow::Result<PgTestDb> {
        let admin_url = pg_url()?;
        let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        // The last 12 hex digits of a v7 UUID are random.
        let unique = uuid::Uuid::now_v7().simple().to_string();
        let name = format!("{PG_DB_PREFIX}{secs}_{}", &unique[20..]);
        let mut url = url::Url::parse(&admin_url).with_context(|| format!("{PG_URL_VAR} is not a URL"))?;
        url.set_path(&format!("/{name}"));
        let mut admin = admin_connection(&admin_url).await?;
        drop_stale(&mut admin, secs).await;
        // Identifiers cannot be bound; `name` is ours (ASCII letters, digits, `_`).
        sqlx::query(&format!(r#"CREATE DATABASE "{name}""#))
            .execute(&mut admin)
            .await
            .with_context(|| format!("creating the test database {name}"))?;
        let _ = sqlx::Connection::close(admin).await;
        Ok(PgTestDb { admin_url, name, url: url.to_string() })
    }

    /// `postgres://…/trustroom_t_…` of this database.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

async fn admin_connection(admin_url: &str) -> anyhow::Result<sqlx::PgConnection> {
    use sqlx::Connection;
    tokio::time::timeout(T, sqlx::PgConnection::connect(admin_url))
        .await
        .with_context(|| format!("connecting to {PG_URL_VAR} timed out"))?
        .with_context(|| format!("connecting to {PG_URL_VAR} ({admin_url})"))
}

/// Best effort: drops test databases of runs that were killed before
/// their own cleanup (older than an hour, by the time in their name).
async fn drop_stale(admin: &mut sqlx::PgConnection, now_secs: u64) {
    use sqlx::Row;
    let Ok(rows) = sqlx::query("SELECT datname FROM pg_database WHERE starts_with(datname, $1)")
        .bind(PG_DB_PREFIX)
        .fetch_all(&mut *admin)
        .await
    else {
        return;
    };
    for row in rows {
        let Ok(name) = row.try_get::<String, _>("datname") else { continue };
        let rest = &name[PG_DB_PREFIX.len()..];
        let Some(created) = rest.split('_').next().and_then(|s| s.parse::<u64>().ok()) else { continue };
        let ours = rest.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if ours && created + PG_STALE_SECS < now_secs {
            let _ =
                sqlx::query(&format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#)).execute(&mut *admin).await;
        }
    }
}

impl Drop for PgTestDb {
    fn drop(&mut self) {
        // Drop runs in async tests too: do the blocking cleanup on a
        // thread with its own runtime, and wait for it.
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        let dropped = std::thread::spawn(move || -> anyhow::Result<()> {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            rt.block_on(async {
                let mut admin = admin_connection(&admin_url).await?;
                sqlx::query(&format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#)).execute(&mut admin).await?;
                Ok(())
            })
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("warning: could not drop the test database {}: {e:#}", self.name),
            Err(_) => eprintln!("warning: dropping the test database {} panicked", self.name),
        }
    }
}

// ---------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------

/// The database a [`TestServer`] runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A real server on 127.0.0.1 with a temporary SQLite file (or its own
/// PostgreSQL database, see [`TestServer::start_pg`]) and the demo room.
pub struct TestServer {
    /// `ws://127.0.0.1:PORT` of the running server (changes on restart).
    pub url: String,
    pub addr: SocketAddr,
    /// The demo room and its members' tokens.
    pub seed: DemoSeed,
    /// The SQLite file (unused on PostgreSQL).
    pub db_path: PathBuf,
    /// `sqlite://…` URL of the file, or the `postgres://…` URL.
    pub db_url: String,
    pub backend: Backend,
    /// The store the running server uses (admin calls go through it).
    pub store: Store,
    pub config: ServerConfig,
    dir: tempfile::TempDir,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
    /// Declared last: dropped after the server task is aborted.
    pg: Option<PgTestDb>,
}

impl TestServer {
    /// Fresh temp dir + SQLite file, demo seed, server with default config.
    pub async fn start() -> anyhow::Result<TestServer> {
        Self::start_with(ServerConfig::default()).await
    }

    /// Like [`TestServer::start`] with a custom configuration.
    pub async fn start_with(config: ServerConfig) -> anyhow::Result<TestServer> {
        Self::start_on(None, config).await
    }

    /// The same server on its own PostgreSQL database (created now,
    /// dropped with the server); an error when `TRUSTROOM_TEST_PG_URL` is
    /// not set (see [`pg_url`] for the attribute such a test carries).
    pub async fn start_pg() -> anyhow::Result<TestServer> {
        Self::start_pg_with(ServerConfig::default()).await
    }

    /// Like [`TestServer::start_pg`] with a custom configuration.
    pub async fn start_pg_with(config: ServerConfig) -> anyhow::Result<TestServer> {
        let db = PgTestDb::create().await?;
        Self::start_on(Some(db), config).await
    }

    /// The server on `backend` (PostgreSQL: see [`TestServer::start_pg`]).
    pub async fn start_backend(backend: Backend, config: ServerConfig) -> anyhow::Result<TestServer> {
        match backend {
            Backend::Sqlite => Self::start_with(config).await,
            Backend::Postgres => Self::start_pg_with(config).await,
        }
    }

    async fn start_on(pg: Option<PgTestDb>, mut config: ServerConfig) -> anyhow::Result<TestServer> {
        if let (Some(db), None) = (&pg, &config.node_id) {
            // One node id across restarts, as a deployment's `--node-id`: a
            // restarted (or crashed) server takes its own room leases back
            // at once instead of waiting for them to expire.
            config.node_id = Some(format!("test-{}", db.name()));
        }
        let dir = tempfile::tempdir().context("creating a temp dir")?;
        let db_path = dir.path().join("t.db");
        let (db_url, backend) = match &pg {
            Some(db) => (db.url().to_string(), Backend::Postgres),
            None => (format!("sqlite://{}", db_path.display()), Backend::Sqlite),
        };
        let store = storage::open(&db_url).await.context("opening the test database")?;
        let seed = demo::seed(&store).await.context("seeding the demo room")?;
        let mut server = TestServer {
            url: String::new(),
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            seed,
            db_path,
            db_url,
            backend,
            store,
            config,
            dir,
            stop: None,
            task: None,
            pg,
        };
        server.launch().await?;
        Ok(server)
    }

    /// Binds a fresh port and spawns `serve::run` on the current store.
    async fn launch(&mut self) -> anyhow::Result<()> {
        let listener = TcpListener::bind("127.0.0.1:0").await.context("binding 127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let started_ms = trustroom_server::clock::now_ms();
        let task =
            tokio::spawn(trustroom_server::serve::run(listener, self.store.clone(), self.config.clone(), async move {
                let _ = stop_rx.await;
            }));
        self.addr = addr;
        self.url = format!("ws://{addr}");
        self.stop = Some(stop_tx);
        self.task = Some(task);
        // The listener is bound, so connecting works at once. Administrative
        // commands also need the server's heartbeat (otherwise `admin::*`
        // would apply them itself, beside the live room): wait for it.
        let deadline = Instant::now() + T;
        loop {
            if self.task.as_ref().is_some_and(JoinHandle::is_finished) {
                let task = self.task.take().context("task vanished")?;
                let result = task.await;
                bail!("the server stopped right after starting: {result:?}");
            }
            if self.store.latest_heartbeat().await?.is_some_and(|hb| hb >= started_ms) {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("the server wrote no heartbeat within {T:?}");
            }
            tokio::task::yield_now().await;
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// The PostgreSQL database of a [`TestServer::start_pg`] server.
    pub fn pg(&self) -> Option<&PgTestDb> {
        self.pg.as_ref()
    }

    /// The temp directory holding the database.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The demo room id as a string.
    pub fn room(&self) -> String {
        self.seed.room.to_string()
    }

    /// The demo member with role label `role` (`owner`, `reviewer/privacy`, …).
    pub fn member(&self, role: &str) -> &DemoMember {
        self.seed.member(role).unwrap_or_else(|| panic!("the demo seed has no {role}"))
    }

    /// The demo member named `name`.
    pub fn named(&self, name: &str) -> &DemoMember {
        self.seed.members.iter().find(|m| m.name == name).unwrap_or_else(|| panic!("the demo seed has no {name}"))
    }

    /// Connects as the demo member with role label `role`.
    pub async fn client(&self, role: &str) -> anyhow::Result<WsClient> {
        WsClient::connect(&self.url, &self.member(role).token).await
    }

    /// Connects as `role` and joins the demo room; returns the snapshot too.
    pub async fn joined(&self, role: &str) -> anyhow::Result<(WsClient, Value)> {
        let mut c = self.client(role).await?;
        let snap = c.join(&self.room()).await?;
        Ok((c, snap))
    }

    /// True while the server task runs.
    pub fn is_running(&self) -> bool {
        self.task.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Graceful shutdown: signal, then wait for `serve::run` to return.
    pub async fn stop(&mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(30), task)
                .await
                .context("the server did not shut down within 30 s")?
                .context("the server task panicked")?
                .context("serve::run returned an error")?;
        }
        Ok(())
    }

    /// Hard stop: aborts the server task without any graceful shutdown (as
    /// close to a crash as an in-process server gets).
    pub async fn kill(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
        // Only now: dropping the sender would start a graceful shutdown.
        self.stop = None;
    }

    /// Stops gracefully (if running) and starts again on the same database
    /// file with a freshly opened store (new port).
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        if self.task.is_some() {
            self.stop().await?;
        }
        self.reopen_and_launch().await
    }

    /// Kills the server (no graceful shutdown) and starts it again on the
    /// same database file.
    pub async fn crash_and_restart(&mut self) -> anyhow::Result<()> {
        self.kill().await;
        self.reopen_and_launch().await
    }

    async fn reopen_and_launch(&mut self) -> anyhow::Result<()> {
        self.store = storage::open(&self.db_url).await.context("reopening the test database")?;
        self.launch().await
    }

    /// A separate sqlx pool on the database file (for inspection/tampering;
    /// SQLite only).
    pub async fn raw_pool(&self) -> anyhow::Result<SqlitePool> {
        anyhow::ensure!(self.backend == Backend::Sqlite, "raw_pool is for SQLite-backed test servers");
        raw_pool(&self.db_path).await
    }

    /// A consistent copy of the database (the server must be stopped):
    /// checkpoints the WAL, then copies the file (and any WAL left) to
    /// `dir/name`. Returns the copy's path.
    pub async fn copy_db(&self, name: &str) -> anyhow::Result<PathBuf> {
        anyhow::ensure!(!self.is_running(), "stop the server before copying its database");
        let pool = self.raw_pool().await?;
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&pool).await?;
        pool.close().await;
        let dest = self.dir.path().join(name);
        std::fs::copy(&self.db_path, &dest).with_context(|| format!("copying to {}", dest.display()))?;
        let wal = PathBuf::from(format!("{}-wal", self.db_path.display()));
        let dest_wal = PathBuf::from(format!("{}-wal", dest.display()));
        if wal.exists() {
            std::fs::copy(&wal, &dest_wal)?;
        } else if dest_wal.exists() {
            std::fs::remove_file(&dest_wal)?;
        }
        Ok(dest)
    }

    /// The audit chain `chain` (a room id or `server`) in storage order.
    pub async fn audit_chain(&self, chain: &str) -> anyhow::Result<Vec<AuditEntry>> {
        Ok(self.store.audit_chain(chain).await?)
    }

    /// Every revision stored for the demo room, in order.
    pub async fn stored_revisions(&self) -> anyhow::Result<Vec<trustroom_shared::change::Revision>> {
        Ok(self.store.revisions_between(self.seed.room, 0, i64::MAX as u64).await?)
    }

    /// The demo room's newest stored (= acknowledged) revision.
    pub async fn stored_revision(&self) -> anyhow::Result<u64> {
        Ok(self.stored_revisions().await?.last().map_or(0, |r| r.revision))
    }

    /// `refused` entries of `chain` whose detail names `request` and `code`.
    pub async fn refusals(&self, chain: &str, request: &str, code: &str) -> anyhow::Result<Vec<AuditEntry>> {
        Ok(self
            .audit_chain(chain)
            .await?
            .into_iter()
            .filter(|e| e.kind == "refused" && e.detail["request"] == request && e.detail["code"] == code)
            .collect())
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// A sqlx pool on an SQLite file, outside the server.
pub async fn raw_pool(path: &Path) -> anyhow::Result<SqlitePool> {
    let opts = SqliteConnectOptions::new().filename(path).busy_timeout(Duration::from_secs(5));
    Ok(sqlx::sqlite::SqlitePoolOptions::new().max_connections(1).connect_with(opts).await?)
}

// ---------------------------------------------------------------------------
// The websocket client
// ---------------------------------------------------------------------------

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// One read from the socket.
enum Read {
    Text(String),
    Closed,
    TimedOut,
}

/// A raw websocket client that records every text frame it receives.
pub struct WsClient {
    ws: Ws,
    /// The server's `welcome` frame.
    pub welcome: Value,
    /// The client id this connection uses (sent in `hello`).
    pub client_id: ClientId,
    /// The authenticated user's id.
    pub user: String,
    /// Frames received but not yet consumed (pushed frames, early answers).
    pending: VecDeque<(String, Value)>,
    /// Every text frame received, in order (the welcome included).
    captured: Vec<String>,
    next_id: u64,
    closed: bool,
}

impl WsClient {
    /// Connects with a fresh client id and completes the handshake.
    pub async fn connect(url: &str, token: &str) -> anyhow::Result<WsClient> {
        Self::connect_as(url, token, Some(ClientId::new())).await
    }

    /// Connects with a chosen client id (`None`: let the server pick one).
    pub async fn connect_as(url: &str, token: &str, client: Option<ClientId>) -> anyhow::Result<WsClient> {
        let (ws, _) = tokio::time::timeout(T, tokio_tungstenite::connect_async(url))
            .await
            .context("websocket connect timed out")?
            .with_context(|| format!("connecting to {url}"))?;
        let mut c = WsClient {
            ws,
            welcome: Value::Null,
            client_id: client.unwrap_or_default(),
            user: String::new(),
            pending: VecDeque::new(),
            captured: Vec::new(),
            next_id: 0,
            closed: false,
        };
        let mut hello = json!({"type": "hello", "protocol": 2, "token": token});
        if let Some(id) = client {
            hello["client"] = json!(id);
        }
        c.send_raw(&hello.to_string()).await?;
        let deadline = Instant::now() + T;
        let first = match c.read(deadline).await? {
            Read::Text(t) => t,
            Read::Closed => bail!("the server closed the connection during the handshake"),
            Read::TimedOut => bail!("no answer to hello within {T:?}"),
        };
        let v: Value = serde_json::from_str(&first).with_context(|| format!("welcome is not JSON: {first}"))?;
        if v["type"] != "welcome" {
            bail!("handshake refused: {first}");
        }
        c.client_id = serde_json::from_value(v["client"].clone()).context("welcome without a client id")?;
        c.user = v["user"].as_str().unwrap_or_default().to_string();
        c.welcome = v;
        Ok(c)
    }

    /// Sends a text frame as is.
    pub async fn send_raw(&mut self, text: &str) -> anyhow::Result<()> {
        tokio::time::timeout(T, self.ws.send(Message::text(text)))
            .await
            .context("sending timed out")?
            .context("sending a frame")?;
        Ok(())
    }

    /// Reads the next text frame from the socket (recording it).
    async fn read(&mut self, deadline: Instant) -> anyhow::Result<Read> {
        if self.closed {
            return Ok(Read::Closed);
        }
        loop {
            let next = match tokio::time::timeout_at(deadline, self.ws.next()).await {
                Err(_) => return Ok(Read::TimedOut),
                Ok(n) => n,
            };
            match next {
                Some(Ok(Message::Text(t))) => {
                    let s = t.to_string();
                    self.captured.push(s.clone());
                    return Ok(Read::Text(s));
                }
                Some(Ok(Message::Binary(b))) => {
                    // Never expected; recorded so leak checks see it too.
                    self.captured.push(String::from_utf8_lossy(&b).into_owned());
                    continue;
                }
                Some(Ok(Message::Close(_))) | None => {
                    self.closed = true;
                    return Ok(Read::Closed);
                }
                Some(Ok(_)) => continue,
                Some(Err(_)) => {
                    self.closed = true;
                    return Ok(Read::Closed);
                }
            }
        }
    }

    fn parse(text: &str) -> anyhow::Result<Value> {
        serde_json::from_str(text).with_context(|| format!("server frame is not JSON: {text}"))
    }

    /// Sends a request (assigning `id` when absent) without waiting; returns the id.
    pub async fn send_request(&mut self, mut req: Value) -> anyhow::Result<String> {
        let id = match req.get("id").and_then(Value::as_str) {
            Some(id) => id.to_string(),
            None => {
                self.next_id += 1;
                let id = format!("r{}", self.next_id);
                req["id"] = json!(id);
                id
            }
        };
        self.send_raw(&req.to_string()).await?;
        Ok(id)
    }

    fn is_answer(v: &Value, id: &str) -> bool {
        (v["type"] == "ok" || v["type"] == "error") && v["id"] == id
    }

    /// Waits for the `ok`/`error` answering `id`, buffering everything else.
    /// Returns the raw text and the parsed frame.
    pub async fn await_answer_text(&mut self, id: &str) -> anyhow::Result<(String, Value)> {
        if let Some(pos) = self.pending.iter().position(|(_, v)| Self::is_answer(v, id)) {
            return self.pending.remove(pos).context("pending frame vanished");
        }
        let deadline = Instant::now() + T;
        loop {
            match self.read(deadline).await? {
                Read::Text(t) => {
                    let v = Self::parse(&t)?;
                    if Self::is_answer(&v, id) {
                        return Ok((t, v));
                    }
                    self.pending.push_back((t, v));
                }
                Read::Closed => {
                    bail!("connection closed while waiting for the answer to {id}; last frames: {}", self.tail_text(3))
                }
                Read::TimedOut => bail!("no answer to {id} within {T:?}; last frames: {}", self.tail_text(3)),
            }
        }
    }

    /// Sends a request and waits for its answer frame (`ok` or `error`).
    pub async fn request(&mut self, req: Value) -> anyhow::Result<Value> {
        Ok(self.request_text(req).await?.1)
    }

    /// Like [`WsClient::request`], also returning the answer's raw text.
    pub async fn request_text(&mut self, req: Value) -> anyhow::Result<(String, Value)> {
        let id = self.send_request(req).await?;
        self.await_answer_text(&id).await
    }

    /// Sends a request that must succeed; returns its `result`.
    pub async fn ok(&mut self, req: Value) -> anyhow::Result<Value> {
        let shown = req.to_string();
        let answer = self.request(req).await?;
        if answer["type"] != "ok" {
            bail!("request {shown} failed: {answer}");
        }
        Ok(answer["result"].clone())
    }

    /// Sends a request that must be refused with `code`; returns the error frame.
    pub async fn refused(&mut self, req: Value, code: &str) -> anyhow::Result<Value> {
        let shown = req.to_string();
        let answer = self.request(req).await?;
        if answer["type"] != "error" || answer["code"] != code {
            bail!("request {shown} should be refused with {code}, got {answer}");
        }
        Ok(answer)
    }

    /// Joins `room`; returns the snapshot (the `snapshot` field of the pushed frame).
    pub async fn join(&mut self, room: &str) -> anyhow::Result<Value> {
        let result = self.ok(json!({"type": "join", "room": room})).await?;
        let pos = self
            .pending
            .iter()
            .rposition(|(_, v)| v["type"] == "snapshot" && v["room"] == room)
            .with_context(|| format!("no snapshot before the join ok ({result})"))?;
        let (_, frame) = self.pending.remove(pos).context("pending frame vanished")?;
        Ok(frame["snapshot"].clone())
    }

    /// The next frame of any type (buffered ones first); `None` on timeout
    /// or when the connection is closed.
    pub async fn next_frame(&mut self, timeout: Duration) -> anyhow::Result<Option<Value>> {
        if let Some((_, v)) = self.pending.pop_front() {
            return Ok(Some(v));
        }
        match self.read(Instant::now() + timeout).await? {
            Read::Text(t) => Ok(Some(Self::parse(&t)?)),
            Read::Closed | Read::TimedOut => Ok(None),
        }
    }

    /// The next `event` frame (others stay buffered); `None` on timeout.
    pub async fn next_event(&mut self, timeout: Duration) -> anyhow::Result<Option<Value>> {
        match self.wait_for(|v| v["type"] == "event", timeout).await {
            Ok(v) => Ok(Some(v)),
            Err(_) => Ok(None),
        }
    }

    /// The first frame matching `pred` (buffered ones first; non-matching
    /// frames stay buffered in order). Fails on timeout or close.
    pub async fn wait_for(&mut self, pred: impl Fn(&Value) -> bool, timeout: Duration) -> anyhow::Result<Value> {
        if let Some(pos) = self.pending.iter().position(|(_, v)| pred(v)) {
            return Ok(self.pending.remove(pos).context("pending frame vanished")?.1);
        }
        let deadline = Instant::now() + timeout;
        loop {
            match self.read(deadline).await? {
                Read::Text(t) => {
                    let v = Self::parse(&t)?;
                    if pred(&v) {
                        return Ok(v);
                    }
                    self.pending.push_back((t, v));
                }
                Read::Closed => bail!("connection closed before the expected frame; last: {}", self.tail_text(3)),
                Read::TimedOut => bail!("expected frame not received within {timeout:?}; last: {}", self.tail_text(3)),
            }
        }
    }

    /// Waits until the event for room revision `revision` has arrived.
    pub async fn wait_for_revision(&mut self, revision: u64) -> anyhow::Result<Value> {
        self.wait_for(|v| v["type"] == "event" && v["rev"]["revision"].as_u64().is_some_and(|r| r >= revision), T)
            .await
            .with_context(|| format!("waiting for the event of revision {revision}"))
    }

    /// Reads until nothing arrives for `quiet` (to capture stragglers).
    pub async fn drain(&mut self, quiet: Duration) -> anyhow::Result<()> {
        loop {
            match self.read(Instant::now() + quiet).await? {
                Read::Text(t) => {
                    let v = Self::parse(&t)?;
                    self.pending.push_back((t, v));
                }
                Read::Closed | Read::TimedOut => return Ok(()),
            }
        }
    }

    /// Frames received but not consumed yet.
    pub fn pending(&self) -> impl Iterator<Item = &Value> {
        self.pending.iter().map(|(_, v)| v)
    }

    /// Removes and returns every buffered frame.
    pub fn take_pending(&mut self) -> Vec<Value> {
        self.pending.drain(..).map(|(_, v)| v).collect()
    }

    /// Every text frame received so far, in order.
    pub fn captured(&self) -> &[String] {
        &self.captured
    }

    /// Every text frame received so far, joined by newlines.
    pub fn captured_text(&self) -> String {
        self.captured.join("\n")
    }

    fn tail_text(&self, n: usize) -> String {
        let start = self.captured.len().saturating_sub(n);
        self.captured[start..].iter().map(|s| truncate(s, 300)).collect::<Vec<_>>().join(" | ")
    }

    /// True once the server closed the connection.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Closes the websocket politely.
    pub async fn close(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(2), self.ws.close(None)).await;
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max { s.to_string() } else { format!("{}…", s.chars().take(max).collect::<String>()) }
}

/// Fails the test if any frame contains any canary. `who` names the
/// recipient in the failure message.
pub fn assert_no_canary(frames: &[String], canaries: &[&str], who: &str) {
    for (i, frame) in frames.iter().enumerate() {
        for canary in canaries {
            assert!(
                !frame.contains(canary),
                "LEAK: {who} received canary {canary:?} in frame #{i}: {}",
                truncate(frame, 400)
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Snapshot helpers
// ---------------------------------------------------------------------------

/// `(id, body)` of the section titled `title` in a snapshot.
pub fn section(snapshot: &Value, title: &str) -> anyhow::Result<(String, String)> {
    let sections = snapshot["state"]["sections"].as_array().context("snapshot without sections")?;
    let s = sections.iter().find(|s| s["title"] == title).with_context(|| format!("no section {title:?}"))?;
    Ok((s["id"].as_str().context("section id")?.to_string(), s["body"].as_str().context("section body")?.to_string()))
}

/// The id of the annex with code `code` (`A1`…) in a snapshot.
pub fn annex_id(snapshot: &Value, code: &str) -> anyhow::Result<String> {
    let annexes = snapshot["state"]["annexes"].as_object().context("snapshot without annexes")?;
    annexes
        .iter()
        .find(|(_, a)| a["code"] == code)
        .map(|(id, _)| id.clone())
        .with_context(|| format!("no annex {code}"))
}

/// The id of the objection numbered `number` (`O-N`) in a snapshot.
pub fn objection_id(snapshot: &Value, number: u64) -> anyhow::Result<String> {
    let objections = snapshot["state"]["objections"].as_object().context("snapshot without objections")?;
    objections
        .iter()
        .find(|(_, o)| o["number"] == number)
        .map(|(id, _)| id.clone())
        .with_context(|| format!("no objection O-{number}"))
}

/// The room revision of a snapshot.
pub fn revision_of(snapshot: &Value) -> u64 {
    snapshot["state"]["revision"].as_u64().unwrap_or(0)
}

/// The number of chars (Unicode scalar values) in `s`.
pub fn chars(s: &str) -> i64 {
    s.chars().count() as i64
}

// ---------------------------------------------------------------------------
// A small seeded RNG (SplitMix64), so runs are reproducible
// ---------------------------------------------------------------------------

#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }
}

// ---------------------------------------------------------------------------
// Binaries and processes
// ---------------------------------------------------------------------------

/// The directory holding the workspace's binaries (`target/debug`): the
/// parent of the `deps` directory this test executable lives in.
pub fn bin_dir() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let deps = exe.parent().context("test executable without a directory")?;
    let dir = if deps.file_name().is_some_and(|n| n == "deps") { deps.parent().unwrap_or(deps) } else { deps };
    Ok(dir.to_path_buf())
}

/// The workspace root (the folder holding the top-level Cargo.toml).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."))
}

/// Newest modification time of the files under `paths` (recursively).
fn newest_mtime(paths: &[PathBuf]) -> Option<std::time::SystemTime> {
    let mut newest = None;
    let mut stack: Vec<PathBuf> = paths.to_vec();
    while let Some(p) = stack.pop() {
        let Ok(meta) = std::fs::metadata(&p) else { continue };
        if meta.is_dir() {
            if let Ok(entries) = std::fs::read_dir(&p) {
                stack.extend(entries.filter_map(|e| e.ok().map(|e| e.path())));
            }
        } else if let Ok(m) = meta.modified() {
            newest = Some(newest.map_or(m, |n: std::time::SystemTime| n.max(m)));
        }
    }
    newest
}

/// Returns the path of binary `bin` of workspace package `package`, first
/// running `cargo build -p PACKAGE --bin BIN` (once per test process) unless
/// the binary is newer than every source it is built from, so a stale
/// binary is never tested and an up-to-date one costs no cargo lock wait.
pub fn binary(package: &'static str, bin: &'static str) -> anyhow::Result<PathBuf> {
    static SERVER: OnceLock<Result<(), String>> = OnceLock::new();
    static CLIENT: OnceLock<Result<(), String>> = OnceLock::new();
    let path = bin_dir()?.join(format!("{bin}{}", std::env::consts::EXE_SUFFIX));
    let cell = if package == "trustroom-server" { &SERVER } else { &CLIENT };
    let built = cell.get_or_init(|| {
        let root = workspace_root();
        let mut sources: Vec<PathBuf> =
            ["Cargo.toml", "Cargo.lock", "shared", "server", "migrations"].iter().map(|p| root.join(p)).collect();
        if package != "trustroom-server" {
            sources.push(root.join("client"));
        }
        let bin_time = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
        if let (Some(bin_time), Some(src_time)) = (bin_time, newest_mtime(&sources))
            && bin_time >= src_time
        {
            return Ok(());
        }
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = std::process::Command::new(cargo);
        cmd.args(["build", "--quiet", "-p", package, "--bin", bin]);
        // Build with the profile this test executable was built with.
        let profile = path.parent().and_then(Path::file_name).and_then(|n| n.to_str()).unwrap_or("debug");
        if profile != "debug" {
            cmd.args(["--profile", profile]);
        }
        let out = cmd.current_dir(&root).output().map_err(|e| format!("cannot run cargo: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!("cargo build -p {package} failed:\n{}", String::from_utf8_lossy(&out.stderr)))
        }
    });
    if let Err(e) = built {
        return Err(anyhow!("{e}"));
    }
    anyhow::ensure!(path.exists(), "{} does not exist after cargo build", path.display());
    Ok(path)
}

/// `trustroom-server`, built if needed.
pub fn server_bin() -> anyhow::Result<PathBuf> {
    binary("trustroom-server", "trustroom-server")
}

/// `trustroom` (the client), built if needed.
pub fn client_bin() -> anyhow::Result<PathBuf> {
    binary("trustroom", "trustroom")
}

/// What a finished process printed.
#[derive(Debug, Clone)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
}

/// Runs a command to completion (bounded by [`T`] × 3), with an isolated
/// environment: no inherited `TRUSTROOM_*` variables, `HOME` and XDG dirs
/// under `home`.
pub async fn run_process(program: &Path, args: &[&str], home: &Path, env: &[(&str, &str)]) -> anyhow::Result<Run> {
    let mut cmd = isolated_command(program, home);
    cmd.args(args).envs(env.iter().copied()).stdin(std::process::Stdio::null()).kill_on_drop(true);
    let out = tokio::time::timeout(T * 3, cmd.output())
        .await
        .with_context(|| format!("{} {args:?} did not finish", program.display()))?
        .with_context(|| format!("running {}", program.display()))?;
    Ok(Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

/// A `tokio::process::Command` without inherited Trustroom settings.
pub fn isolated_command(program: &Path, home: &Path) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(program);
    for (k, _) in std::env::vars() {
        if k.starts_with("TRUSTROOM_") || k == "RUST_LOG" {
            cmd.env_remove(k);
        }
    }
    cmd.env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env("NO_COLOR", "1");
    cmd
}

/// A port that was free a moment ago (bind 127.0.0.1:0, read it, drop).
pub fn free_port() -> anyhow::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

// ---------------------------------------------------------------------------
// Restricted-detail leak checks (the trust boundary)
// ---------------------------------------------------------------------------

/// The sensitive patterns each demo annex declares, by code (the seed's
/// `sensitive` lists in `server/src/demo.rs`).
pub const DEMO_PATTERNS: [(&str, &[&str]); 3] = [
    ("A1", &["acct-4471-NWF", "acct-9902-BLT", "Bluefin Logistics"]),
    ("A2", &["rs://support-replays", "SSR-55810"]),
    ("A3", &["/ops/tenant-switch", "tctx:v2"]),
];

/// The patterns of the demo annexes `name` is NOT on the need-to-know list
/// of (what must never reach that member, grants and break-glass aside).
pub fn hidden_patterns(name: &str) -> Vec<&'static str> {
    DEMO_PATTERNS.iter().filter(|(code, _)| !may_read(name, code)).flat_map(|(_, p)| p.iter().copied()).collect()
}

/// Lower-case hex SHA-256 of `text` (its UTF-8 bytes).
pub fn sha256_hex(text: &str) -> String {
    trustroom_shared::canonical::sha256_hex(text.as_bytes())
}

/// Invisible characters a paste or an evader may carry (zero-width space,
/// joiners, direction marks, word joiner, soft hyphen, BOM, variation
/// selectors, tags): removed by [`simple_fold`].
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{E0000}'..='\u{E0FFF}'
    )
}

/// A small fold written independently of the server's normaliser (which
/// [`assert_no_restricted`] also applies): full-width ASCII (U+FF01–FF5E)
/// and mathematical digits to ASCII, invisible characters removed, every
/// whitespace run to one space, lower case. It is a cross-check, so a
/// regression in `trustroom_shared::restricted::normalise` cannot hide a
/// leak from the test as well.
pub fn simple_fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last_space = false;
    for c in text.chars() {
        let c = match c as u32 {
            0xFF01..=0xFF5E => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            0x3000 => ' ',
            // MATHEMATICAL BOLD / DOUBLE-STRUCK / SANS-SERIF / MONOSPACE digits.
            n @ 0x1D7CE..=0x1D7FF => char::from_digit((n - 0x1D7CE) % 10, 10).unwrap_or(c),
            _ => c,
        };
        if is_invisible(c) {
            continue;
        }
        if c.is_whitespace() {
            if !last_space {
                out.push(' ');
            }
            last_space = true;
            continue;
        }
        last_space = false;
        out.extend(c.to_lowercase());
    }
    out
}

/// Every string (values and keys) inside a JSON value.
fn json_strings<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::String(s) => out.push(s),
        Value::Array(items) => items.iter().for_each(|i| json_strings(i, out)),
        Value::Object(map) => {
            for (k, v) in map {
                out.push(k);
                json_strings(v, out);
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// One pattern in every form the frame recorder looks for.
struct Needle {
    shown: String,
    lower: String,
    folded: String,
    normalised: String,
    hashes: Vec<String>,
}

fn needle(pattern: &str) -> Option<Needle> {
    let folded = simple_fold(pattern).trim().to_string();
    let normalised = trustroom_shared::restricted::normalise(pattern).text.trim().to_string();
    if folded.is_empty() && normalised.is_empty() {
        return None;
    }
    let mut hashes: Vec<String> =
        [pattern.to_string(), pattern.to_lowercase(), pattern.to_uppercase(), folded.clone(), normalised.clone()]
            .iter()
            .map(|s| sha256_hex(s))
            .collect();
    hashes.sort();
    hashes.dedup();
    Some(Needle { shown: pattern.to_string(), lower: pattern.to_lowercase(), folded, normalised, hashes })
}

/// The frame recorder's check: fails (naming `who`, the pattern, how it
/// matched and the frame) if any frame carries any of `patterns`
///
/// - as is, or in any mix of upper and lower case;
/// - after NFKC normalisation with zero-width / default-ignorable
///   characters removed and whitespace runs collapsed (the server's
///   `restricted::normalise`), and after [`simple_fold`], an independent
///   fold of the same common evasions (full-width forms, invisible
///   characters, odd spaces), both applied to every JSON string of the
///   frame (so `\u` escapes are decoded) and to the raw frame;
/// - as the lower-case hex SHA-256 of the pattern (or of its lower-case,
///   upper-case or normalised form): a 4-digit identifier's unsalted hash
///   is as good as the identifier.
///
/// Use it on every frame a member not entitled to the patterns' annex
/// received (`WsClient::captured()`).
pub fn assert_no_restricted(frames: &[String], patterns: &[&str], who: &str) {
    if let Some(leak) = find_restricted(frames, patterns) {
        panic!("LEAK: {who} received {leak}");
    }
}

/// The non-panicking form of [`assert_no_restricted`]: a description of
/// the first leak found (pattern, how it matched, frame), or `None`.
pub fn find_restricted(frames: &[String], patterns: &[&str]) -> Option<String> {
    // The hash oracle itself must be right (FIPS 180-2 test vector).
    assert_eq!(
        sha256_hex("abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        "sha256_hex is broken: the recorder's hash check would prove nothing"
    );
    let needles: Vec<Needle> = patterns.iter().filter_map(|p| needle(p)).collect();
    for (i, frame) in frames.iter().enumerate() {
        let parsed: Option<Value> = serde_json::from_str(frame).ok();
        let mut strings: Vec<&str> = vec![frame.as_str()];
        if let Some(v) = &parsed {
            json_strings(v, &mut strings);
        }
        let frame_lower = frame.to_lowercase();
        let forms: Vec<(String, String, String)> = strings
            .iter()
            .map(|s| (s.to_lowercase(), simple_fold(s), trustroom_shared::restricted::normalise(s).text))
            .collect();
        for n in &needles {
            let how = if forms.iter().any(|(lower, _, _)| lower.contains(&n.lower)) {
                Some("in plain text (any case)")
            } else if !n.folded.is_empty() && forms.iter().any(|(_, folded, _)| folded.contains(&n.folded)) {
                Some("after removing invisible characters / folding full-width forms")
            } else if !n.normalised.is_empty() && forms.iter().any(|(_, _, norm)| norm.contains(&n.normalised)) {
                Some("after NFKC normalisation")
            } else if n.hashes.iter().any(|h| frame_lower.contains(h)) {
                Some("as its SHA-256")
            } else {
                None
            };
            if let Some(how) = how {
                return Some(format!("restricted detail {:?} {how} in frame #{i}: {}", n.shown, truncate(frame, 600)));
            }
        }
    }
    None
}

/// The frame recorder, run for every [`WsClient`] of every end-to-end test
/// when it is dropped: the frames a demo member received must not carry a
/// pattern of a demo annex they are not on the need-to-know list of (in any
/// normalised variant, or as its SHA-256). Exempt by design: the answers of
/// audited reads of annex detail (`view_annex`, `view_promotion`: `logged`),
/// and passages an owner approved for promotion (the paragraph after a
/// `[verified: annex:…]` label). Members of non-demo rooms or with grants
/// are checked against the same demo lists, which only makes the check
/// stricter where it applies and silent where the patterns differ.
fn recorder_check(client: &WsClient) -> Option<String> {
    let name = client.welcome["name"].as_str()?;
    if !ANNEX_ACCESS.iter().any(|(_, names)| names.contains(&name)) && !DEMO_MEMBER_NAMES.contains(&name) {
        return None;
    }
    let hidden = hidden_patterns(name);
    let frames: Vec<String> = client
        .captured
        .iter()
        .filter(|f| {
            serde_json::from_str::<Value>(f).map_or(true, |v| !(v["type"] == "ok" && v["result"]["logged"] == true))
        })
        .map(|f| strip_promoted(f))
        .collect();
    find_restricted(&frames, &hidden).map(|leak| format!("{name} received {leak}"))
}

/// The demo members' names (everyone the recorder knows the lists of).
const DEMO_MEMBER_NAMES: [&str; 9] = [
    "morgan.hale",
    "priya.natarajan",
    "daniel.okafor",
    "sam.reyes",
    "lena.fischer",
    "chronology-agent",
    "trace-keeper-agent",
    "normaliser-agent",
    "ari.observer",
];

/// `frame` without promoted passages: from each `[verified: annex:` label
/// to the end of its paragraph line (a JSON `\n` escape or the string's end).
fn strip_promoted(frame: &str) -> String {
    const LABEL: &str = "[verified: annex:";
    let mut out = String::with_capacity(frame.len());
    let mut rest = frame;
    while let Some(i) = rest.find(LABEL) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let end = [tail.find("\\n"), tail.find('"')].into_iter().flatten().min().unwrap_or(tail.len());
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

impl Drop for WsClient {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        if let Some(leak) = recorder_check(self) {
            panic!("frame recorder: LEAK: {leak}");
        }
    }
}
