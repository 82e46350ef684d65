//! The circuit breaker: `bw_breaker`, its permit protocol (acquire / record, the
//! refusal-as-answer `bw_breaker_admit`, the C convenience `bw_breaker_call`), state and
//! manual modes. Its JSON configuration is in [`config`], transition events in
//! [`events`], stats in [`stats`], the registry in
//! [`crate::ffi::registry`].

use std::ffi::{c_char, c_int, c_void};
use std::sync::Arc;
use std::time::Duration;

use super::boundary::FfiEnum;
use super::error::{FfiError, Rejection, bw_error};
use super::out::{copy_text, free_handle};
use super::status::{BW_FAILED, BW_POLICY_CIRCUIT_BREAKER, BW_STALE, bw_status};
use crate::breaker::{
    BreakerConfig, CircuitBreaker, Outcome, RawPermit, Recorded, State, Transition,
};
use crate::clock::Clock;
use crate::error::{ConfigError, PolicyKind};

pub mod calls;
pub mod config;
pub mod events;
pub mod fast;
pub mod manual;
pub mod readback;
pub mod stats;

pub use calls::*;
pub use config::*;
pub use events::*;
pub use fast::*;
pub use manual::*;
pub use readback::*;
pub use stats::*;
// The registry moved to `ffi::registry`; its breaker functions stay reachable here.
pub use crate::ffi::registry::{
    bw_registry, bw_registry_breaker, bw_registry_free, bw_registry_new,
};

pub(crate) use events::transition_code;
use events::{EventCallback, EventQueue};

/// `bw_breaker_state`: closed (calls run, outcomes are counted).
pub const BW_STATE_CLOSED: u32 = 0;
/// `bw_breaker_state`: open (calls are rejected until the open duration has elapsed).
pub const BW_STATE_OPEN: u32 = 1;
/// `bw_breaker_state`: half-open (a trial of a few calls decides).
pub const BW_STATE_HALF_OPEN: u32 = 2;
/// `bw_breaker_state`: forced open by hand (everything is rejected until a reset).
pub const BW_STATE_FORCED_OPEN: u32 = 3;
/// `bw_breaker_state`: disabled by hand (everything runs and is counted, never trips).
pub const BW_STATE_DISABLED: u32 = 4;

/// `bw_breaker_record` outcome: the call succeeded.
pub const BW_OUTCOME_SUCCESS: u32 = 0;
/// `bw_breaker_record` outcome: the call failed.
pub const BW_OUTCOME_FAILURE: u32 = 1;
/// `bw_breaker_record` outcome: neither (gives a half-open admission back).
pub const BW_OUTCOME_IGNORED: u32 = 2;

/// A permit to run one call, returned by value by `bw_breaker_try_acquire`: report its
/// outcome once with `bw_breaker_record` (or `bw_breaker_record_duration`). Plain data:
/// copy it freely; a permit of an older generation is stale (`BW_STALE`). A permit that is
/// never reported holds a half-open admission at most until the half-open wait re-opens
/// the trial.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct bw_permit {
    /// The generation the call was admitted in (never 0: a zeroed permit is stale).
    pub generation: u64,
    /// The clock reading at admission when the breaker measures durations, else 0.
    pub acquired_ns: u64,
}

impl From<RawPermit> for bw_permit {
    fn from(p: RawPermit) -> bw_permit {
        bw_permit {
            generation: p.generation,
            acquired_ns: p.acquired_nanos,
        }
    }
}

impl From<bw_permit> for RawPermit {
    fn from(p: bw_permit) -> RawPermit {
        RawPermit {
            generation: p.generation,
            acquired_nanos: p.acquired_ns,
        }
    }
}

impl FfiEnum for Outcome {
    const VALID: &'static str =
        "0 (BW_OUTCOME_SUCCESS), 1 (BW_OUTCOME_FAILURE) or 2 (BW_OUTCOME_IGNORED)";
    fn from_u32(value: u32) -> Option<Self> {
        Outcome::from_code(value)
    }
}

/// What a handle (and a registry entry) shares: the breaker and its event queue.
#[derive(Clone)]
pub(crate) struct Shared {
    pub(crate) breaker: CircuitBreaker,
    pub(crate) events: Arc<EventQueue>,
    /// Call events, when turned on (`bw_breaker_new_json_with_listeners`).
    pub(crate) calls: Option<Arc<calls::CallQueue>>,
}

