//! The resilient service client: one named service, one or more instances (base URLs), a
//! [`Profile`] of policies, over a `ureq` [`Agent`].
//!
//! # What a call goes through
//!
//! Outermost first:
//!
//! 1. **rate limit** (the profile's `rate_limit_per_sec`): over the limit, the call is
//!    rejected at once;
//! 2. **bulkhead** (`bulkhead`): at most that many calls of the service in flight;
//! 3. **deadline**: the caller's [`Ctx`] deadline, narrowed by the profile's `deadline_ms`;
//! 4. **retry** (`max_attempts`, backoff, jitter): only retryable outcomes (transport
//!    errors, timeouts, 5xx, 429) of requests that may be sent again (idempotent method, or
//!    an `Idempotency-Key`); a `Retry-After` hint replaces a shorter computed delay; no
//!    retry is started that would end past the deadline;
//! 5. **instance**: the [`Balancer`] picks an instance whose breaker is not open (and that
//!    the health checks did not mark down), preferring one this call has not tried yet;
//! 6. **breaker of that instance**: every attempt is an outcome for its instance's breaker
//!    (the breaker is inside the retry, so one service call may open it);
//! 7. **attempt timeout**: `min(attempt_timeout_ms, time left to the deadline)` becomes
//!    ureq's `timeout_global` for the attempt, which covers connecting, sending, waiting
//!    for the answer and reading the whole body: a server that never answers cannot hold
//!    the caller past the deadline.
//!
//! # What counts as what
//!
//! The agent runs every request with `http_status_as_error(false)` (set per request, so
//! an agent you bring works too), and the exchange is classified by
//! [`classify`](super::classify): transport errors, timeouts, 5xx and 429 are failures
//! for the breaker and are retried; other 4xx are the caller's fault, a success for the
//! breaker, never retried, and are returned as a [`Reply`]; 1xx-3xx are successes.
//! A call whose last attempt failed returns [`Error::Failed`] with an [`HttpError`] (the
//! outcome, the status and body of a 5xx or 429, the `Retry-After` hint), a call stopped by
//! its deadline [`Error::TimedOut`] with [`PolicyKind::Deadline`], a call refused by a
//! policy [`Error::Rejected`] (breaker open on every instance, bulkhead full, rate
//! limited).
//!
//! # Request ids
//!
//! Every attempt of a call carries the same `X-Correlation-Id` (the caller's, or a new
//! one) and, when there is one, the same `Idempotency-Key` (the caller's, or one
//! generated on request with [`Call::generate_idempotency_key`]).
//!
//! # Instances and health
//!
//! Each instance has its own breaker. When every instance is marked down by the health
//! checks, the client does not refuse the call: it ignores the marks and lets the
//! breakers decide (a health check can be wrong; the breakers see real traffic).

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use ureq::Agent;
use ureq::http::{HeaderMap, HeaderName, HeaderValue, Method, Request};

use super::balance::{Balancer, Strategy};
use super::classify::{Classification, HttpOutcome, Verdict, classify_error, classify_response};
use super::health::HealthChecker;
use super::idempotency::{CORRELATION_ID, IDEMPOTENCY_KEY, is_idempotent_method, new_request_id};
use super::profile::Profile;
use crate::breaker::{CircuitBreaker, Outcome, Permit, State, Transition};
use crate::bulkhead::Bulkhead;
use crate::clock::Clock;
use crate::error::{ConfigError, Error, PolicyKind, RejectReason};
use crate::exposition::{Collector, Component, Detail, MetricKind, Status, health_json};
use crate::ratelimit::RateLimiter;
use crate::registry::Registry;
use crate::report::breaker_status;
use crate::retry::{Next, OutcomeKind, Retry};
use crate::{BulkheadPermit, Ctx};

/// Every [`HttpOutcome`], in the order of the client's per-outcome counters.
pub(crate) const OUTCOMES: [HttpOutcome; 7] = [
    HttpOutcome::Success,
    HttpOutcome::CallerError,
    HttpOutcome::ServerError,
    HttpOutcome::Throttled,
    HttpOutcome::Transport,
    HttpOutcome::Timeout,
    HttpOutcome::Invalid,
];

pub(crate) fn outcome_index(o: HttpOutcome) -> usize {
    OUTCOMES.iter().position(|x| *x == o).unwrap_or(0)
}

struct ErrorInner {
    outcome: HttpOutcome,
    status: Option<u16>,
    retry_after: Option<Duration>,
    instance: String,
    message: String,
    body: Vec<u8>,
}

/// Why an attempt failed: its [`HttpOutcome`], the status and body of a 5xx or 429, the
/// server's `Retry-After` hint, the instance it went to.
///
/// # Examples
///
/// ```
/// use breakwater::http::{HttpError, HttpOutcome};
/// let e = HttpError::new(HttpOutcome::Timeout, "http://a.local", "timed out");
/// assert_eq!(e.outcome(), HttpOutcome::Timeout);
/// assert_eq!(e.status(), None);
/// assert_eq!(e.to_string(), "timeout from http://a.local: timed out");
/// ```
pub struct HttpError(Box<ErrorInner>);

impl HttpError {
    /// An error without status, hint or body.
    ///
    /// ```
    /// let e = breakwater::http::HttpError::new(breakwater::http::HttpOutcome::Transport, "http://a.local", "refused");
    /// assert_eq!(e.instance(), "http://a.local");
    /// ```
    pub fn new(outcome: HttpOutcome, instance: &str, message: impl Into<String>) -> HttpError {
        HttpError(Box::new(ErrorInner {
            outcome,
            status: None,
            retry_after: None,
            instance: instance.to_owned(),
            message: message.into(),
            body: Vec::new(),
        }))
    }

