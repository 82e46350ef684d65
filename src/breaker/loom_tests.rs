//! loom models of the state machine on its untimed paths: the manual clock is already
//! where it needs to be before the threads start, and the threads race admissions,
//! outcomes and manual transitions.
//!
//! Run with `RUSTFLAGS="--cfg breakwater_loom" cargo test --release --lib --target-dir
//! target/loom -- loom_`.

use std::time::Duration;

use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::thread;

use crate::{
    CircuitBreaker, ManualClock, Outcome, Recorded, RejectReason, State, TransitionReason,
};

const OPEN: Duration = Duration::from_secs(10);

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(4);
    builder.check(f);
}

struct Counters {
    to_half_open: AtomicUsize,
    transitions: AtomicUsize,
    /// The generation of the last delivered transition (0 before any).
    last_generation: AtomicUsize,
}

/// A breaker opened by one failure, with its clock exactly at the end of the open
/// duration: the next look applies open -> half-open.
fn due_breaker(trial: u32) -> (CircuitBreaker, Arc<Counters>) {
    let clock = ManualClock::new();
    let counters = Arc::new(Counters {
        to_half_open: AtomicUsize::new(0),
        transitions: AtomicUsize::new(0),
        last_generation: AtomicUsize::new(0),
    });
    let c = counters.clone();
    let b = CircuitBreaker::builder()
        .clock((&clock).into())
        .consecutive_failures(1)
        .open_duration(OPEN)
        .half_open_max_calls(trial)
        .on_transition(move |t| {
            if t.reason == TransitionReason::OpenDurationElapsed {
                c.to_half_open.fetch_add(1, Ordering::SeqCst);
            }
            c.transitions.fetch_add(1, Ordering::SeqCst);
            let previous = c
                .last_generation
                .swap(t.generation as usize, Ordering::SeqCst);
            assert!(
                previous == 0 || previous + 1 == t.generation as usize,
                "transitions delivered out of order: {previous} then {}",
                t.generation
            );
        })
        .build()
        .unwrap();
    b.try_acquire_raw()
        .map(|p| b.record_raw(p, Outcome::Failure, None))
        .unwrap();
    assert_eq!(b.shared.peek_state(), State::Open);
    clock.advance(OPEN);
    (b, counters)
}

#[test]
fn loom_half_open_boundary_three_threads_never_exceed_the_trial() {
    model(|| {
        let (b, counters) = due_breaker(2);
        let handles: Vec<_> = (0..3)
            .map(|_| {
                let b = b.clone();
                thread::spawn(move || b.try_acquire_raw())
            })
            .collect();
        let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let admitted = results.iter().filter(|r| r.is_ok()).count();
        let full = results
            .iter()
            .filter(|r| matches!(r, Err(e) if e.reason == RejectReason::TrialFull))
            .count();
        assert_eq!(admitted, 2);
        assert_eq!(full, 1);
        assert_eq!(counters.to_half_open.load(Ordering::SeqCst), 1);
        let m = b.metrics();
        assert_eq!(m.state, State::HalfOpen);
        assert_eq!(m.current.requests, 2);
        assert_eq!(m.totals.rejected_trial_full, 1);
        assert_eq!(m.totals.transitions, 2);
    });
}

#[test]
fn loom_half_open_boundary_acquire_and_report_race() {
    model(|| {
        let (b, counters) = due_breaker(1);
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let b = b.clone();
                thread::spawn(move || {
                    b.try_acquire_raw()
                        .map(|p| (p.generation, b.record_raw(p, Outcome::Success, None)))
                })
            })
            .collect();
        let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        // Generation 3 is the half-open trial: exactly one admission in it.
        let in_trial = results.iter().filter(|r| matches!(r, Ok((3, _)))).count();
        assert_eq!(in_trial, 1);
        assert_eq!(counters.to_half_open.load(Ordering::SeqCst), 1);
        for r in &results {
            match r {
                Ok((_, recorded)) => assert_eq!(*recorded, Recorded::Recorded),
                Err(e) => assert_eq!(e.reason, RejectReason::TrialFull),
            }
        }
        let m = b.metrics();
        assert_eq!(m.state, State::Closed);
        let admitted = results.iter().filter(|r| r.is_ok()).count() as u64;
        assert_eq!(m.totals.requests, 1 + admitted);
        assert_eq!(m.totals.successes, admitted);
        assert_eq!(m.totals.transitions, 3);
        assert_eq!(counters.transitions.load(Ordering::SeqCst), 3);
    });
}

