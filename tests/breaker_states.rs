//! The breaker's state machine, step by step on a manual clock, with exact counts.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use breakwater::{
    BreakerBuilder, CircuitBreaker, Error, ManualClock, Outcome, PolicyKind, Recorded,
    RejectReason, State, Transition, TransitionReason,
};

const OPEN: Duration = Duration::from_secs(60);
const NS: Duration = Duration::from_nanos(1);

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

fn succeed(b: &CircuitBreaker) {
    b.try_acquire().unwrap().success();
}

/// Opens a consecutive-failures breaker by recording `n` failures.
fn open(b: &CircuitBreaker, n: u32) {
    for _ in 0..n {
        fail(b);
    }
    assert_eq!(b.state(), State::Open);
}

#[test]
fn consecutive_failures_open_at_the_threshold_and_a_success_resets_the_run() {
    let clock = ManualClock::new();
    let (b, log) = builder(&clock);
    let b = b.consecutive_failures(3).build().unwrap();

    fail(&b);
    fail(&b);
    let m = b.metrics();
    assert_eq!(m.state, State::Closed);
    assert_eq!(m.current.requests, 2);
    assert_eq!(m.current.failures, 2);
    assert_eq!(m.current.consecutive_failures, 2);

    succeed(&b);
    let m = b.metrics();
    assert_eq!(m.current.consecutive_failures, 0);
    assert_eq!(m.current.consecutive_successes, 1);
    assert_eq!(m.current.requests, 3);

    fail(&b);
    fail(&b);
    assert_eq!(b.state(), State::Closed);
    fail(&b); // the 3rd consecutive failure: >= threshold
    let m = b.metrics();
    assert_eq!(m.state, State::Open);
    assert_eq!(m.generation, 2);
    assert_eq!(
        m.current.requests, 0,
        "a new generation starts with no counts"
    );
    assert_eq!(m.totals.requests, 6);
    assert_eq!(m.totals.failures, 5);
    assert_eq!(m.totals.successes, 1);
    assert_eq!(m.totals.opened, 1);
    assert_eq!(m.totals.transitions, 1);
    assert_eq!(
        steps(&log),
        vec![(
            State::Closed,
            State::Open,
            TransitionReason::ThresholdReached
        )]
    );
    assert_eq!(log.lock().unwrap()[0].generation, 2);
}

#[test]
fn half_open_exactly_at_the_open_duration_not_a_tick_before() {
    let clock = ManualClock::new();
    let (b, log) = builder(&clock);
    let b = b.consecutive_failures(1).build().unwrap();
    clock.advance(Duration::from_secs(5));
    let opened_at = clock.now();
    open(&b, 1);
    assert_eq!(log.lock().unwrap()[0].at, opened_at);

    clock.advance(OPEN - NS);
    assert_eq!(b.state(), State::Open);
    let r = b.try_acquire().unwrap_err();
    assert_eq!(r.reason, RejectReason::Open);
    assert_eq!(r.retry_after, Some(NS));
    assert_eq!(b.metrics().state, State::Open);
    assert_eq!(b.metrics().totals.transitions, 1);

    clock.advance(NS);
    // Applied exactly once, whichever of state(), metrics(), try_acquire() sees it first.
    assert_eq!(b.state(), State::HalfOpen);
    assert_eq!(b.state(), State::HalfOpen);
    let m = b.metrics();
    assert_eq!(m.state, State::HalfOpen);
    assert_eq!(m.generation, 3);
    assert_eq!(m.totals.transitions, 2);
    let log = log.lock().unwrap();
    assert_eq!(log.len(), 2);
    assert_eq!(log[1].reason, TransitionReason::OpenDurationElapsed);
    assert_eq!(log[1].at, opened_at + OPEN);
}