    fn answered(c: Classification, instance: &str, body: Vec<u8>) -> HttpError {
        let status = c.status.unwrap_or(0);
        let mut e = HttpError::new(c.outcome, instance, format!("status {status}"));
        e.0.status = c.status;
        e.0.retry_after = c.retry_after;
        e.0.body = body;
        e
    }

    /// What the attempt's exchange meant.
    ///
    /// ```
    /// # let e = breakwater::http::HttpError::new(breakwater::http::HttpOutcome::Transport, "", "");
    /// assert!(e.outcome().is_failure());
    /// ```
    pub fn outcome(&self) -> HttpOutcome {
        self.0.outcome
    }

    /// The status, when the server answered (5xx, 429).
    ///
    /// ```
    /// # let e = breakwater::http::HttpError::new(breakwater::http::HttpOutcome::Transport, "", "");
    /// assert_eq!(e.status(), None);
    /// ```
    pub fn status(&self) -> Option<u16> {
        self.0.status
    }

    /// The server's `Retry-After` hint.
    ///
    /// ```
    /// # let e = breakwater::http::HttpError::new(breakwater::http::HttpOutcome::Transport, "", "");
    /// assert_eq!(e.retry_after(), None);
    /// ```
    pub fn retry_after(&self) -> Option<Duration> {
        self.0.retry_after
    }

    /// The base URL of the instance the attempt went to.
    ///
    /// ```
    /// # let e = breakwater::http::HttpError::new(breakwater::http::HttpOutcome::Transport, "http://b", "");
    /// assert_eq!(e.instance(), "http://b");
    /// ```
    pub fn instance(&self) -> &str {
        &self.0.instance
    }

    /// A short description (the ureq error, or the status).
    ///
    /// ```
    /// # let e = breakwater::http::HttpError::new(breakwater::http::HttpOutcome::Transport, "", "refused");
    /// assert_eq!(e.message(), "refused");
    /// ```
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// The body of the answer (empty when there was none).
    ///
    /// ```
    /// # let e = breakwater::http::HttpError::new(breakwater::http::HttpOutcome::Transport, "", "");
    /// assert!(e.body().is_empty());
    /// ```
    pub fn body(&self) -> &[u8] {
        &self.0.body
    }
}

impl fmt::Debug for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpError")
            .field("outcome", &self.0.outcome)
            .field("status", &self.0.status)
            .field("retry_after", &self.0.retry_after)
            .field("instance", &self.0.instance)
            .field("message", &self.0.message)
            .finish()
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = self.0.outcome.name().replace('_', " ");
        write!(f, "{what} from {}: {}", self.0.instance, self.0.message)
    }
}

impl std::error::Error for HttpError {}

/// A successful answer (status below 400) or a caller fault (4xx other than 429), with the
/// whole body, read within the attempt's timeout.
///
/// # Examples
///
/// ```no_run
/// # let client = breakwater::http::ServiceClient::builder("users").instance("http://127.0.0.1:8080").build()?;
/// let reply = client.get("/users/7").send()?;
/// if reply.status() == 404 {
///     println!("no such user");
/// } else {
///     println!("{} after {} attempt(s) on {}", reply.text(), reply.attempts(), reply.instance());
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Reply {
    status: u16,
    headers: HeaderMap,
    body: Vec<u8>,
    instance: String,
    attempts: u32,
    correlation_id: String,
    idempotency_key: Option<String>,
}

impl Reply {
    /// The status.
    ///
    /// ```no_run
    /// # let client = breakwater::http::ServiceClient::builder("a").instance("http://127.0.0.1:8080").build()?;
    /// let reply = client.get("/").send()?;
    /// assert_eq!(reply.status(), 200);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn status(&self) -> u16 {
        self.status
    }

    /// `true` for a status below 400.
    ///
    /// ```no_run
    /// # let client = breakwater::http::ServiceClient::builder("a").instance("http://127.0.0.1:8080").build()?;
    /// let reply = client.get("/").send()?;
    /// assert!(reply.is_success());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_success(&self) -> bool {
        self.status < 400
    }

    /// The headers of the answer.
    ///
    /// ```no_run
    /// # let client = breakwater::http::ServiceClient::builder("a").instance("http://127.0.0.1:8080").build()?;
    /// let reply = client.get("/").send()?;
    /// let n = reply.headers().len();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The value of header `name`, when present and text.
    ///
    /// ```no_run
    /// # let client = breakwater::http::ServiceClient::builder("a").instance("http://127.0.0.1:8080").build()?;
    /// let reply = client.get("/").send()?;
    /// let kind = reply.header("content-type");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body.
    ///
    /// ```no_run
    /// # let client = breakwater::http::ServiceClient::builder("a").instance("http://127.0.0.1:8080").build()?;
    /// let reply = client.get("/").send()?;
    /// let bytes: &[u8] = reply.body();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The body as text (invalid UTF-8 replaced).
    ///
    /// ```no_run
    /// # let client = breakwater::http::ServiceClient::builder("a").instance("http://127.0.0.1:8080").build()?;
    /// let reply = client.get("/").send()?;
    /// println!("{}", reply.text());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body, taken.
    ///
    /// ```no_run
    /// # let client = breakwater::http::ServiceClient::builder("a").instance("http://127.0.0.1:8080").build()?;
    /// let reply = client.get("/").send()?;
    /// let bytes: Vec<u8> = reply.into_body();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn into_body(self) -> Vec<u8> {
        self.body
    }

    /// The base URL of the instance that answered.
    ///
    /// ```no_run
    /// # let client = breakwater::http::ServiceClient::builder("a").instance("http://127.0.0.1:8080").build()?;
    /// let reply = client.get("/").send()?;
    /// assert_eq!(reply.instance(), "http://127.0.0.1:8080");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// Attempts this call took (1 without retries).
    ///
    /// ```no_run
    /// # let client = breakwater::http::ServiceClient::builder("a").instance("http://127.0.0.1:8080").build()?;
    /// let reply = client.get("/").send()?;
    /// assert!(reply.attempts() >= 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The `X-Correlation-Id` every attempt carried.
    ///
    /// ```no_run
    /// # let client = breakwater::http::ServiceClient::builder("a").instance("http://127.0.0.1:8080").build()?;
    /// let reply = client.get("/").send()?;
    /// assert_eq!(reply.correlation_id().len(), 32);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn correlation_id(&self) -> &str {
        &self.correlation_id
    }

    /// The `Idempotency-Key` every attempt carried, if any.
    ///
    /// ```no_run
    /// # let client = breakwater::http::ServiceClient::builder("a").instance("http://127.0.0.1:8080").build()?;
    /// let reply = client.get("/").send()?;
    /// assert_eq!(reply.idempotency_key(), None); // a GET needs none
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn idempotency_key(&self) -> Option<&str> {
        self.idempotency_key.as_deref()
    }
}

