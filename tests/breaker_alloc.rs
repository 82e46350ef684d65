//! Steady-state breaker calls allocate nothing, with a transition listener and a call
//! listener registered. A `harness = false` test with a counting global allocator:
//! prints one line per case and a closing `N passed, M failed` line, and exits non-zero
//! when a case allocated.
#![allow(
    unsafe_code,
    reason = "a counting global allocator must implement the unsafe GlobalAlloc trait"
)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use breakwater::{CircuitBreaker, Clock, ManualClock, Outcome, RejectReason, State, Window};

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);

// SAFETY: every method forwards to the system allocator with the caller's arguments,
// so the GlobalAlloc contract is the system allocator's; the counters are atomics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(layout.size() as u64, Ordering::Relaxed);
        // SAFETY: forwarded unchanged; the caller upholds `alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(layout.size() as u64, Ordering::Relaxed);
        // SAFETY: forwarded unchanged; the caller upholds `alloc_zeroed`'s contract.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with `layout` (every allocation above
        // goes to `System`).
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(new_size as u64, Ordering::Relaxed);
        // SAFETY: `ptr` and `layout` come from `System` as above; the caller upholds
        // `realloc`'s contract for `new_size`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// A named scenario: sets itself up, then returns `allocations(...)` of its loop.
type Case = Box<dyn FnMut() -> (u64, u64)>;

const WARM_UP: usize = 1_000;
const CALLS: usize = 20_000;

/// A breaker with both kinds of listener registered.
fn breaker(
    builder: breakwater::BreakerBuilder,
    transitions: &Arc<AtomicU64>,
    calls: &Arc<AtomicU64>,
) -> CircuitBreaker {
    let (t, c) = (transitions.clone(), calls.clone());
    builder
        .on_transition(move |_| {
            t.fetch_add(1, Ordering::Relaxed);
        })
        .on_call(move |e| {
            std::hint::black_box(e);
            c.fetch_add(1, Ordering::Relaxed);
        })
        .build()
        .expect("valid configuration")
}

/// Runs `op` `WARM_UP` times, then counts the allocations of `CALLS` more runs.
fn allocations(mut op: impl FnMut()) -> (u64, u64) {
    for _ in 0..WARM_UP {
        op();
    }
    let (a0, b0) = (
        ALLOCATIONS.load(Ordering::SeqCst),
        BYTES.load(Ordering::SeqCst),
    );
    for _ in 0..CALLS {
        op();
    }
    (
        ALLOCATIONS.load(Ordering::SeqCst) - a0,
        BYTES.load(Ordering::SeqCst) - b0,
    )
}

fn main() {
    let transitions = Arc::new(AtomicU64::new(0));
    let calls = Arc::new(AtomicU64::new(0));
    let mut cases: Vec<(&str, Case)> = Vec::new();

    let b = breaker(CircuitBreaker::builder(), &transitions, &calls);
    cases.push((
        "closed success (call, consecutive failures)",
        Box::new(move || {
            allocations(|| {
                b.call(|| Ok::<_, ()>(1)).expect("closed");
            })
        }),
    ));

    let b = breaker(
        CircuitBreaker::builder().consecutive_failures(u32::MAX),
        &transitions,
        &calls,
    );
    cases.push((
        "closed failure (protocol, consecutive failures)",
        Box::new(move || {
            allocations(|| {
                b.try_acquire().expect("closed").failure();
            })
        }),
    ));

    let b = breaker(
        CircuitBreaker::builder()
            .failure_rate(1.0, Window::Time(Duration::from_secs(10)), 10)
            .slow_call_rate(1.0, Duration::from_secs(10)),
        &transitions,
        &calls,
    );
    cases.push((
        "closed success and failure (raw protocol, time-window rates)",
        Box::new(move || {
            allocations(|| {
                let p = b.try_acquire_raw().expect("closed");
                b.record_raw(p, Outcome::Success, None);
                let p = b.try_acquire_raw().expect("closed");
                b.record_raw(p, Outcome::Failure, None);
            })
        }),
    ));

    let b = breaker(
        CircuitBreaker::builder()
            .consecutive_failures(1)
            .open_duration(Duration::from_secs(3600)),
        &transitions,
        &calls,
    );
    cases.push((
        "open rejection",
        Box::new(move || {
            let _ = b.call(|| Err::<(), _>(()));
            assert_eq!(b.state(), State::Open);
            allocations(|| {
                let r = b.try_acquire().expect_err("open");
                assert_eq!(r.reason, RejectReason::Open);
            })
        }),
    ));

    let manual = ManualClock::new();
    let b = breaker(
        CircuitBreaker::builder()
            .consecutive_failures(1)
            .clock(Clock::from(&manual)),
        &transitions,
        &calls,
    );
    cases.push((
        "trial-full rejection",
        Box::new(move || {
            let _ = b.call(|| Err::<(), _>(()));
            manual.advance(b.config().open_duration);
            let _held = b.try_acquire().expect("the trial admission");
            allocations(|| {
                let r = b.try_acquire().expect_err("trial full");
                assert_eq!(r.reason, RejectReason::TrialFull);
            })
        }),
    ));

    let mut failed = 0;
    let mut passed = 0;
    for (name, mut case) in cases {
        let (n, bytes) = case();
        if n == 0 {
            passed += 1;
            println!("ok: {name}: 0 allocations in {CALLS} calls");
        } else {
            failed += 1;
            println!("FAILED: {name}: {n} allocations ({bytes} bytes) in {CALLS} calls");
        }
    }
    assert!(calls.load(Ordering::Relaxed) > 0, "call listeners ran");
    assert!(
        transitions.load(Ordering::Relaxed) > 0,
        "transition listeners ran"
    );
    println!("{passed} passed, {failed} failed");
    if failed > 0 {
        std::process::exit(1);
    }
}
