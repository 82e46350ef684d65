//! A four-stage pipeline (rate limit -> bulkhead -> breaker -> retry -> call) against a
//! bare call and each stage alone.
//!
//! `cargo bench --bench pipeline -- --warm-up-time 1 --measurement-time 2`
#![allow(
    missing_docs,
    reason = "criterion's macros generate undocumented items"
)]

use std::hint::black_box;
use std::time::Duration;

use breakwater::{Backoff, Bulkhead, CircuitBreaker, Pipeline, RateLimiter, Retry};
use criterion::{Criterion, criterion_group, criterion_main};

fn work(_ctx: &breakwater::Ctx) -> Result<u64, ()> {
    Ok(black_box(7u64).wrapping_mul(31))
}

fn benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("pipeline");
    g.bench_function("bare call", |b| {
        let ctx = breakwater::Ctx::new();
        b.iter(|| work(&ctx))
    });
    let empty = Pipeline::<u64, ()>::builder().build();
    g.bench_function("empty pipeline", |b| b.iter(|| empty.call(work)));
    let four = Pipeline::<u64, ()>::builder()
        .rate_limit(
            RateLimiter::builder()
                .permits(1_000_000_000)
                .period(Duration::from_secs(1))
                .build()
                .unwrap(),
            Duration::ZERO,
        )
        .bulkhead(Bulkhead::builder().max_concurrent(64).build().unwrap())
        .breaker(
            CircuitBreaker::builder()
                .consecutive_failures(5)
                .build()
                .unwrap(),
        )
        .retry(
            Retry::builder()
                .max_attempts(3)
                .backoff(Backoff::Fixed(Duration::ZERO))
                .build()
                .unwrap(),
        )
        .build();
    g.bench_function("rate_limit -> bulkhead -> breaker -> retry -> call", |b| {
        b.iter(|| four.call(work))
    });
    g.finish();
}

criterion_group!(pipeline, benches);
criterion_main!(pipeline);
