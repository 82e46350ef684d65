//! The registry of named breakers: `bw_registry`.

use std::ffi::c_char;

use super::{BreakerJson, Shared, bw_breaker};
use crate::breaker::BreakerConfig;
use crate::error::{ConfigError, PolicyKind};
use crate::ffi::clock::{bw_clock, clock_or_monotonic};
use crate::ffi::error::{FfiError, bw_error};
use crate::ffi::json_config::{check_name, config_from_json};
use crate::ffi::out::{free_handle, into_handle};
use crate::ffi::status::bw_status;
use crate::registry::Registry;

/// A registry of named breakers: the same name gives handles on the same breaker.
/// Thread-safe; free it with `bw_registry_free` (handles stay valid).
pub struct bw_registry {
    pub(crate) registry: Registry,
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

/// Writes to `*out` a new handle (free it with `bw_breaker_free`) on the registry's
/// breaker named `name` (UTF-8, `name_len` bytes, not empty), building it on first use.
///
/// `json` (`json_len` bytes) is an explicit configuration (see
/// `bw_breaker_new_json`; its `name` is replaced by `name`), or NULL / empty for
/// none: the existing breaker whatever its configuration, or a new one with the default
/// configuration. `clock` (may be NULL: monotonic) is used only when the breaker is
/// built. Registry breakers have no event callback (events can be polled, by any
/// handle).
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
        if name.is_empty() {
            return Err(FfiError::invalid_argument("name must not be empty"));
        }
        check_name(PolicyKind::CircuitBreaker, name)?;
        let explicit = if text.iter().all(u8::is_ascii_whitespace) {
            None
        } else {
            let j: BreakerJson = config_from_json(PolicyKind::CircuitBreaker, text)?;
            let mut config = j.to_config()?;
            name.clone_into(&mut config.name);
            config.validate()?;
            Some(config)
        };
        let shared = registry.registry.get_or_build(
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
        if let Some(config) = &explicit {
            if shared.breaker.config() != config {
                return Err(ConfigError::new(
                    PolicyKind::CircuitBreaker,
                    "name",
                    format!("{name:?} is already registered with a different configuration"),
                )
                .into());
            }
        }
        out.set(into_handle(bw_breaker { shared }));
        Ok(())
    })
}
