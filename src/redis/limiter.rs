//! [`SharedRateLimiter`]: GCRA evaluated atomically in Redis for a fleet-wide quota, with
//! an optional local lease.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use parking_lot::Mutex;

use crate::error::{ConfigError, Error, PolicyKind};
use crate::ratelimit::{RateLimited, RateLimiter, RateLimiterConfig};

use super::error::{OpError, SharedError};
use super::health::{Health, HealthEvent, HealthListener, HealthState, RedisMetrics};
use super::link::{Link, Script, ints};
use super::options::RedisOptions;

/// Permits taken from Redis and not yet handed out.
struct Lease {
    left: u32,
    expires: Instant,
}

struct Inner {
    config: RateLimiterConfig,
    options: RedisOptions,
    client: redis::Client,
    key: String,
    scripts: Vec<Script>,
    /// Emission interval and burst, in µs and permits.
    interval_us: u64,
    burst: u32,
    lease_size: u32,
    lease_ttl: Duration,
    lease: Mutex<Lease>,
    links: Mutex<Vec<Link>>,
    local: RateLimiter,
    health: Arc<HealthState>,
    granted: AtomicU64,
    rejected: AtomicU64,
    /// No permit is free in Redis before this (on `clock`, nanoseconds).
    blocked_until: AtomicU64,
    clock: crate::clock::Clock,
    stop: AtomicBool,
}

/// A rate limiter whose quota the whole fleet shares through Redis. See the
/// [module documentation](crate::redis) for the overshoot bound of leases.
///
/// # Examples
///
/// ```
/// use breakwater::redis::{Health, SharedRateLimiter};
/// use std::time::Duration;
///
/// // No Redis here: the limiter enforces the quota locally and says so.
/// let limiter = SharedRateLimiter::builder()
///     .name("payments")
///     .url("redis://127.0.0.1:1/")
///     .rate(2, Duration::from_secs(60))
///     .build()?;
/// assert_eq!(limiter.health(), Health::Degraded);
/// assert!(limiter.try_acquire().is_ok());
/// assert!(limiter.try_acquire().is_ok());
/// assert!(limiter.try_acquire().is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct SharedRateLimiter {
    inner: Arc<Inner>,
    _owner: Arc<Owner>,
}

struct Owner {
    inner: Arc<Inner>,
    wake: Sender<()>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for Owner {
    fn drop(&mut self) {
        self.inner.stop.store(true, Ordering::Release);
        let _ = self.wake.try_send(());
        if let Some(t) = self.thread.lock().take() {
            let _ = t.join();
        }
    }
}

impl fmt::Debug for SharedRateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedRateLimiter")
            .field("name", &self.inner.config.name)
            .field("key", &self.inner.key)
            .field("health", &self.health())
            .finish_non_exhaustive()
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

    /// The limiter's name.
    ///
    /// ```
    /// let l = breakwater::redis::SharedRateLimiter::builder().name("api").url("redis://127.0.0.1:1/").build().unwrap();
    /// assert_eq!(l.name(), "api");
    /// ```
    pub fn name(&self) -> &str {
        &self.inner.config.name
    }

    /// The quota.
    ///
    /// ```
    /// let l = breakwater::redis::SharedRateLimiter::builder().url("redis://127.0.0.1:1/").build().unwrap();
    /// assert_eq!(l.config().permits, 100);
    /// ```
    pub fn config(&self) -> &RateLimiterConfig {
        &self.inner.config
    }

    /// The most permits the fleet can use beyond the GCRA quota over any interval, due
    /// to leases: `ceil(lease_ttl / T)` (zero without a lease).
    ///
    /// ```
    /// use std::time::Duration;
    /// let l = breakwater::redis::SharedRateLimiter::builder()
    ///     .url("redis://127.0.0.1:1/").rate(100, Duration::from_secs(1)).lease(5).build().unwrap();
    /// assert_eq!(l.overshoot_bound(), 5);
    /// ```
    pub fn overshoot_bound(&self) -> u64 {
        if self.inner.lease_size <= 1 {
            return 0;
        }
        let ttl = u64::try_from(self.inner.lease_ttl.as_micros()).unwrap_or(u64::MAX);
        ttl.div_ceil(self.inner.interval_us)
    }

    /// Takes one permit: from this process's lease if it holds one; rejected locally
    /// while Redis has said that no permit is free yet; otherwise from Redis (one round
    /// trip within the operation timeout, taking up to a lease of the permits free now).
    /// While degraded: from the local limiter.
    ///
    /// # Errors
    ///
    /// [`RateLimited`] with the wait until the fleet has a permit.
    ///
    /// ```
    /// let l = breakwater::redis::SharedRateLimiter::builder().url("redis://127.0.0.1:1/").build().unwrap();
    /// assert!(l.try_acquire().is_ok());
    /// ```
    pub fn try_acquire(&self) -> Result<(), RateLimited> {
        let inner = &self.inner;
        if inner.health.is_degraded() {
            return self.count(inner.local.try_acquire());
        }
        if inner.lease_size > 1 {
            let mut lease = inner.lease.lock();
            if lease.left > 0 && Instant::now() < lease.expires {
                lease.left -= 1;
                drop(lease);
                return self.count(Ok(()));
            }
        }
        // Redis said when the next permit is free: nobody gets one before that.
        let blocked = inner.blocked_until.load(Ordering::Acquire);
        let now = inner.clock.nanos();
        if now < blocked {
            return self.count(Err(RateLimited {
                retry_after: Duration::from_nanos(blocked - now),
            }));
        }
        let mut link = inner.links.lock().pop().unwrap_or_else(|| self.link());
        let out = match self.take(&mut link) {
            Ok(r) => {
                inner.links.lock().push(link);
                r
            }
            Err(e) => {
                inner.health.degrade(&e.message());
                inner.local.try_acquire()
            }
        };
        self.count(out)
    }

