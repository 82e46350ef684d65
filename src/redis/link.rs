//! [`Link`]: one blocking Redis connection with a deadline on every operation, and the
//! Lua scripts run through it (`SCRIPT LOAD` once, then `EVALSHA`; loaded again when
//! the server answers `NOSCRIPT`, after a `SCRIPT FLUSH` or a restart).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use redis::{Connection, ConnectionLike, Value};

use super::error::OpError;
use super::health::HealthState;

/// A Lua script: its source and the SHA1 the server gave it (learnt on first use,
/// shared by every link of the policy).
pub(crate) struct Script {
    pub(crate) name: &'static str,
    pub(crate) source: String,
    pub(crate) sha: parking_lot::Mutex<Option<String>>,
}

impl Script {
    pub(crate) fn new(name: &'static str, source: String) -> Script {
        Script {
            name,
            source,
            sha: parking_lot::Mutex::new(None),
        }
    }
}

/// One connection to Redis, opened on demand, dropped after any I/O error (a reply cut
/// by a timeout would otherwise be read as the answer to the next command).
pub(crate) struct Link {
    client: redis::Client,
    con: Option<Connection>,
    timeout: Duration,
    health: Arc<HealthState>,
}

impl Link {
    pub(crate) fn new(client: redis::Client, timeout: Duration, health: Arc<HealthState>) -> Link {
        Link {
            client,
            con: None,
            timeout,
            health,
        }
    }

    /// Forgets the connection (the next operation reconnects).
    pub(crate) fn drop_connection(&mut self) {
        self.con = None;
    }

    /// The connection, opened within what is left until `deadline`, with read and
    /// write timeouts set to what is left after that.
    fn connection(&mut self, deadline: Instant, key: &str) -> Result<&mut Connection, OpError> {
        let left = |deadline: Instant| {
            deadline
                .checked_duration_since(Instant::now())
                .filter(|d| *d >= Duration::from_millis(1))
                .ok_or_else(|| OpError::Down("operation timed out".to_owned()))
        };
        if self.con.as_ref().is_some_and(|c| !c.is_open()) {
            self.con = None;
        }
        if self.con.is_none() {
            let con = self
                .client
                .get_connection_with_timeout(left(deadline)?)
                .map_err(|e| OpError::classify(&e, key))?;
            self.con = Some(con);
        }
        let remaining = left(deadline)?;
        let con = self.con.as_mut().expect("connection just set");
        con.set_read_timeout(Some(remaining))
            .and_then(|()| con.set_write_timeout(Some(remaining)))
            .map_err(|e| OpError::classify(&e, key))?;
        Ok(con)
    }

    /// Runs one command within the operation timeout.
    pub(crate) fn command(&mut self, cmd: &redis::Cmd, key: &str) -> Result<Value, OpError> {
        let deadline = Instant::now() + self.timeout;
        self.command_until(cmd, key, deadline)
    }

    fn command_until(
        &mut self,
        cmd: &redis::Cmd,
        key: &str,
        deadline: Instant,
    ) -> Result<Value, OpError> {
        self.health.commands.fetch_add(1, Ordering::Relaxed);
        let con = self.connection(deadline, key)?;
        // A server error can come back as a value: make it an error.
        match con.req_command(cmd).and_then(Value::extract_error) {
            Ok(v) => Ok(v),
            Err(e) => {
                let err = OpError::classify(&e, key);
                if matches!(err, OpError::Down(_)) || e.is_unrecoverable_error() {
                    self.con = None;
                }
                Err(err)
            }
        }
    }

    /// Runs script number `index` of `scripts` with `keys` and `args`, all within one
    /// operation timeout: loads it first if this link does not know its SHA1, and
    /// once more when the server has forgotten it.
    pub(crate) fn eval(
        &mut self,
        scripts: &[Script],
        index: usize,
        keys: &[&str],
        args: &[String],
    ) -> Result<Value, OpError> {
        let deadline = Instant::now() + self.timeout;
        let key = keys.first().copied().unwrap_or("");
        for attempt in 0..2 {
            let known = scripts[index].sha.lock().clone();
            let sha = match known {
                Some(sha) => sha,
                None => {
                    let mut load = redis::cmd("SCRIPT");
                    load.arg("LOAD").arg(&scripts[index].source);
                    let sha = match self.command_until(&load, key, deadline)? {
                        Value::BulkString(b) => String::from_utf8_lossy(&b).into_owned(),
                        Value::SimpleString(s) => s,
                        other => {
                            return Err(OpError::Down(format!(
                                "SCRIPT LOAD of {} answered {other:?}",
                                scripts[index].name
                            )));
                        }
                    };
                    *scripts[index].sha.lock() = Some(sha.clone());
                    sha
                }
            };
            let mut cmd = redis::cmd("EVALSHA");
            cmd.arg(&sha).arg(keys.len());
            for k in keys {
                cmd.arg(*k);
            }
            for a in args {
                cmd.arg(a.as_str());
            }
            match self.command_until(&cmd, key, deadline) {
                Err(OpError::Fatal(e)) if attempt == 0 && e.to_string().contains("NOSCRIPT") => {
                    *scripts[index].sha.lock() = None;
                    self.health.script_reloads.fetch_add(1, Ordering::Relaxed);
                }
                other => return other,
            }
        }
        Err(OpError::Down(format!(
            "script {} was forgotten again right after loading it",
            scripts[index].name
        )))
    }
}

/// The integers of a script's array reply.
pub(crate) fn ints(v: &Value) -> Vec<i64> {
    match v {
        Value::Array(items) => items
            .iter()
            .map(|i| match i {
                Value::Int(n) => *n,
                Value::BulkString(b) => std::str::from_utf8(b)
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0),
                _ => 0,
            })
            .collect(),
        _ => Vec::new(),
    }
}
