//! The real server binary as a child process: start, SIGKILL, SIGTERM, its log; audit and revision checks on its database.

use super::*;

/// The last lines a server wrote to stderr.
#[derive(Clone)]
pub struct ServerLog(Arc<Mutex<Vec<String>>>);

impl ServerLog {
    pub fn tail(&self) -> String {
        self.0.lock().map(|l| l.join("\n")).unwrap_or_default()
    }
}

/// `trustroom-server serve` as a child process.
pub struct ServerProcess {
    pub url: String,
    child: tokio::process::Child,
    /// The last lines the server wrote to stderr (for failure messages).
    log: Arc<Mutex<Vec<String>>>,
}

impl ServerProcess {
    /// Starts `serve --listen 127.0.0.1:0 --db DB EXTRA…` and waits for its
    /// "listening on" line.
    pub async fn start(db_url: &str, home: &Path, extra: &[&str]) -> anyhow::Result<ServerProcess> {
        let bin = server_bin()?;
        let mut cmd = isolated_command(&bin, home);
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--db", db_url])
            .args(extra)
            .env("RUST_LOG", "trustroom_server=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().context("starting trustroom-server")?;
        let stderr = child.stderr.take().context("server stderr")?;
        let mut lines = tokio::io::BufReader::new(stderr).lines();
        let log = Arc::new(Mutex::new(Vec::new()));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        let url = loop {
            let line = tokio::time::timeout_at(deadline, lines.next_line())
                .await
                .context("the server did not say it was listening within 20 s")??;
            let Some(line) = line else {
                bail!("the server exited before listening: {:?}", log.lock().map(|l| l.join("\n")).unwrap_or_default())
            };
            if let Some(at) = line.find("listening on ") {
                break line[at + "listening on ".len()..].trim().to_string();
            }
            if let Ok(mut l) = log.lock() {
                l.push(line);
            }
        };
        // Keep draining stderr so the server never blocks on a full pipe.
        let sink = log.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Ok(mut l) = sink.lock() {
                    l.push(line);
                    let n = l.len();
                    if n > 200 {
                        l.drain(..n - 200);
                    }
                }
            }
        });
        Ok(ServerProcess { url, child, log })
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// SIGKILL, then reap.
    pub async fn kill(mut self) -> anyhow::Result<()> {
        self.child.start_kill()?;
        let _ = tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await.context("reaping")??;
        Ok(())
    }

    /// SIGTERM, then wait for the exit (graceful shutdown); returns the
    /// exit code and how long the shutdown took.
    pub async fn terminate(mut self) -> anyhow::Result<(Option<i32>, Duration)> {
        let pid = self.child.id().context("no pid")?;
        let started = Instant::now();
        let status = std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status()?;
        anyhow::ensure!(status.success(), "kill -TERM failed");
        let exit = tokio::time::timeout(Duration::from_secs(20), self.child.wait())
            .await
            .context("the server did not exit within 20 s of SIGTERM")??;
        Ok((exit.code(), started.elapsed()))
    }

    pub fn log_tail(&self) -> String {
        self.log_handle().tail()
    }

    /// The server's log, readable after the process handle is gone.
    pub fn log_handle(&self) -> ServerLog {
        ServerLog(self.log.clone())
    }

    /// Resident set size (KiB) and open file descriptors of the process.
    pub fn rss_and_fds(&self) -> Option<(u64, usize)> {
        let pid = self.child.id()?;
        proc_rss_fds(pid)
    }
}

/// VmRSS (KiB) and the number of open fds of a process (Linux /proc).
pub fn proc_rss_fds(pid: u32) -> Option<(u64, usize)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss = status.lines().find(|l| l.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse().ok()?;
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count();
    Some((rss, fds))
}

/// Runs `trustroom-server audit verify --room CHAIN` on the database and
/// returns its output; fails unless it says `ok`.
pub async fn audit_verify(db_url: &str, home: &Path, chain: &str) -> anyhow::Result<String> {
    let run =
        trustroom_e2e::run_process(&server_bin()?, &["audit", "verify", "--room", chain, "--db", db_url], home, &[])
            .await?;
    anyhow::ensure!(
        run.success() && run.stdout.starts_with("ok"),
        "audit verify {chain} failed ({:?}): {}{}",
        run.code,
        run.stdout,
        run.stderr
    );
    Ok(run.stdout.trim().to_string())
}

/// Revisions of a room as stored, checked to be exactly 1..=N with no
/// duplicate `(client, seq)`; returns N.
pub async fn check_contiguous(pool: &sqlx::SqlitePool, room: RoomId) -> anyhow::Result<u64> {
    let revs: Vec<i64> = sqlx::query_scalar("SELECT revision FROM revisions WHERE room_id = ? ORDER BY revision")
        .bind(room.to_string())
        .fetch_all(pool)
        .await?;
    for (i, r) in revs.iter().enumerate() {
        anyhow::ensure!(*r == i as i64 + 1, "revisions are not contiguous: position {i} holds revision {r}");
    }
    let dups: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM (SELECT client_id, client_seq FROM revisions WHERE room_id = ? AND client_id IS NOT NULL
         GROUP BY client_id, client_seq HAVING COUNT(*) > 1)",
    )
    .bind(room.to_string())
    .fetch_one(pool)
    .await?;
    anyhow::ensure!(dups == 0, "{dups} (client, seq) pairs stored twice");
    Ok(revs.len() as u64)
}
