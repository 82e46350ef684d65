//! A real `redis-server` for the tests: started on a free loopback port in a temporary
//! directory (no persistence), killed on drop; helpers to run the test binary itself as
//! a child process.
#![allow(
    dead_code,
    reason = "each test binary uses a part of the support module"
)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `redis-server`.
pub struct RedisServer {
    pub port: u16,
    child: Option<Child>,
    dir: PathBuf,
    extra: Vec<String>,
}

/// The server, or `None` (after printing why) when `redis-server` is not installed and
/// `CI` is not set. Under `CI=true` a missing server fails the test.
pub fn server() -> Option<RedisServer> {
    server_with(&[])
}

/// As [`server`], with extra arguments (`--requirepass x`).
pub fn server_with(extra: &[&str]) -> Option<RedisServer> {
    if Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_err()
    {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("redis-server is not installed (CI=true: the redis suite must run)");
        }
        eprintln!("SKIPPED: redis-server is not installed (apt-get install redis-server)");
        return None;
    }
    let extra: Vec<String> = extra.iter().map(|s| (*s).to_owned()).collect();
    for _ in 0..20 {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("bw-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let mut s = RedisServer {
            port,
            child: None,
            dir,
            extra: extra.clone(),
        };
        if s.start().is_ok() {
            return Some(s);
        }
    }
    panic!("could not start redis-server on a free port after 20 tries");
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

impl RedisServer {
    /// Starts (or restarts) the server on its port; waits until it answers `PING`.
    pub fn start(&mut self) -> Result<(), String> {
        let mut child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self.dir.to_str().expect("utf-8 temp dir"),
            ])
            .args(&self.extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| e.to_string())?;
        let end = Instant::now() + Duration::from_secs(10);
        while Instant::now() < end {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!("redis-server exited: {status}"));
            }
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                self.child = Some(child);
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = child.kill();
        let _ = child.wait();
        Err("redis-server did not listen within 10 s".to_owned())
    }

    /// `redis://127.0.0.1:PORT/`
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// SIGKILL, and wait for it to be gone.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Sends `signal` (`"STOP"`, `"CONT"`) to the server.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// A plain client connection (with a password in `url` when needed).
    pub fn client(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .unwrap()
            .get_connection_with_timeout(Duration::from_secs(5))
            .expect("connect to the test server")
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs the test binary itself as `count` children that execute the test `entry` with
/// the environment `vars` (plus `BW_CHILD_INDEX`); returns their stdout, panicking when
/// one fails.
pub fn run_children(entry: &str, count: usize, vars: &[(&str, String)]) -> Vec<String> {
    let exe = std::env::current_exe().expect("test binary");
    let children: Vec<Child> = (0..count)
        .map(|i| {
            Command::new(&exe)
                .args([entry, "--exact", "--nocapture", "--test-threads", "1"])
                .env("BW_CHILD_INDEX", i.to_string())
                .envs(vars.iter().map(|(k, v)| (*k, v.as_str())))
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn child")
        })
        .collect();
    children
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().expect("child output");
            let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
            assert!(
                out.status.success(),
                "child failed: {}\n{stdout}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
            stdout
        })
        .collect()
}

/// The values printed by children as `KEY=value` lines.
pub fn values(outputs: &[String], key: &str) -> Vec<u64> {
    let prefix = format!("{key}=");
    outputs
        .iter()
        .flat_map(|o| o.split_whitespace())
        .filter_map(|w| w.strip_prefix(&prefix))
        .map(|v| v.trim().parse().expect("a number"))
        .collect()
}

/// Waits (polling) until `f` holds or `limit` passes; the result of `f` at the end.
pub fn eventually(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// `HGET key field` as a number (0 when missing).
pub fn hget(con: &mut redis::Connection, key: &str, field: &str) -> i64 {
    let v: Option<i64> = redis::cmd("HGET").arg(key).arg(field).query(con).unwrap();
    v.unwrap_or(0)
}

/// The server's `TIME` in microseconds.
pub fn server_micros(con: &mut redis::Connection) -> u64 {
    let (s, us): (u64, u64) = redis::cmd("TIME").query(con).unwrap();
    s * 1_000_000 + us
}
