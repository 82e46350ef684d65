//! Clocks: `bw_clock`, the monotonic clock or a manual clock that C, Python and Go tests
//! step by hand.

use super::boundary::FfiEnum;
use super::error::{FfiError, bw_error};
use super::out::{free_handle, into_handle};
use super::status::bw_status;
use crate::clock::{Clock, ManualClock, Monitor};
use crate::ctx::CancelToken;
use std::time::Duration;

/// A clock: the machine's monotonic clock, or a manual clock that moves only when
/// advanced. Policies take an optional `const bw_clock *` in their configuration and
/// keep their own reference to it, so the handle can be freed right after; clones share
/// the time of a manual clock. Thread-safe.
pub struct bw_clock {
    pub(crate) clock: Clock,
}

impl bw_clock {
    /// The Rust clock behind the handle.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }
}

/// The clock of an optional `const bw_clock *` argument: the monotonic clock for NULL.
pub fn clock_or_monotonic(clock: Option<&bw_clock>) -> Clock {
    clock.map_or_else(Clock::monotonic, |c| c.clock.clone())
}

/// `bw_clock_new` kind: the machine's monotonic clock.
pub const BW_CLOCK_MONOTONIC: u32 = 0;
/// `bw_clock_new` kind: a manual clock, starting at 0 ns.
pub const BW_CLOCK_MANUAL: u32 = 1;

/// The kinds of clock, as they cross the ABI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockKind {
    /// `BW_CLOCK_MONOTONIC`.
    Monotonic,
    /// `BW_CLOCK_MANUAL`.
    Manual,
}

impl FfiEnum for ClockKind {
    const VALID: &'static str = "0 (BW_CLOCK_MONOTONIC) or 1 (BW_CLOCK_MANUAL)";
    fn from_u32(value: u32) -> Option<Self> {
        match value {
            BW_CLOCK_MONOTONIC => Some(ClockKind::Monotonic),
            BW_CLOCK_MANUAL => Some(ClockKind::Manual),
            _ => None,
        }
    }
}

fn new_clock(kind: ClockKind) -> *mut bw_clock {
    let clock = match kind {
        ClockKind::Monotonic => Clock::monotonic(),
        ClockKind::Manual => Clock::from(ManualClock::new()),
    };
    into_handle(bw_clock { clock })
}

/// Creates a clock of `kind` (`BW_CLOCK_MONOTONIC` or `BW_CLOCK_MANUAL`) into `*out`.
/// Free it with `bw_clock_free`.
///
/// `BW_INVALID_ARGUMENT` for an unknown kind or a NULL `out`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_clock_new(
    kind: u32,
    out: *mut *mut bw_clock,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let kind = try_enum!(kind as ClockKind);
        let out = try_out!(out);
        out.set(new_clock(kind));
        Ok(())
    })
}

/// Creates a handle on the machine's monotonic clock into `*out` (what policies use
/// when given no clock). Free it with `bw_clock_free`.
///
/// `BW_INVALID_ARGUMENT` for a NULL `out`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_clock_monotonic_new(
    out: *mut *mut bw_clock,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let out = try_out!(out);
        out.set(new_clock(ClockKind::Monotonic));
        Ok(())
    })
}

/// Creates a manual clock at 0 ns into `*out`: it moves only through
/// `bw_clock_advance_ns`, which also wakes every timed wait on it whose deadline has
/// come, so tests never sleep. Free it with `bw_clock_free`.
///
/// `BW_INVALID_ARGUMENT` for a NULL `out`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_clock_manual_new(
    out: *mut *mut bw_clock,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let out = try_out!(out);
        out.set(new_clock(ClockKind::Manual));
        Ok(())
    })
}

/// Writes the kind of `clock` (`BW_CLOCK_MONOTONIC` or `BW_CLOCK_MANUAL`) to `*out_kind`.
///
/// `BW_INVALID_ARGUMENT` for a NULL `clock` or `out_kind`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_clock_kind(
    clock: *const bw_clock,
    out_kind: *mut u32,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let clock = try_ref!(clock);
        let out_kind = try_out!(out_kind);
        out_kind.set(if clock.clock.is_manual() {
            BW_CLOCK_MANUAL
        } else {
            BW_CLOCK_MONOTONIC
        });
        Ok(())
    })
}

/// Writes the clock's time in nanoseconds to `*out_ns`: since its creation for a manual
/// clock, since an unspecified origin (boot) for the monotonic clock. Non-decreasing.
///
/// `BW_INVALID_ARGUMENT` for a NULL `clock` or `out_ns`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_clock_now_ns(
    clock: *const bw_clock,
    out_ns: *mut u64,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let clock = try_ref!(clock);
        let out_ns = try_out!(out_ns);
        out_ns.set(clock.clock.nanos());
        Ok(())
    })
}

/// Moves a manual clock forward by `ns` nanoseconds (saturating at 2^64 - 1) and wakes
/// every timed wait on it whose deadline has come. Thread-safe; does not block.
///
/// `BW_INVALID_ARGUMENT` for a NULL `clock` or a monotonic clock.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_clock_advance_ns(
    clock: *const bw_clock,
    ns: u64,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let clock = try_ref!(clock);
        let Some(manual) = clock.clock.as_manual() else {
            return Err(FfiError::invalid_argument(
                "clock is not a manual clock (only a clock from bw_clock_manual_new can be advanced)",
            ));
        };
        manual.advance(Duration::from_nanos(ns));
        Ok(())
    })
}

/// Releases a clock handle. NULL is a no-op. Policies built with the clock keep their
/// own reference: a manual clock freed here keeps its time for them, but can no longer
/// be advanced.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_clock_free(clock: *mut bw_clock) {
    ffi_boundary_value!((), {
        // SAFETY: the header documents `clock` as NULL or a handle from a
        // `bw_clock_*new` function, freed once, no longer used by other threads.
        unsafe { free_handle(clock) }
    })
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
