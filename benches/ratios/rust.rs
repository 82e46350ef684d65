//! The Rust cases of `scripts/bench-ratios.sh`: the same guarded no-op through
//! breakwater and its peers (failsafe 1.3, recloser 1.4, governor 0.10), and the raw
//! protocol the C ABI wraps.
//!
//! ```text
//! ratios list                 the case names
//! ratios count CASE K         runs CASE K times inside `measured` (for
//!                             `valgrind --tool=callgrind --toggle-collect=*measured*`)
//! ratios wall ROUNDS N        every case N times per round, cases interleaved round by
//!                             round; prints "CASE best-ns-per-call allocations-per-call"
//! (no arguments)              `cargo bench --bench ratios`: wall 3 1000000
//! ```
//!
//! Every case returns a `bool` so that each implementation does the same work around the
//! guarded function (`#[inline(never)] fn work() -> Result<u64, ()>`).
#![allow(
    unsafe_code,
    reason = "a counting global allocator must implement the unsafe GlobalAlloc trait"
)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use breakwater::{CircuitBreaker, Outcome, RateLimiter, Window};

/// Counts allocations (for the "no allocation" goal), passing everything to `System`.
struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: every method forwards to `System` with the caller's arguments unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded as received.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as received.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded as received.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const HOUR: Duration = Duration::from_secs(3600);

#[inline(never)]
fn work() -> Result<u64, ()> {
    black_box(Ok(1))
}

#[inline(never)]
fn failing() -> Result<u64, ()> {
    black_box(Err(()))
}

type Case = Box<dyn Fn() -> bool>;

fn bw(
    policy: impl FnOnce(breakwater::BreakerBuilder) -> breakwater::BreakerBuilder,
) -> CircuitBreaker {
    policy(CircuitBreaker::builder().open_duration(HOUR))
        .build()
        .expect("valid breaker")
}

fn bw_open() -> CircuitBreaker {
    let b = bw(|b| b.consecutive_failures(1));
    let _ = b.call(failing);
    assert!(b.try_acquire().is_err());
    b
}

fn fs_consecutive(n: u32) -> impl failsafe::CircuitBreaker {
    use failsafe::{Config, backoff, failure_policy};
    Config::new()
        .failure_policy(failure_policy::consecutive_failures(
            n,
            backoff::constant(HOUR),
        ))
        .build()
}

