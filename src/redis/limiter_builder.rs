//! [`SharedRateLimiterBuilder`]: the quota, the lease, where Redis is.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::error::{ConfigError, PolicyKind};
use crate::ratelimit::{RateLimiter, RateLimiterConfig};

use super::error::{OpError, SharedError};
use super::health::{HealthEvent, HealthListener, HealthState};
use super::limiter::{Inner, Lease, Owner, SharedRateLimiter, prober};
use super::link::Link;
use super::options::RedisOptions;

/// Builds a [`SharedRateLimiter`].
///
/// ```
/// use breakwater::redis::SharedRateLimiter;
/// let e = SharedRateLimiter::builder().rate(10, std::time::Duration::from_secs(1)).lease(11).build().unwrap_err();
/// assert!(e.to_string().contains("lease"));
/// ```
#[derive(Clone, Default)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct SharedRateLimiterBuilder {
    config: RateLimiterConfig,
    redis: RedisOptions,
    lease: Option<u32>,
    lease_ttl: Option<Duration>,
    degraded_permits: Option<u32>,
    on_health: Vec<HealthListener>,
}

impl fmt::Debug for SharedRateLimiterBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedRateLimiterBuilder")
            .field("config", &self.config)
            .field("redis", &self.redis)
            .field("lease", &self.lease)
            .finish_non_exhaustive()
    }
}

