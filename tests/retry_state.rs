//! The callback-free form: `begin` / `next` give the same delays as `execute`, stop for
//! the right reason, and keep their answer once stopped.

use std::cell::Cell;
use std::time::Duration;

use breakwater::{
    Backoff, Clock, Ctx, Error, Jitter, ManualClock, Retry, RetryBudget, RetryDecision, RetryState,
};
use breakwater::{Next, OutcomeKind, StopReason};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn jittered(clock: &ManualClock, jitter: Jitter) -> Retry {
    Retry::builder()
        .max_attempts(6)
        .backoff(Backoff::Exponential {
            initial: ms(200),
            multiplier: 3.0,
        })
        .max_delay(secs(5))
        .jitter(jitter)
        .min_delay(ms(250))
        .seed(99)
        .clock(clock.into())
        .build()
        .unwrap()
}

/// Runs the state by hand the way a binding would: attempt, report, sleep.
fn drive(retry: &Retry, clock: &ManualClock, kinds: &[OutcomeKind]) -> (Vec<Duration>, Next) {
    let mut state = retry.begin();
    let mut delays = Vec::new();
    for kind in kinds.iter().copied().cycle() {
        match state.next(kind, None) {
            Next::RetryAfter(d) => {
                delays.push(d);
                clock.advance(d);
            }
            stop => return (delays, stop),
        }
    }
    unreachable!()
}

#[test]
fn next_gives_the_same_delays_as_execute() {
    for jitter in [
        Jitter::None,
        Jitter::Full,
        Jitter::Equal,
        Jitter::Proportional(0.3),
        Jitter::Decorrelated,
    ] {
        let clock = ManualClock::new();
        let (by_hand, stop) = drive(&jittered(&clock, jitter), &clock, &[OutcomeKind::Retryable]);
        assert_eq!(stop, Next::Stop(StopReason::AttemptsExhausted));
        assert_eq!(by_hand.len(), 5);
        let hand_elapsed = clock.elapsed();

        let clock = ManualClock::new();
        let mut by_execute = Vec::new();
        let r: Result<(), Error<()>> = jittered(&clock, jitter).execute(
            &Ctx::with_clock(clock.clone().into()),
            RetryDecision::default_for,
            |e, _| by_execute.push(e.delay),
            |_| Err(Error::failed(())),
        );
        assert_eq!(r.unwrap_err().attempts(), 6);
        assert_eq!(by_hand, by_execute, "{jitter:?}");
        assert_eq!(clock.elapsed(), hand_elapsed);
        // And both are the schedule `delays()` shows for a fresh retry.
        assert_eq!(
            jittered(&clock, jitter).delays().collect::<Vec<_>>(),
            by_hand
        );
    }
}

#[test]
fn no_jitter_state_schedule_is_exact() {
    let clock = ManualClock::new();
    let (delays, _) = drive(
        &jittered(&clock, Jitter::None),
        &clock,
        &[OutcomeKind::Retryable],
    );
    // 200 ms raised to the 250 ms floor, then x3, capped at 5 s.
    assert_eq!(delays, [ms(250), ms(600), ms(1800), secs(5), secs(5)]);
    assert_eq!(clock.elapsed(), Duration::from_millis(12_650));
}

#[test]
fn attempt_counts_from_one_and_moves_on_each_granted_retry() {
    let clock = ManualClock::new();
    let retry = jittered(&clock, Jitter::None);
    let mut state = retry.begin();
    assert_eq!(state.attempt(), 1);
    assert_eq!(
        state.next(OutcomeKind::Retryable, None),
        Next::RetryAfter(ms(250))
    );
    assert_eq!(state.attempt(), 2);
    assert_eq!(
        state.next(OutcomeKind::Success, None),
        Next::Stop(StopReason::Succeeded)
    );
    assert_eq!(state.attempt(), 2);
}

