//! The breaker's configuration ([`BreakerConfig`], [`TripPolicy`], [`Window`],
//! [`SlowCalls`]), its validation, and the [`BreakerBuilder`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::clock::Clock;
use crate::error::{ConfigError, PolicyKind};

use super::CircuitBreaker;
use super::events::{CallEvent, CallListener, Transition, TransitionListener};

/// The longest duration the breaker accepts anywhere (`u64::MAX` nanoseconds, about 584
/// years): every duration is kept in nanoseconds in a `u64`.
pub const MAX_DURATION: Duration = Duration::from_nanos(u64::MAX);

/// The largest count window (outcomes kept in a ring buffer allocated when the breaker
/// is built).
pub const MAX_COUNT_WINDOW: u32 = 1_000_000;

/// The default name of a breaker: `"default"`.
pub const DEFAULT_NAME: &str = "default";

/// The default open duration: 60 seconds.
pub const DEFAULT_OPEN_DURATION: Duration = Duration::from_secs(60);

/// The default consecutive-failures threshold: 5.
pub const DEFAULT_CONSECUTIVE_FAILURES: u32 = 5;

/// The window used by [`BreakerBuilder::slow_call_rate`] when it is not added to a
/// failure-rate policy: the last 100 outcomes.
pub const DEFAULT_RATE_WINDOW: Window = Window::Count(100);

/// The minimum number of calls used by [`BreakerBuilder::slow_call_rate`] when it is not
/// added to a failure-rate policy: 100.
pub const DEFAULT_MINIMUM_CALLS: u32 = 100;

/// The window of a rate policy.
///
/// # Examples
///
/// ```
/// use breakwater::Window;
/// use std::time::Duration;
///
/// let last_100 = Window::Count(100);
/// let last_minute = Window::Time(Duration::from_secs(60));
/// assert_ne!(last_100, last_minute);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Window {
    /// The last `n` recorded outcomes (successes and failures; ignored outcomes never
    /// enter a window). At most [`MAX_COUNT_WINDOW`].
    Count(u32),
    /// The outcomes of the last `T`, kept in buckets no wider than `T/10`: an outcome
    /// leaves the window at most one bucket after it is `T` old, never before.
    Time(Duration),
}

/// What makes a call slow for a slow-call rate: a duration of at least `slow_duration`.
///
/// # Examples
///
/// ```
/// use breakwater::SlowCalls;
/// use std::time::Duration;
///
/// // Open when half of the calls in the window took 2 s or more.
/// let slow = SlowCalls { threshold: 0.5, slow_duration: Duration::from_secs(2) };
/// assert_eq!(slow.threshold, 0.5);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SlowCalls {
    /// The slow-call rate, in `(0, 1]`, at which the breaker opens (`>=`).
    pub threshold: f64,
    /// A call that takes at least this long is slow. Must be greater than zero.
    pub slow_duration: Duration,
}

/// When the breaker opens. Exactly one policy per breaker; thresholds compare with `>=`.
///
/// # Examples
///
/// ```
/// use breakwater::{TripPolicy, Window};
/// use std::time::Duration;
///
/// let policy = TripPolicy::FailureRate {
///     threshold: 0.5,
///     window: Window::Time(Duration::from_secs(30)),
///     minimum_calls: 20,
///     slow: None,
/// };
/// assert!(policy.is_rate());
/// assert!(!TripPolicy::ConsecutiveFailures { threshold: 3 }.is_rate());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum TripPolicy {
    /// The `threshold`-th consecutive failure opens. A success resets the run.
    ConsecutiveFailures {
        /// Consecutive failures that open the breaker (at least 1).
        threshold: u32,
    },
    /// `threshold` failures within `window`, measured from the first failure of the
    /// current window, open. A failure that comes when the window has passed
    /// (`now - first >= window`) starts a new window as its first failure. Successes do
    /// not reset the count.
    FailuresInWindow {
        /// Failures within the window that open the breaker (at least 1).
        threshold: u32,
        /// The window's length, from its first failure (greater than zero).
        window: Duration,
    },
    /// The failure rate of the window (failures / (successes + failures)) opens the
    /// breaker when it is `>= threshold`, evaluated after every recorded outcome once the
    /// window holds `minimum_calls` outcomes. `slow` adds a slow-call rate over the same
    /// window: either rate reaching its threshold opens.
    FailureRate {
        /// The failure rate, in `(0, 1]`, that opens the breaker.
        threshold: f64,
        /// The window the rate is computed over.
        window: Window,
        /// Outcomes the window must hold before the rate is evaluated (at least 1, at most
        /// the size of a count window).
        minimum_calls: u32,
        /// An optional slow-call rate over the same window.
        slow: Option<SlowCalls>,
    },
    /// The slow-call rate of the window (slow calls / (successes + failures)) opens the
    /// breaker when it is `>= slow.threshold`, evaluated like
    /// [`TripPolicy::FailureRate`].
    SlowCallRate {
        /// What a slow call is, and the rate that opens.
        slow: SlowCalls,
        /// The window the rate is computed over.
        window: Window,
        /// Outcomes the window must hold before the rate is evaluated.
        minimum_calls: u32,
    },
}

