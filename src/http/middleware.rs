//! A ureq middleware that gives an existing agent a circuit breaker, a rate limit and
//! metrics. The user-facing documentation (what a middleware can and cannot see) is on
//! [`ResilienceMiddleware`] (this module is private; its items are re-exported from
//! `breakwater::http`).

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use ureq::http::{Request, Response};
use ureq::middleware::{Middleware, MiddlewareNext};
use ureq::{Body, SendBody};

use super::classify::{HttpOutcome, Verdict, classify_result};
use super::client::outcome_index;
use crate::breaker::{CircuitBreaker, Outcome};
use crate::error::{PolicyKind, RejectReason};
use crate::ratelimit::RateLimiter;

/// A request refused by the [`ResilienceMiddleware`], carried by `ureq::Error::Other`.
///
/// ```
/// use breakwater::http::Rejection;
/// let e = ureq::Error::Timeout(ureq::Timeout::Global);
/// assert!(Rejection::of(&e).is_none());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Rejection {
    /// The policy that refused: the circuit breaker or the rate limiter.
    pub policy: PolicyKind,
    /// Why.
    pub reason: RejectReason,
    /// When trying again may succeed.
    pub retry_after: Option<Duration>,
}

impl Rejection {
    /// The rejection inside a ureq error, if it is one.
    ///
    /// ```
    /// use breakwater::http::Rejection;
    /// let e = ureq::Error::Other(Box::new(std::io::Error::other("x")));
    /// assert_eq!(Rejection::of(&e), None);
    /// ```
    pub fn of(error: &ureq::Error) -> Option<&Rejection> {
        match error {
            ureq::Error::Other(e) => e.downcast_ref::<Rejection>(),
            _ => None,
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} rejected the request: {}", self.policy, self.reason)
    }
}

impl std::error::Error for Rejection {}

/// What a [`ResilienceMiddleware`] saw, since it was made (clones share the counts).
///
/// ```
/// let m = breakwater::http::ResilienceMiddleware::new().metrics();
/// assert_eq!((m.requests, m.rejected_by_breaker, m.rejected_by_limiter), (0, 0, 0));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MiddlewareMetrics {
    /// Requests passed on to the agent.
    pub requests: u64,
    /// Requests refused by the breaker.
    pub rejected_by_breaker: u64,
    /// Requests refused by the rate limiter.
    pub rejected_by_limiter: u64,
    /// Requests by outcome, in the order success, caller error, server error, throttled,
    /// transport, timeout, invalid (see [`MiddlewareMetrics::outcome`]).
    pub outcomes: [u64; 7],
}

impl MiddlewareMetrics {
    /// Requests that ended with `outcome`.
    ///
    /// ```
    /// use breakwater::http::{HttpOutcome, ResilienceMiddleware};
    /// assert_eq!(ResilienceMiddleware::new().metrics().outcome(HttpOutcome::Timeout), 0);
    /// ```
    pub fn outcome(&self, outcome: HttpOutcome) -> u64 {
        self.outcomes[outcome_index(outcome)]
    }
}

#[derive(Default)]
struct Stats {
    requests: AtomicU64,
    rejected_by_breaker: AtomicU64,
    rejected_by_limiter: AtomicU64,
    outcomes: [AtomicU64; 7],
}

/// A ureq [`Middleware`] that gives an existing [`Agent`](ureq::Agent) a circuit breaker, a
/// rate limit and metrics, without changing the code that sends the requests: rate limit,
/// then circuit breaker, then the request, classified for the breaker and counted. Clones
/// share the policies and the counters.
///
/// # What a middleware can and cannot see
///
/// A middleware runs around `next.handle(request)`, which returns as soon as the response
/// **headers** are in. So:
///
/// - **The body is not seen.** Time spent reading the body, and an error while reading it
///   (connection reset mid-body, body timeout), happen after the middleware returned: the
///   breaker has already recorded the exchange as a success. A slow-call policy measures
///   the time to the headers only.
/// - **Status errors lose their headers.** With `http_status_as_error(true)` (ureq's
///   default) a 5xx or 429 reaches the middleware as `Error::StatusCode(n)`, without the
///   `Retry-After` header; build the agent with `http_status_as_error(false)` to let the
///   middleware classify the whole response. Either way 5xx, 429, transport errors and
///   timeouts fail, other 4xx succeed (see the table on [`HttpOutcome`]).
/// - **No retry, no deadline.** The request body is consumed by the first send, and the
///   middleware knows nothing of the caller's deadline or idempotency; for retries,
///   instances and deadlines use the [`ServiceClient`](super::ServiceClient).
/// - **Rejections are errors.** A call refused by the breaker or the limiter returns
///   `ureq::Error::Other` holding a [`Rejection`]; [`Rejection::of`] finds it.
///
/// # Examples
///
/// A breaker and a rate limit on an agent; the breaker opens, and the next call is refused
/// without touching the network:
///
/// ```
/// use breakwater::{CircuitBreaker, RateLimiter};
/// use breakwater::http::{Rejection, ResilienceMiddleware};
///
/// let breaker = CircuitBreaker::builder().name("search").consecutive_failures(1).build()?;
/// let middleware = ResilienceMiddleware::new()
///     .breaker(breaker.clone())
///     .rate_limiter(RateLimiter::builder().permits(100).build()?);
/// let metrics = middleware.clone();
/// let agent: ureq::Agent = ureq::Agent::config_builder()
///     .http_status_as_error(false)
///     .middleware(middleware)
///     .build()
///     .into();
/// // A port nothing listens on: the first call fails and opens the breaker...
/// let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
/// let url = format!("http://127.0.0.1:{port}/");
/// assert!(agent.get(&url).call().is_err());
/// // ...and the second is refused without touching the network.
/// let e = agent.get(&url).call().unwrap_err();
/// assert_eq!(Rejection::of(&e).unwrap().reason, breakwater::RejectReason::Open);
/// assert_eq!(metrics.metrics().rejected_by_breaker, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// A breaker alone:
///
/// ```
/// use breakwater::{CircuitBreaker, http::ResilienceMiddleware};
/// let breaker = CircuitBreaker::builder().name("api").build()?;
/// let agent: ureq::Agent = ureq::Agent::config_builder()
///     .http_status_as_error(false)
///     .middleware(ResilienceMiddleware::new().breaker(breaker))
///     .build()
///     .into();
/// # Ok::<(), breakwater::ConfigError>(())
/// ```
#[derive(Clone, Default)]
pub struct ResilienceMiddleware {
    breaker: Option<CircuitBreaker>,
    limiter: Option<RateLimiter>,
    stats: Arc<Stats>,
}

