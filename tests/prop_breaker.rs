//! Model-based test of the circuit breaker (SPEC 3): random sequences of operations run
//! against the real breaker on a manual clock and against a small reference model written
//! here from the SPEC, for every trip policy. After every operation the two must agree on
//! what the operation answered, and on `metrics()` and the transitions delivered.
//!
//! Case count: `PROPTEST_CASES` (default 1000 here; `scripts/prop-long.sh` runs 1,000,000).

mod prop_support;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use breakwater::{
    CircuitBreaker, Clock, Error, ManualClock, Outcome, Permit, RawPermit, Recorded, RejectReason,
    SlowCalls, State, TransitionReason, TripPolicy, Window,
};
use proptest::prelude::*;

// ---------------------------------------------------------------- configuration

#[derive(Debug, Clone, Copy)]
enum Rule {
    Consecutive(u32),
    InWindow(u32, u64),
    /// failure threshold (None: slow-call rate only), window, minimum calls.
    Rate(Option<f64>, Win, u32),
}

#[derive(Debug, Clone, Copy)]
enum Win {
    Count(u32),
    Time(u64),
}

#[derive(Debug, Clone)]
struct Cfg {
    rule: Rule,
    /// (threshold, slow duration in ns)
    slow: Option<(f64, u64)>,
    open: u64,
    multiplier: u32,
    cap: Option<u64>,
    max_calls: u32,
    success_threshold: Option<u32>,
    max_wait: Option<u64>,
}

const MS: u64 = 1_000_000;

fn rate() -> impl Strategy<Value = f64> {
    prop_oneof![Just(0.2), Just(0.25), Just(0.5), Just(0.6), Just(1.0)]
}

fn win() -> impl Strategy<Value = Win> {
    prop_oneof![
        (1u32..=6).prop_map(Win::Count),
        prop_oneof![Just(10 * MS), Just(35 * MS), Just(7)].prop_map(Win::Time),
    ]
}

fn min_calls(w: Win) -> BoxedStrategy<u32> {
    match w {
        Win::Count(n) => (1..=n).boxed(),
        Win::Time(_) => (1u32..=4).boxed(),
    }
}

fn rule_and_slow() -> impl Strategy<Value = (Rule, Option<(f64, u64)>)> {
    let slow = || (rate(), prop_oneof![Just(2 * MS), Just(5 * MS)]);
    prop_oneof![
        (1u32..=4).prop_map(|n| (Rule::Consecutive(n), None)),
        (1u32..=4, prop_oneof![Just(5 * MS), Just(20 * MS)])
            .prop_map(|(n, w)| (Rule::InWindow(n, w), None)),
        (rate(), win()).prop_flat_map(
            |(t, w)| min_calls(w).prop_map(move |m| (Rule::Rate(Some(t), w, m), None))
        ),
        (rate(), win(), slow()).prop_flat_map(|(t, w, s)| {
            min_calls(w).prop_map(move |m| (Rule::Rate(Some(t), w, m), Some(s)))
        }),
        (win(), slow()).prop_flat_map(|(w, s)| {
            min_calls(w).prop_map(move |m| (Rule::Rate(None, w, m), Some(s)))
        }),
    ]
}

fn cfg() -> impl Strategy<Value = Cfg> {
    (
        rule_and_slow(),
        prop_oneof![Just(5 * MS), Just(20 * MS)],
        prop_oneof![Just(1u32), Just(2), Just(3)],
        any::<bool>(),
        1u32..=3,
        any::<Option<bool>>(),
        prop_oneof![Just(None), Just(Some(3 * MS)), Just(Some(50 * MS))],
    )
        .prop_flat_map(
            |((rule, slow), open, multiplier, capped, max_calls, st, max_wait)| {
                let st = match (rule, st) {
                    (Rule::Rate(..), _) | (_, None) => Just(None).boxed(),
                    (_, Some(_)) => (1..=max_calls).prop_map(Some).boxed(),
                };
                st.prop_map(move |success_threshold| Cfg {
                    rule,
                    slow,
                    open,
                    multiplier,
                    cap: capped.then_some(open * 5),
                    max_calls,
                    success_threshold,
                    max_wait,
                })
            },
        )
}

