//! The server under test: in-process, small limits, its own SQLite file.

use super::*;

pub(crate) struct Env {
    pub(crate) url: String,
    pub(crate) addr: std::net::SocketAddr,
    pub(crate) store: Store,
    pub(crate) pool: SqlitePool,
    pub(crate) room: String,
    pub(crate) owner_token: String,
    pub(crate) observer_token: String,
    pub(crate) outsider_token: String,
    /// A downstream member of the privacy lane (never joins the room).
    pub(crate) downstream_token: String,
    pub(crate) stop: Option<tokio::sync::oneshot::Sender<()>>,
    pub(crate) task: tokio::task::JoinHandle<anyhow::Result<()>>,
    pub(crate) _dir: tempfile::TempDir,
}

pub(crate) async fn start_server() -> anyhow::Result<Env> {
    let dir = tempfile::tempdir()?;
    let db_url = format!("sqlite://{}/t.db", dir.path().display());
    let store = trustroom_server::storage::open(&db_url).await?;
    let seed = trustroom_server::demo::seed(&store).await?;
    let (_, outsider_token) = trustroom_server::admin::add_user(&store, "mallory.outsider").await?;
    let token_of = |role: &str| {
        seed.member(role).map(|m| m.token.clone()).ok_or_else(|| anyhow::anyhow!("demo seed has no {role}"))
    };
    let owner_token = token_of("owner")?;
    let observer_token = token_of("observer")?;
    let (_, downstream_token) = trustroom_server::admin::add_user(&store, "dana.privacy-intake").await?;
    trustroom_server::admin::add_member(
        &store,
        seed.room,
        "dana.privacy-intake",
        trustroom_shared::role::Role::Downstream { lane: trustroom_shared::release::Lane::Privacy },
    )
    .await?;

    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let config = ServerConfig {
        max_frame_bytes: MAX_FRAME,
        hard_frame_bytes: HARD_FRAME,
        handshake_timeout: HANDSHAKE,
        max_text_chars: MAX_TEXT,
        max_op_components: MAX_COMPONENTS,
        max_section_chars: MAX_SECTION,
        ..ServerConfig::default()
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(trustroom_server::serve::run(listener, store.clone(), config, async move {
        let _ = stopped.await;
    }));
    // A second, independent connection to the same file to count rows.
    let pool =
        SqlitePoolOptions::new().max_connections(1).connect_with(SqliteConnectOptions::from_str(&db_url)?).await?;
    Ok(Env {
        url: format!("ws://{addr}"),
        addr,
        store,
        pool,
        room: seed.room.to_string(),
        owner_token,
        observer_token,
        outsider_token,
        downstream_token,
        stop: Some(stop),
        task,
        _dir: dir,
    })
}

impl Env {
    pub(crate) async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(Duration::from_secs(15), self.task).await???;
        Ok(())
    }

    pub(crate) async fn count(&self, table: &str) -> anyhow::Result<i64> {
        Ok(sqlx::query_scalar::<_, i64>(&format!("SELECT COUNT(*) FROM {table}")).fetch_one(&self.pool).await?)
    }

    pub(crate) async fn refused(&self, chain: &str) -> anyhow::Result<usize> {
        Ok(self.store.audit_chain(chain).await?.iter().filter(|e| e.kind == "refused").count())
    }

    pub(crate) async fn last_revision_body(&self) -> anyhow::Result<String> {
        Ok(sqlx::query_scalar::<_, String>(
            "SELECT body FROM revisions WHERE room_id = ? ORDER BY revision DESC LIMIT 1",
        )
        .bind(&self.room)
        .fetch_one(&self.pool)
        .await?)
    }

    pub(crate) async fn counts(&self) -> anyhow::Result<Counts> {
        Ok(Counts {
            revisions: self.count("revisions").await?,
            snapshots: self.count("snapshots").await?,
            room_refused: self.refused(&self.room).await?,
            server_refused: self.refused("server").await?,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Counts {
    pub(crate) revisions: i64,
    pub(crate) snapshots: i64,
    pub(crate) room_refused: usize,
    pub(crate) server_refused: usize,
}