impl Shared {
    /// Builds the breaker, its event queue and the optional callback.
    pub(crate) fn build(
        config: BreakerConfig,
        clock: Clock,
        callback: Option<EventCallback>,
    ) -> Result<Shared, ConfigError> {
        Shared::build_with_calls(config, clock, callback, None)
    }

    /// [`Shared::build`] with call events going to `calls`.
    pub(crate) fn build_with_calls(
        config: BreakerConfig,
        clock: Clock,
        callback: Option<EventCallback>,
        calls: Option<Arc<calls::CallQueue>>,
    ) -> Result<Shared, ConfigError> {
        let events = Arc::new(EventQueue::new());
        let queue = Arc::clone(&events);
        let event_clock = clock.clone();
        let mut builder = CircuitBreaker::builder();
        if let Some(calls) = &calls {
            let calls = Arc::clone(calls);
            builder = builder.on_call(move |e| calls.push(e));
        }
        let breaker = builder
            .config(config)
            .clock(clock)
            .on_transition(move |t: &Transition| {
                let event = bw_breaker_event {
                    from: t.from.code(),
                    to: t.to.code(),
                    reason: transition_code(t.reason),
                    generation: t.generation,
                    at_ns: event_clock.nanos_at(t.at),
                };
                queue.push(event);
                queue.remember_trip(t);
                if let Some(cb) = callback {
                    // SAFETY: the caller gave a valid callback with its user data at `_new`;
                    // `event` lives for the duration of the call.
                    unsafe { (cb.f)(&event, cb.user_data) };
                }
            })
            .build()?;
        Ok(Shared {
            breaker,
            events,
            calls,
        })
    }
}

/// A circuit breaker handle. Thread-safe; free it with `bw_breaker_free`. Handles from a
/// registry share their breaker (and its event queue) with every other handle of the
/// same name.
pub struct bw_breaker {
    pub(crate) shared: Shared,
}

/// Releases a breaker handle. NULL is a no-op. Must not be called while another thread
/// uses the handle; other handles on the same (registry) breaker stay valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_breaker_free(breaker: *mut bw_breaker) {
    ffi_boundary_value!((), {
        // SAFETY: the header documents `breaker` as NULL or a handle from a breaker
        // constructor, freed once, no longer used by other threads.
        unsafe { free_handle(breaker) }
    })
}

/// Asks to run one call. On `BW_OK`, `*out` receives the permit: run the call, then
/// report its outcome once with `bw_breaker_record`. Does not block, allocates nothing.
///
/// `BW_REJECTED` when the breaker refuses: `err->reason` is `BW_REASON_OPEN` (with
/// `err->retry_after_ns`, the time left in the open state), `BW_REASON_TRIAL_FULL` or
/// `BW_REASON_FORCED_OPEN`; `BW_INVALID_ARGUMENT` for a NULL `breaker` or `out`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_breaker_try_acquire(
    breaker: *const bw_breaker,
    out: *mut bw_permit,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary_rejecting!(err, {
        let breaker = try_ref!(breaker);
        let out = try_out!(out);
        Ok(match breaker.shared.breaker.try_acquire_raw() {
            Ok(raw) => {
                out.set(raw.into());
                Ok(())
            }
            Err(r) => Err(Rejection {
                policy: PolicyKind::CircuitBreaker,
                reason: r.reason,
                retry_after: r.retry_after,
            }),
        })
    })
}

/// The body of the record exports (inlined into each: the hot path of the protocol).
#[inline(always)]
fn record(
    breaker: &bw_breaker,
    permit: bw_permit,
    outcome: Outcome,
    duration: Option<Duration>,
) -> Result<(), FfiError> {
    match breaker
        .shared
        .breaker
        .record_raw(permit.into(), outcome, duration)
    {
        Recorded::Recorded => Ok(()),
        Recorded::Stale => Err(stale_error(permit.generation)),
    }
}

/// `BW_STALE` for a permit of `generation` (out of line: it formats).
#[cold]
#[inline(never)]
fn stale_error(generation: u64) -> FfiError {
    let mut e = FfiError::new(
        BW_STALE,
        format!(
            "the permit of generation {generation} is stale (the breaker changed state since): \
             its outcome was dropped"
        ),
    );
    e.policy = BW_POLICY_CIRCUIT_BREAKER;
    e
}

