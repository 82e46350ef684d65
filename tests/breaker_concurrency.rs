//! Real threads: exact counts under contention, the half-open boundary, listener order
//! and re-entrancy.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Barrier, Mutex};
use std::thread;
use std::time::Duration;

use breakwater::{
    BreakerBuilder, CircuitBreaker, ManualClock, Outcome, Recorded, RejectReason, State,
    Transition, TransitionReason, Window,
};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

const OPEN: Duration = Duration::from_secs(10);

/// What one thread saw.
#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    admitted: u64,
    successes: u64,
    failures: u64,
    ignored: u64,
    stale: u64,
    rejected_open: u64,
    rejected_trial_full: u64,
    rejected_forced_open: u64,
}

impl Tally {
    fn add(&mut self, o: &Tally) {
        self.admitted += o.admitted;
        self.successes += o.successes;
        self.failures += o.failures;
        self.ignored += o.ignored;
        self.stale += o.stale;
        self.rejected_open += o.rejected_open;
        self.rejected_trial_full += o.rejected_trial_full;
        self.rejected_forced_open += o.rejected_forced_open;
    }
}

type Log = Arc<Mutex<Vec<Transition>>>;

fn logged(builder: BreakerBuilder) -> (CircuitBreaker, Log) {
    let log: Log = Arc::new(Mutex::new(Vec::new()));
    let l = log.clone();
    let b = builder
        .on_transition(move |t| l.lock().unwrap().push(*t))
        .build()
        .unwrap();
    (b, log)
}

/// `threads` threads each make `calls` random calls (seeded), recovering the breaker by
/// hand or by moving the clock when rejected; returns the sum of what they saw.
fn hammer(b: &CircuitBreaker, clock: &ManualClock, threads: u64, calls: u64) -> Tally {
    let handles: Vec<_> = (0..threads)
        .map(|seed| {
            let b = b.clone();
            let clock = clock.clone();
            thread::spawn(move || {
                let mut rng = SmallRng::seed_from_u64(0xB4EA_C0DE + seed);
                let mut t = Tally::default();
                // A permit held over to the next iteration (more calls in flight).
                let mut held: Option<(breakwater::RawPermit, Outcome)> = None;
                let settle =
                    |t: &mut Tally, recorded: Recorded, outcome: Outcome| match (recorded, outcome)
                    {
                        (Recorded::Stale, _) => t.stale += 1,
                        (_, Outcome::Success) => t.successes += 1,
                        (_, Outcome::Failure) => t.failures += 1,
                        (_, Outcome::Ignored) => t.ignored += 1,
                    };
                for _ in 0..calls {
                    let roll: u32 = rng.random_range(0..1000);
                    let outcome = match roll % 10 {
                        0..=5 => Outcome::Success,
                        6..=8 => Outcome::Failure,
                        _ => Outcome::Ignored,
                    };
                    let acquired = if roll % 2 == 0 {
                        b.try_acquire_raw().map(|raw| {
                            let previous = held.take();
                            if roll % 8 == 0 {
                                held = Some((raw, outcome));
                            } else {
                                settle(&mut t, b.record_raw(raw, outcome, None), outcome);
                            }
                            previous
                        })
                    } else {
                        b.try_acquire().map(|p| {
                            settle(&mut t, p.record(outcome), outcome);
                            held.take()
                        })
                    };
                    match acquired {
                        Ok(previous) => {
                            t.admitted += 1;
                            if let Some((raw, outcome)) = previous {
                                settle(&mut t, b.record_raw(raw, outcome, None), outcome);
                            }
                        }
                        Err(r) => {
                            match r.reason {
                                RejectReason::Open => t.rejected_open += 1,
                                RejectReason::TrialFull => t.rejected_trial_full += 1,
                                RejectReason::ForcedOpen => t.rejected_forced_open += 1,
                                other => panic!("unexpected rejection {other:?}"),
                            }
                            match roll {
                                0..=4 => b.reset(),
                                5..=60 => clock.advance(OPEN / 4),
                                _ => {}
                            }
                        }
                    }
                    if roll == 999 {
                        b.force_open();
                    }
                }
                if let Some((raw, outcome)) = held {
                    settle(&mut t, b.record_raw(raw, outcome, None), outcome);
                }
                t
            })
        })
        .collect();
    let mut total = Tally::default();
    for h in handles {
        total.add(&h.join().unwrap());
    }
    total
}

