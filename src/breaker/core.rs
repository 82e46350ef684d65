//! The engine behind a [`CircuitBreaker`](super::CircuitBreaker): lock-free fast paths,
//! the state machine under the lock, and the ordered hand-off of transitions to the
//! listeners.
//!
//! Fast paths (no lock; see `state.rs` for the words they use):
//! - admission while closed or disabled: one compare-and-swap on this thread's stripe
//!   (`call` admits on a read of the state word and counts its request with its outcome);
//! - success while closed or disabled under a count policy, or under a time-window
//!   failure rate while the current bucket is open (`Hot::fast_until`): one
//!   compare-and-swap;
//! - rejection while open, forced open, or half-open with a full trial: loads, a coarse
//!   clock read (never ahead of the precise one, so never early), one counter increment.
//!
//! Everything else takes the lock for a short critical section: no allocation (the
//! transition queue has room reserved; only a backlog beyond it grows it), no listener
//! call, no system call (the clock is read before the lock; a precise read inside it
//! happens only when a success trips a rate policy after a coarse read).

use std::collections::VecDeque;
use std::time::Duration;

use crate::clock::{Clock, duration_nanos};
use crate::error::RejectReason;
use crate::sync::{AtomicU64, Mutex, Ordering};

use super::config::{BreakerConfig, TripPolicy, Window, grown_nanos};
use super::events::{
    CallEvent, CallKind, CallListener, Transition, TransitionListener, TransitionReason,
};
use super::locked::{Counts, Inner, LockedTotals, Trial};
use super::metrics::{BreakerMetrics, BreakerTotals, CurrentCounts};
use super::permit::{BreakerRejected, Outcome, RawPermit, Recorded};
use super::state::{
    ACTIVE, FULL, Hot, KEY_MASK, REJ_FORCED_OPEN, REJ_OPEN, REJ_TRIAL_FULL, REQ_MASK, REQ_ONE,
    SUCC_MASK, SUCC_ONE, State, Stripe, drain_stripe, pack, stripe_count, stripe_index, stripe_key,
    stripe_requests, stripe_successes, word_generation, word_state,
};
use super::window::RateWindow;

/// How a `call` was admitted.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Admission {
    /// Closed or disabled: admitted on a read of the state word; the request is counted
    /// with the outcome.
    Deferred(RawPermit),
    /// Counted at admission (half-open, or the slow path).
    Counted(RawPermit),
}

/// The first generation (so that a zeroed raw permit is always stale).
pub(crate) const FIRST_GENERATION: u64 = 1;
/// The first lock-free epoch.
const FIRST_EPOCH: u64 = 1;

/// The trip rule, compiled.
#[derive(Debug, Clone, Copy)]
enum Rule {
    Consecutive {
        threshold: u64,
    },
    InWindow {
        threshold: u32,
        window: u64,
    },
    Rate {
        failure: Option<f64>,
        slow: Option<f64>,
        minimum_calls: u64,
    },
}

/// The configuration as the engine uses it.
#[derive(Debug)]
struct Params {
    rule: Rule,
    slow_nanos: Option<u64>,
    open_nanos: u64,
    multiplier: f64,
    cap_nanos: u64,
    max_calls: u32,
    success_threshold: u32,
    max_wait: u64,
    /// The closed state's interval (0: none).
    interval_nanos: u64,
    /// Durations are measured (a slow-call policy or a call listener).
    needs_time: bool,
    /// Successes are counted lock-free while closed (count policies).
    lockfree_success: bool,
    /// The rate window is time-based.
    time_window: bool,
    /// Fast successes are counted lock-free while `Hot::fast_until` has not passed (a
    /// time-window failure rate without a slow-call rate).
    lockfree_time: bool,
    minimum_calls: u64,
}

impl Params {
    fn new(config: &BreakerConfig, has_call_listener: bool) -> Params {
        let rule = match &config.policy {
            TripPolicy::ConsecutiveFailures { threshold } => Rule::Consecutive {
                threshold: u64::from(*threshold),
            },
            TripPolicy::FailuresInWindow { threshold, window } => Rule::InWindow {
                threshold: *threshold,
                window: duration_nanos(*window),
            },
            TripPolicy::FailureRate {
                threshold,
                minimum_calls,
                slow,
                ..
            } => Rule::Rate {
                failure: Some(*threshold),
                slow: slow.map(|s| s.threshold),
                minimum_calls: u64::from(*minimum_calls),
            },
            TripPolicy::SlowCallRate {
                slow,
                minimum_calls,
                ..
            } => Rule::Rate {
                failure: None,
                slow: Some(slow.threshold),
                minimum_calls: u64::from(*minimum_calls),
            },
        };
        let slow_nanos = config
            .policy
            .slow_calls()
            .map(|s| duration_nanos(s.slow_duration));
        Params {
            rule,
            slow_nanos,
            open_nanos: duration_nanos(config.open_duration),
            multiplier: config.open_duration_multiplier,
            cap_nanos: config.open_duration_cap.map_or(u64::MAX, duration_nanos),
            max_calls: config.half_open_max_calls,
            success_threshold: config.effective_success_threshold(),
            max_wait: duration_nanos(config.effective_half_open_max_wait()),
            interval_nanos: config.interval.map_or(0, duration_nanos),
            needs_time: slow_nanos.is_some() || has_call_listener,
            lockfree_success: !config.policy.is_rate(),
            time_window: matches!(config.policy.window(), Some(Window::Time(_))),
            lockfree_time: matches!(
                config.policy,
                TripPolicy::FailureRate {
                    window: Window::Time(_),
                    slow: None,
                    ..
                }
            ),
            minimum_calls: match rule {
                Rule::Rate { minimum_calls, .. } => minimum_calls,
                _ => 0,
            },
        }
    }
}

