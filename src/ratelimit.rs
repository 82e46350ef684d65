//! The rate limiter (throttling): [`RateLimiter`], GCRA on one atomic timestamp.

use std::fmt;
use std::time::{Duration, Instant};

use crate::clock::{Clock, duration_nanos};
use crate::error::{ConfigError, Error, PolicyKind, RejectReason};
use crate::registry::Registry;
use crate::sync::{Arc, AtomicU64, Ordering};

/// A rate limiter's rejection: no permit now (or not within the wait allowed), and when
/// one will be free.
///
/// `retry_after` is exact: asking again once that much time has passed succeeds, unless
/// someone else takes the permit first. A request for more permits than the burst can
/// never be granted; it is rejected with `retry_after == Duration::MAX`
/// (see [`RateLimited::never_fits`]).
///
/// # Examples
///
/// ```
/// use breakwater::{Error, PolicyKind, RateLimited, RejectReason};
/// use std::time::Duration;
///
/// let r = RateLimited { retry_after: Duration::from_millis(40) };
/// let e: Error<std::io::Error> = r.into();
/// assert!(matches!(
///     e,
///     Error::Rejected { policy: PolicyKind::RateLimiter, reason: RejectReason::RateLimited, .. }
/// ));
/// assert_eq!(e.retry_after(), Some(Duration::from_millis(40)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[error("rate limited: retry after {retry_after:?}")]
pub struct RateLimited {
    /// How long until the permits asked for will be free.
    pub retry_after: Duration,
}

impl RateLimited {
    /// `true` when the request asked for more permits than the burst, so that it can never
    /// be granted (`retry_after` is then `Duration::MAX`).
    ///
    /// ```
    /// use breakwater::RateLimiter;
    /// let limiter = RateLimiter::builder().permits(5).build().unwrap();
    /// assert!(limiter.try_acquire_n(6).unwrap_err().never_fits());
    /// ```
    pub fn never_fits(&self) -> bool {
        self.retry_after == Duration::MAX
    }
}

impl<E> From<RateLimited> for Error<E> {
    fn from(r: RateLimited) -> Error<E> {
        Error::Rejected {
            policy: PolicyKind::RateLimiter,
            reason: RejectReason::RateLimited,
            retry_after: Some(r.retry_after),
        }
    }
}

/// The configuration of a [`RateLimiter`] (also what the [`Registry`] compares).
///
/// # Examples
///
/// ```
/// use breakwater::{RateLimiter, RateLimiterConfig};
/// use std::time::Duration;
///
/// let config = RateLimiterConfig {
///     name: "search".into(),
///     permits: 50,
///     period: Duration::from_secs(1),
///     ..RateLimiterConfig::default()
/// };
/// let limiter = RateLimiter::from_config(&config).unwrap();
/// assert_eq!(limiter.name(), "search");
/// assert_eq!(limiter.metrics().burst, 50); // burst defaults to `permits`
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RateLimiterConfig {
    /// The limiter's name (metrics, registry). Defaults to `"default"`.
    pub name: String,
    /// How many permits are granted per `period` in steady state; at least 1, and at most
    /// one per nanosecond of `period`. Defaults to 100.
    pub permits: u32,
    /// The period over which `permits` are granted; not zero. Defaults to 1 s.
    pub period: Duration,
    /// How many permits may be taken at once by a caller that has been quiet; at least 1.
    /// `None` means "the same as `permits`". Defaults to `None`.
    pub burst: Option<u32>,
    /// How long [`RateLimiter::call`] may wait for a permit; zero fails at once.
    /// Defaults to zero.
    pub max_wait: Duration,
}

impl Default for RateLimiterConfig {
    fn default() -> Self {
        RateLimiterConfig {
            name: "default".to_owned(),
            permits: 100,
            period: Duration::from_secs(1),
            burst: None,
            max_wait: Duration::ZERO,
        }
    }
}

/// The numbers the algorithm runs on, derived from a checked configuration.
#[derive(Debug, Clone, Copy)]
struct Params {
    /// The emission interval `T`, in nanoseconds (at least 1).
    interval: u64,
    /// `burst * T`: how far the TAT may run ahead of now, in nanoseconds.
    burst_offset: u64,
    burst: u32,
    max_wait: u64,
}

