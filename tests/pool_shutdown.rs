//! Shutdown of the thread-pool bulkhead: every task gets exactly one outcome (done,
//! panicked, cancelled), drain runs the queue, cancel empties it, a timed shutdown returns
//! while a task is still blocked and names the busy workers, and dropping the last handle
//! shuts down.

use std::sync::{Arc, Barrier, mpsc};
use std::thread;
use std::time::Duration;

use breakwater::{ManualClock, RejectReason};
use breakwater::{ShutdownMode, TaskError, TaskHandle, ThreadPool};

/// A pool on a manual clock.
fn pool(name: &str, workers: u32, queue: u32) -> (ThreadPool, ManualClock) {
    let clock = ManualClock::new();
    let pool = ThreadPool::builder()
        .name(name)
        .workers(workers)
        .queue_capacity(queue)
        .clock(clock.clone().into())
        .build()
        .unwrap();
    (pool, clock)
}

/// Occupies every worker with a task blocked on `gate`; returns their handles once all
/// have started.
fn block_workers(
    pool: &ThreadPool,
    n: usize,
    gate: &Arc<Barrier>,
) -> Vec<TaskHandle<&'static str>> {
    let (tx, rx) = mpsc::channel();
    let handles = (0..n)
        .map(|_| {
            let (gate, tx) = (gate.clone(), tx.clone());
            pool.submit(move || {
                tx.send(()).unwrap();
                gate.wait();
                "blocked task done"
            })
            .unwrap()
        })
        .collect();
    for _ in 0..n {
        rx.recv().unwrap();
    }
    handles
}

#[test]
fn cancel_gives_every_task_exactly_one_outcome() {
    let (pool, _clock) = pool("mixed", 2, 10);
    let gate = Arc::new(Barrier::new(3));
    let blocked = block_workers(&pool, 2, &gate);
    let queued: Vec<_> = (0..8u32)
        .map(|i| {
            pool.submit(move || {
                if i % 4 == 0 {
                    panic!("task {i} failed");
                }
                i
            })
            .unwrap()
        })
        .collect();
    assert_eq!(pool.metrics().queue_depth, 8);

    let p2 = pool.clone();
    let shutdown = thread::spawn(move || p2.shutdown(ShutdownMode::Cancel));
    // Queued tasks are cancelled at once, before the running ones finish.
    let mut cancelled = 0;
    for h in queued {
        assert_eq!(h.join(), Err(TaskError::Cancelled));
        cancelled += 1;
    }
    assert_eq!(cancelled, 8);
    assert_eq!(
        pool.submit(|| 0).unwrap_err().reason(),
        RejectReason::Shutdown
    );
    gate.wait();
    let report = shutdown.join().unwrap();
    assert!(report.terminated);
    assert_eq!(report.mode, ShutdownMode::Cancel);
    assert_eq!((report.cancelled, report.still_queued), (8, 0));
    assert!(report.busy_workers.is_empty());
    for h in blocked {
        assert_eq!(h.join(), Ok("blocked task done"));
    }
    let m = pool.metrics();
    assert_eq!(
        (
            m.completed,
            m.panicked,
            m.cancelled,
            m.rejected,
            m.busy,
            m.queue_depth
        ),
        (2, 0, 8, 1, 0, 0)
    );
}

#[test]
fn drain_runs_every_queued_task_and_counts_each_outcome_once() {
    let (pool, _clock) = pool("drain", 2, 10);
    let gate = Arc::new(Barrier::new(3));
    let blocked = block_workers(&pool, 2, &gate);
    let queued: Vec<_> = (0..8u32)
        .map(|i| {
            pool.submit(move || {
                if i % 4 == 0 {
                    panic!("task {i} failed");
                }
                i
            })
            .unwrap()
        })
        .collect();
    let p2 = pool.clone();
    let shutdown = thread::spawn(move || p2.shutdown(ShutdownMode::Drain));
    gate.wait();
    let report = shutdown.join().unwrap();
    assert!(report.terminated);
    assert_eq!((report.cancelled, report.still_queued), (0, 0));
    let (mut done, mut panicked) = (0, 0);
    for (i, h) in queued.into_iter().enumerate() {
        match h.join() {
            Ok(v) => {
                assert_eq!(v as usize, i);
                done += 1;
            }
            Err(TaskError::Panicked(msg)) => {
                assert_eq!(msg, format!("task {i} failed"));
                panicked += 1;
            }
            Err(other) => panic!("unexpected outcome {other:?}"),
        }
    }
    assert_eq!((done, panicked), (6, 2));
    for h in blocked {
        h.join().unwrap();
    }
    let m = pool.metrics();
    assert_eq!((m.completed, m.panicked, m.cancelled), (8, 2, 0));
}

