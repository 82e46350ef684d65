//! Pipelines: policies composed around one call, outermost first, and fan-out of
//! independent calls under one deadline.
//!
//! # Order matters
//!
//! [`PipelineBuilder`] stages are listed **outermost first**: the first stage sees the
//! call first and its result last.
//!
//! - The reference client (SPEC 14): `bulkhead -> breaker -> retry -> time_limit -> call`.
//!   The breaker is *outside* the retry: it sees one outcome per call (all attempts
//!   together), and an open breaker stops the call before any attempt.
//! - The common HTTP order: `rate_limit -> deadline -> retry -> breaker -> time_limit -> call`.
//!   The breaker is *inside* the retry: every attempt is an outcome for the breaker, and once
//!   it opens the retry gets a rejection and returns it at once (no sleep, no further attempt).
//!   The total deadline bounds all attempts and their delays; the time limit bounds each attempt.
//!
//! Rejections from inner stages are never retried and are ignored by an outer breaker
//! (they say nothing about the dependency's health); time-outs count as failures.

use std::sync::Arc;
use std::time::Duration;

use crate::breaker::{CircuitBreaker, Outcome};
use crate::bulkhead::Bulkhead;
use crate::error::{Error, PolicyKind};
use crate::ratelimit::RateLimiter;
use crate::retry::{Retry, RetryDecision};
use crate::timeout::TimeLimiter;
use crate::{Clock, Ctx};

type BreakerClassifier<T, E> = Arc<dyn Fn(&Result<T, Error<E>>) -> Outcome + Send + Sync>;
type RetryClassifier<T, E> = Arc<dyn Fn(&Result<T, Error<E>>) -> RetryDecision + Send + Sync>;
type FallbackFn<T, E> = Arc<dyn Fn(Error<E>) -> Result<T, Error<E>> + Send + Sync>;
type FallbackFilter<E> = Arc<dyn Fn(&Error<E>) -> bool + Send + Sync>;

enum Stage<T, E> {
    RateLimit {
        limiter: RateLimiter,
        max_wait: Duration,
    },
    Bulkhead(Bulkhead),
    Deadline(Duration),
    Retry {
        retry: Retry,
        classify: RetryClassifier<T, E>,
    },
    Breaker {
        breaker: CircuitBreaker,
        classify: BreakerClassifier<T, E>,
    },
    TimeLimit(TimeLimiter),
    Fallback {
        when: FallbackFilter<E>,
        answer: FallbackFn<T, E>,
    },
}

impl<T, E> Clone for Stage<T, E> {
    fn clone(&self) -> Self {
        match self {
            Stage::RateLimit { limiter, max_wait } => Stage::RateLimit {
                limiter: limiter.clone(),
                max_wait: *max_wait,
            },
            Stage::Bulkhead(b) => Stage::Bulkhead(b.clone()),
            Stage::Deadline(d) => Stage::Deadline(*d),
            Stage::Retry { retry, classify } => Stage::Retry {
                retry: retry.clone(),
                classify: Arc::clone(classify),
            },
            Stage::Breaker { breaker, classify } => Stage::Breaker {
                breaker: breaker.clone(),
                classify: Arc::clone(classify),
            },
            Stage::TimeLimit(t) => Stage::TimeLimit(t.clone()),
            Stage::Fallback { when, answer } => Stage::Fallback {
                when: Arc::clone(when),
                answer: Arc::clone(answer),
            },
        }
    }
}

impl<T, E> Stage<T, E> {
    fn name(&self) -> &'static str {
        match self {
            Stage::RateLimit { .. } => "rate_limit",
            Stage::Bulkhead(_) => "bulkhead",
            Stage::Deadline(_) => "deadline",
            Stage::Retry { .. } => "retry",
            Stage::Breaker { .. } => "breaker",
            Stage::TimeLimit(_) => "time_limit",
            Stage::Fallback { .. } => "fallback",
        }
    }
}

/// The breaker's default view of an inner result: values succeed, failures and time-outs
/// fail, rejections by inner stages are ignored.
///
/// ```
/// use breakwater::{Error, PolicyKind, pipeline::default_breaker_outcome, breaker::Outcome};
/// let r: Result<(), Error<()>> = Err(Error::TimedOut { policy: PolicyKind::TimeLimiter });
/// assert_eq!(default_breaker_outcome(&r), Outcome::Failure);
/// ```
pub fn default_breaker_outcome<T, E>(result: &Result<T, Error<E>>) -> Outcome {
    match result {
        Ok(_) => Outcome::Success,
        Err(Error::Rejected { .. }) => Outcome::Ignored,
        Err(_) => Outcome::Failure,
    }
}

