//! [`SharedPermit`]: one admission by a [`SharedBreaker`], reported once.

use std::fmt;

use crate::breaker::{Outcome, Permit, Recorded};

use super::admission::Admission;
use super::breaker::SharedBreaker;
use crate::breaker::BreakerRejected;

/// Permission to run one call through a [`SharedBreaker`]; report its outcome with
/// [`SharedPermit::success`], [`SharedPermit::failure`] or [`SharedPermit::ignore`].
/// Dropped without a verdict it is ignored (a failure while the thread panics).
///
/// ```
/// let b = breakwater::redis::SharedBreaker::builder().url("redis://127.0.0.1:1/").build().unwrap();
/// let permit = b.try_acquire().unwrap();
/// permit.failure();
/// ```
#[must_use = "a permit records an outcome; dropped, it is ignored"]
pub struct SharedPermit {
    pub(super) breaker: SharedBreaker,
    pub(super) kind: PermitKind,
}

pub(super) enum PermitKind {
    /// Admitted under the shared state.
    Shared { gn: u64, trial: bool },
    /// Admitted by the local fallback (Redis was unreachable).
    Local(Option<Permit>),
    /// Already reported.
    Done,
}

impl fmt::Debug for SharedPermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedPermit")
            .field("breaker", &self.breaker.name())
            .field("local", &matches!(self.kind, PermitKind::Local(_)))
            .finish_non_exhaustive()
    }
}

impl SharedPermit {
    /// `true` when the local fallback admitted the call (Redis was unreachable).
    ///
    /// ```
    /// let b = breakwater::redis::SharedBreaker::builder().url("redis://127.0.0.1:1/").build().unwrap();
    /// assert!(b.try_acquire().unwrap().is_local());
    /// ```
    pub fn is_local(&self) -> bool {
        matches!(self.kind, PermitKind::Local(_))
    }

    /// Reports a success.
    ///
    /// ```
    /// # let b = breakwater::redis::SharedBreaker::builder().url("redis://127.0.0.1:1/").build().unwrap();
    /// b.try_acquire().unwrap().success();
    /// ```
    pub fn success(self) -> Recorded {
        self.record(Outcome::Success)
    }

    /// Reports a failure.
    ///
    /// ```
    /// # let b = breakwater::redis::SharedBreaker::builder().url("redis://127.0.0.1:1/").build().unwrap();
    /// b.try_acquire().unwrap().failure();
    /// ```
    pub fn failure(self) -> Recorded {
        self.record(Outcome::Failure)
    }

    /// Reports neither (a half-open admission is given back).
    ///
    /// ```
    /// # let b = breakwater::redis::SharedBreaker::builder().url("redis://127.0.0.1:1/").build().unwrap();
    /// b.try_acquire().unwrap().ignore();
    /// ```
    pub fn ignore(self) -> Recorded {
        self.record(Outcome::Ignored)
    }

    /// Reports `outcome`. [`Recorded::Stale`] when the permit's generation has ended.
    ///
    /// ```
    /// use breakwater::{Outcome, Recorded};
    /// # let b = breakwater::redis::SharedBreaker::builder().url("redis://127.0.0.1:1/").build().unwrap();
    /// assert_eq!(b.try_acquire().unwrap().record(Outcome::Success), Recorded::Recorded);
    /// ```
    pub fn record(mut self, outcome: Outcome) -> Recorded {
        self.finish(outcome)
    }

    fn finish(&mut self, outcome: Outcome) -> Recorded {
        match std::mem::replace(&mut self.kind, PermitKind::Done) {
            PermitKind::Shared { gn, trial } => self.breaker.inner.record(gn, outcome, trial),
            PermitKind::Local(Some(p)) => p.record(outcome),
            PermitKind::Local(None) | PermitKind::Done => Recorded::Recorded,
        }
    }
}

impl Drop for SharedPermit {
    fn drop(&mut self) {
        if !matches!(self.kind, PermitKind::Done) {
            let outcome = if std::thread::panicking() {
                Outcome::Failure
            } else {
                Outcome::Ignored
            };
            self.finish(outcome);
        }
    }
}

