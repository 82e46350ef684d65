//! Pipeline profiles for the service client, as plain data that JSON files can carry. The
//! user-facing documentation (the built-in profiles and the JSON form) is on [`Profile`]
//! (this module is private; its items are re-exported from `breakwater::http`).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::breaker::{BreakerConfig, TripPolicy};
use crate::bulkhead::Bulkhead;
use crate::clock::Clock;
use crate::error::{ConfigError, PolicyKind};
use crate::ratelimit::RateLimiter;
use crate::retry::{Backoff, Jitter, Retry};

/// The policies of one service's calls for the [`ServiceClient`](super::ServiceClient),
/// outermost first: rate limit, bulkhead, total deadline, retry, the breaker of the instance
/// an attempt goes to, the attempt timeout. Plain data that JSON files can carry.
///
/// # Built-in profiles
///
/// The two profiles of the reference client (SPEC 14) are built in:
///
/// | setting | [`Profile::critical`] | [`Profile::normal`] |
/// |---|---|---|
/// | bulkhead (concurrent calls) | 50 | 20 |
/// | breaker: consecutive failures that open an instance | 3 | 5 |
/// | breaker: open duration | 30 s | 60 s |
/// | breaker: trial size / successes to close | 2 / 2 | 2 / 2 |
/// | retry: attempts in all | 5 | 3 |
/// | retry: backoff | 0.5 s doubling, cap 10 s | 1 s doubling, cap 60 s |
/// | retry: jitter | ±10 %, floor 0.1 s | ×0.5..1.5 |
/// | attempt timeout | 10 s | 5 s |
/// | longest `Retry-After` waited for | 30 s | 30 s |
///
/// # JSON form
///
/// An object with the fields of the struct, by the same names: [`Profile::from_json`] reads
/// one and [`Profile::to_json`] writes one; [`profiles_from_json`] reads an object of
/// profiles by name and [`load_profiles`] a file of it. Every duration is a whole number of
/// milliseconds (`*_ms`); a field left out takes the [`Profile::normal`] value, and an
/// unknown field is refused (a typo must not pass silently).
///
/// # Examples
///
/// ```
/// use breakwater::http::Profile;
/// let p = Profile::critical();
/// assert_eq!((p.breaker_failures, p.max_attempts, p.bulkhead), (3, 5, Some(50)));
/// assert!(p.validate().is_ok());
/// ```
///
/// Profiles from JSON:
///
/// ```
/// use breakwater::http::{profiles_from_json, Profile};
///
/// let profiles = profiles_from_json(r#"{
///     "search": { "max_attempts": 2, "attempt_timeout_ms": 800, "bulkhead": null },
///     "payments": { "breaker_failures": 3, "breaker_open_ms": 30000 }
/// }"#)?;
/// assert_eq!(profiles["search"].max_attempts, 2);
/// assert_eq!(profiles["search"].bulkhead, None);
/// assert_eq!(profiles["payments"].max_attempts, Profile::normal().max_attempts);
/// # Ok::<(), breakwater::ConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct Profile {
    /// Calls in flight at once for the service (a semaphore bulkhead); `None`: no
    /// bulkhead.
    pub bulkhead: Option<u32>,
    /// How long a call waits for a bulkhead permit (bounded by its deadline); 0 fails fast.
    pub bulkhead_max_wait_ms: u64,
    /// Calls per second for the service (a rate limiter with a burst of the same size);
    /// `None`: no limit. A call over the limit is rejected at once.
    pub rate_limit_per_sec: Option<u32>,
    /// Consecutive failed attempts that open an instance's breaker.
    pub breaker_failures: u32,
    /// How long an instance's breaker stays open before a trial.
    pub breaker_open_ms: u64,
    /// Attempts admitted in a half-open trial.
    pub breaker_trial: u32,
    /// Successes in a trial that close the breaker (at most `breaker_trial`).
    pub breaker_successes: u32,
    /// Attempts in all, counting the first.
    pub max_attempts: u32,
    /// The delay before the first retry.
    pub backoff_initial_ms: u64,
    /// The growth factor of the delay (1 is a fixed delay).
    pub backoff_multiplier: f64,
    /// The cap on the delay, before jitter.
    pub backoff_max_ms: u64,
    /// Proportional jitter: each delay is drawn in `d * (1 ± jitter)`; 0: none.
    pub jitter: f64,
    /// The floor on a delay after jitter.
    pub min_delay_ms: u64,
    /// The timeout of one attempt (connect, send, wait for and read the whole answer).
    pub attempt_timeout_ms: u64,
    /// The deadline of a whole call, all attempts and delays included; `None`: only the
    /// caller's deadline, if any.
    pub deadline_ms: Option<u64>,
    /// The longest `Retry-After` hint the client waits for before a retry. A server that
    /// asks for a longer wait (a 503 with `Retry-After: 3600`) ends the call at once with
    /// its error and hint ([`HttpError::retry_after`](super::HttpError::retry_after)),
    /// instead of parking the caller (and a bulkhead permit) that long. Defaults to 30 000
    /// (30 s).
    pub max_retry_after_ms: u64,
}