impl Default for TripPolicy {
    /// `ConsecutiveFailures { threshold: 5 }`.
    fn default() -> Self {
        TripPolicy::ConsecutiveFailures {
            threshold: DEFAULT_CONSECUTIVE_FAILURES,
        }
    }
}

impl TripPolicy {
    /// `true` for the rate policies ([`TripPolicy::FailureRate`],
    /// [`TripPolicy::SlowCallRate`]), which decide a half-open trial on its rate once
    /// every admission has reported; `false` for the count policies, which close after
    /// `success_threshold` successes and re-open on the first failure.
    ///
    /// ```
    /// assert!(!breakwater::TripPolicy::default().is_rate());
    /// ```
    pub fn is_rate(&self) -> bool {
        matches!(
            self,
            TripPolicy::FailureRate { .. } | TripPolicy::SlowCallRate { .. }
        )
    }

    /// The policy's key in the JSON configuration (`consecutive_failures`,
    /// `failures_in_window`, `failure_rate` or `slow_call_rate`), the name errors use.
    ///
    /// ```
    /// assert_eq!(breakwater::TripPolicy::default().json_key(), "consecutive_failures");
    /// ```
    pub fn json_key(&self) -> &'static str {
        match self {
            TripPolicy::ConsecutiveFailures { .. } => "consecutive_failures",
            TripPolicy::FailuresInWindow { .. } => "failures_in_window",
            TripPolicy::FailureRate { .. } => "failure_rate",
            TripPolicy::SlowCallRate { .. } => "slow_call_rate",
        }
    }

    /// The slow-call settings of the policy, if it tracks slow calls.
    ///
    /// ```
    /// assert!(breakwater::TripPolicy::default().slow_calls().is_none());
    /// ```
    pub fn slow_calls(&self) -> Option<SlowCalls> {
        match self {
            TripPolicy::FailureRate { slow, .. } => *slow,
            TripPolicy::SlowCallRate { slow, .. } => Some(*slow),
            _ => None,
        }
    }

    /// The window of a rate policy.
    ///
    /// ```
    /// assert!(breakwater::TripPolicy::default().window().is_none());
    /// ```
    pub fn window(&self) -> Option<Window> {
        match self {
            TripPolicy::FailureRate { window, .. } | TripPolicy::SlowCallRate { window, .. } => {
                Some(*window)
            }
            _ => None,
        }
    }
}

