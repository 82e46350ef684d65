//! [`SharedBreaker`]: a circuit breaker whose state the whole fleet shares through
//! Redis, with the local breaker's protocol and call surface.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::Mutex;

use crate::breaker::{
    BreakerConfig, BreakerMetrics, BreakerRejected, BreakerTotals, CircuitBreaker, CurrentCounts,
    Outcome, Permit, Recorded, State, TransitionReason,
};
use crate::error::{Error, RejectReason};

use super::builder::SharedBreakerBuilder;
use super::error::SharedError;
use super::health::{Health, RedisMetrics};
use super::scripts::{MANUAL_SCRIPT, TRIAL_SCRIPT};
use super::shared::{FleetCounts, Inner, reason_code, unword};

/// A circuit breaker shared by every process that names it (same `key_prefix` and name)
/// through Redis. See the [module documentation](crate::redis) for the consistency model.
///
/// `Clone + Send + Sync`; clones share one breaker. The last handle dropped stops its
/// background threads (after a last flush, bounded by the operation timeout).
///
/// # Examples
///
/// With no Redis to be reached the breaker works on its local state (and says so):
///
/// ```
/// use breakwater::redis::{Health, SharedBreaker};
/// use breakwater::State;
///
/// let breaker = SharedBreaker::builder()
///     .name("authors")
///     .url("redis://127.0.0.1:1/")
///     .consecutive_failures(2)
///     .build()?;
/// assert_eq!(breaker.health(), Health::Degraded);
/// for _ in 0..2 {
///     let _ = breaker.call(|| Err::<(), _>("down"));
/// }
/// assert_eq!(breaker.state(), State::Open);
/// assert!(breaker.try_acquire().is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct SharedBreaker {
    pub(crate) inner: Arc<Inner>,
    _owner: Arc<Owner>,
}

/// Stops the background threads when the last handle goes.
struct Owner {
    inner: Arc<Inner>,
    worker: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for Owner {
    fn drop(&mut self) {
        self.inner.stop.store(true, Ordering::Release);
        let _ = self.inner.wake.try_send(());
        if let Some(w) = self.worker.lock().take() {
            // The last handle may be dropped by a listener on the worker itself.
            if w.thread().id() != std::thread::current().id() {
                let _ = w.join();
            }
        }
    }
}

impl fmt::Debug for SharedBreaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedBreaker")
            .field("name", &self.name())
            .field("key", &self.inner.key)
            .field("state", &self.state())
            .field("health", &self.health())
            .finish_non_exhaustive()
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

    pub(crate) fn start(inner: Arc<Inner>, wake: crossbeam_channel::Receiver<()>) -> SharedBreaker {
        let w = inner.clone();
        let worker = std::thread::Builder::new()
            .name(format!("bw-redis-{}", inner.config.name))
            .spawn(move || super::worker::worker(w, wake))
            .ok();
        let s = inner.clone();
        let _ = std::thread::Builder::new()
            .name(format!("bw-redis-sub-{}", inner.config.name))
            .spawn(move || super::worker::subscriber(s));
        SharedBreaker {
            _owner: Arc::new(Owner {
                inner: inner.clone(),
                worker: Mutex::new(worker),
            }),
            inner,
        }
    }

    /// The breaker's name (the fleet-wide identity, with the key prefix).
    ///
    /// ```
    /// let b = breakwater::redis::SharedBreaker::builder().name("db").url("redis://127.0.0.1:1/").build().unwrap();
    /// assert_eq!(b.name(), "db");
    /// ```
    pub fn name(&self) -> &str {
        &self.inner.config.name
    }

    /// The breaker configuration.
    ///
    /// ```
    /// let b = breakwater::redis::SharedBreaker::builder().url("redis://127.0.0.1:1/").build().unwrap();
    /// assert_eq!(b.config().half_open_max_calls, 1);
    /// ```
    pub fn config(&self) -> &BreakerConfig {
        &self.inner.config
    }

    /// The Redis key holding the shared state.
    ///
    /// ```
    /// let b = breakwater::redis::SharedBreaker::builder().name("db").url("redis://127.0.0.1:1/").build().unwrap();
    /// assert_eq!(b.key(), "breakwater:breaker:{db}");
    /// ```
    pub fn key(&self) -> &str {
        &self.inner.key
    }