#[test]
fn try_acquire_applies_the_due_transition() {
    let clock = ManualClock::new();
    let (b, log) = builder(&clock);
    let b = b.consecutive_failures(1).build().unwrap();
    open(&b, 1);
    clock.advance(OPEN);
    let p = b.try_acquire().unwrap();
    assert_eq!(p.generation(), 3);
    assert_eq!(log.lock().unwrap().len(), 2);
    p.success();
    assert_eq!(b.state(), State::Closed);
    assert_eq!(
        steps(&log),
        vec![
            (
                State::Closed,
                State::Open,
                TransitionReason::ThresholdReached
            ),
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
fn rejections_never_count_as_requests_and_are_counted_by_reason() {
    let clock = ManualClock::new();
    let (b, _log) = builder(&clock);
    let b = b.consecutive_failures(2).build().unwrap();
    open(&b, 2);
    for _ in 0..5 {
        assert_eq!(b.try_acquire().unwrap_err().reason, RejectReason::Open);
    }
    let e = b.call(|| Ok::<_, ()>(())).unwrap_err();
    assert!(matches!(
        e,
        Error::Rejected {
            policy: PolicyKind::CircuitBreaker,
            reason: RejectReason::Open,
            retry_after: Some(_)
        }
    ));
    let m = b.metrics();
    assert_eq!(m.current.requests, 0);
    assert_eq!(m.totals.requests, 2);
    assert_eq!(m.totals.rejected_open, 6);
    assert_eq!(m.totals.rejected_trial_full, 0);
    assert_eq!(m.totals.rejected(), 6);
}

#[test]
fn half_open_trial_full_is_a_distinct_rejection() {
    let clock = ManualClock::new();
    let (b, _log) = builder(&clock);
    let b = b
        .consecutive_failures(1)
        .half_open_max_calls(2)
        .build()
        .unwrap();
    open(&b, 1);
    clock.advance(OPEN);
    let p1 = b.try_acquire().unwrap();
    let p2 = b.try_acquire().unwrap();
    let r = b.try_acquire().unwrap_err();
    assert_eq!(r.reason, RejectReason::TrialFull);
    assert_eq!(r.retry_after, None);
    // Admissions are per trial, not in flight: a reported success keeps its admission.
    p1.success();
    assert_eq!(b.try_acquire().unwrap_err().reason, RejectReason::TrialFull);
    let m = b.metrics();
    assert_eq!(m.state, State::HalfOpen);
    assert_eq!(m.current.requests, 2);
    assert_eq!(m.current.successes, 1);
    assert_eq!(m.totals.rejected_trial_full, 2);
    p2.success();
    assert_eq!(b.state(), State::Closed);
}

#[test]
fn an_ignored_outcome_gives_its_trial_admission_back() {
    let clock = ManualClock::new();
    let (b, _log) = builder(&clock);
    let b = b.consecutive_failures(1).build().unwrap();
    open(&b, 1);
    clock.advance(OPEN);
    let p = b.try_acquire().unwrap();
    assert_eq!(b.try_acquire().unwrap_err().reason, RejectReason::TrialFull);
    assert_eq!(p.ignore(), Recorded::Recorded);
    let m = b.metrics();
    assert_eq!(m.state, State::HalfOpen);
    assert_eq!(m.current.ignored, 1);
    assert_eq!(m.current.requests, 1);
    // The admission is free again.
    let p = b.try_acquire().unwrap();
    assert_eq!(b.metrics().current.requests, 2);
    p.success();
    assert_eq!(b.state(), State::Closed);
}

#[test]
fn a_dropped_permit_is_ignored_and_gives_its_admission_back() {
    let clock = ManualClock::new();
    let (b, _log) = builder(&clock);
    let b = b.consecutive_failures(1).build().unwrap();
    open(&b, 1);
    clock.advance(OPEN);
    drop(b.try_acquire().unwrap());
    let m = b.metrics();
    assert_eq!(m.current.ignored, 1);
    assert_eq!(m.current.failures, 0);
    assert_eq!(m.state, State::HalfOpen);
    b.try_acquire().unwrap().failure();
    assert_eq!(b.state(), State::Open);
}

#[test]
fn count_policy_closes_after_success_threshold_and_the_rest_is_stale() {
    let clock = ManualClock::new();
    let (b, log) = builder(&clock);
    let b = b
        .consecutive_failures(1)
        .half_open_max_calls(3)
        .success_threshold(2)
        .build()
        .unwrap();
    open(&b, 1);
    clock.advance(OPEN);
    let p1 = b.try_acquire().unwrap();
    let p2 = b.try_acquire().unwrap();
    let p3 = b.try_acquire().unwrap();
    assert_eq!(p1.success(), Recorded::Recorded);
    assert_eq!(b.state(), State::HalfOpen);
    assert_eq!(p2.success(), Recorded::Recorded);
    assert_eq!(b.state(), State::Closed);
    assert_eq!(p3.failure(), Recorded::Stale);
    let m = b.metrics();
    assert_eq!(m.state, State::Closed);
    assert_eq!(m.current.failures, 0);
    assert_eq!(m.totals.stale_dropped, 1);
    assert_eq!(m.totals.successes, 2);
    assert_eq!(m.totals.failures, 1);
    assert_eq!(
        steps(&log).last().unwrap(),
        &(
            State::HalfOpen,
            State::Closed,
            TransitionReason::TrialSucceeded
        )
    );
}

#[test]
fn count_policy_reopens_on_the_first_trial_failure() {
    let clock = ManualClock::new();
    let (b, log) = builder(&clock);
    let b = b
        .consecutive_failures(1)
        .half_open_max_calls(3)
        .success_threshold(2)
        .build()
        .unwrap();
    open(&b, 1);
    clock.advance(OPEN);
    let p1 = b.try_acquire().unwrap();
    let p2 = b.try_acquire().unwrap();
    p1.success();
    p2.failure();
    assert_eq!(b.state(), State::Open);
    assert_eq!(
        steps(&log).last().unwrap(),
        &(State::HalfOpen, State::Open, TransitionReason::TrialFailed)
    );
    assert_eq!(b.metrics().totals.opened, 2);
}

#[test]
fn half_open_max_wait_reopens_an_undecided_trial_and_the_late_outcome_is_stale() {
    let clock = ManualClock::new();
    let (b, log) = builder(&clock);
    let b = b
        .consecutive_failures(1)
        .half_open_max_wait(Duration::from_secs(10))
        .build()
        .unwrap();
    open(&b, 1);
    clock.advance(OPEN);
    let raw = b.try_acquire_raw().unwrap(); // a C caller that never reports
    clock.advance(Duration::from_secs(10) - NS);
    assert_eq!(b.state(), State::HalfOpen);
    assert_eq!(b.try_acquire().unwrap_err().reason, RejectReason::TrialFull);
    clock.advance(NS);
    assert_eq!(b.state(), State::Open);
    assert_eq!(
        steps(&log).last().unwrap(),
        &(
            State::HalfOpen,
            State::Open,
            TransitionReason::HalfOpenTimeout
        )
    );
    assert_eq!(b.record_raw(raw, Outcome::Success, None), Recorded::Stale);
    let m = b.metrics();
    assert_eq!(m.state, State::Open);
    assert_eq!(m.totals.stale_dropped, 1);
    assert_eq!(m.totals.opened, 2);
}

#[test]
fn half_open_max_wait_defaults_to_the_open_duration() {
    let clock = ManualClock::new();
    let (b, _log) = builder(&clock);
    let b = b.consecutive_failures(1).build().unwrap();
    open(&b, 1);
    clock.advance(OPEN);
    let _held = b.try_acquire_raw().unwrap();
    clock.advance(OPEN - NS);
    assert_eq!(b.state(), State::HalfOpen);
    clock.advance(NS);
    assert_eq!(b.state(), State::Open);
}

#[test]
fn a_stale_outcome_is_dropped_and_counted() {
    let clock = ManualClock::new();
    let (b, _log) = builder(&clock);
    let b = b.consecutive_failures(2).build().unwrap();
    let old = b.try_acquire_raw().unwrap();
    let old2 = b.try_acquire().unwrap();
    assert_eq!(old.generation, 1);
    b.reset();
    assert_eq!(b.record_raw(old, Outcome::Failure, None), Recorded::Stale);
    assert_eq!(old2.success(), Recorded::Stale);
    // A zeroed raw permit is always stale.
    assert_eq!(
        b.record_raw(breakwater::RawPermit::default(), Outcome::Failure, None),
        Recorded::Stale
    );
    let m = b.metrics();
    assert_eq!(m.generation, 2);
    assert_eq!(m.current.failures, 0);
    assert_eq!(m.current.successes, 0);
    assert_eq!(m.totals.stale_dropped, 3);
    assert_eq!(m.totals.requests, 2);
    assert_eq!(m.totals.failures, 0);
}

#[test]
fn open_duration_grows_per_consecutive_reopen_and_returns_to_base_on_close_and_reset() {
    let clock = ManualClock::new();
    let (b, _log) = builder(&clock);
    let b = b
        .consecutive_failures(1)
        .open_duration(Duration::from_secs(10))
        .open_duration_growth(2.0, Duration::from_secs(35))
        .build()
        .unwrap();
    let expect_open_for = |d: Duration| {
        assert_eq!(b.try_acquire().unwrap_err().retry_after, Some(d));
        clock.advance(d - NS);
        assert_eq!(b.state(), State::Open);
        clock.advance(NS);
        assert_eq!(b.state(), State::HalfOpen);
    };
    open(&b, 1);
    expect_open_for(Duration::from_secs(10)); // k = 0
    fail(&b);
    expect_open_for(Duration::from_secs(20)); // k = 1
    fail(&b);
    expect_open_for(Duration::from_secs(35)); // k = 2: 40 capped at 35
    fail(&b);
    expect_open_for(Duration::from_secs(35));
    succeed(&b); // closes: back to base
    assert_eq!(b.state(), State::Closed);
    fail(&b);
    expect_open_for(Duration::from_secs(10));
    fail(&b);
    expect_open_for(Duration::from_secs(20));
    b.reset();
    fail(&b);
    expect_open_for(Duration::from_secs(10));
}

#[test]
fn forced_open_rejects_until_reset_and_never_transitions_lazily() {
    let clock = ManualClock::new();
    let (b, log) = builder(&clock);
    let b = b.build().unwrap();
    b.force_open();
    b.force_open(); // no-op
    assert_eq!(b.state(), State::ForcedOpen);
    let r = b.try_acquire().unwrap_err();
    assert_eq!(r.reason, RejectReason::ForcedOpen);
    assert_eq!(r.retry_after, None);
    clock.advance(OPEN * 10);
    assert_eq!(b.state(), State::ForcedOpen);
    assert!(b.call(|| Ok::<_, ()>(())).is_err());
    let m = b.metrics();
    assert_eq!(m.totals.rejected_forced_open, 2);
    assert_eq!(m.totals.requests, 0);
    assert_eq!(m.totals.opened, 0);
    b.reset();
    assert_eq!(b.state(), State::Closed);
    assert_eq!(
        steps(&log),
        vec![
            (
                State::Closed,
                State::ForcedOpen,
                TransitionReason::ForcedOpen
            ),
            (State::ForcedOpen, State::Closed, TransitionReason::Reset),
        ]
    );
}

#[test]
fn disabled_admits_and_records_but_never_trips() {
    let clock = ManualClock::new();
    let (b, log) = builder(&clock);
    let b = b.consecutive_failures(1).build().unwrap();
    b.disable();
    for _ in 0..10 {
        fail(&b);
    }
    succeed(&b);
    let m = b.metrics();
    assert_eq!(m.state, State::Disabled);
    assert_eq!(m.current.requests, 11);
    assert_eq!(m.current.failures, 10);
    assert_eq!(m.current.successes, 1);
    assert_eq!(m.current.consecutive_successes, 1);
    // Manual modes switch to each other, and leave by reset.
    b.force_open();
    assert_eq!(b.state(), State::ForcedOpen);
    b.disable();
    b.reset();
    assert_eq!(
        steps(&log),
        vec![
            (State::Closed, State::Disabled, TransitionReason::Disabled),
            (
                State::Disabled,
                State::ForcedOpen,
                TransitionReason::ForcedOpen
            ),
            (
                State::ForcedOpen,
                State::Disabled,
                TransitionReason::Disabled
            ),
            (State::Disabled, State::Closed, TransitionReason::Reset),
        ]
    );
}

#[test]
fn reset_clears_counts_and_starts_a_generation() {
    let clock = ManualClock::new();
    let (b, log) = builder(&clock);
    let b = b.consecutive_failures(3).build().unwrap();
    fail(&b);
    fail(&b);
    b.reset();
    let m = b.metrics();
    assert_eq!(m.generation, 2);
    assert_eq!(m.current.requests, 0);
    assert_eq!(m.current.consecutive_failures, 0);
    assert_eq!(m.totals.failures, 2);
    // The run of failures starts over.
    fail(&b);
    fail(&b);
    assert_eq!(b.state(), State::Closed);
    assert_eq!(
        steps(&log),
        vec![(State::Closed, State::Closed, TransitionReason::Reset)]
    );
}

#[test]
fn a_classified_value_fails_and_is_still_returned() {
    let clock = ManualClock::new();
    let (b, _log) = builder(&clock);
    let b = b.consecutive_failures(2).build().unwrap();
    let classify = |r: &Result<u16, String>| match r {
        Ok(s) if *s >= 500 => Outcome::Failure,
        Ok(_) => Outcome::Success,
        Err(_) => Outcome::Failure,
    };
    assert_eq!(b.call_with(classify, || Ok(503)).unwrap(), 503);
    assert_eq!(b.call_with(classify, || Ok(200)).unwrap(), 200);
    let e = b.call_with(classify, || Err("io".to_string())).unwrap_err();
    assert_eq!(e.into_inner().as_deref(), Some("io"));
    assert_eq!(b.call_with(classify, || Ok(503)).unwrap(), 503);
    let m = b.metrics();
    assert_eq!(m.state, State::Open);
    assert_eq!(m.totals.failures, 3);
    assert_eq!(m.totals.successes, 1);
}

#[test]
fn a_panic_in_call_is_a_failure_and_keeps_unwinding() {
    let clock = ManualClock::new();
    let (b, _log) = builder(&clock);
    let b = b.consecutive_failures(2).build().unwrap();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = b.call(|| -> Result<(), ()> { panic!("boom") });
    }));
    let payload = r.unwrap_err();
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"boom"));
    let m = b.metrics();
    assert_eq!(m.current.failures, 1);
    assert_eq!(m.current.requests, 1);
    // A permit dropped while unwinding is a failure too.
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _permit = b.try_acquire().unwrap();
        panic!("boom again");
    }));
    assert!(r.is_err());
    assert_eq!(b.state(), State::Open);
    assert_eq!(b.metrics().totals.failures, 2);
}

