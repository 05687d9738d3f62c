//! The server's accept loop, graceful shutdown and background jobs.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use crate::admin::drain_queue;
use crate::clock::now_ms;
use crate::config::ServerConfig;
use crate::connection::serve_connection;
use crate::hub::Hub;
use crate::limits::ConnectionLimits;
use crate::storage::Store;

/// Serves websocket connections on `listener` until `shutdown` completes,
/// then tells every client, lets rooms commit what they hold, and returns.
pub async fn run(
    listener: TcpListener,
    store: Store,
    config: ServerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    run_with_tls(listener, store, config, None, shutdown).await
}

/// Like [`run`], optionally terminating TLS (wss) with `tls`.
pub async fn run_with_tls(
    listener: TcpListener,
    store: Store,
    config: ServerConfig,
    tls: Option<TlsAcceptor>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let mut config = config;
    if config.advertise_url.is_none() {
        let scheme = if tls.is_some() { "wss" } else { "ws" };
        config.advertise_url = Some(format!("{scheme}://{}", listener.local_addr()?));
    }
    let hub = Hub::new(store.clone(), Arc::new(config));
    let node = hub.node_id().to_string();
    let shared = store.shared_by_nodes();
    if shared {
        tracing::info!(node = %node, url = %hub.advertise_url(), lease = ?hub.config().lease, "serving as one node of several");
    }
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut background = JoinSet::new();

    // Administrative commands queued while we run; heartbeat so admin tools
    // know a server is here to apply them. With several nodes, also close
    // the connections of users another node revoked.
    {
        let hub = hub.clone();
        let node = node.clone();
        let mut stop = stop_rx.clone();
        background.spawn(async move {
            let poll = hub.config().admin_poll;
            let mut beat_at = tokio::time::Instant::now();
            loop {
                if tokio::time::Instant::now() >= beat_at {
                    if let Err(e) = hub.store().heartbeat(&node, now_ms()).await {
                        tracing::warn!("heartbeat failed: {e}");
                    }
                    if shared && let Err(e) = hub.sweep_revoked().await {
                        tracing::warn!("revocation sweep failed: {e:#}");
                    }
                    beat_at = tokio::time::Instant::now() + Duration::from_secs(1);
                }
                if let Err(e) = drain_queue(&hub).await {
                    tracing::warn!("admin queue: {e:#}");
                }
                tokio::select! {
                    _ = tokio::time::sleep(poll) => {}
                    _ = stop.changed() => break,
                }
            }
        });
    }

    // Room leases: renewed in the background; rooms whose lease is lost
    // stop sequencing (cluster.rs).
    if shared {
        background.spawn(crate::cluster::renew_job(hub.clone(), stop_rx.clone()));
    }

    // Retention: purge annex content of rooms whose period ended.
    background.spawn(crate::retention::job(hub.clone(), stop_rx.clone()));

    tokio::pin!(shutdown);
    let mut connections = JoinSet::new();
    let limits = ConnectionLimits::new(hub.config().max_connections_per_ip, hub.config().max_connections_per_user);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => {
                let (tcp, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                // Counted from accept on, so connections stuck in the
                // handshake count against their address too.
                let Some(admission) = limits.admit(peer.ip()) else {
                    tracing::debug!(%peer, "dropped: too many connections and refusals from this address");
                    drop(tcp);
                    continue;
                };
                let _ = tcp.set_nodelay(true);
                let sndbuf = hub.config().send_buffer_bytes;
                if sndbuf > 0 {
                    let _ = socket2::SockRef::from(&tcp).set_send_buffer_size(sndbuf);
                }
                let hub = hub.clone();
                let stop = stop_rx.clone();
                let tls = tls.clone();
                let limits = limits.clone();
                connections.spawn(async move {
                    match tls {
                        None => serve_connection(tcp, peer, hub, limits, admission, stop).await,
                        Some(acceptor) => {
                            let timeout = hub.config().handshake_timeout;
                            match tokio::time::timeout(timeout, acceptor.accept(tcp)).await {
                                Ok(Ok(stream)) => serve_connection(stream, peer, hub, limits, admission, stop).await,
                                Ok(Err(e)) => tracing::debug!(%peer, "TLS handshake failed: {e}"),
                                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                            }
                        }
                    }
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }

    tracing::info!("shutting down: closing connections and draining rooms");
    drop(listener);
    let _ = stop_tx.send(true);
    // Connections answer what they are doing, tell their client, and end.
    let drain = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(Duration::from_secs(10), drain).await.is_err() {
        tracing::warn!("connections did not close within 10 s; aborting them");
        connections.abort_all();
    }
    hub.shutdown().await;
    while background.join_next().await.is_some() {}
    let _ = store.remove_node(&node).await;
    Ok(())
}

/// Builds a TLS acceptor from PEM certificate chain and private key files.
pub fn tls_acceptor(cert: &std::path::Path, key: &std::path::Path) -> anyhow::Result<TlsAcceptor> {
    use anyhow::Context;
    let certs = rustls_pemfile::certs(&mut std::io::BufReader::new(
        std::fs::File::open(cert).with_context(|| format!("opening {}", cert.display()))?,
    ))
    .collect::<Result<Vec<_>, _>>()
    .with_context(|| format!("reading certificates from {}", cert.display()))?;
    let key = rustls_pemfile::private_key(&mut std::io::BufReader::new(
        std::fs::File::open(key).with_context(|| format!("opening {}", key.display()))?,
    ))
    .with_context(|| format!("reading the private key from {}", key.display()))?
    .ok_or_else(|| anyhow::anyhow!("no private key in {}", key.display()))?;
    let config = tokio_rustls::rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("building the TLS configuration")?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}
