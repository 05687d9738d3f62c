//! Server limits and tunables, with sensible defaults.

use std::time::Duration;

/// Server configuration. Every limit refusal answers with a stable code.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Largest text frame accepted (answered with `too_large` above it).
    pub max_frame_bytes: usize,
    /// Frames above this are not even read: the connection is closed.
    pub hard_frame_bytes: usize,
    /// Largest section body, in chars.
    pub max_section_chars: usize,
    pub max_sections: usize,
    pub max_objections: usize,
    /// Longest objection, reply, reason or title text, in chars.
    pub max_text_chars: usize,
    /// Most components in one text operation.
    pub max_op_components: usize,
    /// Time allowed between TCP accept and a valid `hello`.
    pub handshake_timeout: Duration,
    /// Frames queued for one connection before it counts as stalled and is
    /// disconnected (it resyncs on return).
    pub outbox_frames: usize,
    /// Commands queued for one room actor.
    pub room_queue: usize,
    /// Most commands folded into one group commit.
    pub batch_max: usize,
    /// Revisions kept in memory for transforms and catch-up.
    pub history_window: usize,
    /// A snapshot is stored every this many revisions.
    pub snapshot_every: u64,
    /// How often the admin queue is polled.
    pub admin_poll: Duration,
    /// The clock rooms act on (grant expiry, break-glass end, retention).
    /// The system clock unless a test supplies a `ManualClock`.
    pub clock: crate::clock::SharedClock,
    /// How often the retention job looks for rooms whose annex content is
    /// due for purging (rooms already open also purge on their own timer).
    pub retention_poll: Duration,
    /// Open connections one user may hold; more are refused at the
    /// handshake with `closing` `rate_limited`.
    pub max_connections_per_user: usize,
    /// Open connections (including unauthenticated ones still in the
    /// handshake) from one IP address; more are refused with `closing`
    /// `rate_limited`.
    pub max_connections_per_ip: usize,
    /// Sustained requests per second one connection may send (token bucket
    /// refill rate); above it requests get `error` `rate_limited`.
    pub requests_per_second: f64,
    /// Requests one connection may send in a burst (token bucket size).
    pub request_burst: u32,
    /// The server sends a websocket Ping this often on an idle connection.
    pub ping_interval: Duration,
    /// A connection from which nothing (no frame, no Pong) arrives for this
    /// long is closed with `closing` `timeout`. Also bounds how long one
    /// frame may take to be written to a client that does not read.
    pub idle_timeout: Duration,
    /// Kernel send buffer per connection (SO_SNDBUF), so a client that does
    /// not read holds at most this much kernel memory besides its outbox,
    /// and is detected as stalled promptly. 0 keeps the kernel's default
    /// (auto-tuned, up to several MiB).
    pub send_buffer_bytes: usize,
    /// This node's id in a cluster (`serve --node-id`): unique per node,
    /// stable across restarts. `None`: a fresh `node-<uuid>` per process.
    pub node_id: Option<String>,
    /// The URL clients reach this node at (`serve --advertise-url`), sent in
    /// `moved` answers. `None`: `ws://` (or `wss://`) + the listening address.
    pub advertise_url: Option<String>,
    /// How long a room lease lasts without renewal (`serve --lease-secs`);
    /// the owner renews every third of it. Another node may take a room
    /// over this long after its owner stopped renewing (docs/cluster.md).
    pub lease: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            max_frame_bytes: 1 << 20,
            hard_frame_bytes: 4 << 20,
            max_section_chars: 200_000,
            max_sections: 200,
            max_objections: 5_000,
            max_text_chars: 10_000,
            max_op_components: 10_000,
            handshake_timeout: Duration::from_secs(10),
            outbox_frames: 4096,
            room_queue: 1024,
            batch_max: 512,
            history_window: 10_000,
            snapshot_every: 500,
            admin_poll: Duration::from_millis(200),
            clock: crate::clock::SharedClock::system(),
            retention_poll: Duration::from_secs(600),
            max_connections_per_user: 16,
            max_connections_per_ip: 64,
            requests_per_second: 100.0,
            request_burst: 200,
            ping_interval: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(90),
            send_buffer_bytes: 256 * 1024,
            node_id: None,
            advertise_url: None,
            lease: Duration::from_secs(5),
        }
    }
}
