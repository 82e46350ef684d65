//! [`RedisOptions`]: where the shared state lives and how long any Redis operation may
//! take.

use std::time::Duration;

use crate::error::{ConfigError, PolicyKind};

use super::error::{SharedError, mask_url};

/// Default `url`: a Redis on the loopback interface, default port.
pub const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379/";
/// Default `key_prefix`.
pub const DEFAULT_KEY_PREFIX: &str = "breakwater";
/// Default `op_timeout`: the longest any one Redis operation (connect included) may take.
pub const DEFAULT_OP_TIMEOUT: Duration = Duration::from_millis(100);
/// Default `flush_interval`: how long outcomes may wait locally before they are sent.
pub const DEFAULT_FLUSH_INTERVAL: Duration = Duration::from_millis(10);
/// Default `poll_interval`: the staleness bound of the polling backstop, and how often an
/// unreachable Redis is tried again.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(500);

/// Where a shared policy keeps its state, and its time limits.
///
/// Every field maps onto the future JSON configuration one to one: `redis_url`,
/// `key_prefix`, `op_timeout_ms`, `flush_interval_ms`, `poll_interval_ms`.
///
/// # Examples
///
/// ```
/// use breakwater::redis::RedisOptions;
/// use std::time::Duration;
///
/// let options = RedisOptions {
///     url: "redis://127.0.0.1:6390/".into(),
///     op_timeout: Duration::from_millis(50),
///     ..RedisOptions::default()
/// };
/// assert!(options.validate().is_ok());
/// let bad = RedisOptions { op_timeout: Duration::ZERO, ..RedisOptions::default() };
/// assert_eq!(bad.validate().unwrap_err().to_string(),
///     "invalid circuit breaker configuration: op_timeout must be greater than zero");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RedisOptions {
    /// The server, as a `redis://[user:password@]host:port/db` URL.
    /// Defaults to [`DEFAULT_REDIS_URL`].
    pub url: String,
    /// Prefix of every key and channel, so that several applications can share one
    /// server; not empty, no `{`, `}` or spaces. Defaults to [`DEFAULT_KEY_PREFIX`].
    pub key_prefix: String,
    /// The longest one Redis operation may take, connecting included; a caller never
    /// waits on Redis longer than this. Between 1 ms and 60 s.
    /// Defaults to [`DEFAULT_OP_TIMEOUT`].
    pub op_timeout: Duration,
    /// How long outcomes may wait locally before the background thread sends them (a
    /// failure is sent at once). Between 1 ms and 10 s. Defaults to [`DEFAULT_FLUSH_INTERVAL`].
    pub flush_interval: Duration,
    /// The polling backstop: the local copy of the shared state is re-read at least this
    /// often even when no notification arrives; an unreachable Redis is tried again at
    /// this pace. Between 1 ms and 1 h. Defaults to [`DEFAULT_POLL_INTERVAL`].
    pub poll_interval: Duration,
}

impl Default for RedisOptions {
    fn default() -> Self {
        RedisOptions {
            url: DEFAULT_REDIS_URL.to_owned(),
            key_prefix: DEFAULT_KEY_PREFIX.to_owned(),
            op_timeout: DEFAULT_OP_TIMEOUT,
            flush_interval: DEFAULT_FLUSH_INTERVAL,
            poll_interval: DEFAULT_POLL_INTERVAL,
        }
    }
}

impl RedisOptions {
    /// Checks the fields (not the server: an unreachable server is not an error).
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the field (reported as a circuit breaker's; the shared
    /// rate limiter reports it as its own).
    ///
    /// ```
    /// use breakwater::redis::RedisOptions;
    /// let bad = RedisOptions { key_prefix: "a{b".into(), ..RedisOptions::default() };
    /// assert_eq!(bad.validate().unwrap_err().field, "key_prefix");
    /// ```
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.validate_for(PolicyKind::CircuitBreaker)
    }

    pub(crate) fn validate_for(&self, kind: PolicyKind) -> Result<(), ConfigError> {
        let err = |field, msg: &str| ConfigError::new(kind, field, msg);
        if self.key_prefix.is_empty() {
            return Err(err("key_prefix", "must not be empty"));
        }
        if self
            .key_prefix
            .chars()
            .any(|c| c == '{' || c == '}' || c.is_whitespace() || c.is_control())
        {
            return Err(err(
                "key_prefix",
                "must not contain '{', '}', spaces or control characters",
            ));
        }
        let range = |field, d: Duration, max: Duration, max_text: &str| {
            if d.is_zero() {
                Err(err(field, "must be greater than zero"))
            } else if d < Duration::from_millis(1) {
                Err(err(field, "must be at least 1 ms"))
            } else if d > max {
                Err(ConfigError::new(
                    kind,
                    field,
                    format!("must be at most {max_text}"),
                ))
            } else {
                Ok(())
            }
        };
        range(
            "op_timeout",
            self.op_timeout,
            Duration::from_secs(60),
            "60 s",
        )?;
        range(
            "flush_interval",
            self.flush_interval,
            Duration::from_secs(10),
            "10 s",
        )?;
        range(
            "poll_interval",
            self.poll_interval,
            Duration::from_secs(3600),
            "1 h",
        )?;
        Ok(())
    }

    /// Checks a policy name used in keys and channels.
    pub(crate) fn validate_name(kind: PolicyKind, name: &str) -> Result<(), ConfigError> {
        if name.is_empty() {
            return Err(ConfigError::new(
                kind,
                "name",
                "must not be empty for a shared policy",
            ));
        }
        if name.chars().any(|c| c == '{' || c == '}' || c.is_control()) {
            return Err(ConfigError::new(
                kind,
                "name",
                "must not contain '{', '}' or control characters (it is part of the Redis keys)",
            ));
        }
        Ok(())
    }

    /// The client for `url`.
    pub(crate) fn client(&self) -> Result<redis::Client, SharedError> {
        let url_error = |message: String| SharedError::Url {
            url: mask_url(&self.url),
            message,
        };
        if !(self.url.starts_with("redis://")
            || self.url.starts_with("redis+unix://")
            || self.url.starts_with("unix://"))
        {
            return Err(url_error(
                "the scheme must be redis://, redis+unix:// or unix://".to_owned(),
            ));
        }
        redis::Client::open(self.url.as_str()).map_err(|e| url_error(e.to_string()))
    }

    /// The key of a policy named `name`: `prefix:kind:{name}` (the braces keep a
    /// policy's keys in one Redis Cluster slot).
    pub(crate) fn key(&self, kind: &str, name: &str) -> String {
        format!("{}:{kind}:{{{name}}}", self.key_prefix)
    }
}
