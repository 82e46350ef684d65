//! A pipeline without a time limit runs its closure on the caller's thread within the
//! call, so the closure may borrow locals (and mutate them); a time limit makes the
//! pipeline `Detached` and its closure `'static`.

use std::time::Duration;

use breakwater::{
    Backoff, CircuitBreaker, Clock, Ctx, Detached, Inline, ManualClock, Pipeline, Retry,
    TimeLimiter,
};

fn retry(clock: &ManualClock, attempts: u32) -> Retry {
    Retry::builder()
        .max_attempts(attempts)
        .backoff(Backoff::Fixed(Duration::from_millis(10)))
        .clock(Clock::from(clock))
        .build()
        .unwrap()
}

#[test]
fn an_inline_pipeline_borrows_and_mutates_locals_across_retries() {
    let clock = ManualClock::new();
    let pipeline: Pipeline<usize, String, Inline> = Pipeline::builder()
        .clock(Clock::from(&clock))
        .retry(retry(&clock, 3))
        .breaker(CircuitBreaker::builder().build().unwrap())
        .build();
    let replies = ["reset", "reset", "ok"];
    let mut seen = Vec::new(); // mutated by the closure: FnMut
    let answer = pipeline.call(|ctx| {
        let reply = replies[ctx.attempt() as usize - 1];
        seen.push(ctx.attempt());
        if reply == "ok" {
            Ok(reply.len())
        } else {
            Err(reply.to_string())
        }
    });
    assert_eq!(answer.unwrap(), 2);
    assert_eq!(seen, [1, 2, 3]);
    assert_eq!(clock.elapsed(), Duration::from_millis(20));
}

#[test]
fn call_ctx_borrows_too_and_keeps_the_callers_deadline() {
    let clock = ManualClock::new();
    let pipeline = Pipeline::<u32, &str>::builder()
        .clock(Clock::from(&clock))
        .retry(retry(&clock, 5))
        .build();
    let budget = Duration::from_millis(25);
    let ctx = Ctx::with_clock(Clock::from(&clock)).with_timeout(budget);
    let mut attempts = 0;
    let err = pipeline
        .call_ctx(&ctx, |_| {
            attempts += 1;
            Err("down")
        })
        .unwrap_err();
    // Retries at 10 and 20 ms; the next would end at 30 ms, past the 25 ms deadline.
    assert_eq!(attempts, 3);
    assert_eq!(err.attempts(), 3);
}

#[test]
fn a_time_limit_makes_the_pipeline_detached_and_it_still_runs_owned_closures() {
    let limiter = TimeLimiter::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let pipeline: Pipeline<String, (), Detached> = Pipeline::builder().time_limit(limiter).build();
    let owned = String::from("moved in");
    let answer = pipeline.call(move |_| Ok(owned.clone()));
    assert_eq!(answer.unwrap(), "moved in");
}

#[test]
fn a_detached_builder_takes_stages_chosen_at_run_time() {
    let clock = ManualClock::new();
    type Stage = fn(
        breakwater::PipelineBuilder<u8, (), Detached>,
    ) -> breakwater::PipelineBuilder<u8, (), Detached>;
    let stages: [Stage; 2] = [
        |b| b.deadline(Duration::from_secs(1)),
        |b| b.time_limit(TimeLimiter::builder().build().unwrap()),
    ];
    let mut b = Pipeline::<u8, ()>::builder()
        .clock(Clock::from(&clock))
        .detached();
    for s in stages {
        b = s(b);
    }
    let p = b.build();
    assert_eq!(p.describe(), "deadline -> time_limit -> call");
    assert_eq!(p.call(|_| Ok(7)).unwrap(), 7);
}
