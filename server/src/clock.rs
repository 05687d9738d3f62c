//! Time. [`now_ms`] is the wall clock (milliseconds since the Unix epoch).
//!
//! Rooms read time through a [`SharedClock`] from the server
//! configuration, so the moments they act by themselves (a grant's expiry,
//! the end of a break-glass, the retention purge) can be driven by a
//! [`ManualClock`] in tests instead of by sleeping. The default is the
//! system clock.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;

/// Wall-clock milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// A future that resolves when a clock reaches a moment.
pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// A source of time for rooms.
pub trait Clock: Send + Sync + 'static {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;
    /// Resolves once the clock reads `at_ms` or later.
    fn sleep_until(&self, at_ms: i64) -> Sleep;
    /// Short name for logs (`system`, `manual`).
    fn name(&self) -> &'static str;
}

/// The operating system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        now_ms()
    }

    fn sleep_until(&self, at_ms: i64) -> Sleep {
        Box::pin(async move {
            // Re-check after waking: the wall clock may have been adjusted.
            loop {
                let left = at_ms.saturating_sub(now_ms());
                if left <= 0 {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(left as u64)).await;
            }
        })
    }

    fn name(&self) -> &'static str {
        "system"
    }
}

/// A clock that only moves when told to (tests).
#[derive(Debug)]
pub struct ManualClock {
    now: watch::Sender<i64>,
}

impl ManualClock {
    /// A clock reading `start_ms`.
    pub fn new(start_ms: i64) -> Arc<ManualClock> {
        Arc::new(ManualClock { now: watch::Sender::new(start_ms) })
    }

    /// A clock reading the wall clock's time now.
    pub fn starting_now() -> Arc<ManualClock> {
        Self::new(now_ms())
    }

    /// Moves the clock forward by `by`; rooms waiting for a moment it
    /// reaches wake up.
    pub fn advance(&self, by: Duration) {
        self.now.send_modify(|t| *t = t.saturating_add(by.as_millis() as i64));
    }

    /// Sets the clock (never backwards).
    pub fn set(&self, at_ms: i64) {
        self.now.send_modify(|t| *t = (*t).max(at_ms));
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        *self.now.borrow()
    }

    fn sleep_until(&self, at_ms: i64) -> Sleep {
        let mut rx = self.now.subscribe();
        Box::pin(async move {
            loop {
                if *rx.borrow_and_update() >= at_ms {
                    return;
                }
                if rx.changed().await.is_err() {
                    // The clock is gone: it will never get there.
                    std::future::pending::<()>().await;
                }
            }
        })
    }

    fn name(&self) -> &'static str {
        "manual"
    }
}

/// The clock a server uses (cheap to clone; system clock by default).
#[derive(Clone)]
pub struct SharedClock(Arc<dyn Clock>);

impl SharedClock {
    pub fn system() -> SharedClock {
        SharedClock(Arc::new(SystemClock))
    }

    /// Any clock, e.g. a [`ManualClock`] a test advances.
    pub fn new(clock: Arc<dyn Clock>) -> SharedClock {
        SharedClock(clock)
    }

    pub fn now_ms(&self) -> i64 {
        self.0.now_ms()
    }

    pub fn sleep_until(&self, at_ms: i64) -> Sleep {
        self.0.sleep_until(at_ms)
    }
}

impl Default for SharedClock {
    fn default() -> Self {
        SharedClock::system()
    }
}

impl fmt::Debug for SharedClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SharedClock({})", self.0.name())
    }
}

impl From<Arc<ManualClock>> for SharedClock {
    fn from(c: Arc<ManualClock>) -> Self {
        SharedClock(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_manual_clock_wakes_sleepers_when_advanced() {
        let clock = ManualClock::new(1_000);
        let shared: SharedClock = clock.clone().into();
        let mut sleep = shared.sleep_until(61_000);
        assert!(tokio::time::timeout(Duration::from_millis(20), &mut sleep).await.is_err());
        clock.advance(Duration::from_secs(59));
        assert!(tokio::time::timeout(Duration::from_millis(20), &mut sleep).await.is_err());
        clock.advance(Duration::from_secs(1));
        tokio::time::timeout(Duration::from_secs(1), sleep).await.expect("woke up");
        assert_eq!(shared.now_ms(), 61_000);
        clock.set(0);
        assert_eq!(shared.now_ms(), 61_000, "never backwards");
    }
}
