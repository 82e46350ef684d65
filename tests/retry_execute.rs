//! `Retry::execute` and `Retry::call` on a manual clock: what is retried, what is
//! returned, the time budget, Retry-After hints, inner rejections and the on_retry hook.

use std::cell::Cell;
use std::time::Duration;

use breakwater::{
    Backoff, CancelToken, Clock, Ctx, Error, ManualClock, PolicyKind, RejectReason, Retry,
    RetryBudget, RetryDecision, RetryEvent,
};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// A retry with `attempts` attempts and a fixed delay, on `clock`.
fn fixed(clock: &ManualClock, attempts: u32, delay: Duration) -> breakwater::RetryBuilder {
    Retry::builder()
        .max_attempts(attempts)
        .backoff(Backoff::Fixed(delay))
        .clock(clock.into())
}

fn ctx(clock: &ManualClock) -> Ctx {
    Ctx::with_clock(clock.into())
}

type R<T> = Result<T, Error<&'static str>>;

fn no_hook<T>(_: &RetryEvent, _: &R<T>) {}

#[test]
fn call_retries_every_failure_and_reports_the_attempts() {
    let clock = ManualClock::new();
    let retry = fixed(&clock, 4, ms(100)).build().unwrap();
    let calls = Cell::new(0);
    let err = retry
        .call(|_| {
            calls.set(calls.get() + 1);
            Err::<(), _>(Error::failed("down"))
        })
        .unwrap_err();
    assert_eq!(calls.get(), 4);
    assert_eq!(err.attempts(), 4);
    assert_eq!(err.into_inner(), Some("down"));
    assert_eq!(clock.elapsed(), ms(300));
}

#[test]
fn call_returns_the_first_success() {
    let clock = ManualClock::new();
    let retry = fixed(&clock, 5, secs(1)).build().unwrap();
    let calls = Cell::new(0);
    let v = retry.call(|_| {
        calls.set(calls.get() + 1);
        if calls.get() == 3 {
            Ok("up")
        } else {
            Err(Error::failed("down"))
        }
    });
    assert_eq!(v.unwrap(), "up");
    assert_eq!(calls.get(), 3);
    assert_eq!(clock.elapsed(), secs(2));
}

#[test]
fn each_attempt_sees_its_number_in_the_context() {
    let clock = ManualClock::new();
    let retry = fixed(&clock, 3, ms(1)).build().unwrap();
    let mut seen = Vec::new();
    let deadline = clock.now() + secs(60);
    let ctx = ctx(&clock).with_deadline(deadline);
    let _ = retry.execute(&ctx, RetryDecision::default_for, no_hook, |c| {
        seen.push((c.attempt(), c.deadline()));
        Err::<(), _>(Error::failed("x"))
    });
    assert_eq!(
        seen,
        [
            (1, Some(deadline)),
            (2, Some(deadline)),
            (3, Some(deadline))
        ]
    );
}

#[test]
fn a_permanent_error_is_returned_at_once() {
    let clock = ManualClock::new();
    let retry = fixed(&clock, 5, secs(1)).build().unwrap();
    let calls = Cell::new(0);
    let r: R<()> = retry.execute(
        &ctx(&clock),
        |_| RetryDecision::Permanent,
        no_hook,
        |_| {
            calls.set(calls.get() + 1);
            Err(Error::failed("bad request"))
        },
    );
    assert_eq!(calls.get(), 1);
    assert_eq!(r.unwrap_err().attempts(), 1);
    assert_eq!(clock.elapsed(), Duration::ZERO);
}

#[test]
fn the_final_error_carries_the_attempts_that_ran_not_the_inner_count() {
    let clock = ManualClock::new();
    let retry = fixed(&clock, 3, ms(10)).build().unwrap();
    let r: R<()> = retry.execute(&ctx(&clock), RetryDecision::default_for, no_hook, |_| {
        Err(Error::Failed {
            error: "inner",
            attempts: 99,
        })
    });
    assert_eq!(r.unwrap_err().attempts(), 3);
}

