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

pub mod breaker;
pub mod bulkhead;
pub mod cache;
pub mod clock;
mod ctx;
mod error;
pub mod exposition;
pub mod fallback;
#[doc(hidden)]
#[allow(
    unsafe_code,
    reason = "the C ABI: raw pointers from C; every unsafe block has a SAFETY comment"
)]
pub mod ffi;
#[cfg(feature = "http")]
pub mod http;
pub mod pipeline;
pub mod pool;
pub mod ratelimit;
#[cfg(feature = "redis")]
pub mod redis;
mod registry;
pub mod retry;
pub(crate) mod sync;
pub mod timeout;

pub use breaker::{
    BreakerBuilder, BreakerConfig, BreakerMetrics, BreakerRejected, BreakerTotals, CallEvent,
    CallKind, CircuitBreaker, CurrentCounts, Outcome, Permit, RawPermit, Recorded, SlowCalls,
    State, Transition, TransitionReason, TripPolicy, Window,
};
pub use clock::{Clock, ManualClock};
pub use ctx::{CancelToken, Ctx};
pub use error::{ConfigError, Error, PolicyKind, RejectReason};
pub use registry::Registry;
pub use retry::{
    Backoff, Jitter, Retry, RetryBudget, RetryBudgetConfig, RetryBuilder, RetryConfig,
    RetryDecision, RetryEvent, RetryState,
};

pub use bulkhead::{Bulkhead, BulkheadConfig, BulkheadFull, BulkheadMetrics, BulkheadPermit};
pub use pool::{
    PoolConfig, PoolMetrics, PoolRejected, ShutdownMode, ShutdownReport, TaskError, TaskHandle,
    ThreadPool,
};
pub use timeout::{TimeLimiter, TimeLimiterMetrics};

pub use cache::{Cache, CacheBuilder, CacheError, CacheMetrics};
pub use fallback::{Fallback, FallbackMetrics};
pub use pipeline::{Pipeline, PipelineBuilder};
pub use ratelimit::{
    RateLimited, RateLimiter, RateLimiterBuilder, RateLimiterConfig, RateLimiterMetrics,
};
