//! The registry of named policies (`bw_registry`): breakers, bulkheads and rate limiters
//! shared by name, and what it exports: the Prometheus text of every policy
//! (`bw_registry_prometheus`) and the JSON health report (`bw_registry_health_json`).
//! Also the sentence describing a breaker transition (`bw_breaker_describe_transition`),
//! the text the Rust `tracing` event carries.

use std::ffi::c_char;

use super::breaker::transition_code;
use super::breaker::{BreakerJson, Shared, bw_breaker, bw_breaker_event};
use super::bulkhead::{BulkheadJson, bw_bulkhead};
use super::clock::{bw_clock, clock_or_monotonic};
use super::describe::TRANSITIONS;
use super::error::{FfiError, bw_error};
use super::json_config::{check_name, config_from_json};
use super::out::{copy_text, free_handle, into_handle};
use super::ratelimit::{LimiterJson, bw_limiter};
use super::status::bw_status;
use crate::breaker::{BreakerConfig, State};
use crate::error::{ConfigError, PolicyKind};
use crate::exposition::{Collector, Exporter, Health};
use crate::ratelimit::{RateLimiter, RateLimiterConfig};
use crate::registry::Registry;

/// A registry of named policies: the same name gives handles on the same breaker,
/// bulkhead or rate limiter, and every policy it built is exported by
/// `bw_registry_prometheus` and `bw_registry_health_json`. Thread-safe; free it with
/// `bw_registry_free` (handles stay valid).
pub struct bw_registry {
    pub(crate) registry: Registry,
}

/// A registry breaker exports what its breaker exports.
impl Exporter for Shared {
    fn samples(&self, out: &mut Collector) {
        self.breaker.samples(out);
    }

    fn health(&self, out: &mut Health) {
        self.breaker.health(out);
    }
}

/// Creates an empty registry into `*out`. Free it with `bw_registry_free`.
///
/// `BW_INVALID_ARGUMENT` for a NULL `out`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_registry_new(
    out: *mut *mut bw_registry,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let out = try_out!(out);
        out.set(into_handle(bw_registry {
            registry: Registry::new(),
        }));
        Ok(())
    })
}

/// Releases a registry. NULL is a no-op. Handles it gave stay valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_registry_free(registry: *mut bw_registry) {
    ffi_boundary_value!((), {
        // SAFETY: the header documents `registry` as NULL or a handle from
        // `bw_registry_new`, freed once, no longer used by other threads.
        unsafe { free_handle(registry) }
    })
}

/// A registry name: not empty, valid for `kind`.
fn registry_name(kind: PolicyKind, name: &str) -> Result<(), FfiError> {
    if name.is_empty() {
        return Err(FfiError::invalid_argument("name must not be empty"));
    }
    check_name(kind, name)?;
    Ok(())
}

/// `None` for an absent configuration (NULL, empty or only whitespace).
fn explicit(text: &[u8]) -> Option<&[u8]> {
    (!text.iter().all(u8::is_ascii_whitespace)).then_some(text)
}

fn conflict(kind: PolicyKind, name: &str) -> FfiError {
    ConfigError::new(
        kind,
        "name",
        format!("{name:?} is already registered with a different configuration"),
    )
    .into()
}

