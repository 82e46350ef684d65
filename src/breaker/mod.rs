//! The circuit breaker. See [`CircuitBreaker`].

mod config;
mod core;
mod events;
mod locked;
mod metrics;
mod permit;
mod state;
mod trace;
mod window;

#[cfg(all(test, breakwater_loom))]
mod loom_tests;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::clock::Clock;
use crate::error::{ConfigError, Error, PolicyKind};
use crate::registry::Registry;

#[cfg(feature = "ffi")]
pub(crate) use config::two_trip_policies;
pub use config::{
    BreakerBuilder, BreakerConfig, DEFAULT_CONSECUTIVE_FAILURES, DEFAULT_MINIMUM_CALLS,
    DEFAULT_NAME, DEFAULT_OPEN_DURATION, DEFAULT_RATE_WINDOW, MAX_COUNT_WINDOW, MAX_DURATION,
    SlowCalls, TripPolicy, Window,
};
#[cfg(feature = "ffi")]
pub(crate) use events::WindowFigures;
pub use events::{CallEvent, CallKind, Transition, TransitionReason};
pub use metrics::{BreakerMetrics, BreakerTotals, CurrentCounts};
pub use permit::{BreakerRejected, Outcome, Permit, RawPermit, Recorded};
pub use state::State;
#[cfg(feature = "ffi")]
pub(crate) use trace::describe;

use self::core::Shared;
use events::{CallListener, TransitionListener};