    /// Takes up to a lease of permits from Redis (one round trip): the first is the
    /// caller's, the others go to the local lease.
    fn take(&self, link: &mut Link) -> Result<Result<(), RateLimited>, OpError> {
        let inner = &self.inner;
        let args = [
            inner.interval_us.to_string(),
            inner.burst.to_string(),
            inner.lease_size.to_string(),
        ];
        // Taken before the request: the wait counts from Redis' `now`, which is later.
        let asked_at = inner.clock.nanos();
        let v = link.eval(&inner.scripts, 0, &[&inner.key], &args)?;
        let r = ints(&v);
        if r.len() < 2 {
            return Err(OpError::Down(format!("unexpected script reply {v:?}")));
        }
        let granted = u32::try_from(r[0].max(0)).unwrap_or(0);
        if granted >= 1 {
            if granted > 1 {
                let mut lease = inner.lease.lock();
                lease.left = granted - 1;
                lease.expires = Instant::now() + inner.lease_ttl;
            }
            Ok(Ok(()))
        } else {
            let wait = Duration::from_micros(r[1].max(0) as u64);
            let until = asked_at.saturating_add(u64::try_from(wait.as_nanos()).unwrap_or(u64::MAX));
            inner.blocked_until.fetch_max(until, Ordering::AcqRel);
            Ok(Err(RateLimited { retry_after: wait }))
        }
    }

    fn count(&self, r: Result<(), RateLimited>) -> Result<(), RateLimited> {
        match &r {
            Ok(()) => &self.inner.granted,
            Err(_) => &self.inner.rejected,
        }
        .fetch_add(1, Ordering::Relaxed);
        r
    }

    fn link(&self) -> Link {
        Link::new(
            self.inner.client.clone(),
            self.inner.options.op_timeout,
            self.inner.health.clone(),
        )
    }

    /// Takes one permit, waiting (sleeping) when one will be free within `timeout`.
    ///
    /// # Errors
    ///
    /// [`RateLimited`] at once when no permit will be free within what is left of
    /// `timeout`.
    ///
    /// ```
    /// let l = breakwater::redis::SharedRateLimiter::builder().url("redis://127.0.0.1:1/").build().unwrap();
    /// assert!(l.acquire_timeout(std::time::Duration::from_millis(10)).is_ok());
    /// ```
    pub fn acquire_timeout(&self, timeout: Duration) -> Result<(), RateLimited> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.try_acquire() {
                Ok(()) => return Ok(()),
                Err(r) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if r.retry_after > left {
                        return Err(r);
                    }
                    std::thread::sleep(r.retry_after.max(Duration::from_micros(50)));
                }
            }
        }
    }

    /// Runs `f` when a permit is free (waiting up to the configured `max_wait`).
    ///
    /// # Errors
    ///
    /// [`Error::Rejected`] when rate limited, [`Error::Failed`] with `f`'s error.
    ///
    /// ```
    /// let l = breakwater::redis::SharedRateLimiter::builder().url("redis://127.0.0.1:1/").build().unwrap();
    /// assert_eq!(l.call(|| Ok::<_, ()>(1)).unwrap(), 1);
    /// ```
    pub fn call<T, E>(&self, f: impl FnOnce() -> Result<T, E>) -> Result<T, Error<E>> {
        self.acquire_timeout(self.inner.config.max_wait)?;
        f().map_err(Error::failed)
    }

    /// [`Health::Healthy`] while Redis answers.
    ///
    /// ```
    /// let l = breakwater::redis::SharedRateLimiter::builder().url("redis://127.0.0.1:1/").build().unwrap();
    /// assert_eq!(l.health(), breakwater::redis::Health::Degraded);
    /// ```
    pub fn health(&self) -> Health {
        self.inner.health.health()
    }

    /// Counters of the traffic with Redis.
    ///
    /// ```
    /// let l = breakwater::redis::SharedRateLimiter::builder().url("redis://127.0.0.1:1/").build().unwrap();
    /// assert!(l.redis_metrics().degraded >= 1);
    /// ```
    pub fn redis_metrics(&self) -> RedisMetrics {
        self.inner.health.metrics()
    }

    /// Permits granted and requests rejected by this process (lifetime).
    ///
    /// ```
    /// let l = breakwater::redis::SharedRateLimiter::builder().url("redis://127.0.0.1:1/").build().unwrap();
    /// l.try_acquire().unwrap();
    /// assert_eq!(l.granted_rejected(), (1, 0));
    /// ```
    pub fn granted_rejected(&self) -> (u64, u64) {
        (
            self.inner.granted.load(Ordering::Relaxed),
            self.inner.rejected.load(Ordering::Relaxed),
        )
    }
}

/// While degraded, tries Redis again every `poll_interval`.
fn prober(inner: Arc<Inner>, wake: Receiver<()>) {
    let mut link = Link::new(
        inner.client.clone(),
        inner.options.op_timeout,
        inner.health.clone(),
    );
    loop {
        let _ = wake.recv_timeout(inner.options.poll_interval);
        if inner.stop.load(Ordering::Acquire) {
            return;
        }
        if inner.health.is_degraded() && link.command(&redis::cmd("PING"), &inner.key).is_ok() {
            inner.health.recover();
        }
    }
}

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
