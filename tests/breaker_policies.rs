//! The trip policies, step by step on a manual clock, with exact counts.

use std::time::Duration;

use breakwater::{
    CircuitBreaker, ManualClock, Outcome, RejectReason, SlowCalls, State, TripPolicy, Window,
};

const OPEN: Duration = Duration::from_secs(60);
const NS: Duration = Duration::from_nanos(1);
const SEC: Duration = Duration::from_secs(1);

fn breaker(clock: &ManualClock, policy: TripPolicy) -> CircuitBreaker {
    CircuitBreaker::builder()
        .clock(clock.into())
        .open_duration(OPEN)
        .policy(policy)
        .build()
        .unwrap()
}

fn record(b: &CircuitBreaker, outcome: Outcome) {
    b.try_acquire().unwrap().record(outcome);
}

fn record_n(b: &CircuitBreaker, outcome: Outcome, n: usize) {
    for _ in 0..n {
        record(b, outcome);
    }
}

// ---- failures_in_window

#[test]
fn failures_in_window_counts_from_the_first_failure_and_restarts_after_it() {
    let clock = ManualClock::new();
    let b = breaker(
        &clock,
        TripPolicy::FailuresInWindow {
            threshold: 3,
            window: Duration::from_secs(10),
        },
    );
    record(&b, Outcome::Failure); // t = 0: first failure of window [0, 10)
    clock.advance(Duration::from_secs(5));
    record(&b, Outcome::Failure); // 2 in the window
    // Successes do not reset the count.
    record_n(&b, Outcome::Success, 10);
    clock.advance(Duration::from_secs(5)); // t = 10: the window has passed
    record(&b, Outcome::Failure); // first failure of a new window [10, 20)
    assert_eq!(b.state(), State::Closed);
    clock.advance(Duration::from_secs(10) - NS); // t = 20 - 1 ns
    record(&b, Outcome::Failure); // 2
    assert_eq!(b.state(), State::Closed);
    record(&b, Outcome::Failure); // 3 within [10, 20): opens
    let m = b.metrics();
    assert_eq!(m.state, State::Open);
    assert_eq!(m.totals.failures, 5);
    assert_eq!(m.totals.successes, 10);
}

#[test]
fn failures_in_window_a_late_failure_is_the_first_of_its_window() {
    let clock = ManualClock::new();
    let b = breaker(
        &clock,
        TripPolicy::FailuresInWindow {
            threshold: 2,
            window: Duration::from_secs(10),
        },
    );
    record(&b, Outcome::Failure);
    clock.advance(Duration::from_secs(10));
    record(&b, Outcome::Failure); // exactly at the end: new window
    assert_eq!(b.state(), State::Closed);
    clock.advance(Duration::from_secs(9));
    record(&b, Outcome::Failure);
    assert_eq!(b.state(), State::Open);
}

#[test]
fn failures_in_window_threshold_one_opens_at_once() {
    let clock = ManualClock::new();
    let b = breaker(
        &clock,
        TripPolicy::FailuresInWindow {
            threshold: 1,
            window: SEC,
        },
    );
    record(&b, Outcome::Success);
    record(&b, Outcome::Failure);
    assert_eq!(b.state(), State::Open);
}

// ---- failure_rate over a count window

fn count_rate(clock: &ManualClock, threshold: f64, size: u32, minimum: u32) -> CircuitBreaker {
    breaker(
        clock,
        TripPolicy::FailureRate {
            threshold,
            window: Window::Count(size),
            minimum_calls: minimum,
            slow: None,
        },
    )
}

#[test]
fn failure_rate_waits_for_minimum_calls() {
    let clock = ManualClock::new();
    let b = count_rate(&clock, 0.5, 10, 4);
    record_n(&b, Outcome::Failure, 3); // 100 % but only 3 calls
    let m = b.metrics();
    assert_eq!(m.state, State::Closed);
    assert_eq!(m.current.window_calls, 3);
    assert_eq!(m.current.window_failures, 3);
    assert_eq!(m.current.failure_rate, None);
    record(&b, Outcome::Failure);
    assert_eq!(b.state(), State::Open);
}