fn check_exact(b: &CircuitBreaker, log: &Log, seen: &Tally, calls: u64) {
    let m = b.metrics();
    let t = m.totals;
    assert_eq!(t.requests, seen.admitted);
    assert_eq!(t.successes, seen.successes);
    assert_eq!(t.failures, seen.failures);
    assert_eq!(t.ignored, seen.ignored);
    assert_eq!(t.stale_dropped, seen.stale);
    assert_eq!(t.rejected_open, seen.rejected_open);
    assert_eq!(t.rejected_trial_full, seen.rejected_trial_full);
    assert_eq!(t.rejected_forced_open, seen.rejected_forced_open);
    assert_eq!(t.requests + t.rejected(), calls);
    assert_eq!(
        t.requests,
        t.successes + t.failures + t.ignored + t.stale_dropped
    );
    let c = m.current;
    assert_eq!(c.requests, c.successes + c.failures + c.ignored);
    let log = log.lock().unwrap();
    assert_eq!(t.transitions, log.len() as u64);
    assert_eq!(
        t.opened,
        log.iter().filter(|e| e.to == State::Open).count() as u64
    );
    for (i, pair) in log.windows(2).enumerate() {
        assert_eq!(pair[1].generation, pair[0].generation + 1, "event {i}");
        assert_eq!(pair[1].from, pair[0].to, "event {i}");
    }
    assert_eq!(m.generation, 1 + log.len() as u64);
    // The random mix really went through every state.
    assert!(seen.successes > 0 && seen.failures > 0 && seen.ignored > 0);
    assert!(seen.rejected_open > 0 && seen.rejected_forced_open > 0);
}

#[test]
fn eight_threads_random_outcomes_count_policy_counts_are_exact() {
    let clock = ManualClock::new();
    let (b, log) = logged(
        CircuitBreaker::builder()
            .clock((&clock).into())
            .open_duration(OPEN)
            .consecutive_failures(4)
            .half_open_max_calls(3)
            .success_threshold(2),
    );
    let seen = hammer(&b, &clock, 8, 100_000);
    check_exact(&b, &log, &seen, 800_000);
}

#[test]
fn eight_threads_random_outcomes_time_rate_policy_counts_are_exact() {
    let clock = ManualClock::new();
    let (b, log) = logged(
        CircuitBreaker::builder()
            .clock((&clock).into())
            .open_duration(OPEN)
            .failure_rate(0.45, Window::Time(Duration::from_secs(30)), 20)
            .slow_call_rate(0.9, Duration::from_secs(5))
            .half_open_max_calls(4),
    );
    let seen = hammer(&b, &clock, 8, 100_000);
    check_exact(&b, &log, &seen, 800_000);
}

#[test]
fn eight_threads_random_outcomes_lock_free_time_window_counts_are_exact() {
    let clock = ManualClock::new();
    let (b, log) = logged(
        CircuitBreaker::builder()
            .clock((&clock).into())
            .open_duration(OPEN)
            .failure_rate(0.45, Window::Time(Duration::from_secs(30)), 10)
            .half_open_max_calls(2),
    );
    let seen = hammer(&b, &clock, 8, 100_000);
    check_exact(&b, &log, &seen, 800_000);
}

#[test]
fn sixteen_threads_at_the_half_open_boundary_never_exceed_the_trial() {
    const THREADS: usize = 16;
    const TRIAL: usize = 3;
    const ROUNDS: usize = 40;
    let clock = ManualClock::new();
    let (b, log) = logged(
        CircuitBreaker::builder()
            .clock((&clock).into())
            .open_duration(OPEN)
            .consecutive_failures(1)
            .half_open_max_calls(TRIAL as u32),
    );
    let start = Arc::new(Barrier::new(THREADS + 1));
    let (tx, rx) = mpsc::channel();
    let workers: Vec<_> = (0..THREADS)
        .map(|_| {
            let b = b.clone();
            let start = start.clone();
            let tx = tx.clone();
            thread::spawn(move || {
                for _ in 0..ROUNDS {
                    start.wait();
                    tx.send(b.try_acquire_raw()).unwrap();
                }
            })
        })
        .collect();
    b.try_acquire().unwrap().failure();
    for round in 0..ROUNDS {
        assert_eq!(b.state(), State::Open);
        let before = log.lock().unwrap().len();
        clock.advance(OPEN); // exactly due: every thread races to apply it
        start.wait();
        let results: Vec<_> = (0..THREADS).map(|_| rx.recv().unwrap()).collect();
        let admitted: Vec<_> = results.iter().filter_map(|r| r.ok()).collect();
        let full = results
            .iter()
            .filter(|r| matches!(r, Err(e) if e.reason == RejectReason::TrialFull))
            .count();
        assert_eq!(admitted.len(), TRIAL, "round {round}");
        assert_eq!(full, THREADS - TRIAL, "round {round}");
        let generation = admitted[0].generation;
        assert!(admitted.iter().all(|p| p.generation == generation));
        {
            let log = log.lock().unwrap();
            assert_eq!(
                log.len(),
                before + 1,
                "exactly one transition, round {round}"
            );
            assert_eq!(log[before].reason, TransitionReason::OpenDurationElapsed);
            assert_eq!(log[before].generation, generation);
        }
        // The first failure re-opens; the other reports are stale.
        let mut recorded: Vec<_> = admitted
            .iter()
            .map(|p| b.record_raw(*p, Outcome::Failure, None))
            .collect();
        recorded.sort_by_key(|r| *r == Recorded::Stale);
        assert_eq!(
            recorded,
            [Recorded::Recorded, Recorded::Stale, Recorded::Stale]
        );
    }
    for w in workers {
        w.join().unwrap();
    }
    let m = b.metrics();
    assert_eq!(
        m.totals.rejected_trial_full,
        (ROUNDS * (THREADS - TRIAL)) as u64
    );
    assert_eq!(m.totals.stale_dropped, (ROUNDS * (TRIAL - 1)) as u64);
    assert_eq!(m.totals.transitions, 1 + 2 * ROUNDS as u64);
}