/// A clock reading taken at most once per operation: coarse when that is enough,
/// precise when a transition is stamped.
struct Now<'a> {
    clock: &'a Clock,
    nanos: u64,
    have: bool,
    precise: bool,
}

impl<'a> Now<'a> {
    fn new(clock: &'a Clock) -> Now<'a> {
        Now {
            clock,
            nanos: 0,
            have: false,
            precise: false,
        }
    }

    /// A reading never ahead of the precise clock.
    #[inline]
    fn coarse(&mut self) -> u64 {
        if !self.have {
            self.nanos = self.clock.nanos_coarse();
            self.have = true;
        }
        self.nanos
    }

    /// A precise reading.
    #[inline]
    fn precise(&mut self) -> u64 {
        if !self.precise {
            self.nanos = self.nanos.max(self.clock.nanos());
            self.have = true;
            self.precise = true;
        }
        self.nanos
    }
}

fn ratio(part: u64, whole: u64) -> f64 {
    part as f64 / whole as f64
}

/// The shared state of a breaker and its clones.
pub(crate) struct Shared {
    hot: Hot,
    stripes: Box<[Stripe]>,
    stripe_mask: usize,
    inner: Mutex<Inner>,
    /// Held by the thread handing transitions to the listeners.
    delivery: Mutex<()>,
    params: Params,
    pub(crate) config: BreakerConfig,
    pub(crate) clock: Clock,
    on_transition: Box<[TransitionListener]>,
    on_call: Box<[CallListener]>,
}

impl Shared {
    pub(crate) fn new(
        config: BreakerConfig,
        clock: Clock,
        on_transition: Vec<TransitionListener>,
        on_call: Vec<CallListener>,
    ) -> Shared {
        let params = Params::new(&config, !on_call.is_empty());
        let n = stripe_count();
        let key = stripe_key(FIRST_EPOCH);
        let stripes: Box<[Stripe]> = (0..n).map(|_| Stripe::new(key)).collect();
        let window = config.policy.window().map(RateWindow::new);
        let events = VecDeque::with_capacity(if on_transition.is_empty() { 0 } else { 16 });
        let interval_end = if params.interval_nanos == 0 {
            0
        } else {
            clock.nanos().saturating_add(params.interval_nanos)
        };
        Shared {
            hot: Hot {
                word: AtomicU64::new(pack(State::Closed, FIRST_GENERATION, false)),
                open_until: AtomicU64::new(0),
                half_open_until: AtomicU64::new(0),
                key: AtomicU64::new(key),
                fast_until: AtomicU64::new(0),
                interval_end: AtomicU64::new(interval_end),
            },
            stripes,
            stripe_mask: n - 1,
            inner: Mutex::new(Inner {
                state: State::Closed,
                generation: FIRST_GENERATION,
                epoch: FIRST_EPOCH,
                last_nanos: 0,
                cur: Counts::default(),
                totals: LockedTotals::default(),
                window_start: 0,
                window_failures: 0,
                window,
                trial: Trial::default(),
                open_k: 0,
                open_until: 0,
                half_open_until: 0,
                interval_end,
                events,
            }),
            delivery: Mutex::new(()),
            params,
            config,
            clock,
            on_transition: on_transition.into_boxed_slice(),
            on_call: on_call.into_boxed_slice(),
        }
    }

    #[inline]
    fn stripe(&self) -> &Stripe {
        &self.stripes[stripe_index() & self.stripe_mask]
    }

    #[inline]
    fn stamp(&self) -> u64 {
        if self.params.needs_time {
            self.clock.nanos()
        } else {
            0
        }
    }

    /// The stripe key to count an admission under, for a state word `w` read just
    /// before: `None` when nothing counts lock-free now, or the word changed meanwhile.
    #[inline]
    fn admission_key(&self, w: u64) -> Option<u64> {
        let key = self.hot.key.load(Ordering::Acquire);
        (key != 0 && self.hot.word.load(Ordering::Acquire) == w).then_some(key)
    }

    /// The stripe key to count a success of `generation` under, if it may be counted
    /// lock-free now: the generation is current in a lock-free state, and (time-window
    /// rate policies) the coarse clock is before `fast_until`.
    #[inline]
    fn success_key(&self, generation: u64) -> Option<u64> {
        if !(self.params.lockfree_success || self.params.lockfree_time) {
            return None;
        }
        let w = self.hot.word.load(Ordering::Acquire);
        if !word_state(w).counts_lock_free() || word_generation(w) != generation {
            return None;
        }
        let key = self.hot.key.load(Ordering::Acquire);
        if key == 0 {
            return None;
        }
        if self.params.lockfree_time {
            // Stored before the key it goes with; a deadline newer than the key only
            // comes with stripes already re-keyed, where the key fails.
            let until = self.hot.fast_until.load(Ordering::Acquire);
            if self.clock.nanos_coarse() >= until {
                return None;
            }
        }
        (self.hot.word.load(Ordering::Acquire) == w).then_some(key)
    }

