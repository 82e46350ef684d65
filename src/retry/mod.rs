//! Retry with backoff, jitter, a total time budget and a shared retry budget. See [`Retry`].

mod backoff;
mod budget;
mod config;
mod state;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

pub use backoff::{Backoff, Jitter};
pub use budget::{RetryBudget, RetryBudgetConfig};
pub use config::{RetryBuilder, RetryConfig};
pub use state::{Next, OutcomeKind, RetryState, StopReason};

use state::Call;

use crate::clock::Clock;
use crate::ctx::Ctx;
use crate::error::{ConfigError, Error, PolicyKind};
use crate::registry::Registry;

use backoff::{Plan, Schedule};

/// Spreads per-call stream numbers over the seed space.
const STREAM_STEP: u64 = 0x9E37_79B9_7F4A_7C15;

/// What a classifier decides about an attempt's result.
///
/// ```
/// use breakwater::{Error, RetryDecision};
/// let r: Result<(), Error<&str>> = Err(Error::failed("reset"));
/// assert_eq!(RetryDecision::default_for(&r), RetryDecision::Retry);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RetryDecision {
    /// A final result: return it.
    Done,
    /// Worth retrying after the computed delay.
    Retry,
    /// Worth retrying, not before this long (a Retry-After hint): replaces the computed
    /// delay when larger.
    RetryAfter(Duration),
    /// A failure that retrying cannot fix: return it.
    Permanent,
}

impl RetryDecision {
    /// The default classifier: `Ok` is done; [`Error::Failed`] and [`Error::TimedOut`]
    /// are retried; [`Error::Rejected`] is permanent (and never retried anyway).
    ///
    /// ```
    /// use breakwater::{Error, PolicyKind, RetryDecision};
    /// let t: Result<u8, Error<()>> = Err(Error::TimedOut { policy: PolicyKind::TimeLimiter });
    /// assert_eq!(RetryDecision::default_for(&t), RetryDecision::Retry);
    /// assert_eq!(RetryDecision::default_for(&Ok::<u8, Error<()>>(1)), RetryDecision::Done);
    /// ```
    pub fn default_for<T, E>(result: &Result<T, Error<E>>) -> RetryDecision {
        match result {
            Ok(_) => RetryDecision::Done,
            Err(Error::Failed { .. } | Error::TimedOut { .. }) => RetryDecision::Retry,
            Err(Error::Rejected { .. }) => RetryDecision::Permanent,
        }
    }
}

/// What `on_retry` is told before each wait.
///
/// ```
/// use breakwater::{Backoff, Error, Retry};
/// use std::time::Duration;
///
/// let clock = breakwater::ManualClock::new();
/// let retry = Retry::builder()
///     .backoff(Backoff::Fixed(Duration::from_secs(1)))
///     .clock(clock.clone().into())
///     .build()
///     .unwrap();
/// let mut seen = Vec::new();
/// let _ = retry.execute(
///     &breakwater::Ctx::with_clock(clock.into()),
///     breakwater::RetryDecision::default_for,
///     |e, _| seen.push((e.attempt, e.delay)),
///     |_| Err::<(), _>(Error::failed("down")),
/// );
/// assert_eq!(seen, [(1, Duration::from_secs(1)), (2, Duration::from_secs(1))]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryEvent {
    /// The attempt that just failed (from 1).
    pub attempt: u32,
    /// The wait before the next attempt.
    pub delay: Duration,
    /// Time since the call began.
    pub elapsed: Duration,
}

