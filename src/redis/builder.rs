//! [`SharedBreakerBuilder`]: the breaker's configuration, where Redis is, listeners.

use std::sync::Arc;
use std::time::Duration;

use crate::breaker::{BreakerConfig, Transition, TripPolicy, Window};
use crate::error::{ConfigError, PolicyKind};

use super::breaker::{SharedBreaker, local_fallback};
use super::error::{OpError, SharedError};
use super::health::{HealthEvent, HealthListener, HealthState};
use super::options::RedisOptions;
use super::shared::{Inner, TransitionListener};

/// Builds a [`SharedBreaker`].
///
/// The breaker settings are those of [`BreakerConfig`] (same names, same defaults),
/// except that the rate policy needs a time window (`Window::Time`: per-bucket counters
/// in Redis) and the slow-call rate is not shared.
///
/// # Examples
///
/// ```
/// use breakwater::redis::SharedBreaker;
/// use breakwater::Window;
/// use std::time::Duration;
///
/// let err = SharedBreaker::builder()
///     .failure_rate(0.5, Window::Count(100), 10)
///     .build()
///     .unwrap_err();
/// assert!(err.to_string().contains("window"));
/// ```
#[derive(Clone, Default)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct SharedBreakerBuilder {
    config: BreakerConfig,
    redis: RedisOptions,
    on_transition: Vec<TransitionListener>,
    on_health: Vec<HealthListener>,
}

impl std::fmt::Debug for SharedBreakerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedBreakerBuilder")
            .field("config", &self.config)
            .field("redis", &self.redis)
            .finish_non_exhaustive()
    }
}

impl SharedBreakerBuilder {
    /// The defaults.
    ///
    /// ```
    /// let _ = breakwater::redis::SharedBreakerBuilder::new();
    /// ```
    pub fn new() -> SharedBreakerBuilder {
        SharedBreakerBuilder::default()
    }

    /// Replaces the whole breaker configuration.
    ///
    /// ```
    /// use breakwater::{BreakerConfig, redis::SharedBreaker};
    /// let _ = SharedBreaker::builder().config(BreakerConfig::default());
    /// ```
    pub fn config(mut self, config: BreakerConfig) -> Self {
        self.config = config;
        self
    }

    /// Replaces the Redis options.
    ///
    /// ```
    /// use breakwater::redis::{RedisOptions, SharedBreaker};
    /// let _ = SharedBreaker::builder().redis(RedisOptions::default());
    /// ```
    pub fn redis(mut self, redis: RedisOptions) -> Self {
        self.redis = redis;
        self
    }

