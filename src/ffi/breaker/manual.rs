//! Manual transitions and the open state's remaining time: `bw_breaker_transition_to_open`,
//! `bw_breaker_transition_to_half_open`, `bw_breaker_remaining_open_ns`.

use super::bw_breaker;
use crate::clock::duration_nanos;
use crate::ffi::error::bw_error;
use crate::ffi::status::bw_status;

/// Opens the breaker now, as a trip would (timed: a half-open trial follows the open
/// duration); listeners and `bw_breaker_poll_events` see `BW_TRANSITION_MANUAL_OPEN`. A
/// no-op when already open (the open period in course is kept); from the manual modes it
/// leaves them. `BW_INVALID_ARGUMENT` for a NULL `breaker`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_breaker_transition_to_open(
    breaker: *const bw_breaker,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        try_ref!(breaker).shared.breaker.transition_to_open();
        Ok(())
    })
}

/// Starts a half-open trial now; listeners and `bw_breaker_poll_events` see
/// `BW_TRANSITION_MANUAL_HALF_OPEN`. A no-op when already half-open.
/// `BW_INVALID_ARGUMENT` for a NULL `breaker`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_breaker_transition_to_half_open(
    breaker: *const bw_breaker,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        try_ref!(breaker).shared.breaker.transition_to_half_open();
        Ok(())
    })
}

/// While the breaker is open: writes the nanoseconds left before it may admit a trial to
/// `*out_ns` (0 once that time has come) and `true` to `*out_open`; in every other state
/// (forced open included) writes `false` and 0. Side-effect free: applies no transition
/// and counts nothing. `BW_INVALID_ARGUMENT` for a NULL `breaker`, `out_open` or `out_ns`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_breaker_remaining_open_ns(
    breaker: *const bw_breaker,
    out_open: *mut bool,
    out_ns: *mut u64,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let breaker = try_ref!(breaker);
        let out_open = try_out!(out_open);
        let out_ns = try_out!(out_ns);
        let remaining = breaker.shared.breaker.remaining_open();
        out_open.set(remaining.is_some());
        out_ns.set(remaining.map_or(0, duration_nanos));
        Ok(())
    })
}
