//! Shared (Redis) policies against a real redis-server started on a free loopback port.
//!
//! `cargo bench --features redis --bench redis -- --warm-up-time 1 --measurement-time 2`
//!
//! 1. criterion: a closed-state success through a shared breaker vs a local one;
//! 2. the time from the tripping failure in one instance to a rejection in another
//!    (p50/p99), each instance with its own connections and subscriber, as separate
//!    processes have;
//! 3. Redis commands per guarded call (`INFO commandstats` before and after);
//! 4. the shared limiter's throughput and overshoot, with and without a lease.
#![allow(
    missing_docs,
    reason = "criterion_group! generates an undocumented public function"
)]

use std::hint::black_box;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use breakwater::redis::{SharedBreaker, SharedRateLimiter};
use breakwater::{CircuitBreaker, State};
use criterion::Criterion;

struct Server(Child, u16);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start() -> Option<Server> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .ok()?
        .local_addr()
        .ok()?
        .port();
    let child = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
        ])
        .args([
            "--appendonly",
            "no",
            "--dir",
            std::env::temp_dir().to_str()?,
        ])
        .stdout(Stdio::null())
        .spawn()
        .ok()?;
    let s = Server(child, port);
    for _ in 0..500 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Some(s);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

#[inline(never)]
fn work() -> Result<u64, ()> {
    black_box(Ok(1))
}

