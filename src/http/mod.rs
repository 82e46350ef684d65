//! HTTP building blocks over [`ureq`] 3: everything a resilient service client needs that
//! does not depend on a policy.
//!
//! - [`classify`](mod@classify): what an exchange means for resilience ([`HttpOutcome`],
//!   [`Classification`]), with `Retry-After` parsed from both of its forms
//!   ([`parse_retry_after`]).
//! - [`idempotency`]: which requests may be retried ([`is_idempotent_method`],
//!   [`may_retry`]), the `Idempotency-Key` and `X-Correlation-Id` headers
//!   ([`ensure_idempotency_key`], [`ensure_correlation_id`], [`prepare_request`]).
//! - [`balance`]: client-side balancing over several base URLs ([`Balancer`], [`Strategy`],
//!   the [`InFlight`] guard) and active health checks on a background thread
//!   ([`HealthChecker`]).
//!
//! The agent that carries requests is built with `http_status_as_error(false)`, so that the
//! status and headers of a 5xx or 429 answer reach [`classify_response`] instead of being
//! turned into an error:
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use breakwater::http::{classify_result, HttpOutcome};
//!
//! let agent: ureq::Agent = ureq::Agent::config_builder()
//!     .http_status_as_error(false)
//!     .timeout_global(Some(Duration::from_secs(2)))
//!     .build()
//!     .into();
//! // A port nothing listens on any more: the connection is refused.
//! let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
//! let result = agent.get(&format!("http://127.0.0.1:{port}/")).call();
//! let c = classify_result(&result, SystemTime::now());
//! assert!(matches!(c.outcome, HttpOutcome::Transport | HttpOutcome::Timeout));
//! assert!(c.outcome.is_retryable());
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # Cargo features
//!
//! This module exists with the `http` feature (on by default); it pulls in `ureq` without
//! TLS. The `http-tls` feature adds HTTPS (ureq with rustls).

pub mod balance;
mod base_url;
pub mod classify;
pub mod client;
mod export;
mod health;
pub mod idempotency;
pub mod middleware;
pub mod profile;
mod retry_after;

pub use balance::{Balancer, InFlight, Strategy};
pub use classify::{
    Classification, HttpOutcome, Verdict, classify_error, classify_response, classify_result,
    classify_status,
};
pub use client::{Call, ClientMetrics, HttpError, Reply, ServiceClient, ServiceClientBuilder};
pub use health::{HealthChecker, HealthCheckerBuilder, StopResult};
pub use idempotency::{
    CORRELATION_ID, IDEMPOTENCY_KEY, PreparedRequest, ensure_correlation_id,
    ensure_idempotency_key, is_idempotent_method, may_retry, new_request_id, prepare_request,
};
pub use middleware::{MiddlewareMetrics, Rejection, ResilienceMiddleware};
pub use profile::{Profile, load_profiles, profiles_from_json};
pub use retry_after::{parse_http_date, parse_retry_after, retry_after};
