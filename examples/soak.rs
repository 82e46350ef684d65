//! Soak test: a mixed workload on every policy for a set time, watching resident memory
//! and the thread count, and checking invariants. Run by `scripts/soak.sh [minutes]`.
//!
//! ```sh
//! cargo run --release --example soak -- --seconds 600
//! ```
//!
//! 16 worker threads call breakers (one per trip policy), a semaphore bulkhead, a rate
//! limiter, a retry, a time limiter, a cache and a pipeline of all of them, with faults
//! injected at random (failures, slow calls, panics in pool tasks; outage phases every
//! few seconds trip the breakers). A churn thread creates thread pools, submits tasks and
//! shuts them down (drain or cancel). Every interval the main thread prints one line of
//! the curve: elapsed time, VmRSS and thread count (from `/proc/self/status`), calls.
//!
//! It fails (exit status 1) when, after the warm-up, resident memory grows beyond the
//! warm-up's highest value by more than 10 % (at least 8 MiB), or the thread count beyond
//! it by more than 4; or when an invariant breaks: the bulkhead held more than its
//! maximum, a permit did not come back, a pool task had no outcome or two, a breaker's
//! counts do not add up with what its callers saw, a limiter's counts do not add up.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use breakwater::{
    Backoff, Bulkhead, Cache, CircuitBreaker, Ctx, Error, Jitter, Pipeline, RateLimiter, Retry,
    ShutdownMode, SlowCalls, TaskError, ThreadPool, TimeLimiter, TripPolicy, Window,
};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

const THREADS: usize = 16;
const BULKHEAD_MAX: u32 = 4;

/// What the callers of one breaker saw.
#[derive(Default)]
struct Seen {
    ok: AtomicU64,
    failed: AtomicU64,
    rejected: AtomicU64,
}

struct World {
    breakers: Vec<(String, CircuitBreaker, Seen)>,
    bulkhead: Bulkhead,
    inside: AtomicU32,
    limiter: RateLimiter,
    limiter_attempts: AtomicU64,
    retry: Retry,
    time_limiter: TimeLimiter,
    cache: Cache<u32, u64>,
    pipeline: Pipeline<u64, String>,
    /// Outage phases: most calls fail while set.
    outage: AtomicBool,
    stop: AtomicBool,
    calls: AtomicU64,
    violations: parking_lot::Mutex<Vec<String>>,
}

fn breaker(name: &str, policy: TripPolicy) -> CircuitBreaker {
    CircuitBreaker::builder()
        .name(name)
        .policy(policy)
        .open_duration(Duration::from_millis(50))
        .half_open_max_calls(2)
        .build()
        .expect("valid breaker")
}