/// Runs `f` on a thread and fails (instead of hanging) if it does not finish.
fn no_deadlock(f: impl FnOnce() + Send + 'static) {
    let (tx, rx) = mpsc::channel();
    let h = thread::spawn(move || {
        f();
        tx.send(()).unwrap();
    });
    rx.recv_timeout(Duration::from_secs(120))
        .expect("deadlock: the listener test did not finish");
    h.join().unwrap();
}

#[test]
fn listeners_that_call_back_into_the_breaker_do_not_deadlock() {
    no_deadlock(|| {
        let clock = ManualClock::new();
        let slot: Arc<Mutex<Option<CircuitBreaker>>> = Arc::new(Mutex::new(None));
        let log: Log = Arc::new(Mutex::new(Vec::new()));
        let calls_seen = Arc::new(AtomicU64::new(0));
        let (s, l) = (slot.clone(), log.clone());
        let (s2, c2) = (slot.clone(), calls_seen.clone());
        let b = CircuitBreaker::builder()
            .clock((&clock).into())
            .consecutive_failures(3)
            .on_transition(move |t| {
                l.lock().unwrap().push(*t);
                let b = s.lock().unwrap().clone().unwrap();
                let _ = b.state();
                let _ = b.metrics();
                if let Ok(p) = b.try_acquire() {
                    p.ignore();
                }
                if t.to == State::Open {
                    b.reset();
                }
            })
            .on_call(move |_| {
                let b = s2.lock().unwrap().clone().unwrap();
                let _ = b.state();
                let _ = b.metrics().totals.requests;
                c2.fetch_add(1, Ordering::Relaxed);
            })
            .build()
            .unwrap();
        *slot.lock().unwrap() = Some(b.clone());
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let b = b.clone();
                thread::spawn(move || {
                    // Three failures in a row from each thread: trips whatever the
                    // interleaving (a success from another thread can only delay it).
                    for i in 0..2_000 {
                        let _ = b.call(|| if i % 4 == 0 { Ok(()) } else { Err(()) });
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        // One more trip, from a single thread: at least one open/reset pair.
        for _ in 0..3 {
            let _ = b.call(|| Err::<(), _>(()));
        }
        let log = log.lock().unwrap();
        assert!(log.len() >= 2);
        for (i, e) in log.iter().enumerate() {
            // Every open is followed by the listener's reset, in order.
            let expected = if i % 2 == 0 {
                (
                    State::Closed,
                    State::Open,
                    TransitionReason::ThresholdReached,
                )
            } else {
                (State::Open, State::Closed, TransitionReason::Reset)
            };
            assert_eq!((e.from, e.to, e.reason), expected, "event {i}");
            assert_eq!(e.generation, 2 + i as u64);
        }
        let m = b.metrics();
        assert_eq!(m.totals.transitions, log.len() as u64);
        assert!(calls_seen.load(Ordering::Relaxed) >= 8_000);
        *slot.lock().unwrap() = None; // break the cycle breaker -> listener -> breaker
    });
}

#[test]
fn transitions_from_two_threads_are_delivered_in_order() {
    no_deadlock(|| {
        let clock = ManualClock::new();
        let (b, log) = logged(CircuitBreaker::builder().clock((&clock).into()));
        let threads: Vec<_> = (0..2)
            .map(|k| {
                let b = b.clone();
                thread::spawn(move || {
                    for _ in 0..3_000 {
                        if k == 0 {
                            b.force_open();
                        } else {
                            b.disable();
                        }
                        b.reset();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let log = log.lock().unwrap();
        let m = b.metrics();
        assert_eq!(m.totals.transitions, log.len() as u64);
        assert_eq!(m.generation, 1 + log.len() as u64);
        for (i, pair) in log.windows(2).enumerate() {
            assert_eq!(pair[1].generation, pair[0].generation + 1, "event {i}");
            assert_eq!(pair[1].from, pair[0].to, "event {i}");
            assert!(pair[1].at >= pair[0].at, "event {i}");
        }
        // Every reset happened (6000), plus at least as many manual modes entered as
        // were not no-ops.
        assert_eq!(
            log.iter()
                .filter(|e| e.reason == TransitionReason::Reset)
                .count(),
            6_000
        );
    });
}
