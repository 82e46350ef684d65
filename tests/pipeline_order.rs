//! Pipelines: stage order, retry around a breaker, deadlines, time limits, fallbacks.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use breakwater::State;
use breakwater::TimeLimiter;
use breakwater::{
    Backoff, CircuitBreaker, Clock, Error, ManualClock, Pipeline, PolicyKind, RejectReason, Retry,
};

fn breaker(clock: &ManualClock, failures: u32) -> CircuitBreaker {
    CircuitBreaker::builder()
        .consecutive_failures(failures)
        .open_duration(Duration::from_secs(30))
        .clock(Clock::from(clock))
        .build()
        .unwrap()
}

fn retry(clock: &ManualClock, attempts: u32, delay: Duration) -> Retry {
    Retry::builder()
        .max_attempts(attempts)
        .backoff(Backoff::Fixed(delay))
        .clock(Clock::from(clock))
        .build()
        .unwrap()
}

#[test]
fn retry_around_breaker_returns_the_rejection_at_once_without_sleeping() {
    let clock = ManualClock::new();
    let b = breaker(&clock, 3);
    let pipeline = Pipeline::<(), &'static str>::builder()
        .clock(Clock::from(&clock))
        .retry(retry(&clock, 7, Duration::from_secs(1)))
        .breaker(b.clone())
        .build();
    let runs = Arc::new(AtomicU32::new(0));
    let seen = Arc::clone(&runs);
    let attempts = Arc::new(AtomicU32::new(0));
    let reported = Arc::clone(&attempts);
    let result = pipeline.call(move |ctx| {
        reported.store(ctx.attempt(), Ordering::SeqCst);
        seen.fetch_add(1, Ordering::SeqCst);
        Err("dependency down")
    });
    // Three attempts ran and failed; the breaker opened on the third; the fourth attempt
    // was rejected by the breaker and returned at once.
    assert_eq!(runs.load(Ordering::SeqCst), 3);
    assert_eq!(attempts.load(Ordering::SeqCst), 3);
    match result {
        Err(Error::Rejected { policy, reason, .. }) => {
            assert_eq!(policy, PolicyKind::CircuitBreaker);
            assert_eq!(reason, RejectReason::Open);
        }
        other => panic!("expected the breaker's rejection, got {other:?}"),
    }
    assert_eq!(b.state(), State::Open);
    // Slept exactly three delays (after attempts 1, 2, 3); none after the rejection.
    assert_eq!(clock.elapsed(), Duration::from_secs(3));
    let m = b.metrics();
    assert_eq!(m.totals.requests, 3);
    assert_eq!(m.totals.failures, 3);
    assert_eq!(m.totals.rejected_open, 1);
}

#[test]
fn breaker_outside_retry_sees_one_outcome_per_call() {
    let clock = ManualClock::new();
    let b = breaker(&clock, 100);
    let pipeline = Pipeline::<u32, &'static str>::builder()
        .clock(Clock::from(&clock))
        .breaker(b.clone())
        .retry(retry(&clock, 3, Duration::ZERO))
        .build();
    let n = Arc::new(AtomicU32::new(0));
    let n2 = Arc::clone(&n);
    let result = pipeline.call(move |ctx| {
        n2.fetch_add(1, Ordering::SeqCst);
        if ctx.attempt() < 3 {
            Err("flaky")
        } else {
            Ok(ctx.attempt())
        }
    });
    assert_eq!(result.unwrap(), 3);
    assert_eq!(n.load(Ordering::SeqCst), 3);
    let m = b.metrics();
    assert_eq!(m.totals.requests, 1);
    assert_eq!(m.totals.successes, 1);
    assert_eq!(m.totals.failures, 0);
}

#[test]
fn breaker_inside_retry_sees_every_attempt() {
    let clock = ManualClock::new();
    let b = breaker(&clock, 100);
    let pipeline = Pipeline::<u32, &'static str>::builder()
        .clock(Clock::from(&clock))
        .retry(retry(&clock, 3, Duration::ZERO))
        .breaker(b.clone())
        .build();
    let result = pipeline.call(|ctx| {
        if ctx.attempt() < 3 {
            Err("flaky")
        } else {
            Ok(7)
        }
    });
    assert_eq!(result.unwrap(), 7);
    let m = b.metrics();
    assert_eq!(m.totals.requests, 3);
    assert_eq!(m.totals.successes, 1);
    assert_eq!(m.totals.failures, 2);
}

#[test]
fn failed_error_carries_the_attempt_count() {
    let clock = ManualClock::new();
    let pipeline = Pipeline::<(), &'static str>::builder()
        .clock(Clock::from(&clock))
        .retry(retry(&clock, 4, Duration::from_millis(10)))
        .build();
    let err = pipeline.call(|_| Err("no")).unwrap_err();
    assert_eq!(err.attempts(), 4);
    assert_eq!(err.into_inner(), Some("no"));
    assert_eq!(clock.elapsed(), Duration::from_millis(30));
}

#[test]
fn total_deadline_stops_retries_whose_delay_would_end_past_it() {
    let clock = ManualClock::new();
    let pipeline = Pipeline::<(), &'static str>::builder()
        .clock(Clock::from(&clock))
        .deadline(Duration::from_millis(2500))
        .retry(retry(&clock, 10, Duration::from_secs(1)))
        .build();
    let runs = Arc::new(AtomicU32::new(0));
    let r2 = Arc::clone(&runs);
    let err = pipeline
        .call(move |_| {
            r2.fetch_add(1, Ordering::SeqCst);
            Err("down")
        })
        .unwrap_err();
    // Attempts at 0 s, 1 s, 2 s; a retry at 3 s would end past the 2.5 s deadline.
    assert_eq!(runs.load(Ordering::SeqCst), 3);
    assert_eq!(err.attempts(), 3);
    assert_eq!(clock.elapsed(), Duration::from_secs(2));
}