/// A breaker's configuration: plain data, comparable, usable as a registry configuration
/// and as the shape of the JSON configuration.
///
/// | field | default |
/// |---|---|
/// | `name` | `"default"` |
/// | `policy` | `ConsecutiveFailures { threshold: 5 }` |
/// | `open_duration` | 60 s |
/// | `open_duration_multiplier` | 1.0 (no growth) |
/// | `open_duration_cap` | `None` (no cap but [`MAX_DURATION`]) |
/// | `half_open_max_calls` | 1 |
/// | `success_threshold` | `None` = `half_open_max_calls` |
/// | `half_open_max_wait` | `None` = `open_duration` |
/// | `interval` | `None` (closed-state counts never cleared) |
///
/// # JSON
///
/// The C ABI and the bindings configure a breaker with JSON (`bw_breaker_new_json`, keys
/// such as `consecutive_failures`, `failure_rate.threshold`, `open_duration_ms`); that
/// form is defined once, in the `ffi` module (feature `ffi`), which converts it to this
/// type. Validation errors name fields by those JSON names.
///
/// # Examples
///
/// ```
/// use breakwater::{BreakerConfig, CircuitBreaker, TripPolicy};
/// use std::time::Duration;
///
/// let config = BreakerConfig {
///     name: "authors".into(),
///     policy: TripPolicy::ConsecutiveFailures { threshold: 3 },
///     open_duration: Duration::from_secs(30),
///     ..BreakerConfig::default()
/// };
/// let breaker = CircuitBreaker::from_config(config.clone()).unwrap();
/// assert_eq!(breaker.config(), &config);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct BreakerConfig {
    /// The breaker's name (not empty).
    pub name: String,
    /// When the breaker opens.
    pub policy: TripPolicy,
    /// How long the breaker stays open before a half-open trial (greater than zero).
    pub open_duration: Duration,
    /// The growth of the open duration: the k-th consecutive re-open (k = 0 for the
    /// first open after closed) lasts `min(cap, open_duration * multiplier^k)`. At least
    /// 1.0 and finite.
    pub open_duration_multiplier: f64,
    /// The longest open duration when it grows; `None` is no cap but [`MAX_DURATION`].
    /// Not less than `open_duration`.
    pub open_duration_cap: Option<Duration>,
    /// Admissions per half-open trial (at least 1). Counted per trial, not in flight: an
    /// admission is given back only by an ignored outcome or a dropped permit.
    pub half_open_max_calls: u32,
    /// Successes that close a half-open trial under a count policy; `None` is the trial
    /// size. At least 1 and at most `half_open_max_calls`. Rate policies decide a trial on
    /// its rate and refuse this setting.
    pub success_threshold: Option<u32>,
    /// How long a half-open trial may stay undecided before the breaker re-opens (so a
    /// permit that is never reported cannot leave it stuck); `None` is the open
    /// duration. Greater than zero.
    pub half_open_max_wait: Option<Duration>,
    /// The cyclic period of the closed state (gobreaker's `Interval`): every `interval`
    /// in the closed state the counts are cleared and a new generation starts (outcomes
    /// of calls admitted before are then stale). `None` never clears them. Greater than
    /// zero; count policies only (a time-based window already forgets on its own).
    pub interval: Option<Duration>,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            name: DEFAULT_NAME.to_owned(),
            policy: TripPolicy::default(),
            open_duration: DEFAULT_OPEN_DURATION,
            open_duration_multiplier: 1.0,
            open_duration_cap: None,
            half_open_max_calls: 1,
            success_threshold: None,
            half_open_max_wait: None,
            interval: None,
        }
    }
}

fn err(field: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError::new(PolicyKind::CircuitBreaker, field, message)
}

fn check_duration(field: &'static str, d: Duration) -> Result<(), ConfigError> {
    if d.is_zero() {
        return Err(err(field, "must be greater than zero"));
    }
    if d > MAX_DURATION {
        return Err(err(
            field,
            format!("must be at most {MAX_DURATION:?} (it overflows u64 nanoseconds)"),
        ));
    }
    Ok(())
}

fn check_rate(field: &'static str, rate: f64) -> Result<(), ConfigError> {
    if rate.is_nan() || !(rate > 0.0 && rate <= 1.0) {
        return Err(err(field, format!("must be in (0, 1], got {rate}")));
    }
    Ok(())
}

/// The JSON key of a rate policy's section (`failure_rate` or `slow_call_rate`), and the
/// field names under it, as the user writes them.
struct Section {
    threshold: &'static str,
    window: &'static str,
    minimum_calls: &'static str,
    slow_threshold: &'static str,
    slow_duration: &'static str,
}

const FAILURE_RATE: Section = Section {
    threshold: "failure_rate.threshold",
    window: "failure_rate.window",
    minimum_calls: "failure_rate.minimum_calls",
    slow_threshold: "failure_rate.slow.threshold",
    slow_duration: "failure_rate.slow.slow_duration_ms",
};

const SLOW_CALL_RATE: Section = Section {
    threshold: "slow_call_rate.threshold",
    window: "slow_call_rate.window",
    minimum_calls: "slow_call_rate.minimum_calls",
    slow_threshold: "slow_call_rate.threshold",
    slow_duration: "slow_call_rate.slow_duration_ms",
};

fn check_window(s: &Section, window: Window, minimum_calls: u32) -> Result<(), ConfigError> {
    match window {
        Window::Count(0) => {
            return Err(err(s.window, "must hold at least 1 outcome (count >= 1)"));
        }
        Window::Count(n) if n > MAX_COUNT_WINDOW => {
            return Err(err(
                s.window,
                format!("a count window holds at most {MAX_COUNT_WINDOW} outcomes, got {n}"),
            ));
        }
        Window::Count(_) => {}
        Window::Time(d) => check_duration(s.window, d)?,
    }
    if minimum_calls == 0 {
        return Err(err(s.minimum_calls, "must be at least 1"));
    }
    if let Window::Count(n) = window {
        if minimum_calls > n {
            return Err(err(
                s.minimum_calls,
                format!("must not exceed the count window's size ({n}), got {minimum_calls}"),
            ));
        }
    }
    Ok(())
}

