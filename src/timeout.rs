//! Deadlines and the time limiter. See [`TimeLimiter`].

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::bulkhead::check_duration;
use crate::clock::{Clock, Monitor};
use crate::ctx::{CancelToken, Ctx};
use crate::error::{ConfigError, Error, PolicyKind, RejectReason};
use crate::pool::{Job, Outcome, ThreadPool};

/// A snapshot of a time limiter's counters.
///
/// ```
/// let limiter = breakwater::TimeLimiter::builder().build()?;
/// let m = limiter.metrics();
/// assert_eq!((m.timed_out, m.threads_spawned), (0, 0));
/// # Ok::<(), breakwater::ConfigError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct TimeLimiterMetrics {
    /// Calls abandoned at their deadline, in total.
    pub timed_out: u64,
    /// Results (values, errors or panics) that came after their call was abandoned and
    /// were dropped, in total.
    pub late_results_dropped: u64,
    /// Calls refused (no free worker, deadline already passed, cancelled before or while
    /// waiting), in total.
    pub rejected: u64,
    /// Workers taken now (running a call, abandoned or not).
    pub busy: u32,
    /// Worker threads spawned so far (at most `max_threads`).
    pub threads_spawned: u32,
}

#[derive(Debug, Default)]
struct Counters {
    timed_out: AtomicU64,
    late: AtomicU64,
    rejected: AtomicU64,
}

struct Inner {
    name: String,
    timeout: Duration,
    clock: Clock,
    pool: ThreadPool,
    counters: Arc<Counters>,
}

/// Runs calls on a bounded pool and gives the caller control back at the deadline.
/// Cloning is cheap; clones share the pool and the counters.
///
/// # Deadlines: cooperative
///
/// The deadline stage is nothing but [`Ctx::with_timeout`] (or [`Ctx::with_deadline`]):
/// it narrows the deadline of the context that reaches the guarded code, never widens
/// it, and interrupts nothing. Code under it reads [`Ctx::remaining`] and passes it down
/// (the HTTP client turns it into the request timeout), retries stop starting attempts
/// that would end past it, and waits (bulkheads, rate limiters) end at it. Use it for a
/// total budget across retries; it costs nothing (no thread, no wait).
///
/// ```
/// use breakwater::{Ctx, ManualClock};
/// use std::time::Duration;
///
/// let clock = ManualClock::new();
/// let ctx = Ctx::with_clock(clock.clone().into());
/// let total = ctx.with_timeout(Duration::from_secs(10)); // the deadline stage
/// let attempt = total.with_timeout(Duration::from_secs(30)); // cannot widen it
/// assert_eq!(attempt.remaining(), Some(Duration::from_secs(10)));
/// clock.advance(Duration::from_secs(10));
/// assert!(attempt.is_expired());
/// ```
///
/// # The time limiter: preemptive for the caller
///
/// [`TimeLimiter::call`] runs the guarded code on a worker of its own bounded pool and
/// waits for the result until the deadline (the sooner of its `timeout` and the
/// context's deadline). At the deadline the caller gets [`Error::TimedOut`] at once, the
/// call's cancellation flag ([`Ctx::is_cancelled`]) is set so the abandoned code can stop
/// early, and its late result is dropped when it comes (counted in
/// [`TimeLimiterMetrics::late_results_dropped`]). The abandoned code keeps its worker
/// until it returns: threads cannot be killed. When every worker is taken, a call is
/// rejected at once ([`RejectReason::QueueFull`]); the limiter never spawns more than
/// `max_threads` threads. Workers are spawned lazily, named `"<name>-0"`, ..., and kept
/// idle afterwards.
///
/// A panic in the guarded code is carried to the caller, which panics with the same
/// payload (unless the call was already abandoned: then it counts as a late result).
///
/// The limiter waits on its own clock, and computes the call's deadline on it: give
/// it the same clock as the contexts it sees (both default to the monotonic clock).
///
/// # Examples
///
/// ```
/// use breakwater::{Ctx, Error, PolicyKind, TimeLimiter};
/// use std::time::Duration;
///
/// let limiter = TimeLimiter::builder().timeout(Duration::from_millis(20)).build()?;
/// let ctx = Ctx::new();
/// let fast: Result<u32, Error<()>> = limiter.call(&ctx, |_ctx| Ok(1));
/// assert_eq!(fast.unwrap(), 1);
///
/// let slow: Result<u32, Error<()>> = limiter.call(&ctx, |ctx| {
///     while !ctx.is_cancelled() {
///         std::thread::sleep(Duration::from_millis(1)); // cooperative work
///     }
///     Ok(2)
/// });
/// assert!(matches!(slow, Err(Error::TimedOut { policy: PolicyKind::TimeLimiter })));
/// # Ok::<(), breakwater::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct TimeLimiter {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for TimeLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TimeLimiter")
            .field("name", &self.inner.name)
            .field("timeout", &self.inner.timeout)
            .field("metrics", &self.metrics())
            .finish()
    }
}