#[test]
fn values_can_be_retried_and_the_last_value_is_returned() {
    let clock = ManualClock::new();
    let retry = fixed(&clock, 3, secs(1)).build().unwrap();
    let classify = |r: &R<u16>| match r {
        Ok(503) => RetryDecision::Retry,
        other => RetryDecision::default_for(other),
    };
    let calls = Cell::new(0);
    let r = retry.execute(&ctx(&clock), classify, no_hook, |_| {
        calls.set(calls.get() + 1);
        Ok(503)
    });
    assert_eq!(r.unwrap(), 503);
    assert_eq!(calls.get(), 3);
    assert_eq!(clock.elapsed(), secs(2));

    let mut answers = [503, 503, 200].into_iter();
    let r = retry.execute(&ctx(&clock), classify, no_hook, |_| {
        Ok(answers.next().unwrap())
    });
    assert_eq!(r.unwrap(), 200);
}

#[test]
fn timeouts_are_retried_by_default_and_returned_as_timeouts_at_the_end() {
    let clock = ManualClock::new();
    let retry = fixed(&clock, 3, ms(50)).build().unwrap();
    let calls = Cell::new(0);
    let r: R<()> = retry.execute(&ctx(&clock), RetryDecision::default_for, no_hook, |_| {
        calls.set(calls.get() + 1);
        Err(Error::TimedOut {
            policy: PolicyKind::TimeLimiter,
        })
    });
    assert_eq!(calls.get(), 3);
    assert!(matches!(
        r,
        Err(Error::TimedOut {
            policy: PolicyKind::TimeLimiter
        })
    ));

    let mut outcomes = [
        Err(Error::TimedOut {
            policy: PolicyKind::TimeLimiter,
        }),
        Ok(7),
    ]
    .into_iter();
    let r: R<u8> = retry.execute(&ctx(&clock), RetryDecision::default_for, no_hook, |_| {
        outcomes.next().unwrap()
    });
    assert_eq!(r.unwrap(), 7);
}

fn rejected<T>() -> R<T> {
    Err(Error::Rejected {
        policy: PolicyKind::CircuitBreaker,
        reason: RejectReason::Open,
        retry_after: Some(secs(30)),
    })
}

#[test]
fn an_inner_breaker_rejection_is_returned_at_once_without_sleeping() {
    // A fake breaker: three failures, then it is open and rejects.
    let clock = ManualClock::new();
    let retry = fixed(&clock, 7, secs(1)).build().unwrap();
    let failures = Cell::new(0);
    let calls = Cell::new(0);
    let rejected_at = Cell::new(None);
    let mut events = Vec::new();
    let r: R<()> = retry.execute(
        &ctx(&clock),
        // Even a classifier that retries everything cannot retry a rejection.
        |_| RetryDecision::Retry,
        |e, _| events.push((e.attempt, e.delay)),
        |c| {
            calls.set(calls.get() + 1);
            if failures.get() >= 3 {
                rejected_at.set(Some(clock.elapsed()));
                return rejected();
            }
            failures.set(failures.get() + 1);
            assert_eq!(c.attempt(), failures.get());
            Err(Error::failed("refused"))
        },
    );
    assert_eq!(calls.get(), 4, "4 attempts reported");
    assert!(matches!(
        r,
        Err(Error::Rejected {
            policy: PolicyKind::CircuitBreaker,
            reason: RejectReason::Open,
            ..
        })
    ));
    assert_eq!(events, [(1, secs(1)), (2, secs(1)), (3, secs(1))]);
    assert_eq!(rejected_at.get(), Some(secs(3)));
    assert_eq!(clock.elapsed(), secs(3), "no sleep after the rejection");
}

#[test]
fn a_rejection_with_a_retry_after_hint_is_still_not_retried() {
    let clock = ManualClock::new();
    let retry = fixed(&clock, 3, ms(1)).build().unwrap();
    let calls = Cell::new(0);
    let r: R<()> = retry.execute(
        &ctx(&clock),
        |_| RetryDecision::RetryAfter(ms(5)),
        no_hook,
        |_| {
            calls.set(calls.get() + 1);
            rejected()
        },
    );
    assert_eq!(calls.get(), 1);
    assert_eq!(r.unwrap_err().retry_after(), Some(secs(30)));
    assert_eq!(clock.elapsed(), Duration::ZERO);
}

