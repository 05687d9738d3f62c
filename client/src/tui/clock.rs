//! Wall-clock times shown to the user, in their local time zone (the
//! message history, the access requests on the gated pane). The zone's
//! offset is read once at start-up, before the process has threads: on
//! Unix it cannot be read safely later. Unread (tests, or a zone that
//! cannot be found), times are shown in UTC and [`zone`] says so.

use std::sync::OnceLock;

use time::{OffsetDateTime, UtcOffset};

static LOCAL: OnceLock<UtcOffset> = OnceLock::new();

/// Reads the local zone's offset; call before starting any thread.
pub fn init_local_offset() {
    if let Ok(offset) = UtcOffset::current_local_offset() {
        let _ = LOCAL.set(offset);
    }
}

fn offset() -> UtcOffset {
    LOCAL.get().copied().unwrap_or(UtcOffset::UTC)
}

/// What the times are in: `local time` or `UTC`.
pub fn zone() -> &'static str {
    if LOCAL.get().is_some_and(|o| !o.is_utc()) { "local time" } else { "UTC" }
}

fn at(ms: i64) -> Option<OffsetDateTime> {
    let at = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()?;
    Some(at.to_offset(offset()))
}

/// `HH:MM:SS` of `ms` (since the epoch) in the user's zone.
pub fn hms(ms: i64) -> String {
    at(ms).map_or_else(|| "--:--:--".into(), |t| format!("{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second()))
}

/// `HH:MM` of `ms` in the user's zone.
pub fn hm(ms: i64) -> String {
    at(ms).map_or_else(|| "--:--".into(), |t| format!("{:02}:{:02}", t.hour(), t.minute()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_hours_minutes_seconds_in_the_zone_read_at_start_up() {
        // Nothing read in tests: UTC. 1_700_000_000_000 is 22:13:20 UTC.
        assert_eq!(hms(1_700_000_000_000), "22:13:20");
        assert_eq!(hm(1_700_000_000_000), "22:13");
        assert_eq!(hms(i64::MAX), "--:--:--");
    }
}
