//! [`SharedRateLimiter`]: GCRA evaluated atomically in Redis for a fleet-wide quota, with
//! an optional local lease.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use parking_lot::Mutex;

use crate::error::Error;
use crate::ratelimit::{RateLimited, RateLimiter, RateLimiterConfig};

use super::error::OpError;
use super::health::{Health, HealthState, RedisMetrics};
use super::link::{Link, Script, ints};
use super::options::RedisOptions;

/// Permits taken from Redis and not yet handed out.
pub(super) struct Lease {
    pub(super) left: u32,
    pub(super) expires: Instant,
}

pub(super) struct Inner {
    pub(super) config: RateLimiterConfig,
    pub(super) options: RedisOptions,
    pub(super) client: redis::Client,
    pub(super) key: String,
    pub(super) scripts: Vec<Script>,
    /// Emission interval and burst, in µs and permits.
    pub(super) interval_us: u64,
    pub(super) burst: u32,
    pub(super) lease_size: u32,
    pub(super) lease_ttl: Duration,
    pub(super) lease: Mutex<Lease>,
    pub(super) links: Mutex<Vec<Link>>,
    pub(super) local: RateLimiter,
    pub(super) health: Arc<HealthState>,
    pub(super) granted: AtomicU64,
    pub(super) rejected: AtomicU64,
    /// No permit is free in Redis before this (on `clock`, nanoseconds).
    pub(super) blocked_until: AtomicU64,
    pub(super) clock: crate::clock::Clock,
    pub(super) stop: AtomicBool,
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
    pub(super) inner: Arc<Inner>,
    pub(super) _owner: Arc<Owner>,
}

pub(super) struct Owner {
    pub(super) inner: Arc<Inner>,
    pub(super) wake: Sender<()>,
    pub(super) thread: Mutex<Option<JoinHandle<()>>>,
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
pub(super) fn prober(inner: Arc<Inner>, wake: Receiver<()>) {
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