/// The retry's default view of an inner result: values are done, failures and time-outs
/// are retried (rejections are always returned at once by the retry itself).
///
/// ```
/// use breakwater::{Error, pipeline::default_retry_decision, retry::RetryDecision};
/// let r: Result<u8, Error<&str>> = Err(Error::failed("io"));
/// assert_eq!(default_retry_decision(&r), RetryDecision::Retry);
/// ```
pub fn default_retry_decision<T, E>(result: &Result<T, Error<E>>) -> RetryDecision {
    match result {
        Ok(_) => RetryDecision::Done,
        Err(Error::Rejected { .. }) => RetryDecision::Permanent,
        Err(_) => RetryDecision::Retry,
    }
}

/// Builds a [`Pipeline`]; stages are added outermost first.
///
/// # Examples
///
/// ```
/// use breakwater::{CircuitBreaker, Pipeline, retry::{Backoff, Retry}};
/// use std::time::Duration;
///
/// let pipeline = Pipeline::<u32, String>::builder()
///     .breaker(CircuitBreaker::builder().consecutive_failures(3).build().unwrap())
///     .retry(Retry::builder().max_attempts(2).backoff(Backoff::Fixed(Duration::ZERO)).build().unwrap())
///     .build();
/// assert_eq!(pipeline.describe(), "breaker -> retry -> call");
/// assert_eq!(pipeline.call(|_ctx| Ok(7)).unwrap(), 7);
/// ```
pub struct PipelineBuilder<T, E> {
    stages: Vec<Stage<T, E>>,
    clock: Clock,
}