impl RateLimiterConfig {
    fn check(&self) -> Result<Params, ConfigError> {
        let err = |field, msg: &str| ConfigError::new(PolicyKind::RateLimiter, field, msg);
        if self.permits == 0 {
            return Err(err("permits", "must be at least 1"));
        }
        if self.period.is_zero() {
            return Err(err("period", "must be greater than zero"));
        }
        let period = u64::try_from(self.period.as_nanos())
            .map_err(|_| err("period", "must fit in 2^64 nanoseconds (about 584 years)"))?;
        if u64::from(self.permits) > period {
            return Err(err(
                "permits",
                "must not exceed one permit per nanosecond of the period",
            ));
        }
        let interval = period.div_ceil(u64::from(self.permits));
        let burst = self.burst.unwrap_or(self.permits);
        if burst == 0 {
            return Err(err("burst", "must be at least 1"));
        }
        let burst_offset = interval.checked_mul(u64::from(burst)).ok_or_else(|| {
            err(
                "burst",
                "times the emission interval (period / permits) overflows 2^64 nanoseconds",
            )
        })?;
        let max_wait = u64::try_from(self.max_wait.as_nanos())
            .map_err(|_| err("max_wait", "must fit in 2^64 nanoseconds (about 584 years)"))?;
        Ok(Params {
            interval,
            burst_offset,
            burst,
            max_wait,
        })
    }
}

/// Builds a [`RateLimiter`].
///
/// # Examples
///
/// ```
/// use breakwater::RateLimiter;
/// use std::time::Duration;
///
/// let limiter = RateLimiter::builder()
///     .name("api")
///     .permits(20)
///     .period(Duration::from_secs(2))
///     .burst(5)
///     .build()
///     .unwrap();
/// assert_eq!(limiter.emission_interval(), Duration::from_millis(100));
/// ```
#[derive(Debug, Clone, Default)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct RateLimiterBuilder {
    config: RateLimiterConfig,
    clock: Clock,
}

impl RateLimiterBuilder {
    /// Replaces the whole configuration (the setters below change single fields).
    ///
    /// ```
    /// let cfg = breakwater::RateLimiterConfig { permits: 3, ..Default::default() };
    /// let limiter = breakwater::RateLimiter::builder().config(cfg).build().unwrap();
    /// assert_eq!(limiter.config().permits, 3);
    /// ```
    ///
    /// Defaults to [`RateLimiterConfig::default()`].
    pub fn config(mut self, config: RateLimiterConfig) -> Self {
        self.config = config;
        self
    }

