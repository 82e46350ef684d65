//! [`SharedError`]: why a shared policy could not be built, and how Redis failures are
//! sorted into "down" (work locally, retry) and "fatal" (a configuration to fix).

use crate::error::ConfigError;

/// Why a shared (Redis-backed) policy could not be built.
///
/// An unreachable Redis is *not* an error at build time: the policy starts degraded,
/// works on its local state and connects when Redis answers. The errors here are the
/// ones that waiting will not fix.
///
/// # Examples
///
/// ```
/// use breakwater::redis::{RedisOptions, SharedBreaker, SharedError};
///
/// let err = SharedBreaker::builder()
///     .redis(RedisOptions { url: "http://not-redis".into(), ..RedisOptions::default() })
///     .build()
///     .unwrap_err();
/// assert!(matches!(err, SharedError::Url { .. }));
/// assert!(err.to_string().contains("redis_url"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SharedError {
    /// The policy's own configuration was refused (the field is named).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// `redis_url` is not a Redis URL the client understands.
    #[error("redis_url {url:?} is not a valid Redis URL: {message}")]
    Url {
        /// The URL as given (its password, if any, replaced by `***`).
        url: String,
        /// What the client said about it.
        message: String,
    },
    /// The server refused the credentials (wrong or missing password).
    #[error("redis authentication failed: {0}")]
    Auth(String),
    /// A key the policy needs holds a value of another type (another program uses it).
    #[error("redis key {key:?} holds a value of another type: {message}")]
    WrongType {
        /// The key.
        key: String,
        /// The server's message.
        message: String,
    },
    /// Redis could not be reached within the operation timeout (only from operations that
    /// must reach it, such as a manual reset; admissions fall back to local state).
    #[error("redis unreachable: {0}")]
    Unreachable(String),
    /// Any other error the server answered with (a script error, a missing permission).
    #[error("redis refused the operation: {0}")]
    Server(String),
}

/// What went wrong with one Redis operation.
#[derive(Debug, Clone)]
pub(crate) enum OpError {
    /// Unreachable, timed out, connection dropped, loading: work locally and retry later.
    Down(String),
    /// A refusal that retrying will not fix.
    Fatal(SharedError),
}

impl OpError {
    /// Sorts a client error; `key` names the key the operation touched.
    pub(crate) fn classify(e: &redis::RedisError, key: &str) -> OpError {
        use redis::ErrorKind;
        let mut text = e.to_string();
        if let Some(code) = e.code() {
            if !text.contains(code) {
                text = format!("{code}: {text}");
            }
        }
        if e.is_io_error()
            || e.is_timeout()
            || e.is_connection_dropped()
            || e.is_connection_refusal()
        {
            return OpError::Down(text);
        }
        if e.kind() == ErrorKind::AuthenticationFailed
            || text.contains("NOAUTH")
            || text.contains("WRONGPASS")
            || text.contains("invalid password")
        {
            return OpError::Fatal(SharedError::Auth(text));
        }
        if text.contains("WRONGTYPE") {
            return OpError::Fatal(SharedError::WrongType {
                key: key.to_owned(),
                message: text,
            });
        }
        if text.contains("LOADING") || text.contains("BUSY") || text.contains("MASTERDOWN") {
            return OpError::Down(text);
        }
        OpError::Fatal(SharedError::Server(text))
    }

    /// The error a caller sees.
    pub(crate) fn into_shared(self) -> SharedError {
        match self {
            OpError::Down(m) => SharedError::Unreachable(m),
            OpError::Fatal(e) => e,
        }
    }

    /// A short description for events and logs.
    pub(crate) fn message(&self) -> String {
        match self {
            OpError::Down(m) => format!("redis unreachable: {m}"),
            OpError::Fatal(e) => e.to_string(),
        }
    }
}

/// `url` with the password part (between `:` and `@` after the scheme) masked.
pub(crate) fn mask_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_owned();
    };
    let rest = &url[scheme_end + 3..];
    match (rest.find(':'), rest.find('@')) {
        (Some(colon), Some(at)) if colon < at => {
            format!(
                "{}{}:***{}",
                &url[..scheme_end + 3],
                &rest[..colon],
                &rest[at..]
            )
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_masked_in_messages() {
        assert_eq!(mask_url("redis://u:secret@h:1/0"), "redis://u:***@h:1/0");
        assert_eq!(mask_url("redis://:secret@h"), "redis://:***@h");
        assert_eq!(mask_url("redis://h:6379"), "redis://h:6379");
    }
}