/// Retries a call with backoff and jitter. `Clone + Send + Sync`; clones share the
/// configuration, the budget and the jitter stream counter.
///
/// A [`Retry`] runs a call up to `max_attempts` times (the first call counts). Before
/// retry `k` (k = 1, 2, ...) it waits the [`Backoff`]'s delay, capped by `max_delay`,
/// randomised by the [`Jitter`], then raised to the `min_delay` floor.
///
/// - Only what the classifier calls retryable is retried; a permanent outcome is
///   returned at once. [`Error::Rejected`] from an inner breaker, bulkhead, limiter or
///   time limiter's full pool is returned at once, whatever the classifier says, without
///   sleeping, unless the retry is built with
///   [`retry_rejections(true)`](RetryBuilder::retry_rejections).
/// - Errors do not nest: the guarded closure returns breakwater's own [`Error`] (a
///   pipeline's stages, or a policy called by hand as in `retry.call(|_|
///   breaker.call(..))`), and the retry returns it as it is, with a final
///   [`Error::Failed`] counting this retry's attempts once.
///   [`Error::TimedOut`] from an inner attempt time limit is retryable by
///   [`RetryDecision::default_for`].
/// - Values can be retried too (an `Ok(503)` classified [`RetryDecision::Retry`]); when
///   attempts run out the last value is returned as `Ok`. A final [`Error::Failed`]
///   carries `attempts`, the number of attempts that ran.
/// - Time budget: `max_elapsed` from the start of the call, or the caller's deadline
///   ([`Ctx::deadline`]) when sooner. A retry whose delay would end at or past it is not
///   started, and the last outcome is returned. (The start is read from the clock's
///   cheap coarse reading, so on the monotonic clock `max_elapsed` may end up to one
///   scheduler tick early, never late.)
/// - A Retry-After hint ([`RetryDecision::RetryAfter`]) replaces the computed delay when
///   it is larger; if it ends past the time budget, retrying stops.
/// - Retry budget ([`RetryBudget`], shared across calls): each call deposits, each retry
///   withdraws; with no retry left the last outcome is returned.
/// - Sleeping goes through the call's clock ([`Ctx::clock`]), so on a
///   [`ManualClock`](crate::ManualClock) nothing ever sleeps: the clock jumps forward.
/// - A cancelled call ([`Ctx::is_cancelled`]) is not retried; the last outcome is returned.
///
/// Each attempt's closure gets the caller's context at its attempt number
/// ([`Ctx::with_attempt`]).
///
/// # Where a retry goes in a pipeline
///
/// A breaker *inside* the retry sees every attempt (and its rejections stop the retry at
/// once); *outside*, it sees one outcome per call. A time limit inside the retry bounds
/// each attempt; a deadline outside bounds the whole call including the waits.
///
/// # Two ways to use it
///
/// - Closures: [`Retry::call`] (retries failures and time-outs) and [`Retry::execute`]
///   (a classifier over the result, an `on_retry` hook, a [`Ctx`]).
/// - Callback-free, for bindings: [`Retry::begin`] gives a [`RetryState`]; report each
///   attempt's [`OutcomeKind`] to [`RetryState::next`] and wait the [`Next`] delay.
///
/// The per-call path allocates nothing: a call's state holds reference-counted handles
/// and a small RNG (rand's `SmallRng`) seeded from the retry's seed and a per-call
/// counter, so a seeded retry draws the same jitter every run.
///
/// # Examples
///
/// ```
/// use breakwater::{Backoff, Ctx, Error, Jitter, ManualClock, Retry, RetryDecision};
/// use std::time::Duration;
///
/// let clock = ManualClock::new();
/// let retry = Retry::builder()
///     .max_attempts(4)
///     .backoff(Backoff::Exponential { initial: Duration::from_millis(500), multiplier: 2.0 })
///     .max_delay(Duration::from_secs(10))
///     .jitter(Jitter::None)
///     .clock(clock.clone().into())
///     .build()
///     .unwrap();
///
/// // A service that answers 503 twice, then 200.
/// let mut answers = [503, 503, 200].into_iter();
/// let ctx = Ctx::with_clock(clock.clone().into());
/// let status = retry.execute(
///     &ctx,
///     |r: &Result<u16, Error<std::io::Error>>| match r {
///         Ok(503) => RetryDecision::Retry,
///         other => RetryDecision::default_for(other),
///     },
///     |event, _| println!("attempt {} failed, waiting {:?}", event.attempt, event.delay),
///     |_ctx| Ok(answers.next().unwrap()),
/// );
/// assert_eq!(status.unwrap(), 200);
/// assert_eq!(clock.elapsed(), Duration::from_millis(1500)); // 0.5 s + 1 s, no real sleep
/// ```
///
///
/// # Examples
///
/// ```
/// use breakwater::{Backoff, Retry};
/// use std::time::Duration;
///
/// let retry = Retry::builder()
///     .max_attempts(3)
///     .backoff(Backoff::Fixed(Duration::ZERO))
///     .build()
///     .unwrap();
/// let mut calls = 0;
/// let result = retry.call(|_ctx| {
///     calls += 1;
///     if calls < 3 { Err(breakwater::Error::failed("flaky")) } else { Ok(calls) }
/// });
/// assert_eq!(result.unwrap(), 3);
/// ```
#[derive(Clone, Debug)]
pub struct Retry {
    inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    name: String,
    pub(crate) config: RetryConfig,
    pub(crate) plan: Plan,
    clock: Clock,
    pub(crate) budget: Option<RetryBudget>,
    seed: u64,
    streams: AtomicU64,
}