#[test]
fn loom_trial_failure_and_late_admission() {
    model(|| {
        let (b, counters) = due_breaker(1);
        let b1 = b.clone();
        let t1 = thread::spawn(move || {
            b1.try_acquire_raw()
                .map(|p| b1.record_raw(p, Outcome::Failure, None))
        });
        let b2 = b.clone();
        let t2 = thread::spawn(move || b2.try_acquire_raw().map(|p| p.generation));
        let r1 = t1.join().unwrap();
        let r2 = t2.join().unwrap();
        assert_eq!(counters.to_half_open.load(Ordering::SeqCst), 1);
        // At most one admission: the trial's, and a failure re-opens.
        assert!(r1.is_ok() as u32 + r2.is_ok() as u32 <= 1);
        let m = b.metrics();
        assert_eq!(m.totals.requests, 1 + r1.is_ok() as u64 + r2.is_ok() as u64);
        if r1.is_ok() {
            assert_eq!(m.state, State::Open);
            assert_eq!(m.totals.opened, 2);
        }
        assert_eq!(
            m.totals.transitions as usize,
            counters.transitions.load(Ordering::SeqCst)
        );
    });
}

#[test]
fn loom_lock_free_success_against_failure_keeps_counts_exact() {
    model(|| {
        let b = CircuitBreaker::builder()
            .consecutive_failures(2)
            .build()
            .unwrap();
        let p1 = b.try_acquire_raw().unwrap();
        let p2 = b.try_acquire_raw().unwrap();
        let p3 = b.try_acquire_raw().unwrap();
        b.record_raw(p3, Outcome::Failure, None);
        let b1 = b.clone();
        let t1 = thread::spawn(move || b1.record_raw(p1, Outcome::Success, None));
        let b2 = b.clone();
        let t2 = thread::spawn(move || b2.record_raw(p2, Outcome::Failure, None));
        let r1 = t1.join().unwrap();
        assert_eq!(t2.join().unwrap(), Recorded::Recorded);
        let m = b.metrics();
        assert_eq!(m.totals.requests, 3);
        assert_eq!(m.totals.failures, 2);
        match r1 {
            // success, then failure: the run of failures restarts at 1.
            Recorded::Recorded => {
                assert_eq!(m.state, State::Closed);
                assert_eq!(m.totals.successes, 1);
                assert_eq!(m.current.requests, 3);
                assert_eq!(m.current.consecutive_failures, 1);
                assert_eq!(m.current.consecutive_successes, 0);
            }
            // failure, then success: the 2nd consecutive failure opened; the success
            // belongs to the old generation.
            Recorded::Stale => {
                assert_eq!(m.state, State::Open);
                assert_eq!(m.totals.successes, 0);
                assert_eq!(m.totals.stale_dropped, 1);
                assert_eq!(m.totals.opened, 1);
            }
        }
    });
}

#[test]
fn loom_success_against_reset_is_recorded_or_stale_exactly_once() {
    model(|| {
        let b = CircuitBreaker::builder().build().unwrap();
        let p = b.try_acquire_raw().unwrap();
        let b1 = b.clone();
        let t1 = thread::spawn(move || b1.record_raw(p, Outcome::Success, None));
        let b2 = b.clone();
        let t2 = thread::spawn(move || b2.reset());
        let recorded = t1.join().unwrap();
        t2.join().unwrap();
        let m = b.metrics();
        assert_eq!(m.generation, 2);
        assert_eq!(m.totals.requests, 1);
        assert_eq!(m.current.requests, 0);
        match recorded {
            Recorded::Recorded => {
                assert_eq!(m.totals.successes, 1);
                assert_eq!(m.totals.stale_dropped, 0);
            }
            Recorded::Stale => {
                assert_eq!(m.totals.successes, 0);
                assert_eq!(m.totals.stale_dropped, 1);
            }
        }
        assert_eq!(m.current.successes, 0);
    });
}

