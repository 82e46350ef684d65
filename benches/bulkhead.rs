//! Benchmarks of the bulkheads and the time limiter (`cargo bench --bench bulkhead`).
//!
//! Criterion measures the semaphore's uncontended acquire + release, a pool's submit ->
//! start latency and its submit + join throughput. The time limiter's lateness (how long
//! after its deadline a timed-out caller gets control back) is measured by hand over 200
//! calls with a 5 ms timeout on the real clock, and printed as p50 / p99 / max, next to
//! the same measure for a bare condition-variable wait (the scheduler's floor).

use std::hint::black_box;
use std::thread;
use std::time::{Duration, Instant};

use breakwater::Bulkhead;
use breakwater::TimeLimiter;
use breakwater::{Ctx, Error};
use breakwater::{ShutdownMode, ThreadPool};
use criterion::{Criterion, Throughput};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn print_distribution(what: &str, mut samples: Vec<Duration>) {
    samples.sort();
    println!(
        "{what}: n={} p50={:?} p99={:?} max={:?}",
        samples.len(),
        percentile(&samples, 0.50),
        percentile(&samples, 0.99),
        samples[samples.len() - 1]
    );
}

/// Lateness of the time limiter's timed-out callers after their deadline.
fn time_limiter_lateness() {
    const CALLS: usize = 200;
    let timeout = Duration::from_millis(5);
    let limiter = TimeLimiter::builder()
        .name("bench-tl")
        .timeout(timeout)
        .max_threads(8)
        .build()
        .unwrap();
    let ctx = Ctx::new();
    let mut lateness = Vec::with_capacity(CALLS);
    for _ in 0..CALLS {
        let started = Instant::now();
        let r: Result<(), Error<()>> = limiter.call(&ctx, |ctx| {
            // A call that only stops when it is abandoned.
            while !ctx.is_cancelled() {
                thread::sleep(Duration::from_micros(200));
            }
            Ok(())
        });
        let elapsed = started.elapsed();
        assert!(r.unwrap_err().is_timeout());
        lateness.push(elapsed.saturating_sub(timeout));
    }
    print_distribution(
        "time limiter lateness after a 5 ms deadline (goal p99 < 1 ms)",
        lateness,
    );
    let m = limiter.metrics();
    println!(
        "time limiter: timed_out={} rejected={} threads_spawned={}",
        m.timed_out, m.rejected, m.threads_spawned
    );
}

/// The same lateness for a bare `std` condition-variable wait of 5 ms: the floor the
/// machine's scheduler sets (on a loaded machine it dominates the limiter's numbers).
fn baseline_condvar_lateness() {
    const WAITS: usize = 200;
    let timeout = Duration::from_millis(5);
    let pair = (std::sync::Mutex::new(()), std::sync::Condvar::new());
    let mut lateness = Vec::with_capacity(WAITS);
    for _ in 0..WAITS {
        let started = Instant::now();
        let guard = pair.0.lock().unwrap();
        let (_guard, result) = pair.1.wait_timeout(guard, timeout).unwrap();
        let elapsed = started.elapsed();
        assert!(result.timed_out() || elapsed < timeout);
        lateness.push(elapsed.saturating_sub(timeout));
    }
    print_distribution("baseline: std Condvar 5 ms wait lateness", lateness);
}

/// Submit -> start latency of a pool whose workers are parked idle.
fn pool_start_latency() {
    const TASKS: usize = 2000;
    let pool = ThreadPool::builder()
        .name("bench-latency")
        .workers(4)
        .build()
        .unwrap();
    // Warm up: spawn the workers.
    for _ in 0..16 {
        pool.submit(|| ()).unwrap().join().unwrap();
    }
    let mut samples = Vec::with_capacity(TASKS);
    for _ in 0..TASKS {
        let submitted = Instant::now();
        let h = pool.submit(move || submitted.elapsed()).unwrap();
        samples.push(h.join().unwrap());
    }
    print_distribution("pool submit -> start latency (idle worker)", samples);
    pool.shutdown(ShutdownMode::Drain);
}

fn semaphore(c: &mut Criterion) {
    let b = Bulkhead::builder().max_concurrent(16).build().unwrap();
    c.bench_function("semaphore/try_acquire+release uncontended", |bench| {
        bench.iter(|| drop(black_box(b.try_acquire().unwrap())))
    });
    c.bench_function("semaphore/call uncontended", |bench| {
        bench.iter(|| b.call(|| Ok::<_, ()>(black_box(1))).unwrap())
    });
}

fn pool(c: &mut Criterion) {
    let pool = ThreadPool::builder()
        .name("bench")
        .workers(2)
        .queue_capacity(10_000)
        .build()
        .unwrap();
    c.bench_function("pool/submit -> start latency", |bench| {
        bench.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let submitted = Instant::now();
                total += pool
                    .submit(move || submitted.elapsed())
                    .unwrap()
                    .join()
                    .unwrap();
            }
            total
        })
    });
    let mut group = c.benchmark_group("pool/throughput");
    const BATCH: u64 = 1000;
    group.throughput(Throughput::Elements(BATCH));
    group.bench_function("submit+join 1000 tasks", |bench| {
        bench.iter(|| {
            let handles: Vec<_> = (0..BATCH)
                .map(|i| pool.submit(move || black_box(i)).unwrap())
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
        })
    });
    group.finish();
    pool.shutdown(ShutdownMode::Drain);
}

fn main() {
    time_limiter_lateness();
    baseline_condvar_lateness();
    pool_start_latency();
    let mut c = Criterion::default()
        .configure_from_args()
        .sample_size(30)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2));
    semaphore(&mut c);
    pool(&mut c);
    c.final_summary();
}