impl<T, E> PipelineBuilder<T, E>
where
    T: Send + 'static,
    E: Send + 'static,
{
    /// The clock of the calls' contexts (deadlines are measured on it).
    /// Defaults to the monotonic clock.
    ///
    /// ```
    /// let p = breakwater::Pipeline::<(), ()>::builder().clock(breakwater::ManualClock::new().into()).build();
    /// assert!(p.clock().is_manual());
    /// ```
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Adds a rate limit: a call waits for a permit at most `max_wait` (zero: fail fast).
    ///
    /// ```
    /// use breakwater::{Pipeline, ratelimit::RateLimiter};
    /// let limiter = RateLimiter::builder().permits(10).period(std::time::Duration::from_secs(1)).build().unwrap();
    /// let p = Pipeline::<(), ()>::builder().rate_limit(limiter, std::time::Duration::ZERO).build();
    /// assert_eq!(p.describe(), "rate_limit -> call");
    /// ```
    pub fn rate_limit(mut self, limiter: RateLimiter, max_wait: Duration) -> Self {
        self.stages.push(Stage::RateLimit { limiter, max_wait });
        self
    }

    /// Adds a semaphore bulkhead (it waits up to its own `max_wait`).
    ///
    /// ```
    /// use breakwater::{Pipeline, bulkhead::Bulkhead};
    /// let b = Bulkhead::builder().max_concurrent(4).build().unwrap();
    /// let p = Pipeline::<(), ()>::builder().bulkhead(b).build();
    /// assert_eq!(p.describe(), "bulkhead -> call");
    /// ```
    pub fn bulkhead(mut self, bulkhead: Bulkhead) -> Self {
        self.stages.push(Stage::Bulkhead(bulkhead));
        self
    }

    /// Narrows the call's deadline to `now + d` (cooperative: inner retries, waits and the
    /// HTTP client respect it; nothing is interrupted).
    ///
    /// ```
    /// let p = breakwater::Pipeline::<(), ()>::builder().deadline(std::time::Duration::from_secs(1)).build();
    /// assert_eq!(p.describe(), "deadline -> call");
    /// ```
    pub fn deadline(mut self, d: Duration) -> Self {
        self.stages.push(Stage::Deadline(d));
        self
    }

    /// Adds a retry with the default classifier ([`default_retry_decision`]).
    ///
    /// ```
    /// use breakwater::{Pipeline, retry::Retry};
    /// let p = Pipeline::<(), ()>::builder().retry(Retry::builder().build().unwrap()).build();
    /// assert_eq!(p.describe(), "retry -> call");
    /// ```
    pub fn retry(self, retry: Retry) -> Self {
        self.retry_with(retry, default_retry_decision::<T, E>)
    }

    /// Adds a retry with its own classifier over the inner result (errors and values).
    ///
    /// ```
    /// use breakwater::{Pipeline, retry::{Retry, RetryDecision}};
    /// let p = Pipeline::<u16, ()>::builder()
    ///     .retry_with(Retry::builder().build().unwrap(), |r| match r {
    ///         Ok(503) => RetryDecision::Retry,
    ///         Ok(_) => RetryDecision::Done,
    ///         Err(_) => RetryDecision::Retry,
    ///     })
    ///     .build();
    /// assert_eq!(p.describe(), "retry -> call");
    /// ```
    pub fn retry_with(
        mut self,
        retry: Retry,
        classify: impl Fn(&Result<T, Error<E>>) -> RetryDecision + Send + Sync + 'static,
    ) -> Self {
        self.stages.push(Stage::Retry {
            retry,
            classify: Arc::new(classify),
        });
        self
    }

    /// Adds a circuit breaker with the default classifier ([`default_breaker_outcome`]).
    ///
    /// ```
    /// use breakwater::{CircuitBreaker, Pipeline};
    /// let p = Pipeline::<(), ()>::builder().breaker(CircuitBreaker::builder().build().unwrap()).build();
    /// assert_eq!(p.describe(), "breaker -> call");
    /// ```
    pub fn breaker(self, breaker: CircuitBreaker) -> Self {
        self.breaker_with(breaker, default_breaker_outcome::<T, E>)
    }

    /// Adds a circuit breaker with its own classifier (e.g. an HTTP 503 value is a failure).
    ///
    /// ```
    /// use breakwater::{CircuitBreaker, Pipeline, breaker::Outcome};
    /// let p = Pipeline::<u16, ()>::builder()
    ///     .breaker_with(CircuitBreaker::builder().build().unwrap(), |r| match r {
    ///         Ok(s) if *s >= 500 => Outcome::Failure,
    ///         Ok(_) => Outcome::Success,
    ///         Err(_) => Outcome::Failure,
    ///     })
    ///     .build();
    /// assert_eq!(p.call(|_| Ok(503)).unwrap(), 503); // the value is still returned
    /// ```
    pub fn breaker_with(
        mut self,
        breaker: CircuitBreaker,
        classify: impl Fn(&Result<T, Error<E>>) -> Outcome + Send + Sync + 'static,
    ) -> Self {
        self.stages.push(Stage::Breaker {
            breaker,
            classify: Arc::new(classify),
        });
        self
    }

    /// Runs the inner stages on the time limiter's bounded pool and gives up at its timeout.
    ///
    /// ```
    /// use breakwater::{Pipeline, timeout::TimeLimiter};
    /// let t = TimeLimiter::builder().timeout(std::time::Duration::from_secs(1)).build().unwrap();
    /// let p = Pipeline::<u8, ()>::builder().time_limit(t).build();
    /// assert_eq!(p.call(|_| Ok(1)).unwrap(), 1);
    /// ```
    pub fn time_limit(mut self, limiter: TimeLimiter) -> Self {
        self.stages.push(Stage::TimeLimit(limiter));
        self
    }

    /// Answers the errors that `when` selects with `answer(error)`.
    ///
    /// ```
    /// use breakwater::{Error, Pipeline};
    /// let p = Pipeline::<&'static str, ()>::builder()
    ///     .fallback_with(|e: &Error<()>| !e.is_timeout(), |_| Ok("temporary unavailable"))
    ///     .build();
    /// assert_eq!(p.call(|_| Err(())).unwrap(), "temporary unavailable");
    /// ```
    pub fn fallback_with(
        mut self,
        when: impl Fn(&Error<E>) -> bool + Send + Sync + 'static,
        answer: impl Fn(Error<E>) -> Result<T, Error<E>> + Send + Sync + 'static,
    ) -> Self {
        self.stages.push(Stage::Fallback {
            when: Arc::new(when),
            answer: Arc::new(answer),
        });
        self
    }

    /// Answers every error with a clone of `value`.
    ///
    /// ```
    /// let p = breakwater::Pipeline::<u8, ()>::builder().fallback(0).build();
    /// assert_eq!(p.call(|_| Err(())).unwrap(), 0);
    /// ```
    pub fn fallback(self, value: T) -> Self
    where
        T: Clone + Sync,
    {
        self.fallback_with(|_| true, move |_| Ok(value.clone()))
    }

    /// Finishes the pipeline.
    ///
    /// ```
    /// let p = breakwater::Pipeline::<(), ()>::builder().build();
    /// assert_eq!(p.describe(), "call");
    /// ```
    pub fn build(self) -> Pipeline<T, E> {
        let has_time_limit = self.stages.iter().any(|s| matches!(s, Stage::TimeLimit(_)));
        Pipeline {
            stages: self.stages.into(),
            clock: self.clock,
            has_time_limit,
        }
    }
}

