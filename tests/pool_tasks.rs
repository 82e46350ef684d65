//! Tasks on the thread-pool bulkhead: panics become the task's error and the worker
//! survives, joins with timeouts on the manual clock, capacity, lazy workers and their
//! names, configuration errors.

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use breakwater::{ManualClock, PolicyKind, RejectReason};
use breakwater::{PoolConfig, ShutdownMode, TaskError, ThreadPool};

fn manual_pool(workers: u32, queue: u32) -> (ThreadPool, ManualClock) {
    let clock = ManualClock::new();
    let pool = ThreadPool::builder()
        .name("t")
        .workers(workers)
        .queue_capacity(queue)
        .clock(clock.clone().into())
        .build()
        .unwrap();
    (pool, clock)
}

#[test]
fn a_panic_becomes_the_tasks_error_and_the_worker_survives() {
    let (pool, _clock) = manual_pool(1, 10);
    let bad = pool
        .submit(|| -> u32 { panic!("payment gateway exploded") })
        .unwrap();
    let formatted = pool.submit(|| -> u32 { panic!("code {}", 503) }).unwrap();
    let odd_payload = pool
        .submit(|| -> u32 { std::panic::panic_any(42u8) })
        .unwrap();
    let good = pool
        .submit(|| thread::current().name().unwrap().to_owned())
        .unwrap();
    assert_eq!(
        bad.join(),
        Err(TaskError::Panicked("payment gateway exploded".into()))
    );
    assert_eq!(
        formatted.join(),
        Err(TaskError::Panicked("code 503".into()))
    );
    assert_eq!(
        odd_payload.join(),
        Err(TaskError::Panicked("non-string panic payload".into()))
    );
    assert_eq!(good.join().unwrap(), "t-0", "the same worker ran on");
    let m = pool.metrics();
    assert_eq!((m.spawned, m.panicked, m.completed), (1, 3, 1));
}

#[test]
fn join_timeout_times_out_on_the_manual_clock_and_can_join_again() {
    let (pool, clock) = manual_pool(1, 1);
    let (tx, rx) = mpsc::channel::<u32>();
    let mut handle = pool.submit(move || rx.recv().unwrap() * 2).unwrap();
    let joiner = thread::spawn(move || {
        let first = handle.join_timeout(Duration::from_secs(3));
        (first, handle)
    });
    while clock.waiters() != 1 {
        thread::yield_now();
    }
    clock.advance(Duration::from_secs(3));
    let (first, mut handle) = joiner.join().unwrap();
    assert_eq!(first, Err(TaskError::TimedOut));
    assert!(!handle.is_finished());
    tx.send(21).unwrap();
    let far = clock.now() + Duration::from_secs(3600);
    assert_eq!(handle.join_deadline(far), Ok(42));
    assert!(handle.is_finished());
    assert_eq!(handle.join_deadline(far), Err(TaskError::AlreadyJoined));
    assert_eq!(handle.join(), Err(TaskError::AlreadyJoined));
}

#[test]
fn join_deadline_in_the_past_returns_at_once() {
    let (pool, clock) = manual_pool(1, 1);
    let (tx, rx) = mpsc::channel::<()>();
    let mut handle = pool.submit(move || rx.recv().is_ok()).unwrap();
    assert_eq!(handle.join_deadline(clock.now()), Err(TaskError::TimedOut));
    assert_eq!(clock.waiters(), 0);
    tx.send(()).unwrap();
    assert_eq!(handle.join(), Ok(true));
}

#[test]
fn capacity_is_workers_plus_queue_and_rejection_is_immediate() {
    let (pool, _clock) = manual_pool(2, 3);
    let (release_tx, release_rx) = crossbeam_channel::unbounded::<()>();
    let handles: Vec<_> = (0..5)
        .map(|_| {
            let rx = release_rx.clone();
            pool.submit(move || rx.recv().is_ok()).unwrap()
        })
        .collect();
    for _ in 0..3 {
        assert_eq!(
            pool.submit(|| true).unwrap_err().reason(),
            RejectReason::QueueFull
        );
    }
    let m = pool.metrics();
    assert_eq!((m.rejected, m.spawned), (3, 2));
    assert_eq!(m.busy + m.queue_depth, 5);
    drop(release_tx);
    for h in handles {
        assert_eq!(h.join(), Ok(false));
    }
    // Room again once they are done.
    assert_eq!(pool.submit(|| true).unwrap().join(), Ok(true));
}