/// Builds a [`TimeLimiter`].
///
/// # Examples
///
/// ```
/// use breakwater::TimeLimiter;
/// use std::time::Duration;
///
/// let limiter = TimeLimiter::builder()
///     .name("authors")
///     .timeout(Duration::from_secs(5))
///     .max_threads(4)
///     .build()?;
/// assert_eq!(limiter.timeout(), Duration::from_secs(5));
/// # Ok::<(), breakwater::ConfigError>(())
/// ```
#[derive(Debug, Clone)]
pub struct TimeLimiterBuilder {
    name: String,
    timeout: Duration,
    max_threads: u32,
    clock: Clock,
}

/// The default timeout of a [`TimeLimiter`]: 1 second.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);

/// The default most worker threads of a [`TimeLimiter`]: 8.
pub const DEFAULT_MAX_THREADS: u32 = 8;

impl Default for TimeLimiterBuilder {
    fn default() -> Self {
        TimeLimiterBuilder {
            name: "time-limiter".to_owned(),
            timeout: DEFAULT_TIMEOUT,
            max_threads: DEFAULT_MAX_THREADS,
            clock: Clock::monotonic(),
        }
    }
}

impl TimeLimiterBuilder {
    /// The name, also the prefix of the workers' thread names.
    ///
    /// ```
    /// let l = breakwater::TimeLimiter::builder().name("db").build()?;
    /// assert_eq!(l.name(), "db");
    /// # Ok::<(), breakwater::ConfigError>(())
    /// ```
    ///
    /// Defaults to `"time-limiter"`.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// How long a call may run before the caller gets [`Error::TimedOut`]; must be more
    /// than zero.
    ///
    /// ```
    /// let l = breakwater::TimeLimiter::builder()
    ///     .timeout(std::time::Duration::from_millis(250))
    ///     .build()?;
    /// assert_eq!(l.timeout().as_millis(), 250);
    /// # Ok::<(), breakwater::ConfigError>(())
    /// ```
    ///
    /// Defaults to 1 second.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How many calls may run at once (abandoned ones included), which is also the most
    /// threads the limiter ever spawns; at least 1.
    ///
    /// ```
    /// let l = breakwater::TimeLimiter::builder().max_threads(2).build()?;
    /// assert_eq!(l.max_threads(), 2);
    /// # Ok::<(), breakwater::ConfigError>(())
    /// ```
    ///
    /// Defaults to 8.
    pub fn max_threads(mut self, max_threads: u32) -> Self {
        self.max_threads = max_threads;
        self
    }

