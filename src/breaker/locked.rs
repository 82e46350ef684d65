//! The data the breaker's lock guards: the current generation's counts, the lifetime
//! totals, the half-open trial, the rate window and the transitions waiting for the
//! listeners. (The lock-free words read on the way in are in `state.rs`.)

use std::collections::VecDeque;

use super::events::Transition;
use super::state::State;
use super::window::RateWindow;

/// The current generation's counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    pub(crate) requests: u64,
    pub(crate) successes: u64,
    pub(crate) failures: u64,
    pub(crate) ignored: u64,
    pub(crate) slow: u64,
    pub(crate) consecutive_successes: u64,
    pub(crate) consecutive_failures: u64,
}

/// Lifetime totals kept under the lock (rejections are counted in the stripes).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct LockedTotals {
    pub(crate) requests: u64,
    pub(crate) successes: u64,
    pub(crate) failures: u64,
    pub(crate) ignored: u64,
    pub(crate) slow: u64,
    pub(crate) stale_dropped: u64,
    pub(crate) transitions: u64,
    pub(crate) opened: u64,
}

/// A half-open trial.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Trial {
    /// Admissions held (reported or in flight); ignored outcomes give theirs back.
    pub(crate) admitted: u32,
    pub(crate) successes: u32,
    pub(crate) failures: u32,
    pub(crate) slow: u32,
}

/// Everything the lock guards.
pub(crate) struct Inner {
    pub(crate) state: State,
    pub(crate) generation: u64,
    /// The lock-free epoch: a new one (a new stripe key) after every transition and every
    /// locked step that sealed the stripes.
    pub(crate) epoch: u64,
    /// The latest time seen under the lock: stamps are made monotonic with it.
    pub(crate) last_nanos: u64,
    pub(crate) cur: Counts,
    pub(crate) totals: LockedTotals,
    /// `failures_in_window`: the first failure of the current window, and its failures.
    pub(crate) window_start: u64,
    pub(crate) window_failures: u32,
    pub(crate) window: Option<RateWindow>,
    pub(crate) trial: Trial,
    /// k of the current open period (0 for the first open after closed).
    pub(crate) open_k: u32,
    pub(crate) open_until: u64,
    pub(crate) half_open_until: u64,
    /// With an `interval`: when the closed state's current interval ends (its counts are
    /// then cleared and a new generation starts).
    pub(crate) interval_end: u64,
    /// Transitions waiting for the listeners, in order.
    pub(crate) events: VecDeque<Transition>,
}