    /// The limiter's name.
    ///
    /// ```
    /// let l = breakwater::RateLimiter::builder().name("db").build().unwrap();
    /// assert_eq!(l.name(), "db");
    /// ```
    ///
    /// Defaults to `"default"`.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.config.name = name.into();
        self
    }

    /// Permits granted per period in steady state (at least 1).
    ///
    /// ```
    /// let l = breakwater::RateLimiter::builder().permits(4).build().unwrap();
    /// assert_eq!(l.emission_interval(), std::time::Duration::from_millis(250));
    /// ```
    ///
    /// Defaults to 100.
    pub fn permits(mut self, permits: u32) -> Self {
        self.config.permits = permits;
        self
    }

    /// The period over which `permits` are granted (not zero).
    ///
    /// ```
    /// let l = breakwater::RateLimiter::builder()
    ///     .permits(1)
    ///     .period(std::time::Duration::from_secs(3))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(l.emission_interval(), std::time::Duration::from_secs(3));
    /// ```
    ///
    /// Defaults to 1 s.
    pub fn period(mut self, period: Duration) -> Self {
        self.config.period = period;
        self
    }

    /// `permits` per `period` in one call.
    ///
    /// ```
    /// let l = breakwater::RateLimiter::builder()
    ///     .rate(5, std::time::Duration::from_secs(1))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(l.emission_interval(), std::time::Duration::from_millis(200));
    /// ```
    ///
    /// Defaults to 100 per 1 s.
    pub fn rate(self, permits: u32, period: Duration) -> Self {
        self.permits(permits).period(period)
    }

    /// How many permits a quiet caller may take at once (at least 1).
    ///
    /// ```
    /// let l = breakwater::RateLimiter::builder().permits(10).burst(1).build().unwrap();
    /// assert!(l.try_acquire().is_ok());
    /// assert!(l.try_acquire().is_err());
    /// ```
    ///
    /// Defaults to `permits`.
    pub fn burst(mut self, burst: u32) -> Self {
        self.config.burst = Some(burst);
        self
    }

    /// How long [`RateLimiter::call`] may wait for a permit (zero: fail at once).
    ///
    /// ```
    /// let l = breakwater::RateLimiter::builder()
    ///     .max_wait(std::time::Duration::from_millis(50))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(l.config().max_wait, std::time::Duration::from_millis(50));
    /// ```
    ///
    /// Defaults to zero.
    pub fn max_wait(mut self, max_wait: Duration) -> Self {
        self.config.max_wait = max_wait;
        self
    }

    /// The clock the limiter reads and sleeps through.
    ///
    /// ```
    /// let clock = breakwater::ManualClock::new();
    /// let l = breakwater::RateLimiter::builder().clock(clock).build().unwrap();
    /// assert!(l.try_acquire().is_ok());
    /// ```
    ///
    /// Defaults to [`Clock::monotonic()`].
    pub fn clock(mut self, clock: impl Into<Clock>) -> Self {
        self.clock = clock.into();
        self
    }

    /// Builds the limiter, full (a whole burst is available at once).
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the field: `permits` zero or above one per nanosecond of
    /// the period, `period` zero or too long, `burst` zero or so large that
    /// `burst * period / permits` overflows, `max_wait` too long.
    ///
    /// ```
    /// let e = breakwater::RateLimiter::builder().permits(0).build().unwrap_err();
    /// assert_eq!(e.field, "permits");
    /// ```
    pub fn build(self) -> Result<RateLimiter, ConfigError> {
        let params = self.config.check()?;
        Ok(RateLimiter {
            inner: Arc::new(Inner {
                tat: Padded(AtomicU64::new(0)),
                stripes: std::array::from_fn(|_| Padded(Stripe::default())),
                params,
                clock: self.clock,
                config: self.config,
            }),
        })
    }
}

/// Counters and the current state of a [`RateLimiter`].
///
/// `permitted`, `rejected` and `waited` count calls (a `try_acquire_n(5)` that succeeds
/// counts once) and only grow.
///
/// # Examples
///
/// ```
/// let l = breakwater::RateLimiter::builder().permits(1).build().unwrap();
/// let _ = l.try_acquire();
/// let _ = l.try_acquire();
/// let m = l.metrics();
/// assert_eq!((m.permitted, m.rejected, m.available), (1, 1, 0));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RateLimiterMetrics {
    /// Acquisitions granted (including those that waited).
    pub permitted: u64,
    /// Acquisitions refused.
    pub rejected: u64,
    /// Granted acquisitions that had to wait for their permit.
    pub waited: u64,
    /// Permits that could be taken right now without waiting (0 while callers wait for
    /// reserved permits).
    pub available: u32,
    /// The configured burst.
    pub burst: u32,
    /// The emission interval `T = period / permits`.
    pub emission_interval: Duration,
}