fn check_slow(s: &Section, slow: &SlowCalls) -> Result<(), ConfigError> {
    check_rate(s.slow_threshold, slow.threshold)?;
    check_duration(s.slow_duration, slow.slow_duration)
}

/// The error for a configuration that sets two trip policies (`first` and `second`, by
/// their JSON names): a breaker has exactly one. The one message every language gives
/// (the builder and the C ABI's JSON both come here).
pub(crate) fn two_trip_policies(first: &'static str, second: &'static str) -> ConfigError {
    ConfigError::new(
        PolicyKind::CircuitBreaker,
        first,
        format!(
            "and {second} are both set: a breaker has one trip policy (to count slow calls \
             with a failure rate, set failure_rate.slow)"
        ),
    )
}

impl BreakerConfig {
    /// Checks the configuration; [`CircuitBreaker::from_config`] and
    /// [`BreakerBuilder::build`] call it.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the first offending field: `name` (empty), `threshold`
    /// (zero count, or a rate outside `(0, 1]` or NaN), `window` (zero, a count window
    /// larger than [`MAX_COUNT_WINDOW`], a duration over [`MAX_DURATION`]),
    /// `minimum_calls` (zero, or larger than a count window), `slow.threshold`,
    /// `slow.slow_duration` (zero), `open_duration` (zero or over [`MAX_DURATION`]),
    /// `open_duration_multiplier` (below 1, NaN or infinite), `open_duration_cap` (below
    /// `open_duration` or over [`MAX_DURATION`]), `half_open_max_calls` (zero),
    /// `success_threshold` (zero, above `half_open_max_calls`, or set with a rate
    /// policy), `half_open_max_wait` (zero or over [`MAX_DURATION`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use breakwater::BreakerConfig;
    /// let bad = BreakerConfig { half_open_max_calls: 2, success_threshold: Some(3), ..Default::default() };
    /// assert_eq!(bad.validate().unwrap_err().field, "success_threshold");
    /// assert!(BreakerConfig::default().validate().is_ok());
    /// ```
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.name.is_empty() {
            return Err(err("name", "must not be empty"));
        }
        match &self.policy {
            TripPolicy::ConsecutiveFailures { threshold } => {
                if *threshold == 0 {
                    return Err(err("consecutive_failures", "must be at least 1"));
                }
            }
            TripPolicy::FailuresInWindow { threshold, window } => {
                if *threshold == 0 {
                    return Err(err("failures_in_window.threshold", "must be at least 1"));
                }
                check_duration("failures_in_window.window_ms", *window)?;
            }
            TripPolicy::FailureRate {
                threshold,
                window,
                minimum_calls,
                slow,
            } => {
                check_rate(FAILURE_RATE.threshold, *threshold)?;
                check_window(&FAILURE_RATE, *window, *minimum_calls)?;
                if let Some(slow) = slow {
                    check_slow(&FAILURE_RATE, slow)?;
                }
            }
            TripPolicy::SlowCallRate {
                slow,
                window,
                minimum_calls,
            } => {
                check_slow(&SLOW_CALL_RATE, slow)?;
                check_window(&SLOW_CALL_RATE, *window, *minimum_calls)?;
            }
        }
        check_duration("open_duration_ms", self.open_duration)?;
        let m = self.open_duration_multiplier;
        if m.is_nan() || m.is_infinite() || m < 1.0 {
            return Err(err(
                "open_duration_multiplier",
                format!("must be a finite number of at least 1.0, got {m}"),
            ));
        }
        if let Some(cap) = self.open_duration_cap {
            if cap > MAX_DURATION {
                return Err(err(
                    "open_duration_cap_ms",
                    format!("must be at most {MAX_DURATION:?} (it overflows u64 nanoseconds)"),
                ));
            }
            if cap < self.open_duration {
                return Err(err(
                    "open_duration_cap_ms",
                    format!(
                        "must not be less than open_duration_ms ({:?}), got {cap:?}",
                        self.open_duration
                    ),
                ));
            }
        }
        if self.half_open_max_calls == 0 {
            return Err(err("half_open_max_calls", "must be at least 1"));
        }
        if let Some(s) = self.success_threshold {
            if self.policy.is_rate() {
                return Err(err(
                    "success_threshold",
                    "applies to count policies only: a rate policy decides a trial on its rate",
                ));
            }
            if s == 0 {
                return Err(err("success_threshold", "must be at least 1"));
            }
            if s > self.half_open_max_calls {
                return Err(err(
                    "success_threshold",
                    format!(
                        "must not exceed half_open_max_calls ({}), got {s}",
                        self.half_open_max_calls
                    ),
                ));
            }
        }
        if let Some(w) = self.half_open_max_wait {
            check_duration("half_open_max_wait_ms", w)?;
        }
        if let Some(i) = self.interval {
            check_duration("interval_ms", i)?;
            if matches!(self.policy.window(), Some(Window::Time(_))) {
                return Err(err(
                    "interval_ms",
                    "applies to count policies only: a time-based window already forgets old outcomes",
                ));
            }
        }
        Ok(())
    }

    /// The success threshold in force: `success_threshold`, or the trial size.
    ///
    /// ```
    /// let c = breakwater::BreakerConfig { half_open_max_calls: 3, ..Default::default() };
    /// assert_eq!(c.effective_success_threshold(), 3);
    /// ```
    pub fn effective_success_threshold(&self) -> u32 {
        self.success_threshold.unwrap_or(self.half_open_max_calls)
    }

    /// The half-open max wait in force: `half_open_max_wait`, or the open duration.
    ///
    /// ```
    /// let c = breakwater::BreakerConfig::default();
    /// assert_eq!(c.effective_half_open_max_wait(), c.open_duration);
    /// ```
    pub fn effective_half_open_max_wait(&self) -> Duration {
        self.half_open_max_wait.unwrap_or(self.open_duration)
    }

    /// How long the k-th consecutive re-open lasts (k = 0 for the first open after
    /// closed): `min(cap, open_duration * multiplier^k)`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let c = breakwater::BreakerConfig {
    ///     open_duration: Duration::from_secs(10),
    ///     open_duration_multiplier: 2.0,
    ///     open_duration_cap: Some(Duration::from_secs(60)),
    ///     ..Default::default()
    /// };
    /// assert_eq!(c.open_duration_for(0), Duration::from_secs(10));
    /// assert_eq!(c.open_duration_for(2), Duration::from_secs(40));
    /// assert_eq!(c.open_duration_for(3), Duration::from_secs(60));
    /// ```
    pub fn open_duration_for(&self, k: u32) -> Duration {
        let base = crate::clock::duration_nanos(self.open_duration);
        let cap = self
            .open_duration_cap
            .map(crate::clock::duration_nanos)
            .unwrap_or(u64::MAX);
        Duration::from_nanos(grown_nanos(base, self.open_duration_multiplier, cap, k))
    }
}

