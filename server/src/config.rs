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
            history_window: 20_000,
            snapshot_every: 500,
            admin_poll: Duration::from_millis(200),
        }
    }
}