#[test]
fn failure_rate_opens_at_exactly_the_threshold() {
    let clock = ManualClock::new();
    let b = count_rate(&clock, 0.5, 10, 10);
    record_n(&b, Outcome::Success, 5);
    record_n(&b, Outcome::Failure, 4);
    let m = b.metrics();
    assert_eq!(m.current.window_calls, 9);
    assert_eq!(m.current.failure_rate, None);
    assert_eq!(m.state, State::Closed);
    record(&b, Outcome::Failure); // 5 / 10 = 0.5 >= 0.5
    assert_eq!(b.state(), State::Open);
}

#[test]
fn failure_rate_just_below_the_threshold_stays_closed() {
    let clock = ManualClock::new();
    let b = count_rate(&clock, 0.3, 10, 10);
    record_n(&b, Outcome::Success, 8);
    record_n(&b, Outcome::Failure, 2);
    let m = b.metrics();
    assert_eq!(m.current.failure_rate, Some(0.2));
    assert_eq!(m.state, State::Closed);
    // The oldest outcome (a success) leaves as a success comes in: still 2 / 10.
    record(&b, Outcome::Success);
    assert_eq!(b.metrics().current.failure_rate, Some(0.2));
    assert_eq!(b.state(), State::Closed);
    // A success leaves, a failure comes: 3 / 10 = 0.3 >= 0.3.
    record(&b, Outcome::Failure);
    assert_eq!(b.state(), State::Open);
}

#[test]
fn failure_rate_is_evaluated_after_every_outcome_including_successes() {
    let clock = ManualClock::new();
    let b = count_rate(&clock, 0.5, 4, 4);
    record_n(&b, Outcome::Failure, 2);
    record(&b, Outcome::Success);
    assert_eq!(b.state(), State::Closed);
    record(&b, Outcome::Success); // 4 calls now, 2 / 4 = 0.5
    assert_eq!(b.state(), State::Open);
}

#[test]
fn ignored_outcomes_never_enter_the_window() {
    let clock = ManualClock::new();
    let b = count_rate(&clock, 0.5, 4, 2);
    record(&b, Outcome::Success);
    record_n(&b, Outcome::Ignored, 5);
    let m = b.metrics();
    assert_eq!(m.current.window_calls, 1);
    assert_eq!(m.current.ignored, 5);
    assert_eq!(m.current.requests, 6);
    record(&b, Outcome::Failure);
    assert_eq!(b.state(), State::Open);
}

#[test]
fn rejections_never_touch_the_window() {
    let clock = ManualClock::new();
    let b = count_rate(&clock, 0.5, 4, 2);
    record_n(&b, Outcome::Failure, 2);
    assert_eq!(b.state(), State::Open);
    for _ in 0..10 {
        assert!(b.try_acquire().is_err());
    }
    let m = b.metrics();
    assert_eq!(m.current.requests, 0);
    assert_eq!(m.current.window_calls, 0);
    assert_eq!(m.totals.rejected_open, 10);
}

#[test]
fn the_window_starts_empty_after_closing() {
    let clock = ManualClock::new();
    let b = count_rate(&clock, 0.5, 4, 2);
    record_n(&b, Outcome::Failure, 2);
    clock.advance(OPEN);
    record(&b, Outcome::Success); // trial of 1: closes
    assert_eq!(b.state(), State::Closed);
    let m = b.metrics();
    assert_eq!(m.current.window_calls, 0);
    record(&b, Outcome::Success);
    record(&b, Outcome::Failure); // 1 / 2
    assert_eq!(b.state(), State::Open);
}

// ---- failure_rate over a time window

#[test]
fn time_window_outcomes_leave_after_the_window_at_most_one_bucket_late() {
    let clock = ManualClock::new();
    // 10 s window: buckets of 1 s.
    let b = breaker(
        &clock,
        TripPolicy::FailureRate {
            threshold: 0.5,
            window: Window::Time(Duration::from_secs(10)),
            minimum_calls: 3,
            slow: None,
        },
    );
    clock.advance(Duration::from_millis(500)); // t = 0.5 s, bucket [0, 1)
    record(&b, Outcome::Failure);
    clock.advance(SEC); // t = 1.5 s, bucket [1, 2)
    record(&b, Outcome::Success);
    record(&b, Outcome::Success);
    let m = b.metrics();
    assert_eq!(m.current.window_calls, 3);
    assert_eq!(m.current.failure_rate, Some(1.0 / 3.0));
    // The failure is 10 s old at t = 10.5 s; it stays until its bucket is 10 s old (t = 11 s).
    clock.advance(Duration::from_secs(9)); // t = 10.5
    assert_eq!(b.metrics().current.window_calls, 3);
    clock.advance(Duration::from_millis(500) - NS); // t = 11 s - 1 ns
    assert_eq!(b.metrics().current.window_calls, 3);
    clock.advance(NS); // t = 11 s
    let m = b.metrics();
    assert_eq!(m.current.window_calls, 2);
    assert_eq!(m.current.window_failures, 0);
    assert_eq!(m.current.failure_rate, None, "below minimum_calls again");
    // Two failures: 2 / 4.
    record(&b, Outcome::Failure);
    assert_eq!(b.state(), State::Closed, "2 successes + 1 failure: 1/3");
    record(&b, Outcome::Failure);
    assert_eq!(b.state(), State::Open);
}