/// `min(cap, base * multiplier^k)` in nanoseconds, saturating.
pub(crate) fn grown_nanos(base: u64, multiplier: f64, cap: u64, k: u32) -> u64 {
    if k == 0 || multiplier == 1.0 {
        return base.min(cap);
    }
    let exp = i32::try_from(k).unwrap_or(i32::MAX);
    let grown = base as f64 * multiplier.powi(exp);
    if grown.is_nan() || grown >= cap as f64 {
        cap
    } else {
        // In range: below `cap`, which is a u64.
        (grown as u64).max(base).min(cap)
    }
}

/// Builds a [`CircuitBreaker`]: the [`BreakerConfig`] fields, plus what is not plain data
/// (the clock and the listeners).
///
/// # Examples
///
/// ```
/// use breakwater::{CircuitBreaker, State};
/// use std::time::Duration;
///
/// let breaker = CircuitBreaker::builder()
///     .name("authors")
///     .consecutive_failures(3)
///     .open_duration(Duration::from_secs(30))
///     .half_open_max_calls(2)
///     .success_threshold(2)
///     .on_transition(|t| println!("{} -> {} ({:?})", t.from, t.to, t.reason))
///     .build()
///     .unwrap();
/// assert_eq!(breaker.state(), State::Closed);
/// ```
#[derive(Clone)]
pub struct BreakerBuilder {
    config: BreakerConfig,
    policy_set: bool,
    /// Two different trip policies were set (by their JSON keys): refused at build.
    trip_conflict: Option<(&'static str, &'static str)>,
    slow: Option<SlowCalls>,
    clock: Clock,
    on_transition: Vec<TransitionListener>,
    on_call: Vec<CallListener>,
}

