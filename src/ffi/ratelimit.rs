//! The rate limiter: `bw_limiter` (JSON configuration), non-blocking and bounded-wait
//! acquisition, metrics.

use std::ffi::{CString, c_char};
use std::sync::OnceLock;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::cancel::bw_cancel;
use super::clock::{bw_clock, sleep_until_ns};
use super::error::{FfiError, bw_error};
use super::json_config::{
    JsonConfig, check_name, defaults_json, ms_field, new_json, schema, schema_json, static_text,
    to_ms,
};
use super::out::{free_handle, write_stats};
use super::status::{BW_CANCELLED, BW_POLICY_RATE_LIMITER, bw_status};
use crate::clock::Clock;
use crate::clock::duration_nanos;
use crate::error::{ConfigError, Error, PolicyKind};
use crate::ratelimit::{RateLimited, RateLimiter, RateLimiterConfig};

/// The JSON configuration of `bw_limiter_new_json`. Durations are `*_ms` fields (JSON
/// numbers of milliseconds, fractions allowed).
///
/// ```json
/// {"name": "search", "permits": 10, "period_ms": 1000, "burst": 5, "max_wait_ms": 0}
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimiterJson {
    /// The limiter's name. Defaults to `"default"`.
    pub name: String,
    /// Permits granted per `period_ms` (at least 1). Defaults to 100.
    pub permits: u32,
    /// The period, in ms (non-zero). Defaults to 1000.
    pub period_ms: f64,
    /// How many permits a quiet caller may take at once (at least 1). Defaults to
    /// `permits`.
    pub burst: Option<u32>,
    /// How long a call may wait for a permit, in ms (for the bindings' `call`). Defaults
    /// to 0.
    pub max_wait_ms: f64,
}

impl Default for LimiterJson {
    fn default() -> Self {
        LimiterJson::from_config(&RateLimiterConfig::default())
    }
}

impl JsonConfig for LimiterJson {
    const POLICY: PolicyKind = PolicyKind::RateLimiter;
    type Handle = bw_limiter;

    fn build(self, clock: Clock) -> Result<bw_limiter, FfiError> {
        let limiter = RateLimiter::builder()
            .config(self.to_config()?)
            .clock(clock)
            .build()?;
        Ok(bw_limiter { limiter })
    }

    fn schema() -> serde_json::Value {
        let u32max = u64::from(u32::MAX);
        schema::object(
            vec![
                ("name", schema::name("the limiter's name")),
                ("permits", schema::integer(1, u32max, "permits per period")),
                ("period_ms", schema::ms("the period (> 0)")),
                (
                    "burst",
                    schema::nullable(schema::integer(
                        1,
                        u32max,
                        "permits that may be taken at once; null: permits",
                    )),
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

impl LimiterJson {
    /// The Rust configuration (the builder checks the values).
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming a `*_ms` field that is negative or too large.
    pub fn to_config(&self) -> Result<RateLimiterConfig, ConfigError> {
        check_name(PolicyKind::RateLimiter, &self.name)?;
        let ms = |field, v| ms_field(PolicyKind::RateLimiter, field, v);
        Ok(RateLimiterConfig {
            name: self.name.clone(),
            permits: self.permits,
            period: ms("period_ms", self.period_ms)?,
            burst: self.burst,
            max_wait: ms("max_wait_ms", self.max_wait_ms)?,
        })
    }

    /// The JSON form of a Rust configuration.
    pub fn from_config(c: &RateLimiterConfig) -> LimiterJson {
        LimiterJson {
            name: c.name.clone(),
            permits: c.permits,
            period_ms: to_ms(c.period),
            burst: c.burst,
            max_wait_ms: to_ms(c.max_wait),
        }
    }
}

/// A rate limiter (GCRA): `permits` per `period` with a `burst`. Thread-safe.
pub struct bw_limiter {
    pub(crate) limiter: RateLimiter,
}

/// A snapshot of a rate limiter's counters (`bw_limiter_metrics`). Set `size` to
/// `sizeof(bw_limiter_stats)` before the call; fields may be added at the end.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct bw_limiter_stats {
    /// The size of the structure the caller knows (in) / of what was written (out).
    pub size: usize,
    /// Permits granted.
    pub permitted: u64,
    /// Requests refused.
    pub rejected: u64,
    /// Requests granted after a wait.
    pub waited: u64,
    /// Permits free now.
    pub available: u64,
    /// The burst.
    pub burst: u64,
    /// The interval between two permits in steady state, in nanoseconds.
    pub emission_interval_ns: u64,
}

fn rejected(r: RateLimited) -> FfiError {
    FfiError::from_error(&Error::<&str>::from(r))
}

/// Creates a rate limiter from JSON configuration (`json`, `json_len` bytes; empty for
/// the defaults: 100 permits per 1000 ms) into `*out`, on `clock` (may be NULL: the
/// monotonic clock). Fields: `name`, `permits`, `period_ms`, `burst`, `max_wait_ms`.
/// Free it with `bw_limiter_free`.
///
/// `BW_INVALID_CONFIG` (naming the field) for bad JSON or a refused value;
/// `BW_INVALID_ARGUMENT` for a NULL `out`, or `json` NULL with a non-zero length.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_limiter_new_json(
    json: *const c_char,
    json_len: usize,
    clock: *const bw_clock,
    out: *mut *mut bw_limiter,
    err: *mut bw_error,
) -> bw_status {
    // SAFETY: the parameters are as documented for `new_json`.
    unsafe { new_json::<LimiterJson>(json, json_len, clock, out, err) }
}

/// Takes `n` permits if they are all free now; never waits (`n` = 0 always succeeds).
///
/// `BW_REJECTED` (reason `BW_REASON_RATE_LIMITED`) when they are not, with the exact
/// wait until they are in `err->retry_after_ns` and in `*out_retry_after_ns` (may be
/// NULL; written only on `BW_REJECTED`, the point of this out-parameter); a request
/// larger than the burst never fits: its wait is `UINT64_MAX`.
/// `BW_INVALID_ARGUMENT` for a NULL `limiter`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_limiter_try_acquire(
    limiter: *const bw_limiter,
    n: u32,
    out_retry_after_ns: *mut u64,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let limiter = try_ref!(limiter);
        match limiter.limiter.try_acquire_n(n) {
            Ok(()) => Ok(()),
            Err(r) => {
                if let Some(out) = std::ptr::NonNull::new(out_retry_after_ns) {
                    // SAFETY: non-NULL, documented as writable for one `uint64_t`.
                    unsafe { out.as_ptr().write(duration_nanos(r.retry_after)) };
                }
                Err(rejected(r))
            }
        }
    })
}