/// A GCRA rate limiter: `permits` per `period` with a `burst`. Clones share the limiter;
/// it is `Send + Sync`, lock-free and allocation-free on every acquisition.
///
/// # Algorithm
///
/// GCRA (the generic cell rate algorithm, a token bucket expressed as one timestamp).
/// The emission interval is `T = period / permits` (rounded up to the nanosecond, so
/// the sustained rate never exceeds the configured one) and the tolerance is
/// `(burst - 1) * T`. The whole state is one `AtomicU64`, the *theoretical arrival time*
/// (TAT): the instant at which the limiter would be back to "empty" if nothing else were
/// acquired. Acquiring `k` permits at time `now`:
///
/// | step | value |
/// | --- | --- |
/// | new TAT | `max(TAT, now) + k * T` |
/// | earliest start | `new TAT - burst * T` |
/// | granted when | earliest start `<= now` (or `<=` the caller's deadline when it may wait) |
/// | retry after | `earliest start - now` |
///
/// The TAT moves with one compare-and-swap; there is no lock and no allocation, and
/// a rejection is data: it says exactly when the permit will be free.
///
/// A full limiter grants `burst` permits at once, then one every `T`: over any span of
/// time `w` it grants at most `burst + floor(w / T)` permits, and in steady state exactly
/// `permits` per `period`. `burst = 1` spaces every permit by `T`.
///
/// # Waiting
///
/// [`RateLimiter::acquire_timeout`] waits only when a permit will be free within the
/// timeout: it *reserves* that future permit at once (so nobody can take it meanwhile),
/// then sleeps through the limiter's [`Clock`] until the permit's time. When the permit
/// would come too late it fails at once, without waiting and without reserving anything.
/// On a [`ManualClock`](crate::ManualClock) the sleep moves the clock forward by exactly
/// the wait.
///
/// # Examples
///
/// ```
/// use breakwater::{ManualClock, RateLimiter};
/// use std::time::Duration;
///
/// let clock = ManualClock::new();
/// let limiter = RateLimiter::builder()
///     .permits(10)
///     .period(Duration::from_secs(1))
///     .burst(2)
///     .clock(clock.clone())
///     .build()
///     .unwrap();
/// assert!(limiter.try_acquire().is_ok());
/// assert!(limiter.try_acquire().is_ok());
/// let rejected = limiter.try_acquire().unwrap_err();
/// assert_eq!(rejected.retry_after, Duration::from_millis(100));
/// clock.advance(Duration::from_millis(100));
/// assert!(limiter.try_acquire().is_ok());
/// ```
///
/// With [`RateLimiter::call`]:
///
/// ```
/// use breakwater::{Error, ManualClock, RateLimiter};
/// use std::time::Duration;
///
/// let clock = ManualClock::new();
/// let limiter = RateLimiter::builder()
///     .rate(2, Duration::from_secs(1))
///     .clock(clock.clone())
///     .build()
///     .unwrap();
/// let call = || limiter.call(|| Ok::<_, std::io::Error>("answer"));
/// assert_eq!(call().unwrap(), "answer");
/// assert_eq!(call().unwrap(), "answer");
/// match call() {
///     Err(e @ Error::Rejected { .. }) => assert_eq!(e.retry_after(), Some(Duration::from_millis(500))),
///     other => panic!("expected a rejection, got {other:?}"),
/// }
/// ```
#[derive(Clone)]
pub struct RateLimiter {
    inner: Arc<Inner>,
}

struct Inner {
    /// The theoretical arrival time, in nanoseconds of `clock`, alone on its cache line:
    /// a rejection only reads it, so rejecting threads share the line without bouncing it.
    tat: Padded<AtomicU64>,
    /// The counters, striped by thread (round robin over `STRIPES`) so that threads
    /// counting at once rarely write the same cache line; `metrics` sums them.
    stripes: [Padded<Stripe>; STRIPES],
    params: Params,
    clock: Clock,
    config: RateLimiterConfig,
}

/// How many counter stripes a limiter has (threads are spread over them round robin).
const STRIPES: usize = 8;

/// Keeps its content on cache lines of its own (128 bytes: two lines, as adjacent-line
/// prefetchers pair them).
#[derive(Debug, Default)]
#[repr(align(128))]
struct Padded<T>(T);

impl<T> std::ops::Deref for Padded<T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        &self.0
    }
}

#[derive(Debug, Default)]
struct Stripe {
    permitted: AtomicU64,
    rejected: AtomicU64,
    waited: AtomicU64,
}

/// This thread's counter stripe index: threads get consecutive numbers on first use.
#[inline]
fn stripe_index() -> usize {
    use std::sync::atomic::{AtomicUsize, Ordering as StdOrdering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static INDEX: usize = NEXT.fetch_add(1, StdOrdering::Relaxed) % STRIPES;
    }
    INDEX.with(|i| *i)
}

