//! The retry budget shared across calls ([`RetryBudget`]), after Finagle's design.
//!
//! Each call deposits a token, each retry withdraws `1 / percent` tokens, so that over
//! the window at most `percent` of the calls can be retried, plus a reserve of
//! `min_retries_per_sec * ttl` retries that keeps a quiet client able to retry at all.
//! Deposits and withdrawals are counted in time buckets of `ttl / 10`; each one counts
//! for at least `ttl` and leaves at most one bucket (`ttl / 10`) late.
//!
//! | amount | value |
//! | --- | --- |
//! | deposit (per call) | 1000 units (0 when `percent` is 0) |
//! | withdrawal (per retry) | `round(1000 / percent)` units (1 when `percent` is 0) |
//! | reserve (not windowed) | `min_retries_per_sec * ttl_seconds` withdrawals |
//!
//! A withdrawal succeeds when `reserve + sum of the window >= withdrawal`; the balance is
//! that sum divided by the withdrawal.

use std::sync::Arc;
use std::time::Duration;

use crate::clock::Clock;
use crate::error::{ConfigError, PolicyKind};
use crate::sync::Mutex;

use super::backoff::{check_duration, nanos};

/// Units deposited per call (so that percentages like 0.2 give whole withdrawals).
const SCALE: f64 = 1000.0;
/// Buckets per `ttl`; the ring holds one more so that entries leave late, never early.
const BUCKETS_PER_TTL: u64 = 10;
const RING: usize = BUCKETS_PER_TTL as usize + 1;
/// Bound on withdrawal and reserve amounts, far from `i64` overflow when summed.
const MAX_UNITS: f64 = 1e15;

/// The plain settings of a [`RetryBudget`].
///
/// # Examples
///
/// ```
/// let c = breakwater::RetryBudgetConfig::default();
/// assert_eq!(c.percent, 0.2);
/// assert_eq!(c.ttl, std::time::Duration::from_secs(10));
/// assert_eq!(c.min_retries_per_sec, 10);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct RetryBudgetConfig {
    /// The share of calls that may be retried, in `[0, 1]`. Defaults to 0.2.
    pub percent: f64,
    /// The window over which calls and retries are counted (non-zero). Defaults to 10 s.
    pub ttl: Duration,
    /// Retries allowed per second of `ttl` on top of `percent`. Defaults to 10.
    pub min_retries_per_sec: u32,
}

impl Default for RetryBudgetConfig {
    fn default() -> Self {
        RetryBudgetConfig {
            percent: 0.2,
            ttl: Duration::from_secs(10),
            min_retries_per_sec: 10,
        }
    }
}

impl RetryBudgetConfig {
    /// Checks the fields (named in the error).
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if !(0.0..=1.0).contains(&self.percent) {
            return Err(ConfigError::new(
                PolicyKind::Retry,
                "percent",
                format!("must be within [0, 1] (got {})", self.percent),
            ));
        }
        if self.ttl.is_zero() {
            return Err(ConfigError::new(
                PolicyKind::Retry,
                "ttl",
                "must be non-zero",
            ));
        }
        check_duration("ttl", self.ttl)
    }
}

/// A retry budget shared by every call of one or more retries: at most `percent` of the
/// calls over the last `ttl` may be retries, plus `min_retries_per_sec` per second of `ttl`.
///
/// Cloning shares the budget. A retry with no budget may retry without limit.
///
/// # Examples
///
/// ```
/// use breakwater::{Clock, RetryBudget};
/// use std::time::Duration;
///
/// // 20% of calls, no reserve.
/// let budget = RetryBudget::new(0.2, Duration::from_secs(10), 0, Clock::monotonic()).unwrap();
/// for _ in 0..5 {
///     budget.deposit();
/// }
/// assert_eq!(budget.balance(), 1);
/// assert!(budget.try_withdraw());
/// assert!(!budget.try_withdraw());
/// ```
#[derive(Clone)]
pub struct RetryBudget {
    inner: Arc<Inner>,
}

struct Inner {
    config: RetryBudgetConfig,
    clock: Clock,
    deposit: i64,
    withdrawal: i64,
    reserve: i64,
    bucket_nanos: u64,
    window: Mutex<Window>,
}

/// A ring of buckets; `last` is the absolute index (`nanos / bucket_nanos`) of the newest.
struct Window {
    buckets: [i64; RING],
    last: u64,
}

impl Window {
    /// Moves the ring to absolute bucket `now`, clearing the buckets that fell out.
    fn roll(&mut self, now: u64) -> usize {
        if now > self.last {
            let stale = (now - self.last).min(RING as u64);
            for i in 1..=stale {
                self.buckets[((self.last + i) % RING as u64) as usize] = 0;
            }
            self.last = now;
        }
        (self.last % RING as u64) as usize
    }

    fn sum(&self) -> i64 {
        self.buckets.iter().fold(0i64, |a, b| a.saturating_add(*b))
    }
}

impl std::fmt::Debug for RetryBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RetryBudget")
            .field("config", &self.inner.config)
            .field("balance", &self.balance())
            .finish()
    }
}

