//! The time limiter: `bw_time_limiter` (over [`TimeLimiter`]).
//!
//! `bw_time_limiter_call` runs a C callback on one of the limiter's worker threads and
//! gives the caller control back at the deadline, while the callback may still run:
//! the caller regains control *first*. So that C callers know when their `user_data`
//! is no longer used, every call takes an optional `release(user_data)` callback that
//! the library calls exactly once, when the callback has finished (or when it will
//! never run).

use std::convert::Infallible;
use std::ffi::{CString, c_char, c_int, c_void};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use super::cancel::bw_cancel;
use super::clock::bw_clock;
use super::error::{FfiError, bw_error};
use super::json_config::{
    JsonConfig, check_name, defaults_json, ms_field, new_json, schema, schema_json, static_text,
    to_ms,
};
use super::out::{free_handle, write_stats};
use super::pool::UserData;
use super::status::bw_status;
use crate::clock::Clock;
use crate::ctx::{CancelToken, Ctx};
use crate::error::{Error, PolicyKind};
use crate::timeout::TimeLimiter;

/// A time limiter: runs callbacks on its own bounded set of worker threads and returns
/// `BW_TIMED_OUT` at the deadline. Thread-safe.
pub struct bw_time_limiter {
    pub(crate) owner: Arc<LimiterOwner>,
}

/// Owns a limiter for C: the handle and every pipeline built with it share one owner;
/// when the last goes, the limiter's workers are shut down with a bounded wait.
pub(crate) struct LimiterOwner {
    pub(crate) limiter: TimeLimiter,
}

impl Drop for LimiterOwner {
    fn drop(&mut self) {
        self.limiter.shutdown_real_time(FREE_WAIT);
    }
}

/// How long freeing the last reference to a limiter waits for its busy workers.
const FREE_WAIT: Duration = Duration::from_secs(1);

/// A snapshot of a time limiter's counters.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct bw_time_limiter_stats {
    /// In: the caller's `sizeof(bw_time_limiter_stats)`; out: the bytes written.
    pub size: usize,
    /// Calls abandoned at their deadline, in total.
    pub timed_out: u64,
    /// Results that came after their call was abandoned and were dropped, in total.
    pub late_results_dropped: u64,
    /// Calls refused (no free worker, cancelled), in total.
    pub rejected: u64,
    /// Workers taken now (running a callback, abandoned or not).
    pub busy: u32,
    /// Worker threads spawned so far (at most `max_threads`).
    pub threads_spawned: u32,
}

/// The JSON configuration of a time limiter.
/// The JSON configuration of `bw_time_limiter_new_json`.
///
/// ```json
/// {"name": "authors", "timeout_ms": 2000, "max_threads": 8}
/// ```
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TimeLimiterJson {
    /// The limiter's name (empty: "time-limiter"), prefix of its threads' names.
    pub name: String,
    /// How long a call may run before the caller gets control back (> 0).
    pub timeout_ms: f64,
    /// Worker threads at most (at least 1).
    pub max_threads: u32,
}

impl Default for TimeLimiterJson {
    fn default() -> Self {
        TimeLimiterJson {
            name: String::new(),
            timeout_ms: to_ms(crate::timeout::DEFAULT_TIMEOUT),
            max_threads: crate::timeout::DEFAULT_MAX_THREADS,
        }
    }
}

impl JsonConfig for TimeLimiterJson {
    const POLICY: PolicyKind = PolicyKind::TimeLimiter;
    type Handle = bw_time_limiter;

    fn build(self, clock: Clock) -> Result<bw_time_limiter, FfiError> {
        check_name(PolicyKind::TimeLimiter, &self.name)?;
        let timeout = ms_field(PolicyKind::TimeLimiter, "timeout_ms", self.timeout_ms)?;
        let mut builder = TimeLimiter::builder()
            .timeout(timeout)
            .max_threads(self.max_threads)
            .clock(clock);
        if !self.name.is_empty() {
            builder = builder.name(self.name);
        }
        Ok(bw_time_limiter {
            owner: Arc::new(LimiterOwner {
                limiter: builder.build()?,
            }),
        })
    }

