//! Pipelines: policies composed around one call, outermost first, and fan-out of independent calls under one deadline. See [`Pipeline`].

use std::cell::RefCell;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use crate::breaker::{CircuitBreaker, Outcome};
use crate::bulkhead::Bulkhead;
use crate::clock::Clock;
use crate::ctx::Ctx;
use crate::error::{Error, PolicyKind};
use crate::ratelimit::RateLimiter;
use crate::retry::{Retry, RetryDecision};
use crate::timeout::TimeLimiter;

type BreakerClassifier<T, E> = Arc<dyn Fn(&Result<T, Error<E>>) -> Outcome + Send + Sync>;
type RetryClassifier<T, E> = Arc<dyn Fn(&Result<T, Error<E>>) -> RetryDecision + Send + Sync>;
type FallbackFn<T, E> = Arc<dyn Fn(Error<E>) -> Result<T, Error<E>> + Send + Sync>;
type FallbackFilter<E> = Arc<dyn Fn(&Error<E>) -> bool + Send + Sync>;

mod sealed {
    pub trait Sealed {}
}

/// Where a pipeline runs its guarded closure: [`Inline`] or [`Detached`]. Sealed.
pub trait Mode: sealed::Sealed + 'static {}

/// Mode of a pipeline without a time-limit stage: the guarded closure runs on the
/// caller's thread and never outlives the call, so it may borrow (`FnMut`, any
/// lifetime).
///
/// ```
/// use breakwater::{Inline, Pipeline};
/// let p: Pipeline<u8, (), Inline> = Pipeline::builder().build();
/// let mut seen = 0;
/// assert_eq!(p.call(|_| { seen += 1; Ok(seen) }).unwrap(), 1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inline {}

/// Mode of a pipeline with a time-limit stage (or made [`detached`](PipelineBuilder::detached)):
/// the guarded closure may run on another thread and outlive the call, so it must be
/// `Fn + Send + Sync + 'static`.
///
/// ```
/// use breakwater::{Detached, Pipeline, TimeLimiter};
/// let t = TimeLimiter::builder().timeout(std::time::Duration::from_secs(1)).build().unwrap();
/// let p: Pipeline<u8, (), Detached> = Pipeline::builder().time_limit(t).build();
/// assert_eq!(p.call(|_| Ok(1)).unwrap(), 1);
/// ```
///
/// A closure that borrows a local is refused at compile time:
///
/// ```compile_fail
/// use breakwater::{Pipeline, TimeLimiter};
/// let t = TimeLimiter::builder().build().unwrap();
/// let p = Pipeline::<usize, ()>::builder().time_limit(t).build();
/// let names = vec!["a", "b"];
/// let _ = p.call(|_| Ok(names.len())); // `names` does not live for 'static
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detached {}

impl sealed::Sealed for Inline {}
impl sealed::Sealed for Detached {}
impl Mode for Inline {}
impl Mode for Detached {}

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
/// use breakwater::{Error, PolicyKind, default_breaker_outcome, Outcome};
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
/// use breakwater::{Error, default_retry_decision, RetryDecision};
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
/// use breakwater::{CircuitBreaker, Pipeline, Backoff, Retry};
/// use std::time::Duration;
///
/// let pipeline = Pipeline::<u32, String>::builder()
///     .breaker(CircuitBreaker::builder().consecutive_failures(3).build().unwrap())
///     .retry(Retry::builder().max_attempts(2).backoff(Backoff::Fixed(Duration::ZERO)).build().unwrap())
///     .build();
/// assert_eq!(pipeline.describe(), "breaker -> retry -> call");
/// assert_eq!(pipeline.call(|_ctx| Ok(7)).unwrap(), 7);
/// ```
pub struct PipelineBuilder<T, E, M: Mode = Inline> {
    stages: Vec<Stage<T, E>>,
    clock: Clock,
    mode: PhantomData<fn() -> M>,
}

