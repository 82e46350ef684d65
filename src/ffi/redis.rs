//! Breakers and rate limiters shared by a fleet through Redis: `bw_shared_breaker`,
//! `bw_shared_rate_limiter`, and their registry accessors.
//!
//! The functions exist whatever the crate's features, so that the header is the same;
//! in a library built without the `redis` feature every one of them fails with
//! `BW_INVALID_CONFIG` and the message "built without the redis feature" (the static
//! getters return NULL).
//!
//! The JSON configuration is the local policy's (parsed by the same code: the breaker's
//! keys as for `bw_breaker_new_json`, the limiter's as for `bw_limiter_new_json`) plus
//! the Redis keys `redis_url`, `key_prefix`, `op_timeout_ms`, `flush_interval_ms`,
//! `poll_interval_ms` (defaults from the core's `RedisOptions`), and for the limiter
//! `lease`, `lease_ttl_ms`, `degraded_permits`.
#![cfg_attr(
    not(feature = "redis"),
    allow(unused_variables, unused_imports, dead_code, unreachable_code)
)]

use std::ffi::{CString, c_char, c_int, c_void};
use std::sync::OnceLock;

use super::cancel::bw_cancel;
use super::error::{FfiError, bw_error};
use super::out::{free_handle, into_handle, write_stats};
use super::registry::bw_registry;
use super::status::bw_status;
use crate::error::PolicyKind;

#[cfg(feature = "redis")]
use imp::{BreakerHandle, LimiterHandle};

/// `bw_shared_breaker_health` / `bw_shared_rate_limiter_health`: Redis answers; the
/// decisions are shared.
pub const BW_REDIS_HEALTHY: u32 = 0;
/// `bw_shared_breaker_health` / `bw_shared_rate_limiter_health`: Redis is unreachable
/// or too slow; the policy works on its local state and tries Redis again every
/// `poll_interval_ms`.
pub const BW_REDIS_DEGRADED: u32 = 1;

/// A permit of a shared breaker, returned by value by `bw_shared_breaker_try_acquire`:
/// report its outcome once with `bw_shared_breaker_record`. Plain data; a permit of an
/// ended generation is stale (`BW_STALE`); a zeroed permit is always stale.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct bw_shared_permit {
    /// The generation the call was admitted in (the shared one, or the local fallback's
    /// when `local`).
    pub generation: u64,
    /// The local fallback's clock reading at admission (when it measures durations), else 0.
    pub acquired_ns: u64,
    /// The permit holds a half-open trial slot in Redis.
    pub trial: bool,
    /// The local fallback admitted the call (Redis was unreachable).
    pub local: bool,
}

/// A snapshot of a shared breaker (`bw_shared_breaker_metrics`). Set `size` to
/// `sizeof(bw_shared_breaker_stats)` before the call; fields may be added at the end.
/// `fleet_*` are the fleet's counts as of the last reply from Redis; `total_*`,
/// `rejected_*`, `stale_dropped`, `transitions` and `opened` this process's;
/// `redis_*` its traffic with Redis.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct bw_shared_breaker_stats {
    /// In: the caller's `sizeof(bw_shared_breaker_stats)`; out: the bytes written.
    pub size: usize,
    /// The state this process acts on (`BW_STATE_*`).
    pub state: u32,
    /// `BW_REDIS_HEALTHY` or `BW_REDIS_DEGRADED`.
    pub health: u32,
    /// The shared generation as this process knows it (0: Redis never reached).
    pub generation: u64,
    /// Successes of the current generation, every process together.
    pub fleet_successes: u64,
    /// Failures of the current generation, every process together.
    pub fleet_failures: u64,
    /// The fleet's current run of consecutive failures.
    pub fleet_consecutive_failures: u64,
    /// Outcomes Redis dropped because their generation had ended (fleet, lifetime).
    pub fleet_stale_dropped: u64,
    /// Calls this process admitted.
    pub total_requests: u64,
    /// Successes this process recorded.
    pub total_successes: u64,
    /// Failures this process recorded.
    pub total_failures: u64,
    /// Ignored outcomes this process recorded.
    pub total_ignored: u64,
    /// Rejections because the breaker was open.
    pub rejected_open: u64,
    /// Rejections because the half-open trial was full.
    pub rejected_trial_full: u64,
    /// Rejections because the breaker was forced open.
    pub rejected_forced_open: u64,
    /// Outcomes of this process dropped as stale.
    pub stale_dropped: u64,
    /// Transitions this process learnt of.
    pub transitions: u64,
    /// Of which into open.
    pub opened: u64,
    /// Redis commands sent.
    pub redis_commands: u64,
    /// Redis operations that failed (unreachable or too slow).
    pub redis_errors: u64,
    /// Times the breaker became degraded.
    pub redis_degraded: u64,
    /// Times it found Redis again and resynchronised.
    pub redis_resyncs: u64,
    /// Transition notifications received over pub/sub.
    pub redis_notifications: u64,
    /// Polls of the shared state.
    pub redis_polls: u64,
    /// Outcome batches sent.
    pub redis_batches: u64,
    /// Outcomes lost to the fleet view because Redis was down.
    pub redis_outcomes_lost: u64,
    /// Scripts loaded again after the server forgot them.
    pub redis_script_reloads: u64,
}

/// A snapshot of a shared rate limiter (`bw_shared_rate_limiter_metrics`). Set `size`
/// to `sizeof(bw_shared_limiter_stats)` before the call; fields may be added at the end.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct bw_shared_limiter_stats {
    /// In: the caller's `sizeof(bw_shared_limiter_stats)`; out: the bytes written.
    pub size: usize,
    /// `BW_REDIS_HEALTHY` or `BW_REDIS_DEGRADED`.
    pub health: u32,
    /// Permits granted to this process.
    pub permitted: u64,
    /// Requests of this process refused.
    pub rejected: u64,
    /// The most permits the fleet can use beyond the quota over any interval, due to
    /// leases (0 without a lease).
    pub overshoot_bound: u64,
    /// Redis commands sent.
    pub redis_commands: u64,
    /// Redis operations that failed (unreachable or too slow).
    pub redis_errors: u64,
    /// Times the limiter became degraded.
    pub redis_degraded: u64,
    /// Times it found Redis again.
    pub redis_resyncs: u64,
}