/// Counters of a [`ServiceClient`], since it was built.
///
/// # Examples
///
/// ```
/// let client = breakwater::http::ServiceClient::builder("x").instance("http://127.0.0.1:9").build()?;
/// let m = client.metrics();
/// assert_eq!((m.calls, m.attempts, m.retries), (0, 0, 0));
/// # Ok::<(), breakwater::ConfigError>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientMetrics {
    /// Calls started.
    pub calls: u64,
    /// Calls that returned a [`Reply`].
    pub succeeded: u64,
    /// Calls that returned [`Error::Failed`].
    pub failed: u64,
    /// Calls that returned [`Error::Rejected`].
    pub rejected: u64,
    /// Calls that returned [`Error::TimedOut`].
    pub timed_out: u64,
    /// Attempts sent, on every instance.
    pub attempts: u64,
    /// Retries (attempts after the first).
    pub retries: u64,
}

#[derive(Default)]
struct Counters {
    calls: AtomicU64,
    succeeded: AtomicU64,
    failed: AtomicU64,
    rejected: AtomicU64,
    timed_out: AtomicU64,
    retries: AtomicU64,
}

type TransitionHook = Arc<dyn Fn(&str, &Transition) + Send + Sync>;

/// The configuration a registered client is compared by.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct ClientKey {
    profile: Profile,
    instances: Vec<String>,
    strategy: Strategy,
    health: Option<(String, Duration)>,
}

struct Inner {
    service: String,
    profile: Profile,
    agent: Agent,
    balancer: Balancer,
    breakers: Box<[CircuitBreaker]>,
    attempts: Box<[[AtomicU64; 7]]>,
    bulkhead: Option<Bulkhead>,
    limiter: Option<RateLimiter>,
    retry: Retry,
    clock: Clock,
    counters: Counters,
    health: Option<parking_lot::Mutex<HealthChecker>>,
}

/// Builds a [`ServiceClient`]; made by [`ServiceClient::builder`].
///
/// # Examples
///
/// ```
/// use breakwater::http::{Profile, ServiceClient, Strategy};
/// let client = ServiceClient::builder("authors")
///     .instances(["http://10.0.0.1:8080", "http://10.0.0.2:8080"])
///     .profile(Profile::critical())
///     .strategy(Strategy::LeastInFlight)
///     .build()?;
/// assert_eq!(client.instances(), ["http://10.0.0.1:8080", "http://10.0.0.2:8080"]);
/// # Ok::<(), breakwater::ConfigError>(())
/// ```
#[must_use = "a builder does nothing until `build` is called"]
pub struct ServiceClientBuilder {
    service: String,
    instances: Vec<String>,
    profile: Profile,
    strategy: Strategy,
    agent: Option<Agent>,
    clock: Clock,
    registry: Option<Registry>,
    health: Option<(String, Duration)>,
    on_transition: Option<TransitionHook>,
}

impl fmt::Debug for ServiceClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceClientBuilder")
            .field("service", &self.service)
            .field("instances", &self.instances)
            .field("profile", &self.profile)
            .field("strategy", &self.strategy)
            .finish_non_exhaustive()
    }
}

impl ServiceClientBuilder {
    /// Adds an instance (a base URL such as `http://10.0.0.1:8080` or
    /// `http://api.local/v2`). Defaults to no instance (at least one is required).
    ///
    /// ```
    /// let b = breakwater::http::ServiceClient::builder("s").instance("http://a.local");
    /// ```
    pub fn instance(mut self, url: impl Into<String>) -> Self {
        self.instances.push(url.into());
        self
    }

    /// Adds several instances. Defaults to no instance.
    ///
    /// ```
    /// let b = breakwater::http::ServiceClient::builder("s").instances(["http://a.local", "http://b.local"]);
    /// ```
    pub fn instances<I, S>(mut self, urls: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.instances.extend(urls.into_iter().map(Into::into));
        self
    }

    /// The policies of the calls. Defaults to [`Profile::normal`].
    ///
    /// ```
    /// let b = breakwater::http::ServiceClient::builder("s").profile(breakwater::http::Profile::critical());
    /// ```
    pub fn profile(mut self, profile: Profile) -> Self {
        self.profile = profile;
        self
    }

