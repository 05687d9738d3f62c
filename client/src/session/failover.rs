//! Riding out a failover (docs/cluster.md): when the node that sequences a
//! room dies, the surviving nodes answer `moved` naming the dead owner until
//! its lease expires, then one of them takes the room over. A client that
//! cannot reach the node it was sent to waits out the backoff and asks
//! every node it knows again (the URL it started from first: the load
//! balancer, or the node that answered `moved`), until a deadline.

use std::time::Duration;

use tokio::time::Instant;
use trustroom_shared::ClientId;
use trustroom_shared::protocol::{ErrorCode, Request};

use super::backoff::Backoff;
use super::tls::Trust;
use super::transport::{Conn, ConnectError, Pushed, Welcome};

/// The server nodes a client knows, in the order it asks them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Nodes {
    urls: Vec<String>,
}

impl Nodes {
    /// Starting from `url` (asked first on every round).
    pub fn new(url: &str) -> Nodes {
        Nodes { urls: vec![url.to_string()] }
    }

    /// Remembers a node (from a `moved` answer).
    pub fn learn(&mut self, url: &str) {
        if !self.urls.iter().any(|u| u == url) {
            self.urls.push(url.to_string());
        }
    }

    pub fn urls(&self) -> &[String] {
        &self.urls
    }
}

/// Whether waiting may cure a failure to connect: a node down or
/// restarting, a failover under way, a handshake that timed out. A refusal
/// of who we are, or a certificate we do not trust, is final.
pub fn is_transient(err: &ConnectError) -> bool {
    match err {
        ConnectError::Socket { .. } | ConnectError::Closed => true,
        ConnectError::Refused { code, .. } => matches!(code, ErrorCode::Timeout | ErrorCode::Unavailable),
        ConnectError::Untrusted { .. } | ConnectError::Trust(_) | ConnectError::Unexpected(_) => false,
    }
}

/// Whether a request lost with its connection may be sent again: it
/// changes nothing, or it carries a `seq` (the server applies each
/// `(client, seq)` once, so a repeat is answered as a duplicate).
pub fn may_repeat(request: &Request) -> bool {
    !request.spec().mutates || request.seq().is_some()
}

/// Who connects, as whom.
#[derive(Clone, Debug)]
pub struct Dialer {
    pub token: String,
    pub client: ClientId,
    pub trust: Trust,
}

impl Dialer {
    /// One attempt at `url`, bounded by `deadline`.
    pub async fn connect(&self, url: &str, deadline: Instant) -> Result<(Conn, Welcome, Pushed), ConnectError> {
        match tokio::time::timeout_at(deadline, Conn::connect(url, &self.token, Some(self.client), &self.trust)).await {
            Ok(result) => result,
            Err(_) => Err(ConnectError::Refused {
                code: ErrorCode::Timeout,
                message: format!("no answer from {url} in time"),
            }),
        }
    }

    /// After `failure`: waits out the backoff and asks every known node in
    /// turn, round after round, until one takes the connection or the
    /// deadline is spent (then the last failure is the answer).
    pub async fn reconnect(
        &self,
        nodes: &Nodes,
        backoff: &mut Backoff,
        deadline: Instant,
        failure: ConnectError,
    ) -> Result<(Conn, Welcome, Pushed, String), ConnectError> {
        let mut last = failure;
        loop {
            if !is_transient(&last) {
                return Err(last);
            }
            // The last wait ends at the deadline: the failure is reported
            // only once the time is spent.
            let wait = backoff.next_delay().min(remaining(deadline));
            tracing::info!("{last}; asking again in {wait:?}");
            tokio::time::sleep(wait).await;
            if Instant::now() >= deadline {
                return Err(last);
            }
            for url in nodes.urls() {
                match self.connect(url, deadline).await {
                    Ok((conn, welcome, pushed)) => return Ok((conn, welcome, pushed, url.clone())),
                    Err(e) => last = e,
                }
                if !is_transient(&last) || Instant::now() >= deadline {
                    return Err(last);
                }
            }
        }
    }
}

/// Time left before `deadline` (zero once it passed).
pub fn remaining(deadline: Instant) -> Duration {
    deadline.saturating_duration_since(Instant::now())
}

#[cfg(test)]
mod tests {
    use super::*;
    use trustroom_shared::RoomId;

    #[test]
    fn nodes_are_asked_in_the_order_learned_once_each() {
        let mut n = Nodes::new("ws://a:1");
        n.learn("ws://b:1");
        n.learn("ws://a:1");
        assert_eq!(n.urls(), ["ws://a:1", "ws://b:1"]);
    }

    #[test]
    fn reads_and_sequenced_changes_may_be_repeated() {
        assert!(may_repeat(&Request::Rooms));
        assert!(may_repeat(&Request::Join { room: RoomId::new(), since: None }));
        assert!(!is_transient(&ConnectError::Refused { code: ErrorCode::Unauthenticated, message: String::new() }));
        assert!(is_transient(&ConnectError::Closed));
    }
}