    /// The clock the caller waits on and the deadlines are computed on.
    ///
    /// ```
    /// let l = breakwater::TimeLimiter::builder()
    ///     .clock(breakwater::ManualClock::new().into())
    ///     .build()?;
    /// assert!(l.clock().is_manual());
    /// # Ok::<(), breakwater::ConfigError>(())
    /// ```
    ///
    /// Defaults to the monotonic clock.
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Builds the limiter (no thread is spawned yet).
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming `timeout` when it is zero or overflows a deadline,
    /// `max_threads` when it is 0, or `name` when it contains a NUL byte.
    ///
    /// ```
    /// let e = breakwater::TimeLimiter::builder().max_threads(0).build().unwrap_err();
    /// assert_eq!(e.field, "max_threads");
    /// ```
    pub fn build(self) -> Result<TimeLimiter, ConfigError> {
        let kind = PolicyKind::TimeLimiter;
        if self.timeout.is_zero() {
            return Err(ConfigError::new(
                kind,
                "timeout",
                "must be greater than zero",
            ));
        }
        check_duration(kind, "timeout", self.timeout)?;
        if self.max_threads == 0 {
            return Err(ConfigError::new(kind, "max_threads", "must be at least 1"));
        }
        if self.name.contains('\0') {
            return Err(ConfigError::new(
                kind,
                "name",
                "must not contain a NUL byte",
            ));
        }
        let name = if self.name.is_empty() {
            "time-limiter".to_owned()
        } else {
            self.name
        };
        let pool = ThreadPool::builder()
            .name(name.clone())
            .workers(self.max_threads)
            .queue_capacity(0)
            .clock(self.clock.clone())
            .drop_wait(Duration::ZERO)
            .build()
            .map_err(|e| ConfigError::new(kind, e.field, e.message))?;
        Ok(TimeLimiter {
            inner: Arc::new(Inner {
                name,
                timeout: self.timeout,
                clock: self.clock,
                pool,
                counters: Arc::new(Counters::default()),
            }),
        })
    }
}

/// Where a call's result meets its waiting caller.
enum CallSlot<R> {
    Waiting,
    Done(std::thread::Result<R>),
    /// The caller gave up; a result that comes now is late.
    Abandoned,
    /// The job was dropped without running (its pool shut down).
    Lost,
}

type SlotRef<R> = Arc<Monitor<CallSlot<R>>>;

/// A call as a pool job: runs `f` on the worker, then publishes to the caller's slot
/// after the pool has counted the worker free again (so that a caller who got its
/// result finds the worker available for its next call).
struct CallJob<F, R: Send + 'static> {
    f: Option<(F, Ctx)>,
    result: Option<std::thread::Result<R>>,
    slot: SlotRef<R>,
    counters: Arc<Counters>,
}

impl<F, R> Job for CallJob<F, R>
where
    F: FnOnce(&Ctx) -> R + Send + 'static,
    R: Send + 'static,
{
    fn run(&mut self) -> Outcome {
        let Some((f, ctx)) = self.f.take() else {
            return Outcome::Done;
        };
        let result = catch_unwind(AssertUnwindSafe(|| f(&ctx)));
        let outcome = if result.is_ok() {
            Outcome::Done
        } else {
            Outcome::Panicked
        };
        self.result = Some(result);
        outcome
    }

    fn publish(&mut self) {
        let mut g = self.slot.lock();
        if matches!(*g, CallSlot::Abandoned) {
            // Late: counted now, dropped with the job, outside the pool's lock.
            self.counters.late.fetch_add(1, Ordering::Relaxed);
        } else if let Some(result) = self.result.take() {
            *g = CallSlot::Done(result);
            drop(g);
            self.slot.notify_all();
        }
    }
}

impl<F, R: Send + 'static> Drop for CallJob<F, R> {
    /// A call dropped without running (its pool shut down) tells its caller so.
    fn drop(&mut self) {
        if let Some(unrun) = self.f.take() {
            let mut g = self.slot.lock();
            if matches!(*g, CallSlot::Waiting) {
                *g = CallSlot::Lost;
            }
            drop(g);
            self.slot.notify_all();
            drop(unrun); // after telling the caller: it runs user code
        }
    }
}

