//! HTTP over [`ureq`] 3: a resilient client of a service, a middleware that gives an
//! existing agent a breaker and a rate limit, and the building blocks they are made of.
//! Every item is reached here, as `breakwater::http::Item`; the details are on the main
//! type of each part:
//!
//! - [`ServiceClient`]: one named service, one or more instances, a [`Profile`] of
//!   policies; its docs say what a call goes through and what counts as what. Built with
//!   [`ServiceClientBuilder`], one request is a [`Call`], its answer a [`Reply`] or an
//!   [`HttpError`]; the counters are [`ClientMetrics`].
//! - [`Profile`]: those policies as plain data, with the table of the two built-in
//!   profiles and the JSON form ([`profiles_from_json`], [`load_profiles`]).
//! - [`ResilienceMiddleware`]: a ureq middleware (breaker, rate limit, [`MiddlewareMetrics`])
//!   for an agent you already have, and what a middleware cannot see; a refused request
//!   fails with a [`Rejection`].
//! - [`HttpOutcome`]: what an exchange means for resilience (the table is there), as a
//!   [`Classification`] from [`classify_status`], [`classify_response`], [`classify_error`]
//!   or [`classify_result`], with `Retry-After` parsed from both of its forms
//!   ([`parse_retry_after`]) and a [`Verdict`] for a breaker.
//! - [Idempotency and request ids](#idempotency-and-request-ids) (below): which requests
//!   may be retried ([`is_idempotent_method`], [`may_retry`]), the `Idempotency-Key` and
//!   `X-Correlation-Id` headers ([`ensure_idempotency_key`], [`ensure_correlation_id`],
//!   [`prepare_request`]).
//! - [`Balancer`]: client-side balancing over several base URLs ([`Strategy`], the
//!   [`InFlight`] guard), and active health checks on a background thread
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
//! # Idempotency and request ids
//!
//! Which requests may be sent more than once, and the two request ids that travel with
//! them: the `Idempotency-Key` ([`IDEMPOTENCY_KEY`]; one per logical operation, the same on
//! every attempt, so the server can recognise a repeated write) and the `X-Correlation-Id`
//! ([`CORRELATION_ID`]; one per chain of calls, for tracing). New ids come from
//! [`new_request_id`].
//!
//! GET, HEAD, PUT, DELETE, OPTIONS and TRACE are idempotent (RFC 9110, section 9.2.2) and
//! may be retried. Any other method (POST, PATCH, ...) is retried only when the request
//! carries an idempotency key, set by the caller or generated on the caller's request.
//! [`prepare_request`] does both headers at once and says whether the request may be
//! retried ([`PreparedRequest`]):
//!
//! ```
//! use breakwater::http::{may_retry, prepare_request, IDEMPOTENCY_KEY};
//! use ureq::http::Request;
//!
//! let mut post = Request::post("http://orders.local/orders").body("{}").unwrap();
//! assert!(!may_retry(&post));
//! let ids = prepare_request(&mut post, true, Some("req-7"));
//! assert!(ids.retryable);
//! assert_eq!(ids.correlation_id, "req-7");
//! assert_eq!(post.headers()[&IDEMPOTENCY_KEY], ids.idempotency_key.unwrap());
//! ```
//!
//! The [`ServiceClient`] does this for every call (see [`Call::idempotency_key`],
//! [`Call::generate_idempotency_key`] and [`Call::correlation_id`]).
//!
//! # Cargo features
//!
//! This module exists with the `http` feature (on by default); it pulls in `ureq` without
//! TLS. The `http-tls` feature adds HTTPS (ureq with rustls).

mod balance;
mod base_url;
mod classify;
mod client;
mod export;
mod health;
mod idempotency;
mod middleware;
mod profile;
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