impl<T: 'static, E: 'static, M: Mode> PipelineBuilder<T, E, M> {
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
    /// use breakwater::{Pipeline, RateLimiter};
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
    /// use breakwater::{Pipeline, Bulkhead};
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
    /// use breakwater::{Pipeline, Retry};
    /// let p = Pipeline::<(), ()>::builder().retry(Retry::builder().build().unwrap()).build();
    /// assert_eq!(p.describe(), "retry -> call");
    /// ```
    pub fn retry(self, retry: Retry) -> Self {
        self.retry_with(retry, default_retry_decision::<T, E>)
    }

    /// Adds a retry with its own classifier over the inner result (errors and values).
    ///
    /// ```
    /// use breakwater::{Pipeline, Retry, RetryDecision};
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
    /// use breakwater::{CircuitBreaker, Pipeline, Outcome};
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
    /// The pipeline becomes [`Detached`]: its guarded closure must be `Fn + Send + Sync +
    /// 'static`, since an abandoned attempt may still run after the call returned.
    ///
    /// ```
    /// use breakwater::{Pipeline, TimeLimiter};
    /// let t = TimeLimiter::builder().timeout(std::time::Duration::from_secs(1)).build().unwrap();
    /// let p = Pipeline::<u8, ()>::builder().time_limit(t).build();
    /// assert_eq!(p.call(|_| Ok(1)).unwrap(), 1);
    /// ```
    pub fn time_limit(self, limiter: TimeLimiter) -> PipelineBuilder<T, E, Detached>
    where
        T: Send + 'static,
        E: Send + 'static,
    {
        let mut b = self.detached();
        b.stages.push(Stage::TimeLimit(limiter));
        b
    }

    /// The same builder in mode [`Detached`], whether or not a time limit is added later:
    /// for code that adds stages chosen at run time (every stage function then has one
    /// type), at the price of a `'static` guarded closure.
    ///
    /// ```
    /// use breakwater::{Detached, Pipeline, PipelineBuilder};
    /// let b: PipelineBuilder<u8, (), Detached> = Pipeline::builder().detached();
    /// assert_eq!(b.build().call(|_| Ok(2)).unwrap(), 2);
    /// ```
    pub fn detached(self) -> PipelineBuilder<T, E, Detached>
    where
        T: Send + 'static,
        E: Send + 'static,
    {
        PipelineBuilder {
            stages: self.stages,
            clock: self.clock,
            mode: PhantomData,
        }
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
        T: Clone + Send + Sync + 'static,
    {
        self.fallback_with(|_| true, move |_| Ok(value.clone()))
    }

    /// Finishes the pipeline.
    ///
    /// ```
    /// let p = breakwater::Pipeline::<(), ()>::builder().build();
    /// assert_eq!(p.describe(), "call");
    /// ```
    pub fn build(self) -> Pipeline<T, E, M> {
        Pipeline {
            stages: self.stages.into(),
            clock: self.clock,
            mode: PhantomData,
        }
    }
}

/// Policies composed around a call, outermost first. Cloning is cheap and shares the policies.
///
/// # Order matters
///
/// [`PipelineBuilder`] stages are listed **outermost first**: the first stage sees the
/// call first and its result last.
///
/// - The reference client (SPEC 14): `bulkhead -> breaker -> retry -> time_limit -> call`.
///   The breaker is *outside* the retry: it sees one outcome per call (all attempts
///   together), and an open breaker stops the call before any attempt.
/// - The common HTTP order: `rate_limit -> deadline -> retry -> breaker -> time_limit -> call`.
///   The breaker is *inside* the retry: every attempt is an outcome for the breaker, and once
///   it opens the retry gets a rejection and returns it at once (no sleep, no further attempt).
///   The total deadline bounds all attempts and their delays; the time limit bounds each attempt.
///
/// Rejections from inner stages are never retried (unless the retry was built with
/// `retry_rejections(true)`) and are ignored by an outer breaker (they say nothing about
/// the dependency's health); time-outs count as failures.
///
/// # Where the guarded closure runs
///
/// Without a time-limit stage everything runs on the caller's thread, within the call:
/// a [`Pipeline`] (mode [`Inline`]) takes any `FnMut` closure, borrowing locals included.
/// [`PipelineBuilder::time_limit`] turns the builder into mode [`Detached`]: the inner
/// stages then run on the time limiter's worker, which the caller abandons at the time
/// limit, so the closure may outlive the call and must be `Fn + Send + Sync + 'static`.
/// The type says which: `Pipeline<T, E>` is `Pipeline<T, E, Inline>`. Either way the
/// closure receives the call's [`Ctx`] (attempt, deadline, cancellation).
///
/// # Examples
///
/// The reference client's order, bulkhead -> breaker -> retry -> time limit -> call:
///
/// ```
/// use breakwater::{Backoff, Bulkhead, CircuitBreaker, Pipeline, Retry, TimeLimiter};
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
pub struct Pipeline<T, E, M: Mode = Inline> {
    stages: Arc<[Stage<T, E>]>,
    clock: Clock,
    mode: PhantomData<fn() -> M>,
}

impl<T, E, M: Mode> Clone for Pipeline<T, E, M> {
    fn clone(&self) -> Self {
        Pipeline {
            stages: Arc::clone(&self.stages),
            clock: self.clock.clone(),
            mode: PhantomData,
        }
    }
}

impl<T, E, M: Mode> Pipeline<T, E, M> {
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

impl<T, E, M: Mode> std::fmt::Debug for Pipeline<T, E, M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("stages", &self.describe())
            .finish()
    }
}

