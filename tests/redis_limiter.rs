//! The shared rate limiter: N processes x M threads against one fleet-wide quota, with
//! and without leases, never above the documented bound.
#![cfg(feature = "redis")]

mod redis_support;

use std::time::{Duration, Instant};

use breakwater::redis::{Health, SharedRateLimiter};
use redis_support::{run_children, server, server_micros, values};

const PROCESSES: usize = 3;
const THREADS: usize = 4;
const PERMITS: u32 = 200; // per second
const BURST: u32 = 10;

fn limiter(url: &str, name: &str, lease: u32) -> SharedRateLimiter {
    SharedRateLimiter::builder()
        .name(name)
        .url(url)
        .rate(PERMITS, Duration::from_secs(1))
        .burst(BURST)
        .lease(lease)
        // The bound holds while Redis answers; a loaded machine must not look like an outage.
        .op_timeout(Duration::from_secs(5))
        .on_health(|e| eprintln!("health: {} ({})", e.health.as_str(), e.reason))
        .build()
        .unwrap()
}

#[test]
fn child_process_entry() {
    let Ok(url) = std::env::var("BW_REDIS_URL") else {
        return;
    };
    let lease: u32 = std::env::var("BW_LEASE").unwrap().parse().unwrap();
    let l = limiter(&url, &format!("quota{lease}"), lease);
    assert_eq!(l.health(), Health::Healthy);
    let threads: Vec<_> = (0..THREADS)
        .map(|_| {
            let l = l.clone();
            std::thread::spawn(move || {
                let end = Instant::now() + Duration::from_millis(800);
                while Instant::now() < end {
                    let _ = l.try_acquire();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let (granted, _) = l.granted_rejected();
    println!("GRANTED={granted}");
    println!("BOUND={}", l.overshoot_bound());
    println!("COMMANDS={}", l.redis_metrics().commands);
    println!("DEGRADED={}", l.redis_metrics().degraded);
}

fn run(lease: u32) -> (u64, u64, u64) {
    let Some(server) = server() else {
        return (0, 0, 0);
    };
    let mut con = server.client();
    let start = server_micros(&mut con);
    let out = run_children(
        "child_process_entry",
        PROCESSES,
        &[
            ("BW_REDIS_URL", server.url()),
            ("BW_LEASE", lease.to_string()),
        ],
    );
    let end = server_micros(&mut con);
    let granted: u64 = values(&out, "GRANTED").iter().sum();
    assert_eq!(
        values(&out, "DEGRADED").iter().sum::<u64>(),
        0,
        "Redis answered throughout"
    );
    let bound = values(&out, "BOUND")[0];
    // GCRA: at most burst + elapsed / T (+1 for the interval's edges), plus the leases'
    // documented overshoot.
    let interval_us = 1_000_000 / u64::from(PERMITS);
    let allowed = u64::from(BURST) + (end - start) / interval_us + 1 + bound;
    assert!(
        granted <= allowed,
        "granted {granted} > allowed {allowed} (lease {lease})"
    );
    assert!(granted > 0);
    (granted, allowed, bound)
}

#[test]
fn processes_times_threads_stay_within_the_quota_without_lease() {
    let (_, _, bound) = run(1);
    assert_eq!(bound, 0);
}

#[test]
fn processes_times_threads_stay_within_the_documented_bound_with_leases() {
    let (granted, _, bound) = run(5);
    if granted > 0 {
        assert_eq!(bound, 5);
    }
}
