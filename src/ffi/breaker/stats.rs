//! A breaker's counts: `bw_breaker_stats` and `bw_breaker_metrics`.

use super::bw_breaker;
use crate::breaker::BreakerMetrics;
use crate::ffi::error::bw_error;
use crate::ffi::out::write_stats;
use crate::ffi::status::bw_status;

/// A snapshot of a breaker's counts, written by `bw_breaker_metrics` (C keeps type and
/// function names in one namespace, hence the different name).
///
/// It can grow at the end in later versions: set `size` to `sizeof(bw_breaker_stats)`
/// before the call; the library writes the fields that fit in `size` bytes and sets
/// `size` to the number of bytes it wrote. Rates are -1.0 when the policy computes none
/// (count policies, or fewer outcomes than the minimum).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct bw_breaker_stats {
    /// In: the caller's `sizeof(bw_breaker_stats)`; out: the bytes written.
    pub size: usize,
    /// The current state (`BW_STATE_*`).
    pub state: u32,
    /// The current generation.
    pub generation: u64,
    /// Admissions in the current state.
    pub requests: u64,
    /// Successes in the current state.
    pub successes: u64,
    /// Failures in the current state.
    pub failures: u64,
    /// Ignored outcomes in the current state.
    pub ignored: u64,
    /// Slow calls in the current state.
    pub slow: u64,
    /// The current run of successes.
    pub consecutive_successes: u64,
    /// The current run of failures.
    pub consecutive_failures: u64,
    /// Outcomes in the rate window.
    pub window_calls: u64,
    /// Failures in the rate window.
    pub window_failures: u64,
    /// The window's failure rate, or -1.0.
    pub failure_rate: f64,
    /// The window's slow-call rate, or -1.0.
    pub slow_call_rate: f64,
    /// Admissions since the breaker was built.
    pub total_requests: u64,
    /// Successes since the breaker was built.
    pub total_successes: u64,
    /// Failures since the breaker was built.
    pub total_failures: u64,
    /// Ignored outcomes since the breaker was built.
    pub total_ignored: u64,
    /// Slow calls since the breaker was built.
    pub total_slow: u64,
    /// Rejections because the breaker was open.
    pub rejected_open: u64,
    /// Rejections because the half-open trial was full.
    pub rejected_trial_full: u64,
    /// Rejections because the breaker was forced open.
    pub rejected_forced_open: u64,
    /// Outcomes dropped as stale.
    pub stale_dropped: u64,
    /// State transitions.
    pub transitions: u64,
    /// Transitions into open.
    pub opened: u64,
    /// Transition events dropped because the polling queue was full.
    pub events_dropped: u64,
}

fn metrics_of(m: &BreakerMetrics, events_dropped: u64) -> bw_breaker_stats {
    bw_breaker_stats {
        size: size_of::<bw_breaker_stats>(),
        state: m.state.code(),
        generation: m.generation,
        requests: m.current.requests,
        successes: m.current.successes,
        failures: m.current.failures,
        ignored: m.current.ignored,
        slow: m.current.slow,
        consecutive_successes: m.current.consecutive_successes,
        consecutive_failures: m.current.consecutive_failures,
        window_calls: m.current.window_calls,
        window_failures: m.current.window_failures,
        failure_rate: m.current.failure_rate.unwrap_or(-1.0),
        slow_call_rate: m.current.slow_call_rate.unwrap_or(-1.0),
        total_requests: m.totals.requests,
        total_successes: m.totals.successes,
        total_failures: m.totals.failures,
        total_ignored: m.totals.ignored,
        total_slow: m.totals.slow,
        rejected_open: m.totals.rejected_open,
        rejected_trial_full: m.totals.rejected_trial_full,
        rejected_forced_open: m.totals.rejected_forced_open,
        stale_dropped: m.totals.stale_dropped,
        transitions: m.totals.transitions,
        opened: m.totals.opened,
        events_dropped,
    }
}

/// Writes a snapshot of the breaker's counts to `*out` (applying a due transition
/// first). Set `out->size = sizeof(bw_breaker_stats)` before the call: the library
/// writes the fields that fit in `out->size` bytes (a prefix) and sets `out->size` to the
/// bytes written.
///
/// `BW_INVALID_ARGUMENT` for a NULL `h` or `out`, or `out->size` less than
/// `sizeof(size_t)` (`*out` is then not written).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_breaker_metrics(
    h: *const bw_breaker,
    out: *mut bw_breaker_stats,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let shared = &try_ref!(h).shared;
        let m = metrics_of(&shared.breaker.metrics(), shared.events.dropped());
        // SAFETY: `out` is NULL or documented as a stats structure of `out->size` bytes.
        unsafe { write_stats(out, m) }
    })
}

impl_stats!(bw_breaker_stats);
