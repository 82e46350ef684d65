//! The fallback stage: [`Fallback`] turns chosen errors into a value or a function of the error.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::Error;

type Handler<T, E> = dyn Fn(&Error<E>) -> Result<T, Error<E>> + Send + Sync;
type Predicate<E> = dyn Fn(&Error<E>) -> bool + Send + Sync;

/// A fallback: a value, or a function of the error, that answers instead of the chosen
/// errors. Clones share the handler and the metrics; it is `Send + Sync`.
///
/// The function receives the original error, so it can answer per error, or give an
/// error back (its own, or the original one mapped).
///
/// # What it handles
///
/// An error is handled when its kind is enabled ([`Fallback::on_rejected`],
/// [`Fallback::on_timeout`], [`Fallback::on_failure`], all enabled by default) **and**
/// the predicate given to [`Fallback::when`], if any, accepts it. Errors it does not
/// handle, and successes, pass through unchanged.
///
/// # Examples
///
/// ```
/// use breakwater::{Error, Fallback, PolicyKind, RejectReason};
///
/// // "temporarily unavailable" when the authors service is rejected or times out, but a
/// // real failure of the call is still reported.
/// let fallback = Fallback::value("temporarily unavailable".to_string()).on_failure(false);
/// let rejected: Result<String, Error<&str>> = Err(Error::Rejected {
///     policy: PolicyKind::CircuitBreaker,
///     reason: RejectReason::Open,
///     retry_after: None,
/// });
/// assert_eq!(fallback.recover(rejected).unwrap(), "temporarily unavailable");
/// let failed: Result<String, Error<&str>> = Err(Error::failed("404"));
/// assert_eq!(fallback.recover(failed).unwrap_err().into_inner(), Some("404"));
/// ```
///
/// A function of the error:
///
/// ```
/// use breakwater::{Error, Fallback};
///
/// let fallback = Fallback::from_fn(|e: &Error<String>| match e.inner() {
///     Some(msg) if msg.as_str() == "not found" => Ok(0),
///     _ => Err(Error::failed(format!("fallback gave up on: {e}"))),
/// });
/// assert_eq!(fallback.call(|| Err(Error::failed("not found".to_string()))).unwrap(), 0);
/// assert_eq!(fallback.call(|| Ok(7)).unwrap(), 7);
/// assert!(fallback.call(|| Err(Error::failed("boom".to_string()))).is_err());
/// assert_eq!(fallback.metrics().answered, 2);
/// ```
pub struct Fallback<T, E> {
    handler: Arc<Handler<T, E>>,
    when: Option<Arc<Predicate<E>>>,
    on_rejected: bool,
    on_timeout: bool,
    on_failure: bool,
    counters: Arc<Counters>,
}

#[derive(Debug, Default)]
struct Counters {
    answered: AtomicU64,
    recovered: AtomicU64,
    declined: AtomicU64,
}

/// How often a [`Fallback`] was used (monotonic counters, shared by clones).
///
/// # Examples
///
/// ```
/// use breakwater::{Error, Fallback};
/// let f = Fallback::value(1).on_failure(false);
/// let _ = f.recover(Err(Error::<()>::failed(())));
/// let _ = f.recover(Err(Error::<()>::TimedOut { policy: breakwater::PolicyKind::Deadline }));
/// let m = f.metrics();
/// assert_eq!((m.answered, m.recovered, m.declined), (1, 1, 1));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct FallbackMetrics {
    /// Errors the fallback answered (its value was returned or its function ran).
    pub answered: u64,
    /// Of those, how many it turned into a value (`Ok`).
    pub recovered: u64,
    /// Errors it left alone (their kind disabled, or refused by the predicate).
    pub declined: u64,
}

impl<T, E> Clone for Fallback<T, E> {
    fn clone(&self) -> Self {
        Fallback {
            handler: Arc::clone(&self.handler),
            when: self.when.clone(),
            on_rejected: self.on_rejected,
            on_timeout: self.on_timeout,
            on_failure: self.on_failure,
            counters: Arc::clone(&self.counters),
        }
    }
}

impl<T, E> fmt::Debug for Fallback<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fallback")
            .field("on_rejected", &self.on_rejected)
            .field("on_timeout", &self.on_timeout)
            .field("on_failure", &self.on_failure)
            .field("when", &self.when.is_some())
            .finish_non_exhaustive()
    }
}

impl<T, E> Fallback<T, E> {
    /// A fallback that answers every handled error with a clone of `value`.
    ///
    /// ```
    /// let f = breakwater::Fallback::value(vec![1, 2]);
    /// assert_eq!(f.recover(Err(breakwater::Error::<()>::failed(()))).unwrap(), vec![1, 2]);
    /// ```
    pub fn value(value: T) -> Fallback<T, E>
    where
        T: Clone + Send + Sync + 'static,
    {
        Fallback::with_handler(Arc::new(move |_: &Error<E>| Ok(value.clone())))
    }

    /// A fallback that answers every handled error with `f(&error)`: a value, or an error
    /// (which replaces the original one).
    ///
    /// ```
    /// use breakwater::{Error, Fallback};
    /// let f = Fallback::from_fn(|e: &Error<u32>| Ok(e.inner().copied().unwrap_or(0) * 2));
    /// assert_eq!(f.recover(Err(Error::failed(21))).unwrap(), 42);
    /// ```
    pub fn from_fn<F>(f: F) -> Fallback<T, E>
    where
        F: Fn(&Error<E>) -> Result<T, Error<E>> + Send + Sync + 'static,
    {
        Fallback::with_handler(Arc::new(f))
    }

