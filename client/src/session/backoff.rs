//! The one reconnect policy of every front end (TUI, agents, CLI): wait
//! 250 ms before the first retry, double each time up to 10 s, and spread
//! each wait by ±25% so clients that lost the same server do not come back
//! in lockstep. A connection that worked starts the count again.
//!
//! Why these numbers: a failover in a cluster takes about one lease term
//! (seconds, docs/cluster.md), so the first retries must be quick; 10 s
//! keeps a long outage from being noticed late by a person at the TUI,
//! while a few hundred clients retrying at that rate cost a server little.

use std::time::Duration;

use rand::Rng;

/// Wait before the first retry.
pub const FIRST: Duration = Duration::from_millis(250);
/// Longest wait between retries.
pub const MAX: Duration = Duration::from_secs(10);

/// The wait before retry `attempt` (1-based), without jitter.
pub fn base(attempt: u32) -> Duration {
    let doublings = attempt.saturating_sub(1).min(16);
    FIRST.saturating_mul(1u32 << doublings).min(MAX)
}

/// The wait before retry `attempt` (1-based), with ±25% jitter.
pub fn delay(attempt: u32) -> Duration {
    base(attempt).mul_f64(rand::rng().random_range(0.75..1.25))
}

/// Counts the retries of one connection.
#[derive(Clone, Debug, Default)]
pub struct Backoff {
    attempt: u32,
}

impl Backoff {
    /// The wait before the next retry (and counts it).
    pub fn next_delay(&mut self) -> Duration {
        self.attempt = self.attempt.saturating_add(1);
        delay(self.attempt)
    }

    /// Retries since the last success.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The connection worked: the next failure waits the shortest time again.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_from_250_ms_and_caps_at_10_s() {
        assert_eq!(base(1), Duration::from_millis(250));
        assert_eq!(base(2), Duration::from_millis(500));
        assert_eq!(base(7), MAX);
        assert_eq!(base(u32::MAX), MAX);
        let first = delay(1);
        assert!(first >= Duration::from_millis(187) && first <= Duration::from_millis(313), "{first:?}");
        for a in 8..40 {
            let d = delay(a);
            assert!(d >= Duration::from_millis(7_500) && d <= Duration::from_millis(12_500), "{d:?}");
        }
    }

    #[test]
    fn a_success_starts_again() {
        let mut b = Backoff::default();
        b.next_delay();
        b.next_delay();
        assert_eq!(b.attempt(), 2);
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(313));
    }
}