/// Writes to `*out` a new handle (free it with `bw_breaker_free`) on the registry's
/// breaker named `name` (UTF-8, `name_len` bytes, not empty), building it on first use.
///
/// `json` (`json_len` bytes) is an explicit configuration (see
/// `bw_breaker_new_json`; its `name` is replaced by `name`), or NULL / empty for
/// none: the existing breaker whatever its configuration, or a new one with the default
/// configuration. `clock` (may be NULL: monotonic) is used only when the breaker is
/// built. Registry breakers have no event callback (events can be polled, by any
/// handle). The breaker is exported by `bw_registry_prometheus` and
/// `bw_registry_health_json`.
///
/// `BW_INVALID_CONFIG` for an invalid configuration, or when `name` is registered with a
/// different explicit configuration; `BW_INVALID_ARGUMENT` for a NULL `registry` or
/// `out`, an empty or non-UTF-8 `name`, or a NULL pointer with a non-zero length.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_registry_breaker(
    registry: *const bw_registry,
    name: *const c_char,
    name_len: usize,
    json: *const c_char,
    json_len: usize,
    clock: *const bw_clock,
    out: *mut *mut bw_breaker,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let registry = try_ref!(registry);
        let name = try_str!(name, name_len);
        let text = try_bytes!(json, json_len);
        let clock = opt_ref!(clock);
        let out = try_out!(out);
        registry_name(PolicyKind::CircuitBreaker, name)?;
        let explicit = match explicit(text) {
            None => None,
            Some(text) => {
                let j: BreakerJson = config_from_json(PolicyKind::CircuitBreaker, text)?;
                let mut config = j.to_config()?;
                name.clone_into(&mut config.name);
                config.validate()?;
                Some(config)
            }
        };
        // The registered instance's own configuration is the reference (it carries the
        // name even when it was built from the default).
        let shared = registry.registry.get_or_build_exported(
            PolicyKind::CircuitBreaker,
            name,
            None::<BreakerConfig>,
            |default| {
                let config = explicit.clone().unwrap_or_else(|| {
                    let mut c = default.clone();
                    name.clone_into(&mut c.name);
                    c
                });
                Shared::build(config, clock_or_monotonic(clock), None)
            },
        )?;
        if explicit
            .as_ref()
            .is_some_and(|c| shared.breaker.config() != c)
        {
            return Err(conflict(PolicyKind::CircuitBreaker, name));
        }
        out.set(into_handle(bw_breaker { shared }));
        Ok(())
    })
}

/// Writes to `*out` a new handle (free it with `bw_bulkhead_free`) on the registry's
/// bulkhead named `name` (UTF-8, `name_len` bytes, not empty), building it on first use
/// on the monotonic clock.
///
/// `json` (`json_len` bytes) is an explicit configuration (see `bw_bulkhead_new_json`;
/// its `name` is replaced by `name`), or NULL / empty for none: the existing bulkhead
/// whatever its configuration, or a new one with the default configuration. Handles of
/// the same name share their permits. The bulkhead is exported by
/// `bw_registry_prometheus`.
///
/// `BW_INVALID_CONFIG` for an invalid configuration, or when `name` is registered with a
/// different explicit configuration; `BW_INVALID_ARGUMENT` for a NULL `registry` or
/// `out`, an empty or non-UTF-8 `name`, or a NULL pointer with a non-zero length.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_registry_bulkhead(
    registry: *const bw_registry,
    name: *const c_char,
    name_len: usize,
    json: *const c_char,
    json_len: usize,
    out: *mut *mut bw_bulkhead,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let registry = try_ref!(registry);
        let name = try_str!(name, name_len);
        let text = try_bytes!(json, json_len);
        let out = try_out!(out);
        registry_name(PolicyKind::Bulkhead, name)?;
        let bulkhead = match explicit(text) {
            None => registry.registry.bulkhead(name)?,
            Some(text) => {
                let j: BulkheadJson = config_from_json(PolicyKind::Bulkhead, text)?;
                registry.registry.bulkhead_with(name, j.to_config()?)?
            }
        };
        out.set(into_handle(bw_bulkhead { bulkhead }));
        Ok(())
    })
}