impl fmt::Debug for BreakerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BreakerBuilder")
            .field("config", &self.config)
            .field("policy_set", &self.policy_set)
            .field("slow", &self.slow)
            .field("clock", &self.clock)
            .field("on_transition", &self.on_transition.len())
            .field("on_call", &self.on_call.len())
            .finish()
    }
}

impl Default for BreakerBuilder {
    fn default() -> Self {
        BreakerBuilder::new()
    }
}

impl BreakerBuilder {
    /// A builder with the defaults of [`BreakerConfig`], the monotonic clock and no
    /// listeners (same as [`CircuitBreaker::builder`]).
    ///
    /// ```
    /// let b = breakwater::BreakerBuilder::new().build().unwrap();
    /// assert_eq!(b.name(), "default");
    /// ```
    pub fn new() -> BreakerBuilder {
        BreakerBuilder {
            config: BreakerConfig::default(),
            policy_set: false,
            trip_conflict: None,
            slow: None,
            clock: Clock::monotonic(),
            on_transition: Vec::new(),
            on_call: Vec::new(),
        }
    }

    /// Replaces every configuration field with `config` (the clock and listeners stay).
    /// Defaults to `BreakerConfig::default()`.
    ///
    /// ```
    /// let config = breakwater::BreakerConfig { name: "db".into(), ..Default::default() };
    /// let b = breakwater::CircuitBreaker::builder().config(config).build().unwrap();
    /// assert_eq!(b.name(), "db");
    /// ```
    pub fn config(mut self, config: BreakerConfig) -> Self {
        self.config = config;
        self.policy_set = true;
        self.trip_conflict = None;
        self.slow = None;
        self
    }