    /// With an `interval`: whether the closed state's interval has ended (a coarse
    /// reading: at most a tick late, never early). Always false without one.
    #[inline]
    fn interval_due(&self) -> bool {
        self.params.interval_nanos != 0
            && self.clock.nanos_coarse() >= self.hot.interval_end.load(Ordering::Acquire)
    }

    // ---- admission

    #[inline(always)]
    pub(crate) fn try_acquire(&self) -> Result<RawPermit, BreakerRejected> {
        let w = self.hot.word.load(Ordering::Acquire);
        let state = word_state(w);
        if state.counts_lock_free() && !self.interval_due() {
            if let Some(key) = self.admission_key(w) {
                let stripe = self.stripe();
                let mut v = stripe.fast.load(Ordering::Relaxed);
                while v & KEY_MASK == key && v & REQ_MASK != REQ_MASK {
                    match stripe.fast.compare_exchange_weak(
                        v,
                        v + REQ_ONE,
                        Ordering::AcqRel,
                        Ordering::Relaxed,
                    ) {
                        Ok(_) => {
                            return Ok(RawPermit {
                                generation: word_generation(w),
                                acquired_nanos: self.stamp(),
                            });
                        }
                        Err(actual) => v = actual,
                    }
                }
            }
        } else if let Some(rejected) = self.reject_fast(w, state) {
            return Err(rejected);
        }
        self.acquire_slow()
    }

    /// Admission for `call`/`call_with`: in the closed and disabled states a read of the
    /// state word admits, and the request is counted together with the outcome when the
    /// call returns (one atomic operation per call); otherwise as [`Shared::try_acquire`].
    #[inline(always)]
    pub(crate) fn admit(&self) -> Result<Admission, BreakerRejected> {
        let w = self.hot.word.load(Ordering::Acquire);
        let state = word_state(w);
        if state.counts_lock_free() && !self.interval_due() {
            return Ok(Admission::Deferred(RawPermit {
                generation: word_generation(w),
                acquired_nanos: self.stamp(),
            }));
        }
        self.admit_counted(w, state)
    }

    /// [`Shared::admit`] outside the closed and disabled states (kept out of line so that
    /// the closed-state path of `call` stays small).
    #[inline(never)]
    fn admit_counted(&self, w: u64, state: State) -> Result<Admission, BreakerRejected> {
        if let Some(rejected) = self.reject_fast(w, state) {
            return Err(rejected);
        }
        self.acquire_slow().map(Admission::Counted)
    }

    /// Records the outcome of a call admitted by [`Shared::admit`].
    #[inline(always)]
    pub(crate) fn finish(&self, admission: Admission, outcome: Outcome) -> Recorded {
        let permit = match admission {
            Admission::Counted(permit) => return self.record_counted(permit, outcome),
            Admission::Deferred(permit) => permit,
        };
        let dur = self
            .params
            .needs_time
            .then(|| self.clock.nanos().saturating_sub(permit.acquired_nanos));
        if outcome == Outcome::Success {
            if let Some(key) = self.success_key(permit.generation) {
                let stripe = self.stripe();
                let mut v = stripe.fast.load(Ordering::Relaxed);
                while v & KEY_MASK == key && v & REQ_MASK != REQ_MASK && v & SUCC_MASK != SUCC_MASK
                {
                    match stripe.fast.compare_exchange_weak(
                        v,
                        v + REQ_ONE + SUCC_ONE,
                        Ordering::AcqRel,
                        Ordering::Relaxed,
                    ) {
                        Ok(_) => {
                            if !self.on_call.is_empty() {
                                self.emit(
                                    CallKind::Success,
                                    dur.map(Duration::from_nanos),
                                    permit.generation,
                                    false,
                                );
                            }
                            return Recorded::Recorded;
                        }
                        Err(actual) => v = actual,
                    }
                }
            }
        }
        self.record_slow(permit, outcome, dur, true)
    }

    /// [`Shared::record`] for a call admitted outside the closed state (out of line).
    #[inline(never)]
    fn record_counted(&self, permit: RawPermit, outcome: Outcome) -> Recorded {
        self.record(permit, outcome, None)
    }

    /// The lock-free rejections: forced open; open or half-open-and-full while the
    /// deadline (checked on the coarse clock) has not come.
    #[inline(always)]
    fn reject_fast(&self, w: u64, state: State) -> Option<BreakerRejected> {
        let (reason, deadline) = match state {
            State::Open => (RejectReason::Open, &self.hot.open_until),
            State::HalfOpen if w & FULL != 0 => {
                (RejectReason::TrialFull, &self.hot.half_open_until)
            }
            State::ForcedOpen => {
                return Some(self.reject(RejectReason::ForcedOpen, None, word_generation(w)));
            }
            _ => return None,
        };
        let until = deadline.load(Ordering::Acquire);
        if self.hot.word.load(Ordering::Acquire) != w {
            return None;
        }
        let now = self.clock.nanos_coarse();
        if now >= until {
            return None;
        }
        let retry_after = (reason == RejectReason::Open).then(|| Duration::from_nanos(until - now));
        Some(self.reject(reason, retry_after, word_generation(w)))
    }

