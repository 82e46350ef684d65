//! The shared breaker against a real redis-server, across processes (the test binary
//! re-runs itself as children).
#![cfg(feature = "redis")]

mod redis_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use breakwater::redis::{Health, SharedBreaker};
use breakwater::{Recorded, RejectReason, State};
use redis_support::{eventually, hget, run_children, server, values};

const WAIT: Duration = Duration::from_secs(10);

fn child_env(key: &str) -> Option<String> {
    std::env::var(key).ok()
}

/// The children's side of every multi-process test (does nothing when run directly).
#[test]
fn child_process_entry() {
    let Some(role) = child_env("BW_CHILD_ROLE") else {
        return;
    };
    let url = child_env("BW_REDIS_URL").expect("BW_REDIS_URL");
    match role.as_str() {
        "trip" => child_trip(&url),
        "trial" => child_trial(&url),
        "counts" => child_counts(&url),
        other => panic!("unknown role {other}"),
    }
}

/// Sleeps until the wall-clock start the parent gave (so every child is built first).
fn wait_for_start() {
    let at: u128 = child_env("BW_START_AT")
        .expect("BW_START_AT")
        .parse()
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    if at > now {
        std::thread::sleep(Duration::from_millis((at - now) as u64));
    }
}

fn start_at() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    (now + 1500).to_string()
}

/// Fails every call until the breaker rejects; reports the trips it saw and calls made.
fn child_trip(url: &str) {
    let seen = Arc::new(AtomicU64::new(0));
    let s = seen.clone();
    let breaker = SharedBreaker::builder()
        .name("trip")
        .url(url)
        .op_timeout(Duration::from_secs(2))
        .consecutive_failures(5)
        .open_duration(Duration::from_secs(60))
        .on_transition(move |t| {
            if t.to == State::Open {
                s.fetch_add(1, Ordering::Relaxed);
            }
        })
        .build()
        .unwrap();
    assert_eq!(breaker.health(), Health::Healthy);
    wait_for_start();
    let threads: Vec<_> = (0..3)
        .map(|_| {
            let b = breaker.clone();
            std::thread::spawn(move || {
                let mut admitted = 0u64;
                let end = std::time::Instant::now() + WAIT;
                while std::time::Instant::now() < end {
                    match b.call(|| Err::<(), _>("down")) {
                        Err(e) if e.is_rejected() => break,
                        _ => admitted += 1,
                    }
                    std::thread::sleep(Duration::from_micros(200));
                }
                admitted
            })
        })
        .collect();
    let admitted: u64 = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert!(eventually(WAIT, || seen.load(Ordering::Relaxed) == 1));
    println!("ADMITTED={admitted}");
    println!("OPENS_SEEN={}", seen.load(Ordering::Relaxed));
}

#[test]
fn exactly_one_trip_per_outage_across_processes() {
    let Some(server) = server() else { return };
    let out = run_children(
        "child_process_entry",
        3,
        &[
            ("BW_CHILD_ROLE", "trip".into()),
            ("BW_REDIS_URL", server.url()),
            ("BW_START_AT", start_at()),
        ],
    );
    let mut con = server.client();
    let key = "breakwater:breaker:{trip}";
    assert_eq!(hget(&mut con, key, "trans"), 1, "one transition in Redis");
    assert_eq!(hget(&mut con, key, "st"), 1, "open");
    assert_eq!(
        values(&out, "OPENS_SEEN"),
        vec![1, 1, 1],
        "every process saw the one trip"
    );
    // Failures recorded before the trip: at least the threshold, at most a batch per
    // process (each of 3 threads) beyond it.
    let admitted: u64 = values(&out, "ADMITTED").iter().sum();
    assert!(admitted >= 5, "{admitted}");
}

/// Holds every permit it gets (never reporting) and prints how many it got.
fn child_trial(url: &str) {
    let breaker = SharedBreaker::builder()
        .name("trial")
        .url(url)
        .op_timeout(Duration::from_secs(2))
        .consecutive_failures(1)
        .half_open_max_calls(2)
        .open_duration(Duration::from_millis(200))
        .half_open_max_wait(Duration::from_secs(60))
        .build()
        .unwrap();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let b = breaker.clone();
            std::thread::spawn(move || {
                let mut held = Vec::new();
                let end = std::time::Instant::now() + Duration::from_millis(1500);
                while std::time::Instant::now() < end {
                    if let Ok(p) = b.try_acquire() {
                        held.push(p);
                    }
                    std::thread::sleep(Duration::from_micros(500));
                }
                let n = held.len() as u64;
                for p in held {
                    std::mem::forget(p); // never reported: the slots stay taken
                }
                n
            })
        })
        .collect();
    let got: u64 = threads.into_iter().map(|t| t.join().unwrap()).sum();
    println!("TRIAL_PERMITS={got}");
}