/// The cases, in print order: (name, what it is, the closure).
fn cases() -> Vec<(&'static str, Case)> {
    use failsafe::CircuitBreaker as _;
    let mut v: Vec<(&'static str, Case)> = Vec::new();

    v.push(("baseline_noop", Box::new(|| black_box(work()).is_ok())));

    // Closed state, success.
    let b = bw(|b| b.consecutive_failures(5));
    v.push(("bw_closed_success", Box::new(move || b.call(work).is_ok())));
    let f = fs_consecutive(5);
    v.push((
        "failsafe_closed_success",
        Box::new(move || f.call(work).is_ok()),
    ));
    let r = recloser::Recloser::custom()
        .error_rate(0.5)
        .closed_len(100)
        .open_wait(HOUR)
        .build();
    v.push((
        "recloser_closed_success",
        Box::new(move || r.call(work).is_ok()),
    ));

    // Open state, rejection.
    let b = bw_open();
    v.push(("bw_open_rejection", Box::new(move || b.call(work).is_err())));
    let f = fs_consecutive(1);
    let _ = f.call(failing);
    assert!(matches!(f.call(work), Err(failsafe::Error::Rejected)));
    v.push((
        "failsafe_open_rejection",
        Box::new(move || f.call(work).is_err()),
    ));
    let r = recloser::Recloser::custom()
        .error_rate(0.5)
        .closed_len(1)
        .open_wait(HOUR)
        .build();
    // recloser reports a rate once its ring has wrapped: two failures for a ring of 1.
    let _ = r.call(failing);
    let _ = r.call(failing);
    assert!(matches!(r.call(work), Err(recloser::Error::Rejected)));
    v.push((
        "recloser_open_rejection",
        Box::new(move || r.call(work).is_err()),
    ));

    // Failure rate over a time window, success.
    let b = bw(|b| b.failure_rate(0.5, Window::Time(Duration::from_secs(30)), 10));
    v.push((
        "bw_time_rate_success",
        Box::new(move || b.call(work).is_ok()),
    ));
    let f = {
        use failsafe::{Config, backoff, failure_policy};
        Config::new()
            .failure_policy(failure_policy::success_rate_over_time_window(
                0.5,
                10,
                Duration::from_secs(30),
                backoff::constant(HOUR),
            ))
            .build()
    };
    v.push((
        "failsafe_time_rate_success",
        Box::new(move || f.call(work).is_ok()),
    ));

    // The raw protocol (what bw_breaker_try_acquire + bw_breaker_record wrap).
    let b = bw(|b| b.consecutive_failures(5));
    v.push((
        "bw_raw_acquire_record",
        Box::new(move || {
            let p = b.try_acquire_raw().expect("closed");
            black_box(work()).is_ok()
                && b.record_raw(p, Outcome::Success, None) == breakwater::Recorded::Recorded
        }),
    ));
    let b = bw_open();
    v.push((
        "bw_raw_rejection",
        Box::new(move || b.try_acquire_raw().is_err()),
    ));

    // Rate limiter: granted and rejected.
    let l = RateLimiter::builder()
        .rate(1_000_000_000, Duration::from_secs(1))
        .burst(u32::MAX)
        .build()
        .expect("valid limiter");
    v.push((
        "bw_limiter_granted",
        Box::new(move || l.try_acquire().is_ok()),
    ));
    let g = governor::RateLimiter::direct(
        governor::Quota::per_second(NonZeroU32::new(1_000_000_000).expect("non-zero"))
            .allow_burst(NonZeroU32::MAX),
    );
    v.push(("governor_granted", Box::new(move || g.check().is_ok())));
    let l = RateLimiter::builder()
        .rate(1, HOUR)
        .build()
        .expect("valid limiter");
    l.try_acquire().expect("the first permit");
    v.push((
        "bw_limiter_rejected",
        Box::new(move || l.try_acquire().is_err()),
    ));
    let g = governor::RateLimiter::direct(governor::Quota::per_hour(NonZeroU32::MIN));
    g.check().expect("the first permit");
    v.push(("governor_rejected", Box::new(move || g.check().is_err())));
    v
}

/// Best of `rounds` interleaved rounds of `n` calls of every case: prints
/// "CASE ns-per-call allocations-per-call".
fn wall(cases: &[(&'static str, Case)], rounds: usize, n: u64) {
    let mut best = vec![f64::MAX; cases.len()];
    let mut allocs = vec![0u64; cases.len()];
    for (_, case) in cases {
        measured(case.as_ref(), n / 10);
    }
    for _ in 0..rounds {
        for (i, (_, case)) in cases.iter().enumerate() {
            let a0 = ALLOCATIONS.load(Ordering::Relaxed);
            let t0 = Instant::now();
            black_box(measured(case.as_ref(), n));
            let ns = t0.elapsed().as_nanos() as f64 / n as f64;
            allocs[i] = allocs[i].max(ALLOCATIONS.load(Ordering::Relaxed) - a0);
            best[i] = best[i].min(ns);
        }
    }
    for (i, (name, _)) in cases.iter().enumerate() {
        println!("{name} {:.2} {:.3}", best[i], allocs[i] as f64 / n as f64);
    }
}

/// The measured loop: callgrind collects only inside this function (and its callees).
#[inline(never)]
fn measured(case: &dyn Fn() -> bool, k: u64) -> u64 {
    let mut ok = 0;
    for _ in 0..k {
        ok += u64::from(case());
    }
    ok
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let cases = cases();
    match args.first().map(String::as_str) {
        Some("list") => {
            for (name, _) in &cases {
                println!("{name}");
            }
        }
        Some("count") => {
            let name = &args[1];
            let k: u64 = args[2].parse().expect("K");
            let (_, case) = cases.iter().find(|(n, _)| n == name).expect("a known case");
            // Warm up outside the measured function (thread-locals, first clock reads).
            for _ in 0..1000 {
                black_box(case());
            }
            let expect = black_box(case());
            let ok = measured(case, k);
            assert_eq!(ok, if expect { k } else { 0 }, "{name}: unexpected answers");
        }
        Some("wall") => {
            let rounds: usize = args[1].parse().expect("ROUNDS");
            let n: u64 = args[2].parse().expect("N");
            wall(&cases, rounds, n);
        }
        None => {
            // `cargo bench --bench ratios`: a quick wall-clock table.
            wall(&cases, 3, 1_000_000);
        }
        _ => {
            eprintln!("usage: ratios list | count CASE K | wall ROUNDS N");
            std::process::exit(2);
        }
    }
}
