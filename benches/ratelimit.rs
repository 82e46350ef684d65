//! breakwater's GCRA `try_acquire` against governor 0.10's direct `RateLimiter::check`,
//! in the same run: every acquisition granted (a rate far above the call rate), every
//! acquisition rejected (an exhausted limiter), and both again with two threads sharing
//! one limiter; then the two clock reads underneath. Run with `cargo bench --bench ratelimit`.

use std::hint::black_box;
use std::num::NonZeroU32;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_main};

type Governor = governor::DefaultDirectRateLimiter;

/// One permit per nanosecond with a burst of 2^32 - 1: never runs out at bench speed.
fn ours_open() -> breakwater::RateLimiter {
    breakwater::RateLimiter::builder()
        .rate(1_000_000_000, Duration::from_secs(1))
        .burst(u32::MAX)
        .build()
        .expect("valid configuration")
}

fn governor_open() -> Governor {
    let quota = governor::Quota::per_second(NonZeroU32::new(1_000_000_000).expect("non-zero"))
        .allow_burst(NonZeroU32::MAX);
    governor::RateLimiter::direct(quota)
}

/// One permit per hour, already taken: every acquisition is rejected.
fn ours_exhausted() -> breakwater::RateLimiter {
    let l = breakwater::RateLimiter::builder()
        .rate(1, Duration::from_secs(3600))
        .build()
        .expect("valid configuration");
    l.try_acquire().expect("the first permit is free");
    l
}

fn governor_exhausted() -> Governor {
    let quota = governor::Quota::per_hour(NonZeroU32::MIN);
    let l = governor::RateLimiter::direct(quota);
    l.check().expect("the first permit is free");
    l
}

/// Runs `op` `iters` times on each of `threads` threads started together, and returns
/// the wall time of the slowest thread (time per operation per thread, once divided).
fn contended<F>(threads: usize, iters: u64, op: F) -> Duration
where
    F: Fn() -> bool + Send + Sync + 'static,
{
    let op = Arc::new(op);
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let op = Arc::clone(&op);
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || {
                barrier.wait();
                let start = Instant::now();
                for _ in 0..iters {
                    black_box(op());
                }
                start.elapsed()
            })
        })
        .collect();
    handles
        .into_iter()
        .map(|h| h.join().expect("bench thread"))
        .max()
        .unwrap_or_default()
}

fn single_thread(c: &mut Criterion) {
    let mut g = c.benchmark_group("granted/1 thread");
    let ours = ours_open();
    g.bench_function("breakwater try_acquire", |b| {
        b.iter(|| black_box(ours.try_acquire().is_ok()))
    });
    let gov = governor_open();
    g.bench_function("governor check", |b| {
        b.iter(|| black_box(gov.check().is_ok()))
    });
    g.finish();

    let mut g = c.benchmark_group("rejected/1 thread");
    let ours = ours_exhausted();
    g.bench_function("breakwater try_acquire", |b| {
        b.iter(|| black_box(ours.try_acquire().is_ok()))
    });
    let gov = governor_exhausted();
    g.bench_function("governor check", |b| {
        b.iter(|| black_box(gov.check().is_ok()))
    });
    g.finish();
}

fn two_threads(c: &mut Criterion) {
    let mut g = c.benchmark_group("granted/2 threads");
    let ours = ours_open();
    g.bench_function("breakwater try_acquire", |b| {
        b.iter_custom(|iters| {
            let l = ours.clone();
            contended(2, iters, move || l.try_acquire().is_ok())
        })
    });
    let gov = Arc::new(governor_open());
    g.bench_function("governor check", |b| {
        b.iter_custom(|iters| {
            let l = Arc::clone(&gov);
            contended(2, iters, move || l.check().is_ok())
        })
    });
    g.finish();

    let mut g = c.benchmark_group("rejected/2 threads");
    let ours = ours_exhausted();
    g.bench_function("breakwater try_acquire", |b| {
        b.iter_custom(|iters| {
            let l = ours.clone();
            contended(2, iters, move || l.try_acquire().is_ok())
        })
    });
    let gov = Arc::new(governor_exhausted());
    g.bench_function("governor check", |b| {
        b.iter_custom(|iters| {
            let l = Arc::clone(&gov);
            contended(2, iters, move || l.check().is_ok())
        })
    });
    g.finish();
}

/// The clock reads underneath: most of the difference between the two limiters.
fn clocks(c: &mut Criterion) {
    use governor::clock::Clock as _;
    let mut g = c.benchmark_group("clock read");
    let ours = breakwater::Clock::monotonic();
    g.bench_function("breakwater Clock::nanos (clock_gettime)", |b| {
        b.iter(|| black_box(ours.nanos()))
    });
    g.bench_function("breakwater Clock::nanos_coarse", |b| {
        b.iter(|| black_box(ours.nanos_coarse()))
    });
    let gov = governor::clock::DefaultClock::default();
    g.bench_function("governor DefaultClock::now (quanta, TSC)", |b| {
        b.iter(|| black_box(gov.now()))
    });
    g.finish();

    let mut g = c.benchmark_group("clock read/2 threads");
    g.bench_function("breakwater Clock::nanos (clock_gettime)", |b| {
        b.iter_custom(|iters| {
            let clock = breakwater::Clock::monotonic();
            contended(2, iters, move || {
                black_box(clock.nanos());
                true
            })
        })
    });
    g.bench_function("governor DefaultClock::now (quanta, TSC)", |b| {
        b.iter_custom(|iters| {
            let clock = governor::clock::DefaultClock::default();
            contended(2, iters, move || {
                black_box(clock.now()) == black_box(clock.now())
            })
        })
    });
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(20)
}

#[allow(
    missing_docs,
    reason = "criterion_group! generates an undocumented function"
)]
mod group {
    use super::{clocks, config, single_thread, two_threads};
    criterion::criterion_group! {
        name = benches;
        config = config();
        targets = single_thread, two_threads, clocks
    }
}

criterion_main!(group::benches);