#[test]
fn on_retry_sees_each_failed_attempt_its_delay_elapsed_time_and_outcome() {
    let clock = ManualClock::new();
    let retry = Retry::builder()
        .max_attempts(4)
        .backoff(Backoff::Exponential {
            initial: ms(100),
            multiplier: 2.0,
        })
        .build()
        .unwrap();
    let mut seen = Vec::new();
    let r: R<()> = retry.execute(
        &ctx(&clock),
        RetryDecision::default_for,
        |e, outcome| {
            seen.push((
                e.attempt,
                e.delay,
                e.elapsed,
                *outcome.as_ref().unwrap_err().inner().unwrap(),
            ))
        },
        |c| {
            clock.advance(ms(10)); // each attempt takes 10 ms
            Err(Error::failed(
                ["e1", "e2", "e3", "e4"][c.attempt() as usize - 1],
            ))
        },
    );
    assert_eq!(
        seen,
        [
            (1, ms(100), ms(10), "e1"),
            (2, ms(200), ms(120), "e2"),
            (3, ms(400), ms(330), "e3"),
        ]
    );
    assert_eq!(r.unwrap_err().into_inner(), Some("e4"));
    assert_eq!(clock.elapsed(), ms(740));
}

#[test]
fn no_retry_starts_whose_delay_would_end_past_max_elapsed() {
    let clock = ManualClock::new();
    let retry = fixed(&clock, 10, secs(1))
        .max_elapsed(ms(3500))
        .build()
        .unwrap();
    let calls = Cell::new(0);
    let r = retry.call(|_| {
        calls.set(calls.get() + 1);
        Err::<(), _>(Error::failed("down"))
    });
    // Retries start at 1, 2 and 3 s; the next would end at 4 s > 3.5 s.
    assert_eq!(calls.get(), 4);
    assert_eq!(r.unwrap_err().attempts(), 4);
    assert_eq!(clock.elapsed(), secs(3));
}

#[test]
fn attempt_durations_count_against_max_elapsed() {
    let clock = ManualClock::new();
    let retry = fixed(&clock, 10, secs(1))
        .max_elapsed(ms(3500))
        .build()
        .unwrap();
    let calls = Cell::new(0);
    let r = retry.call(|_| {
        calls.set(calls.get() + 1);
        clock.advance(ms(200));
        Err::<(), _>(Error::failed("slow and down"))
    });
    // 0-0.2 a1, 1.2-1.4 a2, 2.4-2.6 a3; a retry at 3.6 s would end past 3.5 s.
    assert_eq!(calls.get(), 3);
    assert_eq!(r.unwrap_err().attempts(), 3);
    assert_eq!(clock.elapsed(), ms(2600));
}

#[test]
fn a_retry_ending_exactly_at_the_budget_is_not_started() {
    let clock = ManualClock::new();
    let retry = fixed(&clock, 10, secs(1))
        .max_elapsed(secs(3))
        .build()
        .unwrap();
    let calls = Cell::new(0);
    let _ = retry.call(|_| {
        calls.set(calls.get() + 1);
        Err::<(), _>(Error::failed("down"))
    });
    assert_eq!(calls.get(), 3);
    assert_eq!(clock.elapsed(), secs(2));
}

#[test]
fn a_larger_retry_after_hint_replaces_the_computed_delay_and_a_smaller_one_does_not() {
    let clock = ManualClock::new();
    let retry = fixed(&clock, 3, ms(100)).build().unwrap();
    let hints = [
        RetryDecision::RetryAfter(secs(2)),
        RetryDecision::RetryAfter(ms(50)),
    ];
    let next_hint = Cell::new(0);
    let mut delays = Vec::new();
    let r: R<()> = retry.execute(
        &ctx(&clock),
        |r| match r {
            Err(_) => {
                let i = next_hint.get();
                next_hint.set(i + 1);
                hints.get(i).copied().unwrap_or(RetryDecision::Permanent)
            }
            Ok(_) => RetryDecision::Done,
        },
        |e, _| delays.push(e.delay),
        |_| Err(Error::failed("429")),
    );
    assert_eq!(delays, [secs(2), ms(100)]);
    assert_eq!(r.unwrap_err().attempts(), 3);
    assert_eq!(clock.elapsed(), ms(2100));
}

#[test]
fn a_retry_after_hint_past_the_budget_stops_retrying() {
    let clock = ManualClock::new();
    let retry = fixed(&clock, 5, ms(100))
        .max_elapsed(secs(5))
        .build()
        .unwrap();
    let calls = Cell::new(0);
    let mut events = 0;
    let r: R<u16> = retry.execute(
        &ctx(&clock),
        |_| RetryDecision::RetryAfter(secs(10)),
        |_, _| events += 1,
        |_| {
            calls.set(calls.get() + 1);
            Ok(503)
        },
    );
    assert_eq!(r.unwrap(), 503, "the last outcome is returned");
    assert_eq!(calls.get(), 1);
    assert_eq!(events, 0);
    assert_eq!(clock.elapsed(), Duration::ZERO);
}