impl Retry {
    /// A builder with the defaults.
    ///
    /// ```
    /// let retry = breakwater::Retry::builder().build().unwrap();
    /// assert_eq!(retry.config().max_attempts, 3);
    /// ```
    pub fn builder() -> RetryBuilder {
        RetryBuilder::default()
    }

    /// A retry from plain settings, on the monotonic clock.
    ///
    /// # Errors
    ///
    /// As [`RetryBuilder::build`].
    ///
    /// # Examples
    ///
    /// ```
    /// let mut c = breakwater::RetryConfig::default();
    /// c.max_attempts = 0;
    /// assert_eq!(breakwater::Retry::from_config(&c).unwrap_err().field, "max_attempts");
    /// ```
    pub fn from_config(config: &RetryConfig) -> Result<Retry, ConfigError> {
        RetryBuilder::from_config(config.clone()).build()
    }

    /// The retry's name.
    ///
    /// ```
    /// assert_eq!(breakwater::Retry::builder().build().unwrap().name(), "");
    /// ```
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The retry's plain settings (with the seed left as configured).
    ///
    /// ```
    /// assert_eq!(breakwater::Retry::builder().build().unwrap().config().max_delay, None);
    /// ```
    pub fn config(&self) -> &RetryConfig {
        &self.inner.config
    }

    /// The clock of [`Retry::begin`] and [`Retry::call`].
    ///
    /// ```
    /// assert!(!breakwater::Retry::builder().build().unwrap().clock().is_manual());
    /// ```
    pub fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    /// The shared retry budget, if any.
    ///
    /// ```
    /// assert!(breakwater::Retry::builder().build().unwrap().budget().is_none());
    /// ```
    pub fn budget(&self) -> Option<&RetryBudget> {
        self.inner.budget.as_ref()
    }

    /// Starts a call on the retry's clock with no caller deadline (records the call in
    /// the retry budget). See [`RetryState`].
    ///
    /// ```
    /// let state = breakwater::Retry::builder().build().unwrap().begin();
    /// assert_eq!(state.attempt(), 1);
    /// ```
    pub fn begin(&self) -> RetryState {
        self.begin_on(self.inner.clock.clone(), None)
    }

    /// Starts a call that must not retry past `deadline` (the caller's), nor past
    /// `max_elapsed`, whichever is sooner.
    ///
    /// ```
    /// use breakwater::{Next, OutcomeKind, StopReason};
    /// use std::time::Duration;
    /// let retry = breakwater::Retry::builder().build().unwrap();
    /// let soon = retry.clock().now() + Duration::from_millis(100); // before the 500 ms delay ends
    /// let mut state = retry.begin_with_deadline(Some(soon));
    /// assert_eq!(state.next(OutcomeKind::Retryable, None), Next::Stop(StopReason::DeadlineReached));
    /// ```
    pub fn begin_with_deadline(&self, deadline: Option<Instant>) -> RetryState {
        self.begin_on(self.inner.clock.clone(), deadline)
    }

    fn begin_on(&self, clock: Clock, deadline: Option<Instant>) -> RetryState {
        let call = self.start_call(&clock, deadline);
        RetryState::new(Arc::clone(&self.inner), clock, call)
    }

    /// Starts a call: records it in the budget and picks its jitter stream.
    fn start_call(&self, clock: &Clock, deadline: Option<Instant>) -> Call {
        if let Some(budget) = &self.inner.budget {
            budget.deposit();
        }
        let stream = if self.inner.plan.jitter == Jitter::None {
            0
        } else {
            self.inner.streams.fetch_add(1, Ordering::Relaxed)
        };
        Call::new(&self.inner, clock, deadline, self.schedule(stream))
    }

    fn schedule(&self, stream: u64) -> Schedule {
        let seed = self
            .inner
            .seed
            .wrapping_add(stream.wrapping_mul(STREAM_STEP));
        self.inner.plan.start(seed)
    }

