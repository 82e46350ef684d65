//! Model-based test of the semaphore bulkhead (SPEC 6): random sequences of
//! acquisitions (RAII, raw, fail-fast, cancelled), releases, calls and blocked waiters,
//! against a counting model with a FIFO queue. A release while callers wait hands the
//! permit to the oldest waiter; the test checks which waiter got it.
//!
//! Case count: `PROPTEST_CASES` (default 1000; `scripts/prop-long.sh` runs 1,000,000).

mod prop_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use breakwater::{Bulkhead, BulkheadPermit, CancelToken, Clock, ManualClock};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    TryAcquire,
    AcquireNow,
    AcquireRaw,
    ReleaseRaw,
    Drop(usize),
    Call(bool),
    Cancelled,
    /// A thread blocks in `acquire_raw` without a deadline (only when none is free and
    /// fewer than 3 already wait).
    Waiter,
    Metrics,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => Just(Op::TryAcquire),
        2 => Just(Op::AcquireNow),
        3 => Just(Op::AcquireRaw),
        3 => Just(Op::ReleaseRaw),
        5 => any::<usize>().prop_map(Op::Drop),
        2 => any::<bool>().prop_map(Op::Call),
        1 => Just(Op::Cancelled),
        2 => Just(Op::Waiter),
        2 => Just(Op::Metrics),
    ]
}

#[derive(Debug, Default)]
struct Model {
    max: u32,
    in_use: u32,
    raw_held: u32,
    rejected: u64,
    peak: u32,
    acquired: u64,
    /// Waiter ids, oldest first.
    queue: std::collections::VecDeque<usize>,
}

impl Model {
    fn grant(&mut self) -> bool {
        if self.in_use < self.max {
            self.in_use += 1;
            self.acquired += 1;
            self.peak = self.peak.max(self.in_use);
            true
        } else {
            self.rejected += 1;
            false
        }
    }

    /// A permit comes back: to the oldest waiter (who then holds it raw), or to the pool.
    fn release(&mut self) -> Option<usize> {
        match self.queue.pop_front() {
            Some(id) => {
                self.acquired += 1;
                self.raw_held += 1;
                Some(id)
            }
            None => {
                self.in_use -= 1;
                None
            }
        }
    }
}