fn build(cfg: &Cfg, clock: &ManualClock, log: Arc<Mutex<Vec<Tr>>>) -> CircuitBreaker {
    let slow = cfg.slow.map(|(threshold, d)| SlowCalls {
        threshold,
        slow_duration: Duration::from_nanos(d),
    });
    let window = |w: Win| match w {
        Win::Count(n) => Window::Count(n),
        Win::Time(ns) => Window::Time(Duration::from_nanos(ns)),
    };
    let policy = match cfg.rule {
        Rule::Consecutive(n) => TripPolicy::ConsecutiveFailures { threshold: n },
        Rule::InWindow(n, w) => TripPolicy::FailuresInWindow {
            threshold: n,
            window: Duration::from_nanos(w),
        },
        Rule::Rate(Some(t), w, m) => TripPolicy::FailureRate {
            threshold: t,
            window: window(w),
            minimum_calls: m,
            slow,
        },
        Rule::Rate(None, w, m) => TripPolicy::SlowCallRate {
            slow: slow.expect("a slow-call policy has its slow calls"),
            window: window(w),
            minimum_calls: m,
        },
    };
    let mut b = CircuitBreaker::builder()
        .policy(policy)
        .open_duration(Duration::from_nanos(cfg.open))
        .half_open_max_calls(cfg.max_calls)
        .clock(Clock::from(clock.clone()))
        .on_transition(move |t| {
            log.lock()
                .unwrap()
                .push((t.from, t.to, t.reason, t.generation));
        });
    if cfg.multiplier > 1 || cfg.cap.is_some() {
        b = b.open_duration_growth(
            f64::from(cfg.multiplier),
            Duration::from_nanos(cfg.cap.unwrap_or(u64::MAX / 4)),
        );
    }
    if let Some(s) = cfg.success_threshold {
        b = b.success_threshold(s);
    }
    if let Some(w) = cfg.max_wait {
        b = b.half_open_max_wait(Duration::from_nanos(w));
    }
    b.build().expect("the generated configuration is valid")
}

// ---------------------------------------------------------------- the reference model

type Tr = (State, State, TransitionReason, u64);

#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Cur {
    requests: u64,
    successes: u64,
    failures: u64,
    ignored: u64,
    slow: u64,
    cons_s: u64,
    cons_f: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Tot {
    requests: u64,
    successes: u64,
    failures: u64,
    ignored: u64,
    slow: u64,
    rej_open: u64,
    rej_trial: u64,
    rej_forced: u64,
    stale: u64,
    transitions: u64,
    opened: u64,
}

#[derive(Debug, Clone, Copy, Default)]
struct Trial {
    admitted: u32,
    successes: u32,
    failures: u32,
    slow: u32,
}

/// SPEC 3 in a few lines, straight from the text, on integer nanoseconds.
#[derive(Debug)]
struct Model {
    cfg: Cfg,
    now: u64,
    state: State,
    generation: u64,
    open_until: u64,
    half_open_until: u64,
    reopen: u32,
    cur: Cur,
    tot: Tot,
    win_start: u64,
    win_failures: u32,
    /// Rate windows: (stamp, failure, slow) of every outcome still possibly in the window.
    window: VecDeque<(u64, bool, bool)>,
    trial: Trial,
    transitions: Vec<Tr>,
}

impl Model {
    fn new(cfg: Cfg) -> Model {
        Model {
            cfg,
            now: 0,
            state: State::Closed,
            generation: 1,
            open_until: 0,
            half_open_until: 0,
            reopen: 0,
            cur: Cur::default(),
            tot: Tot::default(),
            win_start: 0,
            win_failures: 0,
            window: VecDeque::new(),
            trial: Trial::default(),
            transitions: Vec::new(),
        }
    }