/// A circuit breaker.
///
/// A [`CircuitBreaker`] stops calling a dependency that keeps failing, gives it time
/// (`open_duration`), then lets a small trial through (half-open) to decide whether to
/// close again. It is `Clone + Send + Sync`; clones share one state.
///
/// # States
///
/// - **closed**: calls run; outcomes feed the [`TripPolicy`]; reaching its threshold
///   (`>=`) opens.
/// - **open**: calls are rejected ([`RejectReason::Open`](crate::RejectReason::Open), with a `retry_after`) until
///   `open_duration` has elapsed; the k-th consecutive re-open lasts
///   `min(cap, open_duration * multiplier^k)`, back to `open_duration` once the breaker
///   closes or is reset.
/// - **half-open**: a trial of `half_open_max_calls` admissions (per trial, not in
///   flight); further calls are rejected with [`RejectReason::TrialFull`](crate::RejectReason::TrialFull). An ignored
///   outcome or a permit dropped without a verdict gives its admission back. Count
///   policies close after `success_threshold` successes and re-open on the first failure;
///   rate policies decide when every admission has reported (open if the trial's rate is
///   `>=` the threshold, else close). A trial still undecided after `half_open_max_wait`
///   re-opens.
/// - **forced-open** and **disabled** (manual): rejects everything
///   ([`RejectReason::ForcedOpen`](crate::RejectReason::ForcedOpen)), or admits and records everything and never trips.
///   Only [`CircuitBreaker::reset`] (or the other manual mode) leaves them.
///
/// Transitions are lazy (no timer thread): [`CircuitBreaker::state`],
/// [`CircuitBreaker::metrics`], [`CircuitBreaker::try_acquire`] (and recording an
/// outcome) first apply a due transition, exactly once: open -> half-open when
/// `elapsed >= open duration`, half-open -> open when `elapsed >= half_open_max_wait`.
/// A lazily applied transition is stamped with the time it is applied.
///
/// Every state change starts a new **generation**. A permit carries the generation it
/// was admitted in; an outcome for an older generation is dropped and counted in
/// `stale_dropped` ([`Recorded::Stale`]).
///
/// # Outcomes
///
/// Success, failure or ignored (neither). [`CircuitBreaker::call`] classifies every
/// `Ok` as a success and every `Err` as a failure; [`CircuitBreaker::call_with`] takes a
/// classifier over the whole result, so a value can fail (an HTTP 503) and is still
/// returned to the caller as it is. A panic inside a guarded call is recorded as a
/// failure and keeps unwinding. Rejections never touch the window and never count as
/// requests; they are counted in the totals by reason.
///
/// # Two ways to use it
///
/// ```
/// use breakwater::{CircuitBreaker, Error, Outcome};
///
/// let breaker = CircuitBreaker::builder().name("authors").consecutive_failures(5).build()?;
///
/// // Sugar: run a closure.
/// let r: Result<u32, Error<std::io::Error>> = breaker.call(|| Ok(42));
/// assert_eq!(r.unwrap(), 42);
///
/// // Classify values too: a 503 is a failure, and still returned.
/// let status = breaker.call_with(
///     |r: &Result<u16, ()>| match r { Ok(s) if *s >= 500 => Outcome::Failure, Ok(_) => Outcome::Success, Err(_) => Outcome::Failure },
///     || Ok(503),
/// );
/// assert_eq!(status.unwrap(), 503);
/// assert_eq!(breaker.metrics().current.failures, 1);
///
/// // Protocol: acquire a permit, run your own code, report.
/// let permit = breaker.try_acquire()?;
/// permit.success();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Time
///
/// The breaker reads its [`Clock`]. The open-state checks on the way in use
/// [`Clock::nanos_coarse`] against deadlines set with the precise clock, so a transition
/// can be applied up to one coarse tick late (1 to 4 ms), never early. Outcomes in a
/// time-based rate window are stamped with the coarse clock too. The clock is not read
/// at all on the closed-state path when no policy needs call durations (no slow-call
/// rate, no call listener). Durations are measured on the precise clock.
///
/// # Concurrency
///
/// The state word (state and generation) is read lock-free on the way in. In the closed
/// (and disabled) state admissions and, under the count policies and time-window failure
/// rates, successes are counted lock-free in per-thread stripes of counters (one cache
/// line each, so threads do not write a shared line): a permit costs one atomic operation
/// to acquire and one to report a success; [`CircuitBreaker::call`] is admitted on a read
/// of the state word and counts its request and its success in one atomic operation when
/// it returns. A time-window success is counted lock-free only when it provably lands in
/// the current bucket and cannot raise the rate (the window holds `minimum_calls`
/// evaluated outcomes and nothing is due to leave it); otherwise it takes the lock.
/// Everything else happens under a mutex with a short critical section (no allocation,
/// no listener call, no system call: the clock is read before the lock). A failure
/// briefly closes the lock-free counters so that every success is ordered either
/// before or after it; every count stays exact. A call in the closed state allocates
/// nothing, with or without listeners.
///
/// Listeners run outside the lock, see transitions in the order they happened (one
/// thread hands them over at a time), and may call back into the breaker (`state()`,
/// `metrics()`, `try_acquire()`, `reset()`...) without deadlocking. A transition caused
/// from inside a listener is delivered after the listener returns.
///
/// # The raw protocol and the C ABI
///
/// [`CircuitBreaker::try_acquire_raw`] returns a [`RawPermit`] (plain `Copy` data) to be
/// reported once with [`CircuitBreaker::record_raw`]. A raw permit that is never reported
/// holds a half-open admission at most until `half_open_max_wait` re-opens the trial; in
/// the closed state it only leaves `requests` above the sum of the outcomes.
///
/// # Examples
///
/// ```
/// use breakwater::{CircuitBreaker, ManualClock, RejectReason, State};
/// use std::time::Duration;
///
/// let clock = ManualClock::new();
/// let breaker = CircuitBreaker::builder()
///     .consecutive_failures(2)
///     .open_duration(Duration::from_secs(30))
///     .clock(clock.clone().into())
///     .build()
///     .unwrap();
///
/// for _ in 0..2 {
///     let _ = breaker.call(|| Err::<(), _>("down"));
/// }
/// assert_eq!(breaker.state(), State::Open);
/// let rejected = breaker.try_acquire().unwrap_err();
/// assert_eq!(rejected.reason, RejectReason::Open);
/// assert_eq!(rejected.retry_after, Some(Duration::from_secs(30)));
///
/// clock.advance(Duration::from_secs(30));
/// assert_eq!(breaker.state(), State::HalfOpen);
/// breaker.call(|| Ok::<_, ()>(())).unwrap();
/// assert_eq!(breaker.state(), State::Closed);
/// ```
#[derive(Clone)]
pub struct CircuitBreaker {
    shared: Arc<Shared>,
}