/// Policies composed around a call, outermost first (see the [module docs](self) for what
/// each order means). Cloning is cheap and shares the policies.
///
/// The guarded closure receives the call's [`Ctx`] (attempt, deadline, cancellation) and
/// must be `Send + Sync + 'static` because a time limit may run it on another thread and
/// a retry may start another attempt while an abandoned one still runs.
///
/// # Examples
///
/// The reference client's order, bulkhead -> breaker -> retry -> time limit -> call:
///
/// ```
/// use breakwater::{CircuitBreaker, Pipeline, bulkhead::Bulkhead, retry::{Backoff, Retry}, timeout::TimeLimiter};
/// use std::time::Duration;
///
/// let pipeline = Pipeline::<String, std::io::Error>::builder()
///     .bulkhead(Bulkhead::builder().max_concurrent(20).build().unwrap())
///     .breaker(CircuitBreaker::builder().consecutive_failures(5).build().unwrap())
///     .retry(Retry::builder().max_attempts(3).backoff(Backoff::Fixed(Duration::ZERO)).build().unwrap())
///     .time_limit(TimeLimiter::builder().timeout(Duration::from_secs(5)).build().unwrap())
///     .build();
/// let answer = pipeline.call(|ctx| Ok(format!("attempt {}", ctx.attempt())));
/// assert_eq!(answer.unwrap(), "attempt 1");
/// ```
pub struct Pipeline<T, E> {
    stages: Arc<[Stage<T, E>]>,
    clock: Clock,
    has_time_limit: bool,
}

impl<T, E> Clone for Pipeline<T, E> {
    fn clone(&self) -> Self {
        Pipeline {
            stages: Arc::clone(&self.stages),
            clock: self.clock.clone(),
            has_time_limit: self.has_time_limit,
        }
    }
}

impl<T, E> Pipeline<T, E> {
    /// The stages, outermost first, e.g. `"bulkhead -> breaker -> retry -> call"`.
    ///
    /// ```
    /// let p = breakwater::Pipeline::<(), ()>::builder().deadline(std::time::Duration::from_secs(1)).build();
    /// assert_eq!(p.describe(), "deadline -> call");
    /// ```
    pub fn describe(&self) -> String {
        let mut s = String::new();
        for stage in self.stages.iter() {
            s.push_str(stage.name());
            s.push_str(" -> ");
        }
        s.push_str("call");
        s
    }
}

impl<T, E> std::fmt::Debug for Pipeline<T, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("stages", &self.describe())
            .finish()
    }
}

impl<T, E> Pipeline<T, E>
where
    T: Send + 'static,
    E: Send + 'static,
{
    /// A builder with no stages.
    ///
    /// ```
    /// let b = breakwater::Pipeline::<(), ()>::builder();
    /// ```
    pub fn builder() -> PipelineBuilder<T, E> {
        PipelineBuilder {
            stages: Vec::new(),
            clock: Clock::monotonic(),
        }
    }

    /// The clock of the calls' contexts.
    ///
    /// ```
    /// assert!(!breakwater::Pipeline::<(), ()>::builder().build().clock().is_manual());
    /// ```
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Runs `f` through every stage with a fresh context on the pipeline's clock.
    ///
    /// # Errors
    ///
    /// [`Error::Rejected`] when a stage refused the call, [`Error::TimedOut`] when a
    /// deadline or time limit was reached, [`Error::Failed`] with the last error of `f` and
    /// the number of attempts.
    ///
    /// ```
    /// let p = breakwater::Pipeline::<u8, &str>::builder().build();
    /// assert_eq!(p.call(|_| Err("no")).unwrap_err().into_inner(), Some("no"));
    /// ```
    pub fn call<F>(&self, f: F) -> Result<T, Error<E>>
    where
        F: Fn(&Ctx) -> Result<T, E> + Send + Sync + 'static,
    {
        let ctx = Ctx::with_clock(self.clock.clone());
        self.call_ctx(&ctx, f)
    }

    /// Runs `f` through every stage within the caller's context (its deadline and
    /// cancellation flag apply).
    ///
    /// ```
    /// use breakwater::{Ctx, Pipeline};
    /// let p = Pipeline::<u8, ()>::builder().build();
    /// let ctx = Ctx::new().with_timeout(std::time::Duration::from_secs(1));
    /// assert_eq!(p.call_ctx(&ctx, |c| Ok(c.attempt() as u8)).unwrap(), 1);
    /// ```
    pub fn call_ctx<F>(&self, ctx: &Ctx, f: F) -> Result<T, Error<E>>
    where
        F: Fn(&Ctx) -> Result<T, E> + Send + Sync + 'static,
    {
        if self.has_time_limit {
            // A time limit may run the rest on another thread and abandon it: share `f`.
            let f: SharedFn<T, E> = Arc::new(f);
            run(&self.stages, 0, ctx, &Guarded::Shared(f))
        } else {
            // No stage outlives the call: borrow `f`, nothing is allocated.
            run(&self.stages, 0, ctx, &Guarded::Borrowed(&f))
        }
    }
}