impl RetryBudget {
    /// A budget on `clock`: `percent` of calls (in `[0, 1]`) over a `ttl` window may be
    /// retried, plus `min_retries_per_sec * ttl` retries.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming `percent` (NaN or outside `[0, 1]`) or `ttl` (zero, or
    /// beyond `u64::MAX` nanoseconds).
    ///
    /// # Examples
    ///
    /// ```
    /// use breakwater::{Clock, RetryBudget};
    /// use std::time::Duration;
    /// let err = RetryBudget::new(1.5, Duration::from_secs(10), 0, Clock::monotonic()).unwrap_err();
    /// assert_eq!(err.field, "percent");
    /// ```
    pub fn new(
        percent: f64,
        ttl: Duration,
        min_retries_per_sec: u32,
        clock: Clock,
    ) -> Result<RetryBudget, ConfigError> {
        RetryBudget::from_config(
            &RetryBudgetConfig {
                percent,
                ttl,
                min_retries_per_sec,
            },
            clock,
        )
    }

    /// A budget from its plain settings (see [`RetryBudget::new`]).
    ///
    /// # Errors
    ///
    /// As [`RetryBudget::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// use breakwater::{Clock, RetryBudget, RetryBudgetConfig};
    /// let b = RetryBudget::from_config(&RetryBudgetConfig::default(), Clock::monotonic()).unwrap();
    /// assert_eq!(b.balance(), 100); // the reserve: 10 per second over 10 s
    /// ```
    pub fn from_config(
        config: &RetryBudgetConfig,
        clock: Clock,
    ) -> Result<RetryBudget, ConfigError> {
        config.validate()?;
        let (deposit, withdrawal) = if config.percent == 0.0 {
            (0, 1)
        } else {
            // Rounded so that 0.2 gives exactly 5000; bounded for tiny percentages.
            (
                SCALE as i64,
                (SCALE / config.percent).round().min(MAX_UNITS) as i64,
            )
        };
        let reserve =
            (f64::from(config.min_retries_per_sec) * config.ttl.as_secs_f64() * withdrawal as f64)
                .round()
                .min(MAX_UNITS) as i64;
        let bucket_nanos = (nanos(config.ttl) / BUCKETS_PER_TTL).max(1);
        let last = clock.nanos_coarse() / bucket_nanos;
        Ok(RetryBudget {
            inner: Arc::new(Inner {
                config: *config,
                clock,
                deposit,
                withdrawal,
                reserve,
                bucket_nanos,
                window: Mutex::new(Window {
                    buckets: [0; RING],
                    last,
                }),
            }),
        })
    }

    /// The budget's settings.
    ///
    /// ```
    /// use breakwater::{Clock, RetryBudget};
    /// let b = RetryBudget::new(0.1, std::time::Duration::from_secs(5), 2, Clock::monotonic()).unwrap();
    /// assert_eq!(b.config().min_retries_per_sec, 2);
    /// ```
    pub fn config(&self) -> RetryBudgetConfig {
        self.inner.config
    }

    fn bucket_now(&self) -> u64 {
        self.inner.clock.nanos_coarse() / self.inner.bucket_nanos
    }

    /// Records a call (a retry's `begin` does it for you).
    ///
    /// ```
    /// use breakwater::{Clock, RetryBudget};
    /// let b = RetryBudget::new(1.0, std::time::Duration::from_secs(1), 0, Clock::monotonic()).unwrap();
    /// b.deposit();
    /// assert_eq!(b.balance(), 1);
    /// ```
    pub fn deposit(&self) {
        if self.inner.deposit == 0 {
            return;
        }
        let now = self.bucket_now();
        let mut w = self.inner.window.lock();
        let i = w.roll(now);
        w.buckets[i] = w.buckets[i].saturating_add(self.inner.deposit);
    }

    /// Takes one retry from the budget; `false` (and nothing taken) when it has none left.
    ///
    /// ```
    /// use breakwater::{Clock, RetryBudget};
    /// let b = RetryBudget::new(0.5, std::time::Duration::from_secs(1), 0, Clock::monotonic()).unwrap();
    /// b.deposit();
    /// assert!(!b.try_withdraw());
    /// b.deposit();
    /// assert!(b.try_withdraw());
    /// ```
    pub fn try_withdraw(&self) -> bool {
        let now = self.bucket_now();
        let mut w = self.inner.window.lock();
        let i = w.roll(now);
        if self.inner.reserve.saturating_add(w.sum()) >= self.inner.withdrawal {
            w.buckets[i] -= self.inner.withdrawal;
            true
        } else {
            false
        }
    }

    /// How many retries the budget would allow now.
    ///
    /// ```
    /// use breakwater::{Clock, RetryBudget};
    /// let b = RetryBudget::new(0.0, std::time::Duration::from_secs(2), 3, Clock::monotonic()).unwrap();
    /// assert_eq!(b.balance(), 6);
    /// ```
    pub fn balance(&self) -> u64 {
        let now = self.bucket_now();
        let mut w = self.inner.window.lock();
        w.roll(now);
        let total = self.inner.reserve.saturating_add(w.sum()).max(0);
        (total / self.inner.withdrawal) as u64
    }
}

#[cfg(all(test, breakwater_loom))]
mod loom_tests {
    use super::*;

    #[test]
    fn loom_budget_grants_its_last_retry_once() {
        loom::model(|| {
            let clock = Clock::from(crate::ManualClock::new());
            let budget = RetryBudget::new(1.0, Duration::from_secs(1), 0, clock).unwrap();
            budget.deposit();
            let other = budget.clone();
            let t = loom::thread::spawn(move || other.try_withdraw());
            let mine = budget.try_withdraw();
            let theirs = t.join().unwrap();
            assert!(mine ^ theirs, "exactly one withdrawal succeeds");
            assert_eq!(budget.balance(), 0);
        });
    }
}
