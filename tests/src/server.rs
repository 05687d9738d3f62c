//! The server under test: `serve::run` in-process on an ephemeral port, on SQLite or its own PostgreSQL database.

use super::*;

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

    pub(crate) async fn start_on(pg: Option<PgTestDb>, mut config: ServerConfig) -> anyhow::Result<TestServer> {
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
    pub(crate) async fn launch(&mut self) -> anyhow::Result<()> {
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

    /// Runs the real `trustroom` client `bin` (from [`client_bin`], built
    /// before any connection is open) as the demo member `role` against
    /// this server: URL and token in its environment, a home of its own.
    pub async fn cli(&self, bin: &Path, role: &str, args: &[&str]) -> anyhow::Result<Run> {
        let home = self.dir().join("cli-home");
        std::fs::create_dir_all(&home)?;
        let token = self.member(role).token.as_str();
        run_process(bin, args, &home, &[("TRUSTROOM_URL", self.url.as_str()), ("TRUSTROOM_TOKEN", token)]).await
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

    pub(crate) async fn reopen_and_launch(&mut self) -> anyhow::Result<()> {
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