#[test]
fn dropped_handles_still_get_their_outcome_counted() {
    let (pool, _clock) = pool("detached", 3, 50);
    for i in 0..40u32 {
        drop(
            pool.submit(move || {
                if i % 10 == 0 {
                    panic!("detached panic");
                }
                i
            })
            .unwrap(),
        );
    }
    let report = pool.shutdown(ShutdownMode::Drain);
    assert!(report.terminated);
    let m = pool.metrics();
    assert_eq!((m.completed, m.panicked, m.cancelled), (36, 4, 0));
    assert_eq!(m.completed + m.panicked + m.cancelled, 40);
}

#[test]
fn shutdown_timeout_returns_while_a_task_is_still_blocked() {
    let (pool, clock) = pool("stuck", 2, 4);
    let gate = Arc::new(Barrier::new(3));
    let blocked = block_workers(&pool, 2, &gate);
    let queued: Vec<_> = (0..3).map(|i| pool.submit(move || i).unwrap()).collect();

    let p2 = pool.clone();
    let shutdown =
        thread::spawn(move || p2.shutdown_timeout(ShutdownMode::Cancel, Duration::from_secs(5)));
    while clock.waiters() != 1 {
        thread::yield_now();
    }
    clock.advance(Duration::from_secs(5));
    let report = shutdown.join().unwrap();
    assert!(!report.terminated);
    assert_eq!(report.cancelled, 3);
    assert_eq!(report.still_queued, 0);
    assert_eq!(
        report.busy_workers,
        vec!["stuck-0".to_owned(), "stuck-1".to_owned()]
    );
    for h in queued {
        assert_eq!(h.join(), Err(TaskError::Cancelled));
    }

    // Release the blocked tasks: they finish, and a second shutdown sees every worker exit.
    gate.wait();
    for h in blocked {
        assert_eq!(h.join(), Ok("blocked task done"));
    }
    let report = pool.shutdown(ShutdownMode::Cancel);
    assert!(report.terminated);
    assert_eq!(report.cancelled, 0);
    assert!(report.busy_workers.is_empty());
    let m = pool.metrics();
    assert_eq!((m.completed, m.cancelled, m.busy), (2, 3, 0));
}

#[test]
fn drain_with_timeout_reports_the_tasks_left_in_the_queue() {
    let (pool, clock) = pool("slow", 1, 4);
    let gate = Arc::new(Barrier::new(2));
    let blocked = block_workers(&pool, 1, &gate);
    let queued: Vec<_> = (0..4).map(|i| pool.submit(move || i).unwrap()).collect();
    let p2 = pool.clone();
    let shutdown =
        thread::spawn(move || p2.shutdown_timeout(ShutdownMode::Drain, Duration::from_secs(1)));
    while clock.waiters() != 1 {
        thread::yield_now();
    }
    clock.advance(Duration::from_secs(1));
    let report = shutdown.join().unwrap();
    assert!(!report.terminated);
    assert_eq!((report.cancelled, report.still_queued), (0, 4));
    assert_eq!(report.busy_workers, vec!["slow-0".to_owned()]);
    // The worker goes on draining once unblocked.
    gate.wait();
    blocked.into_iter().for_each(|h| {
        h.join().unwrap();
    });
    let values: Vec<i32> = queued.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(values, vec![0, 1, 2, 3]);
    assert!(pool.shutdown(ShutdownMode::Drain).terminated);
}