    fn needs_time(&self) -> bool {
        self.cfg.slow.is_some()
    }

    fn max_wait(&self) -> u64 {
        self.cfg.max_wait.unwrap_or(self.cfg.open)
    }

    fn success_threshold(&self) -> u32 {
        self.cfg.success_threshold.unwrap_or(self.cfg.max_calls)
    }

    /// The k-th consecutive re-open lasts min(cap, open * multiplier^k).
    fn open_for(&self, k: u32) -> u64 {
        let cap = self.cfg.cap.map_or(u128::MAX, u128::from);
        let mut d = u128::from(self.cfg.open);
        for _ in 0..k {
            d = d.saturating_mul(u128::from(self.cfg.multiplier));
            if d >= cap {
                break;
            }
        }
        u64::try_from(d.min(cap)).unwrap_or(u64::MAX)
    }

    fn transition(&mut self, to: State, reason: TransitionReason) {
        let from = self.state;
        self.generation += 1;
        self.state = to;
        self.cur = Cur::default();
        self.trial = Trial::default();
        self.win_start = 0;
        self.win_failures = 0;
        self.window.clear();
        self.tot.transitions += 1;
        match to {
            State::Open => {
                self.reopen = if from == State::HalfOpen {
                    self.reopen + 1
                } else {
                    0
                };
                self.open_until = self.now.saturating_add(self.open_for(self.reopen));
                self.tot.opened += 1;
            }
            State::HalfOpen => self.half_open_until = self.now + self.max_wait(),
            State::Closed => self.reopen = 0,
            _ => {}
        }
        self.transitions.push((from, to, reason, self.generation));
    }

    /// Lazy transitions, applied by state(), metrics(), acquisitions and recordings.
    fn apply_due(&mut self) {
        match self.state {
            State::Open if self.now >= self.open_until => {
                self.transition(State::HalfOpen, TransitionReason::OpenDurationElapsed)
            }
            State::HalfOpen if self.now >= self.half_open_until => {
                self.transition(State::Open, TransitionReason::HalfOpenTimeout)
            }
            _ => {}
        }
    }

    fn reject(&mut self, reason: RejectReason) -> Result<u64, (RejectReason, Option<Duration>)> {
        let retry_after = match reason {
            RejectReason::Open => {
                self.tot.rej_open += 1;
                Some(Duration::from_nanos(self.open_until - self.now))
            }
            RejectReason::TrialFull => {
                self.tot.rej_trial += 1;
                None
            }
            _ => {
                self.tot.rej_forced += 1;
                None
            }
        };
        Err((reason, retry_after))
    }

    /// An admission counted at once: the generation admitted in, or the rejection.
    fn acquire(&mut self) -> Result<u64, (RejectReason, Option<Duration>)> {
        self.apply_due();
        match self.state {
            State::Closed | State::Disabled => {
                self.cur.requests += 1;
                self.tot.requests += 1;
                Ok(self.generation)
            }
            State::HalfOpen if self.trial.admitted < self.cfg.max_calls => {
                self.trial.admitted += 1;
                self.cur.requests += 1;
                self.tot.requests += 1;
                Ok(self.generation)
            }
            State::HalfOpen => self.reject(RejectReason::TrialFull),
            State::Open => self.reject(RejectReason::Open),
            State::ForcedOpen => self.reject(RejectReason::ForcedOpen),
        }
    }

    fn width(span: u64) -> u64 {
        (span / 10).max(1)
    }

