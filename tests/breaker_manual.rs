//! What users of gobreaker and failsafe-go rely on: the closed state's `interval`
//! (counts cleared and a new generation every interval), manual transitions to open and
//! half-open, and the side-effect-free `remaining_open`. All on a manual clock.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use breakwater::{
    BreakerBuilder, CircuitBreaker, ManualClock, Recorded, RejectReason, State, Transition,
    TransitionReason, Window,
};

const OPEN: Duration = Duration::from_secs(60);
const INTERVAL: Duration = Duration::from_secs(10);

type Log = Arc<Mutex<Vec<Transition>>>;

fn builder(clock: &ManualClock) -> (BreakerBuilder, Log) {
    let log: Log = Arc::new(Mutex::new(Vec::new()));
    let l = log.clone();
    let b = CircuitBreaker::builder()
        .clock(clock.into())
        .open_duration(OPEN)
        .on_transition(move |t| l.lock().unwrap().push(*t));
    (b, log)
}

fn steps(log: &Log) -> Vec<(State, State, TransitionReason)> {
    log.lock()
        .unwrap()
        .iter()
        .map(|t| (t.from, t.to, t.reason))
        .collect()
}

fn fail(b: &CircuitBreaker) {
    b.try_acquire().unwrap().failure();
}

// ---- interval

#[test]
fn interval_clears_consecutive_failures_so_spread_failures_never_trip() {
    let clock = ManualClock::new();
    let (b, log) = builder(&clock);
    let b = b
        .consecutive_failures(3)
        .interval(INTERVAL)
        .build()
        .unwrap();
    for _ in 0..5 {
        fail(&b);
        fail(&b);
        clock.advance(INTERVAL);
    }
    assert_eq!(b.state(), State::Closed);
    assert_eq!(b.metrics().current.failures, 0);
    assert_eq!(b.metrics().totals.failures, 10);
    assert!(steps(&log).is_empty(), "a new interval is not a transition");
}

#[test]
fn within_one_interval_the_threshold_still_trips() {
    let clock = ManualClock::new();
    let (b, log) = builder(&clock);
    let b = b
        .consecutive_failures(3)
        .interval(INTERVAL)
        .build()
        .unwrap();
    fail(&b);
    clock.advance(INTERVAL - Duration::from_nanos(1));
    fail(&b);
    fail(&b);
    assert_eq!(b.state(), State::Open);
    assert_eq!(
        steps(&log),
        vec![(
            State::Closed,
            State::Open,
            TransitionReason::ThresholdReached
        )]
    );
}

#[test]
fn a_new_interval_starts_a_generation_and_older_outcomes_are_stale() {
    let clock = ManualClock::new();
    let (b, _) = builder(&clock);
    let b = b
        .consecutive_failures(3)
        .interval(INTERVAL)
        .build()
        .unwrap();
    let before = b.metrics().generation;
    let old = b.try_acquire().unwrap();
    clock.advance(INTERVAL);
    assert_eq!(b.metrics().generation, before + 1);
    assert_eq!(old.failure(), Recorded::Stale);
    assert_eq!(b.metrics().totals.stale_dropped, 1);
    assert_eq!(b.metrics().current.failures, 0);
}

#[test]
fn several_missed_intervals_clear_once_and_keep_the_grid() {
    let clock = ManualClock::new();
    let (b, _) = builder(&clock);
    let b = b
        .consecutive_failures(2)
        .interval(INTERVAL)
        .build()
        .unwrap();
    let g = b.metrics().generation;
    clock.advance(INTERVAL * 3 + Duration::from_secs(5)); // 35 s: intervals end at 10, 20, 30, 40
    fail(&b);
    assert_eq!(
        b.metrics().generation,
        g + 1,
        "one clearing for the missed intervals"
    );
    clock.advance(Duration::from_secs(5)); // 40 s: the next boundary of the grid
    fail(&b);
    assert_eq!(
        b.state(),
        State::Closed,
        "the first failure was cleared at 40 s"
    );
    assert_eq!(b.metrics().current.failures, 1);
}