    /// The breaker's name. Defaults to `"default"`.
    ///
    /// ```
    /// let b = breakwater::CircuitBreaker::builder().name("payments").build().unwrap();
    /// assert_eq!(b.name(), "payments");
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.config.name = name.into();
        self
    }

    /// The trip policy. Defaults to `TripPolicy::ConsecutiveFailures { threshold: 5 }`.
    ///
    /// ```
    /// use breakwater::TripPolicy;
    /// let b = breakwater::CircuitBreaker::builder()
    ///     .policy(TripPolicy::ConsecutiveFailures { threshold: 2 })
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(b.config().policy, TripPolicy::ConsecutiveFailures { threshold: 2 });
    /// ```
    pub fn policy(mut self, policy: TripPolicy) -> Self {
        let (before, now) = (self.config.policy.json_key(), policy.json_key());
        if self.policy_set && before != now && self.trip_conflict.is_none() {
            self.trip_conflict = Some((before, now));
        }
        self.config.policy = policy;
        self.policy_set = true;
        self
    }

    /// Opens on the `n`-th consecutive failure. Defaults to 5.
    ///
    /// ```
    /// let b = breakwater::CircuitBreaker::builder().consecutive_failures(3).build().unwrap();
    /// assert_eq!(b.config().policy, breakwater::TripPolicy::ConsecutiveFailures { threshold: 3 });
    /// ```
    pub fn consecutive_failures(self, n: u32) -> Self {
        self.policy(TripPolicy::ConsecutiveFailures { threshold: n })
    }

    /// Opens on `n` failures within `window` from the first failure of the window
    /// ([`TripPolicy::FailuresInWindow`]). Defaults to the consecutive-failures policy
    /// (5).
    ///
    /// ```
    /// use std::time::Duration;
    /// let b = breakwater::CircuitBreaker::builder()
    ///     .failures_in_window(5, Duration::from_secs(10))
    ///     .build()
    ///     .unwrap();
    /// assert!(!b.config().policy.is_rate());
    /// ```
    pub fn failures_in_window(self, n: u32, window: Duration) -> Self {
        self.policy(TripPolicy::FailuresInWindow {
            threshold: n,
            window,
        })
    }

    /// Opens when the window's failure rate is `>= threshold` once it holds
    /// `minimum_calls` outcomes ([`TripPolicy::FailureRate`]); combine with
    /// [`BreakerBuilder::slow_call_rate`] for a slow-call rate over the same window.
    /// Defaults to the consecutive-failures policy (5).
    ///
    /// ```
    /// use breakwater::Window;
    /// let b = breakwater::CircuitBreaker::builder()
    ///     .failure_rate(0.5, Window::Count(20), 10)
    ///     .build()
    ///     .unwrap();
    /// assert!(b.config().policy.is_rate());
    /// ```
    pub fn failure_rate(self, threshold: f64, window: Window, minimum_calls: u32) -> Self {
        let slow = match &self.config.policy {
            TripPolicy::FailureRate { slow, .. } => *slow,
            _ => None,
        };
        self.policy(TripPolicy::FailureRate {
            threshold,
            window,
            minimum_calls,
            slow,
        })
    }

    /// Opens when the rate of calls slower than `slow_duration` (`>=`) reaches
    /// `threshold`. Added to a failure-rate policy when there is one (whichever order the
    /// two are called in), over its window; alone, it is
    /// [`TripPolicy::SlowCallRate`] over [`DEFAULT_RATE_WINDOW`] with
    /// [`DEFAULT_MINIMUM_CALLS`] (use [`BreakerBuilder::policy`] for another window).
    /// Combined with a count policy, `build` refuses it. Defaults to no slow-call rate.
    ///
    /// ```
    /// use breakwater::{TripPolicy, Window};
    /// use std::time::Duration;
    /// let b = breakwater::CircuitBreaker::builder()
    ///     .slow_call_rate(0.8, Duration::from_secs(1))
    ///     .failure_rate(0.5, Window::Count(10), 10)
    ///     .build()
    ///     .unwrap();
    /// assert!(b.config().policy.slow_calls().is_some());
    /// ```
    pub fn slow_call_rate(mut self, threshold: f64, slow_duration: Duration) -> Self {
        self.slow = Some(SlowCalls {
            threshold,
            slow_duration,
        });
        self
    }

    /// How long the breaker stays open before a half-open trial. Defaults to 60 s.
    ///
    /// ```
    /// use std::time::Duration;
    /// let b = breakwater::CircuitBreaker::builder().open_duration(Duration::from_secs(5)).build().unwrap();
    /// assert_eq!(b.config().open_duration, Duration::from_secs(5));
    /// ```
    pub fn open_duration(mut self, d: Duration) -> Self {
        self.config.open_duration = d;
        self
    }

    /// Lets the open duration grow: the k-th consecutive re-open lasts
    /// `min(cap, open_duration * multiplier^k)`, back to `open_duration` when the breaker
    /// closes or is reset. Defaults to no growth (multiplier 1.0, no cap).
    ///
    /// ```
    /// use std::time::Duration;
    /// let b = breakwater::CircuitBreaker::builder()
    ///     .open_duration(Duration::from_secs(10))
    ///     .open_duration_growth(2.0, Duration::from_secs(300))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(b.config().open_duration_for(1), Duration::from_secs(20));
    /// ```
    pub fn open_duration_growth(mut self, multiplier: f64, cap: Duration) -> Self {
        self.config.open_duration_multiplier = multiplier;
        self.config.open_duration_cap = Some(cap);
        self
    }

    /// Admissions per half-open trial. Defaults to 1.
    ///
    /// ```
    /// let b = breakwater::CircuitBreaker::builder().half_open_max_calls(3).build().unwrap();
    /// assert_eq!(b.config().half_open_max_calls, 3);
    /// ```
    pub fn half_open_max_calls(mut self, n: u32) -> Self {
        self.config.half_open_max_calls = n;
        self
    }

    /// Successes that close a half-open trial (count policies only). Defaults to
    /// `half_open_max_calls`.
    ///
    /// ```
    /// let b = breakwater::CircuitBreaker::builder()
    ///     .half_open_max_calls(3)
    ///     .success_threshold(2)
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(b.config().effective_success_threshold(), 2);
    /// ```
    pub fn success_threshold(mut self, n: u32) -> Self {
        self.config.success_threshold = Some(n);
        self
    }

    /// How long a half-open trial may stay undecided before the breaker re-opens.
    /// Defaults to the open duration.
    ///
    /// ```
    /// use std::time::Duration;
    /// let b = breakwater::CircuitBreaker::builder()
    ///     .half_open_max_wait(Duration::from_secs(5))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(b.config().effective_half_open_max_wait(), Duration::from_secs(5));
    /// ```
    pub fn half_open_max_wait(mut self, d: Duration) -> Self {
        self.config.half_open_max_wait = Some(d);
        self
    }

    /// Clears the closed state's counts every `d` and starts a new generation
    /// (gobreaker's `Interval`; see [`BreakerConfig::interval`]). The clearing is applied
    /// lazily, by the first failure, `state`/`metrics` or locked admission after the
    /// interval ends. Defaults to never.
    ///
    /// ```
    /// use std::time::Duration;
    /// let clock = breakwater::ManualClock::new();
    /// let b = breakwater::CircuitBreaker::builder()
    ///     .consecutive_failures(3)
    ///     .interval(Duration::from_secs(10))
    ///     .clock(clock.clone().into())
    ///     .build()
    ///     .unwrap();
    /// let _ = b.call(|| Err::<(), _>("down"));
    /// let _ = b.call(|| Err::<(), _>("down"));
    /// clock.advance(Duration::from_secs(10));
    /// assert_eq!(b.metrics().current.failures, 0);
    /// ```
    pub fn interval(mut self, d: Duration) -> Self {
        self.config.interval = Some(d);
        self
    }

    /// The clock the breaker reads. Defaults to the monotonic clock.
    ///
    /// ```
    /// let manual = breakwater::ManualClock::new();
    /// let b = breakwater::CircuitBreaker::builder().clock(manual.into()).build().unwrap();
    /// assert!(b.clock().is_manual());
    /// ```
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Adds a transition listener. Listeners run outside the breaker's lock, on a thread
    /// that caused or observed a transition, one transition at a time and in the order
    /// the transitions happened; they may call back into the breaker. Defaults to none.
    ///
    /// ```
    /// let b = breakwater::CircuitBreaker::builder()
    ///     .on_transition(|t| eprintln!("breaker: {} -> {}", t.from, t.to))
    ///     .build()
    ///     .unwrap();
    /// b.force_open();
    /// ```
    pub fn on_transition(mut self, f: impl Fn(&Transition) + Send + Sync + 'static) -> Self {
        self.on_transition.push(Arc::new(f));
        self
    }

    /// Adds a call listener, called on the calling thread after each recorded outcome,
    /// stale outcome and rejection, outside the lock. Registering one makes the breaker
    /// measure every call's duration. Defaults to none.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// use std::sync::Arc;
    /// let calls = Arc::new(AtomicU64::new(0));
    /// let c = calls.clone();
    /// let b = breakwater::CircuitBreaker::builder()
    ///     .on_call(move |_e| { c.fetch_add(1, Ordering::Relaxed); })
    ///     .build()
    ///     .unwrap();
    /// b.call(|| Ok::<_, ()>(())).unwrap();
    /// assert_eq!(calls.load(Ordering::Relaxed), 1);
    /// ```
    pub fn on_call(mut self, f: impl Fn(&CallEvent) + Send + Sync + 'static) -> Self {
        self.on_call.push(Arc::new(f));
        self
    }

    /// The configuration as it stands (with a pending slow-call rate merged in).
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] on the field `slow.threshold` when a slow-call rate was added to
    /// a count policy.
    ///
    /// ```
    /// let c = breakwater::CircuitBreaker::builder().name("x").to_config().unwrap();
    /// assert_eq!(c.name, "x");
    /// ```
    pub fn to_config(&self) -> Result<BreakerConfig, ConfigError> {
        if let Some((first, second)) = self.trip_conflict {
            return Err(two_trip_policies(first, second));
        }
        let mut config = self.config.clone();
        if let Some(extra) = self.slow {
            config.policy = match config.policy {
                TripPolicy::FailureRate {
                    threshold,
                    window,
                    minimum_calls,
                    ..
                } => TripPolicy::FailureRate {
                    threshold,
                    window,
                    minimum_calls,
                    slow: Some(extra),
                },
                TripPolicy::SlowCallRate {
                    window,
                    minimum_calls,
                    ..
                } => TripPolicy::SlowCallRate {
                    slow: extra,
                    window,
                    minimum_calls,
                },
                _ if !self.policy_set => TripPolicy::SlowCallRate {
                    slow: extra,
                    window: DEFAULT_RATE_WINDOW,
                    minimum_calls: DEFAULT_MINIMUM_CALLS,
                },
                other => {
                    return Err(two_trip_policies(other.json_key(), "slow_call_rate"));
                }
            };
        }
        Ok(config)
    }

    /// Builds the breaker.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the offending field (see [`BreakerConfig::validate`]).
    ///
    /// ```
    /// let e = breakwater::CircuitBreaker::builder().consecutive_failures(0).build().unwrap_err();
    /// assert_eq!(e.field, "consecutive_failures");
    /// ```
    pub fn build(self) -> Result<CircuitBreaker, ConfigError> {
        let config = self.to_config()?;
        config.validate()?;
        Ok(CircuitBreaker::assemble(
            config,
            self.clock,
            self.on_transition,
            self.on_call,
        ))
    }
}