impl fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimiter")
            .field("name", &self.inner.config.name)
            .field("permits", &self.inner.config.permits)
            .field("period", &self.inner.config.period)
            .field("burst", &self.inner.params.burst)
            .finish_non_exhaustive()
    }
}

impl RateLimiter {
    /// A builder with the default configuration (100 permits per second, burst 100,
    /// monotonic clock).
    ///
    /// ```
    /// let l = breakwater::RateLimiter::builder().build().unwrap();
    /// assert_eq!(l.config().permits, 100);
    /// ```
    pub fn builder() -> RateLimiterBuilder {
        RateLimiterBuilder::default()
    }

    /// A limiter on the monotonic clock built from `config`.
    ///
    /// # Errors
    ///
    /// As [`RateLimiterBuilder::build`].
    ///
    /// ```
    /// let cfg = breakwater::RateLimiterConfig { burst: Some(0), ..Default::default() };
    /// assert_eq!(breakwater::RateLimiter::from_config(&cfg).unwrap_err().field, "burst");
    /// ```
    pub fn from_config(config: &RateLimiterConfig) -> Result<RateLimiter, ConfigError> {
        RateLimiter::builder().config(config.clone()).build()
    }

    /// The limiter's name.
    ///
    /// ```
    /// assert_eq!(breakwater::RateLimiter::builder().build().unwrap().name(), "default");
    /// ```
    pub fn name(&self) -> &str {
        &self.inner.config.name
    }

    /// The configuration the limiter was built with.
    ///
    /// ```
    /// let l = breakwater::RateLimiter::builder().permits(7).build().unwrap();
    /// assert_eq!(l.config().permits, 7);
    /// ```
    pub fn config(&self) -> &RateLimiterConfig {
        &self.inner.config
    }

    /// The clock the limiter reads.
    ///
    /// ```
    /// assert!(!breakwater::RateLimiter::builder().build().unwrap().clock().is_manual());
    /// ```
    pub fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    /// The emission interval `T = period / permits`, rounded up to the nanosecond.
    ///
    /// ```
    /// let l = breakwater::RateLimiter::builder()
    ///     .rate(3, std::time::Duration::from_secs(1))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(l.emission_interval(), std::time::Duration::from_nanos(333_333_334));
    /// ```
    pub fn emission_interval(&self) -> Duration {
        Duration::from_nanos(self.inner.params.interval)
    }

    /// Takes one permit if one is free now.
    ///
    /// # Errors
    ///
    /// [`RateLimited`] with the exact wait until a permit is free.
    ///
    /// ```
    /// let l = breakwater::RateLimiter::builder().permits(1).build().unwrap();
    /// assert!(l.try_acquire().is_ok());
    /// assert!(l.try_acquire().unwrap_err().retry_after > std::time::Duration::ZERO);
    /// ```
    #[inline]
    pub fn try_acquire(&self) -> Result<(), RateLimited> {
        self.try_acquire_n(1)
    }

    /// Takes `n` permits at once if they are all free now (`n = 0` always succeeds and
    /// counts nothing).
    ///
    /// # Errors
    ///
    /// [`RateLimited`] with the exact wait until `n` permits are free; a request larger
    /// than the burst is rejected with `retry_after == Duration::MAX`.
    ///
    /// ```
    /// let l = breakwater::RateLimiter::builder().permits(10).burst(4).build().unwrap();
    /// assert!(l.try_acquire_n(3).is_ok());
    /// assert!(l.try_acquire_n(2).is_err());
    /// assert!(l.try_acquire_n(1).is_ok());
    /// ```
    #[inline]
    pub fn try_acquire_n(&self, n: u32) -> Result<(), RateLimited> {
        let now = self.inner.clock.nanos();
        self.acquire_by(n, now, now).map(|_| ())
    }

