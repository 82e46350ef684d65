//! Backoff schedules ([`Backoff`]), jitter ([`Jitter`]) and the per-call schedule state
//! that turns them into delays.
//!
//! Everything here works on whole nanoseconds held in a `u64` (about 584 years), which
//! the builder checks every configured duration against, so the arithmetic saturates
//! instead of overflowing and the delays of a seeded schedule are exact.

use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::error::{ConfigError, PolicyKind};

/// How the delay before retry `k` (k = 1, 2, ...) grows, before the cap, jitter and floor.
///
/// | variant | delay before retry `k` |
/// | --- | --- |
/// | `Fixed(d)` | `d` |
/// | `Linear { initial, step }` | `initial + (k - 1) * step` |
/// | `Exponential { initial, multiplier }` | `initial * multiplier^(k - 1)` |
///
/// The result is then capped by [`RetryBuilder::max_delay`](super::RetryBuilder::max_delay).
///
/// # Examples
///
/// ```
/// use breakwater::Backoff;
/// use std::time::Duration;
///
/// let b = Backoff::Exponential { initial: Duration::from_millis(500), multiplier: 2.0 };
/// assert_eq!(b.delay(1), Duration::from_millis(500));
/// assert_eq!(b.delay(4), Duration::from_secs(4));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum Backoff {
    /// The same delay before every retry.
    Fixed(Duration),
    /// A delay that grows by `step` after each retry.
    Linear {
        /// The delay before the first retry.
        initial: Duration,
        /// What each further retry adds.
        step: Duration,
    },
    /// A delay that is multiplied by `multiplier` (at least 1) after each retry.
    Exponential {
        /// The delay before the first retry.
        initial: Duration,
        /// The growth factor; finite and at least 1.
        multiplier: f64,
    },
}

impl Default for Backoff {
    /// `Exponential { initial: 500 ms, multiplier: 2.0 }`, the reference setting.
    fn default() -> Self {
        Backoff::Exponential {
            initial: Duration::from_millis(500),
            multiplier: 2.0,
        }
    }
}

impl Backoff {
    /// The delay before the first retry.
    ///
    /// ```
    /// use std::time::Duration;
    /// assert_eq!(breakwater::Backoff::Fixed(Duration::from_secs(1)).initial(), Duration::from_secs(1));
    /// ```
    pub fn initial(&self) -> Duration {
        match *self {
            Backoff::Fixed(d) => d,
            Backoff::Linear { initial, .. } | Backoff::Exponential { initial, .. } => initial,
        }
    }

    /// The delay before retry `k` (1-based; 0 counts as 1), with no cap, jitter or floor,
    /// saturating at `u64::MAX` nanoseconds.
    ///
    /// ```
    /// use breakwater::Backoff;
    /// use std::time::Duration;
    /// let b = Backoff::Linear { initial: Duration::from_secs(1), step: Duration::from_secs(2) };
    /// assert_eq!(b.delay(3), Duration::from_secs(5));
    /// ```
    pub fn delay(&self, k: u32) -> Duration {
        Duration::from_nanos(self.delay_nanos(k, u64::MAX))
    }

    /// The delay before retry `k` in nanoseconds, capped at `cap`.
    pub(crate) fn delay_nanos(&self, k: u32, cap: u64) -> u64 {
        let n = u64::from(k.max(1) - 1);
        let d = match *self {
            Backoff::Fixed(d) => nanos(d),
            Backoff::Linear { initial, step } => {
                nanos(initial).saturating_add(nanos(step).saturating_mul(n))
            }
            Backoff::Exponential {
                initial,
                multiplier,
            } => {
                let exp = i32::try_from(n).unwrap_or(i32::MAX);
                let x = nanos(initial) as f64 * multiplier.powi(exp);
                if x >= cap as f64 {
                    cap
                } else {
                    // In range and finite here: `as` rounds to the nearest whole nanosecond.
                    x.round() as u64
                }
            }
        };
        d.min(cap)
    }

    /// Checks the fields (named in the error) of this backoff.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        match *self {
            Backoff::Fixed(d) => check_duration("initial", d),
            Backoff::Linear { initial, step } => {
                check_duration("initial", initial)?;
                check_duration("step", step)
            }
            Backoff::Exponential {
                initial,
                multiplier,
            } => {
                check_duration("initial", initial)?;
                if !multiplier.is_finite() || multiplier < 1.0 {
                    return Err(ConfigError::new(
                        PolicyKind::Retry,
                        "multiplier",
                        format!("must be a finite number of at least 1 (got {multiplier})"),
                    ));
                }
                Ok(())
            }
        }
    }
}

