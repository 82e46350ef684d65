//! The C ABI: every `bw_*` symbol of `include/breakwater.h`.
//!
//! This module is the only place in the crate where `unsafe` code is allowed; every
//! `unsafe` block carries a `// SAFETY:` comment (enforced by
//! `clippy::undocumented_unsafe_blocks`). It is hidden from the Rust documentation: Rust
//! users call the Rust API, C users read the generated header, whose comments are the doc
//! comments written here.
//!
//! # Conventions (the same for every function; a new policy follows them mechanically)
//!
//! **Status.** Every function that can fail returns a [`bw_status`] (`int32_t`): `BW_OK`
//! (0) or one of the `BW_*` codes in [`status`], whose numbers are fixed and never
//! reused. Only three kinds of functions return something else: static getters
//! (`bw_version`, `bw_abi_version`, `bw_status_name`), which cannot fail, and `_free`
//! functions, which return nothing.
//!
//! **Error object.** Every fallible function takes a last parameter `bw_error *err`,
//! owned by the caller (on its stack, or anywhere else), and nullable. When it is not
//! NULL it is written on every return: its `status` always equals the returned status;
//! on failure it also holds the policy and rejection reason codes, the retry-after hint
//! a NUL-terminated UTF-8 message and its length `message_len` (every message the
//! library produces fits in `BW_ERROR_MESSAGE_LEN`: user text quoted in messages is
//! bounded);
//! on success those are zero and the message is empty. Because it is a per-call object
//! it works from Go (a goroutine may move between threads between two calls) and from
//! Python (no allocation by the library, nothing to free). The message of the last
//! failed call is also kept per thread, for `bw_last_error_message`.
//!
//! **Handles.** Objects are opaque `bw_*` handles created by `bw_*_new(..., bw_x **out,
//! bw_error *err)` and released by `bw_*_free(x)`; freeing NULL is a no-op, freeing
//! twice is undefined. A handle may be used from several threads at once (they are all
//! `Sync`); it must not be freed while another thread still uses it. A handle given to a
//! constructor (a `bw_clock`, later a policy's clock) is copied by reference count: it can
//! be freed right after the call.
//!
//! **Arguments.** Every pointer is checked: NULL where a value is required gives
//! `BW_INVALID_ARGUMENT` with a message naming the parameter. Optional pointers are
//! documented as such ("may be NULL"). Enums and flags cross as `uint32_t` and are
//! range-checked (`BW_INVALID_ARGUMENT`, the message lists the valid values). Strings
//! with a length are `const char *` + `size_t` (not NUL-terminated, UTF-8). Callbacks are
//! nullable function pointers taking a `void *user_data`, checked like pointers.
//!
//! **Out-parameters** are written only on success (`BW_OK`). The one exception is the
//! size reported with `BW_BUFFER_TOO_SMALL`, which is the point of that status.
//!
//! **Panics.** Every body runs inside a panic boundary (`ffi_boundary!`): a panic
//! becomes `BW_PANIC` with the panic message as the error message (functions that do
//! not return a status return a documented default instead). A panic never unwinds into
//! C.
//!
//! **One convention per configured policy** (breaker, retry, bulkhead, limiter, pool,
//! time limiter): `bw_<policy>_new_json(json, json_len, clock, out, err)` (one body,
//! [`json_config::new_json`]), `bw_<policy>_metrics(h, out, err)` into a size-tagged
//! `bw_<policy>_stats` (leading `size_t size`; one body, [`out::write_stats`]; retry has
//! no stats), `bw_<policy>_free`, and the self-description
//! `bw_<policy>_config_defaults_json()` / `bw_<policy>_config_schema_json()`.
//! Configuration is JSON text, durations in `*_ms` keys (fractions allowed); an empty
//! text (or NULL with length 0) means the defaults. Errors give `BW_INVALID_CONFIG` with
//! a message naming the key as written (`failure_rate.threshold`), never a text
//! position (except for malformed JSON). Names of policies, reasons, states and
//! transition reasons come from `bw_policy_name`, `bw_reason_name`, `bw_state_name`,
//! `bw_transition_reason_name` ([`describe`]).
//!
//! **Threads.** Functions run on the calling thread. A function that can block says so
//! and accepts an optional `const bw_cancel *`. A function that calls back says on which
//! thread its callbacks run.
//!
//! # Adding a function
//!
//! ```text
//! /// One-line summary (becomes the header comment).
//! ///
//! /// Longer text: NULL handling, ownership, threads, blocking.
//! #[unsafe(no_mangle)]
//! pub unsafe extern "C" fn bw_thing_do(
//!     thing: *const bw_thing,
//!     mode: u32,
//!     out_value: *mut u64,
//!     err: *mut bw_error,
//! ) -> bw_status {
//!     ffi_boundary!(err, {
//!         let thing = try_ref!(thing);
//!         let mode = try_enum!(mode as Mode);
//!         let out_value = try_out!(out_value);
//!         let value = thing.inner.do_it(mode).map_err(FfiError::from_error)?;
//!         out_value.set(value);
//!         Ok(())
//!     })
//! }
//! ```
//!
//! then, in this order:
//!
//! 1. bless the header: `BW_BLESS=1 cargo test --features header --test header`, and
//!    commit `include/breakwater.h` (CI fails on any difference);
//! 2. C: a `ffi-tests/c/test_<thing>.c` program (good input, NULL for each pointer,
//!    out-of-range enum values, out-parameters untouched on failure, `_free(NULL)`);
//! 3. Python: one line in the `_FUNCTIONS` table of `bindings/python/breakwater/_lib.py`
//!    (a test fails until every header function is declared), a method that checks its
//!    Python arguments and calls `call(lib.bw_thing_do, ...)`, tests in
//!    `ffi-tests/python`;
//! 4. Go: `#cgo noescape` / `#cgo nocallback` lines in `bindings/go/cgo.go`, a raw
//!    wrapper declaring `var e C.bw_error` and returning `check(status, &e)`, the public
//!    method, tests in `ffi-tests/go` (a test fails until every header function is called
//!    or listed as deliberately unwrapped).
//!
//! Errors of a policy map with [`FfiError::from_error`] (its `Error<E>`), `From<ConfigError>`
//! (`?` on a builder) and [`FfiError::rejected`]; a rejection's message is formatted where
//! it is written, without allocating.

#![allow(
    non_camel_case_types,
    reason = "C type names: bw_status, bw_error, bw_clock, ..."
)]
#![warn(clippy::undocumented_unsafe_blocks)]

#[macro_use]
pub mod boundary;

#[macro_use]
pub mod out;

// cbindgen writes the header in the order it reads these modules (one per group, so
// that rustfmt keeps the order).
pub mod status;

pub mod error;

pub mod version;

pub mod describe;

pub mod log;

pub mod clock;

pub mod cancel;

pub mod json_config;

pub mod deadline;

pub mod retry;

pub mod ratelimit;

pub mod bulkhead;

pub mod breaker;

pub use breaker::*;
pub mod registry;

pub use registry::*;
pub mod pool;

pub mod timeout;

pub mod pipeline;

pub mod redis;

pub use cancel::*;
pub use clock::*;
pub use describe::*;
pub use error::*;
pub use log::*;
pub use status::*;
pub use version::*;

#[cfg(test)]
mod tests;
