//! The resilient service client. The user-facing documentation (what a call goes through,
//! what counts as what, request ids, instances and health) is on [`ServiceClient`] (this
//! module is private; its items are re-exported from `breakwater::http`).
//!
//! # Layout
//!
//! [`ServiceClient`] and its accessors live here; [`ServiceClientBuilder`] in `builder`;
//! [`Call`] in `call`; the policies, composed with the crate's
//! [`Pipeline`](crate::Pipeline), in `engine`; one attempt (instance, breaker, ureq) in
//! `attempt`; [`HttpError`] in `error`; [`Reply`] in `reply`; counters, Prometheus
//! families and health in `report`.

mod attempt;
mod builder;
mod call;
mod engine;
mod error;
mod reply;
mod report;

use std::fmt;
use std::sync::Arc;

use ureq::Agent;
use ureq::http::Method;

pub use builder::ServiceClientBuilder;
pub use call::Call;
pub use error::HttpError;
pub use reply::Reply;
pub use report::ClientMetrics;
pub(crate) use report::outcome_index;

use crate::breaker::CircuitBreaker;
use crate::bulkhead::Bulkhead;
use crate::clock::Clock;
use crate::http::balance::Balancer;
use crate::http::health::HealthChecker;
use crate::http::profile::Profile;
use crate::ratelimit::RateLimiter;

#[cfg(doc)]
use crate::{
    Ctx,
    error::{Error, PolicyKind},
    http::HttpOutcome,
};

/// Everything a client's clones share.
struct Inner {
    service: String,
    profile: Profile,
    agent: Agent,
    balancer: Balancer,
    breakers: Box<[CircuitBreaker]>,
    attempts: report::AttemptCounts,
    bulkhead: Option<Bulkhead>,
    limiter: Option<RateLimiter>,
    engine: engine::Engine,
    clock: Clock,
    counters: report::Counters,
    health: Option<parking_lot::Mutex<HealthChecker>>,
}

/// A resilient client of one service (the reference `ResilientServiceClient` of SPEC 14):
/// a name, one or more instances (base URLs), a [`Profile`] of policies, over a `ureq`
/// [`Agent`]. `Send + Sync`; clones share everything (policies, counters, health checks).
///
/// # What a call goes through
///
/// Outermost first; steps 1 to 4 are a [`Pipeline`](crate::Pipeline) of the crate's own
/// policies (`rate_limit -> deadline -> bulkhead -> retry`), steps 5 to 7 are one attempt:
///
/// 1. **rate limit** (the profile's `rate_limit_per_sec`): over the limit, the call is
///    rejected at once;
/// 2. **deadline**: the caller's [`Ctx`] deadline, narrowed by the profile's `deadline_ms`;
/// 3. **bulkhead** (`bulkhead`): at most that many calls of the service in flight (a call
///    waits at most `bulkhead_max_wait_ms`, and never past its deadline);
/// 4. **retry** (`max_attempts`, backoff, jitter): only retryable outcomes (transport
///    errors, timeouts, 5xx, 429) of requests that may be sent again (idempotent method, or
///    an `Idempotency-Key`); a `Retry-After` hint replaces a shorter computed delay, and a
///    hint longer than `max_retry_after_ms` stops the call with that error; no retry is
///    started that would end past the deadline;
/// 5. **instance**: the [`Balancer`] picks an instance whose breaker is not open (and that
///    the health checks did not mark down), preferring one this call has not tried yet;
/// 6. **breaker of that instance**: every attempt is an outcome for its instance's breaker
///    (the breaker is inside the retry, so one service call may open it);
/// 7. **attempt timeout**: `min(attempt_timeout_ms, time left to the deadline)` becomes
///    ureq's `timeout_global` for the attempt, which covers connecting, sending, waiting
///    for the answer and reading the whole body: a server that never answers cannot hold
///    the caller past the deadline.
///
/// # What counts as what
///
/// The agent runs every request with `http_status_as_error(false)` (set per request, so
/// an agent you bring works too), and the exchange is classified as an [`HttpOutcome`]
/// (see the table there): transport errors, timeouts, 5xx and 429 are failures
/// for the breaker and are retried; other 4xx are the caller's fault, a success for the
/// breaker, never retried, and are returned as a [`Reply`]; 1xx-3xx are successes.
/// A call whose last attempt failed returns [`Error::Failed`] with an [`HttpError`] (the
/// outcome, the status and body of a 5xx or 429, the `Retry-After` hint), a call stopped by
/// its deadline [`Error::TimedOut`] with [`PolicyKind::Deadline`], a call refused by a
/// policy [`Error::Rejected`] (breaker open on every instance, bulkhead full, rate
/// limited).
///
/// # Request ids
///
/// Every attempt of a call carries the same `X-Correlation-Id` (the caller's, or a new
/// one) and, when there is one, the same `Idempotency-Key` (the caller's, or one
/// generated on request with [`Call::generate_idempotency_key`]). Given with
/// [`Call::header`] or with their own setters, they are the same thing: sent once, used to
/// decide about retries, and reported by the [`Reply`] or the failed call's [`HttpError`]
/// (see also [idempotency and request ids](crate::http#idempotency-and-request-ids)).
///
/// # Instances and health
///
/// Each instance has its own breaker. When every instance is marked down by the health
/// checks, the client does not refuse the call: it ignores the marks and lets the
/// breakers decide (a health check can be wrong; the breakers see real traffic).
///
/// # Examples
///
/// ```no_run
/// use std::time::Duration;
/// use breakwater::http::{Profile, ServiceClient};
/// use breakwater::{Ctx, Error};
///
/// let authors = ServiceClient::builder("authors")
///     .instances(["http://10.0.0.1:8080", "http://10.0.0.2:8080"])
///     .profile(Profile::critical())
///     .build()?;
/// // A read: retried on another instance if the first fails.
/// let ctx = Ctx::new().with_timeout(Duration::from_secs(2));
/// match authors.get("/authors/42").ctx(&ctx).send() {
///     Ok(reply) => println!("{}", reply.text()),
///     Err(Error::Rejected { .. }) => println!("authors is down (breakers open)"),
///     Err(e) => println!("failed: {e}"),
/// }
/// // A write, retried safely under one generated Idempotency-Key.
/// let reply = authors
///     .post("/authors")
///     .header("content-type", "application/json")
///     .body(r#"{"name":"Grace Hopper"}"#)
///     .generate_idempotency_key()
///     .send()?;
/// println!("created with key {:?}", reply.idempotency_key());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
#[doc(alias = "ResilientServiceClient")]
pub struct ServiceClient {
    inner: Arc<Inner>,
}