#[test]
fn a_panicking_classifier_is_a_failure() {
    let clock = ManualClock::new();
    let (b, _log) = builder(&clock);
    let b = b.build().unwrap();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = b.call_with(|_: &Result<(), ()>| panic!("classifier"), || Ok(()));
    }));
    assert!(r.is_err());
    assert_eq!(b.metrics().current.failures, 1);
}

#[test]
fn the_outage_exercise_sequence() {
    // closed -> open -> half-open -> open -> half-open -> closed
    let clock = ManualClock::new();
    let (b, log) = builder(&clock);
    let b = b
        .consecutive_failures(5)
        .half_open_max_calls(2)
        .success_threshold(2)
        .build()
        .unwrap();
    for _ in 0..5 {
        assert!(b.call(|| Err::<(), _>("timeout")).is_err());
    }
    assert!(b.call(|| Ok::<_, ()>(())).unwrap_err().is_rejected());
    clock.advance(OPEN);
    assert!(b.call(|| Err::<(), _>("still down")).is_err());
    clock.advance(OPEN);
    b.call(|| Ok::<_, ()>(())).unwrap();
    b.call(|| Ok::<_, ()>(())).unwrap();
    assert_eq!(
        steps(&log).iter().map(|(_, to, _)| *to).collect::<Vec<_>>(),
        vec![
            State::Open,
            State::HalfOpen,
            State::Open,
            State::HalfOpen,
            State::Closed
        ]
    );
    let gens: Vec<u64> = log.lock().unwrap().iter().map(|t| t.generation).collect();
    assert_eq!(gens, vec![2, 3, 4, 5, 6]);
}