impl SharedRateLimiterBuilder {
    /// The limiter's name: processes naming the same limiter share its quota.
    ///
    /// ```
    /// let _ = breakwater::redis::SharedRateLimiter::builder().name("payments");
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.config.name = name.into();
        self
    }

    /// The fleet-wide quota: `permits` per `period` (the burst defaults to `permits`).
    ///
    /// ```
    /// let _ = breakwater::redis::SharedRateLimiter::builder().rate(100, std::time::Duration::from_secs(1));
    /// ```
    pub fn rate(mut self, permits: u32, period: Duration) -> Self {
        self.config.permits = permits;
        self.config.period = period;
        self
    }

    /// The burst. Defaults to `permits`.
    ///
    /// ```
    /// let _ = breakwater::redis::SharedRateLimiter::builder().burst(10);
    /// ```
    pub fn burst(mut self, burst: u32) -> Self {
        self.config.burst = Some(burst);
        self
    }

    /// How long [`SharedRateLimiter::call`] may wait. Defaults to zero.
    ///
    /// ```
    /// let _ = breakwater::redis::SharedRateLimiter::builder().max_wait(std::time::Duration::from_millis(5));
    /// ```
    pub fn max_wait(mut self, d: Duration) -> Self {
        self.config.max_wait = d;
        self
    }

    /// Replaces the whole quota configuration.
    ///
    /// ```
    /// let _ = breakwater::redis::SharedRateLimiter::builder().config(breakwater::RateLimiterConfig::default());
    /// ```
    pub fn config(mut self, config: RateLimiterConfig) -> Self {
        self.config = config;
        self
    }

    /// Replaces the Redis options.
    ///
    /// ```
    /// let _ = breakwater::redis::SharedRateLimiter::builder().redis(breakwater::redis::RedisOptions::default());
    /// ```
    pub fn redis(mut self, redis: RedisOptions) -> Self {
        self.redis = redis;
        self
    }

    /// The Redis URL.
    ///
    /// ```
    /// let _ = breakwater::redis::SharedRateLimiter::builder().url("redis://127.0.0.1:6379/");
    /// ```
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.redis.url = url.into();
        self
    }

    /// The key prefix. Defaults to [`DEFAULT_KEY_PREFIX`](super::DEFAULT_KEY_PREFIX).
    ///
    /// ```
    /// let _ = breakwater::redis::SharedRateLimiter::builder().key_prefix("shop");
    /// ```
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.redis.key_prefix = prefix.into();
        self
    }

    /// The longest one Redis operation may take. Defaults to
    /// [`DEFAULT_OP_TIMEOUT`](super::DEFAULT_OP_TIMEOUT).
    ///
    /// ```
    /// let _ = breakwater::redis::SharedRateLimiter::builder().op_timeout(std::time::Duration::from_millis(20));
    /// ```
    pub fn op_timeout(mut self, d: Duration) -> Self {
        self.redis.op_timeout = d;
        self
    }

    /// How often an unreachable Redis is tried again. Defaults to
    /// [`DEFAULT_POLL_INTERVAL`](super::DEFAULT_POLL_INTERVAL).
    ///
    /// ```
    /// let _ = breakwater::redis::SharedRateLimiter::builder().poll_interval(std::time::Duration::from_secs(1));
    /// ```
    pub fn poll_interval(mut self, d: Duration) -> Self {
        self.redis.poll_interval = d;
        self
    }

    /// Takes `k` permits per round trip and hands them out locally (1 to the burst).
    /// Defaults to 1 (no lease, no overshoot).
    ///
    /// ```
    /// let _ = breakwater::redis::SharedRateLimiter::builder().lease(10);
    /// ```
    pub fn lease(mut self, k: u32) -> Self {
        self.lease = Some(k);
        self
    }

    /// How long leased permits stay usable. Defaults to `k * T` (`T = period / permits`).
    ///
    /// ```
    /// let _ = breakwater::redis::SharedRateLimiter::builder().lease(10).lease_ttl(std::time::Duration::from_millis(50));
    /// ```
    pub fn lease_ttl(mut self, d: Duration) -> Self {
        self.lease_ttl = Some(d);
        self
    }

    /// Permits per `period` this process may use on its own while Redis is unreachable.
    /// Defaults to the whole quota (`permits`): set it to `permits / processes` to keep
    /// the fleet within the quota during an outage.
    ///
    /// ```
    /// let _ = breakwater::redis::SharedRateLimiter::builder().rate(100, std::time::Duration::from_secs(1)).degraded_permits(25);
    /// ```
    pub fn degraded_permits(mut self, n: u32) -> Self {
        self.degraded_permits = Some(n);
        self
    }

    /// A listener for health changes.
    ///
    /// ```
    /// let _ = breakwater::redis::SharedRateLimiter::builder().on_health(|e| eprintln!("{}", e.reason));
    /// ```
    pub fn on_health(mut self, f: impl Fn(&HealthEvent) + Send + Sync + 'static) -> Self {
        self.on_health.push(Arc::new(f));
        self
    }

    /// Builds the limiter. Reaches Redis once (within the operation timeout); an
    /// unreachable Redis starts it degraded.
    ///
    /// # Errors
    ///
    /// [`SharedError::Config`] naming the field, [`SharedError::Url`], or a refusal by
    /// the server ([`SharedError::Auth`], [`SharedError::WrongType`]).
    ///
    /// ```
    /// let l = breakwater::redis::SharedRateLimiter::builder().url("redis://127.0.0.1:1/").build().unwrap();
    /// assert_eq!(l.health(), breakwater::redis::Health::Degraded);
    /// ```
    pub fn build(self) -> Result<SharedRateLimiter, SharedError> {
        let kind = PolicyKind::RateLimiter;
        // The local limiter checks the quota (and is the degraded fallback).
        RateLimiter::from_config(&self.config)?;
        self.redis.validate_for(kind)?;
        RedisOptions::validate_name(kind, &self.config.name)?;
        let burst = self.config.burst.unwrap_or(self.config.permits);
        let lease_size = self.lease.unwrap_or(1);
        if lease_size == 0 || lease_size > burst {
            return Err(ConfigError::new(kind, "lease", "must be between 1 and the burst").into());
        }
        let period_us = u64::try_from(self.config.period.as_micros()).unwrap_or(u64::MAX);
        let interval_us = period_us.div_ceil(u64::from(self.config.permits)).max(1);
        let lease_ttl = self.lease_ttl.unwrap_or(Duration::from_micros(
            interval_us.saturating_mul(u64::from(lease_size)),
        ));
        if lease_ttl.is_zero() {
            return Err(ConfigError::new(kind, "lease_ttl", "must be greater than zero").into());
        }
        let degraded = self.degraded_permits.unwrap_or(self.config.permits);
        let local = RateLimiter::from_config(&RateLimiterConfig {
            permits: degraded,
            burst: self.config.burst.map(|b| b.min(degraded.max(1))),
            ..self.config.clone()
        })
        .map_err(|e| ConfigError::new(kind, "degraded_permits", e.message))?;
        let client = self.redis.client()?;
        let key = self.redis.key("limiter", &self.config.name);
        let health = Arc::new(HealthState::new(self.on_health));
        let inner = Arc::new(Inner {
            config: self.config,
            options: self.redis,
            client,
            key,
            scripts: super::scripts::limiter_scripts(),
            interval_us,
            burst,
            lease_size,
            lease_ttl,
            lease: Mutex::new(Lease {
                left: 0,
                expires: Instant::now(),
            }),
            links: Mutex::new(Vec::new()),
            local,
            health,
            granted: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            blocked_until: AtomicU64::new(0),
            clock: crate::clock::Clock::monotonic(),
            stop: AtomicBool::new(false),
        });
        // Check the key's type (and the credentials) once; take no permit.
        let mut link = Link::new(
            inner.client.clone(),
            inner.options.op_timeout,
            inner.health.clone(),
        );
        let args = [interval_us.to_string(), burst.to_string(), "0".to_owned()];
        match link.eval(&inner.scripts, 0, &[&inner.key], &args) {
            Ok(_) => inner.links.lock().push(link),
            Err(OpError::Fatal(e)) => return Err(e),
            Err(e) => {
                inner.health.degrade(&e.message());
            }
        }
        let (tx, rx) = crossbeam_channel::bounded(1);
        let i = inner.clone();
        let thread = std::thread::Builder::new()
            .name(format!("bw-redis-limiter-{}", inner.config.name))
            .spawn(move || prober(i, rx))
            .ok();
        Ok(SharedRateLimiter {
            _owner: Arc::new(Owner {
                inner: inner.clone(),
                wake: tx,
                thread: Mutex::new(thread),
            }),
            inner,
        })
    }
}

impl SharedRateLimiter {
    /// A builder with the defaults of [`RateLimiterConfig`] and [`RedisOptions`], no lease.
    ///
    /// ```
    /// let _ = breakwater::redis::SharedRateLimiter::builder().name("api");
    /// ```
    pub fn builder() -> SharedRateLimiterBuilder {
        SharedRateLimiterBuilder::default()
    }
}
