//! Three replicas of a presentations service share the "authors" breaker through Redis.
//!
//! The example re-executes itself as three child processes (`fleet replica N`). Replica
//! 0 is busy (a call every 5 ms), replicas 1 and 2 are quiet (one every 100 ms). At
//! 1.0 s the authors service goes down: replica 0 sees its calls time out, its third
//! consecutive failure trips the shared breaker in Redis, and the other replicas stop
//! calling as soon as the notification arrives, without a failure of their own. The
//! breaker goes half-open after 1 s, the trial fails (authors still down) and it opens
//! again; authors comes back at 2.5 s, the next trial succeeds and the breaker closes.
//!
//! The parent prints the merged timeline, the transition log and each replica's
//! notification delay, and exits non-zero unless the story happened: the breaker went
//! closed -> open -> half-open -> open -> half-open -> closed, once, in Redis, and
//! every replica learnt of the trip within the notification bound.
//!
//! Run: `cargo run --features redis --example fleet` (starts its own redis-server on a
//! free loopback port; or set `REDIS_URL`).

use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use breakwater::Error;
use breakwater::redis::SharedBreaker;

const DOWN_AT_MS: u64 = 1000;
const UP_AT_MS: u64 = 2500;
const END_MS: u64 = 4300;
const CALL_TIMEOUT: Duration = Duration::from_millis(20);
const OPEN_DURATION: Duration = Duration::from_secs(1);
const POLL_INTERVAL: Duration = Duration::from_millis(500);
/// A replica must learn of the trip within this (the polling backstop, plus slack for a
/// loaded machine); the notification itself takes about a millisecond.
const NOTIFICATION_BOUND_MS: u64 = 1000;

fn wall_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.len() == 6 && args[1] == "replica" {
        replica(
            args[2].parse().unwrap(),
            &args[3],
            &args[4],
            args[5].parse().unwrap(),
        );
        return ExitCode::SUCCESS;
    }
    parent()
}

/// A redis-server of our own on a free loopback port (killed on drop).
struct Server(Child, std::path::PathBuf);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        let _ = std::fs::remove_dir_all(&self.1);
    }
}