#[test]
fn explicit_durations_and_generation_of_permits() {
    let clock = ManualClock::new();
    let (b, _log) = builder(&clock);
    let b = b.build().unwrap();
    let p = b.try_acquire().unwrap();
    assert_eq!(p.generation(), 1);
    assert!(p.breaker().ptr_eq(&b));
    let raw = p.into_raw();
    assert_eq!(raw.generation, 1);
    assert_eq!(raw.acquired_nanos, 0, "no policy needs durations");
    assert_eq!(
        b.record_raw(raw, Outcome::Success, Some(Duration::from_secs(1))),
        Recorded::Recorded
    );
    // into_raw gave up the guard: nothing is recorded twice.
    let m = b.metrics();
    assert_eq!(
        (m.current.requests, m.current.successes, m.current.ignored),
        (1, 1, 0)
    );
}

#[test]
fn counts_stay_exact_past_the_lock_free_counters_capacity() {
    // The lock-free counters of a thread hold 65535 admissions and successes before they
    // are folded under the lock.
    let clock = ManualClock::new();
    let (b, _log) = builder(&clock);
    let b = b.build().unwrap();
    for _ in 0..150_000 {
        b.call(|| Ok::<_, ()>(())).unwrap();
    }
    for _ in 0..70_000 {
        b.try_acquire().unwrap().success();
    }
    let m = b.metrics();
    assert_eq!(m.current.requests, 220_000);
    assert_eq!(m.current.successes, 220_000);
    assert_eq!(m.current.consecutive_successes, 220_000);
    assert_eq!(m.totals.requests, 220_000);
    let _ = b.call(|| Err::<(), _>(()));
    let m = b.metrics();
    assert_eq!(m.current.consecutive_successes, 0);
    assert_eq!(m.current.consecutive_failures, 1);
    assert_eq!(m.current.requests, 220_001);
}

