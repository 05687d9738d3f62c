//! Refusals outside any room: the error frame, the per-connection audit
//! of refused frames (capped), the rate limit's refusal.

use std::net::SocketAddr;
use std::sync::Arc;

use serde_json::{Value, json};
use trustroom_shared::protocol::{ErrorCode, ServerFrame};
use trustroom_shared::{RoomId, UserId};

use crate::config::ServerConfig;
use crate::hub::Hub;
use crate::limits::TokenBucket;
use crate::outbox::{Frame, encode};
use crate::room::Refusal;

/// Connection-level refusals audited one by one per connection; beyond
/// this a single summary entry is written when the connection ends, so a
/// hostile client cannot flood the audit log.
const AUDITED_REFUSALS_PER_CONNECTION: u64 = 20;

pub(super) fn error_frame(id: Option<String>, code: ErrorCode, message: impl Into<String>) -> Frame {
    encode(&ServerFrame::Error { id, code, message: message.into() })
}

/// Audits refusals that happen outside any room, capped per connection.
pub(super) struct RefusalLog {
    hub: Arc<Hub>,
    peer: SocketAddr,
    pub(super) user: Option<UserId>,
    count: u64,
}

impl RefusalLog {
    pub(super) fn new(hub: Arc<Hub>, peer: SocketAddr) -> RefusalLog {
        RefusalLog { hub, peer, user: None, count: 0 }
    }

    /// Records a malformed-frame style refusal (capped per connection).
    pub(super) async fn record(&mut self, what: &str, refusal: &Refusal) {
        self.count += 1;
        if self.count <= AUDITED_REFUSALS_PER_CONNECTION {
            self.hub.audit_refusal(self.user, what, refusal, json!({"peer": self.peer.ip().to_string()})).await;
        }
    }

    /// Records a refusal that is always worth an entry of its own (probing
    /// for rooms), whatever the cap.
    pub(super) async fn record_always(&self, what: &str, refusal: &Refusal, room: RoomId) {
        let detail = json!({"peer": self.peer.ip().to_string(), "room": room.to_string()});
        self.hub.audit_refusal(self.user, what, refusal, detail).await;
    }

    pub(super) async fn finish(self) {
        if self.count > AUDITED_REFUSALS_PER_CONNECTION {
            let more = self.count - AUDITED_REFUSALS_PER_CONNECTION;
            let refusal = (ErrorCode::Invalid, format!("{more} further refused frames on this connection"));
            self.hub
                .audit_refusal(
                    self.user,
                    "frames",
                    &refusal,
                    json!({"peer": self.peer.ip().to_string(), "count": more}),
                )
                .await;
        }
    }
}

/// The `rate_limited` refusal for a request over the connection's budget.
pub(super) fn rate_limited(config: &ServerConfig, bucket: &TokenBucket) -> Refusal {
    (
        ErrorCode::RateLimited,
        format!(
            "too many requests: at most {} per second (bursts of {}); retry in {:.2} s",
            config.requests_per_second,
            config.request_burst,
            bucket.wait_secs()
        ),
    )
}

/// The request id of a frame, when it has a usable one (for refusals that
/// happen before the frame is parsed as a request).
pub(super) fn request_id_hint(text: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Probe {
        id: Option<Value>,
    }
    match serde_json::from_str::<Probe>(text).ok()?.id? {
        Value::String(s) if !s.is_empty() && s.len() <= trustroom_shared::protocol::MAX_REQUEST_ID_LEN => Some(s),
        _ => None,
    }
}
