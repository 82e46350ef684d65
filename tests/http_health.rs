//! Active health checks on the manual clock: an instance goes out and comes back, thresholds,
//! a panicking probe, a bounded stop with a stuck probe, refused configurations; and one
//! check over real HTTP against the test server.
#![cfg(feature = "http")]

#[path = "support/http_server.rs"]
mod http_server;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use breakwater::http::{Balancer, HealthChecker, StopResult, Strategy};
use breakwater::{Clock, ManualClock};
use http_server::{Behaviour, TestServer};

const INTERVAL: Duration = Duration::from_secs(5);

/// Health per instance, switched by the test; probes counted.
#[derive(Clone, Default)]
struct Fake {
    down: Arc<[AtomicBool; 2]>,
    probes: Arc<AtomicUsize>,
}

impl Fake {
    fn probe(&self) -> impl Fn(&str) -> bool + Send + Sync + 'static {
        let me = self.clone();
        move |url| {
            me.probes.fetch_add(1, Ordering::SeqCst);
            let i = usize::from(url.ends_with("b.local"));
            !me.down[i].load(Ordering::SeqCst)
        }
    }
}

fn balancer() -> Balancer {
    Balancer::new(["http://a.local", "http://b.local"], Strategy::RoundRobin).unwrap()
}

/// Waits (without sleeping) until the checker has finished `rounds` rounds and is parked
/// in its interval wait.
fn settle(checker: &HealthChecker, clock: &ManualClock, rounds: u64) {
    while checker.rounds() < rounds || clock.waiters() == 0 {
        std::thread::yield_now();
    }
    assert_eq!(checker.rounds(), rounds);
}

#[test]
fn an_instance_goes_out_and_comes_back() {
    let clock = ManualClock::new();
    let lb = balancer();
    let fake = Fake::default();
    let checker = HealthChecker::builder(&lb, fake.probe())
        .interval(INTERVAL)
        .clock(Clock::from(&clock))
        .start()
        .unwrap();
    settle(&checker, &clock, 1);
    assert_eq!(fake.probes.load(Ordering::SeqCst), 2);
    assert!(lb.is_healthy(0) && lb.is_healthy(1));

    fake.down[1].store(true, Ordering::SeqCst);
    clock.advance(INTERVAL - Duration::from_nanos(1));
    assert_eq!(
        checker.rounds(),
        1,
        "no round before the interval has passed"
    );
    clock.advance(Duration::from_nanos(1));
    settle(&checker, &clock, 2);
    assert!(lb.is_healthy(0));
    assert!(!lb.is_healthy(1));
    assert_eq!(lb.pick(&[], |_| true), Some(0));
    assert_eq!(lb.pick(&[], |_| true), Some(0));

    fake.down[1].store(false, Ordering::SeqCst);
    clock.advance(INTERVAL);
    settle(&checker, &clock, 3);
    assert!(lb.is_healthy(1));
    assert_eq!(fake.probes.load(Ordering::SeqCst), 6);
}

#[test]
fn thresholds_need_consecutive_probes() {
    let clock = ManualClock::new();
    let lb = balancer();
    let fake = Fake::default();
    fake.down[0].store(true, Ordering::SeqCst);
    let checker = HealthChecker::builder(&lb, fake.probe())
        .interval(INTERVAL)
        .clock(Clock::from(&clock))
        .unhealthy_threshold(3)
        .healthy_threshold(2)
        .start()
        .unwrap();
    let round = |n: u64| {
        if n > 1 {
            clock.advance(INTERVAL);
        }
        settle(&checker, &clock, n);
        lb.is_healthy(0)
    };
    let health: Vec<bool> = (1..=3).map(round).collect();
    assert_eq!(health, [true, true, false]);
    fake.down[0].store(false, Ordering::SeqCst);
    let health: Vec<bool> = (4..=5).map(round).collect();
    assert_eq!(health, [false, true]);
    assert!(lb.is_healthy(1));
}

#[test]
fn a_panicking_probe_marks_the_instance_down_and_the_checker_goes_on() {
    let clock = ManualClock::new();
    let lb = balancer();
    let checker = HealthChecker::builder(&lb, |url: &str| {
        assert!(!url.contains("a.local"), "probe failed loudly");
        true
    })
    .interval(INTERVAL)
    .clock(Clock::from(&clock))
    .start()
    .unwrap();
    settle(&checker, &clock, 1);
    assert_eq!((lb.is_healthy(0), lb.is_healthy(1)), (false, true));
    clock.advance(INTERVAL);
    settle(&checker, &clock, 2);
    assert!(checker.is_running());
}