impl_stats!(bw_shared_breaker_stats, bw_shared_limiter_stats);

/// A breaker shared through Redis. Thread-safe; free it with `bw_shared_breaker_free`
/// (the last handle on a breaker stops its background threads after a last flush,
/// bounded by `op_timeout_ms`).
pub struct bw_shared_breaker {
    #[cfg(feature = "redis")]
    inner: BreakerHandle,
}

/// A rate limiter shared through Redis. Thread-safe; free it with
/// `bw_shared_rate_limiter_free`.
pub struct bw_shared_rate_limiter {
    #[cfg(feature = "redis")]
    inner: LimiterHandle,
}

/// The error of every function in a library built without the feature.
#[cfg(not(feature = "redis"))]
fn without_redis() -> FfiError {
    FfiError::new(
        super::status::BW_INVALID_CONFIG,
        "built without the redis feature (rebuild breakwater with --features redis)",
    )
}

/// Runs `$body` (a `Result<(), FfiError>` block) with the feature, else fails.
macro_rules! with_redis {
    ($body:block) => {{
        #[cfg(feature = "redis")]
        let result: Result<(), FfiError> = $body;
        #[cfg(not(feature = "redis"))]
        let result: Result<(), FfiError> = Err(without_redis());
        result
    }};
}

/// Builds a shared breaker from JSON (`json`, `json_len` bytes; empty for the
/// defaults) into `*out`. Free it with `bw_shared_breaker_free`.
///
/// Keys: every key of `bw_breaker_new_json` (the rate policy needs a time window
/// `{"time_ms": t}`; slow-call rates are refused), and `redis_url` (`redis://`,
/// `redis+unix://` or `unix://`), `key_prefix`, `op_timeout_ms`, `flush_interval_ms`,
/// `poll_interval_ms` (`bw_shared_breaker_config_defaults_json` has the defaults). Processes
/// using the same `key_prefix` and `name` share the breaker. Connects once, within
/// `op_timeout_ms`: an unreachable Redis is not an error (the breaker starts degraded,
/// works on local state and connects when it can).
///
/// `BW_INVALID_CONFIG` naming the key for a refused configuration, a malformed
/// `redis_url`, refused credentials, a key of another type; also in a library built
/// without the redis feature. `BW_INVALID_ARGUMENT` for a NULL `out`, or `json` NULL
/// with a non-zero length.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_shared_breaker_new_json(
    json: *const c_char,
    json_len: usize,
    out: *mut *mut bw_shared_breaker,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let text = try_bytes!(json, json_len);
        let out = try_out!(out);
        with_redis!({
            let inner = imp::new_breaker(text)?;
            out.set(into_handle(bw_shared_breaker { inner }));
            Ok(())
        })
    })
}

/// Releases a shared breaker handle. NULL is a no-op. Must not be called while another
/// thread uses the handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_shared_breaker_free(breaker: *mut bw_shared_breaker) {
    ffi_boundary_value!((), {
        // SAFETY: the header documents `breaker` as NULL or a handle from a shared
        // breaker constructor, freed once, no longer used by other threads.
        unsafe { free_handle(breaker) }
    })
}

/// Asks to run one call. On `BW_OK`, `*out` receives the permit: run the call, then
/// report its outcome once with `bw_shared_breaker_record`. Closed: decided on the local
/// copy of the shared state, no Redis traffic. Half-open (or open and due): one round
/// trip to Redis for a trial slot, bounded by `op_timeout_ms`. Degraded: the local
/// fallback decides (`out->local`).
///
/// `BW_REJECTED` as `bw_breaker_try_acquire` (reason, retry-after in the error);
/// `BW_INVALID_ARGUMENT` for a NULL `breaker` or `out`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_shared_breaker_try_acquire(
    breaker: *const bw_shared_breaker,
    out: *mut bw_shared_permit,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let breaker = try_ref!(breaker);
        let out = try_out!(out);
        with_redis!({
            out.set(imp::acquire(&breaker.inner)?);
            Ok(())
        })
    })
}

/// Reports the outcome (`BW_OUTCOME_SUCCESS`, `BW_OUTCOME_FAILURE` or
/// `BW_OUTCOME_IGNORED`) of a call admitted with `permit`. Does not wait on Redis
/// (outcomes are sent in batches by a background thread).
///
/// `BW_STALE` when the permit's generation has ended (the outcome is dropped and
/// counted); `BW_INVALID_ARGUMENT` for a NULL `breaker` or an unknown outcome.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_shared_breaker_record(
    breaker: *const bw_shared_breaker,
    permit: bw_shared_permit,
    outcome: u32,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let breaker = try_ref!(breaker);
        let outcome = try_enum!(outcome as crate::breaker::Outcome);
        with_redis!({ imp::record(&breaker.inner, permit, outcome) })
    })
}

/// Runs `func(user_data)` through the shared breaker, on the calling thread: it returns
/// 0 for a success and anything else for a failure.
///
/// `BW_OK` when it ran and returned 0; `BW_FAILED` when it ran and returned non-zero;
/// in both cases `*out_result` (may be NULL) receives its return value. `BW_REJECTED`
/// when it was not run; `BW_INVALID_ARGUMENT` for a NULL `breaker` or `func`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_shared_breaker_call(
    breaker: *const bw_shared_breaker,
    func: Option<unsafe extern "C" fn(user_data: *mut c_void) -> c_int>,
    user_data: *mut c_void,
    out_result: *mut c_int,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let breaker = try_ref!(breaker);
        let f = try_callback!(func);
        with_redis!({
            let permit = imp::acquire(&breaker.inner)?;
            // SAFETY: the caller gives a valid function and the user data it expects.
            let result = unsafe { f(user_data) };
            let outcome = if result == 0 {
                crate::breaker::Outcome::Success
            } else {
                crate::breaker::Outcome::Failure
            };
            // A stale outcome (the state changed during the call) is not the caller's error.
            let _ = imp::record(&breaker.inner, permit, outcome);
            if !out_result.is_null() {
                // SAFETY: non-NULL, documented as writable for one int.
                unsafe { out_result.write(result) };
            }
            imp::call_result(result)
        })
    })
}