    /// (calls, failures, slow) of the rate window now.
    fn sums(&mut self) -> (u64, u64, u64) {
        if let Rule::Rate(_, Win::Time(span), _) = self.cfg.rule {
            let w = Self::width(span);
            let now = self.now;
            // An outcome stamped t is in bucket t / w, which leaves once
            // (bucket + 1) * w + span <= now: at least `span`, at most one bucket late.
            self.window
                .retain(|&(t, _, _)| (t / w + 1) * w + span > now);
        }
        self.window
            .iter()
            .fold((0, 0, 0), |(c, f, s), &(_, fail, slow)| {
                (c + 1, f + u64::from(fail), s + u64::from(slow))
            })
    }

    fn count(&mut self, outcome: Outcome, slow: bool) {
        match outcome {
            Outcome::Success => {
                self.cur.successes += 1;
                self.tot.successes += 1;
                self.cur.cons_s += 1;
                self.cur.cons_f = 0;
            }
            Outcome::Failure => {
                self.cur.failures += 1;
                self.tot.failures += 1;
                self.cur.cons_f += 1;
                self.cur.cons_s = 0;
            }
            Outcome::Ignored => {
                self.cur.ignored += 1;
                self.tot.ignored += 1;
            }
        }
        if slow {
            self.cur.slow += 1;
            self.tot.slow += 1;
        }
    }

    /// Records an outcome for a permit of `generation`. `dur`: the call's duration when
    /// known (explicit, or measured when the breaker measures); `uncounted`: a `call`
    /// admitted on a read of the state, whose request is counted now.
    fn record(
        &mut self,
        generation: u64,
        outcome: Outcome,
        dur: Option<u64>,
        uncounted: bool,
    ) -> Recorded {
        let slow = outcome != Outcome::Ignored
            && matches!((self.cfg.slow, dur), (Some((_, s)), Some(d)) if d >= s);
        self.apply_due();
        let current = generation == self.generation
            && matches!(
                self.state,
                State::Closed | State::Disabled | State::HalfOpen
            );
        if uncounted {
            self.tot.requests += 1;
            if current {
                self.cur.requests += 1;
            }
        }
        if !current {
            self.tot.stale += 1;
            return Recorded::Stale;
        }
        if self.state == State::HalfOpen {
            self.record_trial(outcome, slow);
        } else {
            self.record_closed(outcome, slow);
        }
        Recorded::Recorded
    }

    fn record_closed(&mut self, outcome: Outcome, slow: bool) {
        if outcome == Outcome::Ignored {
            self.count(outcome, false);
            return;
        }
        let failure = outcome == Outcome::Failure;
        let disabled = self.state == State::Disabled;
        self.count(outcome, slow);
        let trip = match self.cfg.rule {
            Rule::Consecutive(n) => failure && self.cur.cons_f >= u64::from(n),
            Rule::InWindow(n, w) => {
                if failure && !disabled {
                    if self.win_failures == 0 || self.now - self.win_start >= w {
                        self.win_start = self.now;
                        self.win_failures = 1;
                    } else {
                        self.win_failures += 1;
                    }
                    self.win_failures >= n
                } else {
                    false
                }
            }
            Rule::Rate(threshold, win, minimum) => {
                self.window.push_back((self.now, failure, slow));
                if let Win::Count(n) = win {
                    while self.window.len() > n as usize {
                        self.window.pop_front();
                    }
                }
                let (calls, failures, slows) = self.sums();
                calls >= u64::from(minimum)
                    && (threshold.is_some_and(|t| failures as f64 / calls as f64 >= t)
                        || self
                            .cfg
                            .slow
                            .is_some_and(|(t, _)| slows as f64 / calls as f64 >= t))
            }
        };
        if trip && !disabled {
            self.transition(State::Open, TransitionReason::ThresholdReached);
        }
    }