    fn schema() -> serde_json::Value {
        schema::object(
            vec![
                (
                    "name",
                    schema::name("the limiter's name, prefix of its threads' names"),
                ),
                ("timeout_ms", schema::ms("how long a call may run (> 0)")),
                (
                    "max_threads",
                    schema::integer(1, u64::from(u32::MAX), "worker threads at most"),
                ),
            ],
            &[],
        )
    }
}

pub(crate) struct Owned {
    ud: UserData,
    release: Option<unsafe extern "C" fn(user_data: *mut c_void)>,
}

impl Owned {
    pub(crate) fn new(
        ud: *mut c_void,
        release: Option<unsafe extern "C" fn(user_data: *mut c_void)>,
    ) -> Owned {
        Owned {
            ud: UserData(ud),
            release,
        }
    }

    /// The caller's pointer. (A method, so that a `move` closure calling it captures the
    /// whole `Owned`, not just the pointer, and releases it only when dropped.)
    pub(crate) fn ptr(&self) -> *mut c_void {
        self.ud.0
    }
}

impl Drop for Owned {
    fn drop(&mut self) {
        if let Some(release) = self.release {
            // SAFETY: the caller gave a valid function; it is called once, here.
            unsafe { release(self.ud.0) }
        }
    }
}

/// The cancellation handle a callback sees: the call's own flag (a child of the
/// caller's, if any).
pub(crate) fn call_cancel(ctx: &Ctx) -> bw_cancel {
    bw_cancel {
        token: ctx.cancel_token().cloned().unwrap_or_else(CancelToken::new),
    }
}

/// Creates a time limiter from JSON text into `*out`: `{"name": "authors",
/// "timeout_ns": 2000000000, "max_threads": 8}` (defaults: name "time-limiter", 1 s, 8
/// threads; an empty text means all defaults). `clock` (may be NULL: the monotonic
/// clock) is what the caller waits on. No thread is spawned yet; workers start lazily,
/// named `"<name>-<i>"`, at most `max_threads` of them ever. Free it with
/// `bw_time_limiter_free`.
///
/// `BW_INVALID_CONFIG` for bad JSON, `timeout_ns` 0, `max_threads` 0 or a name with a
/// NUL byte (the message names the field); `BW_INVALID_ARGUMENT` for a NULL `out`, or a
/// NULL `json` with a non-zero `json_len`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_time_limiter_new_json(
    json: *const c_char,
    json_len: usize,
    clock: *const bw_clock,
    out: *mut *mut bw_time_limiter,
    err: *mut bw_error,
) -> bw_status {
    // SAFETY: the parameters are as documented for `new_json`.
    unsafe { new_json::<TimeLimiterJson>(json, json_len, clock, out, err) }
}

