//! Cooperative deadlines: `bw_deadline`, a point in time on a clock that callers poll
//! (remaining time, expired?).

use super::clock::{bw_clock, clock_or_monotonic};
use super::error::bw_error;
use super::out::{free_handle, into_handle};
use super::status::bw_status;
use crate::clock::Clock;

/// A cooperative deadline: `timeout` after its creation, on a clock. Nothing is
/// interrupted when it passes: code polls `bw_deadline_remaining_ns` or
/// `bw_deadline_expired` (and may give `bw_deadline_at_ns` to `bw_retry_begin`).
/// Thread-safe; keeps its own reference to the clock.
pub struct bw_deadline {
    clock: Clock,
    at: u64,
}

/// Creates a deadline `timeout_ns` nanoseconds from now on `clock` (may be NULL: the
/// monotonic clock) into `*out` (saturating at 2^64 - 1 ns of the clock). Free it with
/// `bw_deadline_free`.
///
/// `BW_INVALID_ARGUMENT` for a NULL `out`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_deadline_new(
    clock: *const bw_clock,
    timeout_ns: u64,
    out: *mut *mut bw_deadline,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let clock = clock_or_monotonic(opt_ref!(clock));
        let out = try_out!(out);
        let at = clock.nanos().saturating_add(timeout_ns);
        out.set(into_handle(bw_deadline { clock, at }));
        Ok(())
    })
}

/// Writes the time left before the deadline, in nanoseconds (0 once it has passed), to
/// `*out_ns`.
///
/// `BW_INVALID_ARGUMENT` for a NULL `deadline` or `out_ns`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_deadline_remaining_ns(
    deadline: *const bw_deadline,
    out_ns: *mut u64,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let deadline = try_ref!(deadline);
        let out_ns = try_out!(out_ns);
        out_ns.set(deadline.at.saturating_sub(deadline.clock.nanos()));
        Ok(())
    })
}

/// Writes whether the deadline has passed (the clock reads at or past it) to
/// `*out_expired`.
///
/// `BW_INVALID_ARGUMENT` for a NULL `deadline` or `out_expired`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_deadline_expired(
    deadline: *const bw_deadline,
    out_expired: *mut bool,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let deadline = try_ref!(deadline);
        let out_expired = try_out!(out_expired);
        out_expired.set(deadline.clock.nanos() >= deadline.at);
        Ok(())
    })
}

/// Writes the deadline as a reading of its clock (nanoseconds, as `bw_clock_now_ns`) to
/// `*out_ns`: what `bw_retry_begin` takes as its `deadline_ns` (on the same clock).
///
/// `BW_INVALID_ARGUMENT` for a NULL `deadline` or `out_ns`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_deadline_at_ns(
    deadline: *const bw_deadline,
    out_ns: *mut u64,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let deadline = try_ref!(deadline);
        let out_ns = try_out!(out_ns);
        out_ns.set(deadline.at);
        Ok(())
    })
}

/// Releases a deadline. NULL is a no-op.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_deadline_free(deadline: *mut bw_deadline) {
    ffi_boundary_value!((), {
        // SAFETY: the header documents `deadline` as NULL or a handle from
        // `bw_deadline_new`, freed once, no longer used by other threads.
        unsafe { free_handle(deadline) }
    })
}
