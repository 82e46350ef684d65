//! Call events of a breaker (success, failure, ignored, rejected, stale, with the
//! duration): `bw_breaker_call_event`, the `BW_CALL_*` kinds, the constructor that turns
//! them on (`bw_breaker_new_json_with_listeners`: a callback and/or the polling queue)
//! and `bw_breaker_poll_call_events`. Off by default: a call listener makes the breaker
//! measure every call's duration, which costs every call a clock reading.

use std::collections::VecDeque;
use std::ffi::{c_char, c_void};
use std::sync::Arc;

use super::events::{EventCallback, EventFn};
use super::{Shared, bw_breaker};
use crate::breaker::{CallEvent, CallKind};
use crate::clock::{Clock, duration_nanos};
use crate::ffi::clock::{bw_clock, clock_or_monotonic};
use crate::ffi::error::{FfiError, bw_error};
use crate::ffi::json_config::config_from_json;
use crate::ffi::out::into_handle;
use crate::ffi::status::{bw_status, reason_code};

/// `bw_breaker_call_event.kind`: the call was recorded as a success.
pub const BW_CALL_SUCCESS: u32 = 0;
/// `bw_breaker_call_event.kind`: the call was recorded as a failure.
pub const BW_CALL_FAILURE: u32 = 1;
/// `bw_breaker_call_event.kind`: the call was recorded as ignored.
pub const BW_CALL_IGNORED: u32 = 2;
/// `bw_breaker_call_event.kind`: the call was refused (`reason` says why).
pub const BW_CALL_REJECTED: u32 = 3;
/// `bw_breaker_call_event.kind`: an outcome for an older generation, dropped.
pub const BW_CALL_STALE: u32 = 4;

/// How many call events a breaker keeps for `bw_breaker_poll_call_events`: when the
/// queue is full a new event is dropped (the queue keeps the oldest).
pub const BW_BREAKER_CALL_QUEUE_LEN: usize = 1024;

/// One call seen by a breaker (`bw_breaker_poll_call_events`, or the call callback of
/// `bw_breaker_new_json_with_listeners`).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct bw_breaker_call_event {
    /// What happened (`BW_CALL_*`).
    pub kind: u32,
    /// For `BW_CALL_REJECTED`: why (`BW_REASON_*`); otherwise 0.
    pub reason: u32,
    /// The generation the call was admitted in (for a rejection: the one that refused).
    pub generation: u64,
    /// The call's duration in nanoseconds (given, or measured from admission); 0 for
    /// a rejection (see `has_duration`).
    pub duration_ns: u64,
    /// `false` for rejections (no duration).
    pub has_duration: bool,
    /// `true` when the trip policy counts the call as slow.
    pub slow: bool,
}

/// A call callback (the `on_call` parameter of `bw_breaker_new_json_with_listeners`).
pub(crate) type CallFn =
    unsafe extern "C" fn(event: *const bw_breaker_call_event, user_data: *mut c_void);

/// The `BW_CALL_*` code of a call kind and, for a rejection, its `BW_REASON_*` code.
pub(crate) fn call_kind_code(kind: CallKind) -> (u32, u32) {
    match kind {
        CallKind::Success => (BW_CALL_SUCCESS, 0),
        CallKind::Failure => (BW_CALL_FAILURE, 0),
        CallKind::Ignored => (BW_CALL_IGNORED, 0),
        CallKind::Rejected(r) => (BW_CALL_REJECTED, reason_code(r)),
        CallKind::Stale => (BW_CALL_STALE, 0),
    }
}

/// The C form of a call event.
fn call_event(e: &CallEvent) -> bw_breaker_call_event {
    let (kind, reason) = call_kind_code(e.kind);
    bw_breaker_call_event {
        kind,
        reason,
        generation: e.generation,
        duration_ns: e.duration.map_or(0, duration_nanos),
        has_duration: e.duration.is_some(),
        slow: e.slow,
    }
}

/// A C call callback and its user data.
#[derive(Clone, Copy)]
struct CallCallback {
    f: CallFn,
    user_data: *mut c_void,
}

// SAFETY: the header documents that the callback may run on any thread that uses the
// breaker, so the caller guarantees `user_data` may be used from those threads.
unsafe impl Send for CallCallback {}
// SAFETY: as above; the library only passes the pointer back to the callback.
unsafe impl Sync for CallCallback {}

/// The bounded queue of call events behind `bw_breaker_poll_call_events`, and the
/// optional C callback.
pub(crate) struct CallQueue {
    events: parking_lot::Mutex<VecDeque<bw_breaker_call_event>>,
    callback: Option<CallCallback>,
}

impl CallQueue {
    /// Queues `e` (dropped when the queue is full) and calls the callback, if any.
    pub(crate) fn push(&self, e: &CallEvent) {
        let event = call_event(e);
        {
            let mut q = self.events.lock();
            if q.len() < BW_BREAKER_CALL_QUEUE_LEN {
                q.push_back(event);
            }
        }
        if let Some(cb) = self.callback {
            // SAFETY: the caller gave a valid callback with its user data at `_new`;
            // `event` lives for the duration of the call.
            unsafe { (cb.f)(&event, cb.user_data) };
        }
    }
}