fn closed_state(c: &mut Criterion, url: &str) {
    let local = CircuitBreaker::builder()
        .consecutive_failures(5)
        .build()
        .unwrap();
    let shared = SharedBreaker::builder()
        .name("bench")
        .url(url)
        .consecutive_failures(5)
        .build()
        .unwrap();
    let mut g = c.benchmark_group("closed-state success");
    g.bench_function("local breaker call", |b| {
        b.iter(|| black_box(local.call(work).is_ok()))
    });
    g.bench_function("shared breaker call", |b| {
        b.iter(|| black_box(shared.call(work).is_ok()))
    });
    g.bench_function("local breaker try_acquire+success", |b| {
        b.iter(|| black_box(local.try_acquire().map(|p| p.success()).is_ok()))
    });
    g.bench_function("shared breaker try_acquire+success", |b| {
        b.iter(|| black_box(shared.try_acquire().map(|p| p.success()).is_ok()))
    });
    g.finish();
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn trip_to_rejection(url: &str) {
    let build = || {
        SharedBreaker::builder()
            .name("notify")
            .url(url)
            .consecutive_failures(1)
            .open_duration(Duration::from_secs(60))
            .build()
            .unwrap()
    };
    let (a, b) = (build(), build());
    let mut samples = Vec::new();
    for _ in 0..300 {
        a.reset().unwrap();
        while b.state() != State::Closed {
            std::thread::yield_now();
        }
        let start = Instant::now();
        let _ = a.call(|| Err::<(), _>(()));
        while b.try_acquire().is_ok() {
            std::thread::yield_now();
        }
        samples.push(start.elapsed());
    }
    samples.sort();
    println!(
        "trip in one instance -> rejection in another ({} trips): p50 {:?}, p99 {:?}, max {:?}",
        samples.len(),
        percentile(&samples, 0.5),
        percentile(&samples, 0.99),
        samples[samples.len() - 1]
    );
}

/// Commands the server ran, from `INFO commandstats`: (round trips, i.e. commands sent
/// by clients; all, including those the Lua scripts run). `INFO` itself is left out.
fn commands(con: &mut redis::Connection) -> (u64, u64) {
    let info: String = redis::cmd("INFO").arg("commandstats").query(con).unwrap();
    let stats: Vec<(String, u64)> = info
        .lines()
        .filter(|l| l.starts_with("cmdstat_") && !l.starts_with("cmdstat_info"))
        .filter_map(|l| {
            let name = l.strip_prefix("cmdstat_")?.split(':').next()?.to_owned();
            let calls = l
                .split("calls=")
                .nth(1)?
                .split(',')
                .next()?
                .parse::<u64>()
                .ok()?;
            Some((name, calls))
        })
        .collect();
    // What clients send: scripts, script loads, connection set-up, subscriptions, pings.
    let sent = [
        "evalsha",
        "eval",
        "script|load",
        "script",
        "client|setinfo",
        "hello",
        "subscribe",
        "ping",
    ];
    let trips = stats
        .iter()
        .filter(|(n, _)| sent.contains(&n.as_str()))
        .map(|(_, c)| c)
        .sum();
    let all = stats.iter().map(|(_, c)| c).sum();
    (trips, all)
}

fn commands_per_call(url: &str, con: &mut redis::Connection) {
    let b = SharedBreaker::builder()
        .name("per-call")
        .url(url)
        .build()
        .unwrap();
    for (label, calls, pause) in [
        ("tight loop", 1_000_000u64, Duration::ZERO),
        ("1 call / 100 us", 20_000, Duration::from_micros(100)),
        ("1 call / 1 ms", 2_000, Duration::from_millis(1)),
    ] {
        b.flush().unwrap();
        let (trips0, all0) = commands(con);
        let start = Instant::now();
        for _ in 0..calls {
            let _ = b.call(work);
            if !pause.is_zero() {
                std::thread::sleep(pause);
            }
        }
        let elapsed = start.elapsed();
        let (trips1, all1) = commands(con);
        let (trips, all) = (trips1 - trips0, all1 - all0);
        println!(
            "Redis commands per guarded call, closed, {label}: {trips} round trips / {calls} calls = {:.5} \
             (server-side, with the scripts' own commands: {:.5}) in {elapsed:?}",
            trips as f64 / calls as f64,
            all as f64 / calls as f64,
        );
    }
}

fn limiter(url: &str, con: &mut redis::Connection) {
    const PERMITS: u32 = 2_000;
    const BURST: u32 = 20;
    for lease in [1u32, 10] {
        let name = format!("bench-lease-{lease}");
        let l = SharedRateLimiter::builder()
            .name(&name)
            .url(url)
            .rate(PERMITS, Duration::from_secs(1))
            .burst(BURST)
            .lease(lease)
            .build()
            .unwrap();
        let (before, _) = commands(con);
        let (s0, u0): (u64, u64) = redis::cmd("TIME").query(con).unwrap();
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let l = l.clone();
                std::thread::spawn(move || {
                    let end = Instant::now() + Duration::from_secs(1);
                    let mut asked = 0u64;
                    while Instant::now() < end {
                        let _ = l.try_acquire();
                        asked += 1;
                    }
                    asked
                })
            })
            .collect();
        let asked: u64 = threads.into_iter().map(|t| t.join().unwrap()).sum();
        let (s1, u1): (u64, u64) = redis::cmd("TIME").query(con).unwrap();
        let us = (s1 * 1_000_000 + u1) - (s0 * 1_000_000 + u0);
        let (granted, _) = l.granted_rejected();
        let allowed = u64::from(BURST) + us * u64::from(PERMITS) / 1_000_000;
        println!(
            "shared limiter, lease {lease}, 4 threads, {PERMITS}/s burst {BURST}: {asked} asks in {:.2} s \
             ({:.0} asks/s), {} round trips, granted {granted}, GCRA allows {allowed}, overshoot {} (bound {})",
            us as f64 / 1e6,
            asked as f64 / (us as f64 / 1e6),
            commands(con).0 - before,
            granted as i64 - allowed as i64,
            l.overshoot_bound(),
        );
    }
}

fn main() {
    let Some(server) = start() else {
        println!("SKIPPED: redis-server is not installed");
        return;
    };
    let url = format!("redis://127.0.0.1:{}/", server.1);
    let mut con = redis::Client::open(url.as_str())
        .unwrap()
        .get_connection()
        .unwrap();
    let mut c = Criterion::default().configure_from_args();
    closed_state(&mut c, &url);
    trip_to_rejection(&url);
    commands_per_call(&url, &mut con);
    limiter(&url, &mut con);
    c.final_summary();
}