/// Writes the state this process acts on (`BW_STATE_*`) to `*out_state`: the local copy
/// of the shared state (an open state whose duration has passed reads as half-open), or
/// the local fallback's while degraded.
///
/// `BW_INVALID_ARGUMENT` for a NULL `breaker` or `out_state`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_shared_breaker_state(
    breaker: *const bw_shared_breaker,
    out_state: *mut u32,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let breaker = try_ref!(breaker);
        let out_state = try_out!(out_state);
        with_redis!({
            out_state.set(breaker.inner.breaker.state().code());
            Ok(())
        })
    })
}

/// Writes `BW_REDIS_HEALTHY` or `BW_REDIS_DEGRADED` to `*out_health`.
///
/// `BW_INVALID_ARGUMENT` for a NULL `breaker` or `out_health`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_shared_breaker_health(
    breaker: *const bw_shared_breaker,
    out_health: *mut u32,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let breaker = try_ref!(breaker);
        let out_health = try_out!(out_health);
        with_redis!({
            out_health.set(imp::health_code(breaker.inner.breaker.health()));
            Ok(())
        })
    })
}

/// Writes a snapshot of the breaker (see `bw_shared_breaker_stats`) to `*out`, whose
/// `size` the caller sets to `sizeof(bw_shared_breaker_stats)`.
///
/// `BW_INVALID_ARGUMENT` for a NULL `breaker` or `out`, or a `size` smaller than
/// `sizeof(size_t)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_shared_breaker_metrics(
    breaker: *const bw_shared_breaker,
    out: *mut bw_shared_breaker_stats,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let breaker = try_ref!(breaker);
        with_redis!({
            let value = imp::breaker_stats(&breaker.inner);
            // SAFETY: `out` is NULL or documented as a stats structure of `out->size` bytes.
            unsafe { write_stats(out, value) }
        })
    })
}

/// Sends this process's waiting outcomes now, on the calling thread (within
/// `op_timeout_ms`), and reads the shared state back: after it, the fleet counts of
/// `bw_shared_breaker_metrics` include every outcome this process recorded before.
///
/// `BW_FAILED` (message "redis unreachable: ...", and the breaker degrades) when Redis
/// does not answer in time; `BW_INVALID_CONFIG` when the server refuses (credentials, a
/// key of another type); `BW_INVALID_ARGUMENT` for a NULL `breaker`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_shared_breaker_flush(
    breaker: *const bw_shared_breaker,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let breaker = try_ref!(breaker);
        with_redis!({
            breaker
                .inner
                .breaker
                .flush()
                .map(|_| ())
                .map_err(imp::shared_error)
        })
    })
}

/// Closes the breaker for the whole fleet (a new generation, counts cleared).
///
/// `BW_FAILED` when Redis does not answer in time (the local fallback is reset, the
/// fleet is not); `BW_INVALID_ARGUMENT` for a NULL `breaker`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_shared_breaker_reset(
    breaker: *const bw_shared_breaker,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let breaker = try_ref!(breaker);
        with_redis!({ breaker.inner.breaker.reset().map_err(imp::shared_error) })
    })
}

/// Forces the breaker open for the whole fleet, until `bw_shared_breaker_reset`.
///
/// `BW_FAILED` when Redis does not answer in time (only the local fallback is forced
/// open); `BW_INVALID_ARGUMENT` for a NULL `breaker`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_shared_breaker_force_open(
    breaker: *const bw_shared_breaker,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let breaker = try_ref!(breaker);
        with_redis!({
            breaker
                .inner
                .breaker
                .force_open()
                .map_err(imp::shared_error)
        })
    })
}

/// The default shared breaker configuration as JSON text (static, NUL-terminated, never
/// freed): every key `bw_shared_breaker_new_json` accepts. NULL in a library built
/// without the redis feature.
#[unsafe(no_mangle)]
pub extern "C" fn bw_shared_breaker_config_defaults_json() -> *const c_char {
    static TEXT: OnceLock<CString> = OnceLock::new();
    ffi_boundary_value!(std::ptr::null(), {
        #[cfg(feature = "redis")]
        let p = super::json_config::static_text(&TEXT, imp::breaker_defaults);
        #[cfg(not(feature = "redis"))]
        let p = std::ptr::null();
        p
    })
}

/// The JSON Schema (draft 2020-12) of the shared breaker configuration (static,
/// NUL-terminated, never freed). NULL in a library built without the redis feature.
#[unsafe(no_mangle)]
pub extern "C" fn bw_shared_breaker_config_schema_json() -> *const c_char {
    static TEXT: OnceLock<CString> = OnceLock::new();
    ffi_boundary_value!(std::ptr::null(), {
        #[cfg(feature = "redis")]
        let p = super::json_config::static_text(&TEXT, imp::breaker_schema);
        #[cfg(not(feature = "redis"))]
        let p = std::ptr::null();
        p
    })
}

/// Builds a shared rate limiter from JSON (`json`, `json_len` bytes; empty for the
/// defaults) into `*out`. Free it with `bw_shared_rate_limiter_free`.
///
/// Keys: every key of `bw_limiter_new_json` (the fleet-wide quota), `lease` (permits
/// taken from Redis at once, default 1: no overshoot), `lease_ttl_ms` (how long leased
/// permits may be used; null: `lease` emission intervals), `degraded_permits` (the
/// quota per period each process enforces alone while Redis is unreachable; null: the
/// whole quota), and the Redis keys of `bw_shared_breaker_new_json`.
///
/// `BW_INVALID_CONFIG` naming the key as for `bw_shared_breaker_new_json`;
/// `BW_INVALID_ARGUMENT` for a NULL `out`, or `json` NULL with a non-zero length.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_shared_rate_limiter_new_json(
    json: *const c_char,
    json_len: usize,
    out: *mut *mut bw_shared_rate_limiter,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let text = try_bytes!(json, json_len);
        let out = try_out!(out);
        with_redis!({
            let inner = imp::new_limiter(text)?;
            out.set(into_handle(bw_shared_rate_limiter { inner }));
            Ok(())
        })
    })
}

