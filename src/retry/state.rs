//! The callback-free form of a retry: a [`RetryState`] per call, fed with the outcome of
//! each attempt, answering with the delay before the next attempt or why to stop.
//!
//! This is what the C ABI exposes (`begin` / `next`) so that Python and Go run their own
//! code between attempts; [`Retry::execute`](super::Retry::execute) is built on it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::clock::Clock;

use super::Inner;
use super::backoff::{Schedule, nanos};

/// What an attempt's outcome means to the retry (the callback-free form's input).
///
/// ```
/// use breakwater::OutcomeKind;
/// assert_ne!(OutcomeKind::Success, OutcomeKind::Retryable);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutcomeKind {
    /// The attempt succeeded: stop.
    Success,
    /// The attempt failed in a way worth retrying.
    Retryable,
    /// The attempt failed for good: stop.
    Permanent,
    /// An inner policy (breaker, bulkhead, limiter) refused the attempt: stop, unless the
    /// retry was built with
    /// [`retry_rejections(true)`](super::RetryBuilder::retry_rejections) (then it is
    /// retried like a retryable outcome, its `retry_after` hint included).
    Rejected,
}

/// Why a retry stopped.
///
/// ```
/// use breakwater::StopReason;
/// assert_eq!(StopReason::AttemptsExhausted.to_string(), "attempts exhausted");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StopReason {
    /// The last attempt succeeded.
    Succeeded,
    /// `max_attempts` attempts ran.
    AttemptsExhausted,
    /// The last outcome was permanent.
    Permanent,
    /// An inner policy rejected the last attempt.
    Rejected,
    /// The shared retry budget had no retry left.
    BudgetExhausted,
    /// The next retry would have ended at or past `max_elapsed` or the caller's deadline.
    DeadlineReached,
}

impl StopReason {
    /// A short lowercase description.
    ///
    /// ```
    /// assert_eq!(breakwater::StopReason::Succeeded.description(), "succeeded");
    /// ```
    pub fn description(self) -> &'static str {
        match self {
            StopReason::Succeeded => "succeeded",
            StopReason::AttemptsExhausted => "attempts exhausted",
            StopReason::Permanent => "permanent failure",
            StopReason::Rejected => "rejected by an inner policy",
            StopReason::BudgetExhausted => "retry budget exhausted",
            StopReason::DeadlineReached => "deadline reached",
        }
    }
}

impl std::fmt::Display for StopReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.description())
    }
}

/// The answer of [`RetryState::next`].
///
/// ```
/// use breakwater::{Next, StopReason};
/// assert!(Next::Stop(StopReason::Succeeded).is_stop());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Next {
    /// Wait this long, then run the next attempt.
    RetryAfter(Duration),
    /// Do not run another attempt; return the last outcome.
    Stop(StopReason),
}

impl Next {
    /// `true` for [`Next::Stop`].
    ///
    /// ```
    /// use std::time::Duration;
    /// assert!(!breakwater::Next::RetryAfter(Duration::ZERO).is_stop());
    /// ```
    pub fn is_stop(&self) -> bool {
        matches!(self, Next::Stop(_))
    }
}

/// One call's retry state: which attempt runs, and the schedule of its delays.
///
/// Made by [`Retry::begin`](super::Retry::begin) (which records the call in the retry
/// budget). Run attempt [`attempt()`](RetryState::attempt), report its outcome to
/// [`next`](RetryState::next), and either wait the delay it gives and run the next
/// attempt, or stop and return the last outcome. Once `next` said stop it keeps saying
/// so with the same reason. The state is `Send`: a binding may keep it across threads.
///
/// # Examples
///
/// ```
/// use breakwater::{Next, OutcomeKind, StopReason};
/// use breakwater::{Backoff, Retry};
/// use std::time::Duration;
///
/// let retry = Retry::builder()
///     .max_attempts(3)
///     .backoff(Backoff::Fixed(Duration::from_millis(10)))
///     .build()
///     .unwrap();
/// let mut state = retry.begin();
/// assert_eq!(state.attempt(), 1);
/// assert_eq!(state.next(OutcomeKind::Retryable, None), Next::RetryAfter(Duration::from_millis(10)));
/// assert_eq!(state.attempt(), 2);
/// // A larger Retry-After hint replaces the computed delay.
/// assert_eq!(
///     state.next(OutcomeKind::Retryable, Some(Duration::from_secs(1))),
///     Next::RetryAfter(Duration::from_secs(1))
/// );
/// assert_eq!(state.next(OutcomeKind::Retryable, None), Next::Stop(StopReason::AttemptsExhausted));
/// ```
#[derive(Debug)]
pub struct RetryState {
    inner: Arc<Inner>,
    clock: Clock,
    call: Call,
}

impl RetryState {
    pub(crate) fn new(inner: Arc<Inner>, clock: Clock, call: Call) -> RetryState {
        RetryState { inner, clock, call }
    }

    /// The number of the attempt to run now (or that ran last, once stopped), from 1.
    ///
    /// ```
    /// let retry = breakwater::Retry::builder().build().unwrap();
    /// assert_eq!(retry.begin().attempt(), 1);
    /// ```
    pub fn attempt(&self) -> u32 {
        self.call.attempt
    }

    /// Time since the call began, on the retry's clock (the start is read from the
    /// coarse clock: on the monotonic clock this may be up to one scheduler tick long).
    ///
    /// ```
    /// let manual = breakwater::ManualClock::new();
    /// let retry = breakwater::Retry::builder().clock(manual.clone().into()).build().unwrap();
    /// let state = retry.begin();
    /// manual.advance(std::time::Duration::from_secs(2));
    /// assert_eq!(state.elapsed(), std::time::Duration::from_secs(2));
    /// ```
    pub fn elapsed(&self) -> Duration {
        self.call.elapsed(&self.clock)
    }

