//! Status codes, policy codes and rejection reason codes, and their names.
//!
//! The numbers are part of the ABI: they are fixed and never reused. A new code takes the
//! next free number.

use std::ffi::{CStr, c_char};

use crate::error::{PolicyKind, RejectReason};

/// The result of a fallible call: `BW_OK` (0) or one of the `BW_*` error codes.
///
/// The values are fixed and never reused; new codes get new numbers. An error object
/// (`bw_error`) passed to the call tells more: the policy, the rejection reason and a
/// message.
pub type bw_status = i32;

/// Success.
pub const BW_OK: bw_status = 0;
/// A policy refused to run the call (the breaker is open, the bulkhead is full, the
/// rate limiter has no permit, ...). `bw_error.policy` and `bw_error.reason` say which
/// and why; `bw_error.retry_after_ns` may say when to try again.
pub const BW_REJECTED: bw_status = 1;
/// The call did not finish within its deadline or time limit.
pub const BW_TIMED_OUT: bw_status = 2;
/// The guarded code reported a failure (callback conveniences only).
pub const BW_FAILED: bw_status = 3;
/// A NULL pointer where a value is required, an out-of-range enum or flag value, or
/// text that is not UTF-8. The message names the parameter.
pub const BW_INVALID_ARGUMENT: bw_status = 4;
/// A configuration was refused (bad JSON, a zero capacity, a threshold out of range,
/// ...). The message names the field.
pub const BW_INVALID_CONFIG: bw_status = 5;
/// The library panicked (a bug): the call did nothing it reports, the message says
/// what happened. The handles stay usable.
pub const BW_PANIC: bw_status = 6;
/// An outcome was reported for an older generation (or a permit already used) and was
/// dropped.
pub const BW_STALE: bw_status = 7;
/// The call was cancelled through its cancellation handle.
pub const BW_CANCELLED: bw_status = 8;
/// The object is shut down (a thread pool after `shutdown`).
pub const BW_SHUTDOWN: bw_status = 9;
/// The caller's buffer is too small; the size needed was written to the length
/// out-parameter.
pub const BW_BUFFER_TOO_SMALL: bw_status = 10;

/// The name of a status code as a static NUL-terminated string ("BW_OK", "BW_REJECTED",
/// ...), or "BW_UNKNOWN" for a value that is not a status code.
///
/// Never fails; the string must not be freed.
#[unsafe(no_mangle)]
pub extern "C" fn bw_status_name(status: bw_status) -> *const c_char {
    status_cstr(status).as_ptr()
}

/// The name of a status code (see [`bw_status_name`]).
pub fn status_cstr(status: bw_status) -> &'static CStr {
    match status {
        BW_OK => c"BW_OK",
        BW_REJECTED => c"BW_REJECTED",
        BW_TIMED_OUT => c"BW_TIMED_OUT",
        BW_FAILED => c"BW_FAILED",
        BW_INVALID_ARGUMENT => c"BW_INVALID_ARGUMENT",
        BW_INVALID_CONFIG => c"BW_INVALID_CONFIG",
        BW_PANIC => c"BW_PANIC",
        BW_STALE => c"BW_STALE",
        BW_CANCELLED => c"BW_CANCELLED",
        BW_SHUTDOWN => c"BW_SHUTDOWN",
        BW_BUFFER_TOO_SMALL => c"BW_BUFFER_TOO_SMALL",
        _ => c"BW_UNKNOWN",
    }
}

/// `bw_error.policy` when no policy is involved.
pub const BW_POLICY_NONE: u32 = 0;
/// The circuit breaker.
pub const BW_POLICY_CIRCUIT_BREAKER: u32 = 1;
/// Retry (and its shared retry budget).
pub const BW_POLICY_RETRY: u32 = 2;
/// A cooperative deadline.
pub const BW_POLICY_DEADLINE: u32 = 3;
/// The time limiter.
pub const BW_POLICY_TIME_LIMITER: u32 = 4;
/// The semaphore bulkhead.
pub const BW_POLICY_BULKHEAD: u32 = 5;
/// The thread-pool bulkhead.
pub const BW_POLICY_THREAD_POOL: u32 = 6;
/// The rate limiter.
pub const BW_POLICY_RATE_LIMITER: u32 = 7;
/// The fallback stage.
pub const BW_POLICY_FALLBACK: u32 = 8;
/// The TTL cache.
pub const BW_POLICY_CACHE: u32 = 9;
/// A pipeline or fan-out as a whole.
pub const BW_POLICY_PIPELINE: u32 = 10;
/// The HTTP client.
pub const BW_POLICY_HTTP: u32 = 11;