/// Releases a shared rate limiter handle. NULL is a no-op. Must not be called while
/// another thread uses the handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_shared_rate_limiter_free(limiter: *mut bw_shared_rate_limiter) {
    ffi_boundary_value!((), {
        // SAFETY: the header documents `limiter` as NULL or a handle from a shared rate
        // limiter constructor, freed once, no longer used by other threads.
        unsafe { free_handle(limiter) }
    })
}

/// Takes one permit: from this process's lease, or from Redis (one round trip within
/// `op_timeout_ms`), or from the local limiter while degraded. Never waits for a permit.
///
/// `BW_REJECTED` (reason `BW_REASON_RATE_LIMITED`) when the fleet has none free, with
/// the wait in `err->retry_after_ns` and in `*out_retry_after_ns` (may be NULL; written
/// only on `BW_REJECTED`); `BW_INVALID_ARGUMENT` for a NULL `limiter`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_shared_rate_limiter_try_acquire(
    limiter: *const bw_shared_rate_limiter,
    out_retry_after_ns: *mut u64,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let limiter = try_ref!(limiter);
        with_redis!({
            limiter.inner.limiter.try_acquire().map_err(|r| {
                if let Some(out) = std::ptr::NonNull::new(out_retry_after_ns) {
                    // SAFETY: non-NULL, documented as writable for one `uint64_t`.
                    unsafe {
                        out.as_ptr()
                            .write(crate::clock::duration_nanos(r.retry_after))
                    };
                }
                imp::rate_limited(r)
            })
        })
    })
}

/// Takes one permit, sleeping for it only when the fleet will have one free within
/// `timeout_ns` (`UINT64_MAX`: no limit); otherwise fails at once. Blocks the calling
/// thread.
///
/// `BW_REJECTED` (with the wait in `err->retry_after_ns`) when no permit will be free
/// within the timeout; `BW_CANCELLED` when `cancel` (may be NULL) is cancelled before or
/// during the wait; `BW_INVALID_ARGUMENT` for a NULL `limiter`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_shared_rate_limiter_acquire_timeout(
    limiter: *const bw_shared_rate_limiter,
    timeout_ns: u64,
    cancel: *const bw_cancel,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let limiter = try_ref!(limiter);
        let cancel = opt_ref!(cancel).map(bw_cancel::token);
        with_redis!({ imp::acquire_timeout(&limiter.inner, timeout_ns, cancel) })
    })
}

/// Writes `BW_REDIS_HEALTHY` or `BW_REDIS_DEGRADED` to `*out_health`.
///
/// `BW_INVALID_ARGUMENT` for a NULL `limiter` or `out_health`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_shared_rate_limiter_health(
    limiter: *const bw_shared_rate_limiter,
    out_health: *mut u32,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let limiter = try_ref!(limiter);
        let out_health = try_out!(out_health);
        with_redis!({
            out_health.set(imp::health_code(limiter.inner.limiter.health()));
            Ok(())
        })
    })
}

/// Writes a snapshot of the limiter (see `bw_shared_limiter_stats`) to `*out`, whose
/// `size` the caller sets to `sizeof(bw_shared_limiter_stats)`.
///
/// `BW_INVALID_ARGUMENT` for a NULL `limiter` or `out`, or a `size` smaller than
/// `sizeof(size_t)`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_shared_rate_limiter_metrics(
    limiter: *const bw_shared_rate_limiter,
    out: *mut bw_shared_limiter_stats,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let limiter = try_ref!(limiter);
        with_redis!({
            let value = imp::limiter_stats(&limiter.inner);
            // SAFETY: `out` is NULL or documented as a stats structure of `out->size` bytes.
            unsafe { write_stats(out, value) }
        })
    })
}

/// The default shared rate limiter configuration as JSON text (static, NUL-terminated,
/// never freed). NULL in a library built without the redis feature.
#[unsafe(no_mangle)]
pub extern "C" fn bw_shared_rate_limiter_config_defaults_json() -> *const c_char {
    static TEXT: OnceLock<CString> = OnceLock::new();
    ffi_boundary_value!(std::ptr::null(), {
        #[cfg(feature = "redis")]
        let p = super::json_config::static_text(&TEXT, imp::limiter_defaults);
        #[cfg(not(feature = "redis"))]
        let p = std::ptr::null();
        p
    })
}

/// The JSON Schema (draft 2020-12) of the shared rate limiter configuration (static,
/// NUL-terminated, never freed). NULL in a library built without the redis feature.
#[unsafe(no_mangle)]
pub extern "C" fn bw_shared_rate_limiter_config_schema_json() -> *const c_char {
    static TEXT: OnceLock<CString> = OnceLock::new();
    ffi_boundary_value!(std::ptr::null(), {
        #[cfg(feature = "redis")]
        let p = super::json_config::static_text(&TEXT, imp::limiter_schema);
        #[cfg(not(feature = "redis"))]
        let p = std::ptr::null();
        p
    })
}

/// Writes to `*out` a new handle (free it with `bw_shared_breaker_free`) on the
/// registry's shared breaker named `name` (UTF-8, `name_len` bytes, not empty), building
/// it on first use; the registry's Prometheus text and health report include it.
///
/// `json` is an explicit configuration (see `bw_shared_breaker_new_json`; its `name` is
/// replaced by `name`), or NULL / empty for none: the existing shared breaker whatever
/// its configuration, or a new one with the defaults.
///
/// `BW_INVALID_CONFIG` for an invalid configuration, or when `name` is registered with a
/// different explicit configuration; `BW_INVALID_ARGUMENT` for a NULL `registry` or
/// `out`, an empty or non-UTF-8 `name`, or a NULL pointer with a non-zero length.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_registry_shared_breaker(
    registry: *const bw_registry,
    name: *const c_char,
    name_len: usize,
    json: *const c_char,
    json_len: usize,
    out: *mut *mut bw_shared_breaker,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let registry = try_ref!(registry);
        let name = try_str!(name, name_len);
        let text = try_bytes!(json, json_len);
        let out = try_out!(out);
        if name.is_empty() {
            return Err(FfiError::invalid_argument("name must not be empty"));
        }
        super::json_config::check_name(PolicyKind::CircuitBreaker, name)?;
        with_redis!({
            let inner = imp::registry_breaker(&registry.registry, name, text)?;
            out.set(into_handle(bw_shared_breaker { inner }));
            Ok(())
        })
    })
}