impl fmt::Debug for CircuitBreaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("name", &self.name())
            .field("state", &self.shared.peek_state())
            .finish_non_exhaustive()
    }
}

impl CircuitBreaker {
    /// A builder with the defaults of [`BreakerConfig`].
    ///
    /// ```
    /// let breaker = breakwater::CircuitBreaker::builder().build().unwrap();
    /// assert_eq!(breaker.state(), breakwater::State::Closed);
    /// ```
    pub fn builder() -> BreakerBuilder {
        BreakerBuilder::new()
    }

    /// A breaker from a plain configuration, on the monotonic clock, without listeners
    /// (use [`BreakerBuilder::config`] to add those).
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the offending field (see [`BreakerConfig::validate`]).
    ///
    /// ```
    /// use breakwater::{BreakerConfig, CircuitBreaker};
    /// let b = CircuitBreaker::from_config(BreakerConfig::default()).unwrap();
    /// assert_eq!(b.name(), "default");
    /// let e = CircuitBreaker::from_config(BreakerConfig { half_open_max_calls: 0, ..Default::default() });
    /// assert_eq!(e.unwrap_err().field, "half_open_max_calls");
    /// ```
    pub fn from_config(config: BreakerConfig) -> Result<CircuitBreaker, ConfigError> {
        config.validate()?;
        Ok(CircuitBreaker::assemble(
            config,
            Clock::monotonic(),
            Vec::new(),
            Vec::new(),
        ))
    }

    pub(crate) fn assemble(
        config: BreakerConfig,
        clock: Clock,
        on_transition: Vec<TransitionListener>,
        on_call: Vec<CallListener>,
    ) -> CircuitBreaker {
        let on_transition = trace::listeners(on_transition, &config);
        CircuitBreaker {
            shared: Arc::new(Shared::new(config, clock, on_transition, on_call)),
        }
    }

    /// The breaker's name.
    ///
    /// ```
    /// let b = breakwater::CircuitBreaker::builder().name("db").build().unwrap();
    /// assert_eq!(b.name(), "db");
    /// ```
    pub fn name(&self) -> &str {
        &self.shared.config.name
    }

    /// The configuration the breaker was built with.
    ///
    /// ```
    /// let b = breakwater::CircuitBreaker::builder().half_open_max_calls(2).build().unwrap();
    /// assert_eq!(b.config().half_open_max_calls, 2);
    /// ```
    pub fn config(&self) -> &BreakerConfig {
        &self.shared.config
    }

    /// The clock the breaker reads.
    ///
    /// ```
    /// let b = breakwater::CircuitBreaker::builder().build().unwrap();
    /// assert!(!b.clock().is_manual());
    /// ```
    pub fn clock(&self) -> &Clock {
        &self.shared.clock
    }

    /// `true` when both handles share one breaker.
    ///
    /// ```
    /// let a = breakwater::CircuitBreaker::builder().build().unwrap();
    /// let b = a.clone();
    /// assert!(a.ptr_eq(&b));
    /// assert!(!a.ptr_eq(&breakwater::CircuitBreaker::builder().build().unwrap()));
    /// ```
    pub fn ptr_eq(&self, other: &CircuitBreaker) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    /// Asks to run one call. The [`Permit`] records its outcome (dropped without a
    /// verdict: ignored, or a failure while panicking).
    ///
    /// # Errors
    ///
    /// [`BreakerRejected`] when the breaker is open (with `retry_after`), forced open, or
    /// half-open with a full trial. Rejections are counted in the totals.
    ///
    /// ```
    /// let b = breakwater::CircuitBreaker::builder().build().unwrap();
    /// let permit = b.try_acquire().unwrap();
    /// permit.success();
    /// ```
    #[inline]
    pub fn try_acquire(&self) -> Result<Permit, BreakerRejected> {
        self.shared
            .try_acquire()
            .map(|raw| Permit::new(self.clone(), raw))
    }

