//! The breaker's permit protocol in one argument per call, for foreign-function
//! interfaces that pay for every argument they convert (Python's ctypes prepares and
//! classifies each argument again on every call, a few hundred instructions each):
//! `bw_breaker_frame` carries the breaker, the permit and a refusal's retry-after, and
//! `bw_breaker_enter` / `bw_breaker_exit` / `bw_breaker_exit_outcome` take it alone (or
//! with the outcome); `bw_breaker_enter` says in its return value whether the call was
//! admitted, why not, and whether the frame holds a retry-after. No error object; a
//! refusal and a stale outcome are answers, not errors, so neither writes the thread's
//! last error.

use super::{bw_breaker, bw_permit};
use crate::breaker::{Outcome, Recorded};
use crate::ffi::error::FfiError;
use crate::ffi::status::{BW_OK, BW_STALE, bw_status, reason_code};

/// Added by `bw_breaker_enter` to the reason code of a refusal when
/// `frame->retry_after_ns` holds a retry-after hint (`BW_REASON_OPEN`: the time left in
/// the open state).
pub const BW_BREAKER_ENTER_RETRY_AFTER: i32 = 0x100;

/// One guarded call through `bw_breaker_enter` and `bw_breaker_exit`: the caller sets
/// `breaker`, the library writes the rest.
///
/// A frame may be reused for any number of calls, one at a time: `bw_breaker_enter`
/// overwrites the permit and the retry-after fields.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct bw_breaker_frame {
    /// The breaker (set by the caller; not owned: it must outlive every use of the frame).
    pub breaker: *const bw_breaker,
    /// Written by `bw_breaker_enter`: the permit when admitted, zero when refused (a zero
    /// permit is stale). Read by `bw_breaker_exit`.
    pub permit: bw_permit,
    /// Written by `bw_breaker_enter`: when it answers a refusal with
    /// `BW_BREAKER_ENTER_RETRY_AFTER`, the time left in the open state in nanoseconds;
    /// else 0.
    pub retry_after_ns: u64,
    /// The same time in seconds, `(double)retry_after_ns / 1e9` (for bindings whose
    /// integer arithmetic costs more than reading a double); else 0.
    pub retry_after_s: f64,
}

/// A negated status: the failure answer of `bw_breaker_enter`.
fn negated(status: bw_status) -> i32 {
    -status
}

/// Asks `frame->breaker` to admit a call, as `bw_breaker_admit` does, and answers in the
/// return value:
///
/// - `BW_REASON_NONE` (0): admitted; `frame->permit` holds the permit, to be reported
///   once with `bw_breaker_exit` or `bw_breaker_exit_outcome` (or `bw_breaker_record`);
/// - positive: refused, counted in the metrics as by `bw_breaker_try_acquire`: the
///   `BW_REASON_*` code (`BW_REASON_OPEN`, `BW_REASON_TRIAL_FULL`,
///   `BW_REASON_FORCED_OPEN`), plus `BW_BREAKER_ENTER_RETRY_AFTER` when
///   `frame->retry_after_ns` holds the retry-after hint; `frame->permit` is zeroed;
/// - a negated `bw_status` (negative): the call could not be made: `-BW_INVALID_ARGUMENT`
///   for a NULL `frame` or `frame->breaker` (the frame is then not written),
///   `-BW_PANIC`; the message is the thread's last error (`bw_last_error_message`).
///
/// Does not block, allocates nothing.
///
/// # Safety
///
/// `frame` is NULL or points to a writable frame whose `breaker` is NULL or a live
/// breaker.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_breaker_enter(frame: *mut bw_breaker_frame) -> i32 {
    let mut answer = 0_i32;
    let status = ffi_boundary!(std::ptr::null_mut(), {
        // SAFETY: the header documents `frame` as NULL or a valid, writable frame; no
        // other reference to it exists during the call.
        let Some(frame) = (unsafe { frame.as_mut() }) else {
            return Err(FfiError::null("frame"));
        };
        let breaker = frame.breaker;
        let breaker = try_ref!(breaker);
        match breaker.shared.breaker.try_acquire_raw() {
            Ok(raw) => {
                frame.permit = raw.into();
                frame.retry_after_ns = 0;
                frame.retry_after_s = 0.0;
            }
            Err(r) => {
                // Reason codes are small (BW_REASON_* < BW_BREAKER_ENTER_RETRY_AFTER).
                answer = i32::try_from(reason_code(r.reason)).unwrap_or(i32::MAX);
                frame.permit = bw_permit::default();
                let ns = match r.retry_after {
                    Some(d) => {
                        answer |= BW_BREAKER_ENTER_RETRY_AFTER;
                        crate::clock::duration_nanos(d)
                    }
                    None => 0,
                };
                frame.retry_after_ns = ns;
                // Rounded as a binding computes `ns / 1e9` from the nanoseconds.
                #[allow(
                    clippy::cast_precision_loss,
                    reason = "seconds as a double, as the bindings compute them"
                )]
                let secs = ns as f64 / 1e9;
                frame.retry_after_s = secs;
            }
        }
        Ok(())
    });
    if status == BW_OK {
        answer
    } else {
        negated(status)
    }
}

/// Reports the outcome of the call admitted into `frame` by `bw_breaker_enter` as a
/// success: `bw_breaker_exit_outcome(frame, BW_OUTCOME_SUCCESS)`.
///
/// # Safety
///
/// As `bw_breaker_exit_outcome`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_breaker_exit(frame: *const bw_breaker_frame) -> bw_status {
    // SAFETY: the caller's guarantees are the ones `bw_breaker_exit_outcome` needs.
    unsafe { exit(frame, super::BW_OUTCOME_SUCCESS) }
}

/// Reports the outcome (`BW_OUTCOME_SUCCESS`, `BW_OUTCOME_FAILURE` or
/// `BW_OUTCOME_IGNORED`) of the call admitted into `frame` by `bw_breaker_enter`, as
/// `bw_breaker_record` does with `frame->permit`. Does not block.
///
/// `BW_OK` when recorded; `BW_STALE` when the permit belongs to an older generation (the
/// breaker changed state since) and the outcome was dropped: an answer, not an error
/// (no message, the thread's last error is left alone); `BW_INVALID_ARGUMENT` for a NULL
/// `frame` or `frame->breaker`, or an unknown outcome (message in the thread's last
/// error).
///
/// # Safety
///
/// `frame` is NULL or points to a readable frame whose `breaker` is NULL or a live
/// breaker.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_breaker_exit_outcome(
    frame: *const bw_breaker_frame,
    outcome: u32,
) -> bw_status {
    // SAFETY: the caller's guarantees are the ones `exit` needs.
    unsafe { exit(frame, outcome) }
}

/// `bw_breaker_exit_outcome`.
///
/// # Safety
///
/// As `bw_breaker_exit_outcome`.
unsafe fn exit(frame: *const bw_breaker_frame, outcome: u32) -> bw_status {
    let mut stale = false;
    let status = ffi_boundary!(std::ptr::null_mut(), {
        // SAFETY: the header documents `frame` as NULL or a valid, readable frame.
        let Some(frame) = (unsafe { frame.as_ref() }) else {
            return Err(FfiError::null("frame"));
        };
        let breaker = frame.breaker;
        let breaker = try_ref!(breaker);
        let outcome = try_enum!(outcome as Outcome);
        stale = matches!(
            breaker
                .shared
                .breaker
                .record_raw(frame.permit.into(), outcome, None),
            Recorded::Stale
        );
        Ok(())
    });
    if status == BW_OK && stale {
        BW_STALE
    } else {
        status
    }
}