/// Writes to `*out` a new handle (free it with `bw_shared_rate_limiter_free`) on the
/// registry's shared rate limiter named `name`, building it on first use; as
/// `bw_registry_shared_breaker` (configuration: see `bw_shared_rate_limiter_new_json`,
/// except `lease_ttl_ms` and `degraded_permits`, which a registry limiter does not take:
/// `BW_INVALID_CONFIG`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_registry_shared_rate_limiter(
    registry: *const bw_registry,
    name: *const c_char,
    name_len: usize,
    json: *const c_char,
    json_len: usize,
    out: *mut *mut bw_shared_rate_limiter,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let registry = try_ref!(registry);
        let name = try_str!(name, name_len);
        let text = try_bytes!(json, json_len);
        let out = try_out!(out);
        if name.is_empty() {
            return Err(FfiError::invalid_argument("name must not be empty"));
        }
        super::json_config::check_name(PolicyKind::RateLimiter, name)?;
        with_redis!({
            let inner = imp::registry_limiter(&registry.registry, name, text)?;
            out.set(into_handle(bw_shared_rate_limiter { inner }));
            Ok(())
        })
    })
}

/// The name of a Redis health code (`BW_REDIS_*`): `"UP"` for `BW_REDIS_HEALTHY`,
/// `"DEGRADED"` for `BW_REDIS_DEGRADED` (the health report's words); NULL for another
/// code. Static; never fails; must not be freed. (Available without the redis feature.)
#[unsafe(no_mangle)]
pub extern "C" fn bw_redis_health_name(health: u32) -> *const c_char {
    use crate::exposition::Status;
    static NAMES: OnceLock<[CString; 2]> = OnceLock::new();
    ffi_boundary_value!(std::ptr::null(), {
        let names = NAMES.get_or_init(|| {
            [Status::Up, Status::Degraded].map(|s| CString::new(s.as_str()).unwrap_or_default())
        });
        names
            .get(health as usize)
            .map_or(std::ptr::null(), |s| s.as_ptr())
    })
}

/// The Rust side of the functions above (feature `redis`).
#[cfg(feature = "redis")]
mod imp {
    use std::time::Duration;

    use serde::{Deserialize, Serialize};
    use serde_json::{Map, Value};

    use super::{bw_shared_breaker_stats, bw_shared_limiter_stats, bw_shared_permit};
    use crate::breaker::{BreakerConfig, Outcome, Recorded};
    use crate::clock::{Clock, duration_nanos};
    use crate::ctx::CancelToken;
    use crate::error::{ConfigError, Error, PolicyKind};
    use crate::ffi::breaker::BreakerJson;
    use crate::ffi::clock::sleep_until_ns;
    use crate::ffi::error::FfiError;
    use crate::ffi::json_config::{
        JsonConfig, config_from_json, ms_field, schema, schema_json, to_ms,
    };
    use crate::ffi::ratelimit::LimiterJson;
    use crate::ffi::status::{
        BW_CANCELLED, BW_FAILED, BW_INVALID_CONFIG, BW_POLICY_CIRCUIT_BREAKER,
        BW_POLICY_RATE_LIMITER, BW_REASON_CANCELLED, BW_STALE, policy_code,
    };
    use crate::ratelimit::{RateLimited, RateLimiterConfig};
    use crate::redis::{
        Health, RawSharedPermit, RedisOptions, SharedBreaker, SharedError, SharedPolicies,
        SharedRateLimiter,
    };
    use crate::registry::Registry;

    /// What a breaker handle holds.
    pub(super) struct BreakerHandle {
        pub(super) breaker: SharedBreaker,
    }

    /// What a limiter handle holds.
    pub(super) struct LimiterHandle {
        pub(super) limiter: SharedRateLimiter,
    }

    /// The Redis keys of both policies' JSON.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[serde(default, deny_unknown_fields)]
    struct RedisJson {
        redis_url: String,
        key_prefix: String,
        op_timeout_ms: f64,
        flush_interval_ms: f64,
        poll_interval_ms: f64,
    }

    impl Default for RedisJson {
        fn default() -> Self {
            let o = RedisOptions::default();
            RedisJson {
                redis_url: o.url,
                key_prefix: o.key_prefix,
                op_timeout_ms: to_ms(o.op_timeout),
                flush_interval_ms: to_ms(o.flush_interval),
                poll_interval_ms: to_ms(o.poll_interval),
            }
        }
    }

    impl RedisJson {
        fn to_options(&self, policy: PolicyKind) -> Result<RedisOptions, ConfigError> {
            Ok(RedisOptions {
                url: self.redis_url.clone(),
                key_prefix: self.key_prefix.clone(),
                op_timeout: ms_field(policy, "op_timeout_ms", self.op_timeout_ms)?,
                flush_interval: ms_field(policy, "flush_interval_ms", self.flush_interval_ms)?,
                poll_interval: ms_field(policy, "poll_interval_ms", self.poll_interval_ms)?,
            })
        }

        fn schema() -> Vec<(&'static str, Value)> {
            vec![
                (
                    "redis_url",
                    serde_json::json!({"type": "string", "description": "the Redis server: redis://[user:password@]host[:port][/db], redis+unix:// or unix://"}),
                ),
                (
                    "key_prefix",
                    serde_json::json!({"type": "string", "minLength": 1, "description": "the prefix of the policy's Redis keys (no braces, spaces or control characters): processes with the same prefix and name share the policy"}),
                ),
                (
                    "op_timeout_ms",
                    schema::ms("the longest one Redis operation may take (1 ms to 60 s)"),
                ),
                (
                    "flush_interval_ms",
                    schema::ms("how long outcomes may wait before they are sent (1 ms to 10 s)"),
                ),
                (
                    "poll_interval_ms",
                    schema::ms("the polling backstop and reconnection pace (1 ms to 1 h)"),
                ),
            ]
        }
    }

