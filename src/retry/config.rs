//! The plain settings of a retry ([`RetryConfig`]) and its builder ([`RetryBuilder`]).

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use crate::clock::Clock;
use crate::error::{ConfigError, PolicyKind};

use super::backoff::{Plan, check_duration, nanos};
use super::{Backoff, Inner, Jitter, Retry, RetryBudget, RetryBudgetConfig};

/// The plain settings of a [`Retry`] (no clock, no shared budget handle), for the
/// registry and configuration files.
///
/// # Examples
///
/// ```
/// use breakwater::{Retry, RetryConfig};
/// let mut config = RetryConfig::default();
/// config.max_attempts = 5;
/// let retry = Retry::from_config(&config).unwrap();
/// assert_eq!(retry.config().max_attempts, 5);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RetryConfig {
    /// Attempts in all, counting the first call (at least 1). Defaults to 3.
    pub max_attempts: u32,
    /// How the delay grows. Defaults to exponential from 500 ms, doubling.
    pub backoff: Backoff,
    /// The cap on the backoff's delay (before jitter). Defaults to no cap.
    pub max_delay: Option<Duration>,
    /// The floor applied after jitter. Defaults to zero.
    pub min_delay: Duration,
    /// The randomisation of each delay. Defaults to [`Jitter::None`].
    pub jitter: Jitter,
    /// The total time budget of a call, from its start. Defaults to none.
    pub max_elapsed: Option<Duration>,
    /// A retry budget private to this retry (shared by its clones), built when the retry
    /// is. Defaults to none (unlimited retries).
    pub budget: Option<RetryBudgetConfig>,
    /// The jitter seed; `None` draws one at build time. Defaults to `None`.
    pub seed: Option<u64>,
    /// Whether a rejection by an inner breakwater policy (breaker, bulkhead, rate
    /// limiter, full time-limiter pool) is retried, not before its `retry_after` hint.
    /// Defaults to `false`: a rejection is returned at once.
    pub retry_rejections: bool,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            max_attempts: 3,
            backoff: Backoff::default(),
            max_delay: None,
            min_delay: Duration::ZERO,
            jitter: Jitter::None,
            max_elapsed: None,
            budget: None,
            seed: None,
            retry_rejections: false,
        }
    }
}

impl RetryConfig {
    /// Checks every field; the error names the first one that is wrong.
    fn validate(&self) -> Result<Plan, ConfigError> {
        let err = |field, msg: &str| Err(ConfigError::new(PolicyKind::Retry, field, msg));
        if self.max_attempts == 0 {
            return err("max_attempts", "must be at least 1");
        }
        self.backoff.validate()?;
        self.jitter.validate()?;
        check_duration("min_delay", self.min_delay)?;
        if let Some(cap) = self.max_delay {
            check_duration("max_delay", cap)?;
            if cap < self.backoff.initial() {
                return err("max_delay", "must be at least the backoff's initial delay");
            }
            if cap < self.min_delay {
                return err("min_delay", "must not exceed max_delay");
            }
        }
        if let Some(total) = self.max_elapsed {
            check_duration("max_elapsed", total)?;
            if total.is_zero() {
                return err(
                    "max_elapsed",
                    "must be non-zero (use max_attempts(1) to never retry)",
                );
            }
        }
        if let Some(budget) = &self.budget {
            budget.validate()?;
        }
        Ok(Plan {
            backoff: self.backoff,
            jitter: self.jitter,
            cap: self.max_delay.map_or(u64::MAX, nanos),
            floor: nanos(self.min_delay),
        })
    }
}

/// Builds a [`Retry`]. Made by [`Retry::builder`].
///
/// # Examples
///
/// ```
/// use breakwater::{Backoff, Jitter, Retry};
/// use std::time::Duration;
///
/// // The reference setting: 0.5 s doubling, capped at 10 s, ±10%, at least 0.1 s.
/// let retry = Retry::builder()
///     .name("authors")
///     .max_attempts(3)
///     .backoff(Backoff::Exponential { initial: Duration::from_millis(500), multiplier: 2.0 })
///     .max_delay(Duration::from_secs(10))
///     .jitter(Jitter::Proportional(0.1))
///     .min_delay(Duration::from_millis(100))
///     .build()
///     .unwrap();
/// assert_eq!(retry.name(), "authors");
/// ```
#[derive(Debug, Clone, Default)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct RetryBuilder {
    config: RetryConfig,
    clock: Clock,
    budget: Option<RetryBudget>,
    name: String,
}

