//! Redis killed (SIGKILL) or frozen (SIGSTOP) under a shared breaker and limiter:
//! callers keep getting answers, nothing waits past the operation timeout, the policy
//! reports DEGRADED and resynchronises when Redis is back.
#![cfg(feature = "redis")]

mod redis_support;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use breakwater::State;
use breakwater::redis::{Health, SharedBreaker, SharedError, SharedRateLimiter};
use redis_support::{eventually, server};

const WAIT: Duration = Duration::from_secs(10);
const OP_TIMEOUT: Duration = Duration::from_millis(50);
/// Scheduling slack on a loaded 2-core machine, on top of the documented bound.
const SLACK: Duration = Duration::from_millis(500);

fn breaker(url: &str, name: &str) -> (SharedBreaker, Arc<Mutex<Vec<Health>>>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let e = events.clone();
    let b = SharedBreaker::builder()
        .name(name)
        .url(url)
        .consecutive_failures(3)
        .open_duration(Duration::from_millis(100))
        .op_timeout(OP_TIMEOUT)
        .poll_interval(Duration::from_millis(50))
        .on_health(move |ev| e.lock().unwrap().push(ev.health))
        .build()
        .unwrap();
    (b, events)
}

/// Four threads call the breaker until stopped; returns (answers, slowest answer).
fn callers(
    b: &SharedBreaker,
    stop: &Arc<AtomicBool>,
) -> Vec<std::thread::JoinHandle<(u64, Duration)>> {
    (0..4)
        .map(|i| {
            let b = b.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let (mut answers, mut slowest) = (0u64, Duration::ZERO);
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let start = Instant::now();
                    // Mostly successes, a failure now and then (never three in a row).
                    let _ = b.call(|| if (n + i) % 7 == 0 { Err("x") } else { Ok(()) });
                    slowest = slowest.max(start.elapsed());
                    answers += 1;
                    std::thread::sleep(Duration::from_micros(300));
                }
                (answers, slowest)
            })
        })
        .collect()
}

#[test]
fn sigkill_and_restart_keep_callers_answered_and_resynchronise() {
    let Some(mut server) = server() else { return };
    let (b, events) = breaker(&server.url(), "outage");
    let (other, _) = breaker(&server.url(), "outage");
    assert_eq!(b.health(), Health::Healthy);
    let gen_before = b.generation();
    let stop = Arc::new(AtomicBool::new(false));
    let threads = callers(&b, &stop);

    std::thread::sleep(Duration::from_millis(100));
    server.kill();
    assert!(
        eventually(WAIT, || b.health() == Health::Degraded),
        "degraded while Redis is down"
    );
    // Degraded: the local fallback decides; it trips on this process's own failures.
    std::thread::sleep(Duration::from_millis(100));
    server.start().unwrap();
    assert!(
        eventually(WAIT, || b.health() == Health::Healthy),
        "resynchronised"
    );
    assert!(eventually(WAIT, || other.health() == Health::Healthy));
    stop.store(true, Ordering::Relaxed);
    let results: Vec<(u64, Duration)> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    for (answers, slowest) in &results {
        assert!(*answers > 0);
        assert!(*slowest <= OP_TIMEOUT + SLACK, "a call waited {slowest:?}");
    }
    // Redis lost its data: the state was recreated above every generation known.
    assert!(
        b.generation() > gen_before,
        "{} > {gen_before}",
        b.generation()
    );
    let m = b.redis_metrics();
    assert!(m.degraded >= 1 && m.resyncs >= 1 && m.errors >= 1, "{m:?}");
    let seen = events.lock().unwrap().clone();
    assert_eq!(seen.first(), Some(&Health::Degraded));
    assert_eq!(seen.last(), Some(&Health::Healthy));
    // Shared again: a trip by one instance reaches the other.
    for _ in 0..3 {
        let _ = other.call(|| Err::<(), _>("down"));
    }
    assert!(eventually(WAIT, || b.state() == State::Open));
}

#[test]
fn a_frozen_redis_costs_at_most_the_timeout() {
    let Some(server) = server() else { return };
    let (b, _) = breaker(&server.url(), "frozen");
    for _ in 0..3 {
        let _ = b.call(|| Err::<(), _>("down"));
    }
    assert!(eventually(WAIT, || b.state() == State::Open));
    server.signal("STOP");
    // The open duration passes: the next admission asks Redis for a trial slot.
    std::thread::sleep(Duration::from_millis(150));
    let start = Instant::now();
    let answer = b.try_acquire();
    let took = start.elapsed();
    assert!(
        took <= OP_TIMEOUT + SLACK,
        "trial admission waited {took:?}"
    );
    assert_eq!(b.health(), Health::Degraded);
    // The local fallback answered (a fresh closed breaker admits).
    let permit = answer.expect("answered by the local fallback");
    assert!(permit.is_local());
    permit.success();
    let start = Instant::now();
    let reset = b.reset();
    assert!(start.elapsed() <= OP_TIMEOUT + SLACK);
    assert!(
        matches!(reset, Err(SharedError::Unreachable(_))),
        "{reset:?}"
    );
    server.signal("CONT");
    assert!(eventually(WAIT, || b.health() == Health::Healthy));
    b.reset().unwrap();
    assert_eq!(b.state(), State::Closed);
}

#[test]
fn the_limiter_answers_locally_while_redis_is_down() {
    let Some(mut server) = server() else { return };
    let limiter = SharedRateLimiter::builder()
        .name("outage")
        .url(server.url())
        .rate(1000, Duration::from_secs(1))
        .redis(breakwater::redis::RedisOptions {
            url: server.url(),
            op_timeout: OP_TIMEOUT,
            poll_interval: Duration::from_millis(50),
            ..Default::default()
        })
        .build()
        .unwrap();
    assert_eq!(limiter.health(), Health::Healthy);
    limiter.try_acquire().unwrap();
    server.kill();
    let slowest = AtomicU64::new(0);
    for _ in 0..20 {
        let start = Instant::now();
        let _ = limiter.try_acquire();
        slowest.fetch_max(start.elapsed().as_micros() as u64, Ordering::Relaxed);
    }
    assert!(Duration::from_micros(slowest.load(Ordering::Relaxed)) <= OP_TIMEOUT + SLACK);
    assert_eq!(limiter.health(), Health::Degraded);
    server.start().unwrap();
    assert!(eventually(WAIT, || limiter.health() == Health::Healthy));
    limiter.try_acquire().unwrap();
}