impl Default for Profile {
    /// [`Profile::normal`].
    fn default() -> Self {
        Profile::normal()
    }
}

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

impl Profile {
    /// The reference `normal` profile (see the table on [`Profile`]).
    ///
    /// ```
    /// let p = breakwater::http::Profile::normal();
    /// assert_eq!((p.breaker_failures, p.breaker_open_ms, p.attempt_timeout_ms), (5, 60_000, 5_000));
    /// ```
    pub fn normal() -> Profile {
        Profile {
            bulkhead: Some(20),
            bulkhead_max_wait_ms: 0,
            rate_limit_per_sec: None,
            breaker_failures: 5,
            breaker_open_ms: 60_000,
            breaker_trial: 2,
            breaker_successes: 2,
            max_attempts: 3,
            backoff_initial_ms: 1_000,
            backoff_multiplier: 2.0,
            backoff_max_ms: 60_000,
            jitter: 0.5,
            min_delay_ms: 0,
            attempt_timeout_ms: 5_000,
            deadline_ms: None,
            max_retry_after_ms: 30_000,
        }
    }

    /// The reference `critical` profile (see the table on [`Profile`]).
    ///
    /// ```
    /// let p = breakwater::http::Profile::critical();
    /// assert_eq!((p.breaker_open_ms, p.attempt_timeout_ms, p.jitter), (30_000, 10_000, 0.1));
    /// ```
    pub fn critical() -> Profile {
        Profile {
            bulkhead: Some(50),
            breaker_failures: 3,
            breaker_open_ms: 30_000,
            max_attempts: 5,
            backoff_initial_ms: 500,
            backoff_max_ms: 10_000,
            jitter: 0.1,
            min_delay_ms: 100,
            attempt_timeout_ms: 10_000,
            ..Profile::normal()
        }
    }

    /// A built-in profile by name: `"critical"` or `"normal"`.
    ///
    /// ```
    /// use breakwater::http::Profile;
    /// assert_eq!(Profile::named("critical"), Some(Profile::critical()));
    /// assert_eq!(Profile::named("gold"), None);
    /// ```
    pub fn named(name: &str) -> Option<Profile> {
        match name {
            "critical" => Some(Profile::critical()),
            "normal" => Some(Profile::normal()),
            _ => None,
        }
    }