impl RetryBuilder {
    /// A builder starting from `config`.
    ///
    /// ```
    /// let b = breakwater::RetryBuilder::from_config(breakwater::RetryConfig::default());
    /// assert!(b.build().is_ok());
    /// ```
    pub fn from_config(config: RetryConfig) -> RetryBuilder {
        RetryBuilder {
            config,
            ..RetryBuilder::default()
        }
    }

    /// Attempts in all, counting the first call; 1 never retries. Defaults to 3.
    ///
    /// ```
    /// assert!(breakwater::Retry::builder().max_attempts(0).build().is_err());
    /// ```
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.config.max_attempts = n;
        self
    }

    /// How the delay grows from retry to retry. Defaults to
    /// `Backoff::Exponential { initial: 500 ms, multiplier: 2.0 }`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let r = breakwater::Retry::builder()
    ///     .backoff(breakwater::Backoff::Fixed(Duration::from_secs(1)))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(r.delays().collect::<Vec<_>>(), [Duration::from_secs(1); 2]);
    /// ```
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.config.backoff = backoff;
        self
    }

    /// The cap on the backoff's delay (applied before jitter; at least the initial
    /// delay). Defaults to no cap.
    ///
    /// ```
    /// use std::time::Duration;
    /// let r = breakwater::Retry::builder()
    ///     .max_attempts(5)
    ///     .max_delay(Duration::from_secs(1))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(r.delays().last(), Some(Duration::from_secs(1)));
    /// ```
    pub fn max_delay(mut self, cap: Duration) -> Self {
        self.config.max_delay = Some(cap);
        self
    }

    /// The randomisation of each delay. Defaults to [`Jitter::None`].
    ///
    /// ```
    /// let r = breakwater::Retry::builder().jitter(breakwater::Jitter::Full).build();
    /// assert!(r.is_ok());
    /// ```
    pub fn jitter(mut self, jitter: Jitter) -> Self {
        self.config.jitter = jitter;
        self
    }

    /// The floor of every delay, applied after jitter. Defaults to zero.
    ///
    /// ```
    /// use std::time::Duration;
    /// let r = breakwater::Retry::builder()
    ///     .backoff(breakwater::Backoff::Fixed(Duration::ZERO))
    ///     .min_delay(Duration::from_millis(100))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(r.delays().next(), Some(Duration::from_millis(100)));
    /// ```
    pub fn min_delay(mut self, floor: Duration) -> Self {
        self.config.min_delay = floor;
        self
    }

    /// The total time budget of one call, from its start: a retry whose delay would end
    /// at or past it is not started. Defaults to none.
    ///
    /// ```
    /// use std::time::Duration;
    /// let r = breakwater::Retry::builder()
    ///     .max_attempts(10)
    ///     .backoff(breakwater::Backoff::Fixed(Duration::from_secs(1)))
    ///     .max_elapsed(Duration::from_millis(2500))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(r.delays().count(), 2);
    /// ```
    pub fn max_elapsed(mut self, total: Duration) -> Self {
        self.config.max_elapsed = Some(total);
        self
    }

    /// A retry budget to share (with other retries too): each call deposits, each retry
    /// withdraws. Defaults to none (unlimited retries).
    ///
    /// ```
    /// use breakwater::{Clock, Retry, RetryBudget};
    /// let budget = RetryBudget::new(0.2, std::time::Duration::from_secs(10), 0, Clock::monotonic()).unwrap();
    /// let a = Retry::builder().budget(budget.clone()).build().unwrap();
    /// let b = Retry::builder().budget(budget.clone()).build().unwrap();
    /// drop(a.begin());
    /// drop(b.begin());
    /// ```
    pub fn budget(mut self, budget: RetryBudget) -> Self {
        self.config.budget = Some(budget.config());
        self.budget = Some(budget);
        self
    }

    /// The clock of [`Retry::begin`] and [`Retry::call`] (and of a budget built from the
    /// configuration). [`Retry::execute`] uses the context's clock. Defaults to the
    /// monotonic clock.
    ///
    /// ```
    /// let manual = breakwater::ManualClock::new();
    /// let r = breakwater::Retry::builder().clock(manual.into()).build().unwrap();
    /// assert!(r.clock().is_manual());
    /// ```
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Seeds the jitter so that every run draws the same delays. Defaults to a seed
    /// drawn at build time.
    ///
    /// ```
    /// use breakwater::{Jitter, Retry};
    /// let a = Retry::builder().jitter(Jitter::Full).seed(1).build().unwrap();
    /// let b = Retry::builder().jitter(Jitter::Full).seed(1).build().unwrap();
    /// assert!(a.delays().eq(b.delays()));
    /// ```
    pub fn seed(mut self, seed: u64) -> Self {
        self.config.seed = Some(seed);
        self
    }

    /// Retries rejections by inner breakwater policies (an open breaker, a full
    /// bulkhead, a rate limiter, a time limiter's full pool), each retry waiting at least
    /// the rejection's `retry_after` hint. Only for a policy whose rejection is expected
    /// to clear within the retry's budget (a rate limiter's next permit, say): an open
    /// breaker says the dependency is down, and retrying it only adds load and latency.
    /// Defaults to `false`: a rejection is returned at once, without a wait.
    ///
    /// ```
    /// use breakwater::{Backoff, Error, ManualClock, RateLimiter, Retry};
    /// use std::time::Duration;
    ///
    /// let clock = ManualClock::new();
    /// let limiter = RateLimiter::builder()
    ///     .permits(1)
    ///     .period(Duration::from_secs(1))
    ///     .clock(clock.clone())
    ///     .build()
    ///     .unwrap();
    /// let retry = Retry::builder()
    ///     .backoff(Backoff::Fixed(Duration::from_millis(10)))
    ///     .retry_rejections(true)
    ///     .clock(clock.clone().into())
    ///     .build()
    ///     .unwrap();
    /// limiter.try_acquire().unwrap(); // the only permit of this second
    /// let answer = retry.call(|_| limiter.call(|| Ok::<_, ()>("sent")));
    /// assert_eq!(answer.unwrap(), "sent");
    /// assert_eq!(clock.elapsed(), Duration::from_secs(1)); // waited for the next permit
    /// ```
    pub fn retry_rejections(mut self, yes: bool) -> Self {
        self.config.retry_rejections = yes;
        self
    }

    /// The retry's name (for metrics and the registry). Defaults to an empty name.
    ///
    /// ```
    /// let r = breakwater::Retry::builder().name("payments").build().unwrap();
    /// assert_eq!(r.name(), "payments");
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Checks the configuration and builds the retry.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the field: `max_attempts` (0), `multiplier` (NaN,
    /// infinite or below 1), `initial` / `step` / `min_delay` / `max_delay` /
    /// `max_elapsed` / `ttl` (beyond `u64::MAX` nanoseconds), `max_delay` (below the
    /// initial delay), `min_delay` (above `max_delay`), `max_elapsed` (zero), `jitter`
    /// (a proportional factor outside `[0, 1]` or NaN), `percent` / `ttl` (budget).
    ///
    /// # Examples
    ///
    /// ```
    /// use breakwater::{Backoff, Retry};
    /// use std::time::Duration;
    /// let err = Retry::builder()
    ///     .backoff(Backoff::Exponential { initial: Duration::from_secs(1), multiplier: f64::NAN })
    ///     .build()
    ///     .unwrap_err();
    /// assert_eq!(err.field, "multiplier");
    /// ```
    pub fn build(self) -> Result<Retry, ConfigError> {
        let plan = self.config.validate()?;
        let budget = match (self.budget, &self.config.budget) {
            (Some(shared), _) => Some(shared),
            (None, Some(c)) => Some(RetryBudget::from_config(c, self.clock.clone())?),
            (None, None) => None,
        };
        let seed = self.config.seed.unwrap_or_else(rand::random);
        Ok(Retry {
            inner: Arc::new(Inner {
                name: self.name,
                config: self.config,
                plan,
                clock: self.clock,
                budget,
                seed,
                streams: AtomicU64::new(0),
            }),
        })
    }
}
