//! Rate limits for code allocation and joins (GCRA via `governor`), keyed by what is
//! limited: a client network (see [`crate::client_address::network_of`]), a signed-in
//! account, or everyone at once.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::DefaultClock;
use governor::state::keyed::DashMapStateStore;
use governor::{Quota, RateLimiter};

/// `burst` requests at once, refilled at `per_minute`.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    pub per_minute: u32,
    pub burst: u32,
}

/// A rate limit kept where every instance sees it (Redis).
#[async_trait::async_trait]
pub trait SharedRateLimit: Send + Sync + 'static {
    /// True when this request is allowed; `bucket` names the limit (`allocate`, `join`),
    /// `key` whom it counts against.
    async fn allowed(&self, bucket: &str, key: &str, limit: Limit) -> bool;
}

/// One limit, local to this process or shared by all instances.
pub enum Limiter {
    Local(KeyedRateLimiter),
    Shared {
        shared: std::sync::Arc<dyn SharedRateLimit>,
        bucket: &'static str,
        limit: Limit,
    },
}

impl Limiter {
    pub async fn check(&self, key: &str) -> bool {
        match self {
            Limiter::Local(l) => l.check(key),
            Limiter::Shared {
                shared,
                bucket,
                limit,
            } => shared.allowed(bucket, key, *limit).await,
        }
    }

    pub fn sweep(&self) {
        if let Limiter::Local(l) = self {
            l.sweep();
        }
    }
}

pub struct KeyedRateLimiter {
    limiter: RateLimiter<String, DashMapStateStore<String>, DefaultClock>,
}

impl KeyedRateLimiter {
    pub fn new(limit: Limit) -> Self {
        let per_minute = NonZeroU32::new(limit.per_minute.max(1)).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(limit.burst.max(1)).unwrap_or(NonZeroU32::MIN);
        let period = Duration::from_secs(60) / per_minute.get();
        let quota = Quota::with_period(period)
            .unwrap_or_else(|| Quota::per_minute(per_minute))
            .allow_burst(burst);
        Self {
            limiter: RateLimiter::dashmap(quota),
        }
    }

    /// True when this request is allowed.
    pub fn check(&self, key: &str) -> bool {
        self.limiter.check_key(&key.to_string()).is_ok()
    }

    /// Drops idle keys so the table does not grow without bound.
    pub fn sweep(&self) {
        self.limiter.retain_recent();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refused_per_ip() {
        let rl = KeyedRateLimiter::new(Limit {
            per_minute: 1,
            burst: 3,
        });
        let (a, b) = ("192.0.2.1", "192.0.2.2");
        assert!(rl.check(a) && rl.check(a) && rl.check(a));
        assert!(!rl.check(a));
        assert!(rl.check(b), "another address has its own budget");
    }
}
