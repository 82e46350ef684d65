//! `tracing` events of the policies other than the breaker (whose events are in
//! `breaker::trace`): retries, bulkhead refusals and rate-limiter refusals, all at DEBUG.
//!
//! Each hook is one call at its site: an inline check of the global maximum level (a
//! load and a compare, nothing when no subscriber wants DEBUG), then a cold,
//! out-of-line function that builds the event. Without the `tracing` feature the hooks
//! are empty.

use std::time::Duration;

use crate::error::Error;

/// A retry is about to wait `delay` after attempt `attempt` of the retry named `name`
/// failed with `result`.
#[inline(always)]
pub(crate) fn retry<T, E>(name: &str, attempt: u32, delay: Duration, result: &Result<T, Error<E>>) {
    #[cfg(feature = "tracing")]
    if tracing::level_enabled!(tracing::Level::DEBUG) {
        let kind = match result {
            Ok(_) => "value",
            Err(Error::Rejected { .. }) => "rejected",
            Err(Error::TimedOut { .. }) => "timed out",
            Err(Error::Failed { .. }) => "failed",
        };
        retry_cold(name, attempt, delay, kind);
    }
    #[cfg(not(feature = "tracing"))]
    let _ = (name, attempt, delay, result);
}

#[cfg(feature = "tracing")]
#[cold]
#[inline(never)]
fn retry_cold(name: &str, attempt: u32, delay: Duration, kind: &'static str) {
    tracing::debug!(
        target: "breakwater::retry",
        policy = "retry",
        name,
        attempt,
        delay_ms = delay.as_secs_f64() * 1e3,
        error = kind,
        "retry {name}: attempt {attempt} {kind}, next in {delay:?}"
    );
}

/// The bulkhead named `name` refused a permit (full, timed out, or `cancelled`).
#[inline(always)]
pub(crate) fn bulkhead_rejected(name: &str, cancelled: bool) {
    #[cfg(feature = "tracing")]
    if tracing::level_enabled!(tracing::Level::DEBUG) {
        bulkhead_cold(name, cancelled);
    }
    #[cfg(not(feature = "tracing"))]
    let _ = (name, cancelled);
}

#[cfg(feature = "tracing")]
#[cold]
#[inline(never)]
fn bulkhead_cold(name: &str, cancelled: bool) {
    let reason = if cancelled {
        "cancelled"
    } else {
        "bulkhead full"
    };
    tracing::debug!(
        target: "breakwater::bulkhead",
        policy = "bulkhead",
        name,
        reason,
        "bulkhead {name}: call rejected ({reason})"
    );
}

/// The rate limiter named `name` refused; permits are free again after `retry_after_ns`
/// (`u64::MAX`: never, the request is larger than the burst).
#[inline(always)]
pub(crate) fn limiter_rejected(name: &str, retry_after_ns: u64) {
    #[cfg(feature = "tracing")]
    if tracing::level_enabled!(tracing::Level::DEBUG) {
        limiter_cold(name, retry_after_ns);
    }
    #[cfg(not(feature = "tracing"))]
    let _ = (name, retry_after_ns);
}

#[cfg(feature = "tracing")]
#[cold]
#[inline(never)]
fn limiter_cold(name: &str, retry_after_ns: u64) {
    let never = retry_after_ns == u64::MAX;
    let retry_after = Duration::from_nanos(retry_after_ns);
    tracing::debug!(
        target: "breakwater::rate_limiter",
        policy = "rate_limiter",
        name,
        reason = "rate limited",
        retry_after_ms = if never { f64::INFINITY } else { retry_after.as_secs_f64() * 1e3 },
        "rate limiter {name}: call rejected (rate limited, retry after {})",
        if never { "never: more than the burst".to_owned() } else { format!("{retry_after:?}") }
    );
}