#[test]
fn the_callers_deadline_wins_when_sooner_than_max_elapsed() {
    let clock = ManualClock::new();
    let retry = fixed(&clock, 10, secs(1))
        .max_elapsed(secs(10))
        .build()
        .unwrap();
    let calls = Cell::new(0);
    let r: R<()> = retry.execute(
        &ctx(&clock).with_timeout(ms(2500)),
        RetryDecision::default_for,
        no_hook,
        |_| {
            calls.set(calls.get() + 1);
            Err(Error::failed("down"))
        },
    );
    assert_eq!(calls.get(), 3);
    assert_eq!(r.unwrap_err().attempts(), 3);
    assert_eq!(clock.elapsed(), secs(2));
}

#[test]
fn max_elapsed_wins_when_sooner_than_the_callers_deadline() {
    let clock = ManualClock::new();
    let retry = fixed(&clock, 10, secs(1))
        .max_elapsed(ms(2500))
        .build()
        .unwrap();
    let calls = Cell::new(0);
    let _: R<()> = retry.execute(
        &ctx(&clock).with_timeout(secs(20)),
        RetryDecision::default_for,
        no_hook,
        |_| {
            calls.set(calls.get() + 1);
            Err(Error::failed("down"))
        },
    );
    assert_eq!(calls.get(), 3);
    assert_eq!(clock.elapsed(), secs(2));
}

#[test]
fn an_expired_caller_deadline_allows_the_first_attempt_only() {
    let clock = ManualClock::new();
    let retry = fixed(&clock, 5, Duration::ZERO).build().unwrap();
    let calls = Cell::new(0);
    let _: R<()> = retry.execute(
        &ctx(&clock).with_timeout(Duration::ZERO),
        RetryDecision::default_for,
        no_hook,
        |_| {
            calls.set(calls.get() + 1);
            Err(Error::failed("down"))
        },
    );
    assert_eq!(calls.get(), 1);
}

#[test]
fn a_cancelled_call_is_not_retried() {
    let clock = ManualClock::new();
    let retry = fixed(&clock, 5, secs(1)).build().unwrap();
    let token = CancelToken::new();
    let calls = Cell::new(0);
    let r: R<()> = retry.execute(
        &ctx(&clock).with_cancel(token.clone()),
        RetryDecision::default_for,
        no_hook,
        |c| {
            calls.set(calls.get() + 1);
            if c.attempt() == 2 {
                token.cancel();
            }
            Err(Error::failed("down"))
        },
    );
    assert_eq!(calls.get(), 2);
    assert_eq!(r.unwrap_err().attempts(), 2);
    assert_eq!(clock.elapsed(), secs(1));
}

#[test]
fn execute_sleeps_on_the_contexts_clock() {
    // The retry's own clock is the monotonic one; the call's context is manual.
    let clock = ManualClock::new();
    let retry = Retry::builder()
        .max_attempts(3)
        .backoff(Backoff::Fixed(secs(3600)))
        .build()
        .unwrap();
    let _: R<()> = retry.execute(&ctx(&clock), RetryDecision::default_for, no_hook, |_| {
        Err(Error::failed("down"))
    });
    assert_eq!(clock.elapsed(), secs(7200));
}

#[test]
fn a_retry_budget_limits_the_retries_of_execute() {
    let clock = ManualClock::new();
    // Half the calls may be retried: 2000 units per retry, 1000 per call.
    let budget = RetryBudget::new(0.5, secs(10), 0, Clock::from(&clock)).unwrap();
    let retry = fixed(&clock, 3, Duration::ZERO)
        .budget(budget.clone())
        .build()
        .unwrap();
    let attempts = |retry: &Retry| {
        retry
            .call(|_| Err::<(), _>(Error::failed("down")))
            .unwrap_err()
            .attempts()
    };
    assert_eq!(attempts(&retry), 1); // 1000 in the budget: no retry
    assert_eq!(attempts(&retry), 2); // 2000: one retry
    assert_eq!(attempts(&retry), 1);
    assert_eq!(attempts(&retry), 2);
    assert_eq!(budget.balance(), 0);
}

#[test]
fn retry_handles_are_send_sync_and_clone() {
    fn check<T: Send + Sync + Clone + 'static>() {}
    check::<Retry>();
    check::<RetryBudget>();
}