#[test]
fn loom_admission_against_force_open() {
    model(|| {
        let b = CircuitBreaker::builder().build().unwrap();
        let b1 = b.clone();
        let t1 = thread::spawn(move || b1.try_acquire_raw());
        let b2 = b.clone();
        let t2 = thread::spawn(move || b2.force_open());
        let r = t1.join().unwrap();
        t2.join().unwrap();
        let m = b.metrics();
        assert_eq!(m.state, State::ForcedOpen);
        match r {
            Ok(p) => {
                assert_eq!(p.generation, 1);
                assert_eq!(m.totals.requests, 1);
                assert_eq!(b.record_raw(p, Outcome::Success, None), Recorded::Stale);
            }
            Err(e) => {
                assert_eq!(e.reason, RejectReason::ForcedOpen);
                assert_eq!(m.totals.requests, 0);
                assert_eq!(m.totals.rejected_forced_open, 1);
            }
        }
    });
}

#[test]
fn loom_concurrent_transitions_are_delivered_once_in_order() {
    model(|| {
        let seen = Arc::new(loom::sync::Mutex::new(Vec::new()));
        let s = seen.clone();
        let b = CircuitBreaker::builder()
            .on_transition(move |t| s.lock().unwrap().push((t.generation, t.from, t.to)))
            .build()
            .unwrap();
        let b1 = b.clone();
        let t1 = thread::spawn(move || b1.force_open());
        let b2 = b.clone();
        let t2 = thread::spawn(move || b2.disable());
        t1.join().unwrap();
        t2.join().unwrap();
        // Both calls have returned: every transition has been delivered, once, in order.
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 2);
        assert_eq!(seen[0].0, 2);
        assert_eq!(seen[1].0, 3);
        assert_eq!(seen[0].1, State::Closed);
        assert_eq!(seen[1].1, seen[0].2);
        assert_eq!(b.metrics().totals.transitions, 2);
    });
}

#[test]
fn loom_listener_that_resets_does_not_deadlock() {
    model(|| {
        let slot: Arc<loom::sync::Mutex<Option<CircuitBreaker>>> =
            Arc::new(loom::sync::Mutex::new(None));
        let seen = Arc::new(AtomicUsize::new(0));
        let (s, n) = (slot.clone(), seen.clone());
        let b = CircuitBreaker::builder()
            .consecutive_failures(1)
            .on_transition(move |t| {
                n.fetch_add(1, Ordering::SeqCst);
                if t.to == State::Open {
                    let b = s.lock().unwrap().clone();
                    if let Some(b) = b {
                        b.reset();
                    }
                }
            })
            .build()
            .unwrap();
        *slot.lock().unwrap() = Some(b.clone());
        let b1 = b.clone();
        let t1 = thread::spawn(move || {
            b1.try_acquire_raw()
                .map(|p| b1.record_raw(p, Outcome::Failure, None))
        });
        let b2 = b.clone();
        let t2 = thread::spawn(move || b2.force_open());
        let _ = t1.join().unwrap();
        t2.join().unwrap();
        let m = b.metrics();
        assert_eq!(m.totals.transitions as usize, seen.load(Ordering::SeqCst));
        *slot.lock().unwrap() = None;
    });
}

#[test]
fn loom_call_against_reset_counts_the_request_once() {
    model(|| {
        let b = CircuitBreaker::builder().build().unwrap();
        let b1 = b.clone();
        let t1 = thread::spawn(move || b1.call(|| Ok::<_, ()>(())).is_ok());
        let b2 = b.clone();
        let t2 = thread::spawn(move || b2.reset());
        assert!(t1.join().unwrap());
        t2.join().unwrap();
        let m = b.metrics();
        assert_eq!(m.generation, 2);
        assert_eq!(m.totals.requests, 1);
        assert_eq!(m.totals.successes + m.totals.stale_dropped, 1);
        // Counted in generation 2 only if it was admitted after the reset.
        assert_eq!(m.current.requests, m.current.successes);
        assert!(m.current.requests <= 1);
    });
}