    /// `true` when both handles share one breaker.
    ///
    /// ```
    /// let a = breakwater::redis::SharedBreaker::builder().url("redis://127.0.0.1:1/").build().unwrap();
    /// assert!(a.ptr_eq(&a.clone()));
    /// ```
    pub fn ptr_eq(&self, other: &SharedBreaker) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

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
    /// [`BreakerRejected`] as for [`CircuitBreaker::try_acquire`].
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

    /// The admission decision, without the handle a [`SharedPermit`] carries.
    #[inline]
    fn admit(&self) -> Result<Admission, BreakerRejected> {
        if self.inner.health.is_degraded() {
            return self.acquire_degraded();
        }
        let (state, gn) = unword(self.inner.word.load(Ordering::Acquire));
        match state {
            State::Closed | State::Disabled => Ok(self.permit(gn, false)),
            State::Open => {
                let now = self.inner.clock.nanos_coarse();
                let until = self.inner.open_until.load(Ordering::Acquire);
                if now < until {
                    Err(self.reject(RejectReason::Open, Some(Duration::from_nanos(until - now))))
                } else {
                    self.acquire_trial(state)
                }
            }
            State::HalfOpen => self.acquire_trial(state),
            State::ForcedOpen => Err(self.reject(RejectReason::ForcedOpen, None)),
        }
    }

    fn permit(&self, gn: u64, trial: bool) -> Admission {
        Admission::Shared { gn, trial }
    }

    fn reject(&self, reason: RejectReason, retry_after: Option<Duration>) -> BreakerRejected {
        let t = &self.inner.totals;
        match reason {
            RejectReason::Open => &t.rejected_open,
            RejectReason::TrialFull => &t.rejected_trial_full,
            _ => &t.rejected_forced_open,
        }
        .fetch_add(1, Ordering::Relaxed);
        BreakerRejected {
            reason,
            retry_after,
        }
    }

    /// A trial slot from Redis (or the news that the breaker closed meanwhile).
    fn acquire_trial(&self, seen: State) -> Result<Admission, BreakerRejected> {
        let busy = if seen == State::Open {
            RejectReason::Open
        } else {
            RejectReason::TrialFull
        };
        let Some(mut link) = self.inner.caller.try_lock() else {
            return Err(self.reject(busy, None));
        };
        match self.inner.run(&mut link, TRIAL_SCRIPT, &[]) {
            Ok(r) => {
                drop(link);
                self.inner.apply_reply(&r, None);
                let state = State::from_code(r[0].max(0) as u32).unwrap_or(State::Closed);
                let gn = r[1].max(0) as u64;
                if r[9] == 1 {
                    return Ok(self.permit(gn, state == State::HalfOpen));
                }
                Err(match state {
                    State::Open => self.reject(
                        RejectReason::Open,
                        Some(Duration::from_millis(r[2].max(0) as u64)),
                    ),
                    State::ForcedOpen => self.reject(RejectReason::ForcedOpen, None),
                    _ => self.reject(RejectReason::TrialFull, None),
                })
            }
            Err(e) => {
                link.drop_connection();
                drop(link);
                self.inner.degrade(&e);
                self.acquire_degraded()
            }
        }
    }

    /// Redis is unreachable: keep a known open (until it ends) or forced-open state,
    /// otherwise let the local fallback decide.
    fn acquire_degraded(&self) -> Result<Admission, BreakerRejected> {
        let (state, _) = unword(self.inner.word.load(Ordering::Acquire));
        if state == State::ForcedOpen {
            return Err(self.reject(RejectReason::ForcedOpen, None));
        }
        if state == State::Open {
            let now = self.inner.clock.nanos_coarse();
            let until = self.inner.open_until.load(Ordering::Acquire);
            if now < until {
                return Err(
                    self.reject(RejectReason::Open, Some(Duration::from_nanos(until - now)))
                );
            }
        }
        match self.inner.local.try_acquire() {
            Ok(p) => Ok(Admission::Local(p)),
            Err(r) => Err(self.reject(r.reason, r.retry_after)),
        }
    }