    /// Runs `f`, retrying every [`Error::Failed`] and [`Error::TimedOut`] (with the
    /// retry's clock and no deadline), and returns its result.
    ///
    /// `f` speaks breakwater's [`Error`], so that policies compose by hand without
    /// nesting: `retry.call(|_| breaker.call(..))` returns the breaker's `Error<E>` as it
    /// is, a breaker rejection is returned at once (no wait, no further attempt; see
    /// [`RetryBuilder::retry_rejections`]), and a final [`Error::Failed`] counts this
    /// retry's attempts once. Wrap a plain error with [`Error::failed`] (or
    /// `.map_err(Error::failed)`).
    ///
    /// # Examples
    ///
    /// ```
    /// use breakwater::{Backoff, CircuitBreaker, Error, Retry};
    /// use std::time::Duration;
    ///
    /// let retry = Retry::builder().backoff(Backoff::Fixed(Duration::ZERO)).build().unwrap();
    /// let err = retry.call(|_| Err::<(), _>(Error::failed("down"))).unwrap_err();
    /// assert_eq!(err.attempts(), 3);
    /// assert_eq!(err.into_inner(), Some("down"));
    ///
    /// // Composed by hand: the open breaker's rejection ends the retry at once.
    /// let breaker = CircuitBreaker::builder().build().unwrap();
    /// breaker.force_open();
    /// let mut attempts = 0;
    /// let err = retry
    ///     .call(|_| {
    ///         attempts += 1;
    ///         breaker.call(|| Err::<(), _>("down"))
    ///     })
    ///     .unwrap_err();
    /// assert!(err.is_rejected());
    /// assert_eq!(attempts, 1);
    /// ```
    pub fn call<T, E>(&self, f: impl FnMut(&Ctx) -> Result<T, Error<E>>) -> Result<T, Error<E>> {
        let ctx = Ctx::with_clock(self.inner.clock.clone());
        self.execute(&ctx, RetryDecision::default_for, |_, _| {}, f)
    }

    /// Runs `f` under the retry, in `ctx` (its clock, deadline and cancellation flag).
    ///
    /// `classify` decides about each result (see [`RetryDecision::default_for`]), except
    /// that [`Error::Rejected`] is returned at once without asking it (unless the retry
    /// was built with [`retry_rejections(true)`](RetryBuilder::retry_rejections): then a
    /// rejection is retried, not before its `retry_after` hint). `on_retry` is called before
    /// each wait with the failed attempt's number, the delay and its result. `f` gets
    /// `ctx.with_attempt(n)`. The last result is returned; an [`Error::Failed`] gets
    /// `attempts` set to the number of attempts that ran.
    ///
    /// # Examples
    ///
    /// ```
    /// use breakwater::{Backoff, Ctx, Error, ManualClock, Retry, RetryDecision};
    /// use std::time::Duration;
    ///
    /// let clock = ManualClock::new();
    /// let retry = Retry::builder()
    ///     .max_attempts(5)
    ///     .backoff(Backoff::Fixed(Duration::from_millis(100)))
    ///     .build()
    ///     .unwrap();
    /// let ctx = Ctx::with_clock(clock.clone().into());
    /// let result: Result<(), Error<&str>> = retry.execute(
    ///     &ctx,
    ///     |r| match r {
    ///         Err(Error::Failed { error: "bad request", .. }) => RetryDecision::Permanent,
    ///         other => RetryDecision::default_for(other),
    ///     },
    ///     |_, _| {},
    ///     |c| Err(Error::failed(if c.attempt() < 2 { "reset" } else { "bad request" })),
    /// );
    /// assert_eq!(result.unwrap_err().attempts(), 2);
    /// assert_eq!(clock.elapsed(), Duration::from_millis(100));
    /// ```
    pub fn execute<T, E>(
        &self,
        ctx: &Ctx,
        classify: impl Fn(&Result<T, Error<E>>) -> RetryDecision,
        mut on_retry: impl FnMut(&RetryEvent, &Result<T, Error<E>>),
        mut f: impl FnMut(&Ctx) -> Result<T, Error<E>>,
    ) -> Result<T, Error<E>> {
        let clock = ctx.clock();
        let mut call = self.start_call(clock, ctx.deadline());
        loop {
            let attempt = call.attempt();
            let result = f(&ctx.with_attempt(attempt));
            let (kind, hint) = match &result {
                Err(Error::Rejected { retry_after, .. }) => {
                    if !self.inner.config.retry_rejections {
                        return result;
                    }
                    (OutcomeKind::Rejected, *retry_after)
                }
                _ => match classify(&result) {
                    RetryDecision::Done => (OutcomeKind::Success, None),
                    RetryDecision::Permanent => (OutcomeKind::Permanent, None),
                    RetryDecision::Retry => (OutcomeKind::Retryable, None),
                    RetryDecision::RetryAfter(d) => (OutcomeKind::Retryable, Some(d)),
                },
            };
            if kind != OutcomeKind::Success && kind != OutcomeKind::Permanent && ctx.is_cancelled()
            {
                return with_attempts(result, attempt);
            }
            match call.next(&self.inner, clock, kind, hint) {
                Next::Stop(_) => return with_attempts(result, attempt),
                Next::RetryAfter(delay) => {
                    let event = RetryEvent {
                        attempt,
                        delay,
                        elapsed: call.elapsed(clock),
                    };
                    on_retry(&event, &result);
                    crate::trace::retry(&self.inner.name, attempt, delay, &result);
                    drop(result);
                    clock.sleep_until(clock.instant_at(call.resume_at()));
                }
            }
        }
    }