    /// One profile from JSON text (an object; missing fields take the `normal` values).
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] on the field `profile` for JSON that does not parse or has an
    /// unknown field, or the error of [`Profile::validate`].
    ///
    /// # Examples
    ///
    /// ```
    /// use breakwater::http::Profile;
    /// let p = Profile::from_json(r#"{"max_attempts": 4}"#)?;
    /// assert_eq!(p.max_attempts, 4);
    /// assert_eq!(Profile::from_json(r#"{"max_atempts": 4}"#).unwrap_err().field, "profile");
    /// assert_eq!(Profile::from_json(r#"{"max_attempts": 0}"#).unwrap_err().field, "max_attempts");
    /// # Ok::<(), breakwater::ConfigError>(())
    /// ```
    pub fn from_json(text: &str) -> Result<Profile, ConfigError> {
        let p: Profile = serde_json::from_str(text)
            .map_err(|e| ConfigError::new(PolicyKind::Http, "profile", e.to_string()))?;
        p.validate()?;
        Ok(p)
    }

    /// The profile as JSON text (every field).
    ///
    /// ```
    /// use breakwater::http::Profile;
    /// let p = Profile::critical();
    /// assert_eq!(Profile::from_json(&p.to_json()).unwrap(), p);
    /// ```
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a profile is plain data")
    }

    /// Checks every field by building the policies it describes.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the profile field that is wrong (`breaker_failures`,
    /// `breaker_open_ms`, `breaker_trial`, `breaker_successes`, `max_attempts`,
    /// `backoff_multiplier`, `jitter`, `attempt_timeout_ms`, `bulkhead`, ...).
    ///
    /// # Examples
    ///
    /// ```
    /// let mut p = breakwater::http::Profile::normal();
    /// p.breaker_successes = 3; // more than the trial of 2
    /// assert_eq!(p.validate().unwrap_err().field, "breaker_successes");
    /// ```
    pub fn validate(&self) -> Result<(), ConfigError> {
        let refuse = |field, msg: &str| Err(ConfigError::new(PolicyKind::Http, field, msg));
        if self.attempt_timeout_ms == 0 {
            return refuse("attempt_timeout_ms", "must be greater than zero");
        }
        if self.deadline_ms == Some(0) {
            return refuse("deadline_ms", "must be greater than zero (or null)");
        }
        if self.bulkhead == Some(0) {
            return refuse("bulkhead", "must be at least 1 (or null for no bulkhead)");
        }
        if self.rate_limit_per_sec == Some(0) {
            return refuse(
                "rate_limit_per_sec",
                "must be at least 1 (or null for no limit)",
            );
        }
        if self.breaker_successes > self.breaker_trial {
            return refuse("breaker_successes", "must not exceed breaker_trial");
        }
        crate::CircuitBreaker::from_config(self.breaker_config("check"))
            .map_err(|e| self.rename(e))?;
        self.retry(Clock::monotonic()).map_err(|e| self.rename(e))?;
        self.bulkhead_policy("check", Clock::monotonic())?;
        self.limiter("check", Clock::monotonic())?;
        Ok(())
    }

    /// A policy's error on one of its own fields, renamed to the profile field.
    fn rename(&self, mut e: ConfigError) -> ConfigError {
        e.field = match (e.policy, e.field) {
            (PolicyKind::CircuitBreaker, "threshold") => "breaker_failures",
            (PolicyKind::CircuitBreaker, "open_duration") => "breaker_open_ms",
            (PolicyKind::CircuitBreaker, "half_open_max_calls") => "breaker_trial",
            (PolicyKind::CircuitBreaker, "success_threshold") => "breaker_successes",
            (PolicyKind::CircuitBreaker, f) => f,
            (PolicyKind::Retry, "multiplier") => "backoff_multiplier",
            (PolicyKind::Retry, "initial") => "backoff_initial_ms",
            (PolicyKind::Retry, "max_delay") => "backoff_max_ms",
            (PolicyKind::Retry, "min_delay") => "min_delay_ms",
            (_, f) => f,
        };
        e.policy = PolicyKind::Http;
        e
    }

    /// The longest `Retry-After` hint waited for (see
    /// [`max_retry_after_ms`](Profile::max_retry_after_ms)).
    ///
    /// ```
    /// assert_eq!(breakwater::http::Profile::normal().max_retry_after().as_secs(), 30);
    /// ```
    pub fn max_retry_after(&self) -> Duration {
        ms(self.max_retry_after_ms)
    }

    /// The attempt timeout.
    ///
    /// ```
    /// assert_eq!(breakwater::http::Profile::normal().attempt_timeout().as_secs(), 5);
    /// ```
    pub fn attempt_timeout(&self) -> Duration {
        ms(self.attempt_timeout_ms)
    }

    /// The breaker configuration of one instance, named `name`.
    ///
    /// ```
    /// let c = breakwater::http::Profile::critical().breaker_config("authors@http://a.local");
    /// assert_eq!(c.open_duration.as_secs(), 30);
    /// assert_eq!((c.half_open_max_calls, c.success_threshold), (2, Some(2)));
    /// ```
    pub fn breaker_config(&self, name: &str) -> BreakerConfig {
        BreakerConfig {
            name: name.to_owned(),
            policy: TripPolicy::ConsecutiveFailures {
                threshold: self.breaker_failures,
            },
            open_duration: ms(self.breaker_open_ms),
            half_open_max_calls: self.breaker_trial,
            success_threshold: Some(self.breaker_successes),
            ..BreakerConfig::default()
        }
    }

    /// The retry of the profile, on `clock`.
    ///
    /// # Errors
    ///
    /// The retry's [`ConfigError`] (see [`Profile::validate`]).
    ///
    /// # Examples
    ///
    /// ```
    /// let r = breakwater::http::Profile::critical().retry(breakwater::Clock::monotonic()).unwrap();
    /// assert_eq!(r.config().max_attempts, 5);
    /// ```
    pub fn retry(&self, clock: Clock) -> Result<Retry, ConfigError> {
        let jitter = if self.jitter == 0.0 {
            Jitter::None
        } else {
            Jitter::Proportional(self.jitter)
        };
        Retry::builder()
            .max_attempts(self.max_attempts)
            .backoff(Backoff::Exponential {
                initial: ms(self.backoff_initial_ms),
                multiplier: self.backoff_multiplier,
            })
            .max_delay(ms(self.backoff_max_ms))
            .jitter(jitter)
            .min_delay(ms(self.min_delay_ms))
            .clock(clock)
            .build()
    }

    pub(crate) fn bulkhead_policy(
        &self,
        name: &str,
        clock: Clock,
    ) -> Result<Option<Bulkhead>, ConfigError> {
        let Some(max) = self.bulkhead else {
            return Ok(None);
        };
        Bulkhead::builder()
            .name(name)
            .max_concurrent(max)
            .max_wait(ms(self.bulkhead_max_wait_ms))
            .clock(clock)
            .build()
            .map(Some)
            .map_err(|mut e| {
                e.field = "bulkhead";
                e
            })
    }

    pub(crate) fn limiter(
        &self,
        name: &str,
        clock: Clock,
    ) -> Result<Option<RateLimiter>, ConfigError> {
        let Some(per_sec) = self.rate_limit_per_sec else {
            return Ok(None);
        };
        RateLimiter::builder()
            .name(name)
            .permits(per_sec)
            .period(Duration::from_secs(1))
            .clock(clock)
            .build()
            .map(Some)
            .map_err(|mut e| {
                e.field = "rate_limit_per_sec";
                e
            })
    }
}

