//! [`SharedBreaker`]: a circuit breaker whose state the whole fleet shares through
//! Redis, with the local breaker's protocol and call surface.

use std::cell::Cell;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::Mutex;

use crate::breaker::{BreakerConfig, BreakerRejected, CircuitBreaker, Outcome, State};
use crate::error::{Error, RejectReason};

use super::admission::{Admission, UnwindGuard};
use super::scripts::TRIAL_SCRIPT;
use super::shared::{Inner, unword};

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
    subscriber: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for Owner {
    fn drop(&mut self) {
        self.inner.stop.store(true, Ordering::Release);
        let _ = self.inner.wake.try_send(());
        // The last handle may be dropped by a listener on one of the breaker's own
        // threads: they are not joined then (they stop on their own). A thread-local
        // flag rather than `thread::current()`, which allocates a handle for a foreign
        // thread (a C program's main thread) that is never freed.
        if super::worker::ON_WORKER.with(Cell::get) {
            return;
        }
        if let Some(w) = self.worker.lock().take() {
            let _ = w.join();
        }
        // The subscriber sees `stop` within its read tick (or a connection attempt,
        // bounded by the operation timeout): no thread outlives the breaker.
        if let Some(s) = self.subscriber.lock().take() {
            let _ = s.join();
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
    pub(crate) fn start(inner: Arc<Inner>, wake: crossbeam_channel::Receiver<()>) -> SharedBreaker {
        let w = inner.clone();
        let worker = std::thread::Builder::new()
            .name(format!("bw-redis-{}", inner.config.name))
            .spawn(move || super::worker::worker(w, wake))
            .ok();
        let s = inner.clone();
        let subscriber = std::thread::Builder::new()
            .name(format!("bw-redis-sub-{}", inner.config.name))
            .spawn(move || super::worker::subscriber(s))
            .ok();
        SharedBreaker {
            _owner: Arc::new(Owner {
                inner: inner.clone(),
                worker: Mutex::new(worker),
                subscriber: Mutex::new(subscriber),
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

    /// The admission decision, without the handle a [`SharedPermit`](super::SharedPermit) carries.
    #[inline]
    pub(super) fn admit(&self) -> Result<Admission, BreakerRejected> {
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
}

/// Makes the local fallback breaker for `config`.
pub(crate) fn local_fallback(config: &BreakerConfig) -> Result<CircuitBreaker, crate::ConfigError> {
    CircuitBreaker::from_config(config.clone())
}
