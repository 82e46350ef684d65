//! [`HttpError`]: why an attempt of a [`ServiceClient`](super::ServiceClient) call failed,
//! with the request ids the call carried.

use std::fmt;
use std::time::Duration;

use crate::http::classify::{Classification, HttpOutcome};

struct ErrorInner {
    outcome: HttpOutcome,
    status: Option<u16>,
    retry_after: Option<Duration>,
    instance: String,
    message: String,
    body: Vec<u8>,
    correlation_id: Option<String>,
    idempotency_key: Option<String>,
    /// The request may be sent again (idempotent method or idempotency key).
    replayable: bool,
}

/// Why an attempt failed: its [`HttpOutcome`], the status and body of a 5xx or 429, the
/// server's `Retry-After` hint, the instance it went to, and the `X-Correlation-Id` and
/// `Idempotency-Key` the call carried (log them; resend a write with the same key).
///
/// # Examples
///
/// ```
/// use breakwater::http::{HttpError, HttpOutcome};
/// let e = HttpError::new(HttpOutcome::Timeout, "http://a.local", "timed out");
/// assert_eq!(e.outcome(), HttpOutcome::Timeout);
/// assert_eq!(e.status(), None);
/// assert_eq!(e.correlation_id(), None); // set by the client on the errors it returns
/// assert_eq!(e.to_string(), "timeout from http://a.local: timed out");
/// ```
pub struct HttpError(Box<ErrorInner>);

impl HttpError {
    /// An error without status, hint, body or request ids.
    ///
    /// ```
    /// let e = breakwater::http::HttpError::new(breakwater::http::HttpOutcome::Transport, "http://a.local", "refused");
    /// assert_eq!(e.instance(), "http://a.local");
    /// ```
    pub fn new(outcome: HttpOutcome, instance: &str, message: impl Into<String>) -> HttpError {
        HttpError(Box::new(ErrorInner {
            outcome,
            status: None,
            retry_after: None,
            instance: instance.to_owned(),
            message: message.into(),
            body: Vec::new(),
            correlation_id: None,
            idempotency_key: None,
            replayable: false,
        }))
    }

    /// A 5xx or 429 answer (or an invalid one), with its body.
    pub(crate) fn answered(c: Classification, instance: &str, body: Vec<u8>) -> HttpError {
        let status = c.status.unwrap_or(0);
        let mut e = HttpError::new(c.outcome, instance, format!("status {status}"));
        e.0.status = c.status;
        e.0.retry_after = c.retry_after;
        e.0.body = body;
        e
    }

    /// Sets the request ids of the call and whether its request may be sent again.
    pub(crate) fn with_call(
        mut self,
        correlation_id: &str,
        idempotency_key: Option<&str>,
        replayable: bool,
    ) -> HttpError {
        self.0.correlation_id = Some(correlation_id.to_owned());
        self.0.idempotency_key = idempotency_key.map(str::to_owned);
        self.0.replayable = replayable;
        self
    }

    /// `true` when the request may be sent again (an idempotent method or an
    /// idempotency key).
    pub(crate) fn replayable(&self) -> bool {
        self.0.replayable
    }

    /// What the attempt's exchange meant.
    ///
    /// ```
    /// # let e = breakwater::http::HttpError::new(breakwater::http::HttpOutcome::Transport, "", "");
    /// assert!(e.outcome().is_failure());
    /// ```
    pub fn outcome(&self) -> HttpOutcome {
        self.0.outcome
    }

    /// The status, when the server answered (5xx, 429).
    ///
    /// ```
    /// # let e = breakwater::http::HttpError::new(breakwater::http::HttpOutcome::Transport, "", "");
    /// assert_eq!(e.status(), None);
    /// ```
    pub fn status(&self) -> Option<u16> {
        self.0.status
    }

    /// The server's `Retry-After` hint. A call whose hint is longer than the profile's
    /// `max_retry_after_ms` stops and returns it, so the caller can decide.
    ///
    /// ```
    /// # let e = breakwater::http::HttpError::new(breakwater::http::HttpOutcome::Transport, "", "");
    /// assert_eq!(e.retry_after(), None);
    /// ```
    pub fn retry_after(&self) -> Option<Duration> {
        self.0.retry_after
    }

    /// The base URL of the instance the attempt went to.
    ///
    /// ```
    /// # let e = breakwater::http::HttpError::new(breakwater::http::HttpOutcome::Transport, "http://b", "");
    /// assert_eq!(e.instance(), "http://b");
    /// ```
    pub fn instance(&self) -> &str {
        &self.0.instance
    }

    /// A short description (the ureq error, or the status).
    ///
    /// ```
    /// # let e = breakwater::http::HttpError::new(breakwater::http::HttpOutcome::Transport, "", "refused");
    /// assert_eq!(e.message(), "refused");
    /// ```
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// The body of the answer (empty when there was none).
    ///
    /// ```
    /// # let e = breakwater::http::HttpError::new(breakwater::http::HttpOutcome::Transport, "", "");
    /// assert!(e.body().is_empty());
    /// ```
    pub fn body(&self) -> &[u8] {
        &self.0.body
    }

    /// The `X-Correlation-Id` every attempt of the call carried (the caller's, or the one
    /// the client made). `None` only for errors made outside a client.
    ///
    /// ```no_run
    /// # let client = breakwater::http::ServiceClient::builder("a").instance("http://127.0.0.1:8080").build()?;
    /// if let Err(e) = client.get("/").correlation_id("trace-9").send() {
    ///     assert_eq!(e.inner().and_then(|e| e.correlation_id()), Some("trace-9"));
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn correlation_id(&self) -> Option<&str> {
        self.0.correlation_id.as_deref()
    }

    /// The `Idempotency-Key` every attempt of the call carried, if any (the caller's, or
    /// the generated one): resend the operation with this key so the server can recognise
    /// it.
    ///
    /// ```no_run
    /// # let client = breakwater::http::ServiceClient::builder("a").instance("http://127.0.0.1:8080").build()?;
    /// if let Err(e) = client.post("/pay").generate_idempotency_key().send() {
    ///     let key = e.inner().and_then(|e| e.idempotency_key()).map(str::to_owned);
    ///     // later: client.post("/pay").idempotency_key(&key.unwrap()).send()
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn idempotency_key(&self) -> Option<&str> {
        self.0.idempotency_key.as_deref()
    }
}

impl fmt::Debug for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpError")
            .field("outcome", &self.0.outcome)
            .field("status", &self.0.status)
            .field("retry_after", &self.0.retry_after)
            .field("instance", &self.0.instance)
            .field("message", &self.0.message)
            .field("correlation_id", &self.0.correlation_id)
            .field("idempotency_key", &self.0.idempotency_key)
            .finish()
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = self.0.outcome.name().replace('_', " ");
        write!(f, "{what} from {}: {}", self.0.instance, self.0.message)
    }
}

impl std::error::Error for HttpError {}