impl TimeLimiter {
    /// A builder with the defaults (1 s timeout, 8 threads).
    ///
    /// ```
    /// let l = breakwater::TimeLimiter::builder().build()?;
    /// assert_eq!(l.max_threads(), 8);
    /// # Ok::<(), breakwater::ConfigError>(())
    /// ```
    pub fn builder() -> TimeLimiterBuilder {
        TimeLimiterBuilder::default()
    }

    /// The limiter's name.
    ///
    /// ```
    /// assert_eq!(breakwater::TimeLimiter::builder().build()?.name(), "time-limiter");
    /// # Ok::<(), breakwater::ConfigError>(())
    /// ```
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The configured timeout.
    ///
    /// ```
    /// let l = breakwater::TimeLimiter::builder().build()?;
    /// assert_eq!(l.timeout(), std::time::Duration::from_secs(1));
    /// # Ok::<(), breakwater::ConfigError>(())
    /// ```
    pub fn timeout(&self) -> Duration {
        self.inner.timeout
    }

    /// The most calls (and threads) at once.
    ///
    /// ```
    /// assert_eq!(breakwater::TimeLimiter::builder().max_threads(3).build()?.max_threads(), 3);
    /// # Ok::<(), breakwater::ConfigError>(())
    /// ```
    pub fn max_threads(&self) -> u32 {
        self.inner.pool.config().workers
    }

    /// The clock it waits on.
    ///
    /// ```
    /// assert!(!breakwater::TimeLimiter::builder().build()?.clock().is_manual());
    /// # Ok::<(), breakwater::ConfigError>(())
    /// ```
    pub fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    /// Runs `f` on a worker with `ctx.with_child_cancel()` narrowed to the call's deadline
    /// (the sooner of `now + timeout` and `ctx`'s deadline), and waits for its result
    /// until that deadline. `f`'s own result (value or error) is returned as it is; a
    /// panic in `f` resumes in the caller.
    ///
    /// # Errors
    ///
    /// - [`Error::TimedOut`] (policy [`PolicyKind::TimeLimiter`]) at the deadline: the
    ///   call's cancellation flag is set and its late result will be dropped.
    /// - [`Error::Rejected`] (policy [`PolicyKind::TimeLimiter`]) without running `f`:
    ///   [`RejectReason::QueueFull`] when every worker is taken,
    ///   [`RejectReason::DeadlineExceeded`] when `ctx`'s deadline has already passed,
    ///   [`RejectReason::Cancelled`] when `ctx` is already cancelled; and, after `f`
    ///   started, [`RejectReason::Cancelled`] when `ctx` is cancelled while waiting (the
    ///   caller returns at once, the call is abandoned as at a deadline).
    /// - Whatever `f` returned.
    ///
    /// # Panics
    ///
    /// When `f` panics (and the call was not abandoned), with `f`'s payload.
    ///
    /// ```
    /// use breakwater::{Ctx, Error, TimeLimiter};
    /// let limiter = TimeLimiter::builder().build()?;
    /// let r: Result<String, Error<std::io::Error>> =
    ///     limiter.call(&Ctx::new(), |ctx| Ok(format!("attempt {}", ctx.attempt())));
    /// assert_eq!(r.unwrap(), "attempt 1");
    /// # Ok::<(), breakwater::ConfigError>(())
    /// ```
    pub fn call<T, E, F>(&self, ctx: &Ctx, f: F) -> Result<T, Error<E>>
    where
        F: FnOnce(&Ctx) -> Result<T, Error<E>> + Send + 'static,
        T: Send + 'static,
        E: Send + 'static,
    {
        let inner = &*self.inner;
        if ctx.is_cancelled() {
            return Err(self.reject(RejectReason::Cancelled));
        }
        let own = inner.clock.deadline_after(inner.timeout);
        let deadline = ctx.deadline().map_or(own, |d| d.min(own));
        if inner.clock.now() >= deadline {
            return Err(self.reject(RejectReason::DeadlineExceeded));
        }
        // What `ctx.with_child_cancel()` does, keeping the child token at hand.
        let call_token = ctx
            .cancel_token()
            .map_or_else(CancelToken::new, CancelToken::child);
        let call_ctx = ctx.with_cancel(call_token.clone()).with_deadline(deadline);

        let slot: SlotRef<Result<T, Error<E>>> = Monitor::new(CallSlot::Waiting);
        let job = Box::new(CallJob {
            f: Some((f, call_ctx)),
            result: None,
            slot: Arc::clone(&slot),
            counters: Arc::clone(&inner.counters),
        });
        if let Err((rejected, job)) = inner.pool.submit_job(job) {
            drop(job); // unrun: drops `f` (user code) outside the pool's lock
            return Err(self.reject(rejected.reason()));
        }

        // Registered before the last check of the flag (made under the slot's lock).
        let _wake = ctx.cancel_token().map(|t| t.wake_on_cancel(&slot));
        let mut g = slot.lock();
        loop {
            match std::mem::replace(&mut *g, CallSlot::Waiting) {
                CallSlot::Done(result) => {
                    drop(g);
                    return match result {
                        Ok(r) => r,
                        Err(payload) => resume_unwind(payload),
                    };
                }
                CallSlot::Lost => return Err(self.reject(RejectReason::Shutdown)),
                CallSlot::Waiting | CallSlot::Abandoned => {}
            }
            if ctx.is_cancelled() {
                *g = CallSlot::Abandoned;
                drop(g);
                call_token.cancel();
                return Err(self.reject(RejectReason::Cancelled));
            }
            let (g2, waited) = inner.clock.wait_until(&slot, g, deadline);
            g = g2;
            if waited.timed_out() && matches!(*g, CallSlot::Waiting) {
                *g = CallSlot::Abandoned;
                drop(g);
                call_token.cancel();
                inner.counters.timed_out.fetch_add(1, Ordering::Relaxed);
                return Err(Error::TimedOut {
                    policy: PolicyKind::TimeLimiter,
                });
            }
        }
    }