    /// The limiter's own extra keys.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[serde(default, deny_unknown_fields)]
    struct LeaseJson {
        lease: u32,
        lease_ttl_ms: Option<f64>,
        degraded_permits: Option<u32>,
    }

    impl Default for LeaseJson {
        fn default() -> Self {
            LeaseJson {
                lease: SharedPolicies::default().lease,
                lease_ttl_ms: None,
                degraded_permits: None,
            }
        }
    }

    const REDIS_KEYS: [&str; 5] = [
        "redis_url",
        "key_prefix",
        "op_timeout_ms",
        "flush_interval_ms",
        "poll_interval_ms",
    ];
    const LEASE_KEYS: [&str; 3] = ["lease", "lease_ttl_ms", "degraded_permits"];

    /// Splits a JSON object into the policy's keys, the Redis keys and the lease keys,
    /// each as JSON text for `config_from_json` (so that each part's messages name its
    /// keys as written).
    fn split(policy: PolicyKind, text: &[u8]) -> Result<[Vec<u8>; 3], FfiError> {
        if text.iter().all(u8::is_ascii_whitespace) {
            return Ok([Vec::new(), Vec::new(), Vec::new()]);
        }
        let all: Map<String, Value> = config_from_json(policy, text)?;
        let mut parts = [Map::new(), Map::new(), Map::new()];
        for (k, v) in all {
            let i = if REDIS_KEYS.contains(&k.as_str()) {
                1
            } else if policy == PolicyKind::RateLimiter && LEASE_KEYS.contains(&k.as_str()) {
                2
            } else {
                0
            };
            parts[i].insert(k, v);
        }
        Ok(parts.map(|m| {
            if m.is_empty() {
                Vec::new()
            } else {
                serde_json::to_vec(&Value::Object(m)).unwrap_or_default()
            }
        }))
    }

