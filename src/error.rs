//! The crate-wide error type [`Error`], the policy and rejection vocabularies it uses,
//! and [`ConfigError`] for configurations refused at build time.

use std::fmt;
use std::time::Duration;

/// Which policy produced an error or a rejection.
///
/// ```
/// assert_eq!(breakwater::PolicyKind::CircuitBreaker.to_string(), "circuit breaker");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PolicyKind {
    /// The circuit breaker.
    CircuitBreaker,
    /// Retry (and its shared retry budget).
    Retry,
    /// A cooperative deadline.
    Deadline,
    /// The time limiter (a call run on a bounded pool, abandoned at its deadline).
    TimeLimiter,
    /// The semaphore bulkhead.
    Bulkhead,
    /// The thread-pool bulkhead.
    ThreadPool,
    /// The rate limiter.
    RateLimiter,
    /// The fallback stage.
    Fallback,
    /// The TTL cache.
    Cache,
    /// A pipeline or fan-out as a whole.
    Pipeline,
    /// The HTTP client.
    Http,
}

impl PolicyKind {
    /// A short lowercase name, as used in messages and metrics.
    ///
    /// ```
    /// assert_eq!(breakwater::PolicyKind::RateLimiter.name(), "rate limiter");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            PolicyKind::CircuitBreaker => "circuit breaker",
            PolicyKind::Retry => "retry",
            PolicyKind::Deadline => "deadline",
            PolicyKind::TimeLimiter => "time limiter",
            PolicyKind::Bulkhead => "bulkhead",
            PolicyKind::ThreadPool => "thread pool",
            PolicyKind::RateLimiter => "rate limiter",
            PolicyKind::Fallback => "fallback",
            PolicyKind::Cache => "cache",
            PolicyKind::Pipeline => "pipeline",
            PolicyKind::Http => "http",
        }
    }
}

impl fmt::Display for PolicyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a policy refused to run a call.
///
/// ```
/// assert_eq!(breakwater::RejectReason::TrialFull.to_string(), "half-open trial full");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RejectReason {
    /// The breaker is open.
    Open,
    /// The breaker is half-open and its trial has no admission left.
    TrialFull,
    /// The breaker was forced open by hand.
    ForcedOpen,
    /// The semaphore bulkhead had no permit within its wait.
    BulkheadFull,
    /// The thread pool's queue (or the time limiter's pool) is full.
    QueueFull,
    /// The pool is shut down.
    Shutdown,
    /// The rate limiter has no permit now (see `retry_after`).
    RateLimited,
    /// The shared retry budget has no retry left.
    BudgetExhausted,
    /// The call's deadline had already passed before it started.
    DeadlineExceeded,
    /// The call was cancelled through its cancellation flag.
    Cancelled,
}

impl RejectReason {
    /// A short lowercase description.
    ///
    /// ```
    /// assert_eq!(breakwater::RejectReason::Open.description(), "open");
    /// ```
    pub fn description(self) -> &'static str {
        match self {
            RejectReason::Open => "open",
            RejectReason::TrialFull => "half-open trial full",
            RejectReason::ForcedOpen => "forced open",
            RejectReason::BulkheadFull => "bulkhead full",
            RejectReason::QueueFull => "queue full",
            RejectReason::Shutdown => "shut down",
            RejectReason::RateLimited => "rate limited",
            RejectReason::BudgetExhausted => "retry budget exhausted",
            RejectReason::DeadlineExceeded => "deadline exceeded",
            RejectReason::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

/// The one error type of guarded calls and pipelines.
///
/// `E` is the guarded code's own error. Every policy's small rejection type converts into
/// [`Error::Rejected`].
///
/// # Examples
///
/// ```
/// use breakwater::{Error, PolicyKind, RejectReason};
///
/// let e: Error<std::io::Error> = Error::Rejected {
///     policy: PolicyKind::CircuitBreaker,
///     reason: RejectReason::Open,
///     retry_after: None,
/// };
/// assert!(e.is_rejected());
/// assert_eq!(e.to_string(), "circuit breaker rejected the call: open");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error<E> {
    /// A policy refused to run the call; nothing was run by that policy.
    #[error("{policy} rejected the call: {reason}")]
    Rejected {
        /// The policy that refused.
        policy: PolicyKind,
        /// Why.
        reason: RejectReason,
        /// When the policy may admit again, if it knows.
        retry_after: Option<Duration>,
    },
    /// The call did not finish within a deadline or time limit.
    #[error("{policy}: the call timed out")]
    TimedOut {
        /// The policy whose limit was reached.
        policy: PolicyKind,
    },
    /// The guarded code failed (after `attempts` attempts).
    #[error("the call failed after {attempts} attempt(s): {error}")]
    Failed {
        /// The guarded code's error (the last one, after retries).
        #[source]
        error: E,
        /// How many attempts ran.
        attempts: u32,
    },
}

impl<E> Error<E> {
    /// An [`Error::Failed`] after one attempt.
    ///
    /// ```
    /// let e = breakwater::Error::failed("boom");
    /// assert_eq!(e.attempts(), 1);
    /// ```
    pub fn failed(error: E) -> Error<E> {
        Error::Failed { error, attempts: 1 }
    }