impl SharedBreaker {
    /// Asks to run one call.
    ///
    /// Closed (or disabled): admitted on a read of the local copy of the shared state,
    /// without touching Redis. Open: rejected locally until the open duration has
    /// passed. Half-open (or open and due): one round trip to Redis for an atomic trial
    /// slot, within the operation timeout; while another thread of this process is
    /// asking, the call is rejected as "trial full". Degraded: the local fallback
    /// breaker decides (an open or forced-open state known before the outage is kept).
    ///
    /// # Errors
    ///
    /// [`BreakerRejected`] as for [`CircuitBreaker::try_acquire`](crate::CircuitBreaker::try_acquire).
    ///
    /// ```
    /// let b = breakwater::redis::SharedBreaker::builder().url("redis://127.0.0.1:1/").build().unwrap();
    /// b.try_acquire().unwrap().success();
    /// ```
    #[inline]
    pub fn try_acquire(&self) -> Result<SharedPermit, BreakerRejected> {
        self.admit().map(|admission| SharedPermit {
            breaker: self.clone(),
            kind: match admission {
                Admission::Shared { gn, trial } => PermitKind::Shared { gn, trial },
                Admission::Local(p) => PermitKind::Local(Some(p)),
            },
        })
    }
}

/// A [`SharedPermit`] as plain data (for the C ABI): the generation it was admitted in,
/// whether it holds a half-open trial slot, and whether the local fallback admitted it
/// (then `acquired_nanos` is the local permit's reading).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct RawSharedPermit {
    pub(crate) generation: u64,
    pub(crate) acquired_nanos: u64,
    pub(crate) trial: bool,
    pub(crate) local: bool,
}

impl SharedBreaker {
    /// [`SharedBreaker::try_acquire`] as plain data: report the outcome once with
    /// [`SharedBreaker::record_raw`].
    pub(crate) fn try_acquire_raw(&self) -> Result<RawSharedPermit, BreakerRejected> {
        self.admit().map(|admission| match admission {
            Admission::Shared { gn, trial } => RawSharedPermit {
                generation: gn,
                acquired_nanos: 0,
                trial,
                local: false,
            },
            Admission::Local(p) => {
                let raw = p.into_raw();
                RawSharedPermit {
                    generation: raw.generation,
                    acquired_nanos: raw.acquired_nanos,
                    trial: false,
                    local: true,
                }
            }
        })
    }

    /// Reports the outcome of a raw permit. [`Recorded::Stale`] when its generation has
    /// ended (a zeroed permit is always stale).
    pub(crate) fn record_raw(&self, permit: RawSharedPermit, outcome: Outcome) -> Recorded {
        if permit.local {
            let raw = crate::breaker::RawPermit {
                generation: permit.generation,
                acquired_nanos: permit.acquired_nanos,
            };
            self.inner.local.record_raw(raw, outcome, None)
        } else if permit.generation == 0 {
            self.inner
                .totals
                .stale_dropped
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Recorded::Stale
        } else {
            self.inner.record(permit.generation, outcome, permit.trial)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unreachable() -> SharedBreaker {
        SharedBreaker::builder()
            .url("redis://127.0.0.1:1/")
            .consecutive_failures(1)
            .build()
            .unwrap()
    }

    #[test]
    fn a_raw_permit_of_the_local_fallback_records_there() {
        let b = unreachable();
        let p = b.try_acquire_raw().unwrap();
        assert!(p.local && !p.trial);
        assert_eq!(b.record_raw(p, Outcome::Failure), Recorded::Recorded);
        assert_eq!(b.metrics().totals.failures, 1);
        // The local fallback tripped on it; a second report of the permit is stale.
        assert!(b.try_acquire_raw().is_err());
        assert_eq!(b.record_raw(p, Outcome::Success), Recorded::Stale);
    }

    #[test]
    fn a_zeroed_shared_permit_is_stale_and_counted() {
        let b = unreachable();
        let zero = RawSharedPermit::default();
        assert_eq!(b.record_raw(zero, Outcome::Success), Recorded::Stale);
        assert_eq!(b.metrics().totals.stale_dropped, 1);
    }
}