    fn record_trial(&mut self, outcome: Outcome, slow: bool) {
        self.count(outcome, slow);
        match outcome {
            Outcome::Ignored => {
                self.trial.admitted = self.trial.admitted.saturating_sub(1);
                return;
            }
            Outcome::Success => self.trial.successes += 1,
            Outcome::Failure => self.trial.failures += 1,
        }
        self.trial.slow += u32::from(slow);
        let close = match self.cfg.rule {
            Rule::Consecutive(_) | Rule::InWindow(..) => {
                if outcome == Outcome::Failure {
                    Some(false)
                } else if self.trial.successes >= self.success_threshold() {
                    Some(true)
                } else {
                    None
                }
            }
            Rule::Rate(threshold, ..) => {
                let reported = self.trial.successes + self.trial.failures;
                if reported >= self.cfg.max_calls {
                    let calls = f64::from(reported);
                    let bad = threshold
                        .is_some_and(|t| f64::from(self.trial.failures) / calls >= t)
                        || self
                            .cfg
                            .slow
                            .is_some_and(|(t, _)| f64::from(self.trial.slow) / calls >= t);
                    Some(!bad)
                } else {
                    None
                }
            }
        };
        match close {
            Some(true) => self.transition(State::Closed, TransitionReason::TrialSucceeded),
            Some(false) => self.transition(State::Open, TransitionReason::TrialFailed),
            None => {}
        }
    }

    /// reset() always starts a new generation; force_open() and disable() do nothing in
    /// their own mode. Manual control does not apply a due transition first.
    fn manual(&mut self, to: State, reason: TransitionReason) {
        if to != State::Closed && self.state == to {
            return;
        }
        self.transition(to, reason);
    }
}

// ---------------------------------------------------------------- operations

#[derive(Debug, Clone)]
enum Op {
    Acquire,
    AcquireRaw,
    /// Report the i-th held permit: outcome, explicit duration (ns) or measured.
    Record(usize, Outcome, Option<u64>),
    /// Report a raw permit (raw permits stay: reporting one twice is allowed).
    RecordRaw(usize, Outcome, Option<u64>),
    /// Drop the i-th held permit without a verdict (ignored).
    DropPermit(usize),
    /// `call_with`: the closure runs for `dur` ns of the manual clock.
    Call(Outcome, u64),
    Advance(u64),
    Reset,
    ForceOpen,
    Disable,
    State,
    Metrics,
}

fn outcome() -> impl Strategy<Value = Outcome> {
    prop_oneof![
        4 => Just(Outcome::Success),
        4 => Just(Outcome::Failure),
        1 => Just(Outcome::Ignored),
    ]
}

fn duration() -> impl Strategy<Value = u64> {
    prop_oneof![
        3 => Just(0u64),
        1 => Just(1u64),
        3 => 0u64..8 * MS,
        1 => prop_oneof![Just(2 * MS), Just(5 * MS), Just(5 * MS - 1)],
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => Just(Op::Acquire),
        2 => Just(Op::AcquireRaw),
        6 => (any::<usize>(), outcome(), proptest::option::of(duration()))
            .prop_map(|(i, o, d)| Op::Record(i, o, d)),
        2 => (any::<usize>(), outcome(), proptest::option::of(duration()))
            .prop_map(|(i, o, d)| Op::RecordRaw(i, o, d)),
        1 => any::<usize>().prop_map(Op::DropPermit),
        8 => (outcome(), duration()).prop_map(|(o, d)| Op::Call(o, d)),
        5 => prop_oneof![
            Just(1u64),
            0u64..3 * MS,
            0u64..60 * MS,
            Just(5 * MS),
            Just(20 * MS)
        ]
        .prop_map(Op::Advance),
        1 => Just(Op::Reset),
        1 => Just(Op::ForceOpen),
        1 => Just(Op::Disable),
        2 => Just(Op::State),
        3 => Just(Op::Metrics),
    ]
}

struct Held {
    permit: Permit,
    generation: u64,
    acquired: u64,
}