#[test]
fn cancel_after_a_timed_out_drain_cancels_the_rest() {
    let (pool, clock) = pool("upgrade", 1, 4);
    let gate = Arc::new(Barrier::new(2));
    let blocked = block_workers(&pool, 1, &gate);
    let queued: Vec<_> = (0..4).map(|i| pool.submit(move || i).unwrap()).collect();
    let p2 = pool.clone();
    let drain =
        thread::spawn(move || p2.shutdown_timeout(ShutdownMode::Drain, Duration::from_secs(1)));
    while clock.waiters() != 1 {
        thread::yield_now();
    }
    clock.advance(Duration::from_secs(1));
    assert_eq!(drain.join().unwrap().still_queued, 4);
    let p3 = pool.clone();
    let cancel = thread::spawn(move || p3.shutdown(ShutdownMode::Cancel));
    for h in queued {
        assert_eq!(h.join(), Err(TaskError::Cancelled));
    }
    gate.wait();
    let report = cancel.join().unwrap();
    assert!(report.terminated);
    assert_eq!((report.mode, report.cancelled), (ShutdownMode::Cancel, 4));
    blocked.into_iter().for_each(|h| {
        h.join().unwrap();
    });
}

#[test]
fn dropping_the_last_handle_cancels_the_queue_and_lets_running_tasks_finish() {
    let gate = Arc::new(Barrier::new(2));
    let pool = ThreadPool::builder()
        .name("dropped")
        .workers(1)
        .queue_capacity(3)
        .drop_wait(Duration::ZERO)
        .build()
        .unwrap();
    let blocked = block_workers(&pool, 1, &gate);
    let queued: Vec<_> = (0..3).map(|i| pool.submit(move || i).unwrap()).collect();
    let clone = pool.clone();
    drop(pool);
    // A clone keeps it alive.
    assert_eq!(clone.metrics().queue_depth, 3);
    drop(clone);
    for h in queued {
        assert_eq!(h.join(), Err(TaskError::Cancelled));
    }
    gate.wait();
    for h in blocked {
        assert_eq!(h.join(), Ok("blocked task done"));
    }
}

#[test]
fn shutdown_from_inside_a_task_does_not_wait_for_itself() {
    let (pool, _clock) = pool("selfish", 2, 4);
    let p2 = pool.clone();
    let h = pool
        .submit(move || p2.shutdown(ShutdownMode::Drain))
        .unwrap();
    let report = h.join().unwrap();
    assert!(!report.terminated, "the calling worker is still running");
    assert_eq!(report.busy_workers, vec!["selfish-0".to_owned()]);
    assert!(pool.shutdown(ShutdownMode::Drain).terminated);
}

#[test]
fn shutdown_of_an_idle_pool_and_twice() {
    let (pool, _clock) = pool("idle", 4, 4);
    let report = pool.shutdown(ShutdownMode::Drain);
    assert!(report.terminated);
    assert_eq!(pool.metrics().spawned, 0);
    let again = pool.shutdown(ShutdownMode::Drain);
    assert!(again.terminated);
    assert_eq!(again.cancelled, 0);
}

/// Panics when dropped: user code in a destructor.
struct DropBomb;

impl Drop for DropBomb {
    fn drop(&mut self) {
        panic!("drop bomb");
    }
}

#[test]
fn a_cancelled_task_whose_captures_panic_on_drop_still_gets_its_outcome() {
    let (pool, _clock) = pool("bombs", 1, 4);
    let gate = Arc::new(Barrier::new(2));
    let blocked = block_workers(&pool, 1, &gate);
    let bomb = DropBomb;
    let armed = pool
        .submit(move || {
            let _keep = &bomb;
            1
        })
        .unwrap();
    let plain = pool.submit(|| 2).unwrap();
    let p2 = pool.clone();
    let shutdown = thread::spawn(move || p2.shutdown(ShutdownMode::Cancel));
    assert_eq!(armed.join(), Err(TaskError::Cancelled));
    assert_eq!(plain.join(), Err(TaskError::Cancelled));
    gate.wait();
    let report = shutdown.join().unwrap();
    assert!(report.terminated);
    assert_eq!(report.cancelled, 2);
    blocked.into_iter().for_each(|h| {
        h.join().unwrap();
    });
}