#[test]
fn time_window_long_idle_starts_over() {
    let clock = ManualClock::new();
    let b = breaker(
        &clock,
        TripPolicy::FailureRate {
            threshold: 0.5,
            window: Window::Time(Duration::from_secs(10)),
            minimum_calls: 2,
            slow: None,
        },
    );
    record(&b, Outcome::Failure);
    clock.advance(Duration::from_secs(3600));
    record(&b, Outcome::Success);
    let m = b.metrics();
    assert_eq!(m.current.window_calls, 1);
    record(&b, Outcome::Success);
    assert_eq!(b.metrics().current.failure_rate, Some(0.0));
    assert_eq!(b.state(), State::Closed);
}

// ---- slow calls

fn slow_rate(clock: &ManualClock) -> CircuitBreaker {
    breaker(
        clock,
        TripPolicy::SlowCallRate {
            slow: SlowCalls {
                threshold: 0.5,
                slow_duration: SEC,
            },
            window: Window::Count(4),
            minimum_calls: 4,
        },
    )
}

#[test]
fn slow_call_rate_counts_calls_at_or_over_the_slow_duration() {
    let clock = ManualClock::new();
    let b = slow_rate(&clock);
    b.try_acquire().unwrap().success_after(SEC - NS); // not slow
    b.try_acquire().unwrap().success_after(SEC); // slow (>=)
    // Measured from acquisition on the clock.
    let p = b.try_acquire().unwrap();
    clock.advance(Duration::from_secs(2));
    p.failure(); // slow failure
    let m = b.metrics();
    assert_eq!(m.current.slow, 2);
    assert_eq!(m.current.window_calls, 3);
    assert_eq!(m.current.slow_call_rate, None);
    assert_eq!(m.state, State::Closed);
    b.try_acquire().unwrap().success_after(Duration::ZERO); // 2 / 4 slow
    let m = b.metrics();
    assert_eq!(m.state, State::Open);
    assert_eq!(m.totals.slow, 2);
}

#[test]
fn slow_call_rate_below_threshold_stays_closed() {
    let clock = ManualClock::new();
    let b = slow_rate(&clock);
    b.try_acquire().unwrap().success_after(SEC);
    for _ in 0..3 {
        b.try_acquire()
            .unwrap()
            .success_after(Duration::from_millis(10));
    }
    let m = b.metrics();
    assert_eq!(m.current.slow_call_rate, Some(0.25));
    assert_eq!(m.current.failure_rate, Some(0.0));
    assert_eq!(m.state, State::Closed);
}

#[test]
fn slow_call_rate_added_to_a_failure_rate_either_rate_opens() {
    let clock = ManualClock::new();
    let build = || {
        CircuitBreaker::builder()
            .clock((&clock).into())
            .failure_rate(0.5, Window::Count(4), 4)
            .slow_call_rate(0.75, SEC)
            .build()
            .unwrap()
    };
    let b = build();
    assert_eq!(
        b.config().policy,
        TripPolicy::FailureRate {
            threshold: 0.5,
            window: Window::Count(4),
            minimum_calls: 4,
            slow: Some(SlowCalls {
                threshold: 0.75,
                slow_duration: SEC
            }),
        }
    );
    // Slow successes: 3 / 4 slow opens while the failure rate is 0.
    for _ in 0..3 {
        b.try_acquire().unwrap().success_after(SEC * 2);
    }
    b.try_acquire().unwrap().success_after(Duration::ZERO);
    assert_eq!(b.state(), State::Open);
    // Fast failures: 2 / 4 failures opens while the slow rate is 0.
    let b = build();
    record_n(&b, Outcome::Success, 2);
    for _ in 0..2 {
        b.try_acquire().unwrap().failure_after(Duration::ZERO);
    }
    assert_eq!(b.state(), State::Open);
}