    /// How an instance is chosen. Defaults to [`Strategy::RoundRobin`].
    ///
    /// ```
    /// let b = breakwater::http::ServiceClient::builder("s").strategy(breakwater::http::Strategy::Random);
    /// ```
    pub fn strategy(mut self, strategy: Strategy) -> Self {
        self.strategy = strategy;
        self
    }

    /// The agent that sends the requests (its connection pool, proxy, TLS settings and
    /// middleware are used; `http_status_as_error` and the timeout are set per request).
    /// Defaults to a new agent with ureq's defaults.
    ///
    /// ```
    /// let agent: ureq::Agent = ureq::Agent::config_builder().user_agent("me/1.0").build().into();
    /// let b = breakwater::http::ServiceClient::builder("s").agent(agent);
    /// ```
    pub fn agent(mut self, agent: Agent) -> Self {
        self.agent = Some(agent);
        self
    }

    /// The clock of the policies and of the calls' contexts. Defaults to the monotonic
    /// clock.
    ///
    /// ```
    /// let b = breakwater::http::ServiceClient::builder("s").clock(breakwater::Clock::monotonic());
    /// ```
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Registers the client in `registry` under the service name, so that
    /// [`prometheus`](crate::exposition::prometheus) and
    /// [`health_report`](crate::exposition::health_report) export it. Building a client
    /// whose name is registered returns the registered client when the configuration
    /// (profile, instances, strategy, health check) is the same. Defaults to no registry.
    ///
    /// ```
    /// let registry = breakwater::Registry::new();
    /// let a = breakwater::http::ServiceClient::builder("s").instance("http://a.local").registry(&registry).build()?;
    /// let b = breakwater::http::ServiceClient::builder("s").instance("http://a.local").registry(&registry).build()?;
    /// assert!(a.ptr_eq(&b));
    /// # Ok::<(), breakwater::ConfigError>(())
    /// ```
    pub fn registry(mut self, registry: &Registry) -> Self {
        self.registry = Some(registry.clone());
        self
    }

    /// Active health checks: a background thread GETs `path` on every instance each
    /// `interval` (with the attempt timeout, at most the interval) and marks an instance
    /// down when the answer is not 2xx, up again when it is. The thread stops when the
    /// client's last clone is dropped. Defaults to no health checks.
    ///
    /// ```
    /// let b = breakwater::http::ServiceClient::builder("s")
    ///     .health_check("/health", std::time::Duration::from_secs(5));
    /// ```
    pub fn health_check(mut self, path: &str, interval: Duration) -> Self {
        self.health = Some((path.to_owned(), interval));
        self
    }

    /// Called on every transition of an instance's breaker, with the instance's base URL
    /// (on the thread that caused the transition, outside the breaker's lock). Defaults to
    /// none.
    ///
    /// ```
    /// let b = breakwater::http::ServiceClient::builder("s")
    ///     .on_transition(|instance, t| println!("{instance}: {} -> {}", t.from, t.to));
    /// ```
    pub fn on_transition(mut self, f: impl Fn(&str, &Transition) + Send + Sync + 'static) -> Self {
        self.on_transition = Some(Arc::new(f));
        self
    }

    /// Builds the client (and starts its health checks).
    ///
    /// # Errors
    ///
    /// A [`ConfigError`]: `service` (empty), `instances` (none, or not an http(s) base
    /// URL), a profile field (see [`Profile::validate`]), `interval` (zero health-check
    /// interval), or `name` when the registry holds this service with another
    /// configuration.
    ///
    /// # Examples
    ///
    /// ```
    /// let e = breakwater::http::ServiceClient::builder("s").build().unwrap_err();
    /// assert_eq!(e.field, "instances");
    /// ```
    pub fn build(self) -> Result<ServiceClient, ConfigError> {
        let Some(registry) = self.registry.clone() else {
            return self.build_client();
        };
        let key = ClientKey {
            profile: self.profile.clone(),
            instances: self.instances.clone(),
            strategy: self.strategy,
            health: self.health.clone(),
        };
        let service = self.service.clone();
        registry.get_or_build_exported(PolicyKind::Http, &service, Some(key), |_| {
            self.build_client()
        })
    }

    fn build_client(self) -> Result<ServiceClient, ConfigError> {
        if self.service.is_empty() {
            return Err(ConfigError::new(
                PolicyKind::Http,
                "service",
                "must not be empty",
            ));
        }
        self.profile.validate()?;
        let balancer = Balancer::new(self.instances.iter().cloned(), self.strategy)?;
        let mut breakers = Vec::with_capacity(balancer.len());
        for i in 0..balancer.len() {
            let url = balancer.url(i).unwrap_or_default().to_owned();
            let config = self
                .profile
                .breaker_config(&format!("{}@{url}", self.service));
            let mut b = CircuitBreaker::builder()
                .config(config)
                .clock(self.clock.clone());
            if let Some(hook) = &self.on_transition {
                let hook = Arc::clone(hook);
                b = b.on_transition(move |t| hook(&url, t));
            }
            breakers.push(b.build()?);
        }
        let agent = self
            .agent
            .unwrap_or_else(|| Agent::config_builder().build().into());
        let health = match &self.health {
            None => None,
            Some((path, interval)) => {
                let agent = agent.clone();
                let path = path.trim_start_matches('/').to_owned();
                let timeout = self.profile.attempt_timeout().min(*interval);
                let checker = HealthChecker::builder(&balancer, move |base| {
                    probe(&agent, &format!("{base}/{path}"), timeout)
                })
                .interval(*interval)
                .clock(self.clock.clone())
                .stop_timeout(timeout)
                .start()?;
                Some(parking_lot::Mutex::new(checker))
            }
        };
        let n = balancer.len();
        Ok(ServiceClient {
            inner: Arc::new(Inner {
                bulkhead: self
                    .profile
                    .bulkhead_policy(&self.service, self.clock.clone())?,
                limiter: self.profile.limiter(&self.service, self.clock.clone())?,
                retry: self.profile.retry(self.clock.clone())?,
                service: self.service,
                profile: self.profile,
                agent,
                balancer,
                breakers: breakers.into_boxed_slice(),
                attempts: (0..n).map(|_| Default::default()).collect(),
                clock: self.clock,
                counters: Counters::default(),
                health,
            }),
        })
    }
}