fn check_metrics(b: &CircuitBreaker, m: &mut Model) -> Result<(), TestCaseError> {
    m.apply_due();
    let got = b.metrics();
    prop_assert_eq!(got.state, m.state, "state");
    prop_assert_eq!(got.generation, m.generation, "generation");
    let c = got.current;
    let want = m.cur;
    prop_assert_eq!(
        (c.requests, c.successes, c.failures, c.ignored, c.slow),
        (
            want.requests,
            want.successes,
            want.failures,
            want.ignored,
            want.slow
        ),
        "current counts (requests, successes, failures, ignored, slow)"
    );
    prop_assert_eq!(
        (c.consecutive_successes, c.consecutive_failures),
        (want.cons_s, want.cons_f),
        "consecutive counts"
    );
    let (calls, failures, slow, minimum) = match (m.state, m.cfg.rule) {
        (State::Closed | State::Disabled, Rule::Rate(_, _, min)) => {
            let (c, f, s) = m.sums();
            (c, f, s, u64::from(min))
        }
        (State::HalfOpen, Rule::Rate(..)) => (
            u64::from(m.trial.successes + m.trial.failures),
            u64::from(m.trial.failures),
            u64::from(m.trial.slow),
            1,
        ),
        _ => (0, 0, 0, u64::MAX),
    };
    prop_assert_eq!(
        (c.window_calls, c.window_failures),
        (calls, failures),
        "window"
    );
    let rated = calls > 0 && calls >= minimum;
    prop_assert_eq!(
        c.failure_rate,
        rated.then(|| failures as f64 / calls as f64),
        "failure rate"
    );
    prop_assert_eq!(
        c.slow_call_rate,
        (rated && m.cfg.slow.is_some()).then(|| slow as f64 / calls as f64),
        "slow-call rate"
    );
    let t = got.totals;
    let w = m.tot;
    prop_assert_eq!(
        (t.requests, t.successes, t.failures, t.ignored, t.slow),
        (w.requests, w.successes, w.failures, w.ignored, w.slow),
        "totals (requests, successes, failures, ignored, slow)"
    );
    prop_assert_eq!(
        (
            t.rejected_open,
            t.rejected_trial_full,
            t.rejected_forced_open
        ),
        (w.rej_open, w.rej_trial, w.rej_forced),
        "rejections by reason"
    );
    prop_assert_eq!(
        (t.stale_dropped, t.transitions, t.opened),
        (w.stale, w.transitions, w.opened),
        "stale, transitions, opened"
    );
    Ok(())
}

fn rejection<T>(
    r: Result<T, breakwater::BreakerRejected>,
) -> Result<T, (RejectReason, Option<Duration>)> {
    r.map_err(|e| (e.reason, e.retry_after))
}

