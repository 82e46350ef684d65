//! A [`SharedBreaker`]'s counts, health and manual controls.

use std::sync::atomic::Ordering;

use crate::breaker::{BreakerMetrics, BreakerTotals, CurrentCounts, State, TransitionReason};

use super::breaker::SharedBreaker;
use super::error::SharedError;
use super::health::{Health, RedisMetrics};
use super::scripts::{MANUAL_SCRIPT, reason_code};
use super::shared::FleetCounts;

impl SharedBreaker {
    /// The counts in the breaker's usual shape: `current` is the fleet's (as of the last
    /// reply from Redis), `totals` this process's (outcomes once sent).
    ///
    /// ```
    /// let b = breakwater::redis::SharedBreaker::builder().url("redis://127.0.0.1:1/").build().unwrap();
    /// assert_eq!(b.metrics().totals.rejected(), 0);
    /// ```
    pub fn metrics(&self) -> BreakerMetrics {
        let fleet = self.fleet();
        let t = &self.inner.totals;
        let r = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
        let local = self.inner.local.metrics().totals;
        BreakerMetrics {
            state: self.state(),
            generation: self.generation(),
            current: CurrentCounts {
                requests: fleet.successes + fleet.failures,
                successes: fleet.successes,
                failures: fleet.failures,
                consecutive_failures: fleet.consecutive_failures,
                ..CurrentCounts::default()
            },
            totals: BreakerTotals {
                requests: r(&t.successes) + r(&t.failures) + r(&t.ignored) + local.requests,
                successes: r(&t.successes) + local.successes,
                failures: r(&t.failures) + local.failures,
                ignored: r(&t.ignored) + local.ignored,
                rejected_open: r(&t.rejected_open),
                rejected_trial_full: r(&t.rejected_trial_full),
                rejected_forced_open: r(&t.rejected_forced_open),
                stale_dropped: r(&t.stale_dropped),
                transitions: r(&t.transitions),
                opened: r(&t.opened),
                ..BreakerTotals::default()
            },
        }
    }

    /// The fleet-wide counts as of the last reply from Redis.
    ///
    /// ```
    /// let b = breakwater::redis::SharedBreaker::builder().url("redis://127.0.0.1:1/").build().unwrap();
    /// assert_eq!(b.fleet().failures, 0);
    /// ```
    pub fn fleet(&self) -> FleetCounts {
        *self.inner.fleet.lock()
    }

    /// Sends this process's waiting outcomes now (on the caller's thread, within the
    /// operation timeout) and returns the fleet counts Redis answered with.
    ///
    /// # Errors
    ///
    /// [`SharedError::Unreachable`] (and the breaker degrades) when Redis does not
    /// answer in time, or the server's refusal.
    ///
    /// ```
    /// let b = breakwater::redis::SharedBreaker::builder().url("redis://127.0.0.1:1/").build().unwrap();
    /// assert!(b.flush().is_err());
    /// ```
    pub fn flush(&self) -> Result<FleetCounts, SharedError> {
        let mut link = self.inner.link();
        let result = self
            .inner
            .flush(&mut link)
            .and_then(|()| self.inner.sync(&mut link));
        match result {
            Ok(()) => {
                self.inner.health.recover();
                Ok(self.fleet())
            }
            Err(e) => {
                self.inner.degrade(&e);
                Err(e.into_shared())
            }
        }
    }

    /// Whether the breaker works on the shared state ([`Health::Healthy`]) or on its
    /// local fallback ([`Health::Degraded`]).
    ///
    /// ```
    /// let b = breakwater::redis::SharedBreaker::builder().url("redis://127.0.0.1:1/").build().unwrap();
    /// assert_eq!(b.health(), breakwater::redis::Health::Degraded);
    /// ```
    pub fn health(&self) -> Health {
        self.inner.health.health()
    }

    /// Counters of the traffic with Redis.
    ///
    /// ```
    /// let b = breakwater::redis::SharedBreaker::builder().url("redis://127.0.0.1:1/").build().unwrap();
    /// assert!(b.redis_metrics().degraded >= 1);
    /// ```
    pub fn redis_metrics(&self) -> RedisMetrics {
        self.inner.health.metrics()
    }

    /// Closes the breaker for the whole fleet (a new generation, counts cleared).
    ///
    /// # Errors
    ///
    /// [`SharedError::Unreachable`] when Redis does not answer in time: the local
    /// fallback is reset, the fleet is not.
    ///
    /// ```
    /// let b = breakwater::redis::SharedBreaker::builder().url("redis://127.0.0.1:1/").build().unwrap();
    /// assert!(b.reset().is_err()); // no Redis here
    /// ```
    pub fn reset(&self) -> Result<(), SharedError> {
        self.manual(State::Closed, TransitionReason::Reset)
    }

    /// Forces the breaker open for the whole fleet, until [`SharedBreaker::reset`].
    ///
    /// # Errors
    ///
    /// As [`SharedBreaker::reset`].
    ///
    /// ```
    /// let b = breakwater::redis::SharedBreaker::builder().url("redis://127.0.0.1:1/").build().unwrap();
    /// assert!(b.force_open().is_err());
    /// ```
    pub fn force_open(&self) -> Result<(), SharedError> {
        self.manual(State::ForcedOpen, TransitionReason::ForcedOpen)
    }

    /// Disables the breaker for the whole fleet, until [`SharedBreaker::reset`].
    ///
    /// # Errors
    ///
    /// As [`SharedBreaker::reset`].
    ///
    /// ```
    /// let b = breakwater::redis::SharedBreaker::builder().url("redis://127.0.0.1:1/").build().unwrap();
    /// assert!(b.disable().is_err());
    /// ```
    pub fn disable(&self) -> Result<(), SharedError> {
        self.manual(State::Disabled, TransitionReason::Disabled)
    }

    fn manual(&self, to: State, reason: TransitionReason) -> Result<(), SharedError> {
        let local = &self.inner.local;
        match to {
            State::ForcedOpen => local.force_open(),
            State::Disabled => local.disable(),
            _ => local.reset(),
        }
        let mut link = self.inner.link();
        match self.inner.run(
            &mut link,
            MANUAL_SCRIPT,
            &[u64::from(to.code()), reason_code(reason)],
        ) {
            Ok(r) => {
                self.inner.health.recover();
                self.inner.apply_reply(&r, Some(reason));
                Ok(())
            }
            Err(e) => {
                self.inner.degrade(&e);
                Err(e.into_shared())
            }
        }
    }
}