impl<T, E> Pipeline<T, E> {
    /// A builder with no stages (mode [`Inline`] until a time limit is added).
    ///
    /// ```
    /// let b = breakwater::Pipeline::<(), ()>::builder();
    /// ```
    pub fn builder() -> PipelineBuilder<T, E> {
        PipelineBuilder {
            stages: Vec::new(),
            clock: Clock::monotonic(),
            mode: PhantomData,
        }
    }
}

impl<T, E, M: Mode> Pipeline<T, E, M> {
    /// The clock of the calls' contexts.
    ///
    /// ```
    /// assert!(!breakwater::Pipeline::<(), ()>::builder().build().clock().is_manual());
    /// ```
    pub fn clock(&self) -> &Clock {
        &self.clock
    }
}

impl<T, E> Pipeline<T, E, Inline> {
    /// Runs `f` through every stage with a fresh context on the pipeline's clock, on the
    /// calling thread. `f` may borrow: nothing outlives the call.
    ///
    /// # Errors
    ///
    /// [`Error::Rejected`] when a stage refused the call, [`Error::TimedOut`] when a
    /// deadline was reached, [`Error::Failed`] with the last error of `f` and the number
    /// of attempts.
    ///
    /// ```
    /// let p = breakwater::Pipeline::<usize, &str>::builder().build();
    /// let names = vec!["a", "b"]; // a local, borrowed by the closure
    /// assert_eq!(p.call(|_| Ok(names.len())).unwrap(), 2);
    /// assert_eq!(p.call(|_| Err("no")).unwrap_err().into_inner(), Some("no"));
    /// ```
    pub fn call<F>(&self, f: F) -> Result<T, Error<E>>
    where
        F: FnMut(&Ctx) -> Result<T, E>,
    {
        let ctx = Ctx::with_clock(self.clock.clone());
        self.call_ctx(&ctx, f)
    }

    /// Runs `f` through every stage within the caller's context (its deadline and
    /// cancellation flag apply), on the calling thread.
    ///
    /// ```
    /// use breakwater::{Ctx, Pipeline};
    /// let p = Pipeline::<u8, ()>::builder().build();
    /// let ctx = Ctx::new().with_timeout(std::time::Duration::from_secs(1));
    /// assert_eq!(p.call_ctx(&ctx, |c| Ok(c.attempt() as u8)).unwrap(), 1);
    /// ```
    pub fn call_ctx<F>(&self, ctx: &Ctx, f: F) -> Result<T, Error<E>>
    where
        F: FnMut(&Ctx) -> Result<T, E>,
    {
        run(&self.stages, 0, ctx, &Borrowed(RefCell::new(f)))
    }
}

