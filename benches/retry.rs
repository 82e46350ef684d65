//! Retry overhead: a call through a retry with zero delay against a bare call.
//!
//! `cargo bench --bench retry` (short warm-up and measurement).
#![allow(
    missing_docs,
    reason = "criterion's macros generate undocumented items"
)]

use std::hint::black_box;
use std::time::Duration;

use breakwater::OutcomeKind;
use breakwater::{Backoff, Clock, Ctx, Error, Jitter, Retry, RetryBudget, RetryDecision};
use criterion::{Criterion, criterion_group, criterion_main};

fn work(x: u64) -> Result<u64, Error<()>> {
    Ok(black_box(x).wrapping_mul(31))
}

fn zero_delay() -> breakwater::RetryBuilder {
    Retry::builder()
        .max_attempts(3)
        .backoff(Backoff::Fixed(Duration::ZERO))
}

fn benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("retry");
    let ctx = Ctx::new();

    g.bench_function("bare call", |b| b.iter(|| work(black_box(7))));

    let retry = zero_delay().build().unwrap();
    g.bench_function("execute, first attempt succeeds", |b| {
        b.iter(|| {
            retry.execute(
                &ctx,
                RetryDecision::default_for,
                |_, _| {},
                |_| work(black_box(7)),
            )
        })
    });

    g.bench_function("execute, one zero-delay retry", |b| {
        b.iter(|| {
            retry.execute(
                &ctx,
                RetryDecision::default_for,
                |_, _| {},
                |c| {
                    if c.attempt() == 1 {
                        Err(Error::failed(()))
                    } else {
                        work(black_box(7))
                    }
                },
            )
        })
    });

    let budget = RetryBudget::new(0.2, Duration::from_secs(10), 10, Clock::monotonic()).unwrap();
    let with_budget = zero_delay().budget(budget).build().unwrap();
    g.bench_function("execute with a retry budget, first attempt succeeds", |b| {
        b.iter(|| {
            with_budget.execute(
                &ctx,
                RetryDecision::default_for,
                |_, _| {},
                |_| work(black_box(7)),
            )
        })
    });

    let jittered = zero_delay().jitter(Jitter::Full).seed(1).build().unwrap();
    g.bench_function(
        "begin + next(retryable) + next(success), full jitter",
        |b| {
            b.iter(|| {
                let mut state = jittered.begin();
                black_box(state.next(OutcomeKind::Retryable, None));
                black_box(state.next(OutcomeKind::Success, None))
            })
        },
    );
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(50)
}

criterion_group! {
    name = retry;
    config = config();
    targets = benches
}
criterion_main!(retry);
