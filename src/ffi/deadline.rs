//! Cooperative deadlines: `bw_deadline`, a point in time on a clock that callers poll
//! (remaining time, expired?). Also the helpers the policy exports share: millisecond
//! fields of JSON configurations, cancellable sleeps through a clock, and size-tagged
//! metrics structures.

use std::time::Duration;

use super::clock::{bw_clock, clock_or_monotonic};
use super::error::{FfiError, bw_error};
use super::macros::{free_handle, into_handle};
use super::status::bw_status;
use crate::clock::{Clock, Monitor};
use crate::ctx::CancelToken;
use crate::error::{ConfigError, PolicyKind};

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

/// A duration given in milliseconds in a JSON configuration (`*_ms` fields: a JSON
/// number, fractions allowed, rounded to the nanosecond).
///
/// # Errors
///
/// A [`ConfigError`] naming `field` for a negative value or one beyond 2^64 - 1 ns.
pub fn ms_field(policy: PolicyKind, field: &'static str, ms: f64) -> Result<Duration, ConfigError> {
    if !ms.is_finite() || ms < 0.0 {
        return Err(ConfigError::new(
            policy,
            field,
            format!("must be a non-negative number of milliseconds (got {ms})"),
        ));
    }
    let ns = (ms * 1e6).round();
    if ns >= u64::MAX as f64 {
        return Err(ConfigError::new(
            policy,
            field,
            format!("is too large: {ms} ms (at most 2^64 - 1 ns)"),
        ));
    }
    Ok(Duration::from_nanos(ns as u64))
}

/// A duration as `*_ms` JSON (for `Serialize`).
pub fn to_ms(d: Duration) -> f64 {
    d.as_nanos() as f64 / 1e6
}

/// Sleeps on `clock` until its reading `until_ns`, giving up early when `cancel` is
/// cancelled (a cancel wakes the sleep at once). On a manual clock the sleep advances the
/// clock (as [`Clock::sleep_until`]) unless the token is already cancelled. Returns
/// `false` when cancelled.
pub fn sleep_until_ns(clock: &Clock, until_ns: u64, cancel: Option<&CancelToken>) -> bool {
    if cancel.is_some_and(CancelToken::is_cancelled) {
        return false;
    }
    let until = clock.instant_at(until_ns);
    let Some(token) = cancel else {
        clock.sleep_until(until);
        return true;
    };
    if clock.is_manual() {
        clock.sleep_until(until);
        return true;
    }
    let monitor = Monitor::new(());
    let _wake = token.wake_on_cancel(&monitor);
    let mut guard = monitor.lock();
    loop {
        if token.is_cancelled() {
            return false;
        }
        let (g, result) = clock.wait_until(&monitor, guard, until);
        guard = g;
        if result.timed_out() {
            return !token.is_cancelled();
        }
    }
}

/// Copies a size-tagged metrics structure (`#[repr(C)]`, a leading `size_t size`) to
/// `out`: the caller sets `out->size` to the size it knows (`sizeof`); at most that many
/// bytes are written, and `out->size` receives the number written. This lets the
/// structure grow at the end without breaking older callers.
///
/// # Safety
///
/// `out` is non-NULL and valid for reading a `usize` and for writing `out->size` bytes
/// (as documented on the exported function).
pub unsafe fn write_sized<T: Copy>(
    out: std::ptr::NonNull<T>,
    mut value: T,
    set_size: impl FnOnce(&mut T, usize),
) -> Result<(), FfiError> {
    // SAFETY: the caller's contract: `out` starts with a readable `size_t`.
    let given = unsafe { out.cast::<usize>().as_ptr().read() };
    if given < size_of::<usize>() {
        return Err(FfiError::invalid_argument(format!(
            "out->size is {given}: set it to sizeof the metrics structure ({})",
            size_of::<T>()
        )));
    }
    let n = given.min(size_of::<T>());
    set_size(&mut value, n);
    // SAFETY: `out` is valid for `given >= n` bytes of writes (the caller's contract);
    // `value` is a local `Copy` value of `size_of::<T>() >= n` bytes; no overlap.
    unsafe {
        std::ptr::copy_nonoverlapping(
            (&raw const value).cast::<u8>(),
            out.as_ptr().cast::<u8>(),
            n,
        );
    }
    Ok(())
}