/// Writes to `*out` a new handle (free it with `bw_limiter_free`) on the registry's rate
/// limiter named `name` (UTF-8, `name_len` bytes, not empty), building it on first use.
///
/// `json` (`json_len` bytes) is an explicit configuration (see `bw_limiter_new_json`;
/// its `name` is replaced by `name`), or NULL / empty for none: the existing limiter
/// whatever its configuration, or a new one with the default configuration. `clock`
/// (may be NULL: monotonic) is used only when the limiter is built. Handles of the same
/// name share their permits. The limiter is exported by `bw_registry_prometheus`.
///
/// `BW_INVALID_CONFIG` for an invalid configuration, or when `name` is registered with a
/// different explicit configuration; `BW_INVALID_ARGUMENT` for a NULL `registry` or
/// `out`, an empty or non-UTF-8 `name`, or a NULL pointer with a non-zero length.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_registry_rate_limiter(
    registry: *const bw_registry,
    name: *const c_char,
    name_len: usize,
    json: *const c_char,
    json_len: usize,
    clock: *const bw_clock,
    out: *mut *mut bw_limiter,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let registry = try_ref!(registry);
        let name = try_str!(name, name_len);
        let text = try_bytes!(json, json_len);
        let clock = clock_or_monotonic(opt_ref!(clock));
        let out = try_out!(out);
        registry_name(PolicyKind::RateLimiter, name)?;
        let build = |c: &RateLimiterConfig| {
            RateLimiter::builder()
                .config(c.clone())
                .clock(clock.clone())
                .build()
        };
        let r = &registry.registry;
        let kind = PolicyKind::RateLimiter;
        // Registered configurations always carry the registry name (as Rust's
        // `Registry::rate_limiter` keeps them), so that explicit ones compare like with
        // like.
        let limiter = match explicit(text) {
            Some(text) => {
                let j: LimiterJson = config_from_json(kind, text)?;
                let mut config = j.to_config()?;
                name.clone_into(&mut config.name);
                r.get_or_build_exported(kind, name, Some(config), build)?
            }
            None => {
                let mut config = r.default_config::<RateLimiterConfig>().unwrap_or_default();
                name.clone_into(&mut config.name);
                match r.get_or_build_exported(kind, name, Some(config.clone()), build) {
                    // Registered with another configuration: without an explicit one the
                    // registered limiter is the answer.
                    Err(e) if e.field == "name" => {
                        r.get_or_build_exported(kind, name, None, |_: &RateLimiterConfig| {
                            build(&config)
                        })?
                    }
                    other => other?,
                }
            }
        };
        out.set(into_handle(bw_limiter { limiter }));
        Ok(())
    })
}

/// Copies the Prometheus text (the OpenMetrics text format 1.0.0, UTF-8, NUL-terminated)
/// of every policy in the registry into `buf`, and its length without the NUL into
/// `*out_len`: the text Rust's `breakwater::exposition::prometheus` gives, written by
/// the official client library (families `breakwater_breaker_*`, `breakwater_bulkhead_*`,
/// `breakwater_rate_limiter_*`; a counter's `# HELP` and `# TYPE` lines name it without
/// its samples' `_total`; the text ends with `# EOF`, which is all an empty registry
/// gives). Serve it at `/metrics` with the content type
/// `application/openmetrics-text; version=1.0.0; charset=utf-8`.
///
/// `BW_BUFFER_TOO_SMALL` when `len` is less than the length plus one (`*out_len`
/// receives the length, `buf` is not written; `buf` may be NULL when `len` is 0): the
/// text can grow between two calls, so ask again with a larger buffer.
/// `BW_INVALID_ARGUMENT` for a NULL `registry` or `out_len`, or a NULL `buf` with a
/// non-zero `len`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_registry_prometheus(
    registry: *const bw_registry,
    buf: *mut c_char,
    len: usize,
    out_len: *mut usize,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let registry = try_ref!(registry);
        let text = crate::exposition::prometheus(&registry.registry);
        // SAFETY: as documented for this function's parameters.
        unsafe { copy_text(&text, buf, len, out_len) }
    })
}