fn world() -> World {
    let slow = SlowCalls {
        threshold: 0.8,
        slow_duration: Duration::from_millis(2),
    };
    let breakers = vec![
        (
            "consecutive",
            TripPolicy::ConsecutiveFailures { threshold: 5 },
        ),
        (
            "in_window",
            TripPolicy::FailuresInWindow {
                threshold: 5,
                window: Duration::from_secs(1),
            },
        ),
        (
            "rate_count",
            TripPolicy::FailureRate {
                threshold: 0.5,
                window: Window::Count(20),
                minimum_calls: 10,
                slow: None,
            },
        ),
        (
            "rate_time",
            TripPolicy::FailureRate {
                threshold: 0.5,
                window: Window::Time(Duration::from_secs(2)),
                minimum_calls: 10,
                slow: Some(slow),
            },
        ),
        (
            "slow_rate",
            TripPolicy::SlowCallRate {
                slow,
                window: Window::Count(20),
                minimum_calls: 10,
            },
        ),
    ]
    .into_iter()
    .map(|(n, p)| (n.to_owned(), breaker(n, p), Seen::default()))
    .collect::<Vec<_>>();
    let bulkhead = Bulkhead::builder()
        .name("soak")
        .max_concurrent(BULKHEAD_MAX)
        .max_wait(Duration::from_millis(1))
        .build()
        .expect("valid bulkhead");
    let limiter = RateLimiter::builder()
        .rate(50_000, Duration::from_secs(1))
        .burst(100)
        .build()
        .expect("valid limiter");
    let retry = Retry::builder()
        .max_attempts(3)
        .backoff(Backoff::Fixed(Duration::from_micros(100)))
        .jitter(Jitter::Full)
        .build()
        .expect("valid retry");
    let time_limiter = TimeLimiter::builder()
        .name("soak-tl")
        .timeout(Duration::from_millis(2))
        .max_threads(4)
        .build()
        .expect("valid time limiter");
    let cache = Cache::builder()
        .ttl(Duration::from_millis(10))
        .max_stale(Duration::from_millis(50))
        .max_entries(32)
        .build()
        .expect("valid cache");
    let pipeline = Pipeline::builder()
        .rate_limit(limiter.clone(), Duration::ZERO)
        .bulkhead(bulkhead.clone())
        .breaker(breaker(
            "pipeline",
            TripPolicy::ConsecutiveFailures { threshold: 5 },
        ))
        .retry(retry.clone())
        .build();
    World {
        breakers,
        bulkhead,
        inside: AtomicU32::new(0),
        limiter,
        limiter_attempts: AtomicU64::new(0),
        retry,
        time_limiter,
        cache,
        pipeline,
        outage: AtomicBool::new(false),
        stop: AtomicBool::new(false),
        calls: AtomicU64::new(0),
        violations: parking_lot::Mutex::new(Vec::new()),
    }
}

impl World {
    fn violation(&self, what: String) {
        let mut v = self.violations.lock();
        if v.len() < 20 {
            v.push(what);
        }
    }

    fn fails(&self, rng: &mut SmallRng) -> bool {
        let p = if self.outage.load(Relaxed) { 0.8 } else { 0.05 };
        rng.random_bool(p)
    }

    fn one_call(&self, rng: &mut SmallRng) {
        self.calls.fetch_add(1, Relaxed);
        match rng.random_range(0..8) {
            0..=2 => {
                let (_, b, seen) = &self.breakers[rng.random_range(0..self.breakers.len())];
                let fail = self.fails(rng);
                let outage = self.outage.load(Relaxed);
                let slow = rng.random_bool(if outage { 0.9 } else { 0.05 });
                let r = b.call(|| {
                    if slow {
                        std::thread::sleep(Duration::from_millis(2));
                    }
                    if fail { Err("injected") } else { Ok(()) }
                });
                match r {
                    Ok(()) => seen.ok.fetch_add(1, Relaxed),
                    Err(Error::Failed { .. }) => seen.failed.fetch_add(1, Relaxed),
                    Err(_) => seen.rejected.fetch_add(1, Relaxed),
                };
            }
            3 => {
                let _ = self.bulkhead.call(|| {
                    let n = self.inside.fetch_add(1, Relaxed) + 1;
                    if n > BULKHEAD_MAX {
                        self.violation(format!("bulkhead: {n} inside, max {BULKHEAD_MAX}"));
                    }
                    std::thread::yield_now();
                    self.inside.fetch_sub(1, Relaxed);
                    Ok::<(), ()>(())
                });
            }
            4 => {
                self.limiter_attempts.fetch_add(1, Relaxed);
                let _ = self.limiter.try_acquire();
            }
            5 => {
                let fail = self.fails(rng);
                let _ = self.retry.call(|_ctx| {
                    if fail {
                        Err(Error::failed("injected"))
                    } else {
                        Ok(1)
                    }
                });
            }
            6 => {
                let sleep = Duration::from_micros(rng.random_range(0..4000));
                let _ = self.time_limiter.call(&Ctx::new(), move |_ctx| {
                    std::thread::sleep(sleep);
                    Ok::<u32, Error<()>>(1)
                });
            }
            _ => {
                if rng.random_bool(0.5) {
                    let key = rng.random_range(0..64);
                    let fail = self.fails(rng);
                    let _ = self.cache.get_or_load(&key, || {
                        if fail {
                            Err("injected")
                        } else {
                            Ok(u64::from(key))
                        }
                    });
                } else {
                    let fail = self.fails(rng);
                    let _ = self.pipeline.call(move |_ctx| {
                        if fail {
                            Err("injected".to_owned())
                        } else {
                            Ok(1)
                        }
                    });
                }
            }
        }
    }
}