    fn with_handler(handler: Arc<Handler<T, E>>) -> Fallback<T, E> {
        Fallback {
            handler,
            when: None,
            on_rejected: true,
            on_timeout: true,
            on_failure: true,
            counters: Arc::new(Counters::default()),
        }
    }

    /// Whether rejections ([`Error::Rejected`]: open breaker, full bulkhead, rate limit,
    /// ...) are handled.
    ///
    /// ```
    /// use breakwater::{Error, Fallback, PolicyKind, RejectReason};
    /// let f = Fallback::value(0).on_rejected(false);
    /// let e = Error::<()>::Rejected { policy: PolicyKind::Bulkhead, reason: RejectReason::BulkheadFull, retry_after: None };
    /// assert!(f.recover(Err(e)).is_err());
    /// ```
    ///
    /// Defaults to `true`.
    #[must_use]
    pub fn on_rejected(mut self, handle: bool) -> Self {
        self.on_rejected = handle;
        self
    }

    /// Whether time-outs ([`Error::TimedOut`]) are handled.
    ///
    /// ```
    /// use breakwater::{Error, Fallback, PolicyKind};
    /// let f = Fallback::value(0).on_timeout(false);
    /// assert!(f.recover(Err(Error::<()>::TimedOut { policy: PolicyKind::TimeLimiter })).is_err());
    /// ```
    ///
    /// Defaults to `true`.
    #[must_use]
    pub fn on_timeout(mut self, handle: bool) -> Self {
        self.on_timeout = handle;
        self
    }

    /// Whether failures of the guarded code ([`Error::Failed`]) are handled.
    ///
    /// ```
    /// use breakwater::{Error, Fallback};
    /// let f = Fallback::value(0).on_failure(false);
    /// assert!(f.recover(Err(Error::failed("boom"))).is_err());
    /// ```
    ///
    /// Defaults to `true`.
    #[must_use]
    pub fn on_failure(mut self, handle: bool) -> Self {
        self.on_failure = handle;
        self
    }

    /// A predicate every handled error must also pass (on top of the kind switches);
    /// replaces any earlier predicate.
    ///
    /// ```
    /// use breakwater::{Error, Fallback};
    /// let f = Fallback::value(0).when(|e: &Error<u16>| e.inner() == Some(&503));
    /// assert_eq!(f.recover(Err(Error::failed(503))).unwrap(), 0);
    /// assert!(f.recover(Err(Error::failed(404))).is_err());
    /// ```
    ///
    /// Without a predicate every error of an enabled kind is handled. Defaults to none.
    #[must_use]
    pub fn when<P>(mut self, predicate: P) -> Self
    where
        P: Fn(&Error<E>) -> bool + Send + Sync + 'static,
    {
        self.when = Some(Arc::new(predicate));
        self
    }

    /// `true` when this fallback would answer `error`.
    ///
    /// ```
    /// use breakwater::{Error, Fallback};
    /// let f = Fallback::<i32, &str>::value(0).on_failure(false);
    /// assert!(!f.handles(&Error::failed("x")));
    /// ```
    pub fn handles(&self, error: &Error<E>) -> bool {
        let kind_enabled = match error {
            Error::Rejected { .. } => self.on_rejected,
            Error::TimedOut { .. } => self.on_timeout,
            Error::Failed { .. } => self.on_failure,
        };
        kind_enabled && self.when.as_ref().is_none_or(|p| p(error))
    }

    /// Runs `f`, and answers its error if the fallback handles it.
    ///
    /// # Errors
    ///
    /// `f`'s error when the fallback does not handle it, or the fallback function's error.
    ///
    /// ```
    /// use breakwater::{Error, Fallback};
    /// let f = Fallback::value("cached");
    /// assert_eq!(f.call(|| Err(Error::failed(()))).unwrap(), "cached");
    /// ```
    pub fn call<F>(&self, f: F) -> Result<T, Error<E>>
    where
        F: FnOnce() -> Result<T, Error<E>>,
    {
        self.recover(f())
    }

    /// Answers `result`'s error if the fallback handles it; returns everything else as
    /// it is.
    ///
    /// # Errors
    ///
    /// The error when the fallback does not handle it, or the fallback function's error.
    ///
    /// ```
    /// use breakwater::{Error, Fallback};
    /// let f = Fallback::value(5);
    /// assert_eq!(f.recover(Ok::<_, Error<()>>(1)).unwrap(), 1);
    /// assert_eq!(f.recover(Err(Error::<()>::failed(()))).unwrap(), 5);
    /// ```
    pub fn recover(&self, result: Result<T, Error<E>>) -> Result<T, Error<E>> {
        match result {
            Ok(v) => Ok(v),
            Err(e) if self.handles(&e) => {
                self.counters.answered.fetch_add(1, Ordering::Relaxed);
                let answer = (self.handler)(&e);
                if answer.is_ok() {
                    self.counters.recovered.fetch_add(1, Ordering::Relaxed);
                }
                answer
            }
            Err(e) => {
                self.counters.declined.fetch_add(1, Ordering::Relaxed);
                Err(e)
            }
        }
    }

    /// How often the fallback answered, recovered and declined.
    ///
    /// ```
    /// let f = breakwater::Fallback::<u8, ()>::value(0);
    /// assert_eq!(f.metrics().answered, 0);
    /// ```
    pub fn metrics(&self) -> FallbackMetrics {
        FallbackMetrics {
            answered: self.counters.answered.load(Ordering::Relaxed),
            recovered: self.counters.recovered.load(Ordering::Relaxed),
            declined: self.counters.declined.load(Ordering::Relaxed),
        }
    }
}