    /// Takes one permit, waiting for it as long as needed. The permit is reserved at once;
    /// the wait is a [`Clock::sleep_until`].
    ///
    /// ```
    /// let clock = breakwater::ManualClock::new();
    /// let l = breakwater::RateLimiter::builder().permits(1).clock(clock.clone()).build().unwrap();
    /// l.acquire();
    /// l.acquire(); // on a manual clock, moves the clock by the wait
    /// assert_eq!(clock.elapsed(), std::time::Duration::from_secs(1));
    /// ```
    pub fn acquire(&self) {
        let now = self.inner.clock.nanos();
        // One permit always fits the burst, and the latest start is unbounded.
        if let Ok(wait) = self.acquire_by(1, now, u64::MAX) {
            self.sleep_for_permit(now, wait);
        }
    }

    /// Takes one permit, waiting for it only when it will be free within `timeout`.
    ///
    /// When it will, the permit is reserved at once and the call sleeps (through the
    /// clock) until the permit's time; when it will not, the call fails at once without
    /// waiting or reserving anything.
    ///
    /// # Errors
    ///
    /// [`RateLimited`] with the exact wait until a permit is free, when that wait is
    /// longer than `timeout`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let clock = breakwater::ManualClock::new();
    /// let l = breakwater::RateLimiter::builder()
    ///     .rate(1, Duration::from_secs(1))
    ///     .clock(clock.clone())
    ///     .build()
    ///     .unwrap();
    /// l.try_acquire().unwrap();
    /// assert!(l.acquire_timeout(Duration::from_millis(500)).is_err()); // at once
    /// assert_eq!(clock.elapsed(), Duration::ZERO);
    /// assert!(l.acquire_timeout(Duration::from_secs(1)).is_ok()); // waited 1 s
    /// assert_eq!(clock.elapsed(), Duration::from_secs(1));
    /// ```
    pub fn acquire_timeout(&self, timeout: Duration) -> Result<(), RateLimited> {
        self.acquire_n_timeout(1, timeout)
    }

    /// Takes `n` permits, waiting only when they will all be free within `timeout`
    /// (see [`RateLimiter::acquire_timeout`]).
    ///
    /// # Errors
    ///
    /// [`RateLimited`] with the exact wait, when it is longer than `timeout`; a request
    /// larger than the burst is rejected with `retry_after == Duration::MAX`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let clock = breakwater::ManualClock::new();
    /// let l = breakwater::RateLimiter::builder().rate(10, Duration::from_secs(1))
    ///     .clock(clock.clone()).build().unwrap();
    /// l.try_acquire_n(10).unwrap();
    /// l.acquire_n_timeout(3, Duration::from_secs(1)).unwrap();
    /// assert_eq!(clock.elapsed(), Duration::from_millis(300));
    /// ```
    pub fn acquire_n_timeout(&self, n: u32, timeout: Duration) -> Result<(), RateLimited> {
        let now = self.inner.clock.nanos();
        let latest = now.saturating_add(duration_nanos(timeout));
        let wait = self.acquire_by(n, now, latest)?;
        self.sleep_for_permit(now, wait);
        Ok(())
    }

    /// Takes one permit, waiting only when it will be free by `deadline` (an instant of
    /// the limiter's clock; see [`RateLimiter::acquire_timeout`]).
    ///
    /// # Errors
    ///
    /// [`RateLimited`] with the exact wait until a permit is free, when the permit will
    /// not be free by `deadline`.
    ///
    /// ```
    /// let l = breakwater::RateLimiter::builder().permits(1).build().unwrap();
    /// let now = l.clock().now();
    /// assert!(l.acquire_deadline(now).is_ok());
    /// assert!(l.acquire_deadline(now).is_err());
    /// ```
    pub fn acquire_deadline(&self, deadline: Instant) -> Result<(), RateLimited> {
        let clock = &self.inner.clock;
        let latest = clock.nanos_at(deadline);
        let now = clock.nanos();
        let wait = self.acquire_by(1, now, latest.max(now))?;
        self.sleep_for_permit(now, wait);
        Ok(())
    }