#[test]
fn every_stop_reason_and_a_stopped_state_keeps_its_answer() {
    let clock = ManualClock::new();
    let retry = Retry::builder()
        .max_attempts(2)
        .backoff(Backoff::Fixed(secs(1)))
        .clock(clock.clone().into())
        .build()
        .unwrap();
    for (kind, reason) in [
        (OutcomeKind::Success, StopReason::Succeeded),
        (OutcomeKind::Permanent, StopReason::Permanent),
        (OutcomeKind::Rejected, StopReason::Rejected),
    ] {
        let mut state = retry.begin();
        assert_eq!(state.next(kind, Some(ms(1))), Next::Stop(reason));
        assert_eq!(state.stop_reason(), Some(reason));
        assert_eq!(state.next(OutcomeKind::Retryable, None), Next::Stop(reason));
        assert_eq!(state.attempt(), 1);
    }
    let mut state = retry.begin();
    assert_eq!(
        state.next(OutcomeKind::Retryable, None),
        Next::RetryAfter(secs(1))
    );
    assert_eq!(
        state.next(OutcomeKind::Retryable, None),
        Next::Stop(StopReason::AttemptsExhausted)
    );
    assert_eq!(
        state.next(OutcomeKind::Success, None),
        Next::Stop(StopReason::AttemptsExhausted)
    );
    assert_eq!(clock.elapsed(), Duration::ZERO, "the state never sleeps");
}

#[test]
fn budget_and_deadline_stops() {
    let clock = ManualClock::new();
    let budget = RetryBudget::new(0.0, secs(10), 0, Clock::from(&clock)).unwrap();
    let retry = Retry::builder()
        .max_attempts(5)
        .backoff(Backoff::Fixed(secs(1)))
        .max_elapsed(ms(2500))
        .budget(budget)
        .clock(clock.clone().into())
        .build()
        .unwrap();
    let mut state = retry.begin();
    assert_eq!(
        state.next(OutcomeKind::Retryable, None),
        Next::Stop(StopReason::BudgetExhausted)
    );

    let retry = Retry::builder()
        .max_attempts(5)
        .backoff(Backoff::Fixed(secs(1)))
        .max_elapsed(ms(2500))
        .clock(clock.clone().into())
        .build()
        .unwrap();
    let (delays, stop) = drive(&retry, &clock, &[OutcomeKind::Retryable]);
    assert_eq!(delays, [secs(1), secs(1)]);
    assert_eq!(stop, Next::Stop(StopReason::DeadlineReached));
}

#[test]
fn a_deadline_stop_takes_nothing_from_the_budget() {
    let clock = ManualClock::new();
    let budget = RetryBudget::new(0.0, secs(10), 1, Clock::from(&clock)).unwrap();
    assert_eq!(budget.balance(), 10);
    let retry = Retry::builder()
        .backoff(Backoff::Fixed(secs(1)))
        .budget(budget.clone())
        .clock(clock.clone().into())
        .build()
        .unwrap();
    let mut state = retry.begin_with_deadline(Some(clock.now() + ms(500)));
    assert_eq!(
        state.next(OutcomeKind::Retryable, None),
        Next::Stop(StopReason::DeadlineReached)
    );
    assert_eq!(budget.balance(), 10);
    let mut state = retry.begin();
    assert_eq!(
        state.next(OutcomeKind::Retryable, None),
        Next::RetryAfter(secs(1))
    );
    assert_eq!(budget.balance(), 9);
}