    /// A snapshot of the counters.
    ///
    /// ```
    /// use breakwater::{Ctx, Error, TimeLimiter};
    /// let limiter = TimeLimiter::builder().build()?;
    /// let _: Result<(), Error<()>> = limiter.call(&Ctx::new(), |_| Ok(()));
    /// assert_eq!(limiter.metrics().threads_spawned, 1);
    /// # Ok::<(), breakwater::ConfigError>(())
    /// ```
    pub fn metrics(&self) -> TimeLimiterMetrics {
        let pool = self.inner.pool.metrics();
        let c = &self.inner.counters;
        TimeLimiterMetrics {
            timed_out: c.timed_out.load(Ordering::Relaxed),
            late_results_dropped: c.late.load(Ordering::Relaxed),
            rejected: c.rejected.load(Ordering::Relaxed),
            busy: pool.busy + pool.queue_depth,
            threads_spawned: pool.spawned,
        }
    }

    /// Shuts the limiter's workers down (idle ones exit at once, busy ones when their
    /// call returns) and waits at most `wait` of real time for them; later calls are
    /// rejected ([`RejectReason::Shutdown`]). For the C ABI's `bw_time_limiter_free`,
    /// once no pipeline uses the limiter any more.
    #[cfg_attr(not(feature = "ffi"), allow(dead_code, reason = "used by the C ABI"))]
    pub(crate) fn shutdown_real_time(&self, wait: Duration) {
        self.inner
            .pool
            .shutdown_real_time(crate::pool::ShutdownMode::Cancel, wait);
    }

    fn reject<E>(&self, reason: RejectReason) -> Error<E> {
        self.inner.counters.rejected.fetch_add(1, Ordering::Relaxed);
        Error::Rejected {
            policy: PolicyKind::TimeLimiter,
            reason,
            retry_after: None,
        }
    }
}
