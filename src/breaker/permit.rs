//! Permits ([`Permit`], [`RawPermit`]), outcomes, and the rejection type.

use std::fmt;
use std::time::Duration;

use crate::error::{Error, PolicyKind, RejectReason};

use super::CircuitBreaker;

/// The verdict on a call.
///
/// # Examples
///
/// ```
/// use breakwater::Outcome;
/// let r: Result<u16, ()> = Ok(503);
/// let outcome = match r { Ok(s) if s >= 500 => Outcome::Failure, Ok(_) => Outcome::Success, Err(_) => Outcome::Failure };
/// assert_eq!(outcome, Outcome::Failure);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Outcome {
    /// The call succeeded.
    Success = 0,
    /// The call failed.
    Failure = 1,
    /// Counts as neither (e.g. the caller's own mistake, or cancelled); in half-open it
    /// gives the trial admission back.
    Ignored = 2,
}

impl Outcome {
    /// The outcome's number (as in the C ABI): success 0, failure 1, ignored 2.
    ///
    /// ```
    /// assert_eq!(breakwater::Outcome::Ignored.code(), 2);
    /// ```
    pub fn code(self) -> u32 {
        self as u32
    }

    /// The outcome with number `code`, if any.
    ///
    /// ```
    /// assert_eq!(breakwater::Outcome::from_code(1), Some(breakwater::Outcome::Failure));
    /// assert_eq!(breakwater::Outcome::from_code(3), None);
    /// ```
    pub fn from_code(code: u32) -> Option<Outcome> {
        Some(match code {
            0 => Outcome::Success,
            1 => Outcome::Failure,
            2 => Outcome::Ignored,
            _ => return None,
        })
    }

    /// The default classification: every value succeeds, every error fails.
    ///
    /// ```
    /// use breakwater::Outcome;
    /// assert_eq!(Outcome::of(&Ok::<_, ()>(1)), Outcome::Success);
    /// assert_eq!(Outcome::of(&Err::<(), _>(1)), Outcome::Failure);
    /// ```
    pub fn of<T, E>(result: &Result<T, E>) -> Outcome {
        if result.is_ok() {
            Outcome::Success
        } else {
            Outcome::Failure
        }
    }
}

/// What became of a reported outcome.
///
/// # Examples
///
/// ```
/// use breakwater::{CircuitBreaker, Recorded};
/// let breaker = CircuitBreaker::builder().build().unwrap();
/// let permit = breaker.try_acquire().unwrap();
/// assert_eq!(permit.success(), Recorded::Recorded);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Recorded {
    /// Counted in the current generation.
    Recorded,
    /// The permit belongs to an older generation: dropped, counted in `stale_dropped`.
    Stale,
}

/// A permit as plain data, for the C ABI and other callers that cannot hold a
/// [`Permit`]: report it exactly once with [`CircuitBreaker::record_raw`]. A raw permit
/// that is never reported holds a half-open admission until `half_open_max_wait`
/// re-opens the trial.
///
/// # Examples
///
/// ```
/// use breakwater::{CircuitBreaker, Outcome, Recorded};
/// let breaker = CircuitBreaker::builder().build().unwrap();
/// let raw = breaker.try_acquire_raw().unwrap();
/// assert_eq!(breaker.record_raw(raw, Outcome::Success, None), Recorded::Recorded);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(C)]
pub struct RawPermit {
    /// The generation the call was admitted in (generations start at 1, so a zeroed
    /// permit is always stale).
    pub generation: u64,
    /// The clock reading (`Clock::nanos`) at admission, when the breaker measures
    /// durations (a slow-call policy or a call listener); 0 otherwise.
    pub acquired_nanos: u64,
}

/// Permission to run one call; report its outcome with one of the consuming methods.
///
/// Dropped without a verdict it is recorded as ignored (giving a half-open admission
/// back), or as a failure if the thread is panicking. Durations are measured from
/// acquisition, or given explicitly with the `_after` methods.
///
/// # Examples
///
/// ```
/// use breakwater::CircuitBreaker;
///
/// let breaker = CircuitBreaker::builder().consecutive_failures(1).build().unwrap();
/// match breaker.try_acquire() {
///     Ok(permit) => match std::fs::metadata("/definitely/missing") {
///         Ok(_) => { permit.success(); }
///         Err(_) => { permit.failure(); }
///     },
///     Err(rejected) => println!("not now: {rejected}"),
/// }
/// assert_eq!(breaker.state(), breakwater::State::Open);
/// ```
#[must_use = "a permit dropped without a verdict is recorded as ignored"]
pub struct Permit {
    breaker: CircuitBreaker,
    raw: RawPermit,
    done: bool,
}

impl fmt::Debug for Permit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit")
            .field("breaker", &self.breaker.name())
            .field("raw", &self.raw)
            .field("done", &self.done)
            .finish()
    }
}

impl Permit {
    pub(crate) fn new(breaker: CircuitBreaker, raw: RawPermit) -> Permit {
        Permit {
            breaker,
            raw,
            done: false,
        }
    }

    /// The generation the call was admitted in.
    ///
    /// ```
    /// let b = breakwater::CircuitBreaker::builder().build().unwrap();
    /// assert_eq!(b.try_acquire().unwrap().generation(), b.metrics().generation);
    /// ```
    pub fn generation(&self) -> u64 {
        self.raw.generation
    }