/// Reports the outcome (`BW_OUTCOME_SUCCESS`, `BW_OUTCOME_FAILURE` or
/// `BW_OUTCOME_IGNORED`) of a call admitted with `permit`. When the breaker measures
/// durations (a slow-call policy), the duration is measured from the permit's
/// acquisition. Does not block.
///
/// `BW_STALE` when the permit is of an older generation (the breaker changed state since
/// it was acquired, or it was already reported and the state changed): the outcome is
/// dropped and counted in `stale_dropped`. `BW_INVALID_ARGUMENT` for a NULL `breaker` or
/// an unknown outcome.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_breaker_record(
    breaker: *const bw_breaker,
    permit: bw_permit,
    outcome: u32,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let breaker = try_ref!(breaker);
        let outcome = try_enum!(outcome as Outcome);
        record(breaker, permit, outcome, None)
    })
}

/// `bw_breaker_record` with the call's duration given in nanoseconds (for slow-call
/// policies) instead of measured from the permit.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_breaker_record_duration(
    breaker: *const bw_breaker,
    permit: bw_permit,
    outcome: u32,
    duration_ns: u64,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let breaker = try_ref!(breaker);
        let outcome = try_enum!(outcome as Outcome);
        record(
            breaker,
            permit,
            outcome,
            Some(Duration::from_nanos(duration_ns)),
        )
    })
}

/// The answer of `bw_breaker_admit`: a permit, or why the breaker refused.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct bw_breaker_admission {
    /// The permit when admitted (`reason` is `BW_REASON_NONE`): report its outcome once
    /// with `bw_breaker_record` or `bw_breaker_record_ptr`. Zero when refused.
    pub permit: bw_permit,
    /// `BW_REASON_NONE` when admitted; else `BW_REASON_OPEN`, `BW_REASON_TRIAL_FULL` or
    /// `BW_REASON_FORCED_OPEN`, as `bw_breaker_try_acquire` would report in its error.
    pub reason: u32,
    /// Whether `retry_after_ns` holds a hint (`BW_REASON_OPEN` only).
    pub has_retry_after: bool,
    /// For `BW_REASON_OPEN`: the time left in the open state, in nanoseconds; else 0.
    pub retry_after_ns: u64,
}

/// `bw_breaker_try_acquire` for callers that treat a refusal as an answer rather than
/// an error: the one call of a binding's hot path. Writes to `*out` either a permit
/// (`out->reason == BW_REASON_NONE`) or the reason of the refusal with its retry-after
/// hint. A refusal is counted in the metrics exactly as by `bw_breaker_try_acquire`, but
/// it is not an error: the status is `BW_OK` and the thread's last error is left alone.
/// Does not block, allocates nothing.
///
/// `BW_INVALID_ARGUMENT` for a NULL `breaker` or `out` (`*out` is then not written).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_breaker_admit(
    breaker: *const bw_breaker,
    out: *mut bw_breaker_admission,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let breaker = try_ref!(breaker);
        let out = try_out!(out);
        out.set(match breaker.shared.breaker.try_acquire_raw() {
            Ok(raw) => bw_breaker_admission {
                permit: raw.into(),
                ..bw_breaker_admission::default()
            },
            Err(r) => bw_breaker_admission {
                permit: bw_permit::default(),
                reason: super::status::reason_code(r.reason),
                has_retry_after: r.retry_after.is_some(),
                retry_after_ns: r.retry_after.map_or(0, crate::clock::duration_nanos),
            },
        });
        Ok(())
    })
}

/// `bw_breaker_record` with the permit passed by pointer (cheaper to call from some
/// foreign-function interfaces than a struct by value). `*permit` is read, not kept.
///
/// `BW_STALE` as `bw_breaker_record`; `BW_INVALID_ARGUMENT` for a NULL `breaker` or
/// `permit`, or an unknown outcome.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_breaker_record_ptr(
    breaker: *const bw_breaker,
    permit: *const bw_permit,
    outcome: u32,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let breaker = try_ref!(breaker);
        let permit = *try_ref!(permit);
        let outcome = try_enum!(outcome as Outcome);
        record(breaker, permit, outcome, None)
    })
}