    #[inline]
    fn reject(
        &self,
        reason: RejectReason,
        retry_after: Option<Duration>,
        generation: u64,
    ) -> BreakerRejected {
        let index = match reason {
            RejectReason::Open => REJ_OPEN,
            RejectReason::TrialFull => REJ_TRIAL_FULL,
            _ => REJ_FORCED_OPEN,
        };
        self.stripe().rejected[index].fetch_add(1, Ordering::Relaxed);
        super::trace::rejected(&self.config.name, reason);
        if !self.on_call.is_empty() {
            self.emit(CallKind::Rejected(reason), None, generation, false);
        }
        BreakerRejected {
            reason,
            retry_after,
        }
    }

    #[inline(never)]
    fn acquire_slow(&self) -> Result<RawPermit, BreakerRejected> {
        let mut now = Now::new(&self.clock);
        now.precise();
        let mut inner = self.inner.lock();
        let fired = self.apply_due(&mut inner, &mut now);
        let generation = inner.generation;
        let verdict = match inner.state {
            State::Closed | State::Disabled => {
                self.fold(&mut inner, self.stripe());
                inner.cur.requests += 1;
                inner.totals.requests += 1;
                Ok(())
            }
            State::HalfOpen => {
                if inner.trial.admitted < self.params.max_calls {
                    inner.trial.admitted += 1;
                    inner.cur.requests += 1;
                    inner.totals.requests += 1;
                    if inner.trial.admitted >= self.params.max_calls {
                        self.hot
                            .word
                            .store(pack(State::HalfOpen, generation, true), Ordering::Release);
                    }
                    Ok(())
                } else {
                    Err((RejectReason::TrialFull, None))
                }
            }
            State::Open => Err((
                RejectReason::Open,
                Some(Duration::from_nanos(
                    inner.open_until.saturating_sub(now.nanos),
                )),
            )),
            State::ForcedOpen => Err((RejectReason::ForcedOpen, None)),
        };
        drop(inner);
        if fired {
            self.deliver();
        }
        match verdict {
            Ok(()) => Ok(RawPermit {
                generation,
                acquired_nanos: if self.params.needs_time { now.nanos } else { 0 },
            }),
            Err((reason, retry_after)) => Err(self.reject(reason, retry_after, generation)),
        }
    }

    // ---- outcomes

    #[inline(always)]
    pub(crate) fn record(
        &self,
        permit: RawPermit,
        outcome: Outcome,
        duration: Option<Duration>,
    ) -> Recorded {
        let dur = match duration {
            Some(d) => Some(duration_nanos(d)),
            None if self.params.needs_time => {
                Some(self.clock.nanos().saturating_sub(permit.acquired_nanos))
            }
            None => None,
        };
        if outcome == Outcome::Success {
            if let Some(key) = self.success_key(permit.generation) {
                let stripe = self.stripe();
                let mut v = stripe.fast.load(Ordering::Relaxed);
                while v & KEY_MASK == key && v & SUCC_MASK != SUCC_MASK {
                    match stripe.fast.compare_exchange_weak(
                        v,
                        v + SUCC_ONE,
                        Ordering::AcqRel,
                        Ordering::Relaxed,
                    ) {
                        Ok(_) => {
                            if !self.on_call.is_empty() {
                                self.emit(
                                    CallKind::Success,
                                    dur.map(Duration::from_nanos),
                                    permit.generation,
                                    false,
                                );
                            }
                            return Recorded::Recorded;
                        }
                        Err(actual) => v = actual,
                    }
                }
            }
        }
        self.record_slow(permit, outcome, dur, false)
    }