fn probe(agent: &Agent, url: &str, timeout: Duration) -> bool {
    let Ok(request) = Request::get(url).body(()) else {
        return false;
    };
    let request = agent
        .configure_request(request)
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .build();
    agent.run(request).is_ok_and(|r| r.status().is_success())
}

/// A resilient client of one service (the reference `ResilientServiceClient` of SPEC 14):
/// a name, one or more instances, a [`Profile`] of policies. See the
/// [module docs](self) for what a call goes through. `Send + Sync`; clones share
/// everything (policies, counters, health checks).
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

enum Key {
    None,
    Given(String),
    Generate,
}

/// One request of a [`ServiceClient`], built up and then [`sent`](Call::send). Made by
/// [`ServiceClient::get`], [`ServiceClient::post`], ... or [`ServiceClient::request`].
///
/// # Examples
///
/// ```no_run
/// # let client = breakwater::http::ServiceClient::builder("orders").instance("http://127.0.0.1:8080").build()?;
/// let reply = client
///     .put("/orders/7")
///     .header("content-type", "application/json")
///     .correlation_id("trace-123")
///     .body(r#"{"qty":2}"#)
///     .send()?;
/// assert_eq!(reply.correlation_id(), "trace-123");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "a call does nothing until `send` is called"]
pub struct Call<'a> {
    client: &'a ServiceClient,
    method: Method,
    path: String,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Option<Vec<u8>>,
    key: Key,
    correlation_id: Option<String>,
    ctx: Option<&'a Ctx>,
    invalid: Option<String>,
}

impl fmt::Debug for Call<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Call")
            .field("method", &self.method)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl<'a> Call<'a> {
    /// Adds a header to every attempt. An invalid name or value makes
    /// [`send`](Call::send) fail with [`HttpOutcome::Invalid`]. Defaults to no headers.
    ///
    /// ```
    /// # let client = breakwater::http::ServiceClient::builder("s").instance("http://a.local").build().unwrap();
    /// let call = client.get("/").header("accept", "application/json");
    /// ```
    pub fn header(mut self, name: &str, value: &str) -> Self {
        match (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            (Ok(n), Ok(v)) => self.headers.push((n, v)),
            _ => self.invalid = Some(format!("invalid header {name:?}")),
        }
        self
    }

    /// The request body, sent again on every attempt. Defaults to no body.
    ///
    /// ```
    /// # let client = breakwater::http::ServiceClient::builder("s").instance("http://a.local").build().unwrap();
    /// let call = client.post("/items").body("{}");
    /// ```
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = Some(body.into());
        self
    }

    /// The `Idempotency-Key` of this operation, sent on every attempt: a request with a
    /// key may be retried whatever its method. Defaults to none.
    ///
    /// ```
    /// # let client = breakwater::http::ServiceClient::builder("s").instance("http://a.local").build().unwrap();
    /// let call = client.post("/payments").idempotency_key("pay-2024-0001");
    /// ```
    pub fn idempotency_key(mut self, key: &str) -> Self {
        self.key = Key::Given(key.to_owned());
        self
    }

    /// Generates an `Idempotency-Key` for a request whose method is not idempotent (POST,
    /// PATCH, ...), so that it may be retried; the same key goes with every attempt.
    /// Idempotent methods get none. Defaults to off.
    ///
    /// ```
    /// # let client = breakwater::http::ServiceClient::builder("s").instance("http://a.local").build().unwrap();
    /// let call = client.post("/payments").generate_idempotency_key();
    /// ```
    pub fn generate_idempotency_key(mut self) -> Self {
        self.key = Key::Generate;
        self
    }

    /// The `X-Correlation-Id` to propagate (the caller's own, from its incoming request).
    /// Defaults to a new random id per call.
    ///
    /// ```
    /// # let client = breakwater::http::ServiceClient::builder("s").instance("http://a.local").build().unwrap();
    /// let call = client.get("/").correlation_id("trace-1");
    /// ```
    pub fn correlation_id(mut self, id: &str) -> Self {
        self.correlation_id = Some(id.to_owned());
        self
    }

    /// The caller's context: its deadline bounds every attempt and delay, its
    /// cancellation flag stops the call between attempts. It should be on the client's
    /// clock. Defaults to a fresh context (no deadline but the profile's).
    ///
    /// ```
    /// # let client = breakwater::http::ServiceClient::builder("s").instance("http://a.local").build().unwrap();
    /// let ctx = breakwater::Ctx::new().with_timeout(std::time::Duration::from_secs(1));
    /// let call = client.get("/").ctx(&ctx);
    /// ```
    pub fn ctx(mut self, ctx: &'a Ctx) -> Self {
        self.ctx = Some(ctx);
        self
    }

    /// Sends the request through the client's policies (see the [module docs](self)).
    ///
    /// # Errors
    ///
    /// [`Error::Failed`] with the last attempt's [`HttpError`] (transport error, attempt
    /// timeout, 5xx, 429, invalid request); [`Error::TimedOut`] with
    /// [`PolicyKind::Deadline`] when the call's deadline ended it; [`Error::Rejected`]
    /// when the rate limiter, the bulkhead or the breakers refused it (or it was
    /// cancelled).
    ///
    /// # Examples
    ///
    /// ```
    /// use breakwater::{Error, http::{HttpOutcome, ServiceClient}};
    /// // Nothing listens on this port any more: the connection is refused.
    /// let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    /// let mut profile = breakwater::http::Profile::normal();
    /// profile.max_attempts = 1;
    /// let client = ServiceClient::builder("gone").instance(format!("http://127.0.0.1:{port}")).profile(profile).build()?;
    /// match client.get("/").send() {
    ///     Err(Error::Failed { error, attempts: 1 }) => assert_eq!(error.outcome(), HttpOutcome::Transport),
    ///     other => panic!("{other:?}"),
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn send(self) -> Result<Reply, Error<HttpError>> {
        let inner = &*self.client.inner;
        inner.counters.calls.fetch_add(1, Ordering::Relaxed);
        let result = inner.execute(self);
        let counter = match &result {
            Ok(_) => &inner.counters.succeeded,
            Err(Error::Rejected { .. }) => &inner.counters.rejected,
            Err(Error::TimedOut { .. }) => &inner.counters.timed_out,
            Err(_) => &inner.counters.failed,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        result
    }
}