type SharedFn<T, E> = Arc<dyn Fn(&Ctx) -> Result<T, E> + Send + Sync>;

/// The guarded closure, shared when a time limit may move it to another thread.
enum Guarded<'a, T, E> {
    Shared(SharedFn<T, E>),
    Borrowed(&'a (dyn Fn(&Ctx) -> Result<T, E> + Send + Sync)),
}

impl<T, E> Guarded<'_, T, E> {
    fn call(&self, ctx: &Ctx) -> Result<T, E> {
        match self {
            Guarded::Shared(f) => f(ctx),
            Guarded::Borrowed(f) => f(ctx),
        }
    }
}

fn run<T, E>(
    stages: &Arc<[Stage<T, E>]>,
    index: usize,
    ctx: &Ctx,
    f: &Guarded<'_, T, E>,
) -> Result<T, Error<E>>
where
    T: Send + 'static,
    E: Send + 'static,
{
    if ctx.is_cancelled() {
        return Err(Error::Rejected {
            policy: PolicyKind::Pipeline,
            reason: crate::RejectReason::Cancelled,
            retry_after: None,
        });
    }
    let Some(stage) = stages.get(index) else {
        if ctx.is_expired() {
            return Err(Error::TimedOut {
                policy: PolicyKind::Deadline,
            });
        }
        return f.call(ctx).map_err(|error| Error::Failed {
            error,
            attempts: ctx.attempt(),
        });
    };
    let next = index + 1;
    match stage {
        Stage::RateLimit { limiter, max_wait } => {
            let wait = match ctx.remaining() {
                Some(r) if r < *max_wait => r,
                _ => *max_wait,
            };
            let acquired = if wait.is_zero() {
                limiter.try_acquire()
            } else {
                limiter.acquire_timeout(wait)
            };
            acquired.map_err(Error::from)?;
            run(stages, next, ctx, f)
        }
        Stage::Bulkhead(bulkhead) => {
            let max_wait = bulkhead.config().max_wait;
            if max_wait.is_zero() && ctx.deadline().is_none() && ctx.cancel_token().is_none() {
                // Fail fast without reading the clock.
                let _permit = bulkhead.try_acquire().map_err(Error::from)?;
                return run(stages, next, ctx, f);
            }
            let own = bulkhead.clock().deadline_after(max_wait);
            let deadline = ctx.deadline().map_or(own, |d| d.min(own));
            let _permit = bulkhead
                .acquire_cancellable(Some(deadline), ctx.cancel_token())
                .map_err(Error::from)?;
            run(stages, next, ctx, f)
        }
        Stage::Deadline(d) => {
            if ctx.is_expired() {
                return Err(Error::TimedOut {
                    policy: PolicyKind::Deadline,
                });
            }
            let inner = ctx.with_timeout(*d);
            run(stages, next, &inner, f)
        }
        Stage::Retry { retry, classify } => retry.execute(
            ctx,
            |r| classify(r),
            |_, _| {},
            |attempt_ctx| run(stages, next, attempt_ctx, f),
        ),
        Stage::Breaker { breaker, classify } => {
            let permit = breaker.try_acquire().map_err(Error::from)?;
            let result = run(stages, next, ctx, f);
            permit.record(classify(&result));
            result
        }
        Stage::TimeLimit(limiter) => {
            let Guarded::Shared(f) = f else {
                unreachable!("pipelines with a time limit always share the guarded closure")
            };
            let stages = Arc::clone(stages);
            let f = Guarded::Shared(Arc::clone(f));
            limiter.call(ctx, move |inner| run(&stages, next, inner, &f))
        }
        Stage::Fallback { when, answer } => match run(stages, next, ctx, f) {
            Err(e) if when(&e) => answer(e),
            other => other,
        },
    }
}

mod fanout;
pub use fanout::{Branch, BranchOutcome, FanOut};