    /// The breaker's name: processes that use the same name (and key prefix) share it.
    /// Defaults to `"default"`.
    ///
    /// ```
    /// let _ = breakwater::redis::SharedBreaker::builder().name("authors");
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.config.name = name.into();
        self
    }

    /// The Redis URL. Defaults to [`DEFAULT_REDIS_URL`](super::DEFAULT_REDIS_URL).
    ///
    /// ```
    /// let _ = breakwater::redis::SharedBreaker::builder().url("redis://10.0.0.5:6379/");
    /// ```
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.redis.url = url.into();
        self
    }

    /// The key prefix. Defaults to [`DEFAULT_KEY_PREFIX`](super::DEFAULT_KEY_PREFIX).
    ///
    /// ```
    /// let _ = breakwater::redis::SharedBreaker::builder().key_prefix("shop");
    /// ```
    pub fn key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.redis.key_prefix = prefix.into();
        self
    }

    /// The longest one Redis operation may take. Defaults to
    /// [`DEFAULT_OP_TIMEOUT`](super::DEFAULT_OP_TIMEOUT).
    ///
    /// ```
    /// let _ = breakwater::redis::SharedBreaker::builder().op_timeout(std::time::Duration::from_millis(20));
    /// ```
    pub fn op_timeout(mut self, d: Duration) -> Self {
        self.redis.op_timeout = d;
        self
    }

    /// How long outcomes may wait before they are sent. Defaults to
    /// [`DEFAULT_FLUSH_INTERVAL`](super::DEFAULT_FLUSH_INTERVAL).
    ///
    /// ```
    /// let _ = breakwater::redis::SharedBreaker::builder().flush_interval(std::time::Duration::from_millis(5));
    /// ```
    pub fn flush_interval(mut self, d: Duration) -> Self {
        self.redis.flush_interval = d;
        self
    }

    /// The polling backstop and reconnection pace. Defaults to
    /// [`DEFAULT_POLL_INTERVAL`](super::DEFAULT_POLL_INTERVAL).
    ///
    /// ```
    /// let _ = breakwater::redis::SharedBreaker::builder().poll_interval(std::time::Duration::from_secs(1));
    /// ```
    pub fn poll_interval(mut self, d: Duration) -> Self {
        self.redis.poll_interval = d;
        self
    }

    /// The trip policy. Defaults to five consecutive failures.
    ///
    /// ```
    /// use breakwater::TripPolicy;
    /// let _ = breakwater::redis::SharedBreaker::builder().policy(TripPolicy::ConsecutiveFailures { threshold: 3 });
    /// ```
    pub fn policy(mut self, policy: TripPolicy) -> Self {
        self.config.policy = policy;
        self
    }

    /// `n` consecutive failures, fleet-wide, open the breaker.
    ///
    /// ```
    /// let _ = breakwater::redis::SharedBreaker::builder().consecutive_failures(5);
    /// ```
    pub fn consecutive_failures(self, n: u32) -> Self {
        self.policy(TripPolicy::ConsecutiveFailures { threshold: n })
    }

    /// `n` failures, fleet-wide, within `window` from the window's first failure open.
    ///
    /// ```
    /// let _ = breakwater::redis::SharedBreaker::builder().failures_in_window(5, std::time::Duration::from_secs(10));
    /// ```
    pub fn failures_in_window(self, n: u32, window: Duration) -> Self {
        self.policy(TripPolicy::FailuresInWindow {
            threshold: n,
            window,
        })
    }

    /// A fleet-wide failure rate `>= threshold` over a time window, once the window holds
    /// `minimum_calls` outcomes.
    ///
    /// ```
    /// use breakwater::Window;
    /// let _ = breakwater::redis::SharedBreaker::builder()
    ///     .failure_rate(0.5, Window::Time(std::time::Duration::from_secs(10)), 20);
    /// ```
    pub fn failure_rate(self, threshold: f64, window: Window, minimum_calls: u32) -> Self {
        self.policy(TripPolicy::FailureRate {
            threshold,
            window,
            minimum_calls,
            slow: None,
        })
    }

    /// How long the breaker stays open. Defaults to 60 s.
    ///
    /// ```
    /// let _ = breakwater::redis::SharedBreaker::builder().open_duration(std::time::Duration::from_secs(30));
    /// ```
    pub fn open_duration(mut self, d: Duration) -> Self {
        self.config.open_duration = d;
        self
    }

    /// Admissions per half-open trial. Defaults to 1.
    ///
    /// ```
    /// let _ = breakwater::redis::SharedBreaker::builder().half_open_max_calls(3);
    /// ```
    pub fn half_open_max_calls(mut self, n: u32) -> Self {
        self.config.half_open_max_calls = n;
        self
    }

    /// Successes that close a trial (count policies). Defaults to the trial size.
    ///
    /// ```
    /// let _ = breakwater::redis::SharedBreaker::builder().half_open_max_calls(3).success_threshold(2);
    /// ```
    pub fn success_threshold(mut self, n: u32) -> Self {
        self.config.success_threshold = Some(n);
        self
    }

    /// How long an undecided trial may last. Defaults to the open duration.
    ///
    /// ```
    /// let _ = breakwater::redis::SharedBreaker::builder().half_open_max_wait(std::time::Duration::from_secs(5));
    /// ```
    pub fn half_open_max_wait(mut self, d: Duration) -> Self {
        self.config.half_open_max_wait = Some(d);
        self
    }

    /// A listener for the transitions this process learns of (its own and the fleet's),
    /// in generation order; a transition several generations ahead is seen as one.
    ///
    /// ```
    /// let _ = breakwater::redis::SharedBreaker::builder().on_transition(|t| println!("{:?} -> {:?}", t.from, t.to));
    /// ```
    pub fn on_transition(mut self, f: impl Fn(&Transition) + Send + Sync + 'static) -> Self {
        self.on_transition.push(Arc::new(f));
        self
    }

    /// A listener for health changes (Redis lost, Redis back). It must not call back
    /// into the breaker's manual controls.
    ///
    /// ```
    /// let _ = breakwater::redis::SharedBreaker::builder().on_health(|e| eprintln!("{}: {}", e.health.as_str(), e.reason));
    /// ```
    pub fn on_health(mut self, f: impl Fn(&HealthEvent) + Send + Sync + 'static) -> Self {
        self.on_health.push(Arc::new(f));
        self
    }

    /// Checks the configuration without connecting.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the field.
    ///
    /// ```
    /// let e = breakwater::redis::SharedBreaker::builder().consecutive_failures(0).validate().unwrap_err();
    /// assert_eq!(e.field, "consecutive_failures");
    /// ```
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.config.validate()?;
        self.redis.validate_for(PolicyKind::CircuitBreaker)?;
        RedisOptions::validate_name(PolicyKind::CircuitBreaker, &self.config.name)?;
        let err = |field, msg: &str| Err(ConfigError::new(PolicyKind::CircuitBreaker, field, msg));
        match &self.config.policy {
            TripPolicy::FailureRate {
                window: Window::Count(_),
                ..
            } => err(
                "failure_rate.window",
                "must be a time window for a shared breaker (fleet-wide counts live in per-bucket counters)",
            ),
            TripPolicy::FailureRate { slow: Some(_), .. } => err(
                "failure_rate.slow",
                "slow-call rates are not shared; use a local breaker for them",
            ),
            TripPolicy::SlowCallRate { .. } => err(
                "slow_call_rate",
                "slow-call rates are not shared; use a local breaker for them",
            ),
            _ => Ok(()),
        }
    }

    /// Builds the breaker and starts its background threads. Connects once (within the
    /// operation timeout) to read the shared state; an unreachable Redis is not an
    /// error: the breaker starts degraded and connects when it can.
    ///
    /// # Errors
    ///
    /// [`SharedError::Config`] for a refused configuration, [`SharedError::Url`],
    /// [`SharedError::Auth`], [`SharedError::WrongType`] (the key holds something else)
    /// or [`SharedError::Server`].
    ///
    /// ```
    /// let b = breakwater::redis::SharedBreaker::builder().url("redis://127.0.0.1:1/").build().unwrap();
    /// assert_eq!(b.health(), breakwater::redis::Health::Degraded);
    /// ```
    pub fn build(self) -> Result<SharedBreaker, SharedError> {
        self.validate()?;
        let client = self.redis.client()?;
        let local = local_fallback(&self.config)?;
        let (tx, rx) = crossbeam_channel::bounded(1);
        let health = Arc::new(HealthState::new(self.on_health));
        let inner = Arc::new(Inner::new(
            self.config,
            self.redis,
            client,
            tx,
            local,
            health,
            self.on_transition,
        ));
        let mut link = inner.link();
        match inner.sync(&mut link) {
            Ok(()) => {}
            Err(OpError::Fatal(e)) => return Err(e),
            Err(e) => inner.degrade(&e),
        }
        Ok(SharedBreaker::start(inner, rx))
    }
}

impl SharedBreaker {
    /// A builder with the defaults of [`BreakerConfig`] and
    /// [`RedisOptions`](super::RedisOptions).
    ///
    /// ```
    /// let b = breakwater::redis::SharedBreaker::builder().name("db");
    /// # let _ = b;
    /// ```
    pub fn builder() -> SharedBreakerBuilder {
        SharedBreakerBuilder::new()
    }
}
