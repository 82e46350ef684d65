//! The semaphore bulkhead: `bw_bulkhead` (JSON configuration), the permit protocol
//! (`bw_bulkhead_acquire` / `bw_bulkhead_release`), the C convenience `bw_bulkhead_call`,
//! metrics.

use std::ffi::{c_char, c_int, c_void};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::cancel::bw_cancel;
use std::ffi::CString;
use std::sync::OnceLock;

use super::clock::bw_clock;
use super::error::{FfiError, bw_error};
use super::json_config::{
    JsonConfig, check_name, defaults_json, ms_field, new_json, schema, schema_json, static_text,
    to_ms,
};
use super::out::{free_handle, write_stats};
use super::status::{BW_FAILED, BW_POLICY_BULKHEAD, bw_status};
use crate::bulkhead::{Bulkhead, BulkheadConfig, BulkheadFull};
use crate::clock::Clock;
use crate::ctx::CancelToken;
use crate::error::{ConfigError, Error, PolicyKind};

/// The JSON configuration of `bw_bulkhead_new_json`. Durations are `*_ms` fields (JSON
/// numbers of milliseconds, fractions allowed).
///
/// ```json
/// {"name": "db", "max_concurrent": 10, "max_wait_ms": 50}
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BulkheadJson {
    /// The bulkhead's name. Defaults to an empty name (`"bulkhead"`).
    pub name: String,
    /// How many calls may be in flight at once (at least 1). Defaults to 25.
    pub max_concurrent: u32,
    /// How long `bw_bulkhead_call` (and the bindings' `with`/`Execute`) wait for a permit,
    /// in ms; 0 fails fast. Defaults to 0.
    pub max_wait_ms: f64,
}

impl Default for BulkheadJson {
    fn default() -> Self {
        BulkheadJson::from_config(&BulkheadConfig::default())
    }
}

impl JsonConfig for BulkheadJson {
    const POLICY: PolicyKind = PolicyKind::Bulkhead;
    type Handle = bw_bulkhead;

    fn build(self, clock: Clock) -> Result<bw_bulkhead, FfiError> {
        let bulkhead = Bulkhead::builder()
            .config(self.to_config()?)
            .clock(clock)
            .build()?;
        Ok(bw_bulkhead { bulkhead })
    }

    fn schema() -> serde_json::Value {
        schema::object(
            vec![
                ("name", schema::name("the bulkhead's name")),
                (
                    "max_concurrent",
                    schema::integer(1, u64::from(u32::MAX), "calls in flight at once"),
                ),
                (
                    "max_wait_ms",
                    schema::ms("how long a call waits for a permit; 0 fails fast"),
                ),
            ],
            &[],
        )
    }
}

impl BulkheadJson {
    /// The Rust configuration (the builder checks the values).
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming `max_wait_ms` when it is negative or too large.
    pub fn to_config(&self) -> Result<BulkheadConfig, ConfigError> {
        check_name(PolicyKind::Bulkhead, &self.name)?;
        Ok(BulkheadConfig {
            name: self.name.clone(),
            max_concurrent: self.max_concurrent,
            max_wait: ms_field(PolicyKind::Bulkhead, "max_wait_ms", self.max_wait_ms)?,
        })
    }

    /// The JSON form of a Rust configuration.
    pub fn from_config(c: &BulkheadConfig) -> BulkheadJson {
        BulkheadJson {
            name: c.name.clone(),
            max_concurrent: c.max_concurrent,
            max_wait_ms: to_ms(c.max_wait),
        }
    }
}

/// A semaphore bulkhead: at most `max_concurrent` permits held at once; waiters are
/// served first come, first served. Thread-safe.
pub struct bw_bulkhead {
    pub(crate) bulkhead: Bulkhead,
}

/// A snapshot of a bulkhead's counters (`bw_bulkhead_metrics`). Set `size` to
/// `sizeof(bw_bulkhead_stats)` before the call; fields may be added at the end.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct bw_bulkhead_stats {
    /// The size of the structure the caller knows (in) / of what was written (out).
    pub size: usize,
    /// `max_concurrent`.
    pub max: u64,
    /// Permits free now.
    pub available: u64,
    /// Permits held now.
    pub in_use: u64,
    /// Callers waiting now.
    pub waiting: u64,
    /// Requests refused (full, timed out or cancelled).
    pub rejected: u64,
    /// The most permits held at once.
    pub peak: u64,
    /// Permits granted.
    pub acquired: u64,
}