/// Runs `callback(user_data, cancel)` on one of the limiter's worker threads and waits for it
/// until the deadline (the limiter's timeout, on its clock). `BW_OK`: the callback
/// returned in time, and `*out_result` holds its value (any `int`: the limiter does not
/// interpret it). Blocks the calling thread.
///
/// At the deadline the call returns `BW_TIMED_OUT` (policy `BW_POLICY_TIME_LIMITER`)
/// *while the callback may still run*: its `cancel` handle (valid until it returns) is
/// set so that it can stop early, and its late result is dropped. The caller regains
/// control first, so `user_data` must stay valid until the callback has returned: pass
/// `release` (may be NULL), which the library calls exactly once with `user_data` once
/// it will no longer use it: on the worker after the callback returned, or before this
/// function returns when the callback never ran (rejected). `release` is called for
/// every call that gets past argument checking (any status but `BW_INVALID_ARGUMENT`).
///
/// `cancel` (may be NULL) cancels the wait: the call returns `BW_CANCELLED` at once and
/// the callback's own cancel handle is set. `BW_REJECTED` (reason
/// `BW_REASON_QUEUE_FULL`) without running the callback when all `max_threads` workers
/// are taken (by running or abandoned callbacks): the limiter never creates more
/// threads. `BW_INVALID_ARGUMENT` for a NULL `tl`, `callback` or `out_result`. The callback
/// must not unwind (a C++ exception escaping it aborts the process).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_time_limiter_call(
    tl: *const bw_time_limiter,
    callback: Option<
        unsafe extern "C" fn(user_data: *mut c_void, cancel: *const bw_cancel) -> c_int,
    >,
    user_data: *mut c_void,
    release: Option<unsafe extern "C" fn(user_data: *mut c_void)>,
    cancel: *const bw_cancel,
    out_result: *mut c_int,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let tl = try_ref!(tl);
        let f = match callback {
            Some(f) => f,
            None => return Err(FfiError::null("callback")),
        };
        let cancel = opt_ref!(cancel);
        let out_result = try_out!(out_result);
        let owned = Owned::new(user_data, release);
        let ctx = Ctx::with_clock(tl.owner.limiter.clock().clone());
        let ctx = match cancel {
            Some(c) => ctx.with_cancel(c.token.clone()),
            None => ctx,
        };
        let result: Result<c_int, Error<Infallible>> =
            tl.owner.limiter.call(&ctx, move |call_ctx| {
                let owned = owned; // released when this closure ends (or is dropped unrun)
                let cancel = call_cancel(call_ctx);
                // SAFETY: the caller gave a valid function and user_data valid until the
                // callback returned; `cancel` lives until then.
                Ok(unsafe { f(owned.ptr(), &cancel) })
            });
        let value = result.map_err(|e| FfiError::from_error(&e))?;
        out_result.set(value);
        Ok(())
    })
}

/// Writes a snapshot of the limiter's counters to `*out`. Does not block.
///
/// `BW_INVALID_ARGUMENT` for a NULL `tl` or `out`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_time_limiter_metrics(
    h: *const bw_time_limiter,
    out: *mut bw_time_limiter_stats,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let m = try_ref!(h).owner.limiter.metrics();
        let value = bw_time_limiter_stats {
            size: 0,
            timed_out: m.timed_out,
            late_results_dropped: m.late_results_dropped,
            rejected: m.rejected,
            busy: m.busy,
            threads_spawned: m.threads_spawned,
        };
        // SAFETY: `out` is NULL or documented as a stats structure of `out->size` bytes.
        unsafe { write_stats(out, value) }
    })
}

impl_stats!(bw_time_limiter_stats);

/// Releases a time limiter. NULL is a no-op. A pipeline (or builder) given the limiter
/// keeps its own reference; when the last reference goes, the limiter's workers are
/// shut down: idle ones exit at once, and the call waits at most 1 second of real time
/// for those still running an (abandoned) callback; workers still busy then exit on
/// their own when their callback returns (calling its `release` first).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_time_limiter_free(tl: *mut bw_time_limiter) {
    ffi_boundary_value!((), {
        // SAFETY: the header documents `tl` as NULL or a handle from
        // `bw_time_limiter_new_json`, freed once, no longer used by other threads.
        unsafe { free_handle(tl) }
    })
}

/// The default time limiter configuration as JSON text (static, NUL-terminated, never freed):
/// every key `bw_time_limiter_new_json` accepts, unset ones as `null`.
#[unsafe(no_mangle)]
pub extern "C" fn bw_time_limiter_config_defaults_json() -> *const c_char {
    static TEXT: OnceLock<CString> = OnceLock::new();
    ffi_boundary_value!(std::ptr::null(), {
        static_text(&TEXT, defaults_json::<TimeLimiterJson>)
    })
}

/// The JSON Schema (draft 2020-12) of the time limiter configuration (static, NUL-terminated,
/// never freed): types, ranges, defaults.
#[unsafe(no_mangle)]
pub extern "C" fn bw_time_limiter_config_schema_json() -> *const c_char {
    static TEXT: OnceLock<CString> = OnceLock::new();
    ffi_boundary_value!(std::ptr::null(), {
        static_text(&TEXT, schema_json::<TimeLimiterJson>)
    })
}
