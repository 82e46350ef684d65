//! What the listeners see: [`Transition`]s and [`CallEvent`]s.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::RejectReason;

use super::state::State;

/// A transition listener, as registered with `BreakerBuilder::on_transition`.
pub(crate) type TransitionListener = Arc<dyn Fn(&Transition) + Send + Sync>;
/// A call listener, as registered with `BreakerBuilder::on_call`.
pub(crate) type CallListener = Arc<dyn Fn(&CallEvent) + Send + Sync>;

/// Why the breaker changed state.
///
/// # Examples
///
/// ```
/// assert_eq!(breakwater::TransitionReason::TrialFailed.as_str(), "trial failed");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransitionReason {
    /// Closed -> open: the trip policy's threshold was reached.
    ThresholdReached,
    /// Open -> half-open: the open duration elapsed.
    OpenDurationElapsed,
    /// Half-open -> closed: the trial succeeded.
    TrialSucceeded,
    /// Half-open -> open: the trial failed.
    TrialFailed,
    /// Half-open -> open: the trial did not decide within `half_open_max_wait`.
    HalfOpenTimeout,
    /// Any -> closed, by `reset()`.
    Reset,
    /// Any -> forced-open, by `force_open()`.
    ForcedOpen,
    /// Any -> disabled, by `disable()`.
    Disabled,
    /// Any -> open, by `transition_to_open()` (timed, like a trip).
    ManualOpen,
    /// Any -> half-open, by `transition_to_half_open()`.
    ManualHalfOpen,
}

impl TransitionReason {
    /// A short lowercase description.
    ///
    /// ```
    /// assert_eq!(breakwater::TransitionReason::Reset.as_str(), "reset");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            TransitionReason::ThresholdReached => "threshold reached",
            TransitionReason::OpenDurationElapsed => "open duration elapsed",
            TransitionReason::TrialSucceeded => "trial succeeded",
            TransitionReason::TrialFailed => "trial failed",
            TransitionReason::HalfOpenTimeout => "half-open timeout",
            TransitionReason::Reset => "reset",
            TransitionReason::ForcedOpen => "forced open",
            TransitionReason::Disabled => "disabled",
            TransitionReason::ManualOpen => "transitioned to open",
            TransitionReason::ManualHalfOpen => "transitioned to half-open",
        }
    }
}

impl std::fmt::Display for TransitionReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A state change, as the transition listeners see it.
///
/// # Examples
///
/// ```
/// use breakwater::{CircuitBreaker, State, TransitionReason};
/// use std::sync::{Arc, Mutex};
///
/// let seen = Arc::new(Mutex::new(Vec::new()));
/// let s = seen.clone();
/// let breaker = CircuitBreaker::builder()
///     .on_transition(move |t| s.lock().unwrap().push((t.from, t.to, t.reason, t.generation)))
///     .build()
///     .unwrap();
/// breaker.force_open();
/// assert_eq!(
///     seen.lock().unwrap()[0],
///     (State::Closed, State::ForcedOpen, TransitionReason::ForcedOpen, 2)
/// );
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Transition {
    /// The state left.
    pub from: State,
    /// The state entered.
    pub to: State,
    /// Why.
    pub reason: TransitionReason,
    /// When the transition was applied, on the breaker's clock. Transitions are lazy:
    /// open -> half-open is applied by the first call (or `state()`, `metrics()`) at or
    /// after the end of the open duration.
    pub at: Instant,
    /// The generation the transition started.
    pub generation: u64,
    /// What the rate window held when a rate policy tripped (for [`Transition::describe`]).
    pub(crate) window: Option<WindowFigures>,
}

/// What a rate window held: outcomes (successes and failures), failures, slow calls.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct WindowFigures {
    pub(crate) calls: u64,
    pub(crate) failures: u64,
    pub(crate) slow: u64,
}

/// What happened to a call.
///
/// # Examples
///
/// ```
/// use breakwater::{CallKind, RejectReason};
/// assert!(CallKind::Rejected(RejectReason::Open).is_rejection());
/// assert!(!CallKind::Success.is_rejection());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallKind {
    /// Recorded as a success.
    Success,
    /// Recorded as a failure.
    Failure,
    /// Recorded as ignored (neither; a half-open admission is given back).
    Ignored,
    /// Refused without running (reason `Open`, `TrialFull` or `ForcedOpen`).
    Rejected(RejectReason),
    /// An outcome for an older generation, dropped.
    Stale,
}

impl CallKind {
    /// `true` for [`CallKind::Rejected`].
    ///
    /// ```
    /// assert!(!breakwater::CallKind::Stale.is_rejection());
    /// ```
    pub fn is_rejection(self) -> bool {
        matches!(self, CallKind::Rejected(_))
    }

    /// A short lowercase name: `"success"`, `"failure"`, `"ignored"`, `"rejected"` or
    /// `"stale"` (the rejection's reason is not part of it).
    ///
    /// ```
    /// use breakwater::{CallKind, RejectReason};
    /// assert_eq!(CallKind::Rejected(RejectReason::Open).as_str(), "rejected");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            CallKind::Success => "success",
            CallKind::Failure => "failure",
            CallKind::Ignored => "ignored",
            CallKind::Rejected(_) => "rejected",
            CallKind::Stale => "stale",
        }
    }
}

/// A call, as the call listeners see it (passed by reference, never allocated).
///
/// # Examples
///
/// ```
/// use breakwater::{CallKind, CircuitBreaker};
/// use std::sync::{Arc, Mutex};
///
/// let kinds = Arc::new(Mutex::new(Vec::new()));
/// let k = kinds.clone();
/// let breaker = CircuitBreaker::builder()
///     .on_call(move |e| k.lock().unwrap().push(e.kind))
///     .build()
///     .unwrap();
/// let _ = breaker.call(|| Err::<(), _>("boom"));
/// assert_eq!(kinds.lock().unwrap().as_slice(), &[CallKind::Failure]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CallEvent {
    /// What happened.
    pub kind: CallKind,
    /// The call's duration (given, or measured from acquisition); `None` for rejections.
    pub duration: Option<Duration>,
    /// The generation the call was admitted in (for rejections: the generation that
    /// rejected it).
    pub generation: u64,
    /// `true` when the policy counts the call as slow.
    pub slow: bool,
}
