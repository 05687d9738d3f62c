//! One `trustroom-server serve` process of a several-node setup
//! (docs/cluster.md): started on a shared database with a node id and a
//! lease length, killed or signalled like a real operator would.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use tokio::time::Instant;

use crate::{T, free_port, isolated_command, server_bin};

/// One `trustroom-server serve` process.
pub struct Node {
    pub url: String,
    pub child: tokio::process::Child,
    pub log: PathBuf,
}

impl Node {
    /// Starts a node on `db` with its `id` and room leases of `lease_secs`
    /// seconds; returns once it listens.
    pub async fn start(db: &str, home: &Path, id: &str, lease_secs: &str) -> Result<Node> {
        let port = free_port()?;
        let log = home.join(format!("{id}.log"));
        let mut cmd = isolated_command(&server_bin()?, home);
        cmd.args(["--db", db, "serve", "--listen", &format!("127.0.0.1:{port}"), "--node-id", id])
            .args(["--lease-secs", lease_secs])
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?)
            .kill_on_drop(true);
        let child = cmd.spawn().context("starting trustroom-server serve")?;
        let node = Node { url: format!("ws://127.0.0.1:{port}"), child, log };
        let deadline = Instant::now() + T;
        while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            ensure!(Instant::now() < deadline, "node {id} did not listen within {T:?}: {}", node.log_text());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(node)
    }

    pub fn pid(&self) -> Result<String> {
        Ok(self.child.id().context("the node has exited")?.to_string())
    }

    /// SIGKILL: no shutdown, no lease release.
    pub async fn kill(&mut self) -> Result<()> {
        self.child.start_kill()?;
        self.child.wait().await?;
        Ok(())
    }

    /// Sends `sig` (e.g. `-STOP`, `-CONT`) to the node.
    pub async fn signal(&self, sig: &str) -> Result<()> {
        let status = tokio::process::Command::new("kill").args([sig, &self.pid()?]).status().await?;
        ensure!(status.success(), "kill {sig} failed");
        Ok(())
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}