    /// Records under the lock. `uncounted`: the request was admitted by `admit` and is
    /// counted now, in the generation it was admitted in if that is still current.
    #[inline(never)]
    fn record_slow(
        &self,
        permit: RawPermit,
        outcome: Outcome,
        dur: Option<u64>,
        uncounted: bool,
    ) -> Recorded {
        let slow = outcome != Outcome::Ignored
            && matches!((self.params.slow_nanos, dur), (Some(s), Some(d)) if d >= s);
        let mut now = Now::new(&self.clock);
        // Read the clock before taking the lock when this outcome will need it: the
        // precise clock when it may stamp a transition (a failure, a slow call, any
        // outcome in half-open), the coarse one for a success in a time window, none for
        // other closed-state outcomes. A success that trips a rate policy is the one
        // case that reads the precise clock under the lock.
        if word_state(self.hot.word.load(Ordering::Acquire)).counts_lock_free() {
            match outcome {
                Outcome::Failure => {
                    now.precise();
                }
                Outcome::Success if slow => {
                    now.precise();
                }
                Outcome::Success if self.params.time_window => {
                    now.coarse();
                }
                _ if self.params.interval_nanos != 0 => {
                    now.coarse();
                }
                _ => {}
            }
        } else {
            now.precise();
        }
        let mut inner = self.inner.lock();
        let mut fired = self.apply_due(&mut inner, &mut now);
        let current = permit.generation == inner.generation
            && matches!(
                inner.state,
                State::Closed | State::Disabled | State::HalfOpen
            );
        if uncounted {
            inner.totals.requests += 1;
            if current {
                inner.cur.requests += 1;
            }
        }
        let recorded = if current {
            fired |= if inner.state == State::HalfOpen {
                self.record_trial(&mut inner, outcome, slow, &mut now)
            } else {
                self.record_closed(&mut inner, outcome, slow, &mut now)
            };
            Recorded::Recorded
        } else {
            inner.totals.stale_dropped += 1;
            Recorded::Stale
        };
        drop(inner);
        if fired {
            self.deliver();
        }
        if !self.on_call.is_empty() {
            let kind = match (recorded, outcome) {
                (Recorded::Stale, _) => CallKind::Stale,
                (_, Outcome::Success) => CallKind::Success,
                (_, Outcome::Failure) => CallKind::Failure,
                (_, Outcome::Ignored) => CallKind::Ignored,
            };
            self.emit(
                kind,
                dur.map(Duration::from_nanos),
                permit.generation,
                slow && recorded == Recorded::Recorded,
            );
        }
        recorded
    }

    /// Counts a success or failure (and slowness) in the current generation.
    fn count(inner: &mut Inner, outcome: Outcome, slow: bool) {
        match outcome {
            Outcome::Success => {
                inner.cur.successes += 1;
                inner.totals.successes += 1;
                inner.cur.consecutive_successes += 1;
                inner.cur.consecutive_failures = 0;
            }
            Outcome::Failure => {
                inner.cur.failures += 1;
                inner.totals.failures += 1;
                inner.cur.consecutive_failures += 1;
                inner.cur.consecutive_successes = 0;
            }
            Outcome::Ignored => {
                inner.cur.ignored += 1;
                inner.totals.ignored += 1;
            }
        }
        if slow {
            inner.cur.slow += 1;
            inner.totals.slow += 1;
        }
    }

    /// Closed or disabled: count, feed the policy, trip (never when disabled).
    fn record_closed(
        &self,
        inner: &mut Inner,
        outcome: Outcome,
        slow: bool,
        now: &mut Now<'_>,
    ) -> bool {
        if outcome == Outcome::Ignored {
            Self::count(inner, outcome, false);
            return false;
        }
        let failure = outcome == Outcome::Failure;
        // Successes counted lock-free before this point come before this outcome; the
        // ones that find the stripes sealed take the lock and come after it. A
        // time-window rate policy seals for every outcome (its window needs them all).
        let sealed = self.params.lockfree_time || (failure && self.params.lockfree_success);
        if sealed {
            self.seal(inner);
        } else if self.params.lockfree_success {
            // A success here found its stripe full (or sealed): empty it so that the
            // next ones are lock-free again.
            self.fold(inner, self.stripe());
        }
        Self::count(inner, outcome, slow);
        let disabled = inner.state == State::Disabled;
        let trip = match self.params.rule {
            Rule::Consecutive { threshold } => {
                failure && inner.cur.consecutive_failures >= threshold
            }
            Rule::InWindow { threshold, window } => {
                if failure && !disabled {
                    let t = now.precise();
                    if inner.window_failures == 0 || t.saturating_sub(inner.window_start) >= window
                    {
                        inner.window_start = t;
                        inner.window_failures = 1;
                    } else {
                        inner.window_failures += 1;
                    }
                    inner.window_failures >= threshold
                } else {
                    false
                }
            }
            Rule::Rate {
                failure: failure_threshold,
                slow: slow_threshold,
                minimum_calls,
            } => {
                let t = if self.params.time_window {
                    now.coarse()
                } else {
                    0
                };
                match inner.window.as_mut() {
                    Some(w) => {
                        let before = w.current();
                        w.push(t, failure, slow);
                        let sums = w.current();
                        // The previous sums were evaluated (below the thresholds); a
                        // fast success that only adds a call (or replaces a fast success
                        // in a full count window) cannot raise either rate, unless the
                        // window just reached minimum_calls or lost outcomes meanwhile.
                        let diluted = !failure
                            && !slow
                            && sums.failures == before.failures
                            && sums.slow == before.slow
                            && (sums.calls == before.calls
                                || (sums.calls == before.calls + 1 && sums.calls != minimum_calls));
                        let evicted = w.take_evicted();
                        (!diluted || evicted)
                            && sums.calls >= minimum_calls
                            && (failure_threshold
                                .is_some_and(|th| ratio(sums.failures, sums.calls) >= th)
                                || slow_threshold
                                    .is_some_and(|th| ratio(sums.slow, sums.calls) >= th))
                    }
                    None => false,
                }
            }
        };
        if trip && !disabled {
            // Re-keys (unseals) the stripes for the new generation.
            self.transition(inner, State::Open, TransitionReason::ThresholdReached, now);
            return true;
        }
        if sealed {
            self.rekey(inner);
        }
        false
    }