    /// The effective deadline of the call: the sooner of `begin + max_elapsed` and the
    /// caller's deadline, if either is set.
    ///
    /// ```
    /// let retry = breakwater::Retry::builder().build().unwrap();
    /// assert_eq!(retry.begin().deadline(), None);
    /// ```
    pub fn deadline(&self) -> Option<Instant> {
        self.call.deadline.map(|d| self.clock.instant_at(d))
    }

    /// Why the retry stopped, once [`next`](RetryState::next) said so.
    ///
    /// ```
    /// use breakwater::{OutcomeKind, StopReason};
    /// let mut state = breakwater::Retry::builder().build().unwrap().begin();
    /// assert_eq!(state.stop_reason(), None);
    /// state.next(OutcomeKind::Success, None);
    /// assert_eq!(state.stop_reason(), Some(StopReason::Succeeded));
    /// ```
    pub fn stop_reason(&self) -> Option<StopReason> {
        self.call.stopped
    }

    /// Reports the outcome of attempt [`attempt()`](RetryState::attempt) and returns what
    /// to do next.
    ///
    /// For a retryable outcome: when attempts remain, the delay is the schedule's
    /// (backoff, cap, jitter, floor), replaced by `retry_after` when that is larger; the
    /// retry is not started when it would end at or past the deadline
    /// ([`StopReason::DeadlineReached`]), nor when the retry budget has no retry left
    /// ([`StopReason::BudgetExhausted`]; checked last, so a refused retry costs no budget).
    /// `Success`, `Permanent` and `Rejected` stop at once; `retry_after` is then ignored.
    ///
    /// # Examples
    ///
    /// ```
    /// use breakwater::{Next, OutcomeKind, StopReason};
    /// let mut state = breakwater::Retry::builder().build().unwrap().begin();
    /// assert_eq!(state.next(OutcomeKind::Rejected, None), Next::Stop(StopReason::Rejected));
    /// // A stopped state keeps its answer.
    /// assert_eq!(state.next(OutcomeKind::Retryable, None), Next::Stop(StopReason::Rejected));
    /// ```
    pub fn next(&mut self, kind: OutcomeKind, retry_after: Option<Duration>) -> Next {
        self.call.next(&self.inner, &self.clock, kind, retry_after)
    }
}

/// The state of one call without its handles, so that `execute` can borrow them
/// instead of cloning. Times are nanosecond readings of the call's clock.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    start: u64,
    deadline: Option<u64>,
    attempt: u32,
    resume_at: u64,
    schedule: Schedule,
    stopped: Option<StopReason>,
}

impl Call {
    pub(crate) fn new(
        inner: &Inner,
        clock: &Clock,
        deadline: Option<Instant>,
        schedule: Schedule,
    ) -> Call {
        // The coarse clock is a few nanoseconds where `now()` can cost tens: the start may
        // read up to one scheduler tick early, so a budget can end that much early, never late.
        let start = clock.nanos_coarse();
        let own = inner
            .config
            .max_elapsed
            .map(|m| start.saturating_add(nanos(m)));
        let caller = deadline.map(|d| clock.nanos_at(d));
        let deadline = match (own, caller) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Call {
            start,
            deadline,
            attempt: 1,
            resume_at: start,
            schedule,
            stopped: None,
        }
    }

    pub(crate) fn attempt(&self) -> u32 {
        self.attempt
    }

    pub(crate) fn elapsed(&self, clock: &Clock) -> Duration {
        Duration::from_nanos(clock.nanos().saturating_sub(self.start))
    }

    /// When the retry granted by the last `next` should start (a clock reading).
    pub(crate) fn resume_at(&self) -> u64 {
        self.resume_at
    }

    pub(crate) fn next(
        &mut self,
        inner: &Inner,
        clock: &Clock,
        kind: OutcomeKind,
        retry_after: Option<Duration>,
    ) -> Next {
        if let Some(reason) = self.stopped {
            return Next::Stop(reason);
        }
        let reason = match kind {
            OutcomeKind::Success => StopReason::Succeeded,
            OutcomeKind::Permanent => StopReason::Permanent,
            OutcomeKind::Rejected if !inner.config.retry_rejections => StopReason::Rejected,
            OutcomeKind::Retryable | OutcomeKind::Rejected => {
                match self.plan_retry(inner, clock, retry_after) {
                    Ok(delay) => return Next::RetryAfter(delay),
                    Err(reason) => reason,
                }
            }
        };
        self.stopped = Some(reason);
        Next::Stop(reason)
    }

    fn plan_retry(
        &mut self,
        inner: &Inner,
        clock: &Clock,
        retry_after: Option<Duration>,
    ) -> Result<Duration, StopReason> {
        if self.attempt >= inner.config.max_attempts {
            return Err(StopReason::AttemptsExhausted);
        }
        let mut delay = self.schedule.delay(&inner.plan, self.attempt);
        if let Some(hint) = retry_after {
            delay = delay.max(hint);
        }
        let resume = clock.nanos().checked_add(nanos(delay));
        if let Some(deadline) = self.deadline {
            match resume {
                Some(r) if r < deadline => {}
                _ => return Err(StopReason::DeadlineReached),
            }
        }
        if let Some(budget) = &inner.budget {
            if !budget.try_withdraw() {
                return Err(StopReason::BudgetExhausted);
            }
        }
        self.attempt += 1;
        self.resume_at = resume.unwrap_or(u64::MAX);
        Ok(delay)
    }
}