impl Inner {
    fn execute(&self, call: Call<'_>) -> Result<Reply, Error<HttpError>> {
        if let Some(message) = &call.invalid {
            return Err(Error::failed(HttpError::new(
                HttpOutcome::Invalid,
                "",
                message.clone(),
            )));
        }
        let correlation_id = call.correlation_id.clone().unwrap_or_else(new_request_id);
        let key = match &call.key {
            Key::None => None,
            Key::Given(k) => Some(k.clone()),
            Key::Generate if is_idempotent_method(&call.method) => None,
            Key::Generate => Some(new_request_id()),
        };
        let may_retry = is_idempotent_method(&call.method) || key.is_some();

        if let Some(limiter) = &self.limiter {
            limiter.try_acquire().map_err(Error::from)?;
        }
        let base = call
            .ctx
            .cloned()
            .unwrap_or_else(|| Ctx::with_clock(self.clock.clone()));
        let ctx = match self.profile.deadline_ms {
            Some(ms) => base.with_timeout(Duration::from_millis(ms)),
            None => base,
        };
        let _permit = self.enter_bulkhead(&ctx)?;

        let mut state = self.retry.begin_with_deadline(ctx.deadline());
        let mut tried: Vec<usize> = Vec::new();
        loop {
            if ctx.is_cancelled() {
                return Err(Error::Rejected {
                    policy: PolicyKind::Http,
                    reason: RejectReason::Cancelled,
                    retry_after: None,
                });
            }
            let timeout = match ctx.remaining() {
                Some(r) if r.is_zero() => return Err(deadline_reached()),
                Some(r) => r.min(self.profile.attempt_timeout()),
                None => self.profile.attempt_timeout(),
            };
            let (index, permit) = self.admit(&tried)?;
            let attempt = state.attempt();
            let result = {
                let _in_flight = self.balancer.begin(index);
                self.attempt(index, &call, &correlation_id, key.as_deref(), timeout)
            };
            let outcome = match &result {
                Ok((_, outcome)) => *outcome,
                Err(e) => e.outcome(),
            };
            self.attempts[index][outcome_index(outcome)].fetch_add(1, Ordering::Relaxed);
            permit.record(match outcome.verdict() {
                Verdict::Success => Outcome::Success,
                Verdict::Failure => Outcome::Failure,
                Verdict::Ignore => Outcome::Ignored,
            });
            let error = match result {
                Ok((mut reply, _)) => {
                    reply.attempts = attempt;
                    reply.correlation_id = correlation_id;
                    reply.idempotency_key = key;
                    return Ok(reply);
                }
                Err(e) => e,
            };
            let failed = |error| Error::Failed {
                error,
                attempts: attempt,
            };
            if !error.outcome().is_retryable() || !may_retry {
                return Err(failed(error));
            }
            match state.next(OutcomeKind::Retryable, error.retry_after()) {
                Next::RetryAfter(delay) => {
                    self.counters.retries.fetch_add(1, Ordering::Relaxed);
                    tried.push(index);
                    self.clock.sleep(delay);
                }
                Next::Stop(_) if ctx.is_expired() && error.outcome() == HttpOutcome::Timeout => {
                    return Err(deadline_reached());
                }
                Next::Stop(_) => return Err(failed(error)),
            }
        }
    }

    fn enter_bulkhead(&self, ctx: &Ctx) -> Result<Option<BulkheadPermit>, Error<HttpError>> {
        let Some(bulkhead) = &self.bulkhead else {
            return Ok(None);
        };
        let max_wait = bulkhead.config().max_wait;
        let permit = if max_wait.is_zero() {
            bulkhead.try_acquire()
        } else {
            let own = bulkhead.clock().deadline_after(max_wait);
            let deadline = ctx.deadline().map_or(own, |d| d.min(own));
            bulkhead.acquire_cancellable(Some(deadline), ctx.cancel_token())
        };
        permit.map(Some).map_err(Error::from)
    }