/// The HTTP content type of `bw_registry_prometheus`'s text (OpenMetrics 1.0):
/// `"application/openmetrics-text; version=1.0.0; charset=utf-8"` (Rust's
/// `breakwater::exposition::CONTENT_TYPE`). Static; never fails; must not be freed.
#[unsafe(no_mangle)]
pub extern "C" fn bw_registry_prometheus_content_type() -> *const c_char {
    static TEXT: std::sync::OnceLock<std::ffi::CString> = std::sync::OnceLock::new();
    ffi_boundary_value!(std::ptr::null(), {
        TEXT.get_or_init(|| {
            std::ffi::CString::new(crate::exposition::CONTENT_TYPE).unwrap_or_default()
        })
        .as_ptr()
    })
}

/// Copies the JSON health report (UTF-8, NUL-terminated) of the registry's breakers into
/// `buf`, and its length without the NUL into `*out_len`: the text Rust's
/// `breakwater::exposition::health_report` gives,
/// `{"status":"DOWN","components":{"authors":{"status":"DOWN","details":{"state":"open"}}}}`
/// (a breaker is `UP` closed or disabled, `DEGRADED` half-open, `DOWN` open or forced
/// open; the overall status is the worst). Serve it at `/health`.
///
/// `BW_BUFFER_TOO_SMALL` when `len` is less than the length plus one (`*out_len`
/// receives the length, `buf` is not written; `buf` may be NULL when `len` is 0).
/// `BW_INVALID_ARGUMENT` for a NULL `registry` or `out_len`, or a NULL `buf` with a
/// non-zero `len`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_registry_health_json(
    registry: *const bw_registry,
    buf: *mut c_char,
    len: usize,
    out_len: *mut usize,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let registry = try_ref!(registry);
        let text = crate::exposition::health_report(&registry.registry);
        // SAFETY: as documented for this function's parameters.
        unsafe { copy_text(&text, buf, len, out_len) }
    })
}

/// Copies one sentence (UTF-8, NUL-terminated) describing the transition `event` of
/// `breaker` into `buf`, and its length without the NUL into `*out_len`: the text of the
/// Rust `tracing` event, written by the core from the breaker's name and configuration,
/// e.g. `"breaker authors: closed -> open (3 consecutive failures)"`, `"breaker authors:
/// open -> half-open (open duration elapsed)"`. A trip of a rate policy names the rate
/// and window when the event is one of the breaker's own recent trips
/// (`"failure rate 62.5% >= 50% over the last 8 calls"`), otherwise the rule
/// (`"failure rate >= 50% over the last 100 calls"`).
///
/// `BW_BUFFER_TOO_SMALL` when `len` is less than the length plus one (`*out_len`
/// receives the length, `buf` is not written; `buf` may be NULL when `len` is 0);
/// `BW_INVALID_ARGUMENT` for a NULL `breaker`, `event` or `out_len`, a NULL `buf` with
/// a non-zero `len`, or an event whose `from`, `to` or `reason` code is unknown.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_breaker_describe_transition(
    breaker: *const bw_breaker,
    event: *const bw_breaker_event,
    buf: *mut c_char,
    len: usize,
    out_len: *mut usize,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let breaker = try_ref!(breaker);
        let event = try_ref!(event);
        let state = |field: &str, code: u32| {
            State::from_code(code).ok_or_else(|| {
                FfiError::invalid_argument(format!(
                    "event->{field} is {code}, not a BW_STATE_* code (0 to 4)"
                ))
            })
        };
        let from = state("from", event.from)?;
        let to = state("to", event.to)?;
        let reason = TRANSITIONS
            .iter()
            .copied()
            .find(|r| transition_code(*r) == event.reason)
            .ok_or_else(|| {
                FfiError::invalid_argument(format!(
                    "event->reason is {}, not a BW_TRANSITION_* code (0 to {})",
                    event.reason,
                    TRANSITIONS.len() - 1
                ))
            })?;
        let b = &breaker.shared.breaker;
        let window = breaker.shared.events.trip_window(event.generation);
        let text = crate::breaker::describe(b.name(), b.config(), from, to, reason, window);
        // SAFETY: as documented for this function's parameters.
        unsafe { copy_text(&text, buf, len, out_len) }
    })
}
