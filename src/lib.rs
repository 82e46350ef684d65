//! # breakwater
//!
//! A synchronous, thread-based resilience kit: circuit breaker, retry with backoff and
//! jitter, deadlines and a time limiter, semaphore and thread-pool bulkheads, rate
//! limiting, fallback and a TTL cache, composed into pipelines, with a resilient HTTP
//! client over `ureq`, and a C ABI so that C, Python and Go share the same core.
//!
//! Everything reads time through a [`Clock`]; tests step a [`ManualClock`] instead of
//! sleeping.
//!
//! # Cargo features
//!
//! - `http` (on by default): the `breakwater::http` building blocks over `ureq` 3, plain HTTP.
//! - `http-tls`: adds HTTPS to them (ureq with rustls).
//! - `header`: regenerates the C header with cbindgen at build time.
//!
//! # Fork safety
//!
//! The library is not fork-safe while its thread pools run: a child process gets none of
//! the pool's workers. Fork before building pools, or exec right after forking.
#![deny(unsafe_code)]
#![deny(missing_docs)]
#![warn(rust_2018_idioms)]

pub mod clock;
mod ctx;
mod error;
pub mod exposition;
#[cfg(feature = "http")]
pub mod http;
mod registry;
pub(crate) mod sync;

pub use clock::{Clock, ManualClock};
pub use ctx::{CancelToken, Ctx};
pub use error::{ConfigError, Error, PolicyKind, RejectReason};
pub use registry::Registry;
