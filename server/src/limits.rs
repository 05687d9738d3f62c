//! Per-connection and per-peer limits: a token bucket for request rates,
//! and counters of open connections per user and per IP address whose
//! slots are released when their guard drops.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use tokio::time::Instant;
use trustroom_shared::UserId;

/// A token bucket: `burst` tokens, refilled at `rate` per second.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    capacity: f64,
    rate: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(rate: f64, burst: u32, now: Instant) -> Self {
        let capacity = f64::from(burst.max(1));
        Self { capacity, rate: rate.max(0.0), tokens: capacity, last: now }
    }

    /// Takes one token if there is one.
    pub fn try_take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.capacity);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Seconds until the next token (for the refusal message).
    pub fn wait_secs(&self) -> f64 {
        if self.tokens >= 1.0 || self.rate <= 0.0 { 0.0 } else { (1.0 - self.tokens) / self.rate }
    }
}

/// Open connections per key, bounded.
#[derive(Debug)]
struct Counter<K> {
    open: Mutex<HashMap<K, usize>>,
}

impl<K: Hash + Eq + Copy> Counter<K> {
    fn new() -> Self {
        Self { open: Mutex::new(HashMap::new()) }
    }

    /// Counts one more for `key` when under `limit`; returns the count
    /// that was refused otherwise.
    fn acquire(&self, key: K, limit: usize) -> Result<(), usize> {
        let Ok(mut open) = self.open.lock() else { return Ok(()) };
        let n = open.entry(key).or_insert(0);
        if *n >= limit {
            return Err(*n);
        }
        *n += 1;
        Ok(())
    }

    fn release(&self, key: K) {
        if let Ok(mut open) = self.open.lock()
            && let Some(n) = open.get_mut(&key)
        {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&key);
            }
        }
    }

    fn count(&self, key: K) -> usize {
        self.open.lock().ok().and_then(|o| o.get(&key).copied()).unwrap_or(0)
    }
}

/// Connection counters shared by every connection of one server.
#[derive(Debug)]
pub struct ConnectionLimits {
    per_ip: Counter<IpAddr>,
    /// Connections over the IP limit that are being told so (bounded too:
    /// beyond it the TCP connection is dropped without a word).
    refusing: Counter<IpAddr>,
    per_user: Counter<UserId>,
    max_per_ip: usize,
    max_per_user: usize,
}

/// Why a connection was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverLimit {
    pub open: usize,
    pub limit: usize,
}

impl ConnectionLimits {
    pub fn new(max_per_ip: usize, max_per_user: usize) -> Arc<Self> {
        Arc::new(Self {
            per_ip: Counter::new(),
            refusing: Counter::new(),
            per_user: Counter::new(),
            max_per_ip,
            max_per_user,
        })
    }

    /// A slot for a connection from `ip`, held until the guard drops.
    pub fn ip_slot(self: &Arc<Self>, ip: IpAddr) -> Result<IpSlot, OverLimit> {
        self.per_ip.acquire(ip, self.max_per_ip).map_err(|open| OverLimit { open, limit: self.max_per_ip })?;
        Ok(IpSlot { limits: self.clone(), ip, refusing: false })
    }

    /// Admits a new TCP connection from `ip`: a counted slot, or (over the
    /// limit) a slot to refuse it politely, or `None` when even the
    /// refusals from that address are at the limit (drop it at once).
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<Admission> {
        match self.ip_slot(ip) {
            Ok(slot) => Some(Admission::Admitted(slot)),
            Err(over) => {
                self.refusing.acquire(ip, self.max_per_ip.max(1)).ok()?;
                Some(Admission::Refused { slot: IpSlot { limits: self.clone(), ip, refusing: true }, over })
            }
        }
    }

    /// A slot for an authenticated connection of `user`.
    pub fn user_slot(self: &Arc<Self>, user: UserId) -> Result<UserSlot, OverLimit> {
        self.per_user.acquire(user, self.max_per_user).map_err(|open| OverLimit { open, limit: self.max_per_user })?;
        Ok(UserSlot { limits: self.clone(), user })
    }

    /// Open connections from `ip` (tests, metrics).
    pub fn open_from(&self, ip: IpAddr) -> usize {
        self.per_ip.count(ip)
    }

    /// Open connections of `user`.
    pub fn open_for(&self, user: UserId) -> usize {
        self.per_user.count(user)
    }
}

/// What [`ConnectionLimits::admit`] decided.
#[derive(Debug)]
pub enum Admission {
    Admitted(IpSlot),
    /// Over the per-IP limit: tell the client (`closing` `rate_limited`).
    Refused {
        slot: IpSlot,
        over: OverLimit,
    },
}

/// A counted connection from one IP address.
#[derive(Debug)]
pub struct IpSlot {
    limits: Arc<ConnectionLimits>,
    ip: IpAddr,
    refusing: bool,
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        if self.refusing {
            self.limits.refusing.release(self.ip);
        } else {
            self.limits.per_ip.release(self.ip);
        }
    }
}

/// A counted connection of one user.
#[derive(Debug)]
pub struct UserSlot {
    limits: Arc<ConnectionLimits>,
    user: UserId,
}

impl Drop for UserSlot {
    fn drop(&mut self) {
        self.limits.per_user.release(self.user);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn bucket_allows_a_burst_then_the_rate() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(10.0, 5, t0);
        for _ in 0..5 {
            assert!(b.try_take(t0));
        }
        assert!(!b.try_take(t0));
        assert!(b.wait_secs() > 0.0);
        // 100 ms at 10/s refills one token.
        assert!(b.try_take(t0 + Duration::from_millis(101)));
        assert!(!b.try_take(t0 + Duration::from_millis(102)));
        // Never more than the burst, however long the pause.
        let later = t0 + Duration::from_secs(3600);
        for _ in 0..5 {
            assert!(b.try_take(later));
        }
        assert!(!b.try_take(later));
    }

    #[test]
    fn slots_are_counted_and_released() {
        let limits = ConnectionLimits::new(2, 1);
        let ip: IpAddr = [127, 0, 0, 1].into();
        let a = limits.ip_slot(ip).expect("first");
        let b = limits.ip_slot(ip).expect("second");
        assert_eq!(limits.ip_slot(ip).err(), Some(OverLimit { open: 2, limit: 2 }));
        drop(a);
        let c = limits.ip_slot(ip).expect("a slot was freed");
        assert_eq!(limits.open_from(ip), 2);
        // Over the limit: refused politely, up to the limit again, then dropped.
        let r1 = limits.admit(ip);
        assert!(matches!(r1, Some(Admission::Refused { .. })));
        let r2 = limits.admit(ip);
        assert!(matches!(r2, Some(Admission::Refused { .. })));
        assert!(limits.admit(ip).is_none());
        drop((r1, r2));
        assert_eq!(limits.open_from(ip), 2);
        drop((b, c));
        assert_eq!(limits.open_from(ip), 0);
        assert!(matches!(limits.admit(ip), Some(Admission::Admitted(_))));

        let user = UserId::new();
        let u = limits.user_slot(user).expect("first");
        assert!(limits.user_slot(user).is_err());
        drop(u);
        assert!(limits.user_slot(user).is_ok());
        assert_eq!(limits.open_for(user), 0);
    }
}