fn full(f: BulkheadFull) -> FfiError {
    FfiError::from_error(&Error::<&str>::from(f))
}

/// Creates a bulkhead from JSON configuration (`json`, `json_len` bytes; empty for the
/// defaults: 25 permits, no waiting) into `*out`, on `clock` (may be NULL: the monotonic
/// clock). Fields: `name`, `max_concurrent`, `max_wait_ms`. Free it with
/// `bw_bulkhead_free`.
///
/// `BW_INVALID_CONFIG` (naming the field) for bad JSON or a refused value;
/// `BW_INVALID_ARGUMENT` for a NULL `out`, or `json` NULL with a non-zero length.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_bulkhead_new_json(
    json: *const c_char,
    json_len: usize,
    clock: *const bw_clock,
    out: *mut *mut bw_bulkhead,
    err: *mut bw_error,
) -> bw_status {
    // SAFETY: the parameters are as documented for `new_json`.
    unsafe { new_json::<BulkheadJson>(json, json_len, clock, out, err) }
}

/// Takes a permit if one is free now; never waits. Give it back with
/// `bw_bulkhead_release`.
///
/// `BW_REJECTED` (reason `BW_REASON_BULKHEAD_FULL`) when every permit is held;
/// `BW_INVALID_ARGUMENT` for a NULL `bulkhead`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_bulkhead_try_acquire(
    bulkhead: *const bw_bulkhead,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let b = &try_ref!(bulkhead).bulkhead;
        let now = b.clock().now();
        b.acquire_raw(Some(now), None).map_err(full)
    })
}

fn acquire(b: &Bulkhead, timeout_ns: u64, cancel: Option<&CancelToken>) -> Result<(), FfiError> {
    let deadline = (timeout_ns != u64::MAX)
        .then(|| b.clock().deadline_after(Duration::from_nanos(timeout_ns)));
    b.acquire_raw(deadline, cancel).map_err(full)
}

/// Takes a permit, waiting (first come, first served) at most `timeout_ns` on the
/// bulkhead's clock (0 fails fast; `UINT64_MAX` waits without limit). Blocks the calling
/// thread. Give the permit back with `bw_bulkhead_release`.
///
/// `BW_REJECTED` (reason `BW_REASON_BULKHEAD_FULL`) when no permit came free in time;
/// `BW_CANCELLED` when `cancel` (may be NULL) is cancelled before or during the wait
/// (a cancel wakes the waiter at once); `BW_INVALID_ARGUMENT` for a NULL `bulkhead`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_bulkhead_acquire(
    bulkhead: *const bw_bulkhead,
    timeout_ns: u64,
    cancel: *const bw_cancel,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let b = &try_ref!(bulkhead).bulkhead;
        let cancel = opt_ref!(cancel).map(bw_cancel::token);
        acquire(b, timeout_ns, cancel)
    })
}

/// Gives back a permit taken with `bw_bulkhead_try_acquire` or `bw_bulkhead_acquire`
/// (to the oldest waiter, if any).
///
/// `BW_INVALID_ARGUMENT`, changing nothing, when no permit is held through these
/// functions (a release without an acquire, or one too many), or for a NULL `bulkhead`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_bulkhead_release(
    bulkhead: *const bw_bulkhead,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let b = &try_ref!(bulkhead).bulkhead;
        if b.release_raw() {
            Ok(())
        } else {
            let mut e = FfiError::invalid_argument(
                "bw_bulkhead_release without a permit held (no acquire, or one release too many)",
            );
            e.policy = BW_POLICY_BULKHEAD;
            Err(e)
        }
    })
}