#[test]
fn call_counts_its_request_when_it_returns_in_the_closed_state() {
    // In the closed state `call` is admitted on a read of the state word and counted with
    // its outcome; a permit is counted when it is acquired.
    let clock = ManualClock::new();
    let (b, _log) = builder(&clock);
    let b = b.build().unwrap();
    let inside = b
        .call(|| Ok::<_, ()>(b.metrics().current.requests))
        .unwrap();
    assert_eq!(inside, 0);
    assert_eq!(b.metrics().current.requests, 1);
    let _p = b.try_acquire().unwrap();
    assert_eq!(b.metrics().current.requests, 2);
    // A call whose generation ended while it ran is counted in the totals, and stale.
    let r = b.call(|| {
        b.reset();
        Ok::<_, ()>(())
    });
    assert!(r.is_ok());
    let m = b.metrics();
    assert_eq!(m.current.requests, 0);
    assert_eq!(m.totals.requests, 3);
    assert_eq!(m.totals.stale_dropped, 1);
}

#[test]
fn breaker_is_send_sync_clone() {
    fn check<T: Send + Sync + Clone + 'static>() {}
    check::<CircuitBreaker>();
    check::<breakwater::BreakerConfig>();
    check::<breakwater::BreakerRejected>();
    fn send<T: Send>() {}
    send::<breakwater::Permit>();
}