/// Creates pools, submits tasks (some panic, some are cancelled by a shutdown), shuts
/// them down, and checks that every accepted task had exactly one outcome.
fn churn_pools(world: &World, rng: &mut SmallRng, round: u64) {
    let pool = ThreadPool::builder()
        .name(format!("soak-pool-{}", round % 4))
        .workers(3)
        .queue_capacity(8)
        .build()
        .expect("valid pool");
    let ran: Arc<Vec<AtomicU32>> = Arc::new((0..20).map(|_| AtomicU32::new(0)).collect());
    let mut handles = Vec::new();
    for i in 0..20 {
        let ran = Arc::clone(&ran);
        let panics = rng.random_bool(0.1);
        let sleep = Duration::from_micros(rng.random_range(0..500));
        if let Ok(h) = pool.submit(move || {
            ran[i].fetch_add(1, Relaxed);
            std::thread::sleep(sleep);
            if panics {
                panic!("injected task panic");
            }
            i
        }) {
            handles.push((i, h));
        }
    }
    let mode = if rng.random_bool(0.5) {
        ShutdownMode::Drain
    } else {
        ShutdownMode::Cancel
    };
    let report = pool.shutdown_timeout(mode, Duration::from_secs(5));
    if !report.terminated {
        world.violation(format!(
            "pool shutdown did not finish: {:?}",
            report.busy_workers
        ));
    }
    for (i, h) in handles {
        let runs = ran[i].load(Relaxed);
        match h.join() {
            Ok(v) if v == i && runs == 1 => {}
            Err(TaskError::Panicked(_)) if runs == 1 => {}
            Err(TaskError::Cancelled) if runs == 0 => {}
            other => world.violation(format!("pool task {i}: {other:?} after {runs} runs")),
        }
    }
    drop(pool);
}

/// (VmRSS in KiB, threads) from /proc/self/status.
fn proc_status() -> (u64, u64) {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        s.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("Threads:"))
}