/// Runs `fn` on the calling thread holding a permit, waiting for one up to the
/// configured `max_wait_ms` (unless `cancel`, may be NULL, is cancelled first); the
/// permit is released when `fn` returns. `*out_result` receives `fn`'s result whenever
/// it ran.
///
/// Returns `BW_OK` when `fn` returned 0, `BW_FAILED` when it returned anything else;
/// `BW_REJECTED` / `BW_CANCELLED` (without running `fn`) as `bw_bulkhead_acquire`;
/// `BW_INVALID_ARGUMENT` for a NULL `bulkhead`, `fn` or `out_result`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_bulkhead_call(
    bulkhead: *const bw_bulkhead,
    fn_: Option<unsafe extern "C" fn(*mut c_void) -> c_int>,
    user_data: *mut c_void,
    cancel: *const bw_cancel,
    out_result: *mut c_int,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let b = &try_ref!(bulkhead).bulkhead;
        let f = try_callback!(fn_);
        let cancel = opt_ref!(cancel).map(bw_cancel::token);
        let out_result = try_out!(out_result);
        let deadline = b.clock().deadline_after(b.config().max_wait);
        let _permit = b
            .acquire_cancellable(Some(deadline), cancel)
            .map_err(full)?;
        // SAFETY: the caller passes a valid callback and its user data.
        let result = unsafe { f(user_data) };
        out_result.set(result);
        if result == 0 {
            Ok(())
        } else {
            let mut e = FfiError::new(BW_FAILED, format!("the guarded function returned {result}"));
            e.policy = BW_POLICY_BULKHEAD;
            Err(e)
        }
    })
}

/// Writes a snapshot of the counters to `*out`, whose `size` the caller sets to
/// `sizeof(bw_bulkhead_stats)` (at most that many bytes are written; `size` receives
/// the number written).
///
/// `BW_INVALID_ARGUMENT` for a NULL `bulkhead` or `out`, or a `size` smaller than
/// `sizeof(size_t)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_bulkhead_metrics(
    h: *const bw_bulkhead,
    out: *mut bw_bulkhead_stats,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let m = try_ref!(h).bulkhead.metrics();
        let value = bw_bulkhead_stats {
            size: 0,
            max: u64::from(m.max),
            available: u64::from(m.available),
            in_use: u64::from(m.in_use),
            waiting: u64::from(m.waiting),
            rejected: m.rejected,
            peak: u64::from(m.peak),
            acquired: m.acquired,
        };
        // SAFETY: `out` is NULL or documented as a stats structure of `out->size` bytes.
        unsafe { write_stats(out, value) }
    })
}

impl_stats!(bw_bulkhead_stats);

/// Releases a bulkhead. NULL is a no-op. Permits still held through
/// `bw_bulkhead_acquire` are simply dropped with it (nothing to release any more); it
/// must not be called while another thread uses the handle or waits in
/// `bw_bulkhead_acquire` on it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_bulkhead_free(bulkhead: *mut bw_bulkhead) {
    ffi_boundary_value!((), {
        // SAFETY: the header documents `bulkhead` as NULL or a handle from
        // `bw_bulkhead_new_json`, freed once, no longer used by other threads.
        unsafe { free_handle(bulkhead) }
    })
}

impl bw_bulkhead {
    /// The Rust bulkhead behind the handle (for pipeline stages).
    pub(crate) fn policy(&self) -> &Bulkhead {
        &self.bulkhead
    }
}

/// The default bulkhead configuration as JSON text (static, NUL-terminated, never freed):
/// every key `bw_bulkhead_new_json` accepts, unset ones as `null`.
#[unsafe(no_mangle)]
pub extern "C" fn bw_bulkhead_config_defaults_json() -> *const c_char {
    static TEXT: OnceLock<CString> = OnceLock::new();
    ffi_boundary_value!(std::ptr::null(), {
        static_text(&TEXT, defaults_json::<BulkheadJson>)
    })
}

/// The JSON Schema (draft 2020-12) of the bulkhead configuration (static, NUL-terminated,
/// never freed): types, ranges, defaults.
#[unsafe(no_mangle)]
pub extern "C" fn bw_bulkhead_config_schema_json() -> *const c_char {
    static TEXT: OnceLock<CString> = OnceLock::new();
    ffi_boundary_value!(std::ptr::null(), {
        static_text(&TEXT, schema_json::<BulkheadJson>)
    })
}