fn run(cfg: Cfg, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let clock = ManualClock::new();
    let log = Arc::new(Mutex::new(Vec::new()));
    let b = build(&cfg, &clock, log.clone());
    let mut m = Model::new(cfg);
    let mut held: Vec<Held> = Vec::new();
    let mut raws: Vec<(RawPermit, u64)> = Vec::new();
    for op in ops {
        match op {
            Op::Acquire => {
                let got = rejection(b.try_acquire());
                let want = m.acquire();
                match (got, want) {
                    (Ok(permit), Ok(generation)) => {
                        prop_assert_eq!(permit.generation(), generation);
                        held.push(Held {
                            permit,
                            generation,
                            acquired: m.now,
                        });
                    }
                    (Err(g), Err(w)) => prop_assert_eq!(g, w, "rejection"),
                    (g, w) => prop_assert!(
                        false,
                        "try_acquire: breaker {:?}, model {:?}",
                        g.map(|p| p.generation()),
                        w
                    ),
                }
            }
            Op::AcquireRaw => {
                let got = rejection(b.try_acquire_raw());
                let want = m.acquire();
                match (got, want) {
                    (Ok(raw), Ok(generation)) => {
                        prop_assert_eq!(raw.generation, generation);
                        raws.push((raw, m.now));
                    }
                    (g, w) => prop_assert_eq!(g.map(|r| r.generation), w, "try_acquire_raw"),
                }
            }
            Op::Record(i, outcome, dur) => {
                if held.is_empty() {
                    continue;
                }
                let h = held.remove(i % held.len());
                let measured = dur.or(m.needs_time().then(|| m.now - h.acquired));
                let got = match dur {
                    Some(d) => h.permit.record_after(outcome, Duration::from_nanos(d)),
                    None => h.permit.record(outcome),
                };
                let want = m.record(h.generation, outcome, measured, false);
                prop_assert_eq!(got, want, "record");
            }
            Op::RecordRaw(i, outcome, dur) => {
                if raws.is_empty() {
                    continue;
                }
                let (raw, acquired) = raws[i % raws.len()];
                let measured = dur.or(m.needs_time().then(|| m.now - acquired));
                let got = b.record_raw(raw, outcome, dur.map(Duration::from_nanos));
                let want = m.record(raw.generation, outcome, measured, false);
                prop_assert_eq!(got, want, "record_raw");
            }
            Op::DropPermit(i) => {
                if held.is_empty() {
                    continue;
                }
                let h = held.remove(i % held.len());
                drop(h.permit);
                let measured = m.needs_time().then(|| m.now - h.acquired);
                m.record(h.generation, Outcome::Ignored, measured, false);
            }
            Op::Call(outcome, dur) => {
                let c = clock.clone();
                let got = b.call_with(
                    move |_: &Result<(), ()>| outcome,
                    move || {
                        c.advance(Duration::from_nanos(dur));
                        Ok::<(), ()>(())
                    },
                );
                // Closed and disabled admit on a read of the state and count the request
                // with the outcome; otherwise the admission is counted at once.
                let want = if matches!(m.state, State::Closed | State::Disabled) {
                    let generation = m.generation;
                    m.now += dur;
                    m.record(generation, outcome, m.needs_time().then_some(dur), true);
                    Ok(())
                } else {
                    match m.acquire() {
                        Ok(generation) => {
                            m.now += dur;
                            m.record(generation, outcome, m.needs_time().then_some(dur), false);
                            Ok(())
                        }
                        Err(e) => Err(e),
                    }
                };
                match (got, want) {
                    (Ok(()), Ok(())) => {}
                    (
                        Err(Error::Rejected {
                            reason,
                            retry_after,
                            ..
                        }),
                        Err(w),
                    ) => prop_assert_eq!((reason, retry_after), w, "call rejection"),
                    (g, w) => prop_assert!(false, "call: breaker {:?}, model {:?}", g, w),
                }
            }
            Op::Advance(d) => {
                clock.advance(Duration::from_nanos(d));
                m.now += d;
            }
            Op::Reset => {
                b.reset();
                m.manual(State::Closed, TransitionReason::Reset);
            }
            Op::ForceOpen => {
                b.force_open();
                m.manual(State::ForcedOpen, TransitionReason::ForcedOpen);
            }
            Op::Disable => {
                b.disable();
                m.manual(State::Disabled, TransitionReason::Disabled);
            }
            Op::State => {
                let got = b.state();
                m.apply_due();
                prop_assert_eq!(got, m.state, "state()");
            }
            Op::Metrics => check_metrics(&b, &mut m)?,
        }
        let delivered = log.lock().unwrap().clone();
        prop_assert_eq!(&delivered, &m.transitions, "transitions delivered");
    }
    // Permits dropped without a verdict are ignored outcomes.
    for h in held {
        drop(h.permit);
        let measured = m.needs_time().then(|| m.now - h.acquired);
        m.record(h.generation, Outcome::Ignored, measured, false);
    }
    check_metrics(&b, &mut m)
}

proptest! {
    #![proptest_config(prop_support::config(1000))]

    #[test]
    fn breaker_agrees_with_the_model(cfg in cfg(), ops in proptest::collection::vec(op(), 1..120)) {
        run(cfg, ops)?;
    }
}