/// Randomisation applied to each computed (and capped) delay `d`, before the floor.
///
/// | variant | delay |
/// | --- | --- |
/// | `None` | `d` |
/// | `Full` | uniform in `[0, d]` |
/// | `Equal` | uniform in `[d/2, d]` |
/// | `Proportional(f)` | uniform in `[d * (1 - f), d * (1 + f)]`, `f` in `[0, 1]` |
/// | `Decorrelated` | `min(cap, uniform in [initial, previous * 3])`, `previous` starting at `initial` |
///
/// `Proportional` may end above the cap (by at most `f`), as in the reference material
/// (cap first, then jitter). `Decorrelated` replaces the backoff's growth: it takes only
/// the backoff's initial delay and the cap, and its `previous` is its own last draw
/// (before the floor or a Retry-After hint).
///
/// # Examples
///
/// ```
/// use breakwater::{Backoff, Jitter, Retry};
/// use std::time::Duration;
///
/// let retry = Retry::builder()
///     .max_attempts(4)
///     .backoff(Backoff::Fixed(Duration::from_secs(1)))
///     .jitter(Jitter::Equal)
///     .seed(7)
///     .build()
///     .unwrap();
/// for d in retry.delays() {
///     assert!(d >= Duration::from_millis(500) && d <= Duration::from_secs(1));
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default)]
#[non_exhaustive]
pub enum Jitter {
    /// No randomisation.
    #[default]
    None,
    /// Uniform in `[0, d]` ("full jitter").
    Full,
    /// Uniform in `[d/2, d]` ("equal jitter").
    Equal,
    /// Uniform in `[d * (1 - f), d * (1 + f)]` (`f = 0.1` is "±10%", `f = 0.5` is "×0.5..1.5").
    Proportional(f64),
    /// `min(cap, uniform in [initial, previous * 3])` ("decorrelated jitter").
    Decorrelated,
}

impl Jitter {
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if let Jitter::Proportional(f) = *self {
            if !(0.0..=1.0).contains(&f) {
                return Err(ConfigError::new(
                    PolicyKind::Retry,
                    "jitter",
                    format!("proportional factor must be within [0, 1] (got {f})"),
                ));
            }
        }
        Ok(())
    }
}

/// The validated, precomputed schedule of a `Retry` (copied into each call's state).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Plan {
    pub(crate) backoff: Backoff,
    pub(crate) jitter: Jitter,
    /// Cap in nanoseconds (`u64::MAX` without one).
    pub(crate) cap: u64,
    /// Floor in nanoseconds.
    pub(crate) floor: u64,
}

impl Plan {
    /// A schedule state for one call.
    pub(crate) fn start(&self, seed: u64) -> Schedule {
        Schedule {
            rng: SmallRng::seed_from_u64(seed),
            previous: nanos(self.backoff.initial()),
        }
    }
}

/// One call's position in the schedule: its random stream and, for decorrelated jitter,
/// the previous draw.
#[derive(Debug, Clone)]
pub(crate) struct Schedule {
    rng: SmallRng,
    previous: u64,
}

impl Schedule {
    /// The delay before retry `k`: backoff, cap, jitter, floor.
    pub(crate) fn delay(&mut self, plan: &Plan, k: u32) -> Duration {
        let d = plan.backoff.delay_nanos(k, plan.cap);
        let jittered = match plan.jitter {
            Jitter::None => d,
            Jitter::Full => self.rng.random_range(0..=d),
            Jitter::Equal => {
                let half = d / 2;
                half + self.rng.random_range(0..=d - half)
            }
            Jitter::Proportional(f) => {
                let x = d as f64;
                // Float to integer `as` casts saturate, so huge delays stay in range.
                let lo = (x * (1.0 - f)).round() as u64;
                let hi = (x * (1.0 + f)).round() as u64;
                self.rng.random_range(lo..=hi.max(lo))
            }
            Jitter::Decorrelated => {
                let lo = nanos(plan.backoff.initial());
                let hi = self.previous.saturating_mul(3).max(lo);
                let v = self.rng.random_range(lo..=hi).min(plan.cap);
                self.previous = v;
                v
            }
        };
        Duration::from_nanos(jittered.max(plan.floor))
    }
}

/// `d` in whole nanoseconds, saturating at `u64::MAX`.
pub(crate) fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Refuses a duration that does not fit in `u64` nanoseconds.
pub(crate) fn check_duration(field: &'static str, d: Duration) -> Result<(), ConfigError> {
    if d.as_nanos() > u128::from(u64::MAX) {
        return Err(ConfigError::new(
            PolicyKind::Retry,
            field,
            "must be at most u64::MAX nanoseconds (about 584 years)",
        ));
    }
    Ok(())
}