    /// `true` for [`Error::Rejected`].
    ///
    /// ```
    /// assert!(!breakwater::Error::failed(1).is_rejected());
    /// ```
    pub fn is_rejected(&self) -> bool {
        matches!(self, Error::Rejected { .. })
    }

    /// `true` for [`Error::TimedOut`].
    ///
    /// ```
    /// let e: breakwater::Error<()> = breakwater::Error::TimedOut { policy: breakwater::PolicyKind::Deadline };
    /// assert!(e.is_timeout());
    /// ```
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::TimedOut { .. })
    }

    /// The guarded code's error, if this is [`Error::Failed`].
    ///
    /// ```
    /// assert_eq!(breakwater::Error::failed(7).inner(), Some(&7));
    /// ```
    pub fn inner(&self) -> Option<&E> {
        match self {
            Error::Failed { error, .. } => Some(error),
            _ => None,
        }
    }

    /// Consumes the error and returns the guarded code's error, if any.
    ///
    /// ```
    /// assert_eq!(breakwater::Error::failed(7).into_inner(), Some(7));
    /// ```
    pub fn into_inner(self) -> Option<E> {
        match self {
            Error::Failed { error, .. } => Some(error),
            _ => None,
        }
    }

    /// The number of attempts that ran (0 for a rejection or time-out before any attempt
    /// is known; retries set it on `Failed`).
    ///
    /// ```
    /// assert_eq!(breakwater::Error::Failed { error: (), attempts: 3 }.attempts(), 3);
    /// ```
    pub fn attempts(&self) -> u32 {
        match self {
            Error::Failed { attempts, .. } => *attempts,
            _ => 0,
        }
    }

    /// The policy's hint of when it may admit again (rejections only).
    ///
    /// ```
    /// let e: breakwater::Error<()> = breakwater::Error::Rejected {
    ///     policy: breakwater::PolicyKind::RateLimiter,
    ///     reason: breakwater::RejectReason::RateLimited,
    ///     retry_after: Some(std::time::Duration::from_millis(5)),
    /// };
    /// assert_eq!(e.retry_after(), Some(std::time::Duration::from_millis(5)));
    /// ```
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::Rejected { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Maps the guarded code's error type.
    ///
    /// ```
    /// let e = breakwater::Error::failed(2).map(|x| x * 10);
    /// assert_eq!(e.into_inner(), Some(20));
    /// ```
    pub fn map<F, E2>(self, f: F) -> Error<E2>
    where
        F: FnOnce(E) -> E2,
    {
        match self {
            Error::Rejected {
                policy,
                reason,
                retry_after,
            } => Error::Rejected {
                policy,
                reason,
                retry_after,
            },
            Error::TimedOut { policy } => Error::TimedOut { policy },
            Error::Failed { error, attempts } => Error::Failed {
                error: f(error),
                attempts,
            },
        }
    }
}

impl<E> Error<Error<E>> {
    /// Removes one level of nesting: a policy's `Error<E>` that another policy wrapped
    /// as its guarded code's error (`breaker.call(|| bulkhead.call(..))`). A rejection or
    /// time-out inside is returned as it is; a failure keeps the outer (larger) attempt
    /// count.
    ///
    /// ```
    /// use breakwater::{Error, PolicyKind, RejectReason};
    /// let inner: Error<&str> = Error::Rejected {
    ///     policy: PolicyKind::Bulkhead,
    ///     reason: RejectReason::BulkheadFull,
    ///     retry_after: None,
    /// };
    /// let nested = Error::Failed { error: inner, attempts: 1 };
    /// assert!(nested.flatten().is_rejected());
    /// let nested = Error::Failed { error: Error::failed("io"), attempts: 2 };
    /// assert_eq!(nested.flatten().attempts(), 2);
    /// ```
    pub fn flatten(self) -> Error<E> {
        match self {
            Error::Rejected {
                policy,
                reason,
                retry_after,
            } => Error::Rejected {
                policy,
                reason,
                retry_after,
            },
            Error::TimedOut { policy } => Error::TimedOut { policy },
            Error::Failed { error, attempts } => match error {
                Error::Failed {
                    error,
                    attempts: inner,
                } => Error::Failed {
                    error,
                    attempts: attempts.max(inner),
                },
                other => other,
            },
        }
    }
}

/// A configuration refused when a policy is built; names the offending field.
///
/// ```
/// use breakwater::{ConfigError, PolicyKind};
/// let e = ConfigError::new(PolicyKind::Bulkhead, "max_concurrent", "must be at least 1");
/// assert_eq!(e.to_string(), "invalid bulkhead configuration: max_concurrent must be at least 1");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {policy} configuration: {field} {message}")]
pub struct ConfigError {
    /// The policy being built.
    pub policy: PolicyKind,
    /// The offending field, by its builder/JSON name.
    pub field: &'static str,
    /// What is wrong with it.
    pub message: String,
}

impl ConfigError {
    /// A new configuration error.
    ///
    /// ```
    /// let e = breakwater::ConfigError::new(breakwater::PolicyKind::Retry, "max_attempts", "must be at least 1");
    /// assert_eq!(e.field, "max_attempts");
    /// ```
    pub fn new(policy: PolicyKind, field: &'static str, message: impl Into<String>) -> ConfigError {
        ConfigError {
            policy,
            field,
            message: message.into(),
        }
    }
}
