//! Transition events of a breaker: `bw_breaker_event`, the `BW_TRANSITION_*` codes, the
//! polling queue (`bw_breaker_poll_events`) and the C callback of
//! `bw_breaker_new_json_with_callback`.

use std::collections::VecDeque;
use std::ffi::{c_char, c_void};

use super::{Shared, bw_breaker};
use crate::breaker::{Transition, TransitionReason, WindowFigures};
use crate::clock::Clock;
use crate::ffi::clock::{bw_clock, clock_or_monotonic};
use crate::ffi::error::{FfiError, bw_error};
use crate::ffi::json_config::config_from_json;
use crate::ffi::out::into_handle;
use crate::ffi::status::bw_status;

/// `bw_breaker_event.reason`: the trip policy's threshold was reached (closed -> open).
pub const BW_TRANSITION_THRESHOLD_REACHED: u32 = 0;
/// `bw_breaker_event.reason`: the open duration elapsed (open -> half-open).
pub const BW_TRANSITION_OPEN_DURATION_ELAPSED: u32 = 1;
/// `bw_breaker_event.reason`: the half-open trial succeeded (half-open -> closed).
pub const BW_TRANSITION_TRIAL_SUCCEEDED: u32 = 2;
/// `bw_breaker_event.reason`: the half-open trial failed (half-open -> open).
pub const BW_TRANSITION_TRIAL_FAILED: u32 = 3;
/// `bw_breaker_event.reason`: the trial stayed undecided too long (half-open -> open).
pub const BW_TRANSITION_HALF_OPEN_TIMEOUT: u32 = 4;
/// `bw_breaker_event.reason`: `bw_breaker_reset`.
pub const BW_TRANSITION_RESET: u32 = 5;
/// `bw_breaker_event.reason`: `bw_breaker_force_open`.
pub const BW_TRANSITION_FORCED_OPEN: u32 = 6;
/// `bw_breaker_event.reason`: `bw_breaker_disable`.
pub const BW_TRANSITION_DISABLED: u32 = 7;
/// `bw_breaker_event.reason`: `bw_breaker_transition_to_open` (timed, like a trip).
pub const BW_TRANSITION_MANUAL_OPEN: u32 = 8;
/// `bw_breaker_event.reason`: `bw_breaker_transition_to_half_open`.
pub const BW_TRANSITION_MANUAL_HALF_OPEN: u32 = 9;

/// How many transition events a breaker keeps for `bw_breaker_poll_events`: when the
/// queue is full a new event is dropped (the queue keeps the oldest) and counted in
/// `bw_breaker_stats.events_dropped`.
pub const BW_BREAKER_EVENT_QUEUE_LEN: usize = 256;

/// A state transition of a breaker (`bw_breaker_poll_events`, or the event callback).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct bw_breaker_event {
    /// The state left (`BW_STATE_*`).
    pub from: u32,
    /// The state entered (`BW_STATE_*`).
    pub to: u32,
    /// Why (`BW_TRANSITION_*`).
    pub reason: u32,
    /// The generation the transition started.
    pub generation: u64,
    /// When it happened, on the breaker's clock (`bw_clock_now_ns`).
    pub at_ns: u64,
}

/// A transition callback (the `on_event` parameter of `bw_breaker_new`).
pub(crate) type EventFn =
    unsafe extern "C" fn(event: *const bw_breaker_event, user_data: *mut c_void);

/// The `BW_TRANSITION_*` code of a transition reason.
pub(crate) fn transition_code(reason: TransitionReason) -> u32 {
    match reason {
        TransitionReason::ThresholdReached => BW_TRANSITION_THRESHOLD_REACHED,
        TransitionReason::OpenDurationElapsed => BW_TRANSITION_OPEN_DURATION_ELAPSED,
        TransitionReason::TrialSucceeded => BW_TRANSITION_TRIAL_SUCCEEDED,
        TransitionReason::TrialFailed => BW_TRANSITION_TRIAL_FAILED,
        TransitionReason::HalfOpenTimeout => BW_TRANSITION_HALF_OPEN_TIMEOUT,
        TransitionReason::Reset => BW_TRANSITION_RESET,
        TransitionReason::ForcedOpen => BW_TRANSITION_FORCED_OPEN,
        TransitionReason::Disabled => BW_TRANSITION_DISABLED,
        TransitionReason::ManualOpen => BW_TRANSITION_MANUAL_OPEN,
        TransitionReason::ManualHalfOpen => BW_TRANSITION_MANUAL_HALF_OPEN,
    }
}

/// The bounded queue of transition events behind `bw_breaker_poll_events`.
pub(crate) struct EventQueue {
    pub(crate) inner: parking_lot::Mutex<(VecDeque<bw_breaker_event>, u64)>,
    /// `(generation, window)` of the last trips of a rate policy.
    trips: parking_lot::Mutex<VecDeque<(u64, WindowFigures)>>,
}