fn start_server() -> Option<(Server, String)> {
    for _ in 0..10 {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .ok()?
            .local_addr()
            .ok()?
            .port();
        let dir = std::env::temp_dir().join(format!("bw-fleet-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).ok()?;
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
            ])
            .args(["--appendonly", "no", "--dir", dir.to_str()?])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let mut server = Server(child, dir);
        for _ in 0..500 {
            if let Ok(Some(_)) = server.0.try_wait() {
                break; // the port was taken meanwhile: try another
            }
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some((server, format!("redis://127.0.0.1:{port}/")));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = server.0.kill();
    }
    None
}

fn parent() -> ExitCode {
    let (server, url) = match std::env::var("REDIS_URL") {
        Ok(url) => (None, url),
        Err(_) => match start_server() {
            Some((s, url)) => (Some(s), url),
            None => {
                if std::env::var("CI").is_ok_and(|v| v == "true") {
                    eprintln!("error: redis-server could not be started (CI=true)");
                    return ExitCode::FAILURE;
                }
                println!("SKIPPED: redis-server is not installed and REDIS_URL is not set");
                return ExitCode::SUCCESS;
            }
        },
    };
    let prefix = format!("fleet-{}-{}", std::process::id(), wall_ms());
    let t0 = wall_ms() + 500; // every replica is built before the story starts
    println!("fleet: 3 replicas share breaker \"authors\" through {url} (prefix {prefix})");
    println!("authors goes down at {DOWN_AT_MS} ms and comes back at {UP_AT_MS} ms\n");
    let exe = std::env::current_exe().unwrap();
    let children: Vec<Child> = (0..3)
        .map(|i| {
            Command::new(&exe)
                .args(["replica", &i.to_string(), &url, &prefix, &t0.to_string()])
                .stdout(Stdio::piped())
                .spawn()
                .expect("spawn replica")
        })
        .collect();
    let mut events: Vec<(u64, String)> = Vec::new();
    let mut learned_open: Vec<Option<u64>> = Vec::new();
    let mut logs: Vec<Vec<String>> = Vec::new();
    for (i, c) in children.into_iter().enumerate() {
        let out = c.wait_with_output().expect("replica output");
        if !out.status.success() {
            eprintln!("error: replica {i} failed: {}", out.status);
            return ExitCode::FAILURE;
        }
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let mut open = None;
        let mut log = Vec::new();
        for line in text.lines() {
            let mut parts = line.splitn(3, ' ');
            match (parts.next(), parts.next(), parts.next()) {
                (Some("EVENT"), Some(at), Some(what)) => {
                    let at: u64 = at.parse().unwrap();
                    events.push((at, format!("replica {i}: {what}")));
                    if what.starts_with("breaker authors:") {
                        log.push(what.to_owned());
                        if open.is_none() && what.contains("closed -> open") {
                            open = Some(at);
                        }
                    }
                }
                (Some("SUMMARY"), _, _) => println!("{line}"),
                _ => {}
            }
        }
        learned_open.push(open);
        logs.push(log);
    }
    events.sort_by_key(|e| e.0); // stable: each replica's own order is kept
    println!("\ntimeline (ms since start):");
    for (at, what) in &events {
        println!("  {:>5}  {what}", at.saturating_sub(t0));
    }
    let mut ok = true;
    println!("\ntransition log (replica 0):");
    for l in &logs[0] {
        println!("  {l}");
    }
    let key = format!("{prefix}:breaker:{{authors}}");
    let transitions = redis::Client::open(url.as_str())
        .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(2)))
        .and_then(|mut con| {
            redis::cmd("HMGET")
                .arg(&key)
                .arg("trans")
                .arg("st")
                .query::<(Option<u64>, Option<u64>)>(&mut con)
        });
    match transitions {
        Ok((Some(5), Some(0))) => println!("\nRedis: 5 transitions, closed at the end"),
        other => {
            println!("\nerror: Redis holds {other:?}, expected 5 transitions ending closed");
            ok = false;
        }
    }
    let expected = [
        "closed -> open",
        "open -> half-open",
        "half-open -> open",
        "open -> half-open",
        "half-open -> closed",
    ];
    for (i, log) in logs.iter().enumerate() {
        let seen: Vec<&str> = log
            .iter()
            .map(|l| {
                l.trim_start_matches("breaker authors: ")
                    .split(" (")
                    .next()
                    .unwrap()
            })
            .collect();
        if seen != expected {
            println!("error: replica {i} saw {seen:?}");
            ok = false;
        }
    }
    let Some(trip) = learned_open.iter().flatten().min().copied() else {
        println!("error: no replica saw the breaker open");
        return ExitCode::FAILURE;
    };
    println!(
        "\nnotification delay after the trip (the tripping replica learns it from Redis' reply):"
    );
    for (i, open) in learned_open.iter().enumerate() {
        match open {
            Some(at) if at - trip <= NOTIFICATION_BOUND_MS => {
                println!("  replica {i}: {} ms", at - trip);
            }
            other => {
                println!(
                    "  error: replica {i} learnt of the trip at {other:?} (bound {NOTIFICATION_BOUND_MS} ms)"
                );
                ok = false;
            }
        }
    }
    drop(server);
    if ok {
        println!("\nthe story happened: one replica saw the outage, all stopped calling");
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn replica(index: u32, url: &str, prefix: &str, t0: u64) {
    let events: Arc<Mutex<Vec<(u64, String)>>> = Arc::default();
    let log = events.clone();
    let breaker = SharedBreaker::builder()
        .name("authors")
        .url(url)
        .key_prefix(prefix)
        .consecutive_failures(3)
        .open_duration(OPEN_DURATION)
        .poll_interval(POLL_INTERVAL)
        .op_timeout(Duration::from_millis(500))
        .on_transition(move |t| {
            log.lock().unwrap().push((
                wall_ms(),
                format!("breaker authors: {} -> {} ({})", t.from, t.to, t.reason),
            ));
        })
        .build()
        .expect("shared breaker");
    let period = if index == 0 {
        Duration::from_millis(5)
    } else {
        Duration::from_millis(100)
    };
    let now = wall_ms();
    if t0 > now {
        std::thread::sleep(Duration::from_millis(t0 - now));
    }
    // Quiet replicas call between the busy one's calls (90 ms after each 100 ms tick).
    if index > 0 {
        std::thread::sleep(Duration::from_millis(90));
    }
    let (mut ok, mut failed, mut rejected) = (0u32, 0u32, 0u32);
    let mut last = "answered";
    loop {
        let rel = wall_ms() - t0;
        if rel >= END_MS {
            break;
        }
        let authors_up = !(DOWN_AT_MS..UP_AT_MS).contains(&rel);
        let answer = breaker.call(|| {
            if authors_up {
                Ok("Ada Lovelace")
            } else {
                std::thread::sleep(CALL_TIMEOUT);
                Err("timed out")
            }
        });
        let (kind, line) = match answer {
            Ok(_) => {
                ok += 1;
                ("answered", "authors answered".to_owned())
            }
            Err(Error::Rejected { reason, .. }) => {
                rejected += 1;
                (
                    "rejected",
                    format!("call rejected at once ({reason}): author \"temporary unavailable\""),
                )
            }
            Err(_) => {
                failed += 1;
                ("failed", "authors call timed out".to_owned())
            }
        };
        // Print the first call of each run of answers or rejections, and every failure.
        if kind != last || kind == "failed" {
            events.lock().unwrap().push((wall_ms(), line));
        }
        last = kind;
        std::thread::sleep(period);
    }
    for (at, what) in events.lock().unwrap().iter() {
        println!("EVENT {at} {what}");
    }
    println!("SUMMARY replica={index} answered={ok} failed={failed} rejected_instantly={rejected}");
}
