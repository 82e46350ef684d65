//! Circuit breaker benchmarks, with baselines and two other crates on the same workload
//! (a closure returning `Ok(())` or `Err(())` through `black_box`).
//!
//! `cargo bench --bench breaker -- --warm-up-time 1 --measurement-time 2`
//! Results and ratios: `BENCHMARKS.md`.

#![allow(
    missing_docs,
    reason = "criterion_group! generates an undocumented public function"
)]

use std::hint::black_box;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use breakwater::{CircuitBreaker, ManualClock, TripPolicy, Window};
use criterion::{Criterion, criterion_group, criterion_main};

const HOUR: Duration = Duration::from_secs(3600);

#[inline(never)]
fn work() -> Result<u64, ()> {
    black_box(Ok(1))
}

#[inline(never)]
fn failing() -> Result<u64, ()> {
    black_box(Err(()))
}

fn breaker(policy: TripPolicy) -> CircuitBreaker {
    CircuitBreaker::builder()
        .policy(policy)
        .open_duration(HOUR)
        .build()
        .unwrap()
}

fn baselines(c: &mut Criterion) {
    let mut g = c.benchmark_group("baseline");
    // Every bench returns a bool: returning the 16-byte `Result` itself out of the
    // measured closure costs criterion about 7 ns here, more than what is measured.
    g.bench_function("bare closure call", |b| {
        b.iter(|| black_box(work().is_ok()))
    });
    let m = parking_lot::Mutex::new(0u64);
    g.bench_function("parking_lot lock+unlock", |b| {
        b.iter(|| {
            *m.lock() += 1;
        })
    });
    let clock = breakwater::Clock::monotonic();
    g.bench_function("coarse clock read", |b| {
        b.iter(|| black_box(clock.nanos_coarse()))
    });
    g.bench_function("precise clock read", |b| {
        b.iter(|| black_box(clock.nanos()))
    });
    g.finish();
}

fn closed_success(c: &mut Criterion) {
    let mut g = c.benchmark_group("closed success");
    let cases = [
        (
            "consecutive",
            TripPolicy::ConsecutiveFailures { threshold: 5 },
        ),
        (
            "failures in window",
            TripPolicy::FailuresInWindow {
                threshold: 5,
                window: Duration::from_secs(10),
            },
        ),
        (
            "count rate",
            TripPolicy::FailureRate {
                threshold: 0.5,
                window: Window::Count(100),
                minimum_calls: 10,
                slow: None,
            },
        ),
        (
            "time rate",
            TripPolicy::FailureRate {
                threshold: 0.5,
                window: Window::Time(Duration::from_secs(30)),
                minimum_calls: 10,
                slow: None,
            },
        ),
        (
            "slow rate",
            TripPolicy::SlowCallRate {
                slow: breakwater::SlowCalls {
                    threshold: 0.5,
                    slow_duration: Duration::from_secs(1),
                },
                window: Window::Count(100),
                minimum_calls: 10,
            },
        ),
    ];
    for (name, policy) in cases {
        let b = breaker(policy);
        g.bench_function(name, |bench| bench.iter(|| black_box(b.call(work).is_ok())));
    }
    g.finish();
}

fn rejections_and_protocol(c: &mut Criterion) {
    let mut g = c.benchmark_group("breakwater");
    let open = breaker(TripPolicy::ConsecutiveFailures { threshold: 1 });
    let _ = open.call(failing);
    assert!(open.call(work).unwrap_err().is_rejected());
    g.bench_function("open rejection", |b| {
        b.iter(|| black_box(open.call(work).is_err()))
    });

    let clock = ManualClock::new();
    let trial = CircuitBreaker::builder()
        .consecutive_failures(1)
        .open_duration(HOUR)
        .clock((&clock).into())
        .build()
        .unwrap();
    let _ = trial.call(failing);
    clock.advance(HOUR);
    let _held = trial.try_acquire().unwrap();
    assert!(trial.call(work).unwrap_err().is_rejected());
    g.bench_function("trial-full rejection", |b| {
        b.iter(|| black_box(trial.call(work).is_err()))
    });

    let b = breaker(TripPolicy::ConsecutiveFailures { threshold: 5 });
    g.bench_function("protocol acquire+success (Permit)", |bench| {
        bench.iter(|| {
            let p = b.try_acquire().unwrap();
            let _ = black_box(work());
            p.success()
        })
    });
    g.bench_function("protocol acquire+success (raw)", |bench| {
        bench.iter(|| {
            let p = b.try_acquire_raw().unwrap();
            let _ = black_box(work());
            b.record_raw(p, breakwater::Outcome::Success, None)
        })
    });
    g.finish();
}