/// The `BW_POLICY_*` code of a policy kind.
pub fn policy_code(policy: PolicyKind) -> u32 {
    match policy {
        PolicyKind::CircuitBreaker => BW_POLICY_CIRCUIT_BREAKER,
        PolicyKind::Retry => BW_POLICY_RETRY,
        PolicyKind::Deadline => BW_POLICY_DEADLINE,
        PolicyKind::TimeLimiter => BW_POLICY_TIME_LIMITER,
        PolicyKind::Bulkhead => BW_POLICY_BULKHEAD,
        PolicyKind::ThreadPool => BW_POLICY_THREAD_POOL,
        PolicyKind::RateLimiter => BW_POLICY_RATE_LIMITER,
        PolicyKind::Fallback => BW_POLICY_FALLBACK,
        PolicyKind::Cache => BW_POLICY_CACHE,
        PolicyKind::Pipeline => BW_POLICY_PIPELINE,
        PolicyKind::Http => BW_POLICY_HTTP,
    }
}

/// `bw_error.reason` when the error is not a rejection.
pub const BW_REASON_NONE: u32 = 0;
/// The breaker is open.
pub const BW_REASON_OPEN: u32 = 1;
/// The breaker is half-open and its trial has no admission left.
pub const BW_REASON_TRIAL_FULL: u32 = 2;
/// The breaker was forced open by hand.
pub const BW_REASON_FORCED_OPEN: u32 = 3;
/// The semaphore bulkhead had no permit within its wait.
pub const BW_REASON_BULKHEAD_FULL: u32 = 4;
/// The thread pool's queue (or the time limiter's pool) is full.
pub const BW_REASON_QUEUE_FULL: u32 = 5;
/// The pool is shut down (the status is `BW_SHUTDOWN`).
pub const BW_REASON_SHUTDOWN: u32 = 6;
/// The rate limiter has no permit now (see `bw_error.retry_after_ns`).
pub const BW_REASON_RATE_LIMITED: u32 = 7;
/// The shared retry budget has no retry left.
pub const BW_REASON_BUDGET_EXHAUSTED: u32 = 8;
/// The call's deadline had passed before it started.
pub const BW_REASON_DEADLINE_EXCEEDED: u32 = 9;
/// The call was cancelled (the status is `BW_CANCELLED`).
pub const BW_REASON_CANCELLED: u32 = 10;

/// The `BW_REASON_*` code of a rejection reason.
pub fn reason_code(reason: RejectReason) -> u32 {
    match reason {
        RejectReason::Open => BW_REASON_OPEN,
        RejectReason::TrialFull => BW_REASON_TRIAL_FULL,
        RejectReason::ForcedOpen => BW_REASON_FORCED_OPEN,
        RejectReason::BulkheadFull => BW_REASON_BULKHEAD_FULL,
        RejectReason::QueueFull => BW_REASON_QUEUE_FULL,
        RejectReason::Shutdown => BW_REASON_SHUTDOWN,
        RejectReason::RateLimited => BW_REASON_RATE_LIMITED,
        RejectReason::BudgetExhausted => BW_REASON_BUDGET_EXHAUSTED,
        RejectReason::DeadlineExceeded => BW_REASON_DEADLINE_EXCEEDED,
        RejectReason::Cancelled => BW_REASON_CANCELLED,
    }
}

/// The status a rejection is reported with: `BW_REJECTED`, except a shut-down pool
/// (`BW_SHUTDOWN`) and a cancelled call (`BW_CANCELLED`), which have statuses of their
/// own because they also happen outside of admission (a task cancelled by a shutdown).
pub fn rejection_status(reason: RejectReason) -> bw_status {
    match reason {
        RejectReason::Shutdown => BW_SHUTDOWN,
        RejectReason::Cancelled => BW_CANCELLED,
        _ => BW_REJECTED,
    }
}