    /// Picks an instance whose breaker admits the attempt, preferring those not `tried`.
    fn admit(&self, tried: &[usize]) -> Result<(usize, Permit), Error<HttpError>> {
        let admits =
            |i: usize| !matches!(self.breakers[i].state(), State::Open | State::ForcedOpen);
        let mut refused: Vec<usize> = Vec::new();
        let mut last = None;
        loop {
            let pick = self
                .balancer
                .pick(tried, |i| !refused.contains(&i) && admits(i))
                .or_else(|| {
                    // Every instance marked down: ignore the marks, the breakers decide.
                    let n = self.balancer.len();
                    let healthy = (0..n).any(|i| self.balancer.is_healthy(i));
                    (!healthy)
                        .then(|| (0..n).find(|&i| !refused.contains(&i) && admits(i)))
                        .flatten()
                });
            match pick {
                Some(i) => match self.breakers[i].try_acquire() {
                    Ok(permit) => return Ok((i, permit)),
                    Err(r) => {
                        refused.push(i);
                        last = Some(r);
                    }
                },
                None => break,
            }
        }
        if last.is_none() {
            // Every breaker is open: take the rejection (and its retry-after) from the first
            // instance in service, so that the rejection is counted.
            let n = self.balancer.len();
            let soonest = (0..n).find(|&i| self.balancer.is_healthy(i)).unwrap_or(0);
            match self.breakers[soonest].try_acquire() {
                Ok(permit) => return Ok((soonest, permit)),
                Err(r) => last = Some(r),
            }
        }
        Err(last.map(Error::from).unwrap_or(Error::Rejected {
            policy: PolicyKind::CircuitBreaker,
            reason: RejectReason::Open,
            retry_after: None,
        }))
    }

    fn attempt(
        &self,
        index: usize,
        call: &Call<'_>,
        correlation_id: &str,
        key: Option<&str>,
        timeout: Duration,
    ) -> Result<(Reply, HttpOutcome), HttpError> {
        let base = self.balancer.url(index).unwrap_or_default();
        let url = self.balancer.url_for(index, &call.path).unwrap_or_default();
        let mut builder = Request::builder().method(call.method.clone()).uri(&url);
        for (name, value) in &call.headers {
            builder = builder.header(name, value);
        }
        builder = builder.header(CORRELATION_ID, correlation_id);
        if let Some(key) = key {
            builder = builder.header(IDEMPOTENCY_KEY, key);
        }
        let invalid =
            |e: ureq::http::Error| HttpError::new(HttpOutcome::Invalid, base, e.to_string());
        let sent = match &call.body {
            Some(body) => {
                let request = builder.body(body.as_slice()).map_err(invalid)?;
                self.run(request, timeout)
            }
            None => {
                let request = builder.body(()).map_err(invalid)?;
                self.run(request, timeout)
            }
        };
        let mut response =
            sent.map_err(|e| HttpError::new(classify_error(&e).outcome, base, e.to_string()))?;
        let c = classify_response(&response, SystemTime::now());
        let body = response
            .body_mut()
            .read_to_vec()
            .map_err(|e| HttpError::new(classify_error(&e).outcome, base, e.to_string()))?;
        if c.outcome.is_failure() || c.outcome == HttpOutcome::Invalid {
            return Err(HttpError::answered(c, base, body));
        }
        let (parts, _) = response.into_parts();
        let reply = Reply {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body,
            instance: base.to_owned(),
            attempts: 0,
            correlation_id: String::new(),
            idempotency_key: None,
        };
        Ok((reply, c.outcome))
    }

    fn run<S: ureq::AsSendBody>(
        &self,
        request: Request<S>,
        timeout: Duration,
    ) -> Result<ureq::http::Response<ureq::Body>, ureq::Error> {
        let request = self
            .agent
            .configure_request(request)
            .http_status_as_error(false)
            .timeout_global(Some(timeout))
            .build();
        self.agent.run(request)
    }
}