#[test]
fn interval_also_clears_a_count_window_failure_rate() {
    let clock = ManualClock::new();
    let (b, _) = builder(&clock);
    let b = b
        .failure_rate(0.5, Window::Count(10), 4)
        .interval(INTERVAL)
        .build()
        .unwrap();
    for _ in 0..3 {
        fail(&b);
    }
    clock.advance(INTERVAL);
    fail(&b);
    assert_eq!(b.state(), State::Closed, "3 + 1 failures in two intervals");
    assert_eq!(b.metrics().current.window_calls, 1);
}

#[test]
fn interval_does_not_run_while_open_and_restarts_when_closed() {
    let clock = ManualClock::new();
    let (b, _) = builder(&clock);
    let b = b
        .consecutive_failures(2)
        .interval(INTERVAL)
        .build()
        .unwrap();
    fail(&b);
    fail(&b);
    assert_eq!(b.state(), State::Open);
    clock.advance(OPEN);
    b.try_acquire().unwrap().success();
    assert_eq!(b.state(), State::Closed);
    // The interval restarted when the breaker closed (at 60 s): a failure at 69 s and
    // one at 69.9 s are in the same interval.
    clock.advance(Duration::from_secs(9));
    fail(&b);
    clock.advance(Duration::from_millis(900));
    fail(&b);
    assert_eq!(b.state(), State::Open);
}

#[test]
fn interval_is_refused_when_zero_or_with_a_time_window() {
    let e = CircuitBreaker::builder()
        .interval(Duration::ZERO)
        .build()
        .unwrap_err();
    assert_eq!(e.field, "interval_ms");
    let e = CircuitBreaker::builder()
        .failure_rate(0.5, Window::Time(Duration::from_secs(10)), 5)
        .interval(INTERVAL)
        .build()
        .unwrap_err();
    assert_eq!(e.field, "interval_ms");
    assert!(e.to_string().contains("count policies only"), "{e}");
}

// ---- manual transitions

#[test]
fn transition_to_open_is_timed_like_a_trip() {
    let clock = ManualClock::new();
    let (b, log) = builder(&clock);
    let b = b.build().unwrap();
    b.transition_to_open();
    let e = b.try_acquire().unwrap_err();
    assert_eq!(e.reason, RejectReason::Open);
    assert_eq!(e.retry_after, Some(OPEN));
    clock.advance(OPEN);
    assert_eq!(b.state(), State::HalfOpen);
    b.try_acquire().unwrap().success();
    assert_eq!(
        steps(&log),
        vec![
            (State::Closed, State::Open, TransitionReason::ManualOpen),
            (
                State::Open,
                State::HalfOpen,
                TransitionReason::OpenDurationElapsed
            ),
            (
                State::HalfOpen,
                State::Closed,
                TransitionReason::TrialSucceeded
            ),
        ]
    );
}

#[test]
fn transition_to_open_keeps_an_open_period_in_course_and_leaves_forced_open() {
    let clock = ManualClock::new();
    let (b, log) = builder(&clock);
    let b = b.build().unwrap();
    b.transition_to_open();
    clock.advance(Duration::from_secs(20));
    b.transition_to_open();
    assert_eq!(b.remaining_open(), Some(Duration::from_secs(40)));
    b.force_open();
    b.transition_to_open();
    assert_eq!(b.state(), State::Open);
    assert_eq!(b.remaining_open(), Some(OPEN));
    assert_eq!(steps(&log).len(), 3);
}