// ---- rate-policy trials

#[test]
fn rate_trial_decides_only_when_every_admission_has_reported() {
    let clock = ManualClock::new();
    let b = CircuitBreaker::builder()
        .clock((&clock).into())
        .open_duration(OPEN)
        .failure_rate(0.5, Window::Count(2), 2)
        .half_open_max_calls(4)
        .build()
        .unwrap();
    record_n(&b, Outcome::Failure, 2);
    clock.advance(OPEN);
    let permits: Vec<_> = (0..4).map(|_| b.try_acquire().unwrap()).collect();
    assert_eq!(b.try_acquire().unwrap_err().reason, RejectReason::TrialFull);
    let mut permits = permits.into_iter();
    permits.next().unwrap().failure(); // a failure does not re-open a rate trial at once
    assert_eq!(b.state(), State::HalfOpen);
    permits.next().unwrap().success();
    permits.next().unwrap().success();
    let m = b.metrics();
    assert_eq!(m.state, State::HalfOpen);
    assert_eq!(m.current.window_calls, 3);
    assert_eq!(m.current.failure_rate, Some(1.0 / 3.0));
    permits.next().unwrap().success(); // 1 / 4 < 0.5: closes
    assert_eq!(b.state(), State::Closed);
}

#[test]
fn rate_trial_reopens_at_the_threshold() {
    let clock = ManualClock::new();
    let b = CircuitBreaker::builder()
        .clock((&clock).into())
        .open_duration(OPEN)
        .failure_rate(0.5, Window::Count(2), 2)
        .half_open_max_calls(2)
        .build()
        .unwrap();
    record_n(&b, Outcome::Failure, 2);
    clock.advance(OPEN);
    let p1 = b.try_acquire().unwrap();
    let p2 = b.try_acquire().unwrap();
    p1.success();
    assert_eq!(b.state(), State::HalfOpen);
    p2.failure(); // 1 / 2 >= 0.5
    assert_eq!(b.state(), State::Open);
}

#[test]
fn rate_trial_ignored_outcome_gives_its_admission_back() {
    let clock = ManualClock::new();
    let b = CircuitBreaker::builder()
        .clock((&clock).into())
        .open_duration(OPEN)
        .failure_rate(0.5, Window::Count(2), 2)
        .half_open_max_calls(2)
        .build()
        .unwrap();
    record_n(&b, Outcome::Failure, 2);
    clock.advance(OPEN);
    let p1 = b.try_acquire().unwrap();
    let p2 = b.try_acquire().unwrap();
    p1.success();
    p2.ignore();
    assert_eq!(
        b.state(),
        State::HalfOpen,
        "only 1 of 2 admissions reported"
    );
    b.try_acquire().unwrap().success();
    assert_eq!(b.state(), State::Closed);
    assert_eq!(b.metrics().totals.ignored, 1);
}

#[test]
fn slow_rate_trial_reopens_on_slow_calls() {
    let clock = ManualClock::new();
    let b = CircuitBreaker::builder()
        .clock((&clock).into())
        .open_duration(OPEN)
        .policy(TripPolicy::SlowCallRate {
            slow: SlowCalls {
                threshold: 1.0,
                slow_duration: SEC,
            },
            window: Window::Count(1),
            minimum_calls: 1,
        })
        .build()
        .unwrap();
    b.try_acquire().unwrap().success_after(SEC);
    assert_eq!(b.state(), State::Open);
    clock.advance(OPEN);
    b.try_acquire().unwrap().success_after(SEC * 5);
    assert_eq!(b.state(), State::Open);
    clock.advance(OPEN * 2);
    b.try_acquire().unwrap().success_after(SEC - NS);
    assert_eq!(b.state(), State::Closed);
}

#[test]
fn disabled_rate_breaker_feeds_its_window_but_never_trips() {
    let clock = ManualClock::new();
    let b = count_rate(&clock, 0.5, 4, 2);
    b.disable();
    record_n(&b, Outcome::Failure, 4);
    let m = b.metrics();
    assert_eq!(m.state, State::Disabled);
    assert_eq!(m.current.failure_rate, Some(1.0));
    assert_eq!(m.current.failures, 4);
}

