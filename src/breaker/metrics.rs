//! A snapshot of a breaker's counts: [`BreakerMetrics`].

use super::state::State;

/// The current generation's counts (cleared by every transition).
///
/// # Examples
///
/// ```
/// let b = breakwater::CircuitBreaker::builder().build().unwrap();
/// b.call(|| Ok::<_, ()>(())).unwrap();
/// let c = b.metrics().current;
/// assert_eq!((c.requests, c.successes, c.consecutive_successes), (1, 1, 1));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq)]
#[non_exhaustive]
pub struct CurrentCounts {
    /// Admitted calls: a permit counts when it is acquired; a call through `call` or
    /// `call_with` in the closed or disabled state counts when it returns (it was
    /// admitted on a read of the state word, and is counted with its outcome in one
    /// atomic operation), elsewhere when it is admitted.
    pub requests: u64,
    /// Recorded successes.
    pub successes: u64,
    /// Recorded failures.
    pub failures: u64,
    /// Recorded ignored outcomes (including permits dropped without a verdict).
    pub ignored: u64,
    /// Slow calls (policies with a slow-call rate only).
    pub slow: u64,
    /// Successes since the last failure.
    pub consecutive_successes: u64,
    /// Failures since the last success.
    pub consecutive_failures: u64,
    /// Outcomes in the rate window (closed or disabled), or reported in the half-open
    /// trial, for rate policies; 0 otherwise.
    pub window_calls: u64,
    /// Failures among `window_calls`.
    pub window_failures: u64,
    /// The failure rate of the window: `Some` for rate policies once the window holds
    /// `minimum_calls` outcomes (in half-open: once the trial has a reported outcome),
    /// `None` otherwise (count policies, open states, too few outcomes).
    pub failure_rate: Option<f64>,
    /// The slow-call rate of the window, under the same rule, for policies that track
    /// slow calls.
    pub slow_call_rate: Option<f64>,
}

/// Monotonic lifetime totals, for exporters (never reset, not even by `reset()`).
///
/// `requests == successes + failures + ignored + stale_dropped + (permits in flight)`.
///
/// # Examples
///
/// ```
/// let b = breakwater::CircuitBreaker::builder().build().unwrap();
/// b.force_open();
/// assert!(b.try_acquire().is_err());
/// let t = b.metrics().totals;
/// assert_eq!((t.rejected_forced_open, t.transitions, t.requests), (1, 1, 0));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BreakerTotals {
    /// Admitted calls.
    pub requests: u64,
    /// Recorded successes.
    pub successes: u64,
    /// Recorded failures.
    pub failures: u64,
    /// Recorded ignored outcomes.
    pub ignored: u64,
    /// Slow calls.
    pub slow: u64,
    /// Calls rejected because the breaker was open.
    pub rejected_open: u64,
    /// Calls rejected because the half-open trial was full.
    pub rejected_trial_full: u64,
    /// Calls rejected because the breaker was forced open.
    pub rejected_forced_open: u64,
    /// Outcomes dropped because their permit belonged to an older generation.
    pub stale_dropped: u64,
    /// State changes (every new generation).
    pub transitions: u64,
    /// Times the breaker opened (not counting `force_open`).
    pub opened: u64,
}

impl BreakerTotals {
    /// All rejections, whatever the reason.
    ///
    /// ```
    /// assert_eq!(breakwater::BreakerTotals::default().rejected(), 0);
    /// ```
    pub fn rejected(&self) -> u64 {
        self.rejected_open + self.rejected_trial_full + self.rejected_forced_open
    }
}

/// A consistent snapshot of a breaker: its state and generation, the current
/// generation's counts and the lifetime totals.
///
/// # Examples
///
/// ```
/// use breakwater::{CircuitBreaker, State};
/// let b = CircuitBreaker::builder().consecutive_failures(2).build().unwrap();
/// let _ = b.call(|| Err::<(), _>("x"));
/// let _ = b.call(|| Err::<(), _>("x"));
/// let m = b.metrics();
/// assert_eq!(m.state, State::Open);
/// assert_eq!(m.current.failures, 0); // a new generation
/// assert_eq!((m.totals.failures, m.totals.opened), (2, 1));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct BreakerMetrics {
    /// The state.
    pub state: State,
    /// The current generation.
    pub generation: u64,
    /// The current generation's counts.
    pub current: CurrentCounts,
    /// Lifetime totals.
    pub totals: BreakerTotals,
}