impl<T, E> Pipeline<T, E, Detached>
where
    T: Send + 'static,
    E: Send + 'static,
{
    /// Runs `f` through every stage with a fresh context on the pipeline's clock. Inside
    /// the time-limit stage `f` runs on the time limiter's worker and may outlive the
    /// call (an abandoned attempt), hence `Fn + Send + Sync + 'static`.
    ///
    /// # Errors
    ///
    /// [`Error::Rejected`] when a stage refused the call, [`Error::TimedOut`] when a
    /// deadline or time limit was reached, [`Error::Failed`] with the last error of `f`
    /// and the number of attempts.
    ///
    /// ```
    /// use breakwater::{Pipeline, TimeLimiter};
    /// let t = TimeLimiter::builder().timeout(std::time::Duration::from_secs(1)).build().unwrap();
    /// let p = Pipeline::<u8, &str>::builder().time_limit(t).build();
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
    /// let p = Pipeline::<u8, ()>::builder().detached().build();
    /// let ctx = Ctx::new().with_timeout(std::time::Duration::from_secs(1));
    /// assert_eq!(p.call_ctx(&ctx, |c| Ok(c.attempt() as u8)).unwrap(), 1);
    /// ```
    pub fn call_ctx<F>(&self, ctx: &Ctx, f: F) -> Result<T, Error<E>>
    where
        F: Fn(&Ctx) -> Result<T, E> + Send + Sync + 'static,
    {
        run(&self.stages, 0, ctx, &Shared::<T, E>(Arc::new(f)))
    }
}

/// The guarded closure as the innermost stage sees it.
trait Leaf<T, E> {
    /// Runs the guarded closure.
    fn call(&self, ctx: &Ctx) -> Result<T, E>;

    /// Runs the stages from `next` on the time limiter's pool.
    fn time_limit(
        &self,
        limiter: &TimeLimiter,
        stages: &Arc<[Stage<T, E>]>,
        next: usize,
        ctx: &Ctx,
    ) -> Result<T, Error<E>>;
}

/// An [`Inline`] pipeline's closure: borrowed, called on the caller's thread only.
struct Borrowed<F>(RefCell<F>);

impl<T, E, F: FnMut(&Ctx) -> Result<T, E>> Leaf<T, E> for Borrowed<F> {
    fn call(&self, ctx: &Ctx) -> Result<T, E> {
        // The closure is never re-entered: it runs once per attempt, attempts in turn.
        (self.0.borrow_mut())(ctx)
    }

    fn time_limit(
        &self,
        _: &TimeLimiter,
        _: &Arc<[Stage<T, E>]>,
        _: usize,
        _: &Ctx,
    ) -> Result<T, Error<E>> {
        unreachable!("an Inline pipeline has no time-limit stage (time_limit makes it Detached)")
    }
}

type SharedFn<T, E> = Arc<dyn Fn(&Ctx) -> Result<T, E> + Send + Sync>;

/// A [`Detached`] pipeline's closure: shared with the time limiter's worker.
struct Shared<T, E>(SharedFn<T, E>);

impl<T: Send + 'static, E: Send + 'static> Leaf<T, E> for Shared<T, E> {
    fn call(&self, ctx: &Ctx) -> Result<T, E> {
        (self.0)(ctx)
    }

    fn time_limit(
        &self,
        limiter: &TimeLimiter,
        stages: &Arc<[Stage<T, E>]>,
        next: usize,
        ctx: &Ctx,
    ) -> Result<T, Error<E>> {
        let stages = Arc::clone(stages);
        let f = Shared(Arc::clone(&self.0));
        limiter.call(ctx, move |inner| run(&stages, next, inner, &f))
    }
}

fn run<T, E, L: Leaf<T, E>>(
    stages: &Arc<[Stage<T, E>]>,
    index: usize,
    ctx: &Ctx,
    f: &L,
) -> Result<T, Error<E>> {
    if ctx.is_cancelled() {
        return Err(Error::Rejected {
            policy: PolicyKind::Pipeline,
            reason: crate::error::RejectReason::Cancelled,
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
        Stage::TimeLimit(limiter) => f.time_limit(limiter, stages, next, ctx),
        Stage::Fallback { when, answer } => match run(stages, next, ctx, f) {
            Err(e) if when(&e) => answer(e),
            other => other,
        },
    }
}

mod fanout;
pub use fanout::{Branch, BranchOutcome, FanOut};