#[test]
fn the_callers_deadline_wins_when_sooner_and_max_elapsed_when_it_is() {
    let clock = ManualClock::new();
    let retry = Retry::builder()
        .max_attempts(10)
        .backoff(Backoff::Fixed(secs(1)))
        .max_elapsed(secs(5))
        .clock(clock.clone().into())
        .build()
        .unwrap();
    let t0 = clock.now();
    let state = retry.begin_with_deadline(Some(t0 + secs(3)));
    assert_eq!(state.deadline(), Some(t0 + secs(3)));
    let state = retry.begin_with_deadline(Some(t0 + secs(30)));
    assert_eq!(state.deadline(), Some(t0 + secs(5)));
    assert_eq!(retry.begin().deadline(), Some(t0 + secs(5)));

    let mut state = retry.begin_with_deadline(Some(t0 + ms(2500)));
    let mut n = 0;
    while let Next::RetryAfter(d) = state.next(OutcomeKind::Retryable, None) {
        clock.advance(d);
        n += 1;
    }
    assert_eq!(n, 2);
    assert_eq!(state.stop_reason(), Some(StopReason::DeadlineReached));
}

#[test]
fn retry_after_hints_in_the_state() {
    let clock = ManualClock::new();
    let retry = Retry::builder()
        .max_attempts(5)
        .backoff(Backoff::Fixed(ms(100)))
        .max_elapsed(secs(10))
        .clock(clock.clone().into())
        .build()
        .unwrap();
    let mut state = retry.begin();
    assert_eq!(
        state.next(OutcomeKind::Retryable, Some(secs(3))),
        Next::RetryAfter(secs(3))
    );
    clock.advance(secs(3));
    assert_eq!(
        state.next(OutcomeKind::Retryable, Some(ms(10))),
        Next::RetryAfter(ms(100))
    );
    clock.advance(ms(100));
    // 3.1 s gone; a 7 s hint would end at 10.1 s, past the 10 s budget.
    assert_eq!(
        state.next(OutcomeKind::Retryable, Some(secs(7))),
        Next::Stop(StopReason::DeadlineReached)
    );
    assert_eq!(state.attempt(), 3);
}

#[test]
fn elapsed_reads_the_retrys_clock() {
    let clock = ManualClock::new();
    let retry = jittered(&clock, Jitter::None);
    let state = retry.begin();
    clock.advance(ms(1234));
    assert_eq!(state.elapsed(), ms(1234));
}

#[test]
fn a_state_can_move_to_another_thread() {
    fn is_send<T: Send + 'static>(_: &T) {}
    let clock = ManualClock::new();
    let retry = jittered(&clock, Jitter::Full);
    let mut state: RetryState = retry.begin();
    is_send(&state);
    let first = state.next(OutcomeKind::Retryable, None);
    let handle = std::thread::spawn(move || {
        let second = state.next(OutcomeKind::Retryable, None);
        (second, state.attempt())
    });
    let (second, attempt) = handle.join().unwrap();
    let expected: Vec<Next> = retry.delays().take(2).map(Next::RetryAfter).collect();
    assert_eq!([first, second], expected[..]);
    assert_eq!(attempt, 3);
}

#[test]
fn execute_reports_the_same_attempts_as_the_state() {
    // A value-level retry where the third answer is permanent.
    let clock = ManualClock::new();
    let retry = jittered(&clock, Jitter::None);
    let calls = Cell::new(0);
    let r: Result<u16, Error<()>> = retry.execute(
        &Ctx::with_clock(clock.clone().into()),
        |r| match r {
            Ok(503) => RetryDecision::Retry,
            Ok(400) => RetryDecision::Permanent,
            other => RetryDecision::default_for(other),
        },
        |_, _| {},
        |c| {
            calls.set(calls.get() + 1);
            Ok(if c.attempt() < 3 { 503 } else { 400 })
        },
    );
    assert_eq!(r.unwrap(), 400);
    assert_eq!(calls.get(), 3);

    let clock2 = ManualClock::new();
    let (delays, stop) = drive(
        &jittered(&clock2, Jitter::None),
        &clock2,
        &[
            OutcomeKind::Retryable,
            OutcomeKind::Retryable,
            OutcomeKind::Permanent,
        ],
    );
    assert_eq!(stop, Next::Stop(StopReason::Permanent));
    assert_eq!(delays.len(), 2);
    assert_eq!(clock.elapsed(), clock2.elapsed());
}