impl fmt::Debug for ResilienceMiddleware {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResilienceMiddleware")
            .field("breaker", &self.breaker.as_ref().map(CircuitBreaker::name))
            .field("limiter", &self.limiter.as_ref().map(RateLimiter::name))
            .field("metrics", &self.metrics())
            .finish()
    }
}

impl ResilienceMiddleware {
    /// A middleware with no policy (it only counts).
    ///
    /// ```
    /// let m = breakwater::http::ResilienceMiddleware::new();
    /// ```
    pub fn new() -> ResilienceMiddleware {
        ResilienceMiddleware::default()
    }

    /// Guards every request with `breaker`. Defaults to no breaker.
    ///
    /// ```
    /// let m = breakwater::http::ResilienceMiddleware::new()
    ///     .breaker(breakwater::CircuitBreaker::builder().build().unwrap());
    /// ```
    pub fn breaker(mut self, breaker: CircuitBreaker) -> Self {
        self.breaker = Some(breaker);
        self
    }

    /// Limits the requests with `limiter` (a request over the limit is refused at once).
    /// Defaults to no limit.
    ///
    /// ```
    /// let m = breakwater::http::ResilienceMiddleware::new()
    ///     .rate_limiter(breakwater::RateLimiter::builder().permits(10).build().unwrap());
    /// ```
    pub fn rate_limiter(mut self, limiter: RateLimiter) -> Self {
        self.limiter = Some(limiter);
        self
    }

    /// The counters so far.
    ///
    /// ```
    /// assert_eq!(breakwater::http::ResilienceMiddleware::new().metrics().requests, 0);
    /// ```
    pub fn metrics(&self) -> MiddlewareMetrics {
        let s = &self.stats;
        let mut outcomes = [0; 7];
        for (o, a) in outcomes.iter_mut().zip(&s.outcomes) {
            *o = a.load(Ordering::Relaxed);
        }
        MiddlewareMetrics {
            requests: s.requests.load(Ordering::Relaxed),
            rejected_by_breaker: s.rejected_by_breaker.load(Ordering::Relaxed),
            rejected_by_limiter: s.rejected_by_limiter.load(Ordering::Relaxed),
            outcomes,
        }
    }

    fn reject(
        policy: PolicyKind,
        reason: RejectReason,
        retry_after: Option<Duration>,
    ) -> ureq::Error {
        ureq::Error::Other(Box::new(Rejection {
            policy,
            reason,
            retry_after,
        }))
    }
}

impl Middleware for ResilienceMiddleware {
    fn handle(
        &self,
        request: Request<SendBody<'_>>,
        next: MiddlewareNext<'_>,
    ) -> Result<Response<Body>, ureq::Error> {
        if let Some(limiter) = &self.limiter {
            if let Err(r) = limiter.try_acquire() {
                self.stats
                    .rejected_by_limiter
                    .fetch_add(1, Ordering::Relaxed);
                let e: crate::Error<()> = r.into();
                return Err(Self::reject(
                    PolicyKind::RateLimiter,
                    RejectReason::RateLimited,
                    e.retry_after(),
                ));
            }
        }
        let permit = match &self.breaker {
            None => None,
            Some(b) => match b.try_acquire() {
                Ok(p) => Some(p),
                Err(r) => {
                    self.stats
                        .rejected_by_breaker
                        .fetch_add(1, Ordering::Relaxed);
                    let e: crate::Error<()> = r.into();
                    let retry_after = e.retry_after();
                    let reason = match e {
                        crate::Error::Rejected { reason, .. } => reason,
                        _ => RejectReason::Open,
                    };
                    return Err(Self::reject(
                        PolicyKind::CircuitBreaker,
                        reason,
                        retry_after,
                    ));
                }
            },
        };
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        let result = next.handle(request);
        let outcome = classify_result(&result, SystemTime::now()).outcome;
        self.stats.outcomes[outcome_index(outcome)].fetch_add(1, Ordering::Relaxed);
        if let Some(permit) = permit {
            permit.record(match outcome.verdict() {
                Verdict::Success => Outcome::Success,
                Verdict::Failure => Outcome::Failure,
                Verdict::Ignore => Outcome::Ignored,
            });
        }
        result
    }
}