    /// A Redis option's core field name as written in JSON.
    fn json_field(field: &'static str) -> &'static str {
        match field {
            "op_timeout" => "op_timeout_ms",
            "flush_interval" => "flush_interval_ms",
            "poll_interval" => "poll_interval_ms",
            "lease_ttl" => "lease_ttl_ms",
            "url" => "redis_url",
            f => f,
        }
    }

    /// A build error as the C ABI reports it: everything that waiting will not fix is a
    /// configuration to fix (`BW_INVALID_CONFIG`); an unreachable Redis (only from
    /// operations that must reach it) is `BW_FAILED`.
    pub(super) fn shared_error(e: SharedError) -> FfiError {
        match e {
            SharedError::Config(mut c) => {
                c.field = json_field(c.field);
                c.into()
            }
            SharedError::Unreachable(_) => {
                let mut f = FfiError::new(BW_FAILED, e.to_string());
                f.policy = BW_POLICY_CIRCUIT_BREAKER;
                f
            }
            other => FfiError::new(BW_INVALID_CONFIG, other.to_string()),
        }
    }

    fn with_policy(mut e: FfiError, policy: PolicyKind) -> FfiError {
        if e.policy == 0 {
            e.policy = policy_code(policy);
        }
        e
    }

    /// The breaker configuration and Redis options of a JSON text.
    fn breaker_spec(text: &[u8]) -> Result<(BreakerConfig, RedisOptions), FfiError> {
        let p = PolicyKind::CircuitBreaker;
        let [b, r, _] = split(p, text)?;
        let breaker: BreakerJson = config_from_json(p, &b)?;
        let redis: RedisJson = config_from_json(p, &r)?;
        Ok((breaker.to_config()?, redis.to_options(p)?))
    }

    pub(super) fn new_breaker(text: &[u8]) -> Result<BreakerHandle, FfiError> {
        let (config, redis) = breaker_spec(text)?;
        let breaker = SharedBreaker::builder()
            .config(config)
            .redis(redis)
            .build()
            .map_err(|e| with_policy(shared_error(e), PolicyKind::CircuitBreaker))?;
        Ok(BreakerHandle { breaker })
    }

    /// The limiter configuration, lease and Redis options of a JSON text.
    fn limiter_spec(text: &[u8]) -> Result<(RateLimiterConfig, LeaseJson, RedisOptions), FfiError> {
        let p = PolicyKind::RateLimiter;
        let [l, r, lease] = split(p, text)?;
        let limiter: LimiterJson = config_from_json(p, &l)?;
        let redis: RedisJson = config_from_json(p, &r)?;
        let lease: LeaseJson = config_from_json(p, &lease)?;
        Ok((limiter.to_config()?, lease, redis.to_options(p)?))
    }

    fn build_limiter(
        config: RateLimiterConfig,
        lease: &LeaseJson,
        redis: RedisOptions,
    ) -> Result<SharedRateLimiter, FfiError> {
        let p = PolicyKind::RateLimiter;
        let mut b = SharedRateLimiter::builder()
            .config(config)
            .lease(lease.lease)
            .redis(redis);
        if let Some(ms) = lease.lease_ttl_ms {
            b = b.lease_ttl(ms_field(p, "lease_ttl_ms", ms)?);
        }
        if let Some(n) = lease.degraded_permits {
            b = b.degraded_permits(n);
        }
        b.build().map_err(|e| with_policy(shared_error(e), p))
    }

    pub(super) fn new_limiter(text: &[u8]) -> Result<LimiterHandle, FfiError> {
        let (config, lease, redis) = limiter_spec(text)?;
        Ok(LimiterHandle {
            limiter: build_limiter(config, &lease, redis)?,
        })
    }

    pub(super) fn acquire(h: &BreakerHandle) -> Result<bw_shared_permit, FfiError> {
        h.breaker
            .try_acquire_raw()
            .map(|p| bw_shared_permit {
                generation: p.generation,
                acquired_ns: p.acquired_nanos,
                trial: p.trial,
                local: p.local,
            })
            .map_err(|r| FfiError::rejected(PolicyKind::CircuitBreaker, r.reason, r.retry_after))
    }

    pub(super) fn record(
        h: &BreakerHandle,
        p: bw_shared_permit,
        outcome: Outcome,
    ) -> Result<(), FfiError> {
        let raw = RawSharedPermit {
            generation: p.generation,
            acquired_nanos: p.acquired_ns,
            trial: p.trial,
            local: p.local,
        };
        match h.breaker.record_raw(raw, outcome) {
            Recorded::Recorded => Ok(()),
            Recorded::Stale => {
                let mut e = FfiError::new(
                    BW_STALE,
                    format!(
                        "the permit of generation {} is stale (the shared breaker changed \
                         state since): its outcome was dropped",
                        p.generation
                    ),
                );
                e.policy = BW_POLICY_CIRCUIT_BREAKER;
                Err(e)
            }
        }
    }

    pub(super) fn call_result(result: i32) -> Result<(), FfiError> {
        if result == 0 {
            return Ok(());
        }
        let mut e = FfiError::new(
            BW_FAILED,
            format!("the guarded function failed (returned {result})"),
        );
        e.policy = BW_POLICY_CIRCUIT_BREAKER;
        Err(e)
    }

    pub(super) fn health_code(h: Health) -> u32 {
        match h {
            Health::Healthy => super::BW_REDIS_HEALTHY,
            Health::Degraded => super::BW_REDIS_DEGRADED,
        }
    }

    pub(super) fn breaker_stats(h: &BreakerHandle) -> bw_shared_breaker_stats {
        let b = &h.breaker;
        let m = b.metrics();
        let f = b.fleet();
        let r = b.redis_metrics();
        let t = m.totals;
        bw_shared_breaker_stats {
            size: 0,
            state: m.state.code(),
            health: health_code(b.health()),
            generation: m.generation,
            fleet_successes: f.successes,
            fleet_failures: f.failures,
            fleet_consecutive_failures: f.consecutive_failures,
            fleet_stale_dropped: f.stale_dropped,
            total_requests: t.requests,
            total_successes: t.successes,
            total_failures: t.failures,
            total_ignored: t.ignored,
            rejected_open: t.rejected_open,
            rejected_trial_full: t.rejected_trial_full,
            rejected_forced_open: t.rejected_forced_open,
            stale_dropped: t.stale_dropped,
            transitions: t.transitions,
            opened: t.opened,
            redis_commands: r.commands,
            redis_errors: r.errors,
            redis_degraded: r.degraded,
            redis_resyncs: r.resyncs,
            redis_notifications: r.notifications,
            redis_polls: r.polls,
            redis_batches: r.batches,
            redis_outcomes_lost: r.outcomes_lost,
            redis_script_reloads: r.script_reloads,
        }
    }

    pub(super) fn limiter_stats(h: &LimiterHandle) -> bw_shared_limiter_stats {
        let l = &h.limiter;
        let (permitted, rejected) = l.granted_rejected();
        let r = l.redis_metrics();
        bw_shared_limiter_stats {
            size: 0,
            health: health_code(l.health()),
            permitted,
            rejected,
            overshoot_bound: l.overshoot_bound(),
            redis_commands: r.commands,
            redis_errors: r.errors,
            redis_degraded: r.degraded,
            redis_resyncs: r.resyncs,
        }
    }

    pub(super) fn rate_limited(r: RateLimited) -> FfiError {
        FfiError::from_error(&Error::<&str>::from(r))
    }

    pub(super) fn acquire_timeout(
        h: &LimiterHandle,
        timeout_ns: u64,
        cancel: Option<&CancelToken>,
    ) -> Result<(), FfiError> {
        let clock = Clock::monotonic();
        let deadline = clock.nanos().saturating_add(timeout_ns);
        let cancelled = || {
            let mut e = FfiError::new(BW_CANCELLED, "shared rate limiter wait cancelled");
            e.policy = BW_POLICY_RATE_LIMITER;
            e.reason = BW_REASON_CANCELLED;
            e
        };
        loop {
            if cancel.is_some_and(CancelToken::is_cancelled) {
                return Err(cancelled());
            }
            let r = match h.limiter.try_acquire() {
                Ok(()) => return Ok(()),
                Err(r) => r,
            };
            let wait = r.retry_after.max(Duration::from_micros(50));
            let free_at = clock.nanos().saturating_add(duration_nanos(wait));
            if free_at > deadline || r.retry_after == Duration::MAX {
                return Err(rate_limited(r));
            }
            if !sleep_until_ns(&clock, free_at, cancel) {
                return Err(cancelled());
            }
        }
    }

    /// `base`'s properties with `extra` appended (for the schemas).
    fn extend_schema(mut base: Value, extra: Vec<(&'static str, Value)>) -> Value {
        if let Some(props) = base.get_mut("properties").and_then(Value::as_object_mut) {
            for (k, v) in extra {
                props.insert(k.to_owned(), v);
            }
        }
        base
    }

    /// Two JSON objects as one (for the defaults).
    fn merge(parts: &[Value]) -> String {
        let mut all = Map::new();
        for p in parts {
            if let Value::Object(m) = p {
                all.extend(m.clone());
            }
        }
        Value::Object(all).to_string()
    }

    fn to_value<T: Serialize>(t: &T) -> Value {
        serde_json::to_value(t).unwrap_or(Value::Null)
    }

    pub(super) fn breaker_defaults() -> String {
        merge(&[
            to_value(&BreakerJson::default()),
            to_value(&RedisJson::default()),
        ])
    }

    pub(super) fn limiter_defaults() -> String {
        merge(&[
            to_value(&LimiterJson::default()),
            to_value(&LeaseJson::default()),
            to_value(&RedisJson::default()),
        ])
    }

    /// The schema of `J` with `extra` properties (defaults filled from `defaults`).
    fn schema_with<J: JsonConfig>(
        title: &str,
        extra: Vec<(&'static str, Value)>,
        defaults: &[Value],
    ) -> String {
        let mut schema: Value = serde_json::from_str(&schema_json::<J>()).unwrap_or(Value::Null);
        schema = extend_schema(schema, extra);
        if let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut) {
            for d in defaults {
                if let Value::Object(m) = d {
                    for (k, v) in m {
                        if let Some(Value::Object(p)) = props.get_mut(k) {
                            p.insert("default".into(), v.clone());
                        }
                    }
                }
            }
        }
        if let Value::Object(m) = &mut schema {
            m.insert("title".into(), Value::String(title.to_owned()));
        }
        schema.to_string()
    }

    pub(super) fn breaker_schema() -> String {
        schema_with::<BreakerJson>(
            "breakwater shared circuit breaker configuration",
            RedisJson::schema(),
            &[to_value(&RedisJson::default())],
        )
    }

    pub(super) fn limiter_schema() -> String {
        let u32max = u64::from(u32::MAX);
        let mut extra = RedisJson::schema();
        extra.push((
            "lease",
            schema::integer(
                1,
                u32max,
                "permits taken from Redis in one round trip (at most the burst); 1: no overshoot",
            ),
        ));
        extra.push((
            "lease_ttl_ms",
            schema::nullable(schema::ms(
                "how long leased permits may be used (> 0); null: lease emission intervals",
            )),
        ));
        extra.push((
            "degraded_permits",
            schema::nullable(schema::integer(
                1,
                u32max,
                "the quota per period each process enforces alone while Redis is unreachable; null: permits",
            )),
        ));
        schema_with::<LimiterJson>(
            "breakwater shared rate limiter configuration",
            extra,
            &[
                to_value(&RedisJson::default()),
                to_value(&LeaseJson::default()),
            ],
        )
    }

    /// `registry`'s shared breaker `name`: the existing one when `text` is empty,
    /// else the one with this configuration.
    pub(super) fn registry_breaker(
        registry: &Registry,
        name: &str,
        text: &[u8],
    ) -> Result<BreakerHandle, FfiError> {
        let p = PolicyKind::CircuitBreaker;
        let explicit = !text.iter().all(u8::is_ascii_whitespace);
        if !explicit {
            if let Some(breaker) = crate::redis::registered_breaker(registry, name) {
                return Ok(BreakerHandle { breaker });
            }
        }
        let (breaker, redis) = breaker_spec(text)?;
        let spec = SharedPolicies {
            breaker,
            redis,
            ..SharedPolicies::default()
        };
        let breaker = registry
            .shared_breaker(name, &spec)
            .map_err(|e| with_policy(shared_error(e), p))?;
        Ok(BreakerHandle { breaker })
    }

    /// As [`registry_breaker`], for limiters.
    pub(super) fn registry_limiter(
        registry: &Registry,
        name: &str,
        text: &[u8],
    ) -> Result<LimiterHandle, FfiError> {
        let p = PolicyKind::RateLimiter;
        let explicit = !text.iter().all(u8::is_ascii_whitespace);
        if !explicit {
            if let Some(limiter) = crate::redis::registered_limiter(registry, name) {
                return Ok(LimiterHandle { limiter });
            }
        }
        let (limiter, lease, redis) = limiter_spec(text)?;
        if lease.lease_ttl_ms.is_some() || lease.degraded_permits.is_some() {
            return Err(ConfigError::new(
                p,
                "lease_ttl_ms",
                "lease_ttl_ms and degraded_permits are not available through the registry (use bw_shared_rate_limiter_new_json)",
            )
            .into());
        }
        let spec = SharedPolicies {
            limiter,
            lease: lease.lease,
            redis,
            ..SharedPolicies::default()
        };
        let limiter = registry
            .shared_rate_limiter(name, &spec)
            .map_err(|e| with_policy(shared_error(e), p))?;
        Ok(LimiterHandle { limiter })
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn the_json_is_the_local_policy_keys_plus_the_redis_keys() {
            let (c, r) = breaker_spec(
                br#"{"name": "authors", "consecutive_failures": 3, "redis_url": "redis://h:1/", "op_timeout_ms": 20}"#,
            )
            .unwrap();
            assert_eq!(c.name, "authors");
            assert_eq!(r.url, "redis://h:1/");
            assert_eq!(r.op_timeout, Duration::from_millis(20));
            assert_eq!(r.key_prefix, RedisOptions::default().key_prefix);
        }

        #[test]
        fn an_unknown_key_is_named() {
            let e = breaker_spec(br#"{"redis_ur": "x"}"#).unwrap_err();
            assert!(
                e.message.to_string().contains("\"redis_ur\""),
                "{}",
                e.message.to_string()
            );
            let e = breaker_spec(br#"{"op_timeout_ms": -1}"#).unwrap_err();
            assert!(
                e.message.to_string().contains("op_timeout_ms"),
                "{}",
                e.message.to_string()
            );
        }

        #[test]
        fn a_redis_option_out_of_range_is_named_as_written() {
            let e = new_breaker(br#"{"poll_interval_ms": 0}"#).err().unwrap();
            assert_eq!(e.status, BW_INVALID_CONFIG);
            assert!(
                e.message.to_string().contains("poll_interval_ms"),
                "{}",
                e.message.to_string()
            );
        }

        #[test]
        fn the_defaults_parse_back_and_the_schema_lists_them() {
            let d = breaker_defaults();
            assert!(breaker_spec(d.as_bytes()).is_ok(), "{d}");
            let v: Value = serde_json::from_str(&breaker_schema()).unwrap();
            let defaults: Value = serde_json::from_str(&d).unwrap();
            for (k, want) in defaults.as_object().unwrap() {
                assert_eq!(&v["properties"][k]["default"], want, "{k}");
            }
            let d = limiter_defaults();
            assert!(limiter_spec(d.as_bytes()).is_ok(), "{d}");
            let v: Value = serde_json::from_str(&limiter_schema()).unwrap();
            assert_eq!(v["properties"]["lease"]["default"], 1);
        }
    }
}
