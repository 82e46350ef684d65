//! A retry composed with other policies, by hand (`retry.call(|_| breaker.call(..))`) and
//! in a pipeline: rejections by inner policies are returned at once (unless the retry is
//! told to retry them), and errors never nest.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use breakwater::{
    Backoff, Bulkhead, CircuitBreaker, Clock, Error, ManualClock, Next, OutcomeKind, Pipeline,
    PolicyKind, RateLimiter, RejectReason, Retry, RetryBuilder, StopReason,
};

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn retry(clock: &ManualClock, attempts: u32) -> RetryBuilder {
    Retry::builder()
        .max_attempts(attempts)
        .backoff(Backoff::Fixed(secs(1)))
        .clock(Clock::from(clock))
}

fn breaker(clock: &ManualClock, failures: u32) -> CircuitBreaker {
    CircuitBreaker::builder()
        .consecutive_failures(failures)
        .open_duration(secs(30))
        .clock(Clock::from(clock))
        .build()
        .unwrap()
}

#[test]
fn hand_composed_retry_returns_an_open_breakers_rejection_at_once_and_unnested() {
    let clock = ManualClock::new();
    let b = breaker(&clock, 5);
    b.force_open();
    let r = retry(&clock, 3).build().unwrap();
    let runs = Cell::new(0);
    let err = r
        .call(|_| {
            runs.set(runs.get() + 1);
            b.call(|| Err::<(), _>("down"))
        })
        .unwrap_err();
    assert_eq!(runs.get(), 1, "a rejection is not retried");
    assert_eq!(
        clock.elapsed(),
        Duration::ZERO,
        "no backoff after a rejection"
    );
    match &err {
        Error::Rejected { policy, reason, .. } => {
            assert_eq!(*policy, PolicyKind::CircuitBreaker);
            assert_eq!(*reason, RejectReason::ForcedOpen);
        }
        other => panic!("expected the breaker's rejection, got {other:?}"),
    }
    assert_eq!(
        err.to_string(),
        "circuit breaker rejected the call: forced open"
    );
}

#[test]
fn hand_composed_retry_counts_its_attempts_once_and_keeps_the_message_single() {
    let clock = ManualClock::new();
    let b = breaker(&clock, 10);
    let r = retry(&clock, 3).build().unwrap();
    let err = r.call(|_| b.call(|| Err::<(), _>("down"))).unwrap_err();
    assert_eq!(err.attempts(), 3);
    assert_eq!(err.to_string(), "the call failed after 3 attempt(s): down");
    assert_eq!(err.into_inner(), Some("down"));
    assert_eq!(b.metrics().totals.failures, 3);
    assert_eq!(clock.elapsed(), secs(2));
}

#[test]
fn hand_composed_retry_stops_when_the_breaker_opens_between_attempts() {
    let clock = ManualClock::new();
    let b = breaker(&clock, 2);
    let r = retry(&clock, 5).build().unwrap();
    let runs = Cell::new(0);
    let err = r
        .call(|_| {
            b.call(|| {
                runs.set(runs.get() + 1);
                Err::<(), _>("down")
            })
        })
        .unwrap_err();
    // Two failures open the breaker; the third attempt is rejected and ends the retry.
    assert_eq!(runs.get(), 2);
    assert!(err.is_rejected(), "{err:?}");
    assert_eq!(
        clock.elapsed(),
        secs(2),
        "two waits, none after the rejection"
    );
}

#[test]
fn hand_composed_retry_returns_a_full_bulkheads_rejection_at_once() {
    let clock = ManualClock::new();
    let bulkhead = Bulkhead::builder().max_concurrent(1).build().unwrap();
    let _held = bulkhead.try_acquire().unwrap();
    let r = retry(&clock, 4).build().unwrap();
    let runs = Cell::new(0);
    let err = r
        .call(|_| {
            runs.set(runs.get() + 1);
            bulkhead.call(|| Ok::<_, &str>(1))
        })
        .unwrap_err();
    assert_eq!(runs.get(), 1);
    assert_eq!(err.to_string(), "bulkhead rejected the call: bulkhead full");
    assert_eq!(clock.elapsed(), Duration::ZERO);
}

#[test]
fn retry_rejections_true_retries_a_rate_limiter_rejection_after_its_hint() {
    let clock = ManualClock::new();
    let limiter = RateLimiter::builder()
        .permits(1)
        .period(secs(10))
        .clock(Clock::from(&clock))
        .build()
        .unwrap();
    limiter.try_acquire().unwrap();
    let r = retry(&clock, 3).retry_rejections(true).build().unwrap();
    let runs = Cell::new(0);
    let v = r.call(|_| {
        runs.set(runs.get() + 1);
        limiter.call(|| Ok::<_, ()>("sent"))
    });
    assert_eq!(v.unwrap(), "sent");
    assert_eq!(runs.get(), 2);
    // The 1 s backoff is replaced by the limiter's larger hint: the next permit.
    assert_eq!(clock.elapsed(), secs(10));
}