/// `bw_breaker_new_json_with_callback` that also reports every call: each call event
/// (`bw_breaker_call_event`) goes to the queue read by `bw_breaker_poll_call_events`
/// (`BW_BREAKER_CALL_QUEUE_LEN` events; newer ones are dropped when it is full) and to
/// `on_call` (may be NULL), with `user_data`, on the thread that made the call, after
/// the breaker's lock is released; it must not unwind. `on_event` (may be NULL) gets
/// the transitions as with `bw_breaker_new_json_with_callback`. `user_data` must stay
/// valid, and usable from those threads, until the breaker is freed. Call events make
/// the breaker measure every call's duration (one clock reading per call).
///
/// Errors as `bw_breaker_new_json`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_breaker_new_json_with_listeners(
    json: *const c_char,
    json_len: usize,
    clock: *const bw_clock,
    on_event: Option<
        unsafe extern "C" fn(event: *const super::bw_breaker_event, user_data: *mut c_void),
    >,
    on_call: Option<
        unsafe extern "C" fn(event: *const bw_breaker_call_event, user_data: *mut c_void),
    >,
    user_data: *mut c_void,
    out: *mut *mut bw_breaker,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let text = try_bytes!(json, json_len);
        let clock: Clock = clock_or_monotonic(opt_ref!(clock));
        let out = try_out!(out);
        let j: super::BreakerJson = config_from_json(crate::PolicyKind::CircuitBreaker, text)?;
        let callback = on_event.map(|f: EventFn| EventCallback { f, user_data });
        let calls = Arc::new(CallQueue {
            events: parking_lot::Mutex::new(VecDeque::new()),
            callback: on_call.map(|f: CallFn| CallCallback { f, user_data }),
        });
        let shared = Shared::build_with_calls(j.to_config()?, clock, callback, Some(calls))?;
        out.set(into_handle(bw_breaker { shared }));
        Ok(())
    })
}

/// Moves up to `cap` pending call events, oldest first, into `buf` and their number
/// into `*out_n` (0 when none). Does not block.
///
/// `BW_INVALID_ARGUMENT` for a NULL `breaker` or `out_n`, a NULL `buf` with a non-zero
/// `cap`, or a breaker built without call events (only
/// `bw_breaker_new_json_with_listeners` turns them on).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_breaker_poll_call_events(
    breaker: *const bw_breaker,
    buf: *mut bw_breaker_call_event,
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
        let Some(calls) = breaker.shared.calls.as_ref() else {
            return Err(FfiError::invalid_argument(
                "this breaker reports no call events: build it with \
                 bw_breaker_new_json_with_listeners",
            ));
        };
        let mut q = calls.events.lock();
        let n = cap.min(q.len());
        for i in 0..n {
            let event = q.pop_front().unwrap_or_default();
            // SAFETY: `buf` is non-NULL (n > 0 implies cap > 0) and valid for `cap > i`
            // events (the caller's contract).
            unsafe { buf.add(i).write(event) };
        }
        out_n.set(n);
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use std::ptr;

    use super::*;
    use crate::ffi::breaker::{BW_OUTCOME_FAILURE, bw_permit};
    use crate::ffi::status::{BW_INVALID_ARGUMENT, BW_OK, BW_REASON_OPEN};

    fn poll(b: *const bw_breaker) -> Vec<bw_breaker_call_event> {
        let mut buf = [bw_breaker_call_event::default(); 8];
        let mut n = 0usize;
        // SAFETY: `buf` holds 8 events; `n` is a valid out-pointer.
        let st =
            unsafe { bw_breaker_poll_call_events(b, buf.as_mut_ptr(), 8, &mut n, ptr::null_mut()) };
        assert_eq!(st, BW_OK);
        buf[..n].to_vec()
    }

    #[test]
    fn calls_and_rejections_are_queued_only_when_turned_on() {
        let json = br#"{"consecutive_failures": 1}"#;
        let mut b: *mut bw_breaker = ptr::null_mut();
        // SAFETY: `json` is valid for its length; `b` is a valid out-pointer.
        let st = unsafe {
            bw_breaker_new_json_with_listeners(
                json.as_ptr().cast(),
                json.len(),
                ptr::null(),
                None,
                None,
                ptr::null_mut(),
                &mut b,
                ptr::null_mut(),
            )
        };
        assert_eq!(st, BW_OK);
        let mut permit = bw_permit::default();
        // SAFETY: a live handle and valid out-pointers, here and below.
        unsafe {
            assert_eq!(
                super::super::bw_breaker_try_acquire(b, &mut permit, ptr::null_mut()),
                BW_OK
            );
            assert_eq!(
                super::super::bw_breaker_record(b, permit, BW_OUTCOME_FAILURE, ptr::null_mut()),
                BW_OK
            );
            assert_ne!(
                super::super::bw_breaker_try_acquire(b, &mut permit, ptr::null_mut()),
                BW_OK
            );
        }
        let events = poll(b);
        assert_eq!(events.len(), 2);
        assert_eq!(
            (events[0].kind, events[0].has_duration),
            (BW_CALL_FAILURE, true)
        );
        assert_eq!(
            (events[1].kind, events[1].reason),
            (BW_CALL_REJECTED, BW_REASON_OPEN)
        );
        assert!(!events[1].has_duration);
        assert!(poll(b).is_empty());
        // SAFETY: freed once, no longer used.
        unsafe { super::super::bw_breaker_free(b) };

        let mut plain: *mut bw_breaker = ptr::null_mut();
        let mut n = 0usize;
        // SAFETY: empty configuration (NULL, 0); valid out-pointers.
        unsafe {
            assert_eq!(
                super::super::bw_breaker_new_json(
                    ptr::null(),
                    0,
                    ptr::null(),
                    &mut plain,
                    ptr::null_mut()
                ),
                BW_OK
            );
            assert_eq!(
                bw_breaker_poll_call_events(plain, ptr::null_mut(), 0, &mut n, ptr::null_mut()),
                BW_INVALID_ARGUMENT
            );
            super::super::bw_breaker_free(plain);
        }
    }
}