#[test]
fn hand_off_pool_with_zero_queue_accepts_only_free_workers() {
    let (pool, _clock) = manual_pool(2, 0);
    let (tx, rx) = crossbeam_channel::unbounded::<()>();
    let a = {
        let rx = rx.clone();
        pool.submit(move || rx.recv().is_ok()).unwrap()
    };
    let b = {
        let rx = rx.clone();
        pool.submit(move || rx.recv().is_ok()).unwrap()
    };
    assert_eq!(
        pool.submit(|| true).unwrap_err().reason(),
        RejectReason::QueueFull
    );
    drop(tx);
    assert_eq!((a.join(), b.join()), (Ok(false), Ok(false)));
    assert_eq!(pool.metrics().spawned, 2);
}

#[test]
fn workers_are_spawned_lazily_and_named_in_order() {
    let (pool, _clock) = manual_pool(4, 10);
    assert_eq!(pool.metrics().spawned, 0);
    // One task at a time needs one worker only.
    for _ in 0..5 {
        let name = pool
            .submit(|| thread::current().name().unwrap().to_owned())
            .unwrap()
            .join()
            .unwrap();
        assert_eq!(name, "t-0");
    }
    assert_eq!(pool.metrics().spawned, 1);
    // Four blocked at once need four.
    let (tx, rx) = crossbeam_channel::unbounded::<()>();
    let (started_tx, started_rx) = mpsc::channel();
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let (rx, started) = (rx.clone(), started_tx.clone());
            pool.submit(move || {
                started
                    .send(thread::current().name().unwrap().to_owned())
                    .unwrap();
                let _ = rx.recv();
            })
            .unwrap()
        })
        .collect();
    let mut names: Vec<String> = (0..4).map(|_| started_rx.recv().unwrap()).collect();
    names.sort();
    assert_eq!(names, vec!["t-0", "t-1", "t-2", "t-3"]);
    assert_eq!(pool.metrics().spawned, 4);
    drop(tx);
    for h in handles {
        h.join().unwrap();
    }
    assert!(pool.shutdown(ShutdownMode::Drain).terminated);
}

#[test]
fn invalid_configurations_name_their_field() {
    let zero = ThreadPool::builder().workers(0).build().unwrap_err();
    assert_eq!(
        (zero.policy, zero.field),
        (PolicyKind::ThreadPool, "workers")
    );
    let nul = ThreadPool::builder().name("a\0b").build().unwrap_err();
    assert_eq!(nul.field, "name");
    let wait = ThreadPool::builder()
        .drop_wait(Duration::MAX)
        .build()
        .unwrap_err();
    assert_eq!(wait.field, "drop_wait");
    let from = ThreadPool::from_config(PoolConfig {
        workers: 0,
        ..Default::default()
    })
    .unwrap_err();
    assert_eq!(from.field, "workers");
}

#[test]
fn defaults() {
    let pool = ThreadPool::builder().build().unwrap();
    assert_eq!(pool.name(), "pool");
    assert_eq!(pool.config(), &PoolConfig::default());
    let m = pool.metrics();
    assert_eq!((m.workers, m.queue_capacity), (10, 100));
}

#[test]
fn join_then_submit_on_a_one_worker_hand_off_pool_is_always_accepted() {
    // Regression: a joined task must already count its worker as free.
    let (pool, _clock) = manual_pool(1, 0);
    for i in 0..200u32 {
        assert_eq!(pool.submit(move || i).unwrap().join(), Ok(i));
    }
    let m = pool.metrics();
    assert_eq!((m.rejected, m.spawned, m.completed, m.busy), (0, 1, 200, 0));
}

/// Panics when dropped: user code in a destructor.
struct DropBomb;

impl Drop for DropBomb {
    fn drop(&mut self) {
        panic!("drop bomb");
    }
}

#[test]
fn a_detached_value_that_panics_on_drop_does_not_kill_the_worker() {
    let (pool, _clock) = manual_pool(1, 4);
    let (tx, rx) = mpsc::channel::<()>();
    let detached = pool
        .submit(move || {
            rx.recv().unwrap();
            DropBomb
        })
        .unwrap();
    drop(detached); // the value will be dropped on the worker
    tx.send(()).unwrap();
    let next = pool
        .submit(|| thread::current().name().unwrap().to_owned())
        .unwrap();
    assert_eq!(next.join().unwrap(), "t-0");
    let m = pool.metrics();
    assert_eq!((m.spawned, m.completed), (1, 2));
}