    /// Asks to run one call, for callers that cannot hold a [`Permit`] (the C ABI): the
    /// [`RawPermit`] must be reported once with [`CircuitBreaker::record_raw`].
    ///
    /// # Errors
    ///
    /// As [`CircuitBreaker::try_acquire`].
    ///
    /// ```
    /// use breakwater::{CircuitBreaker, Outcome};
    /// let b = CircuitBreaker::builder().build().unwrap();
    /// let raw = b.try_acquire_raw().unwrap();
    /// b.record_raw(raw, Outcome::Failure, Some(std::time::Duration::from_millis(12)));
    /// assert_eq!(b.metrics().current.failures, 1);
    /// ```
    #[inline]
    pub fn try_acquire_raw(&self) -> Result<RawPermit, BreakerRejected> {
        self.shared.try_acquire()
    }

    /// Reports the outcome of a raw permit. `duration` is the call's duration; `None`
    /// measures it from acquisition (when the breaker measures durations at all).
    ///
    /// Returns [`Recorded::Stale`] (and counts it in `stale_dropped`) when the permit
    /// belongs to an older generation.
    ///
    /// ```
    /// use breakwater::{CircuitBreaker, Outcome, Recorded};
    /// let b = CircuitBreaker::builder().build().unwrap();
    /// let raw = b.try_acquire_raw().unwrap();
    /// b.reset(); // a new generation
    /// assert_eq!(b.record_raw(raw, Outcome::Success, None), Recorded::Stale);
    /// assert_eq!(b.metrics().totals.stale_dropped, 1);
    /// ```
    #[inline]
    pub fn record_raw(
        &self,
        permit: RawPermit,
        outcome: Outcome,
        duration: Option<Duration>,
    ) -> Recorded {
        self.shared.record(permit, outcome, duration)
    }

    /// Runs `f` if the breaker admits it; `Ok` is a success, `Err` a failure.
    ///
    /// # Errors
    ///
    /// [`Error::Rejected`] (policy `CircuitBreaker`) when the breaker refused the call,
    /// [`Error::Failed`] (one attempt) with `f`'s error.
    ///
    /// # Panics
    ///
    /// When `f` panics: the call is recorded as a failure and the panic goes on (a call
    /// listener that panics while recording it aborts the process, as any panic during
    /// unwinding does).
    ///
    /// ```
    /// let b = breakwater::CircuitBreaker::builder().build().unwrap();
    /// let e = b.call(|| Err::<(), _>("boom")).unwrap_err();
    /// assert_eq!(e.into_inner(), Some("boom"));
    /// ```
    #[inline]
    pub fn call<T, E>(&self, f: impl FnOnce() -> Result<T, E>) -> Result<T, Error<E>> {
        self.call_with(Outcome::of, f)
    }