    /// Half-open: count the trial, decide when the policy says so.
    fn record_trial(
        &self,
        inner: &mut Inner,
        outcome: Outcome,
        slow: bool,
        now: &mut Now<'_>,
    ) -> bool {
        Self::count(inner, outcome, slow);
        match outcome {
            Outcome::Ignored => {
                // The admission is given back.
                let was_full = inner.trial.admitted >= self.params.max_calls;
                inner.trial.admitted = inner.trial.admitted.saturating_sub(1);
                if was_full {
                    self.hot.word.store(
                        pack(State::HalfOpen, inner.generation, false),
                        Ordering::Release,
                    );
                }
                return false;
            }
            Outcome::Success => inner.trial.successes += 1,
            Outcome::Failure => inner.trial.failures += 1,
        }
        inner.trial.slow += u32::from(slow);
        let close = match self.params.rule {
            Rule::Consecutive { .. } | Rule::InWindow { .. } => {
                if outcome == Outcome::Failure {
                    Some(false)
                } else if inner.trial.successes >= self.params.success_threshold {
                    Some(true)
                } else {
                    None
                }
            }
            Rule::Rate {
                failure: failure_threshold,
                slow: slow_threshold,
                ..
            } => {
                let reported = inner.trial.successes + inner.trial.failures;
                if reported >= self.params.max_calls {
                    let calls = u64::from(reported);
                    let bad = failure_threshold
                        .is_some_and(|th| ratio(u64::from(inner.trial.failures), calls) >= th)
                        || slow_threshold
                            .is_some_and(|th| ratio(u64::from(inner.trial.slow), calls) >= th);
                    Some(!bad)
                } else {
                    None
                }
            }
        };
        match close {
            Some(true) => {
                self.transition(inner, State::Closed, TransitionReason::TrialSucceeded, now);
                true
            }
            Some(false) => {
                self.transition(inner, State::Open, TransitionReason::TrialFailed, now);
                true
            }
            None => false,
        }
    }

    // ---- transitions

    /// Applies the due lazy transition, if any (at most one: the new state's deadline
    /// lies in the future).
    #[inline]
    fn apply_due(&self, inner: &mut Inner, now: &mut Now<'_>) -> bool {
        match inner.state {
            State::Open if now.coarse() >= inner.open_until => {
                self.transition(
                    inner,
                    State::HalfOpen,
                    TransitionReason::OpenDurationElapsed,
                    now,
                );
                true
            }
            State::HalfOpen if now.coarse() >= inner.half_open_until => {
                self.transition(inner, State::Open, TransitionReason::HalfOpenTimeout, now);
                true
            }
            State::Closed
                if self.params.interval_nanos != 0 && now.coarse() >= inner.interval_end =>
            {
                self.next_interval(inner, now);
                false
            }
            _ => false,
        }
    }

    /// The closed state's interval ended: clears the counts and starts a new generation
    /// in the closed state, without a transition (nothing for the listeners: the state
    /// did not change). What the stripes counted goes to the totals, as at a transition.
    /// Under the lock.
    fn next_interval(&self, inner: &mut Inner, now: &mut Now<'_>) {
        let t = now.coarse();
        for stripe in self.stripes.iter() {
            let v = stripe.fast.swap(0, Ordering::AcqRel);
            if v & ACTIVE != 0 {
                inner.totals.requests += stripe_requests(v);
                inner.totals.successes += stripe_successes(v);
            }
        }
        inner.generation += 1;
        inner.cur = Counts::default();
        inner.window_start = 0;
        inner.window_failures = 0;
        if let Some(w) = inner.window.as_mut() {
            w.clear();
        }
        // The next boundary after `t` on the interval grid, so that a breaker left alone
        // for several intervals clears once, not once per missed interval.
        let missed = (t - inner.interval_end) / self.params.interval_nanos;
        inner.interval_end = inner
            .interval_end
            .saturating_add((missed + 1).saturating_mul(self.params.interval_nanos));
        self.hot
            .interval_end
            .store(inner.interval_end, Ordering::Release);
        self.hot.word.store(
            pack(State::Closed, inner.generation, false),
            Ordering::Release,
        );
        self.rekey(inner);
    }