#[test]
fn stop_and_drop_end_the_thread() {
    let clock = ManualClock::new();
    let lb = balancer();
    let mut checker = HealthChecker::builder(&lb, |_: &str| true)
        .clock(Clock::from(&clock))
        .start()
        .unwrap();
    settle(&checker, &clock, 1);
    assert_eq!(checker.stop(), StopResult::Stopped);
    assert!(!checker.is_running());
    assert_eq!(clock.waiters(), 0);
    clock.advance(Duration::from_secs(3600));
    assert_eq!(checker.rounds(), 1);

    let dropped = HealthChecker::builder(&lb, |_: &str| true)
        .clock(Clock::from(&clock))
        .start()
        .unwrap();
    settle(&dropped, &clock, 1);
    drop(dropped);
    assert_eq!(clock.waiters(), 0);
}

#[test]
fn stop_is_bounded_when_a_probe_is_stuck() {
    let clock = ManualClock::new();
    let lb = balancer();
    let (entered_tx, entered_rx) = mpsc::channel::<()>();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let release_rx = std::sync::Mutex::new(release_rx);
    let stop_timeout = Duration::from_secs(2);
    let mut checker = HealthChecker::builder(&lb, move |_: &str| {
        let _ = entered_tx.send(());
        let _ = release_rx.lock().unwrap().recv(); // stuck until released
        true
    })
    .clock(Clock::from(&clock))
    .stop_timeout(stop_timeout)
    .start()
    .unwrap();
    entered_rx.recv().unwrap();
    let stopper = std::thread::spawn(move || {
        let result = checker.stop();
        (result, checker)
    });
    // The stop is parked in its bounded wait (the checker's thread is in the probe).
    while clock.waiters() == 0 {
        std::thread::yield_now();
    }
    clock.advance(stop_timeout);
    let (result, checker) = stopper.join().unwrap();
    assert_eq!(result, StopResult::TimedOut);
    assert!(checker.is_running());
    // Released, the detached thread probes nothing more and ends.
    release_tx.send(()).unwrap();
    while checker.is_running() {
        std::thread::yield_now();
    }
    assert_eq!(entered_rx.try_recv(), Err(mpsc::TryRecvError::Disconnected));
    assert_eq!(checker.rounds(), 0);
}

#[test]
fn bad_configurations_are_refused_naming_the_field() {
    let lb = balancer();
    let b = || HealthChecker::builder(&lb, |_: &str| true);
    assert_eq!(
        b().interval(Duration::ZERO).start().unwrap_err().field,
        "interval"
    );
    assert_eq!(
        b().unhealthy_threshold(0).start().unwrap_err().field,
        "unhealthy_threshold"
    );
    assert_eq!(
        b().healthy_threshold(0).start().unwrap_err().field,
        "healthy_threshold"
    );
    // A huge interval saturates instead of overflowing.
    let mut ok = b().interval(Duration::MAX).start().unwrap();
    assert_eq!(ok.stop(), StopResult::Stopped);
}

#[test]
fn probing_real_servers_over_http() {
    let up = TestServer::start();
    let failing = TestServer::start();
    failing.set(Behaviour::Status(503));
    let lb = Balancer::new([up.url(), failing.url()], Strategy::RoundRobin).unwrap();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    let clock = ManualClock::new();
    let checker = HealthChecker::builder(&lb, move |base| {
        agent
            .get(format!("{base}/health"))
            .call()
            .is_ok_and(|r| r.status() == 200)
    })
    .clock(Clock::from(&clock))
    .start()
    .unwrap();
    settle(&checker, &clock, 1);
    assert_eq!((lb.is_healthy(0), lb.is_healthy(1)), (true, false));
    assert_eq!(up.requests()[0].path, "/health");
    failing.set(Behaviour::Normal);
    clock.advance(Duration::from_secs(10));
    settle(&checker, &clock, 2);
    assert_eq!((lb.is_healthy(0), lb.is_healthy(1)), (true, true));
}