    /// Runs `f` when a permit is free (waiting up to the configured `max_wait`), and
    /// returns its result.
    ///
    /// # Errors
    ///
    /// [`Error::Rejected`] (policy `RateLimiter`, reason `RateLimited`, `retry_after`
    /// set) without running `f`, or `f`'s error as [`Error::Failed`] after one attempt.
    ///
    /// ```
    /// let l = breakwater::RateLimiter::builder().permits(1).build().unwrap();
    /// assert_eq!(l.call(|| Ok::<_, ()>(1)).unwrap(), 1);
    /// assert!(l.call(|| Ok::<_, ()>(2)).unwrap_err().is_rejected());
    /// ```
    pub fn call<T, E>(&self, f: impl FnOnce() -> Result<T, E>) -> Result<T, Error<E>> {
        let max_wait = self.inner.params.max_wait;
        if max_wait == 0 {
            self.try_acquire()?;
        } else {
            self.acquire_timeout(Duration::from_nanos(max_wait))?;
        }
        f().map_err(Error::failed)
    }

    /// Counters and the current state.
    ///
    /// ```
    /// let l = breakwater::RateLimiter::builder().permits(3).build().unwrap();
    /// assert_eq!(l.metrics().available, 3);
    /// l.try_acquire().unwrap();
    /// assert_eq!(l.metrics().available, 2);
    /// ```
    pub fn metrics(&self) -> RateLimiterMetrics {
        let inner = &*self.inner;
        let p = inner.params;
        let now = inner.clock.nanos();
        let tat = inner.tat.load(Ordering::Relaxed).max(now);
        // Permits free now: how many intervals fit between the TAT and now + burst * T.
        let room = now.saturating_add(p.burst_offset).saturating_sub(tat);
        let available = u32::try_from(room / p.interval).unwrap_or(u32::MAX);
        let sum = |f: fn(&Stripe) -> &AtomicU64| -> u64 {
            inner
                .stripes
                .iter()
                .map(|s| f(s).load(Ordering::Relaxed))
                .sum()
        };
        RateLimiterMetrics {
            permitted: sum(|s| &s.permitted),
            rejected: sum(|s| &s.rejected),
            waited: sum(|s| &s.waited),
            available: available.min(p.burst),
            burst: p.burst,
            emission_interval: Duration::from_nanos(p.interval),
        }
    }

    /// The heart of the limiter: takes `n` permits if they will be free by `latest`
    /// (nanoseconds of the clock; `latest == now` means "only if free now"), and returns
    /// how long the caller must wait for them (0 when free now).
    #[inline]
    fn acquire_by(&self, n: u32, now: u64, latest: u64) -> Result<u64, RateLimited> {
        let inner = &*self.inner;
        let p = inner.params;
        if n == 0 {
            return Ok(0);
        }
        let stripe = &inner.stripes[stripe_index()];
        if n > p.burst {
            stripe.rejected.fetch_add(1, Ordering::Relaxed);
            crate::trace::limiter_rejected(&inner.config.name, u64::MAX);
            return Err(RateLimited {
                retry_after: Duration::MAX,
            });
        }
        // n <= burst, so this cannot overflow (burst * T was checked at build time).
        let cost = u64::from(n) * p.interval;
        let mut tat = inner.tat.load(Ordering::Relaxed);
        loop {
            let new_tat = tat.max(now).saturating_add(cost);
            let start = new_tat.saturating_sub(p.burst_offset);
            if start > latest {
                stripe.rejected.fetch_add(1, Ordering::Relaxed);
                crate::trace::limiter_rejected(&inner.config.name, start - now);
                return Err(RateLimited {
                    retry_after: Duration::from_nanos(start - now),
                });
            }
            // The TAT is a standalone counter that publishes no other data, so relaxed
            // ordering is enough: the CAS alone decides who gets which permits.
            match inner.tat.compare_exchange_weak(
                tat,
                new_tat,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    stripe.permitted.fetch_add(1, Ordering::Relaxed);
                    let wait = start.saturating_sub(now);
                    if wait > 0 {
                        stripe.waited.fetch_add(1, Ordering::Relaxed);
                    }
                    return Ok(wait);
                }
                Err(actual) => tat = actual,
            }
        }
    }

    /// Sleeps until `now + wait` on the limiter's clock (nothing when `wait` is 0).
    fn sleep_for_permit(&self, now: u64, wait: u64) {
        if wait > 0 {
            let clock = &self.inner.clock;
            clock.sleep_until(clock.instant_at(now.saturating_add(wait)));
        }
    }
}