impl fmt::Debug for ServiceClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceClient")
            .field("service", &self.inner.service)
            .field("instances", &self.inner.balancer)
            .finish_non_exhaustive()
    }
}

impl ServiceClient {
    /// A builder for a client of `service` (the name used in breaker names, metrics and the
    /// registry).
    ///
    /// ```
    /// let client = breakwater::http::ServiceClient::builder("authors").instance("http://a.local").build()?;
    /// assert_eq!(client.service(), "authors");
    /// # Ok::<(), breakwater::ConfigError>(())
    /// ```
    pub fn builder(service: impl Into<String>) -> ServiceClientBuilder {
        ServiceClientBuilder::new(service.into())
    }

    /// The service's name.
    ///
    /// ```
    /// let client = breakwater::http::ServiceClient::builder("a").instance("http://x.local").build().unwrap();
    /// assert_eq!(client.service(), "a");
    /// ```
    pub fn service(&self) -> &str {
        &self.inner.service
    }

    /// The profile the client was built with.
    ///
    /// ```
    /// let client = breakwater::http::ServiceClient::builder("a").instance("http://x.local").build().unwrap();
    /// assert_eq!(client.profile(), &breakwater::http::Profile::normal());
    /// ```
    pub fn profile(&self) -> &Profile {
        &self.inner.profile
    }

    /// The instances' base URLs, in order.
    ///
    /// ```
    /// let client = breakwater::http::ServiceClient::builder("a").instance("http://x.local").build().unwrap();
    /// assert_eq!(client.instances(), ["http://x.local"]);
    /// ```
    pub fn instances(&self) -> Vec<&str> {
        (0..self.inner.balancer.len())
            .filter_map(|i| self.inner.balancer.url(i))
            .collect()
    }

    /// The balancer (in-flight counts, health marks: `set_healthy` takes an instance out
    /// by hand).
    ///
    /// ```
    /// let client = breakwater::http::ServiceClient::builder("a").instance("http://x.local").build().unwrap();
    /// client.balancer().set_healthy(0, false);
    /// assert!(!client.balancer().is_healthy(0));
    /// ```
    pub fn balancer(&self) -> &Balancer {
        &self.inner.balancer
    }