    /// Runs `f` if the breaker admits it, and records what `classify` makes of its
    /// result. The result is returned as it is, whatever the verdict.
    ///
    /// # Errors
    ///
    /// As [`CircuitBreaker::call`].
    ///
    /// # Panics
    ///
    /// When `f` or `classify` panics: the call is recorded as a failure and the panic
    /// goes on.
    ///
    /// ```
    /// use breakwater::{CircuitBreaker, Outcome};
    /// let b = CircuitBreaker::builder().build().unwrap();
    /// // A "not found" error is the caller's business, not the dependency's failure.
    /// let r = b.call_with(
    ///     |r: &Result<(), std::io::ErrorKind>| match r {
    ///         Err(std::io::ErrorKind::NotFound) => Outcome::Ignored,
    ///         r => Outcome::of(r),
    ///     },
    ///     || Err(std::io::ErrorKind::NotFound),
    /// );
    /// assert!(r.is_err());
    /// assert_eq!(b.metrics().current.ignored, 1);
    /// ```
    #[inline]
    pub fn call_with<T, E>(
        &self,
        classify: impl Fn(&Result<T, E>) -> Outcome,
        f: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, Error<E>> {
        let admission = self.shared.admit()?;
        // Records a failure if `f` or `classify` unwinds; disarmed on the way out.
        let guard = UnwindGuard {
            shared: &self.shared,
            admission,
        };
        let result = f();
        let outcome = classify(&result);
        std::mem::forget(guard);
        self.shared.finish(admission, outcome);
        result.map_err(Error::failed)
    }

    /// The state, after applying a due transition.
    ///
    /// ```
    /// let b = breakwater::CircuitBreaker::builder().build().unwrap();
    /// b.disable();
    /// assert_eq!(b.state(), breakwater::State::Disabled);
    /// ```
    #[inline]
    pub fn state(&self) -> State {
        self.shared.state()
    }

    /// A consistent snapshot of the counts, after applying a due transition.
    ///
    /// ```
    /// let b = breakwater::CircuitBreaker::builder().build().unwrap();
    /// let m = b.metrics();
    /// assert_eq!((m.generation, m.current.requests), (1, 0));
    /// ```
    pub fn metrics(&self) -> BreakerMetrics {
        self.shared.metrics()
    }

    /// Closes the breaker: a new generation, counts and windows cleared, the open
    /// duration back to its base. Leaves the manual modes.
    ///
    /// ```
    /// let b = breakwater::CircuitBreaker::builder().build().unwrap();
    /// b.force_open();
    /// b.reset();
    /// assert_eq!(b.state(), breakwater::State::Closed);
    /// ```
    pub fn reset(&self) {
        self.shared.manual(State::Closed, TransitionReason::Reset);
    }

    /// Forces the breaker open: every call is rejected ([`RejectReason::ForcedOpen`](crate::RejectReason::ForcedOpen))
    /// until [`CircuitBreaker::reset`] (or [`CircuitBreaker::disable`]). A no-op when
    /// already forced open.
    ///
    /// ```
    /// let b = breakwater::CircuitBreaker::builder().build().unwrap();
    /// b.force_open();
    /// assert_eq!(b.try_acquire().unwrap_err().reason, breakwater::RejectReason::ForcedOpen);
    /// ```
    pub fn force_open(&self) {
        self.shared
            .manual(State::ForcedOpen, TransitionReason::ForcedOpen);
    }

    /// Disables the breaker: every call runs and is recorded, nothing trips, until
    /// [`CircuitBreaker::reset`] (or [`CircuitBreaker::force_open`]). A no-op when
    /// already disabled.
    ///
    /// ```
    /// let b = breakwater::CircuitBreaker::builder().consecutive_failures(1).build().unwrap();
    /// b.disable();
    /// let _ = b.call(|| Err::<(), _>("x"));
    /// assert_eq!(b.state(), breakwater::State::Disabled);
    /// ```
    pub fn disable(&self) {
        self.shared
            .manual(State::Disabled, TransitionReason::Disabled);
    }

    /// Opens the breaker now, as a trip would: calls are rejected for the open duration
    /// (grown as after a trip when it comes from half-open), then a half-open trial
    /// follows. Listeners see the reason [`TransitionReason::ManualOpen`]. A no-op when
    /// already open (the open period in course is kept); from the manual modes it leaves
    /// them.
    ///
    /// ```
    /// use std::time::Duration;
    /// let clock = breakwater::ManualClock::new();
    /// let b = breakwater::CircuitBreaker::builder()
    ///     .open_duration(Duration::from_secs(30))
    ///     .clock(clock.clone().into())
    ///     .build()
    ///     .unwrap();
    /// b.transition_to_open();
    /// assert_eq!(b.state(), breakwater::State::Open);
    /// clock.advance(Duration::from_secs(30));
    /// assert_eq!(b.state(), breakwater::State::HalfOpen);
    /// ```
    pub fn transition_to_open(&self) {
        self.shared
            .manual(State::Open, TransitionReason::ManualOpen);
    }

    /// Starts a half-open trial now (`half_open_max_calls` admissions, decided as after an
    /// open period). Listeners see the reason [`TransitionReason::ManualHalfOpen`]. A
    /// no-op when already half-open.
    ///
    /// ```
    /// let b = breakwater::CircuitBreaker::builder().build().unwrap();
    /// b.transition_to_half_open();
    /// assert_eq!(b.state(), breakwater::State::HalfOpen);
    /// b.call(|| Ok::<_, ()>(())).unwrap();
    /// assert_eq!(b.state(), breakwater::State::Closed);
    /// ```
    pub fn transition_to_half_open(&self) {
        self.shared
            .manual(State::HalfOpen, TransitionReason::ManualHalfOpen);
    }

    /// While open: how long until the breaker may admit a trial (failsafe-go's
    /// `RemainingDelay`); zero once that time has come. `None` in every other state,
    /// forced-open included (it never ends by itself). Side-effect free: it applies no
    /// transition and counts nothing.
    ///
    /// ```
    /// use std::time::Duration;
    /// let clock = breakwater::ManualClock::new();
    /// let b = breakwater::CircuitBreaker::builder()
    ///     .consecutive_failures(1)
    ///     .open_duration(Duration::from_secs(60))
    ///     .clock(clock.clone().into())
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(b.remaining_open(), None);
    /// let _ = b.call(|| Err::<(), _>("down"));
    /// clock.advance(Duration::from_secs(20));
    /// assert_eq!(b.remaining_open(), Some(Duration::from_secs(40)));
    /// ```
    pub fn remaining_open(&self) -> Option<Duration> {
        self.shared.remaining_open()
    }
}

/// Records a failure for a call whose code is unwinding (the panic goes on).
struct UnwindGuard<'a> {
    shared: &'a Shared,
    admission: self::core::Admission,
}

