//! Several server nodes on one PostgreSQL database (docs/cluster.md).
//!
//! Each room is sequenced by exactly one node at a time, the holder of the
//! room's lease (storage/lease.rs). This module holds the node's identity
//! and the background work that keeps its leases: renewing them every third
//! of the lease, and stopping the rooms whose lease was lost (another node
//! took over) or could not be renewed for a whole lease (the database is
//! unreachable, or this process was paused). Commits are fenced by the
//! lease epoch in storage besides, so a node that has not noticed yet still
//! cannot write.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::config::ServerConfig;
use crate::hub::Hub;

/// `serve` flags for running as one node of several.
#[derive(clap::Args, Debug, Clone)]
pub struct ClusterArgs {
    /// This node's id, unique among the nodes sharing the database and
    /// stable across restarts (a restart then takes its rooms back at once).
    /// Default: a fresh `node-<uuid>` per process.
    #[arg(long, env = "TRUSTROOM_NODE_ID")]
    pub node_id: Option<String>,
    /// The URL clients reach this node at, told to clients that join a room
    /// this node sequences while they are connected to another node.
    /// Default: ws:// (wss:// with TLS) + the listening address.
    #[arg(long, env = "TRUSTROOM_ADVERTISE_URL")]
    pub advertise_url: Option<String>,
    /// Seconds a room lease lasts without renewal: after a node dies, its
    /// rooms move to another node this long after its last renewal.
    #[arg(long, default_value_t = ServerConfig::default().lease.as_secs_f64(), env = "TRUSTROOM_LEASE_SECS")]
    pub lease_secs: f64,
}

impl ClusterArgs {
    /// Writes the flags into `config`.
    pub fn apply(&self, config: &mut ServerConfig) -> anyhow::Result<()> {
        if !(self.lease_secs.is_finite() && (0.3..=3600.0).contains(&self.lease_secs)) {
            anyhow::bail!("--lease-secs must be between 0.3 and 3600");
        }
        if let Some(id) = &self.node_id
            && (id.trim().is_empty() || id.len() > 200 || id.chars().any(char::is_control))
        {
            anyhow::bail!("--node-id must be 1–200 printable characters");
        }
        if let Some(url) = &self.advertise_url {
            let host = url.strip_prefix("ws://").or_else(|| url.strip_prefix("wss://"));
            if host.is_none_or(|h| h.is_empty() || h.chars().any(|c| c.is_whitespace() || c.is_control())) {
                anyhow::bail!("--advertise-url must be a ws:// or wss:// URL");
            }
        }
        config.node_id = self.node_id.clone();
        config.advertise_url = self.advertise_url.clone();
        config.lease = Duration::from_secs_f64(self.lease_secs);
        Ok(())
    }
}

/// Until when this node may still act on its leases, as far as it knows:
/// the start of its last successful renewal round plus the lease duration.
/// Rooms check it before serving anything, so a node that was paused (or
/// cut off from the database) past its lease stops sequencing on its own,
/// before it even learns that another node took over.
#[derive(Debug)]
pub struct LeaseTerm {
    base: Instant,
    valid_until_ms: AtomicI64,
}

impl LeaseTerm {
    /// A term valid for `lease` from now.
    pub fn new(lease: Duration) -> Arc<LeaseTerm> {
        let term = LeaseTerm { base: Instant::now(), valid_until_ms: AtomicI64::new(0) };
        term.renewed_at(term.base, lease);
        Arc::new(term)
    }

    fn ms(&self, at: Instant) -> i64 {
        at.saturating_duration_since(self.base).as_millis() as i64
    }

    /// Records a renewal round that started at `started`.
    pub fn renewed_at(&self, started: Instant, lease: Duration) {
        let until = self.ms(started) + lease.as_millis() as i64;
        self.valid_until_ms.fetch_max(until, Ordering::SeqCst);
    }

    /// True once the term ran out.
    pub fn expired(&self) -> bool {
        self.ms(Instant::now()) >= self.valid_until_ms.load(Ordering::SeqCst)
    }
}

/// Renews this node's leases every third of the lease until `stop`; stops
/// the rooms whose lease is lost. Only for stores shared by several nodes.
pub async fn renew_job(hub: Arc<Hub>, mut stop: watch::Receiver<bool>) {
    let lease = hub.config().lease;
    let every = lease / 3;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => break,
        }
        renew_once(&hub).await;
    }
}

/// One renewal round.
pub async fn renew_once(hub: &Hub) {
    let lease = hub.config().lease;
    let started = Instant::now();
    let held = hub.held_leases();
    match hub.store().renew_leases(hub.node_id(), &held, lease.as_millis() as i64).await {
        Ok(lost) => {
            hub.lease_term().renewed_at(started, lease);
            for room in lost {
                let Some(epoch) = held.iter().find(|(r, _)| *r == room).map(|(_, e)| *e) else { continue };
                tracing::warn!(%room, epoch, "lease lost: another node took the room over");
                hub.lease_lost(room, epoch, "another node took the room over").await;
            }
        }
        Err(e) => {
            tracing::warn!("cannot renew room leases: {e}");
            if hub.lease_term().expired() {
                for (room, epoch) in held {
                    tracing::warn!(%room, epoch, "stopping the room: its lease could not be renewed in time");
                    hub.lease_lost(room, epoch, "this node could not renew its lease").await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_term_runs_out_unless_renewed() {
        let term = LeaseTerm::new(Duration::from_millis(30));
        assert!(!term.expired());
        std::thread::sleep(Duration::from_millis(40));
        assert!(term.expired());
        term.renewed_at(Instant::now(), Duration::from_millis(1000));
        assert!(!term.expired());
        // An older round never shortens the term.
        term.renewed_at(term.base, Duration::from_millis(1));
        assert!(!term.expired());
    }

    #[test]
    fn lease_flags_are_checked() {
        let args = |node: Option<&str>, url: Option<&str>, secs: f64| ClusterArgs {
            node_id: node.map(String::from),
            advertise_url: url.map(String::from),
            lease_secs: secs,
        };
        let mut c = ServerConfig::default();
        args(Some("a"), Some("ws://10.0.0.1:7447"), 2.0).apply(&mut c).expect("valid flags");
        assert_eq!(c.lease, Duration::from_secs(2));
        assert_eq!(c.node_id.as_deref(), Some("a"));
        assert!(args(None, None, 0.0).apply(&mut c).is_err());
        assert!(args(None, Some("http://x"), 5.0).apply(&mut c).is_err());
        assert!(args(Some(" "), None, 5.0).apply(&mut c).is_err());
    }
}