    /// Starts a new generation in state `to`. Under the lock.
    fn transition(
        &self,
        inner: &mut Inner,
        to: State,
        reason: TransitionReason,
        now: &mut Now<'_>,
    ) {
        let at = now.precise().max(inner.last_nanos);
        inner.last_nanos = at;
        let from = inner.state;
        let generation = inner.generation + 1;
        // Fold what the stripes counted for the old generation (into the totals: the
        // old generation's counts and window are gone); `rekey` below re-opens them.
        for stripe in self.stripes.iter() {
            let v = stripe.fast.swap(0, Ordering::AcqRel);
            if v & ACTIVE != 0 {
                inner.totals.requests += stripe_requests(v);
                inner.totals.successes += stripe_successes(v);
            }
        }
        inner.state = to;
        inner.generation = generation;
        inner.cur = Counts::default();
        inner.trial = Trial::default();
        inner.window_start = 0;
        inner.window_failures = 0;
        let window = (reason == TransitionReason::ThresholdReached)
            .then(|| inner.window.as_ref().map(RateWindow::figures))
            .flatten();
        if let Some(w) = inner.window.as_mut() {
            w.clear();
        }
        inner.totals.transitions += 1;
        match to {
            State::Open => {
                inner.open_k = if from == State::HalfOpen {
                    inner.open_k.saturating_add(1)
                } else {
                    0
                };
                let d = grown_nanos(
                    self.params.open_nanos,
                    self.params.multiplier,
                    self.params.cap_nanos,
                    inner.open_k,
                );
                inner.open_until = at.saturating_add(d);
                self.hot
                    .open_until
                    .store(inner.open_until, Ordering::Release);
                inner.totals.opened += 1;
            }
            State::HalfOpen => {
                inner.half_open_until = at.saturating_add(self.params.max_wait);
                self.hot
                    .half_open_until
                    .store(inner.half_open_until, Ordering::Release);
            }
            State::Closed => {
                inner.open_k = 0;
                inner.interval_end = at.saturating_add(self.params.interval_nanos);
                self.hot
                    .interval_end
                    .store(inner.interval_end, Ordering::Release);
            }
            State::ForcedOpen | State::Disabled => {}
        }
        self.hot
            .word
            .store(pack(to, generation, false), Ordering::Release);
        self.rekey(inner);
        if !self.on_transition.is_empty() {
            inner.events.push_back(Transition {
                from,
                to,
                reason,
                at: self.clock.instant_at(at),
                generation,
                window,
            });
        }
    }

    /// `reset()` (always a new generation), `force_open()`, `disable()`,
    /// `transition_to_open()`, `transition_to_half_open()` (no-ops when already in that
    /// state). The timed ones first apply a due lazy transition, so that opening a breaker
    /// whose open period has run out starts a new period.
    pub(crate) fn manual(&self, to: State, reason: TransitionReason) {
        let mut now = Now::new(&self.clock);
        now.precise();
        let mut inner = self.inner.lock();
        if matches!(to, State::Open | State::HalfOpen) {
            self.apply_due(&mut inner, &mut now);
        }
        if to != State::Closed && inner.state == to {
            drop(inner);
            self.deliver();
            return;
        }
        self.transition(&mut inner, to, reason, &mut now);
        drop(inner);
        self.deliver();
    }

    /// Hands queued transitions to the listeners, in order, outside the state lock.
    /// One thread delivers at a time; a thread that finds another delivering leaves its
    /// transitions to it. A listener that causes a transition (re-entering here) queues
    /// it for the loop it is called from.
    fn deliver(&self) {
        if self.on_transition.is_empty() {
            return;
        }
        loop {
            let Some(guard) = self.delivery.try_lock() else {
                return;
            };
            loop {
                let next = self.inner.lock().events.pop_front();
                let Some(t) = next else { break };
                for listener in self.on_transition.iter() {
                    listener(&t);
                }
            }
            drop(guard);
            // A transition queued after our last look, whose thread found us delivering,
            // is ours to deliver.
            if self.inner.lock().events.is_empty() {
                return;
            }
        }
    }

    // Out of line and cold: a call listener is rare on hot paths, and inlining its loop
    // costs every caller registers (measured with scripts/bench-ratios.sh).
    #[cold]
    #[inline(never)]
    fn emit(&self, kind: CallKind, duration: Option<Duration>, generation: u64, slow: bool) {
        let event = CallEvent {
            kind,
            duration,
            generation,
            slow,
        };
        for listener in self.on_call.iter() {
            listener(&event);
        }
    }

    // ---- folding the stripes

    /// Adds a stripe's pending counts to the current generation. Under the lock.
    fn fold(&self, inner: &mut Inner, stripe: &Stripe) {
        let v = drain_stripe(stripe);
        if v & ACTIVE != 0 {
            self.add_pending(inner, stripe_requests(v), stripe_successes(v));
        }
    }

    /// Adds counts taken from a stripe to the current generation (and the successes of
    /// a time-window rate policy to the window's current bucket).
    fn add_pending(&self, inner: &mut Inner, requests: u64, successes: u64) {
        inner.cur.requests += requests;
        inner.totals.requests += requests;
        if successes > 0 {
            inner.cur.successes += successes;
            inner.totals.successes += successes;
            inner.cur.consecutive_successes += successes;
            inner.cur.consecutive_failures = 0;
            if self.params.lockfree_time {
                if let Some(w) = inner.window.as_mut() {
                    w.add_successes(successes);
                }
            }
        }
    }

    /// Folds every stripe and leaves them inactive, so that no lock-free increment can
    /// happen until [`Shared::rekey`]: the fold and the rest of the locked step are one
    /// atomic step for the fast paths.
    fn seal(&self, inner: &mut Inner) {
        for stripe in self.stripes.iter() {
            let v = stripe.fast.swap(0, Ordering::AcqRel);
            if v & ACTIVE != 0 {
                self.add_pending(inner, stripe_requests(v), stripe_successes(v));
            }
        }
    }