#[test]
fn a_success_after_old_successes_left_the_window_is_evaluated() {
    // Regression guard for skipping the evaluation of successes that cannot raise a rate:
    // when successes leave the window (here through a metrics() read) the rate rises
    // unseen, and the next success must still be evaluated.
    let clock = ManualClock::new();
    let b = breaker(
        &clock,
        TripPolicy::FailureRate {
            threshold: 0.5,
            window: Window::Time(Duration::from_secs(10)),
            minimum_calls: 1,
            slow: None,
        },
    );
    record_n(&b, Outcome::Success, 3); // t = 0, bucket [0, 1)
    clock.advance(Duration::from_secs(5));
    record(&b, Outcome::Failure); // 1 / 4
    assert_eq!(b.state(), State::Closed);
    clock.advance(Duration::from_secs(6)); // t = 11: the successes have left
    let m = b.metrics();
    assert_eq!((m.current.window_calls, m.current.window_failures), (1, 1));
    assert_eq!(m.state, State::Closed, "metrics() never trips");
    record(&b, Outcome::Success); // 1 / 2 >= 0.5
    assert_eq!(b.state(), State::Open);
}

#[test]
fn a_success_whose_push_evicts_old_successes_is_evaluated() {
    let clock = ManualClock::new();
    let b = breaker(
        &clock,
        TripPolicy::FailureRate {
            threshold: 0.5,
            window: Window::Time(Duration::from_secs(10)),
            minimum_calls: 1,
            slow: None,
        },
    );
    record_n(&b, Outcome::Success, 3);
    clock.advance(Duration::from_secs(5));
    record(&b, Outcome::Failure);
    clock.advance(Duration::from_secs(6));
    record(&b, Outcome::Success); // evicts 3 successes: 1 / 2
    assert_eq!(b.state(), State::Open);
}

#[test]
fn lock_free_time_window_successes_stay_in_their_bucket() {
    // Once the window holds minimum_calls outcomes, successes inside the current bucket
    // are counted without the lock; they must still leave with their bucket.
    let clock = ManualClock::new();
    let b = breaker(
        &clock,
        TripPolicy::FailureRate {
            threshold: 0.5,
            window: Window::Time(Duration::from_secs(10)),
            minimum_calls: 4,
            slow: None,
        },
    );
    clock.advance(Duration::from_millis(500)); // bucket [0 s, 1 s)
    for _ in 0..4 {
        b.call(|| Ok::<_, ()>(())).unwrap();
    }
    clock.advance(Duration::from_millis(100)); // still bucket 0
    for _ in 0..6 {
        b.call(|| Ok::<_, ()>(())).unwrap();
        b.try_acquire().unwrap().success();
    }
    let m = b.metrics();
    assert_eq!(m.current.window_calls, 16);
    assert_eq!(m.current.successes, 16);
    assert_eq!(m.current.requests, 16);
    clock.advance(Duration::from_millis(900)); // t = 1.5 s, bucket 1
    record_n(&b, Outcome::Failure, 3);
    assert_eq!(b.metrics().current.failure_rate, Some(3.0 / 19.0));
    assert_eq!(b.state(), State::Closed);
    // t = 11 s: bucket 0 (all 16 successes) leaves; 3 failures and this success: 3 / 4.
    clock.advance(Duration::from_millis(9500));
    b.call(|| Ok::<_, ()>(())).unwrap();
    let m = b.metrics();
    assert_eq!(m.state, State::Open);
    assert_eq!(m.totals.successes, 17);
    assert_eq!(m.totals.failures, 3);
}

#[test]
fn lock_free_time_window_successes_count_toward_the_rate_of_the_next_failure() {
    let clock = ManualClock::new();
    let b = breaker(
        &clock,
        TripPolicy::FailureRate {
            threshold: 0.5,
            window: Window::Time(Duration::from_secs(10)),
            minimum_calls: 2,
            slow: None,
        },
    );
    record_n(&b, Outcome::Success, 2);
    for _ in 0..3 {
        b.call(|| Ok::<_, ()>(())).unwrap(); // lock-free
    }
    record_n(&b, Outcome::Failure, 4); // 4 / 9 < 0.5
    assert_eq!(b.state(), State::Closed);
    record(&b, Outcome::Failure); // 5 / 10
    assert_eq!(b.state(), State::Open);
}