impl EventQueue {
    pub(crate) fn new() -> EventQueue {
        EventQueue {
            inner: parking_lot::Mutex::new((
                VecDeque::with_capacity(BW_BREAKER_EVENT_QUEUE_LEN),
                0,
            )),
            trips: parking_lot::Mutex::new(VecDeque::new()),
        }
    }

    pub(crate) fn push(&self, event: bw_breaker_event) {
        let mut q = self.inner.lock();
        if q.0.len() < BW_BREAKER_EVENT_QUEUE_LEN {
            q.0.push_back(event);
        } else {
            q.1 += 1;
        }
    }

    pub(crate) fn dropped(&self) -> u64 {
        self.inner.lock().1
    }

    /// Keeps what the rate window held when a rate policy tripped, for
    /// `bw_breaker_describe_transition` (the last [`TRIPS_KEPT`] trips).
    pub(crate) fn remember_trip(&self, t: &Transition) {
        if let Some(w) = t.window {
            let mut trips = self.trips.lock();
            if trips.len() == TRIPS_KEPT {
                trips.pop_front();
            }
            trips.push_back((t.generation, w));
        }
    }

    /// The window figures of the trip that started `generation`, if kept.
    pub(crate) fn trip_window(&self, generation: u64) -> Option<WindowFigures> {
        let trips = self.trips.lock();
        trips
            .iter()
            .find(|(g, _)| *g == generation)
            .map(|(_, w)| *w)
    }
}

/// How many trips' window figures a breaker keeps for `bw_breaker_describe_transition`.
const TRIPS_KEPT: usize = 16;

/// A C callback and its user data.
#[derive(Clone, Copy)]
pub(crate) struct EventCallback {
    pub(crate) f: EventFn,
    pub(crate) user_data: *mut c_void,
}

// SAFETY: the header documents that the callback may run on any thread that uses the
// breaker, so the caller guarantees `user_data` may be used from those threads.
unsafe impl Send for EventCallback {}
// SAFETY: as above; the library only passes the pointer back to the callback.
unsafe impl Sync for EventCallback {}

/// `bw_breaker_new_json` with a transition callback: `on_event` (may be NULL) is called
/// with every state transition, with `user_data`, on the thread whose call caused the
/// transition (or applied a due one: transitions are lazy), after the breaker's lock is
/// released, one at a time and in order; it may call back into the breaker (a
/// transition it causes is delivered after it returns) and must not unwind. `user_data`
/// must stay valid, and usable from those threads, until the breaker is freed. Events
/// also go to the polling queue.
///
/// Errors as `bw_breaker_new_json`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_breaker_new_json_with_callback(
    json: *const c_char,
    json_len: usize,
    clock: *const bw_clock,
    on_event: Option<unsafe extern "C" fn(event: *const bw_breaker_event, user_data: *mut c_void)>,
    user_data: *mut c_void,
    out: *mut *mut bw_breaker,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let text = try_bytes!(json, json_len);
        let clock: Clock = clock_or_monotonic(opt_ref!(clock));
        let out = try_out!(out);
        let j: super::BreakerJson = config_from_json(crate::PolicyKind::CircuitBreaker, text)?;
        let callback = on_event.map(|f| EventCallback { f, user_data });
        let shared = Shared::build(j.to_config()?, clock, callback)?;
        out.set(into_handle(bw_breaker { shared }));
        Ok(())
    })
}

/// Moves up to `cap` pending transition events, oldest first, into `buf` and their
/// number into `*out_n` (0 when none). Every handle on a breaker polls the same queue of
/// `BW_BREAKER_EVENT_QUEUE_LEN` events: when it is full, new events are dropped and
/// counted in `bw_breaker_stats.events_dropped`. Does not block.
///
/// `BW_INVALID_ARGUMENT` for a NULL `breaker` or `out_n`, or a NULL `buf` with a
/// non-zero `cap`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_breaker_poll_events(
    breaker: *const bw_breaker,
    buf: *mut bw_breaker_event,
    cap: usize,
    out_n: *mut usize,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let breaker = try_ref!(breaker);
        let out_n = try_out!(out_n);
        if buf.is_null() && cap > 0 {
            return Err(FfiError::invalid_argument(
                "buf must not be NULL when cap is not 0",
            ));
        }
        let mut q = breaker.shared.events.inner.lock();
        let n = cap.min(q.0.len());
        for i in 0..n {
            let event = q.0.pop_front().unwrap_or_default();
            // SAFETY: `buf` is non-NULL (n > 0 implies cap > 0) and valid for `cap > i`
            // events (the caller's contract).
            unsafe { buf.add(i).write(event) };
        }
        out_n.set(n);
        Ok(())
    })
}