/// Per-call cost with `threads` threads calling one breaker at once: the wall time of
/// the slowest thread divided by the calls each thread made.
fn threaded(b: &CircuitBreaker, threads: usize, iters: u64) -> Duration {
    let start = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let b = b.clone();
            let start = start.clone();
            thread::spawn(move || {
                start.wait();
                let t0 = Instant::now();
                for _ in 0..iters {
                    black_box(b.call(work).is_ok());
                }
                t0.elapsed()
            })
        })
        .collect();
    handles
        .into_iter()
        .map(|h| h.join().unwrap())
        .max()
        .unwrap()
}

fn contention(c: &mut Criterion) {
    let mut g = c.benchmark_group("threads");
    for (name, policy) in [
        (
            "consecutive",
            TripPolicy::ConsecutiveFailures { threshold: 5 },
        ),
        (
            "time rate",
            TripPolicy::FailureRate {
                threshold: 0.5,
                window: Window::Time(Duration::from_secs(30)),
                minimum_calls: 10,
                slow: None,
            },
        ),
    ] {
        let b = breaker(policy);
        g.bench_function(format!("1 thread, {name}"), |bench| {
            bench.iter_custom(|iters| threaded(&b, 1, iters))
        });
        g.bench_function(format!("2 threads, {name}"), |bench| {
            bench.iter_custom(|iters| threaded(&b, 2, iters))
        });
    }
    g.finish();
}

fn others(c: &mut Criterion) {
    use failsafe::{CircuitBreaker as _, Config, backoff, failure_policy};

    let mut g = c.benchmark_group("others");
    let fs = Config::new()
        .failure_policy(failure_policy::consecutive_failures(
            5,
            backoff::constant(HOUR),
        ))
        .build();
    g.bench_function("failsafe consecutive success", |b| {
        b.iter(|| black_box(fs.call(work).is_ok()))
    });
    let fs_rate = Config::new()
        .failure_policy(failure_policy::success_rate_over_time_window(
            0.5,
            10,
            Duration::from_secs(30),
            backoff::constant(HOUR),
        ))
        .build();
    g.bench_function("failsafe success rate success", |b| {
        b.iter(|| black_box(fs_rate.call(work).is_ok()))
    });
    let fs_open = Config::new()
        .failure_policy(failure_policy::consecutive_failures(
            1,
            backoff::constant(HOUR),
        ))
        .build();
    let _ = fs_open.call(failing);
    assert!(matches!(fs_open.call(work), Err(failsafe::Error::Rejected)));
    g.bench_function("failsafe open rejection", |b| {
        b.iter(|| black_box(fs_open.call(work).is_err()))
    });

    let rc = recloser::Recloser::custom()
        .error_rate(0.5)
        .closed_len(100)
        .open_wait(HOUR)
        .build();
    g.bench_function("recloser success", |b| {
        b.iter(|| black_box(rc.call(work).is_ok()))
    });
    let rc_open = recloser::Recloser::custom()
        .error_rate(0.5)
        .closed_len(1)
        .open_wait(HOUR)
        .build();
    // recloser reports a rate once its ring has wrapped: two failures for a ring of 1.
    let _ = rc_open.call(failing);
    let _ = rc_open.call(failing);
    assert!(matches!(rc_open.call(work), Err(recloser::Error::Rejected)));
    g.bench_function("recloser rejection", |b| {
        b.iter(|| black_box(rc_open.call(work).is_err()))
    });
    g.finish();
}

criterion_group!(
    benches,
    baselines,
    closed_success,
    rejections_and_protocol,
    contention,
    others
);
criterion_main!(benches);