#[test]
fn loom_call_success_against_a_tripping_failure() {
    model(|| {
        let b = CircuitBreaker::builder()
            .consecutive_failures(2)
            .build()
            .unwrap();
        let _ = b.call(|| Err::<(), _>(()));
        let b1 = b.clone();
        let t1 = thread::spawn(move || b1.call(|| Ok::<_, ()>(())).is_ok());
        let b2 = b.clone();
        let t2 = thread::spawn(move || b2.call(|| Err::<(), _>(())).is_err());
        let admitted_success = t1.join().unwrap();
        assert!(t2.join().unwrap());
        let m = b.metrics();
        assert_eq!(m.totals.failures, 2);
        match m.state {
            // The failure came second: the run restarted after the success.
            State::Closed => {
                assert!(admitted_success);
                assert_eq!(m.totals.successes, 1);
                assert_eq!(m.current.consecutive_failures, 1);
                assert_eq!(m.totals.requests, 3);
            }
            // The failure came first and opened: the success is stale or rejected.
            State::Open => {
                assert_eq!(m.totals.successes, 0);
                assert_eq!(
                    m.totals.requests,
                    2 + u64::from(admitted_success),
                    "a rejected call is no request"
                );
                assert_eq!(m.totals.stale_dropped, u64::from(admitted_success));
                assert_eq!(m.totals.rejected_open, u64::from(!admitted_success));
            }
            other => panic!("unexpected state {other}"),
        }
    });
}

#[test]
fn loom_lock_free_time_window_success_against_a_tripping_failure() {
    model(|| {
        let clock = ManualClock::new();
        let b = CircuitBreaker::builder()
            .clock((&clock).into())
            .failure_rate(0.5, crate::Window::Time(Duration::from_secs(10)), 1)
            .build()
            .unwrap();
        b.call(|| Ok::<_, ()>(())).unwrap(); // reaches minimum_calls: lock-free from here
        let b1 = b.clone();
        let t1 = thread::spawn(move || {
            b1.try_acquire_raw()
                .map(|p| b1.record_raw(p, Outcome::Success, None))
        });
        let b2 = b.clone();
        let t2 = thread::spawn(move || b2.call(|| Err::<(), _>(())).is_err());
        let r1 = t1.join().unwrap();
        assert!(t2.join().unwrap());
        let m = b.metrics();
        assert_eq!(m.totals.failures, 1);
        match m.state {
            // success then failure: 1 / 3
            State::Closed => {
                assert_eq!(r1, Ok(Recorded::Recorded));
                assert_eq!(m.totals.successes, 2);
                assert_eq!(m.current.window_calls, 3);
                assert_eq!(m.current.window_failures, 1);
            }
            // failure first: 1 / 2 opens; the success is stale, or never admitted
            State::Open => {
                assert_eq!(m.totals.successes, 1);
                match r1 {
                    Ok(recorded) => {
                        assert_eq!(recorded, Recorded::Stale);
                        assert_eq!(m.totals.stale_dropped, 1);
                    }
                    Err(e) => assert_eq!(e.reason, RejectReason::Open),
                }
            }
            other => panic!("unexpected state {other}"),
        }
    });
}

/// With an `interval` whose end has come: two threads admit and record at once (one
/// success, one failure); whatever the interleaving, the interval is cleared once (one new
/// generation), every admission is in the totals, and each outcome is either counted or
/// dropped as stale, never both or neither.
#[test]
fn loom_interval_end_two_callers_count_exactly_once() {
    model(|| {
        let clock = ManualClock::new();
        let b = CircuitBreaker::builder()
            .clock((&clock).into())
            .consecutive_failures(10)
            .interval(OPEN)
            .build()
            .unwrap();
        let g = b.metrics().generation;
        clock.advance(OPEN);
        let handles: Vec<_> = [Outcome::Success, Outcome::Failure]
            .into_iter()
            .map(|outcome| {
                let b = b.clone();
                thread::spawn(move || {
                    let p = b.try_acquire_raw().unwrap();
                    b.record_raw(p, outcome, None)
                })
            })
            .collect();
        let stale = handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .filter(|r| *r == Recorded::Stale)
            .count() as u64;
        let m = b.metrics();
        assert_eq!(
            stale, 0,
            "both calls were admitted after the interval ended"
        );
        assert_eq!(m.generation, g + 1, "the interval was cleared once");
        assert_eq!(m.totals.requests, 2);
        assert_eq!(m.totals.successes + m.totals.failures + stale, 2);
        assert_eq!(m.current.requests, 2);
    });
}
