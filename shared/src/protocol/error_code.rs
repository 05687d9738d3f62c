//! Stable, machine-readable error codes of the protocol.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Stable, machine-readable error codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// No valid token, or the handshake was not completed.
    Unauthenticated,
    /// The client speaks a protocol version the server does not.
    UnsupportedVersion,
    /// The frame is not JSON, not UTF-8 text, or not an object.
    Malformed,
    /// `type` names no message this server knows.
    UnknownType,
    /// Fields missing, of the wrong type, or values out of range.
    Invalid,
    /// No such room/section/objection/annex visible to you.
    NotFound,
    /// You are a member but your role lacks the capability.
    Forbidden,
    /// The request is based on a revision the server no longer keeps or
    /// never had, or the room changed since the step it depends on: resync.
    Stale,
    /// The frame, text or operation exceeds a limit.
    TooLarge,
    /// The request conflicts with the current state.
    Conflict,
    /// The room is escalated and read-only.
    ReadOnly,
    /// Too many requests; slow down.
    RateLimited,
    /// The server cannot store changes right now; reads still work.
    Unavailable,
    /// The handshake was not completed in time.
    Timeout,
    /// A bug on the server; nothing was stored.
    Internal,
    /// A free-text field holds restricted annex detail: nothing was stored
    /// or sent to anyone. The message names the field (and, only to a
    /// member entitled to the annex, the annex).
    Restricted,
    /// Too many of your requests were refused for restricted detail: your
    /// free-text requests in this room are refused unread until the
    /// message's time (docs/access.md, "probe budget").
    ProbeLimited,
    /// Another server node sequences this room: reconnect to the URL the
    /// frame's `url` field names (docs/cluster.md). Nothing was applied.
    Moved,
}

impl ErrorCode {
    pub fn as_str(&self) -> &'static str {
        match self {
            ErrorCode::Unauthenticated => "unauthenticated",
            ErrorCode::UnsupportedVersion => "unsupported_version",
            ErrorCode::Malformed => "malformed",
            ErrorCode::UnknownType => "unknown_type",
            ErrorCode::Invalid => "invalid",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::Stale => "stale",
            ErrorCode::TooLarge => "too_large",
            ErrorCode::Conflict => "conflict",
            ErrorCode::ReadOnly => "read_only",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Timeout => "timeout",
            ErrorCode::Internal => "internal",
            ErrorCode::Moved => "moved",
            ErrorCode::Restricted => "restricted",
            ErrorCode::ProbeLimited => "probe_limited",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
