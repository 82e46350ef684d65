//! The reference story (SPEC 14): a thread pool per dependency, so that a stuck email
//! service cannot starve payments. Payments (10 workers) keep completing while every
//! email worker (5) is blocked; email's full queue rejects at once; worker names show.

use std::collections::BTreeSet;
use std::sync::{Arc, Barrier, mpsc};
use std::thread;

use breakwater::{Error, PolicyKind, Registry, RejectReason};
use breakwater::{PoolConfig, ShutdownMode};

fn config(workers: u32, queue_capacity: u32) -> PoolConfig {
    PoolConfig {
        name: String::new(),
        workers,
        queue_capacity,
    }
}

#[test]
fn payments_complete_while_every_email_worker_is_blocked() {
    let registry = Registry::new();
    let payments = registry
        .thread_pool_with("payments", config(10, 100))
        .unwrap();
    let email = registry.thread_pool_with("email", config(5, 2)).unwrap();

    // Email is stuck: its 5 workers block on a barrier the test releases at the end.
    let gate = Arc::new(Barrier::new(5 + 1));
    let (started_tx, started_rx) = mpsc::channel();
    let stuck: Vec<_> = (0..5)
        .map(|_| {
            let (gate, started) = (gate.clone(), started_tx.clone());
            email
                .submit(move || {
                    started.send(()).unwrap();
                    gate.wait();
                    thread::current().name().unwrap().to_owned()
                })
                .unwrap()
        })
        .collect();
    for _ in 0..5 {
        started_rx.recv().unwrap();
    }
    assert_eq!(email.metrics().busy, 5);

    // Its queue takes two more, then rejects at once.
    let queued: Vec<_> = (0..2).map(|i| email.submit(move || i).unwrap()).collect();
    let full = email.submit(|| 99).unwrap_err();
    assert_eq!(full.reason(), RejectReason::QueueFull);
    let e: Error<()> = full.into();
    assert!(matches!(
        e,
        Error::Rejected {
            policy: PolicyKind::ThreadPool,
            reason: RejectReason::QueueFull,
            ..
        }
    ));
    let m = email.metrics();
    assert_eq!((m.busy, m.queue_depth, m.rejected, m.spawned), (5, 2, 1, 5));

    // Payments are unaffected.
    let charges: Vec<_> = (1..=100u64)
        .map(|amount| {
            payments
                .submit(move || (amount * 3, thread::current().name().unwrap().to_owned()))
                .unwrap()
        })
        .collect();
    let mut total = 0;
    let mut payment_workers = BTreeSet::new();
    for h in charges {
        let (charged, worker) = h.join().unwrap();
        total += charged;
        payment_workers.insert(worker);
    }
    assert_eq!(total, 3 * 5050);
    let allowed: BTreeSet<String> = (0..10).map(|i| format!("payments-{i}")).collect();
    assert!(
        payment_workers.is_subset(&allowed),
        "payment workers {payment_workers:?}"
    );
    assert!(!payment_workers.is_empty());
    let pm = payments.metrics();
    assert_eq!((pm.completed, pm.rejected, pm.busy), (100, 0, 0));
    assert!(pm.spawned <= 10);
    assert_eq!(email.metrics().completed, 0, "email is still stuck");

    // Email recovers.
    gate.wait();
    let email_workers: BTreeSet<String> = stuck.into_iter().map(|h| h.join().unwrap()).collect();
    let expected: BTreeSet<String> = (0..5).map(|i| format!("email-{i}")).collect();
    assert_eq!(email_workers, expected);
    let queued: Vec<i32> = queued.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(queued, vec![0, 1]);

    let report = email.shutdown(ShutdownMode::Drain);
    assert!(report.terminated);
    let m = email.metrics();
    assert_eq!(
        (m.completed, m.cancelled, m.panicked, m.rejected),
        (7, 0, 0, 1)
    );
    // At least the 2 that waited; at most 5 (tasks wait briefly for their new workers).
    assert!(
        (2..=5).contains(&m.peak_queue),
        "peak queue {}",
        m.peak_queue
    );
}

#[test]
fn registry_returns_the_same_pool_and_refuses_another_configuration() {
    let registry = Registry::new();
    let a = registry
        .thread_pool_with("analytics", config(20, 10))
        .unwrap();
    let b = registry.thread_pool("analytics").unwrap();
    a.submit(|| ()).unwrap().join().unwrap();
    assert_eq!(b.metrics().completed, 1);
    assert_eq!(b.name(), "analytics");
    let err = registry
        .thread_pool_with("analytics", config(5, 10))
        .unwrap_err();
    assert_eq!((err.policy, err.field), (PolicyKind::ThreadPool, "name"));
    let bad = registry.thread_pool_with("x", config(0, 1)).unwrap_err();
    assert_eq!(bad.field, "workers");
}