#[test]
fn trial_slots_never_over_admitted_across_processes() {
    let Some(server) = server() else { return };
    let tripper = SharedBreaker::builder()
        .name("trial")
        .url(server.url())
        .op_timeout(Duration::from_secs(2))
        .consecutive_failures(1)
        .half_open_max_calls(2)
        .open_duration(Duration::from_millis(200))
        .half_open_max_wait(Duration::from_secs(60))
        .build()
        .unwrap();
    let _ = tripper.call(|| Err::<(), _>("down"));
    tripper.flush().unwrap();
    assert_eq!(tripper.state(), State::Open);
    let out = run_children(
        "child_process_entry",
        4,
        &[
            ("BW_CHILD_ROLE", "trial".into()),
            ("BW_REDIS_URL", server.url()),
        ],
    );
    let total: u64 = values(&out, "TRIAL_PERMITS").iter().sum();
    assert_eq!(
        total, 2,
        "exactly the trial's two slots, fleet-wide: {out:?}"
    );
    let mut con = server.client();
    assert_eq!(hget(&mut con, "breakwater:breaker:{trial}", "ta"), 2);
}

/// Records a known number of outcomes from several threads, then flushes.
fn child_counts(url: &str) {
    let breaker = SharedBreaker::builder()
        .name("counts")
        .url(url)
        .op_timeout(Duration::from_secs(2))
        .consecutive_failures(1_000_000)
        .build()
        .unwrap();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let b = breaker.clone();
            std::thread::spawn(move || {
                for i in 0..2_500u32 {
                    let p = b.try_acquire().unwrap();
                    if (i + t) % 10 == 0 {
                        assert_eq!(p.failure(), Recorded::Recorded);
                    } else {
                        assert_eq!(p.success(), Recorded::Recorded);
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    breaker.flush().unwrap();
    let m = breaker.metrics();
    println!("SUCCESSES={}", m.totals.successes);
    println!("FAILURES={}", m.totals.failures);
}

#[test]
fn counts_are_exact_once_batches_flush() {
    let Some(server) = server() else { return };
    let out = run_children(
        "child_process_entry",
        3,
        &[
            ("BW_CHILD_ROLE", "counts".into()),
            ("BW_REDIS_URL", server.url()),
        ],
    );
    assert_eq!(values(&out, "SUCCESSES"), vec![9_000; 3]);
    assert_eq!(values(&out, "FAILURES"), vec![1_000; 3]);
    let mut con = server.client();
    let key = "breakwater:breaker:{counts}";
    assert_eq!(hget(&mut con, key, "ts"), 27_000);
    assert_eq!(hget(&mut con, key, "tf"), 3_000);
    assert_eq!(hget(&mut con, key, "cs"), 27_000);
    assert_eq!(hget(&mut con, key, "cfl"), 3_000);
    assert_eq!(hget(&mut con, key, "stale"), 0);
    assert_eq!(hget(&mut con, key, "trans"), 0);
}

fn pair(url: &str, name: &str) -> (SharedBreaker, SharedBreaker) {
    let build = || {
        SharedBreaker::builder()
            .name(name)
            .url(url)
            .op_timeout(Duration::from_secs(2))
            .consecutive_failures(3)
            .open_duration(Duration::from_secs(60))
            .build()
            .unwrap()
    };
    (build(), build())
}

#[test]
fn late_outcomes_of_an_old_generation_are_dropped() {
    let Some(server) = server() else { return };
    let (a, b) = pair(&server.url(), "late");
    let key = "breakwater:breaker:{late}";
    let mut con = server.client();
    let g = a.generation();
    let early = a.try_acquire().unwrap();
    // A transition whose notification never came: the generation moves on in Redis only.
    let _: i64 = redis::cmd("HINCRBY")
        .arg(key)
        .arg("gen")
        .arg(1)
        .query(&mut con)
        .unwrap();
    // Where the old generation's failure is dropped depends on when `a` learns of the new
    // generation (its polling backstop runs every 500 ms): before the report, `a` drops it
    // at once (`Stale`); after the report but before the batch is sent, `a` drops the
    // waiting batch when it applies the new generation; after the batch is sent, Redis
    // drops it (and counts it in `stale`). Whichever it is, it is dropped exactly once and
    // never counts as a failure.
    let recorded = early.failure();
    a.flush().unwrap();
    assert_eq!(
        hget(&mut con, key, "tf"),
        0,
        "the old generation's failure was dropped"
    );
    assert_eq!(
        a.metrics().totals.stale_dropped,
        1,
        "dropped exactly once, locally or by Redis"
    );
    let dropped_by_redis = hget(&mut con, key, "stale");
    assert!(
        dropped_by_redis <= 1,
        "Redis dropped it {dropped_by_redis} times"
    );
    if recorded == Recorded::Stale {
        assert_eq!(dropped_by_redis, 0, "dropped locally, never sent");
    }
    assert_eq!(
        a.generation(),
        g + 1,
        "the reply carried the new generation"
    );
    // A reset by another process: a permit of the old generation reported after `a`
    // heard of it is dropped locally.
    let late = a.try_acquire().unwrap();
    b.reset().unwrap();
    assert!(eventually(WAIT, || a.generation() == g + 2));
    assert_eq!(late.failure(), Recorded::Stale);
    assert_eq!(a.metrics().totals.stale_dropped, 2);
    a.flush().unwrap();
    assert_eq!(hget(&mut con, key, "tf"), 0);
}

#[test]
fn a_trip_in_one_instance_reaches_the_other() {
    let Some(server) = server() else { return };
    let (a, b) = pair(&server.url(), "notify");
    for _ in 0..3 {
        let _ = a.call(|| Err::<(), _>("down"));
    }
    assert!(eventually(WAIT, || b.state() == State::Open));
    let r = b.try_acquire().unwrap_err();
    assert_eq!(r.reason, RejectReason::Open);
    assert!(r.retry_after.unwrap() <= Duration::from_secs(60));
    assert!(b.redis_metrics().notifications + b.redis_metrics().polls >= 1);
}

#[test]
fn manual_modes_are_fleet_wide() {
    let Some(server) = server() else { return };
    let (a, b) = pair(&server.url(), "manual");
    a.force_open().unwrap();
    assert!(eventually(WAIT, || b.state() == State::ForcedOpen));
    assert_eq!(
        b.try_acquire().unwrap_err().reason,
        RejectReason::ForcedOpen
    );
    b.disable().unwrap();
    assert!(eventually(WAIT, || a.state() == State::Disabled));
    for _ in 0..5 {
        let _ = a.call(|| Err::<(), _>("down"));
    }
    a.flush().unwrap();
    assert_eq!(a.state(), State::Disabled);
    a.reset().unwrap();
    assert!(eventually(WAIT, || b.state() == State::Closed));
}

#[test]
fn half_open_trial_reopens_on_failure_then_closes_on_success() {
    let Some(server) = server() else { return };
    let b = SharedBreaker::builder()
        .name("cycle")
        .url(server.url())
        .op_timeout(Duration::from_secs(2))
        .consecutive_failures(1)
        .open_duration(Duration::from_millis(100))
        .build()
        .unwrap();
    let _ = b.call(|| Err::<(), _>("down"));
    b.flush().unwrap();
    assert_eq!(b.state(), State::Open);
    // A trial that fails re-opens; one that succeeds closes.
    assert!(eventually(WAIT, || b
        .try_acquire()
        .map(|p| p.failure())
        .is_ok()));
    b.flush().unwrap();
    assert_eq!(b.state(), State::Open);
    assert!(eventually(WAIT, || b
        .try_acquire()
        .map(|p| p.success())
        .is_ok()));
    b.flush().unwrap();
    assert_eq!(b.state(), State::Closed);
    let mut con = server.client();
    assert_eq!(hget(&mut con, "breakwater:breaker:{cycle}", "trans"), 5);
}

#[test]
fn failure_rate_over_a_time_window_is_fleet_wide() {
    let Some(server) = server() else { return };
    let build = || {
        SharedBreaker::builder()
            .name("rate")
            .url(server.url())
            .op_timeout(Duration::from_secs(2))
            .failure_rate(0.5, breakwater::Window::Time(Duration::from_secs(60)), 10)
            .build()
            .unwrap()
    };
    let (a, b) = (build(), build());
    // 4 + 4 successes and 1 failure: 9 calls, under the minimum.
    for br in [&a, &b] {
        for _ in 0..4 {
            br.call(|| Ok::<_, ()>(())).unwrap();
        }
        br.flush().unwrap();
    }
    let _ = a.call(|| Err::<(), _>("x"));
    a.flush().unwrap();
    assert_eq!(a.state(), State::Closed);
    // Enough failures from the other process to reach 50 % of the fleet's calls.
    for _ in 0..8 {
        let _ = b.call(|| Err::<(), _>("x"));
    }
    b.flush().unwrap();
    assert!(eventually(WAIT, || a.state() == State::Open));
}

#[test]
fn a_panicking_listener_does_not_stop_the_fleet_view() {
    let Some(server) = server() else { return };
    let build = |panicky: bool| {
        SharedBreaker::builder()
            .name("listener")
            .url(server.url())
            .op_timeout(Duration::from_secs(2))
            .consecutive_failures(1)
            .on_transition(move |_| {
                if panicky {
                    panic!("a listener that panics");
                }
            })
            .build()
            .unwrap()
    };
    let (a, b) = (build(true), build(false));
    let _ = b.call(|| Err::<(), _>("down"));
    assert!(eventually(WAIT, || a.state() == State::Open));
    b.reset().unwrap();
    assert!(eventually(WAIT, || a.state() == State::Closed));
    // a's background thread still sends its batches.
    let _ = a.call(|| Err::<(), _>("down"));
    assert!(eventually(WAIT, || b.state() == State::Open));
}
