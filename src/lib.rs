//! # breakwater
//!
//! A synchronous, thread-based resilience kit: circuit breaker, retry with backoff and
//! jitter, deadlines and a time limiter, semaphore and thread-pool bulkheads, rate
//! limiting, fallback and a TTL cache, composed into pipelines, with a resilient HTTP
//! client over `ureq`, and a C ABI so that C, Python and Go share the same core.
//!
//! # Quick start
//!
//! A call guarded by a breaker and a retry, with a fallback when the breaker is open. The
//! clock is a [`ManualClock`], so the retry's waits take no real time.
//!
//! ```
//! use breakwater::{Backoff, CircuitBreaker, ConfigError, ManualClock, Pipeline, Retry};
//! use std::time::Duration;
//!
//! fn main() -> Result<(), ConfigError> {
//!     let clock = ManualClock::new();
//!     let breaker = CircuitBreaker::builder()
//!         .consecutive_failures(3)
//!         .open_duration(Duration::from_secs(30))
//!         .clock(clock.clone().into())
//!         .build()?;
//!     let retry = Retry::builder()
//!         .max_attempts(3)
//!         .backoff(Backoff::Fixed(Duration::from_millis(200)))
//!         .clock(clock.clone().into())
//!         .build()?;
//!     // Outermost first: fallback -> breaker -> retry -> call.
//!     let authors = Pipeline::<String, String>::builder()
//!         .clock(clock.clone().into())
//!         .fallback_with(|e| e.is_rejected(), |_| Ok("temporary unavailable".into()))
//!         .breaker(breaker.clone())
//!         .retry(retry)
//!         .build();
//!
//!     // The service fails twice, then answers: the retry hides the failures.
//!     let mut replies = vec![Err("reset"), Err("reset"), Ok("Ada Lovelace")].into_iter();
//!     let author = authors.call(|_ctx| {
//!         replies.next().unwrap().map(String::from).map_err(String::from)
//!     });
//!     assert_eq!(author.unwrap(), "Ada Lovelace");
//!     assert_eq!(clock.elapsed(), Duration::from_millis(400));
//!
//!     // The service is down: three failed calls (of three attempts each) open the
//!     // breaker, and then the fallback answers without calling the service.
//!     for _ in 0..3 {
//!         assert!(authors.call(|_| Err("down".to_string())).is_err());
//!     }
//!     assert_eq!(breaker.state(), breakwater::State::Open);
//!     assert_eq!(authors.call(|_| Ok("never called".into())).unwrap(), "temporary unavailable");
//!     Ok(())
//! }
//! ```
//!
//! Everything reads time through a [`Clock`]; tests step a [`ManualClock`] instead of
//! sleeping.
//!
//! # Where things are
//!
//! Every item has exactly one public name. The policies live in private modules and the
//! crate root is their one surface (as in `ureq`): [`CircuitBreaker`], [`Retry`],
//! [`Bulkhead`], [`ThreadPool`], [`RateLimiter`], [`TimeLimiter`], [`Fallback`], [`Cache`],
//! [`Pipeline`] and [`FanOut`], each with its builder, configuration, metrics and
//! rejection type beside it, and [`Error`], [`Ctx`], [`Clock`], [`Registry`]. Two groups
//! are reached as modules and are not repeated at the root: [`http`] (the resilient ureq
//! client) and [`exposition`] (Prometheus text and JSON health reports).
//!
//! Policies compose in a [`Pipeline`], or by hand: `retry.call(|_| breaker.call(..))`
//! returns the breaker's rejection at once and never nests one [`Error`] in another.
//!
//! # Cargo features
//!
//! - `http` (on by default): the `breakwater::http` building blocks over `ureq` 3, plain HTTP.
//! - `http-tls`: adds HTTPS to them (ureq with rustls).
//! - `header`: regenerates the C header with cbindgen at build time.
//! - `redis`: fleet-wide breakers and rate limiters shared through Redis
//!   (`breakwater::redis`, the `redis` crate's blocking client; see `docs/redis.md`).
//!
//! # Fork safety
//!
//! The library is not fork-safe while its thread pools run: a child process gets none of
//! the pool's workers. Fork before building pools, or exec right after forking.
#![deny(unsafe_code)]
#![deny(missing_docs)]
#![warn(rust_2018_idioms)]

mod breaker;
mod bulkhead;
mod cache;
mod clock;
mod ctx;
mod error;
pub mod exposition;
mod fallback;
#[doc(hidden)]
#[allow(
    unsafe_code,
    reason = "the C ABI: raw pointers from C; every unsafe block has a SAFETY comment"
)]
#[cfg(feature = "ffi")]
pub mod ffi;
#[cfg(feature = "http")]
pub mod http;
mod pipeline;
mod pool;
mod ratelimit;
#[cfg(feature = "redis")]
pub mod redis;
mod registry;
mod report;
mod retry;
pub(crate) mod sync;
mod timeout;
mod trace;

pub use breaker::{
    BreakerBuilder, BreakerConfig, BreakerMetrics, BreakerRejected, BreakerTotals, CallEvent,
    CallKind, CircuitBreaker, CurrentCounts, Outcome, Permit, RawPermit, Recorded, SlowCalls,
    State, Transition, TransitionReason, TripPolicy, Window,
};
// The breaker's limits and defaults, named for the policy at the root.
pub use breaker::{
    DEFAULT_CONSECUTIVE_FAILURES as BREAKER_DEFAULT_CONSECUTIVE_FAILURES,
    DEFAULT_MINIMUM_CALLS as BREAKER_DEFAULT_MINIMUM_CALLS, DEFAULT_NAME as BREAKER_DEFAULT_NAME,
    DEFAULT_OPEN_DURATION as BREAKER_DEFAULT_OPEN_DURATION,
    DEFAULT_RATE_WINDOW as BREAKER_DEFAULT_RATE_WINDOW,
    MAX_COUNT_WINDOW as BREAKER_MAX_COUNT_WINDOW, MAX_DURATION as BREAKER_MAX_DURATION,
};
pub use bulkhead::{
    Bulkhead, BulkheadBuilder, BulkheadConfig, BulkheadFull, BulkheadMetrics, BulkheadPermit,
};
pub use cache::{Cache, CacheBuilder, CacheError, CacheMetrics};
pub use clock::{Clock, ManualClock, Monitor, WaitResult};
pub use ctx::{CancelToken, Ctx};
pub use error::{ConfigError, Error, PolicyKind, RejectReason};
pub use fallback::{Fallback, FallbackMetrics};
pub use pipeline::{
    Branch, BranchOutcome, Detached, FanOut, Inline, Mode, Pipeline, PipelineBuilder,
    default_breaker_outcome, default_retry_decision,
};
pub use pool::{
    PoolConfig, PoolMetrics, PoolRejected, ShutdownMode, ShutdownReport, TaskError, TaskHandle,
    ThreadPool, ThreadPoolBuilder,
};
pub use ratelimit::{
    RateLimited, RateLimiter, RateLimiterBuilder, RateLimiterConfig, RateLimiterMetrics,
};
pub use registry::Registry;
pub use retry::{
    Backoff, Delays, Jitter, Next, OutcomeKind, Retry, RetryBudget, RetryBudgetConfig,
    RetryBuilder, RetryConfig, RetryDecision, RetryEvent, RetryState, StopReason,
};
pub use timeout::{TimeLimiter, TimeLimiterBuilder, TimeLimiterMetrics};

/// The README's Rust example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
