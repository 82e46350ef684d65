//! [`ServiceClientBuilder`]: a client's service name, instances, profile, agent, clock,
//! registry, health checks; validated and assembled into a [`ServiceClient`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use ureq::Agent;

use super::attempt::probe;
use super::engine::compose;
use super::report::Counters;
use super::{Inner, ServiceClient};
use crate::breaker::{CircuitBreaker, Transition};
use crate::clock::Clock;
use crate::error::{ConfigError, PolicyKind};
use crate::http::balance::{Balancer, Strategy};
use crate::http::health::HealthChecker;
use crate::http::profile::Profile;
use crate::registry::Registry;

type TransitionHook = Arc<dyn Fn(&str, &Transition) + Send + Sync>;

/// The configuration a registered client is compared by.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct ClientKey {
    profile: Profile,
    instances: Vec<String>,
    strategy: Strategy,
    health: Option<(String, Duration)>,
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
    pub(super) fn new(service: String) -> ServiceClientBuilder {
        ServiceClientBuilder {
            service,
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
            // Compared in normal form: `HTTP://A.local/` is `http://a.local`.
            instances: self
                .instances
                .iter()
                .map(|u| crate::http::base_url::normalize(u).unwrap_or_else(|_| u.clone()))
                .collect(),
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
        let bulkhead = self
            .profile
            .bulkhead_policy(&self.service, self.clock.clone())?;
        let limiter = self.profile.limiter(&self.service, self.clock.clone())?;
        let retry = self.profile.retry(self.clock.clone())?;
        let engine = compose(
            &self.profile,
            limiter.clone(),
            bulkhead.clone(),
            retry,
            self.clock.clone(),
        );
        Ok(ServiceClient {
            inner: Arc::new(Inner {
                bulkhead,
                limiter,
                engine,
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
