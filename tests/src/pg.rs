//! PostgreSQL test databases: one per test, named uniquely, dropped when done; and the one place a test learns the server's URL.

use super::*;

/// The environment variable naming the PostgreSQL server tests may use: a
/// URL of a database the user may connect to and `CREATE DATABASE` from,
/// e.g. `postgres://postgres@127.0.0.1:5432/postgres`.
pub const PG_URL_VAR: &str = "TRUSTROOM_TEST_PG_URL";

/// Prefix of every database a test creates (`trustroom_t_<secs>_<random>`).
pub(crate) const PG_DB_PREFIX: &str = "trustroom_t_";

/// Databases older than this are leftovers of killed runs and are dropped
/// by the next [`PgTestDb::create`].
pub(crate) const PG_STALE_SECS: u64 = 3600;

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

pub(crate) async fn admin_connection(admin_url: &str) -> anyhow::Result<sqlx::PgConnection> {
    use sqlx::Connection;
    tokio::time::timeout(T, sqlx::PgConnection::connect(admin_url))
        .await
        .with_context(|| format!("connecting to {PG_URL_VAR} timed out"))?
        .with_context(|| format!("connecting to {PG_URL_VAR} ({admin_url})"))
}

/// Best effort: drops test databases of runs that were killed before
/// their own cleanup (older than an hour, by the time in their name).
pub(crate) async fn drop_stale(admin: &mut sqlx::PgConnection, now_secs: u64) {
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