struct Waiter {
    id: usize,
    done: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

/// Waits (bounded, so that a bug fails the test instead of hanging it) until `f` holds.
fn eventually(what: &str, f: impl Fn() -> bool) -> Result<(), TestCaseError> {
    let start = Instant::now();
    while !f() {
        if start.elapsed() > Duration::from_secs(20) {
            return Err(TestCaseError::fail(format!("never happened: {what}")));
        }
        std::thread::yield_now();
    }
    Ok(())
}

/// After a release handed the permit to waiter `id`: that waiter, and no other, returns.
fn handed_to(waiters: &mut Vec<Waiter>, id: usize) -> Result<(), TestCaseError> {
    let pos = waiters
        .iter()
        .position(|w| w.id == id)
        .expect("a live waiter");
    let w = waiters.remove(pos);
    eventually("the oldest waiter is granted", || {
        w.done.load(Ordering::SeqCst)
    })?;
    w.thread.join().expect("the waiter thread");
    for other in waiters.iter() {
        prop_assert!(
            !other.done.load(Ordering::SeqCst),
            "a younger waiter was granted first"
        );
    }
    Ok(())
}

fn run(max: u32, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let clock = ManualClock::new();
    let b = Bulkhead::builder()
        .max_concurrent(max)
        .clock(Clock::from(clock.clone()))
        .build()
        .expect("valid configuration");
    let mut m = Model {
        max,
        ..Model::default()
    };
    let mut held: Vec<BulkheadPermit> = Vec::new();
    let mut waiters: Vec<Waiter> = Vec::new();
    let mut next_id = 0;
    for op in ops {
        match op {
            Op::TryAcquire => {
                let got = b.try_acquire();
                prop_assert_eq!(got.is_ok(), m.grant(), "try_acquire");
                held.extend(got.ok());
            }
            Op::AcquireNow => {
                let got = b.acquire_timeout(Duration::ZERO);
                prop_assert_eq!(got.is_ok(), m.grant(), "acquire_timeout(0)");
                held.extend(got.ok());
            }
            Op::AcquireRaw => {
                let got = b.acquire_raw(Some(clock.now()), None);
                let want = m.grant();
                prop_assert_eq!(got.is_ok(), want, "acquire_raw");
                m.raw_held += u32::from(want);
            }
            Op::ReleaseRaw => {
                let got = b.release_raw();
                prop_assert_eq!(got, m.raw_held > 0, "release_raw");
                if m.raw_held > 0 {
                    m.raw_held -= 1;
                    if let Some(id) = m.release() {
                        handed_to(&mut waiters, id)?;
                    }
                }
            }
            Op::Drop(i) => {
                if held.is_empty() {
                    continue;
                }
                drop(held.remove(i % held.len()));
                if let Some(id) = m.release() {
                    handed_to(&mut waiters, id)?;
                }
            }
            Op::Call(ok) => {
                let in_use = m.in_use;
                let got = b.call(|| {
                    // Inside the call the permit is held.
                    let inside = b.metrics().in_use;
                    if ok { Ok(inside) } else { Err(inside) }
                });
                let want = m.grant();
                match got {
                    Ok(inside) | Err(breakwater::Error::Failed { error: inside, .. }) => {
                        prop_assert!(want, "call admitted where the model is full");
                        prop_assert_eq!(inside, in_use + 1, "in use inside the call");
                        if let Some(id) = m.release() {
                            handed_to(&mut waiters, id)?;
                        }
                    }
                    Err(e) => prop_assert!(!want && e.is_rejected(), "call: {:?}", e),
                }
            }
            Op::Cancelled => {
                let token = CancelToken::new();
                token.cancel();
                let got = b.acquire_raw(None, Some(&token));
                prop_assert!(
                    got.is_err_and(|e| e.is_cancelled()),
                    "a cancelled acquisition"
                );
                m.rejected += 1;
            }
            Op::Waiter => {
                if m.in_use < m.max || waiters.len() >= 3 {
                    continue;
                }
                let id = next_id;
                next_id += 1;
                let done = Arc::new(AtomicBool::new(false));
                let (b2, d2) = (b.clone(), done.clone());
                let thread = std::thread::spawn(move || {
                    b2.acquire_raw(None, None)
                        .expect("a waiter without deadline is granted");
                    d2.store(true, Ordering::SeqCst);
                });
                m.queue.push_back(id);
                let expect = m.queue.len() as u32;
                eventually("the waiter queues", || b.metrics().waiting == expect)?;
                waiters.push(Waiter { id, done, thread });
            }
            Op::Metrics => {}
        }
        let got = b.metrics();
        prop_assert_eq!(
            (got.max, got.in_use, got.available, got.waiting),
            (m.max, m.in_use, m.max - m.in_use, m.queue.len() as u32),
            "max, in use, available, waiting"
        );
        prop_assert_eq!(
            (got.rejected, got.peak, got.acquired),
            (m.rejected, m.peak, m.acquired),
            "rejected, peak, acquired"
        );
        prop_assert!(got.in_use <= max, "never above max");
    }
    // Let every waiter in and give every permit back: all permits come home.
    while !waiters.is_empty() {
        if let Some(p) = held.pop() {
            drop(p);
        } else {
            prop_assert!(b.release_raw(), "a permit to give to the waiters");
            m.raw_held -= 1;
        }
        let id = m.release().expect("a waiter");
        handed_to(&mut waiters, id)?;
    }
    drop(held);
    for _ in 0..m.raw_held {
        prop_assert!(b.release_raw());
    }
    prop_assert!(!b.release_raw(), "one release too many is refused");
    let end = b.metrics();
    prop_assert_eq!((end.in_use, end.available), (0, max), "every permit back");
    Ok(())
}

proptest! {
    #![proptest_config(prop_support::config(1000))]

    #[test]
    fn bulkhead_agrees_with_the_model(max in 1u32..=4, ops in proptest::collection::vec(op(), 1..80)) {
        run(max, ops)?;
    }
}