impl Drop for UnwindGuard<'_> {
    fn drop(&mut self) {
        self.shared.finish(self.admission, Outcome::Failure);
    }
}

impl Registry {
    /// The breaker registered as `name`, or a new one built from the registry's default
    /// [`BreakerConfig`] (see [`Registry::set_default`]) with `name` as its name.
    ///
    /// # Errors
    ///
    /// The default configuration's [`ConfigError`], if it is invalid.
    ///
    /// ```
    /// let registry = breakwater::Registry::new();
    /// let a = registry.breaker("authors").unwrap();
    /// let b = registry.breaker("authors").unwrap();
    /// assert!(a.ptr_eq(&b));
    /// assert_eq!(a.name(), "authors");
    /// ```
    pub fn breaker(&self, name: &str) -> Result<CircuitBreaker, ConfigError> {
        self.get_or_build_exported(
            PolicyKind::CircuitBreaker,
            name,
            None::<BreakerConfig>,
            |default| {
                let mut config = default.clone();
                name.clone_into(&mut config.name);
                CircuitBreaker::from_config(config)
            },
        )
    }

    /// The breaker registered as `name` if its configuration equals `config` (whose
    /// `name` field is replaced by `name`), or a new one built from `config`.
    ///
    /// # Errors
    ///
    /// `config`'s own [`ConfigError`], or a `ConfigError` on the field `name` when a
    /// breaker of that name exists with a different configuration.
    ///
    /// ```
    /// use breakwater::{BreakerConfig, Registry, TripPolicy};
    /// let registry = Registry::new();
    /// let config = BreakerConfig { policy: TripPolicy::ConsecutiveFailures { threshold: 3 }, ..Default::default() };
    /// let a = registry.breaker_with("db", config.clone()).unwrap();
    /// assert!(registry.breaker_with("db", config).unwrap().ptr_eq(&a));
    /// assert_eq!(registry.breaker_with("db", BreakerConfig::default()).unwrap_err().field, "name");
    /// ```
    pub fn breaker_with(
        &self,
        name: &str,
        mut config: BreakerConfig,
    ) -> Result<CircuitBreaker, ConfigError> {
        name.clone_into(&mut config.name);
        config.validate()?;
        // The registered instance's own configuration is the reference (it carries the
        // name even when it was built from the registry's default).
        let breaker = self.get_or_build_exported(
            PolicyKind::CircuitBreaker,
            name,
            None::<BreakerConfig>,
            |_| CircuitBreaker::from_config(config.clone()),
        )?;
        if breaker.config() != &config {
            return Err(ConfigError::new(
                PolicyKind::CircuitBreaker,
                "name",
                format!("{name:?} is already registered with a different configuration"),
            ));
        }
        Ok(breaker)
    }
}