#[test]
fn expired_deadline_is_a_timeout_before_the_call_runs() {
    let clock = ManualClock::new();
    let pipeline = Pipeline::<(), ()>::builder()
        .clock(Clock::from(&clock))
        .deadline(Duration::ZERO)
        .build();
    let err = pipeline.call(|_| panic!("must not run")).unwrap_err();
    assert!(matches!(
        err,
        Error::TimedOut {
            policy: PolicyKind::Deadline
        }
    ));
}

#[test]
fn fallback_answers_rejections_of_an_open_breaker() {
    let clock = ManualClock::new();
    let b = breaker(&clock, 1);
    b.force_open();
    let pipeline = Pipeline::<&'static str, ()>::builder()
        .clock(Clock::from(&clock))
        .fallback_with(|e| e.is_rejected(), |_| Ok("temporary unavailable"))
        .breaker(b)
        .build();
    assert_eq!(
        pipeline.call(|_| Ok("author")).unwrap(),
        "temporary unavailable"
    );
}

#[test]
fn fallback_filter_lets_other_errors_through() {
    let pipeline = Pipeline::<&'static str, &'static str>::builder()
        .fallback_with(|e| e.is_rejected(), |_| Ok("fallback"))
        .build();
    let err = pipeline.call(|_| Err("boom")).unwrap_err();
    assert_eq!(err.into_inner(), Some("boom"));
}

#[test]
fn time_limit_inside_retry_retries_abandoned_attempts() {
    let clock = ManualClock::new();
    let limiter = TimeLimiter::builder()
        .timeout(Duration::from_secs(1))
        .max_threads(4)
        .clock(Clock::from(&clock))
        .build()
        .unwrap();
    let pipeline = Pipeline::<u32, ()>::builder()
        .clock(Clock::from(&clock))
        .retry(retry(&clock, 2, Duration::ZERO))
        .time_limit(limiter.clone())
        .build();
    let (release_tx, release_rx) = crossbeam_channel::unbounded::<()>();
    let (started_tx, started_rx) = crossbeam_channel::unbounded::<()>();
    let advancer = {
        let clock = clock.clone();
        std::thread::spawn(move || {
            // Wait until the first attempt runs and the caller is parked on it, then
            // pass its deadline.
            started_rx.recv().unwrap();
            while clock.waiters() == 0 {
                std::thread::yield_now();
            }
            clock.advance(Duration::from_secs(1));
        })
    };
    let rx = release_rx.clone();
    let result = pipeline.call(move |ctx| {
        if ctx.attempt() == 1 {
            started_tx.send(()).unwrap();
            // Never answers in time: blocked until the test releases it.
            let _ = rx.recv();
            Err(())
        } else {
            Ok(ctx.attempt())
        }
    });
    advancer.join().unwrap();
    assert_eq!(result.unwrap(), 2);
    assert_eq!(limiter.metrics().timed_out, 1);
    release_tx.send(()).unwrap();
}

#[test]
fn describe_lists_both_reference_orders() {
    let clock = ManualClock::new();
    let reference = Pipeline::<(), ()>::builder()
        .bulkhead(
            breakwater::Bulkhead::builder()
                .max_concurrent(20)
                .build()
                .unwrap(),
        )
        .breaker(breaker(&clock, 5))
        .retry(retry(&clock, 3, Duration::ZERO))
        .time_limit(
            TimeLimiter::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap(),
        )
        .build();
    assert_eq!(
        reference.describe(),
        "bulkhead -> breaker -> retry -> time_limit -> call"
    );
    let http = Pipeline::<(), ()>::builder()
        .rate_limit(
            breakwater::RateLimiter::builder()
                .permits(100)
                .period(Duration::from_secs(1))
                .build()
                .unwrap(),
            Duration::ZERO,
        )
        .deadline(Duration::from_secs(10))
        .retry(retry(&clock, 3, Duration::ZERO))
        .breaker(breaker(&clock, 5))
        .time_limit(
            TimeLimiter::builder()
                .timeout(Duration::from_secs(2))
                .build()
                .unwrap(),
        )
        .build();
    assert_eq!(
        http.describe(),
        "rate_limit -> deadline -> retry -> breaker -> time_limit -> call"
    );
}

#[test]
fn rate_limit_rejection_is_not_retried() {
    let clock = ManualClock::new();
    let limiter = breakwater::RateLimiter::builder()
        .permits(1)
        .period(Duration::from_secs(1))
        .clock(Clock::from(&clock))
        .build()
        .unwrap();
    let pipeline = Pipeline::<(), ()>::builder()
        .clock(Clock::from(&clock))
        .retry(retry(&clock, 5, Duration::ZERO))
        .rate_limit(limiter, Duration::ZERO)
        .build();
    let runs = Arc::new(AtomicU32::new(0));
    let r2 = Arc::clone(&runs);
    let err = pipeline
        .call(move |_| {
            r2.fetch_add(1, Ordering::SeqCst);
            Err(())
        })
        .unwrap_err();
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert!(matches!(
        err,
        Error::Rejected {
            policy: PolicyKind::RateLimiter,
            reason: RejectReason::RateLimited,
            retry_after: Some(_)
        }
    ));
}