impl Registry {
    /// The rate limiter named `name`: the registered one, or a new one built from the
    /// registry's default [`RateLimiterConfig`] (or `RateLimiterConfig::default()`), with
    /// its name set to `name`. Registry limiters use the monotonic clock.
    ///
    /// # Errors
    ///
    /// The default configuration's [`ConfigError`], if it is invalid.
    ///
    /// ```
    /// let r = breakwater::Registry::new();
    /// let a = r.rate_limiter("api").unwrap();
    /// let b = r.rate_limiter("api").unwrap();
    /// a.try_acquire_n(100).unwrap();
    /// assert!(b.try_acquire().is_err()); // the same limiter
    /// assert_eq!(b.name(), "api");
    /// ```
    pub fn rate_limiter(&self, name: &str) -> Result<RateLimiter, ConfigError> {
        let mut config = self
            .default_config::<RateLimiterConfig>()
            .unwrap_or_default();
        name.clone_into(&mut config.name);
        let build = |c: &RateLimiterConfig| RateLimiter::from_config(c);
        // Registered configurations always carry the registry name, so that a later
        // `rate_limiter_with` compares like with like.
        match self.get_or_build_exported(PolicyKind::RateLimiter, name, Some(config.clone()), build)
        {
            // Registered with another configuration: without an explicit configuration
            // the registered limiter is the answer.
            Err(e) if e.field == "name" => self.get_or_build_exported(
                PolicyKind::RateLimiter,
                name,
                None,
                |_: &RateLimiterConfig| RateLimiter::from_config(&config),
            ),
            other => other,
        }
    }

    /// The rate limiter named `name`, built from `config` (its `name` field is replaced
    /// by `name`) when it does not exist yet.
    ///
    /// # Errors
    ///
    /// The configuration's [`ConfigError`], or a `ConfigError` on the field `name` when a
    /// limiter of that name exists with a different configuration.
    ///
    /// ```
    /// use breakwater::{RateLimiterConfig, Registry};
    /// let r = Registry::new();
    /// let cfg = RateLimiterConfig { permits: 5, ..Default::default() };
    /// r.rate_limiter_with("db", cfg.clone()).unwrap();
    /// assert!(r.rate_limiter_with("db", cfg.clone()).is_ok());
    /// let other = RateLimiterConfig { permits: 6, ..cfg };
    /// assert_eq!(r.rate_limiter_with("db", other).unwrap_err().field, "name");
    /// ```
    pub fn rate_limiter_with(
        &self,
        name: &str,
        mut config: RateLimiterConfig,
    ) -> Result<RateLimiter, ConfigError> {
        name.clone_into(&mut config.name);
        self.get_or_build_exported(PolicyKind::RateLimiter, name, Some(config), |c| {
            RateLimiter::from_config(c)
        })
    }
}

#[cfg(all(test, breakwater_loom))]
mod loom_tests {
    use super::*;
    use crate::ManualClock;

    fn limiter(burst: u32) -> RateLimiter {
        RateLimiter::builder()
            .rate(10, Duration::from_secs(1))
            .burst(burst)
            .clock(ManualClock::new())
            .build()
            .unwrap()
    }

    #[test]
    fn loom_two_threads_one_permit_exactly_one_wins() {
        loom::model(|| {
            let l = limiter(1);
            let l2 = l.clone();
            let t = loom::thread::spawn(move || l2.try_acquire().is_ok());
            let mine = l.try_acquire().is_ok();
            let theirs = t.join().unwrap();
            assert!(mine ^ theirs);
            let m = l.metrics();
            assert_eq!((m.permitted, m.rejected), (1, 1));
        });
    }

    #[test]
    fn loom_burst_of_two_shared_by_three_acquisitions() {
        loom::model(|| {
            let l = limiter(2);
            let l2 = l.clone();
            let t = loom::thread::spawn(move || {
                u32::from(l2.try_acquire().is_ok()) + u32::from(l2.try_acquire().is_ok())
            });
            let mine = u32::from(l.try_acquire().is_ok());
            assert_eq!(mine + t.join().unwrap(), 2);
        });
    }
}