/// Takes one permit, waiting for it only when it will be free within `timeout_ns`
/// (`UINT64_MAX`: no limit); otherwise fails at once without waiting. Blocks the calling
/// thread through the limiter's clock (a manual clock is advanced instead of waited
/// on). A permit is taken only at its time (the wait is not a reservation): under
/// contention the call may wait again, never past the timeout.
///
/// `BW_REJECTED` (with the wait in `err->retry_after_ns`) when no permit will be free
/// within the timeout; `BW_CANCELLED` when `cancel` (may be NULL) is cancelled before
/// or during the wait (a cancel wakes it at once); `BW_INVALID_ARGUMENT` for a NULL
/// `limiter`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_limiter_acquire_timeout(
    limiter: *const bw_limiter,
    timeout_ns: u64,
    cancel: *const bw_cancel,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let limiter = try_ref!(limiter);
        let cancel = opt_ref!(cancel).map(bw_cancel::token);
        let l = &limiter.limiter;
        let clock = l.clock();
        let deadline = clock.nanos().saturating_add(timeout_ns);
        let cancelled = || {
            let mut e = FfiError::new(BW_CANCELLED, "rate limiter wait cancelled");
            e.policy = BW_POLICY_RATE_LIMITER;
            e.reason = super::status::BW_REASON_CANCELLED;
            e
        };
        loop {
            if cancel.is_some_and(|t| t.is_cancelled()) {
                return Err(cancelled());
            }
            let r = match l.try_acquire() {
                Ok(()) => return Ok(()),
                Err(r) => r,
            };
            let now = clock.nanos();
            let free_at = now.saturating_add(duration_nanos(r.retry_after));
            if free_at > deadline || r.retry_after == Duration::MAX {
                return Err(rejected(r));
            }
            if !sleep_until_ns(clock, free_at, cancel) {
                return Err(cancelled());
            }
        }
    })
}

/// Writes a snapshot of the counters to `*out`, whose `size` the caller sets to
/// `sizeof(bw_limiter_stats)` (at most that many bytes are written; `size` receives
/// the number written).
///
/// `BW_INVALID_ARGUMENT` for a NULL `limiter` or `out`, or a `size` smaller than
/// `sizeof(size_t)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_limiter_metrics(
    h: *const bw_limiter,
    out: *mut bw_limiter_stats,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let m = try_ref!(h).limiter.metrics();
        let value = bw_limiter_stats {
            size: 0,
            permitted: m.permitted,
            rejected: m.rejected,
            waited: m.waited,
            available: u64::from(m.available),
            burst: u64::from(m.burst),
            emission_interval_ns: duration_nanos(m.emission_interval),
        };
        // SAFETY: `out` is NULL or documented as a stats structure of `out->size` bytes.
        unsafe { write_stats(out, value) }
    })
}

impl_stats!(bw_limiter_stats);

/// Releases a rate limiter. NULL is a no-op; must not be called while another thread
/// uses (or waits on) the handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_limiter_free(limiter: *mut bw_limiter) {
    ffi_boundary_value!((), {
        // SAFETY: the header documents `limiter` as NULL or a handle from
        // `bw_limiter_new_json`, freed once, no longer used by other threads.
        unsafe { free_handle(limiter) }
    })
}

impl bw_limiter {
    /// The Rust rate limiter behind the handle (for pipeline stages).
    pub(crate) fn policy(&self) -> &RateLimiter {
        &self.limiter
    }
}

/// The default rate limiter configuration as JSON text (static, NUL-terminated, never freed):
/// every key `bw_limiter_new_json` accepts, unset ones as `null`.
#[unsafe(no_mangle)]
pub extern "C" fn bw_limiter_config_defaults_json() -> *const c_char {
    static TEXT: OnceLock<CString> = OnceLock::new();
    ffi_boundary_value!(std::ptr::null(), {
        static_text(&TEXT, defaults_json::<LimiterJson>)
    })
}

/// The JSON Schema (draft 2020-12) of the rate limiter configuration (static, NUL-terminated,
/// never freed): types, ranges, defaults.
#[unsafe(no_mangle)]
pub extern "C" fn bw_limiter_config_schema_json() -> *const c_char {
    static TEXT: OnceLock<CString> = OnceLock::new();
    ffi_boundary_value!(std::ptr::null(), {
        static_text(&TEXT, schema_json::<LimiterJson>)
    })
}