    /// The delays of one call that fails every attempt, as the first call of a fresh
    /// retry with the same seed would draw them: at most `max_attempts - 1` of them,
    /// fewer when their sum would reach `max_elapsed` (attempts taking no time). The
    /// retry budget is not consulted. Calling it does not change the retry.
    ///
    /// # Examples
    ///
    /// ```
    /// use breakwater::{Backoff, Retry};
    /// use std::time::Duration;
    /// let retry = Retry::builder()
    ///     .max_attempts(6)
    ///     .backoff(Backoff::Exponential { initial: Duration::from_secs(1), multiplier: 2.0 })
    ///     .max_delay(Duration::from_secs(5))
    ///     .build()
    ///     .unwrap();
    /// let secs: Vec<u64> = retry.delays().map(|d| d.as_secs()).collect();
    /// assert_eq!(secs, [1, 2, 4, 5, 5]);
    /// ```
    pub fn delays(&self) -> Delays {
        Delays {
            inner: Arc::clone(&self.inner),
            schedule: self.schedule(0),
            next_retry: 1,
            total: Duration::ZERO,
        }
    }
}

/// Sets `attempts` on a final [`Error::Failed`].
fn with_attempts<T, E>(result: Result<T, Error<E>>, attempts: u32) -> Result<T, Error<E>> {
    match result {
        Err(Error::Failed { error, .. }) => Err(Error::Failed { error, attempts }),
        other => other,
    }
}

/// The schedule of one call's delays (see [`Retry::delays`]).
///
/// ```
/// let retry = breakwater::Retry::builder().build().unwrap();
/// assert_eq!(retry.delays().count(), 2);
/// ```
#[derive(Debug, Clone)]
pub struct Delays {
    inner: Arc<Inner>,
    schedule: Schedule,
    next_retry: u32,
    total: Duration,
}

impl Iterator for Delays {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        if self.next_retry >= self.inner.config.max_attempts {
            return None;
        }
        let d = self.schedule.delay(&self.inner.plan, self.next_retry);
        let total = self.total.checked_add(d);
        if let Some(limit) = self.inner.config.max_elapsed {
            match total {
                Some(t) if t < limit => {}
                _ => {
                    self.next_retry = self.inner.config.max_attempts;
                    return None;
                }
            }
        }
        self.total = total.unwrap_or(Duration::MAX);
        self.next_retry += 1;
        Some(d)
    }
}

impl Registry {
    /// The retry named `name`, built from `config` (or the registry's default
    /// [`RetryConfig`]) on the monotonic clock the first time it is asked for.
    ///
    /// # Errors
    ///
    /// As [`RetryBuilder::build`], or a [`ConfigError`] naming `name` when `config` differs
    /// from the registered retry's.
    ///
    /// # Examples
    ///
    /// ```
    /// let registry = breakwater::Registry::new();
    /// let a = registry.retry("authors", None).unwrap();
    /// let b = registry.retry("authors", None).unwrap();
    /// assert_eq!(a.name(), b.name());
    /// ```
    pub fn retry(&self, name: &str, config: Option<RetryConfig>) -> Result<Retry, ConfigError> {
        self.get_or_build(PolicyKind::Retry, name, config, |c| {
            RetryBuilder::from_config(c.clone()).name(name).build()
        })
    }
}