    /// The breaker that gave the permit.
    ///
    /// ```
    /// let b = breakwater::CircuitBreaker::builder().name("x").build().unwrap();
    /// assert_eq!(b.try_acquire().unwrap().breaker().name(), "x");
    /// ```
    pub fn breaker(&self) -> &CircuitBreaker {
        &self.breaker
    }

    fn finish(mut self, outcome: Outcome, duration: Option<Duration>) -> Recorded {
        self.done = true;
        self.breaker.record_raw(self.raw, outcome, duration)
    }

    /// Records a success (duration measured from acquisition).
    ///
    /// ```
    /// let b = breakwater::CircuitBreaker::builder().build().unwrap();
    /// b.try_acquire().unwrap().success();
    /// assert_eq!(b.metrics().current.successes, 1);
    /// ```
    pub fn success(self) -> Recorded {
        self.finish(Outcome::Success, None)
    }

    /// Records a failure (duration measured from acquisition).
    ///
    /// ```
    /// let b = breakwater::CircuitBreaker::builder().build().unwrap();
    /// b.try_acquire().unwrap().failure();
    /// assert_eq!(b.metrics().current.failures, 1);
    /// ```
    pub fn failure(self) -> Recorded {
        self.finish(Outcome::Failure, None)
    }

    /// Records the call as ignored: neither success nor failure; in half-open the
    /// trial admission is given back.
    ///
    /// ```
    /// let b = breakwater::CircuitBreaker::builder().build().unwrap();
    /// b.try_acquire().unwrap().ignore();
    /// assert_eq!(b.metrics().current.ignored, 1);
    /// ```
    pub fn ignore(self) -> Recorded {
        self.finish(Outcome::Ignored, None)
    }

    /// Records a success that took `duration`.
    ///
    /// ```
    /// let b = breakwater::CircuitBreaker::builder().build().unwrap();
    /// b.try_acquire().unwrap().success_after(std::time::Duration::from_millis(3));
    /// ```
    pub fn success_after(self, duration: Duration) -> Recorded {
        self.finish(Outcome::Success, Some(duration))
    }

    /// Records a failure that took `duration`.
    ///
    /// ```
    /// let b = breakwater::CircuitBreaker::builder().build().unwrap();
    /// b.try_acquire().unwrap().failure_after(std::time::Duration::from_millis(3));
    /// ```
    pub fn failure_after(self, duration: Duration) -> Recorded {
        self.finish(Outcome::Failure, Some(duration))
    }

    /// Records `outcome` (duration measured from acquisition).
    ///
    /// ```
    /// let b = breakwater::CircuitBreaker::builder().build().unwrap();
    /// b.try_acquire().unwrap().record(breakwater::Outcome::Success);
    /// ```
    pub fn record(self, outcome: Outcome) -> Recorded {
        self.finish(outcome, None)
    }

    /// Records `outcome` for a call that took `duration`.
    ///
    /// ```
    /// let b = breakwater::CircuitBreaker::builder().build().unwrap();
    /// b.try_acquire().unwrap().record_after(breakwater::Outcome::Failure, std::time::Duration::ZERO);
    /// ```
    pub fn record_after(self, outcome: Outcome, duration: Duration) -> Recorded {
        self.finish(outcome, Some(duration))
    }

    /// Gives up the RAII guard: the returned raw permit must be reported with
    /// [`CircuitBreaker::record_raw`].
    ///
    /// ```
    /// let b = breakwater::CircuitBreaker::builder().build().unwrap();
    /// let raw = b.try_acquire().unwrap().into_raw();
    /// b.record_raw(raw, breakwater::Outcome::Success, None);
    /// ```
    pub fn into_raw(mut self) -> RawPermit {
        self.done = true;
        self.raw
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if !self.done {
            let outcome = if std::thread::panicking() {
                Outcome::Failure
            } else {
                Outcome::Ignored
            };
            self.breaker.record_raw(self.raw, outcome, None);
        }
    }
}

/// The breaker refused a call; nothing was run.
///
/// # Examples
///
/// ```
/// use breakwater::{BreakerRejected, CircuitBreaker, Error, RejectReason};
///
/// let breaker = CircuitBreaker::builder().build().unwrap();
/// breaker.force_open();
/// let rejected: BreakerRejected = breaker.try_acquire().unwrap_err();
/// assert_eq!(rejected.reason, RejectReason::ForcedOpen);
/// let e: Error<()> = rejected.into();
/// assert!(e.is_rejected());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BreakerRejected {
    /// `Open`, `TrialFull` or `ForcedOpen`.
    pub reason: RejectReason,
    /// For `Open`: the time left until the open duration has elapsed (read on the coarse
    /// clock, so never short). `None` for the other reasons.
    pub retry_after: Option<Duration>,
}

impl fmt::Display for BreakerRejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "circuit breaker rejected the call: {}", self.reason)?;
        if let Some(d) = self.retry_after {
            write!(f, " (retry after {d:?})")?;
        }
        Ok(())
    }
}

impl std::error::Error for BreakerRejected {}

impl<E> From<BreakerRejected> for Error<E> {
    fn from(r: BreakerRejected) -> Error<E> {
        Error::Rejected {
            policy: PolicyKind::CircuitBreaker,
            reason: r.reason,
            retry_after: r.retry_after,
        }
    }
}