    /// Runs `f` if the breaker admits it; `Ok` is a success, `Err` a failure.
    ///
    /// # Errors
    ///
    /// [`Error::Rejected`] when the breaker refused the call, [`Error::Failed`] with
    /// `f`'s error.
    ///
    /// # Panics
    ///
    /// When `f` panics: the call is recorded as a failure and the panic goes on.
    ///
    /// ```
    /// let b = breakwater::redis::SharedBreaker::builder().url("redis://127.0.0.1:1/").build().unwrap();
    /// assert_eq!(b.call(|| Ok::<_, ()>(7)).unwrap(), 7);
    /// ```
    #[inline]
    pub fn call<T, E>(&self, f: impl FnOnce() -> Result<T, E>) -> Result<T, Error<E>> {
        self.call_with(Outcome::of, f)
    }

    /// Runs `f` if the breaker admits it and records what `classify` makes of its
    /// result, which is returned as it is.
    ///
    /// # Errors
    ///
    /// As [`SharedBreaker::call`].
    ///
    /// # Panics
    ///
    /// When `f` or `classify` panics: recorded as a failure, the panic goes on.
    ///
    /// ```
    /// use breakwater::Outcome;
    /// let b = breakwater::redis::SharedBreaker::builder().url("redis://127.0.0.1:1/").build().unwrap();
    /// let r = b.call_with(|r: &Result<u16, ()>| if matches!(r, Ok(503)) { Outcome::Failure } else { Outcome::of(r) }, || Ok(503));
    /// assert_eq!(r.unwrap(), 503);
    /// ```
    #[inline]
    pub fn call_with<T, E>(
        &self,
        classify: impl Fn(&Result<T, E>) -> Outcome,
        f: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, Error<E>> {
        match self.admit()? {
            Admission::Shared { gn, trial } => {
                // Records a failure if `f` or `classify` unwinds; disarmed on the way out.
                let guard = UnwindGuard {
                    inner: &self.inner,
                    gn,
                    trial,
                };
                let result = f();
                let outcome = classify(&result);
                std::mem::forget(guard);
                self.inner.record(gn, outcome, trial);
                result.map_err(Error::failed)
            }
            Admission::Local(permit) => {
                // A local permit dropped while unwinding records a failure itself.
                let result = f();
                permit.record(classify(&result));
                result.map_err(Error::failed)
            }
        }
    }

    /// The state as this process knows it: the local copy of the shared state (an open
    /// state whose duration has passed reads as half-open, which the next admission
    /// will find), or the local fallback's while degraded.
    ///
    /// ```
    /// let b = breakwater::redis::SharedBreaker::builder().url("redis://127.0.0.1:1/").build().unwrap();
    /// assert_eq!(b.state(), breakwater::State::Closed);
    /// ```
    pub fn state(&self) -> State {
        let (state, _) = unword(self.inner.word.load(Ordering::Acquire));
        let open_passed = state == State::Open
            && self.inner.clock.nanos_coarse() >= self.inner.open_until.load(Ordering::Acquire);
        if self.inner.health.is_degraded() {
            return match state {
                State::ForcedOpen => state,
                State::Open if !open_passed => state,
                _ => self.inner.local.state(),
            };
        }
        if open_passed { State::HalfOpen } else { state }
    }

    /// The shared generation as this process knows it.
    ///
    /// ```
    /// let b = breakwater::redis::SharedBreaker::builder().url("redis://127.0.0.1:1/").build().unwrap();
    /// assert_eq!(b.generation(), 0); // never reached Redis
    /// ```
    pub fn generation(&self) -> u64 {
        unword(self.inner.word.load(Ordering::Acquire)).1
    }

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

/// An admission, before it becomes a [`SharedPermit`] (or not, in `call_with`).
enum Admission {
    Shared { gn: u64, trial: bool },
    Local(Permit),
}

/// Records a failure for a guarded call that is unwinding.
struct UnwindGuard<'a> {
    inner: &'a Inner,
    gn: u64,
    trial: bool,
}

impl Drop for UnwindGuard<'_> {
    fn drop(&mut self) {
        self.inner.record(self.gn, Outcome::Failure, self.trial);
    }
}

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
    breaker: SharedBreaker,
    kind: PermitKind,
}

enum PermitKind {
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

/// Makes the local fallback breaker for `config`.
pub(crate) fn local_fallback(config: &BreakerConfig) -> Result<CircuitBreaker, crate::ConfigError> {
    CircuitBreaker::from_config(config.clone())
}
