//! A TCP proxy in front of a test server with injectable network faults:
//! cut a connection in the middle of a frame (either direction), reset it,
//! or stall it (nothing forwarded either way until the fault changes).
//! Used by the reconnection tests of the scriptable clients and the TUI.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// What the proxy does to the connections it carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Forward everything.
    None,
    /// Forward half of the next chunk from the client, then cut.
    CutClientMidFrame,
    /// Forward half of the next chunk from the server, then cut.
    CutServerMidFrame,
    /// Drop every connection now.
    Reset,
    /// Forward nothing (both directions) until the fault changes.
    Stall,
}

/// A TCP proxy in front of the server with injectable faults; every fault
/// is applied once per connection (a new `generation` arms it again).
pub struct Proxy {
    pub addr: SocketAddr,
    fault: watch::Sender<(u64, Fault)>,
    upstream: watch::Sender<SocketAddr>,
}

impl Proxy {
    pub async fn start(upstream: SocketAddr) -> anyhow::Result<Proxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (fault, rx) = watch::channel((0u64, Fault::None));
        let (upstream, target) = watch::channel(upstream);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let rx = rx.clone();
                let upstream = *target.borrow();
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(upstream).await {
                        let _ = client.set_nodelay(true);
                        let _ = server.set_nodelay(true);
                        carry(client, server, rx).await;
                    }
                });
            }
        });
        Ok(Proxy { addr, fault, upstream })
    }

    pub fn url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// Sends new connections to `upstream` (a restarted server's new port).
    pub fn retarget(&self, upstream: SocketAddr) {
        self.upstream.send_replace(upstream);
    }

    pub fn inject(&self, fault: Fault) {
        self.fault.send_modify(|(generation, f)| {
            *generation += 1;
            *f = fault;
        });
    }
}

/// Copies both ways until a fault cuts the connection or a side closes.
async fn carry(client: TcpStream, server: TcpStream, mut fault: watch::Receiver<(u64, Fault)>) {
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    // Faults injected before this connection existed do not apply to it;
    // each later one does (the newest replaces an older, unused one).
    let mut seen = fault.borrow_and_update().0;
    let mut armed: Option<Fault> = None;
    let mut cbuf = vec![0u8; 16 * 1024];
    let mut sbuf = vec![0u8; 16 * 1024];
    loop {
        let (generation, current) = *fault.borrow();
        if generation != seen {
            seen = generation;
            armed = (current != Fault::None).then_some(current);
        }
        match armed {
            Some(Fault::Reset) => return,
            Some(Fault::Stall) => {
                if fault.changed().await.is_err() {
                    return;
                }
                continue;
            }
            _ => {}
        }
        tokio::select! {
            n = cr.read(&mut cbuf) => {
                let Ok(n @ 1..) = n else { return };
                if armed == Some(Fault::CutClientMidFrame) {
                    let _ = sw.write_all(&cbuf[..n.div_ceil(2)]).await;
                    return;
                }
                if sw.write_all(&cbuf[..n]).await.is_err() { return; }
            }
            n = sr.read(&mut sbuf) => {
                let Ok(n @ 1..) = n else { return };
                if armed == Some(Fault::CutServerMidFrame) {
                    let _ = cw.write_all(&sbuf[..n.div_ceil(2)]).await;
                    return;
                }
                if cw.write_all(&sbuf[..n]).await.is_err() { return; }
            }
            changed = fault.changed() => if changed.is_err() { return },
        }
    }
}