    /// Re-opens sealed stripes under a new key (a new epoch: an increment prepared with
    /// an older key can no longer succeed), with the time-window deadline, or publishes
    /// that nothing counts lock-free. Under the lock, after [`Shared::seal`] or a
    /// transition's sealing swap: nothing else wrote the stripes in between.
    fn rekey(&self, inner: &mut Inner) {
        if !inner.state.counts_lock_free() {
            self.hot.key.store(0, Ordering::Release);
            return;
        }
        inner.epoch = inner.epoch.wrapping_add(1);
        let key = stripe_key(inner.epoch);
        for stripe in self.stripes.iter() {
            stripe.fast.store(key, Ordering::Release);
        }
        if self.params.lockfree_time {
            let until = inner
                .window
                .as_ref()
                .map_or(0, |w| w.lock_free_until(self.params.minimum_calls));
            self.hot.fast_until.store(until, Ordering::Release);
        }
        self.hot.key.store(key, Ordering::Release);
    }

    // ---- observation

    pub(crate) fn state(&self) -> State {
        let w = self.hot.word.load(Ordering::Acquire);
        let state = word_state(w);
        let deadline = match state {
            State::Open => &self.hot.open_until,
            State::HalfOpen => &self.hot.half_open_until,
            _ => return state,
        };
        let until = deadline.load(Ordering::Acquire);
        if self.hot.word.load(Ordering::Acquire) == w && self.clock.nanos_coarse() < until {
            return state;
        }
        self.state_slow()
    }

    #[inline(never)]
    fn state_slow(&self) -> State {
        let mut now = Now::new(&self.clock);
        now.precise();
        let mut inner = self.inner.lock();
        let fired = self.apply_due(&mut inner, &mut now);
        let state = inner.state;
        drop(inner);
        if fired {
            self.deliver();
        }
        state
    }

    /// While open: the time left before a trial may be admitted (zero once it has come,
    /// even before the lazy transition is applied); `None` in every other state. Reads,
    /// never transitions.
    pub(crate) fn remaining_open(&self) -> Option<Duration> {
        let w = self.hot.word.load(Ordering::Acquire);
        if word_state(w) != State::Open {
            return None;
        }
        let until = self.hot.open_until.load(Ordering::Acquire);
        if self.hot.word.load(Ordering::Acquire) != w {
            // A transition landed between the two reads: read again, under the lock.
            let inner = self.inner.lock();
            return (inner.state == State::Open).then(|| {
                Duration::from_nanos(inner.open_until.saturating_sub(self.clock.nanos()))
            });
        }
        Some(Duration::from_nanos(
            until.saturating_sub(self.clock.nanos()),
        ))
    }

    /// The state as last published, without applying a due transition.
    pub(crate) fn peek_state(&self) -> State {
        word_state(self.hot.word.load(Ordering::Acquire))
    }

    pub(crate) fn metrics(&self) -> BreakerMetrics {
        let mut now = Now::new(&self.clock);
        now.precise();
        let mut inner = self.inner.lock();
        let fired = self.apply_due(&mut inner, &mut now);
        self.seal(&mut inner);
        let state = inner.state;
        let generation = inner.generation;
        let cur = inner.cur;
        let totals = inner.totals;
        let (calls, failures, slow, minimum) = match (state, self.params.rule) {
            (State::Closed | State::Disabled, Rule::Rate { minimum_calls, .. }) => {
                let t = now.coarse();
                match inner.window.as_mut() {
                    Some(w) => {
                        let s = w.sums(t);
                        (s.calls, s.failures, s.slow, minimum_calls)
                    }
                    None => (0, 0, 0, u64::MAX),
                }
            }
            (State::HalfOpen, Rule::Rate { .. }) => {
                let t = inner.trial;
                (
                    u64::from(t.successes + t.failures),
                    u64::from(t.failures),
                    u64::from(t.slow),
                    1,
                )
            }
            _ => (0, 0, 0, u64::MAX),
        };
        self.rekey(&mut inner);
        drop(inner);
        if fired {
            self.deliver();
        }
        let rated = calls > 0 && calls >= minimum;
        let failure_rate = rated.then(|| ratio(failures, calls));
        let slow_call_rate =
            (rated && self.params.slow_nanos.is_some()).then(|| ratio(slow, calls));
        let mut rejected = [0u64; 3];
        for stripe in self.stripes.iter() {
            for (sum, counter) in rejected.iter_mut().zip(stripe.rejected.iter()) {
                *sum += counter.load(Ordering::Relaxed);
            }
        }
        BreakerMetrics {
            state,
            generation,
            current: CurrentCounts {
                requests: cur.requests,
                successes: cur.successes,
                failures: cur.failures,
                ignored: cur.ignored,
                slow: cur.slow,
                consecutive_successes: cur.consecutive_successes,
                consecutive_failures: cur.consecutive_failures,
                window_calls: calls,
                window_failures: failures,
                failure_rate,
                slow_call_rate,
            },
            totals: BreakerTotals {
                requests: totals.requests,
                successes: totals.successes,
                failures: totals.failures,
                ignored: totals.ignored,
                slow: totals.slow,
                rejected_open: rejected[REJ_OPEN],
                rejected_trial_full: rejected[REJ_TRIAL_FULL],
                rejected_forced_open: rejected[REJ_FORCED_OPEN],
                stale_dropped: totals.stale_dropped,
                transitions: totals.transitions,
                opened: totals.opened,
            },
        }
    }
}