fn deadline_reached() -> Error<HttpError> {
    Error::TimedOut {
        policy: PolicyKind::Deadline,
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
        ServiceClientBuilder {
            service: service.into(),
            instances: Vec::new(),
            profile: Profile::normal(),
            strategy: Strategy::RoundRobin,
            agent: None,
            clock: Clock::monotonic(),
            registry: None,
            health: None,
            on_transition: None,
        }
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

    /// The client's counters.
    ///
    /// ```
    /// let client = breakwater::http::ServiceClient::builder("a").instance("http://x.local").build().unwrap();
    /// assert_eq!(client.metrics().calls, 0);
    /// ```
    pub fn metrics(&self) -> ClientMetrics {
        let c = &self.inner.counters;
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        ClientMetrics {
            calls: load(&c.calls),
            succeeded: load(&c.succeeded),
            failed: load(&c.failed),
            rejected: load(&c.rejected),
            timed_out: load(&c.timed_out),
            attempts: self
                .inner
                .attempts
                .iter()
                .flat_map(|a| a.iter())
                .map(load)
                .sum(),
            retries: load(&c.retries),
        }
    }

    /// Attempts sent to instance `index` that ended with `outcome` (0 out of range).
    ///
    /// ```
    /// use breakwater::http::{HttpOutcome, ServiceClient};
    /// let client = ServiceClient::builder("a").instance("http://x.local").build()?;
    /// assert_eq!(client.attempts(0, HttpOutcome::Success), 0);
    /// # Ok::<(), breakwater::ConfigError>(())
    /// ```
    pub fn attempts(&self, index: usize, outcome: HttpOutcome) -> u64 {
        self.inner
            .attempts
            .get(index)
            .map_or(0, |a| a[outcome_index(outcome)].load(Ordering::Relaxed))
    }

    /// This client's metrics in the Prometheus text format: its breakers (labels
    /// `service`, `instance`), calls, attempts by outcome, retries, instance health and
    /// in-flight gauges, bulkhead and rate limiter (see
    /// [`exposition::prometheus`](crate::exposition::prometheus) for the families).
    ///
    /// ```
    /// let client = breakwater::http::ServiceClient::builder("a").instance("http://x.local").build()?;
    /// assert!(client.prometheus().contains("breakwater_http_calls_total{service=\"a\",result=\"ok\"} 0\n"));
    /// # Ok::<(), breakwater::ConfigError>(())
    /// ```
    pub fn prometheus(&self) -> String {
        let mut c = Collector::default();
        self.collect(&mut c);
        c.render()
    }

    pub(crate) fn collect(&self, c: &mut Collector) {
        let service = self.service();
        let m = self.metrics();
        for (result, v) in [
            ("ok", m.succeeded),
            ("failed", m.failed),
            ("rejected", m.rejected),
            ("timed_out", m.timed_out),
        ] {
            c.push(
                "breakwater_http_calls_total",
                MetricKind::Counter,
                "Service calls by result",
                &[("service", service), ("result", result)],
                v as f64,
            );
        }
        c.push(
            "breakwater_http_retries_total",
            MetricKind::Counter,
            "Retries (attempts after the first)",
            &[("service", service)],
            m.retries as f64,
        );
        let lb = &self.inner.balancer;
        for i in 0..lb.len() {
            let instance = lb.url(i).unwrap_or_default();
            for outcome in OUTCOMES {
                c.push(
                    "breakwater_http_attempts_total",
                    MetricKind::Counter,
                    "Attempts by instance and outcome",
                    &[
                        ("service", service),
                        ("instance", instance),
                        ("outcome", outcome.name()),
                    ],
                    self.attempts(i, outcome) as f64,
                );
            }
            let labels = [("service", service), ("instance", instance)];
            let up = if lb.is_healthy(i) { 1.0 } else { 0.0 };
            c.push(
                "breakwater_http_instance_up",
                MetricKind::Gauge,
                "1 while the instance is marked healthy",
                &labels,
                up,
            );
            c.push(
                "breakwater_http_in_flight",
                MetricKind::Gauge,
                "Attempts in flight",
                &labels,
                lb.in_flight(i) as f64,
            );
            c.breaker(&self.inner.breakers[i], service, instance);
        }
        if let Some(b) = &self.inner.bulkhead {
            c.bulkhead(b, service);
        }
        if let Some(r) = &self.inner.limiter {
            c.limiter(r, service);
        }
    }

    /// The service's health: up when every instance is marked healthy with its breaker
    /// closed, down when no instance is usable (marked down or breaker open), degraded
    /// otherwise; with the number of usable instances and of all instances.
    pub(crate) fn health(&self) -> (Status, u64, u64) {
        let lb = &self.inner.balancer;
        let mut usable = 0u64;
        let mut all_up = true;
        for (i, b) in self.inner.breakers.iter().enumerate() {
            let state = b.state();
            let open = matches!(state, State::Open | State::ForcedOpen);
            if lb.is_healthy(i) && !open {
                usable += 1;
            }
            all_up &= lb.is_healthy(i) && breaker_status(state) == Status::Up;
        }
        let status = match (usable, all_up) {
            (0, _) => Status::Down,
            (_, true) => Status::Up,
            _ => Status::Degraded,
        };
        (status, usable, lb.len() as u64)
    }

    /// The service's health as a JSON report (see
    /// [`crate::exposition::health_json`]): the service, then each instance's
    /// breaker.
    ///
    /// ```
    /// let client = breakwater::http::ServiceClient::builder("a").instance("http://x.local").build()?;
    /// assert!(client.health_json().starts_with(r#"{"status":"UP","components":{"a":"#));
    /// client.breakers()[0].force_open();
    /// assert!(client.health_json().starts_with(r#"{"status":"DOWN""#));
    /// # Ok::<(), breakwater::ConfigError>(())
    /// ```
    pub fn health_json(&self) -> String {
        let (status, usable, total) = self.health();
        let service = [
            ("usable_instances", Detail::UInt(usable)),
            ("instances", Detail::UInt(total)),
        ];
        let states: Vec<(State, bool)> = self
            .inner
            .breakers
            .iter()
            .enumerate()
            .map(|(i, b)| (b.state(), self.inner.balancer.is_healthy(i)))
            .collect();
        let details: Vec<[(&str, Detail<'_>); 2]> = states
            .iter()
            .map(|(s, up)| {
                [
                    ("state", Detail::Str(s.as_str())),
                    ("healthy", Detail::Bool(*up)),
                ]
            })
            .collect();
        let mut components = vec![Component::new(self.service(), status).with_details(&service)];
        for ((b, (s, up)), d) in self.inner.breakers.iter().zip(&states).zip(&details) {
            let st = if *up {
                breaker_status(*s)
            } else {
                Status::Down
            };
            components.push(Component::new(b.name(), st).with_details(d));
        }
        health_json(&components)
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
        Call {
            client: self,
            method,
            path: path.to_owned(),
            headers: Vec::new(),
            body: None,
            key: Key::None,
            correlation_id: None,
            ctx: None,
            invalid: None,
        }
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