fn main() {
    let mut seconds = 600.0f64;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--seconds" => {
                seconds = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--seconds N")
            }
            other => panic!("unknown argument {other} (usage: soak [--seconds N])"),
        }
    }
    // Injected panics are expected: keep them off the terminal.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        if !msg.contains("injected") {
            default_hook(info);
        }
    }));

    let total = Duration::from_secs_f64(seconds);
    // One line a minute; shorter runs get about eight lines.
    let interval = Duration::from_secs_f64((seconds / 8.0).clamp(1.0, 60.0));
    let warmup = Duration::from_secs_f64((seconds / 5.0).clamp(1.0, 120.0));
    let world = Arc::new(world());
    let start = Instant::now();

    let mut workers = Vec::new();
    for t in 0..THREADS {
        let w = Arc::clone(&world);
        workers.push(std::thread::spawn(move || {
            let mut rng = SmallRng::seed_from_u64(t as u64);
            while !w.stop.load(Relaxed) {
                w.one_call(&mut rng);
            }
        }));
    }
    let pools_done = Arc::new(AtomicU64::new(0));
    let churn = {
        let (w, done) = (Arc::clone(&world), Arc::clone(&pools_done));
        std::thread::spawn(move || {
            let mut rng = SmallRng::seed_from_u64(99);
            let mut round = 0;
            while !w.stop.load(Relaxed) {
                churn_pools(&w, &mut rng, round);
                round += 1;
                done.fetch_add(1, Relaxed);
            }
        })
    };

    println!(
        "{:>8} {:>10} {:>8} {:>12} {:>8}",
        "elapsed", "rss_mib", "threads", "calls", "pools"
    );
    let (mut base_rss, mut base_threads) = (0u64, 0u64);
    let mut failures = Vec::new();
    let mut next = interval;
    let mut outage_at = Duration::ZERO;
    loop {
        let now = start.elapsed();
        if now >= outage_at {
            // Alternate 4 s healthy, 2 s outage.
            let outage = !world.outage.load(Relaxed);
            world.outage.store(outage, Relaxed);
            outage_at = now
                + if outage {
                    Duration::from_secs(2)
                } else {
                    Duration::from_secs(4)
                };
        }
        if now >= next || now >= total {
            let (rss, threads) = proc_status();
            println!(
                "{:>7.0}s {:>10.1} {:>8} {:>12} {:>8}",
                now.as_secs_f64(),
                rss as f64 / 1024.0,
                threads,
                world.calls.load(Relaxed),
                pools_done.load(Relaxed)
            );
            if now <= warmup {
                base_rss = base_rss.max(rss);
                base_threads = base_threads.max(threads);
            } else {
                let allowed = base_rss + (base_rss / 10).max(8 * 1024);
                if rss > allowed {
                    failures.push(format!(
                        "resident memory grew: {rss} KiB after the warm-up's {base_rss} KiB"
                    ));
                }
                if threads > base_threads + 4 {
                    failures.push(format!(
                        "thread count grew: {threads} after the warm-up's {base_threads}"
                    ));
                }
            }
            next += interval;
        }
        if now >= total {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    world.stop.store(true, Relaxed);
    for w in workers {
        w.join().expect("a worker thread panicked");
    }
    churn.join().expect("the churn thread panicked");

    // Invariants once everything is quiet.
    let m = world.bulkhead.metrics();
    if m.in_use != 0 || m.available != BULKHEAD_MAX {
        failures.push(format!("bulkhead permits not all back: {m:?}"));
    }
    if m.peak > BULKHEAD_MAX {
        failures.push(format!("bulkhead peak {} above max {BULKHEAD_MAX}", m.peak));
    }
    let lm = world.limiter.metrics();
    let attempts = world.limiter_attempts.load(Relaxed);
    // The pipeline takes from the same limiter: its permits add to the direct attempts.
    if lm.permitted + lm.rejected < attempts {
        failures.push(format!("limiter: {attempts} attempts, {lm:?}"));
    }
    for (name, b, seen) in &world.breakers {
        let t = b.metrics().totals;
        let (ok, failed, rejected) = (
            seen.ok.load(Relaxed),
            seen.failed.load(Relaxed),
            seen.rejected.load(Relaxed),
        );
        let adds_up = t.rejected() == rejected
            && t.successes + t.failures + t.stale_dropped == ok + failed
            && t.requests == t.successes + t.failures + t.ignored + t.stale_dropped;
        println!(
            "breaker {name}: {ok} ok, {failed} failed, {rejected} rejected; opened {} times",
            t.opened
        );
        if !adds_up {
            failures.push(format!(
                "breaker {name}: callers saw {ok} ok, {failed} failed, {rejected} rejected; totals {t:?}"
            ));
        }
    }
    failures.extend(world.violations.lock().iter().cloned());
    let (rss, threads) = proc_status();
    println!(
        "end: {:.1} MiB, {threads} threads, {} calls, {} pools",
        rss as f64 / 1024.0,
        world.calls.load(Relaxed),
        pools_done.load(Relaxed)
    );
    if failures.is_empty() {
        println!("soak: ok");
    } else {
        for f in &failures {
            eprintln!("soak: FAILED: {f}");
        }
        std::process::exit(1);
    }
}