/// Runs `func(user_data)` through the breaker, on the calling thread: it returns 0 for a
/// success and anything else for a failure, which is recorded.
///
/// `BW_OK` when it ran and returned 0; `BW_FAILED` when it ran and returned non-zero;
/// in both cases `*out_result` (may be NULL) receives its return value (the one
/// exception to "out-parameters only on success": the function did run).
/// `BW_REJECTED` (as `bw_breaker_try_acquire`) when it was not run; `BW_INVALID_ARGUMENT`
/// for a NULL `breaker` or `func`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_breaker_call(
    breaker: *const bw_breaker,
    func: Option<unsafe extern "C" fn(user_data: *mut c_void) -> c_int>,
    user_data: *mut c_void,
    out_result: *mut c_int,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let breaker = try_ref!(breaker);
        let f = try_callback!(func);
        let permit =
            breaker.shared.breaker.try_acquire_raw().map_err(|r| {
                FfiError::rejected(PolicyKind::CircuitBreaker, r.reason, r.retry_after)
            })?;
        // SAFETY: the caller gives a valid function and the user data it expects.
        let result = unsafe { f(user_data) };
        let outcome = if result == 0 {
            Outcome::Success
        } else {
            Outcome::Failure
        };
        // A stale outcome (the state changed during the call) is not the caller's error.
        let _ = breaker.shared.breaker.record_raw(permit, outcome, None);
        if !out_result.is_null() {
            // SAFETY: non-NULL, documented as writable for one int.
            unsafe { out_result.write(result) };
        }
        if result == 0 {
            Ok(())
        } else {
            let mut e = FfiError::new(
                BW_FAILED,
                format!("the guarded function failed (returned {result})"),
            );
            e.policy = BW_POLICY_CIRCUIT_BREAKER;
            Err(e)
        }
    })
}

/// Writes the breaker's state (`BW_STATE_*`) to `*out_state`, applying a due transition
/// first (open -> half-open once the open duration has elapsed).
///
/// `BW_INVALID_ARGUMENT` for a NULL `breaker` or `out_state`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_breaker_state(
    breaker: *const bw_breaker,
    out_state: *mut u32,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let breaker = try_ref!(breaker);
        let out_state = try_out!(out_state);
        out_state.set(breaker.shared.breaker.state().code());
        Ok(())
    })
}

/// Closes the breaker (from any state, manual modes included) and starts a new
/// generation with fresh counts. `BW_INVALID_ARGUMENT` for a NULL `breaker`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_breaker_reset(
    breaker: *const bw_breaker,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        try_ref!(breaker).shared.breaker.reset();
        Ok(())
    })
}

/// Forces the breaker open: every call is rejected with `BW_REASON_FORCED_OPEN` until
/// `bw_breaker_reset` (or `bw_breaker_disable`). `BW_INVALID_ARGUMENT` for a NULL
/// `breaker`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_breaker_force_open(
    breaker: *const bw_breaker,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        try_ref!(breaker).shared.breaker.force_open();
        Ok(())
    })
}

/// Disables the breaker: every call is admitted and counted, it never trips, until
/// `bw_breaker_reset` (or `bw_breaker_force_open`). `BW_INVALID_ARGUMENT` for a NULL
/// `breaker`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_breaker_disable(
    breaker: *const bw_breaker,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        try_ref!(breaker).shared.breaker.disable();
        Ok(())
    })
}

/// Copies the breaker's name (UTF-8, NUL-terminated) into `buf` and its length without
/// the NUL into `*out_len`.
///
/// `BW_BUFFER_TOO_SMALL` when `len` is less than the length plus one (`*out_len`
/// receives the length, `buf` is not written; `buf` may be NULL when `len` is 0);
/// `BW_INVALID_ARGUMENT` for a NULL `breaker` or `out_len`, or a NULL `buf` with a
/// non-zero `len`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_breaker_name(
    breaker: *const bw_breaker,
    buf: *mut c_char,
    len: usize,
    out_len: *mut usize,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let breaker = try_ref!(breaker);
        // SAFETY: as documented for this function's parameters.
        unsafe { copy_text(breaker.shared.breaker.name(), buf, len, out_len) }
    })
}

#[allow(dead_code, reason = "keeps the state codes in step with the Rust enum")]
const _: () = {
    assert!(State::Closed as u32 == BW_STATE_CLOSED);
    assert!(State::Open as u32 == BW_STATE_OPEN);
    assert!(State::HalfOpen as u32 == BW_STATE_HALF_OPEN);
    assert!(State::ForcedOpen as u32 == BW_STATE_FORCED_OPEN);
    assert!(State::Disabled as u32 == BW_STATE_DISABLED);
};

impl bw_breaker {
    /// The Rust breaker behind the handle (for pipeline stages).
    pub(crate) fn policy(&self) -> &CircuitBreaker {
        &self.shared.breaker
    }
}