/// Profiles by name from JSON text: an object whose keys are profile names and whose
/// values are profiles (missing fields take the `normal` values).
///
/// # Errors
///
/// A [`ConfigError`] on the field `profile` when the text does not parse, or the first
/// invalid profile's error (its message names the profile).
///
/// # Examples
///
/// ```
/// let p = breakwater::http::profiles_from_json(r#"{"bulk": {"max_attempts": 1}}"#)?;
/// assert_eq!(p["bulk"].max_attempts, 1);
/// assert!(breakwater::http::profiles_from_json(r#"{"x": {"jitter": 2.0}}"#).is_err());
/// # Ok::<(), breakwater::ConfigError>(())
/// ```
pub fn profiles_from_json(text: &str) -> Result<BTreeMap<String, Profile>, ConfigError> {
    let profiles: BTreeMap<String, Profile> = serde_json::from_str(text)
        .map_err(|e| ConfigError::new(PolicyKind::Http, "profile", e.to_string()))?;
    for (name, p) in &profiles {
        p.validate().map_err(|mut e| {
            e.message = format!("profile {name:?}: {}", e.message);
            e
        })?;
    }
    Ok(profiles)
}

/// Profiles by name from a JSON file (see [`profiles_from_json`]).
///
/// # Errors
///
/// A [`ConfigError`] on the field `path` when the file cannot be read, otherwise as
/// [`profiles_from_json`].
///
/// # Examples
///
/// ```
/// let path = std::env::temp_dir().join(format!("bw-profiles-{}.json", std::process::id()));
/// std::fs::write(&path, r#"{"critical": {"breaker_failures": 2}}"#).unwrap();
/// let p = breakwater::http::load_profiles(&path)?;
/// assert_eq!(p["critical"].breaker_failures, 2);
/// # std::fs::remove_file(&path).ok();
/// # Ok::<(), breakwater::ConfigError>(())
/// ```
pub fn load_profiles(path: impl AsRef<Path>) -> Result<BTreeMap<String, Profile>, ConfigError> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigError::new(PolicyKind::Http, "path", format!("{}: {e}", path.display()))
    })?;
    profiles_from_json(&text)
}