    /// The breakers, one per instance, in the order of [`instances`](Self::instances).
    /// Named `service@base-url`.
    ///
    /// ```
    /// let client = breakwater::http::ServiceClient::builder("a").instance("http://x.local").build()?;
    /// assert_eq!(client.breakers()[0].name(), "a@http://x.local");
    /// # Ok::<(), breakwater::ConfigError>(())
    /// ```
    pub fn breakers(&self) -> &[CircuitBreaker] {
        &self.inner.breakers
    }

    /// The service's bulkhead, if the profile has one.
    ///
    /// ```
    /// let client = breakwater::http::ServiceClient::builder("a").instance("http://x.local").build().unwrap();
    /// assert_eq!(client.bulkhead().unwrap().config().max_concurrent, 20);
    /// ```
    pub fn bulkhead(&self) -> Option<&Bulkhead> {
        self.inner.bulkhead.as_ref()
    }

    /// The service's rate limiter, if the profile has one.
    ///
    /// ```
    /// let client = breakwater::http::ServiceClient::builder("a").instance("http://x.local").build().unwrap();
    /// assert!(client.rate_limiter().is_none());
    /// ```
    pub fn rate_limiter(&self) -> Option<&RateLimiter> {
        self.inner.limiter.as_ref()
    }

    /// The health checker's completed rounds (`None` without health checks).
    ///
    /// ```
    /// let client = breakwater::http::ServiceClient::builder("a").instance("http://x.local").build().unwrap();
    /// assert_eq!(client.health_rounds(), None);
    /// ```
    pub fn health_rounds(&self) -> Option<u64> {
        self.inner.health.as_ref().map(|h| h.lock().rounds())
    }

    /// `true` when both handles share one client.
    ///
    /// ```
    /// let client = breakwater::http::ServiceClient::builder("a").instance("http://x.local").build().unwrap();
    /// assert!(client.ptr_eq(&client.clone()));
    /// ```
    pub fn ptr_eq(&self, other: &ServiceClient) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// A request with any method, to `path` on the chosen instance (appended to its base
    /// URL).
    ///
    /// ```
    /// let client = breakwater::http::ServiceClient::builder("a").instance("http://x.local").build()?;
    /// let call = client.request(ureq::http::Method::PATCH, "/items/1");
    /// # Ok::<(), breakwater::ConfigError>(())
    /// ```
    pub fn request(&self, method: Method, path: &str) -> Call<'_> {
        Call::new(self, method, path)
    }

    /// A GET request (retried).
    ///
    /// ```
    /// let client = breakwater::http::ServiceClient::builder("a").instance("http://x.local").build().unwrap();
    /// let call = client.get("/items");
    /// ```
    pub fn get(&self, path: &str) -> Call<'_> {
        self.request(Method::GET, path)
    }

    /// A HEAD request (retried).
    ///
    /// ```
    /// let client = breakwater::http::ServiceClient::builder("a").instance("http://x.local").build().unwrap();
    /// let call = client.head("/items");
    /// ```
    pub fn head(&self, path: &str) -> Call<'_> {
        self.request(Method::HEAD, path)
    }

    /// A PUT request (retried).
    ///
    /// ```
    /// let client = breakwater::http::ServiceClient::builder("a").instance("http://x.local").build().unwrap();
    /// let call = client.put("/items/1").body("{}");
    /// ```
    pub fn put(&self, path: &str) -> Call<'_> {
        self.request(Method::PUT, path)
    }

    /// A DELETE request (retried).
    ///
    /// ```
    /// let client = breakwater::http::ServiceClient::builder("a").instance("http://x.local").build().unwrap();
    /// let call = client.delete("/items/1");
    /// ```
    pub fn delete(&self, path: &str) -> Call<'_> {
        self.request(Method::DELETE, path)
    }

    /// A POST request (retried only with an idempotency key).
    ///
    /// ```
    /// let client = breakwater::http::ServiceClient::builder("a").instance("http://x.local").build().unwrap();
    /// let call = client.post("/items").body("{}").generate_idempotency_key();
    /// ```
    pub fn post(&self, path: &str) -> Call<'_> {
        self.request(Method::POST, path)
    }

    /// A PATCH request (retried only with an idempotency key).
    ///
    /// ```
    /// let client = breakwater::http::ServiceClient::builder("a").instance("http://x.local").build().unwrap();
    /// let call = client.patch("/items/1").idempotency_key("k-1");
    /// ```
    pub fn patch(&self, path: &str) -> Call<'_> {
        self.request(Method::PATCH, path)
    }
}