#[test]
fn transition_to_open_after_the_period_ran_out_starts_a_new_one() {
    let clock = ManualClock::new();
    let (b, log) = builder(&clock);
    let b = b.build().unwrap();
    b.transition_to_open();
    clock.advance(OPEN);
    b.transition_to_open();
    assert_eq!(b.state(), State::Open);
    assert_eq!(b.remaining_open(), Some(OPEN));
    assert_eq!(
        steps(&log)
            .into_iter()
            .map(|(_, to, r)| (to, r))
            .collect::<Vec<_>>(),
        vec![
            (State::Open, TransitionReason::ManualOpen),
            (State::HalfOpen, TransitionReason::OpenDurationElapsed),
            (State::Open, TransitionReason::ManualOpen),
        ]
    );
}

#[test]
fn transition_to_half_open_admits_a_trial_that_decides_as_usual() {
    let clock = ManualClock::new();
    let (b, log) = builder(&clock);
    let b = b
        .consecutive_failures(5)
        .half_open_max_calls(2)
        .build()
        .unwrap();
    b.transition_to_half_open();
    let p1 = b.try_acquire().unwrap();
    let _p2 = b.try_acquire().unwrap();
    assert_eq!(b.try_acquire().unwrap_err().reason, RejectReason::TrialFull);
    p1.failure();
    assert_eq!(b.state(), State::Open);
    assert_eq!(
        steps(&log),
        vec![
            (
                State::Closed,
                State::HalfOpen,
                TransitionReason::ManualHalfOpen
            ),
            (State::HalfOpen, State::Open, TransitionReason::TrialFailed),
        ]
    );
    // Already half-open: a no-op.
    clock.advance(OPEN);
    assert_eq!(b.state(), State::HalfOpen);
    b.transition_to_half_open();
    assert_eq!(steps(&log).len(), 3);
}

// ---- remaining_open

#[test]
fn remaining_open_counts_down_without_side_effects() {
    let clock = ManualClock::new();
    let (b, log) = builder(&clock);
    let b = b.consecutive_failures(1).build().unwrap();
    assert_eq!(b.remaining_open(), None);
    fail(&b);
    assert_eq!(b.remaining_open(), Some(OPEN));
    clock.advance(Duration::from_secs(45));
    assert_eq!(b.remaining_open(), Some(Duration::from_secs(15)));
    clock.advance(Duration::from_secs(30));
    assert_eq!(b.remaining_open(), Some(Duration::ZERO));
    assert_eq!(steps(&log).len(), 1, "remaining_open applies no transition");
    assert_eq!(b.metrics().totals.rejected_open, 0, "and counts nothing");
    assert_eq!(b.state(), State::HalfOpen);
    assert_eq!(b.remaining_open(), None);
    b.force_open();
    assert_eq!(b.remaining_open(), None, "forced open never ends by itself");
}

#[test]
fn intervals_ending_under_concurrent_calls_lose_no_count() {
    let clock = ManualClock::new();
    let b = CircuitBreaker::builder()
        .clock(clock.clone().into())
        .consecutive_failures(1_000_000)
        .interval(INTERVAL)
        .build()
        .unwrap();
    const THREADS: u64 = 4;
    const CALLS: u64 = 20_000;
    let stale = Arc::new(std::sync::atomic::AtomicU64::new(0));
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let (b, stale) = (b.clone(), stale.clone());
            s.spawn(move || {
                for i in 0..CALLS {
                    let p = b.try_acquire().unwrap();
                    let r = if (i + t) % 7 == 0 {
                        p.failure()
                    } else {
                        p.success()
                    };
                    if r == Recorded::Stale {
                        stale.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            });
        }
        s.spawn(|| {
            for _ in 0..200 {
                clock.advance(INTERVAL);
                std::thread::yield_now();
            }
        });
    });
    let m = b.metrics();
    let stale = stale.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(m.totals.requests, THREADS * CALLS);
    assert_eq!(m.totals.stale_dropped, stale);
    assert_eq!(
        m.totals.successes + m.totals.failures + stale,
        THREADS * CALLS
    );
    assert!(m.generation > 1, "intervals ended during the run");
}