#[test]
fn retry_rejections_true_returns_the_last_rejection_when_attempts_run_out() {
    let clock = ManualClock::new();
    let b = breaker(&clock, 5);
    b.force_open();
    let r = retry(&clock, 3).retry_rejections(true).build().unwrap();
    let runs = Cell::new(0);
    let err = r
        .call(|_| {
            runs.set(runs.get() + 1);
            b.call(|| Ok::<_, ()>(()))
        })
        .unwrap_err();
    assert_eq!(runs.get(), 3);
    assert!(err.is_rejected());
    assert_eq!(clock.elapsed(), secs(2));
}

#[test]
fn the_callback_free_state_follows_retry_rejections() {
    let clock = ManualClock::new();
    let strict = retry(&clock, 3).build().unwrap();
    let mut s = strict.begin();
    assert_eq!(
        s.next(OutcomeKind::Rejected, Some(secs(5))),
        Next::Stop(StopReason::Rejected)
    );
    let lenient = retry(&clock, 3).retry_rejections(true).build().unwrap();
    let mut s = lenient.begin();
    assert_eq!(
        s.next(OutcomeKind::Rejected, Some(secs(5))),
        Next::RetryAfter(secs(5))
    );
    assert_eq!(
        s.next(OutcomeKind::Rejected, None),
        Next::RetryAfter(secs(1))
    );
    assert_eq!(
        s.next(OutcomeKind::Rejected, None),
        Next::Stop(StopReason::AttemptsExhausted)
    );
}

#[test]
fn pipeline_retry_around_breaker_stops_at_the_rejection_and_counts_attempts_once() {
    let clock = ManualClock::new();
    let b = breaker(&clock, 2);
    let pipeline = Pipeline::<(), &str>::builder()
        .clock(Clock::from(&clock))
        .retry(retry(&clock, 5).build().unwrap())
        .breaker(b.clone())
        .build();
    let runs = Cell::new(0);
    let err = pipeline
        .call(|_| {
            runs.set(runs.get() + 1);
            Err("down")
        })
        .unwrap_err();
    assert_eq!(runs.get(), 2);
    assert!(err.is_rejected());
    assert_eq!(clock.elapsed(), secs(2));

    // Closed again and failing less than the threshold: one Failed, attempts counted once.
    let b = breaker(&clock, 10);
    let pipeline = Pipeline::<(), &str>::builder()
        .clock(Clock::from(&clock))
        .retry(retry(&clock, 3).build().unwrap())
        .breaker(b)
        .build();
    let err = pipeline.call(|_| Err("down")).unwrap_err();
    assert_eq!(err.attempts(), 3);
    assert_eq!(err.to_string(), "the call failed after 3 attempt(s): down");
}

#[test]
fn pipeline_retry_with_retry_rejections_retries_an_open_breaker() {
    let clock = ManualClock::new();
    let b = breaker(&clock, 5);
    b.force_open();
    let pipeline = Pipeline::<(), &str>::builder()
        .clock(Clock::from(&clock))
        .retry(retry(&clock, 3).retry_rejections(true).build().unwrap())
        .breaker(b.clone())
        .build();
    let err = pipeline.call(|_| Ok(())).unwrap_err();
    assert!(err.is_rejected());
    assert_eq!(
        clock.elapsed(),
        secs(2),
        "two waits between three rejections"
    );
    assert_eq!(b.metrics().totals.rejected_forced_open, 3);
}

#[test]
fn a_nested_error_flattens_to_the_inner_policys_error() {
    let b = Bulkhead::builder().max_concurrent(1).build().unwrap();
    let _held = b.try_acquire().unwrap();
    let breaker = CircuitBreaker::builder().build().unwrap();
    // Two plain `call`s nest; `flatten` undoes it.
    let nested = breaker.call(|| b.call(|| Ok::<_, &str>(()))).unwrap_err();
    let flat = nested.flatten();
    assert!(flat.is_rejected());
    assert_eq!(
        flat.to_string(),
        "bulkhead rejected the call: bulkhead full"
    );
}

#[test]
fn an_inline_pipeline_result_need_not_be_send() {
    let p = Pipeline::<Rc<str>, ()>::builder()
        .retry(
            Retry::builder()
                .backoff(Backoff::Fixed(Duration::ZERO))
                .build()
                .unwrap(),
        )
        .build();
    let v = p.call(|_| Ok(Rc::from("local"))).unwrap();
    assert_eq!(&*v, "local");
}
