//! Behaviour of the semaphore bulkhead: the in-flight bound under contention, permits
//! back after panics, FIFO hand-off, timed waits on the manual clock, fail fast,
//! cancellation, the raw protocol, configuration and the registry.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use breakwater::{Bulkhead, BulkheadConfig};
use breakwater::{CancelToken, Error, ManualClock, PolicyKind, Registry, RejectReason};

fn bulkhead(max: u32) -> Bulkhead {
    Bulkhead::builder().max_concurrent(max).build().unwrap()
}

fn manual_bulkhead(max: u32) -> (Bulkhead, ManualClock) {
    let clock = ManualClock::new();
    let b = Bulkhead::builder()
        .max_concurrent(max)
        .clock(clock.clone().into())
        .build()
        .unwrap();
    (b, clock)
}

/// Raises `high` to at least `value`.
fn raise(high: &AtomicUsize, value: usize) {
    high.fetch_max(value, Ordering::SeqCst);
}

#[test]
fn sixteen_threads_never_exceed_four_in_flight() {
    const THREADS: usize = 16;
    const ROUNDS: usize = 200;
    let b = bulkhead(4);
    let in_flight = Arc::new(AtomicUsize::new(0));
    let high = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..THREADS)
        .map(|_| {
            let (b, in_flight, high) = (b.clone(), in_flight.clone(), high.clone());
            thread::spawn(move || {
                for _ in 0..ROUNDS {
                    let permit = b.acquire_cancellable(None, None).unwrap();
                    let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                    raise(&high, now);
                    thread::yield_now();
                    in_flight.fetch_sub(1, Ordering::SeqCst);
                    drop(permit);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert!(high.load(Ordering::SeqCst) <= 4, "high-water mark {high:?}");
    let m = b.metrics();
    assert!(m.peak <= 4, "peak {}", m.peak);
    assert_eq!((m.available, m.in_use, m.waiting), (4, 0, 0));
    assert_eq!(m.acquired, (THREADS * ROUNDS) as u64);
    assert_eq!(m.rejected, 0);
}

#[test]
fn every_permit_comes_back_after_panics() {
    const THREADS: usize = 16;
    const ROUNDS: usize = 50;
    let b = Bulkhead::builder()
        .max_concurrent(4)
        .max_wait(Duration::from_secs(3600))
        .build()
        .unwrap();
    let in_flight = Arc::new(AtomicUsize::new(0));
    let high = Arc::new(AtomicUsize::new(0));
    let panics = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let (b, in_flight, high, panics) =
                (b.clone(), in_flight.clone(), high.clone(), panics.clone());
            thread::spawn(move || {
                for round in 0..ROUNDS {
                    let result = catch_unwind(AssertUnwindSafe(|| {
                        b.call(|| {
                            let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                            raise(&high, now);
                            in_flight.fetch_sub(1, Ordering::SeqCst);
                            if (t + round) % 3 == 0 {
                                panic!("guarded code failed");
                            }
                            Ok::<_, ()>(())
                        })
                    }));
                    match result {
                        Ok(outcome) => outcome.unwrap(),
                        Err(_) => {
                            panics.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let expected_panics = (0..THREADS)
        .flat_map(|t| (0..ROUNDS).map(move |r| (t + r) % 3 == 0))
        .filter(|p| *p)
        .count();
    assert_eq!(panics.load(Ordering::SeqCst), expected_panics);
    assert!(high.load(Ordering::SeqCst) <= 4);
    let m = b.metrics();
    assert_eq!((m.available, m.in_use, m.waiting), (4, 0, 0));
    assert_eq!(m.acquired, (THREADS * ROUNDS) as u64);
}

#[test]
fn permit_is_released_while_unwinding() {
    let b = bulkhead(1);
    let result = catch_unwind(AssertUnwindSafe(|| {
        let _permit = b.try_acquire().unwrap();
        panic!("boom");
    }));
    assert!(result.is_err());
    let m = b.metrics();
    assert_eq!((m.available, m.in_use), (1, 0));
    assert!(b.try_acquire().is_ok());
}

#[test]
fn waiters_are_served_in_arrival_order() {
    const WAITERS: usize = 6;
    let b = bulkhead(1);
    let held = b.try_acquire().unwrap();
    let (tx, rx) = mpsc::channel();
    let mut handles = Vec::new();
    for i in 0..WAITERS {
        let (b2, tx) = (b.clone(), tx.clone());
        handles.push(thread::spawn(move || {
            let permit = b2.acquire_cancellable(None, None).unwrap();
            tx.send(i).unwrap();
            drop(permit); // hands the permit to the next waiter in line
        }));
        // Queue them one by one, so that arrival order is known.
        while b.metrics().waiting as usize != i + 1 {
            thread::yield_now();
        }
    }
    drop(held);
    let order: Vec<usize> = (0..WAITERS).map(|_| rx.recv().unwrap()).collect();
    assert_eq!(order, (0..WAITERS).collect::<Vec<_>>());
    for h in handles {
        h.join().unwrap();
    }
    let m = b.metrics();
    assert_eq!((m.available, m.in_use, m.waiting), (1, 0, 0));
    assert_eq!(m.acquired, 1 + WAITERS as u64);
}

#[test]
fn released_permit_goes_to_the_waiter_not_to_a_newcomer() {
    let b = bulkhead(1);
    let held = b.try_acquire().unwrap();
    let (tx, rx) = mpsc::channel::<()>();
    let b2 = b.clone();
    let waiter = thread::spawn(move || {
        let permit = b2.acquire_cancellable(None, None).unwrap();
        rx.recv().unwrap(); // hold it until told
        drop(permit);
    });
    while b.metrics().waiting != 1 {
        thread::yield_now();
    }
    drop(held);
    // The permit was handed to the waiter at release: nothing is free for us.
    assert!(b.try_acquire().is_err());
    let m = b.metrics();
    assert_eq!((m.available, m.in_use, m.waiting), (0, 1, 0));
    tx.send(()).unwrap();
    waiter.join().unwrap();
    assert_eq!(b.metrics().available, 1);
}

#[test]
fn acquire_timeout_wakes_when_the_manual_clock_passes_the_deadline() {
    let (b, clock) = manual_bulkhead(1);
    let _held = b.try_acquire().unwrap();
    let b2 = b.clone();
    let waiter = thread::spawn(move || b2.acquire_timeout(Duration::from_secs(5)).map(drop));
    while clock.waiters() != 1 {
        thread::yield_now();
    }
    assert_eq!(b.metrics().waiting, 1);
    clock.advance(Duration::from_secs(5));
    let err = waiter.join().unwrap().unwrap_err();
    assert!(!err.is_cancelled());
    assert_eq!(err.max_concurrent(), 1);
    let m = b.metrics();
    assert_eq!((m.waiting, m.rejected, m.in_use), (0, 1, 1));
}

#[test]
fn acquire_timeout_still_waits_before_the_deadline_and_gets_a_released_permit() {
    let (b, clock) = manual_bulkhead(1);
    let held = b.try_acquire().unwrap();
    let b2 = b.clone();
    let waiter = thread::spawn(move || b2.acquire_timeout(Duration::from_secs(5)).map(drop));
    while clock.waiters() != 1 {
        thread::yield_now();
    }
    clock.advance(Duration::from_secs(4)); // not yet
    drop(held);
    assert!(waiter.join().unwrap().is_ok());
    let m = b.metrics();
    assert_eq!((m.rejected, m.acquired, m.available), (0, 2, 1));
}

#[test]
fn acquire_deadline_on_the_manual_clock() {
    let (b, clock) = manual_bulkhead(1);
    let _held = b.try_acquire().unwrap();
    let deadline = clock.now() + Duration::from_millis(300);
    let b2 = b.clone();
    let waiter = thread::spawn(move || b2.acquire_deadline(deadline).map(drop));
    while clock.waiters() != 1 {
        thread::yield_now();
    }
    clock.advance_to(deadline);
    assert!(waiter.join().unwrap().is_err());
    assert!(b.acquire_deadline(clock.now()).is_err()); // already past: at once
    assert_eq!(b.metrics().rejected, 2);
}

#[test]
fn zero_max_wait_fails_fast() {
    let (b, clock) = manual_bulkhead(2);
    let _a = b.acquire().unwrap();
    let _b = b.acquire().unwrap();
    let err = b.acquire().unwrap_err();
    assert_eq!(err.max_concurrent(), 2);
    assert!(b.acquire_timeout(Duration::ZERO).is_err());
    assert!(b.try_acquire().is_err());
    assert_eq!(clock.waiters(), 0);
    let m = b.metrics();
    assert_eq!((m.rejected, m.acquired, m.waiting), (3, 2, 0));
}

#[test]
fn call_waits_up_to_max_wait() {
    let clock = ManualClock::new();
    let b = Bulkhead::builder()
        .max_concurrent(1)
        .max_wait(Duration::from_secs(2))
        .clock(clock.clone().into())
        .build()
        .unwrap();
    let _held = b.try_acquire().unwrap();
    let b2 = b.clone();
    let caller = thread::spawn(move || b2.call(|| Ok::<_, ()>(1)));
    while clock.waiters() != 1 {
        thread::yield_now();
    }
    clock.advance(Duration::from_secs(2));
    let err = caller.join().unwrap().unwrap_err();
    assert!(matches!(
        err,
        Error::Rejected {
            policy: PolicyKind::Bulkhead,
            reason: RejectReason::BulkheadFull,
            retry_after: None
        }
    ));
}

#[test]
fn cancel_wakes_a_parked_waiter_without_moving_the_clock() {
    let (b, clock) = manual_bulkhead(1);
    let _held = b.try_acquire().unwrap();
    let parent = CancelToken::new();
    let child = parent.child();
    let b2 = b.clone();
    let deadline = clock.now() + Duration::from_secs(3600);
    let waiter = thread::spawn(move || {
        b2.acquire_cancellable(Some(deadline), Some(&child))
            .map(drop)
    });
    while clock.waiters() != 1 {
        thread::yield_now();
    }
    parent.cancel(); // an ancestor's cancel reaches the child's waiter
    let err = waiter.join().unwrap().unwrap_err();
    assert!(err.is_cancelled());
    assert_eq!(clock.elapsed(), Duration::ZERO);
    let e: Error<()> = err.into();
    assert!(matches!(
        e,
        Error::Rejected {
            reason: RejectReason::Cancelled,
            ..
        }
    ));
    let m = b.metrics();
    assert_eq!((m.waiting, m.rejected, m.in_use, m.available), (0, 1, 1, 0));
}

#[test]
fn untimed_cancellable_wait_is_woken_by_cancel() {
    let b = bulkhead(1);
    let _held = b.try_acquire().unwrap();
    let token = CancelToken::new();
    let (b2, t2) = (b.clone(), token.clone());
    let waiter = thread::spawn(move || b2.acquire_raw(None, Some(&t2)));
    while b.metrics().waiting != 1 {
        thread::yield_now();
    }
    token.cancel();
    assert!(waiter.join().unwrap().unwrap_err().is_cancelled());
    assert!(!b.release_raw()); // the cancelled acquire holds nothing
    assert_eq!(b.metrics().in_use, 1);
}

#[test]
fn already_cancelled_token_refuses_even_with_free_permits() {
    let b = bulkhead(3);
    let token = CancelToken::new();
    token.cancel();
    assert!(
        b.acquire_cancellable(None, Some(&token))
            .unwrap_err()
            .is_cancelled()
    );
    assert_eq!(b.metrics().available, 3);
}

#[test]
fn raw_protocol_counts_and_refuses_unmatched_releases() {
    let b = bulkhead(2);
    assert!(!b.release_raw(), "release without acquire");
    b.acquire_raw(None, None).unwrap();
    let guard = b.try_acquire().unwrap();
    assert!(b.acquire_raw(Some(b.clock().now()), None).is_err());
    assert!(b.release_raw());
    assert!(!b.release_raw(), "one release too many");
    let m = b.metrics();
    assert_eq!((m.in_use, m.available), (1, 1));
    drop(guard);
    let m = b.metrics();
    assert_eq!(
        (m.in_use, m.available, m.acquired, m.rejected),
        (0, 2, 2, 1)
    );
}

#[test]
fn raw_release_hands_the_permit_to_a_waiter() {
    let b = bulkhead(1);
    b.acquire_raw(None, None).unwrap();
    let b2 = b.clone();
    let waiter = thread::spawn(move || b2.acquire_cancellable(None, None).map(drop));
    while b.metrics().waiting != 1 {
        thread::yield_now();
    }
    assert!(b.release_raw());
    waiter.join().unwrap().unwrap();
    assert_eq!(b.metrics().available, 1);
}

#[test]
fn bulkhead_full_converts_into_a_rejection() {
    let b = bulkhead(1);
    let _p = b.try_acquire().unwrap();
    let full = b.try_acquire().unwrap_err();
    assert_eq!(full.to_string(), "bulkhead full (1 in flight)");
    let e: Error<std::io::Error> = full.into();
    assert_eq!(e.to_string(), "bulkhead rejected the call: bulkhead full");
}

#[test]
fn invalid_configurations_name_their_field() {
    let zero = Bulkhead::builder().max_concurrent(0).build().unwrap_err();
    assert_eq!(
        (zero.policy, zero.field),
        (PolicyKind::Bulkhead, "max_concurrent")
    );
    let huge = Bulkhead::builder()
        .max_wait(Duration::MAX)
        .build()
        .unwrap_err();
    assert_eq!(huge.field, "max_wait");
    let from = Bulkhead::from_config(BulkheadConfig {
        max_concurrent: 0,
        ..Default::default()
    })
    .unwrap_err();
    assert_eq!(from.field, "max_concurrent");
}

#[test]
fn defaults() {
    let b = Bulkhead::builder().build().unwrap();
    assert_eq!(b.name(), "bulkhead");
    assert_eq!(b.config(), &BulkheadConfig::default());
    assert_eq!(b.config().max_concurrent, 25);
    assert_eq!(b.config().max_wait, Duration::ZERO);
}

#[test]
fn registry_shares_bulkheads_by_name() {
    let r = Registry::new();
    let payments = r
        .bulkhead_with(
            "payments",
            BulkheadConfig {
                max_concurrent: 10,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(payments.name(), "payments");
    let _p = payments.try_acquire().unwrap();
    let again = r.bulkhead("payments").unwrap();
    assert_eq!(again.metrics().in_use, 1);
    // The configuration's own name is not compared: the registry's name wins.
    let same = r
        .bulkhead_with(
            "payments",
            BulkheadConfig {
                name: "other".into(),
                max_concurrent: 10,
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(same.name(), "payments");
    let err = r
        .bulkhead_with(
            "payments",
            BulkheadConfig {
                max_concurrent: 5,
                ..Default::default()
            },
        )
        .unwrap_err();
    assert_eq!(err.field, "name");

    r.set_default(BulkheadConfig {
        max_concurrent: 20,
        ..Default::default()
    });
    let email = r.bulkhead("email").unwrap();
    assert_eq!((email.name(), email.metrics().max), ("email", 20));
    assert!(
        r.bulkhead_with(
            "email",
            BulkheadConfig {
                max_concurrent: 20,
                ..Default::default()
            }
        )
        .is_ok()
    );
    let bad = r.bulkhead_with(
        "analytics",
        BulkheadConfig {
            max_concurrent: 0,
            ..Default::default()
        },
    );
    assert_eq!(bad.unwrap_err().field, "max_concurrent");
}

#[test]
fn handles_are_shared_across_threads_and_errors_are_copy() {
    fn shared<T: Clone + Send + Sync + 'static>() {}
    fn copy<T: Copy + Send + Sync + std::error::Error + 'static>() {}
    shared::<Bulkhead>();
    shared::<breakwater::ThreadPool>();
    shared::<breakwater::TimeLimiter>();
    copy::<breakwater::BulkheadFull>();
    copy::<breakwater::PoolRejected>();
    fn send<T: Send + 'static>() {}
    send::<breakwater::BulkheadPermit>();
    send::<breakwater::TaskHandle<String>>();
}
