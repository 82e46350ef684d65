//! [`Call`]: one request of a [`ServiceClient`], built up and then sent.
//!
//! The request ids are one thing whichever way they are given: `.header("X-Correlation-Id",
//! ..)` and [`Call::correlation_id`] set the same id, `.header("Idempotency-Key", ..)` and
//! [`Call::idempotency_key`] the same key (header names are case-insensitive; the last
//! setting wins). Each is sent once per attempt, used to decide about retries, and
//! reported on the [`Reply`] or the [`HttpError`].

use std::fmt;

use ureq::http::{HeaderName, HeaderValue, Method};

use super::{HttpError, Reply, ServiceClient};
use crate::ctx::Ctx;
use crate::error::Error;
use crate::http::idempotency::{
    CORRELATION_ID, IDEMPOTENCY_KEY, is_idempotent_method, new_request_id,
};

#[cfg(doc)]
use crate::{PolicyKind, http::HttpOutcome};

/// Where a call's `Idempotency-Key` comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Key {
    None,
    Given(String),
    Generate,
}

/// One request of a [`ServiceClient`], built up and then [`sent`](Call::send). Made by
/// [`ServiceClient::get`], [`ServiceClient::post`], ... or [`ServiceClient::request`].
///
/// # Examples
///
/// ```no_run
/// # let client = breakwater::http::ServiceClient::builder("orders").instance("http://127.0.0.1:8080").build()?;
/// let reply = client
///     .put("/orders/7")
///     .header("content-type", "application/json")
///     .correlation_id("trace-123")
///     .body(r#"{"qty":2}"#)
///     .send()?;
/// assert_eq!(reply.correlation_id(), "trace-123");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "a call does nothing until `send` is called"]
pub struct Call<'a> {
    client: &'a ServiceClient,
    method: Method,
    path: String,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Option<Vec<u8>>,
    key: Key,
    correlation_id: Option<String>,
    ctx: Option<&'a Ctx>,
    invalid: Option<String>,
}

/// A call ready to run: what every attempt sends, and the ids it carries.
pub(super) struct Request {
    pub(super) method: Method,
    pub(super) path: String,
    /// The caller's headers, without the two request ids.
    pub(super) headers: Vec<(HeaderName, HeaderValue)>,
    pub(super) body: Option<Vec<u8>>,
    pub(super) correlation_id: String,
    pub(super) idempotency_key: Option<String>,
    /// The request may be sent again: an idempotent method or an idempotency key.
    pub(super) replayable: bool,
    /// Why the request cannot be sent (an invalid header), if so.
    pub(super) invalid: Option<String>,
}

impl fmt::Debug for Call<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Call")
            .field("method", &self.method)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// `value` without surrounding whitespace, `None` when nothing is left.
fn non_empty(value: &str) -> Option<String> {
    let v = value.trim();
    (!v.is_empty()).then(|| v.to_owned())
}

impl<'a> Call<'a> {
    pub(super) fn new(client: &'a ServiceClient, method: Method, path: &str) -> Call<'a> {
        Call {
            client,
            method,
            path: path.to_owned(),
            headers: Vec::new(),
            body: None,
            key: Key::None,
            correlation_id: None,
            ctx: None,
            invalid: None,
        }
    }

    /// Adds a header to every attempt. `X-Correlation-Id` and `Idempotency-Key` (in any
    /// letter case) are the same as [`correlation_id`](Call::correlation_id) and
    /// [`idempotency_key`](Call::idempotency_key): they replace the id instead of adding a
    /// second one. An invalid name or value makes [`send`](Call::send) fail with
    /// [`HttpOutcome::Invalid`]. Defaults to no headers.
    ///
    /// ```
    /// # let client = breakwater::http::ServiceClient::builder("s").instance("http://a.local").build().unwrap();
    /// let call = client.get("/").header("accept", "application/json");
    /// let keyed = client.post("/orders").header("idempotency-key", "order-42"); // retried
    /// ```
    pub fn header(mut self, name: &str, value: &str) -> Self {
        let Ok(name) = HeaderName::try_from(name) else {
            self.invalid = Some(format!("invalid header name {name:?}"));
            return self;
        };
        let Ok(header_value) = HeaderValue::try_from(value) else {
            self.invalid = Some(format!("invalid value for header {:?}", name.as_str()));
            return self;
        };
        if name == CORRELATION_ID {
            self.correlation_id = non_empty(value);
        } else if name == IDEMPOTENCY_KEY {
            self.key = non_empty(value).map_or(Key::None, Key::Given);
        } else {
            self.headers.push((name, header_value));
        }
        self
    }

    /// The request body, sent again on every attempt. Defaults to no body.
    ///
    /// ```
    /// # let client = breakwater::http::ServiceClient::builder("s").instance("http://a.local").build().unwrap();
    /// let call = client.post("/items").body("{}");
    /// ```
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = Some(body.into());
        self
    }

    /// The `Idempotency-Key` of this operation, sent on every attempt: a request with a
    /// key may be retried whatever its method. The same as
    /// `.header("Idempotency-Key", key)`; an empty key is no key. Defaults to none.
    ///
    /// ```
    /// # let client = breakwater::http::ServiceClient::builder("s").instance("http://a.local").build().unwrap();
    /// let call = client.post("/payments").idempotency_key("pay-2024-0001");
    /// ```
    pub fn idempotency_key(self, key: &str) -> Self {
        self.header(IDEMPOTENCY_KEY.as_str(), key)
    }

    /// Generates an `Idempotency-Key` for a request whose method is not idempotent (POST,
    /// PATCH, ...), so that it may be retried; the same key goes with every attempt.
    /// Idempotent methods get none. Replaces a key set before. Defaults to off.
    ///
    /// ```
    /// # let client = breakwater::http::ServiceClient::builder("s").instance("http://a.local").build().unwrap();
    /// let call = client.post("/payments").generate_idempotency_key();
    /// ```
    pub fn generate_idempotency_key(mut self) -> Self {
        self.key = Key::Generate;
        self
    }

    /// The `X-Correlation-Id` to propagate (the caller's own, from its incoming request).
    /// The same as `.header("X-Correlation-Id", id)`; an empty id is no id. Defaults to a
    /// new random id per call.
    ///
    /// ```
    /// # let client = breakwater::http::ServiceClient::builder("s").instance("http://a.local").build().unwrap();
    /// let call = client.get("/").correlation_id("trace-1");
    /// ```
    pub fn correlation_id(self, id: &str) -> Self {
        self.header(CORRELATION_ID.as_str(), id)
    }

    /// The caller's context: its deadline bounds every attempt and delay, its
    /// cancellation flag stops the call between attempts. It should be on the client's
    /// clock. Defaults to a fresh context (no deadline but the profile's).
    ///
    /// ```
    /// # let client = breakwater::http::ServiceClient::builder("s").instance("http://a.local").build().unwrap();
    /// let ctx = breakwater::Ctx::new().with_timeout(std::time::Duration::from_secs(1));
    /// let call = client.get("/").ctx(&ctx);
    /// ```
    pub fn ctx(mut self, ctx: &'a Ctx) -> Self {
        self.ctx = Some(ctx);
        self
    }

    /// Sends the request through the client's policies (see [`ServiceClient`] for what a
    /// call goes through).
    ///
    /// # Errors
    ///
    /// [`Error::Failed`] with the last attempt's [`HttpError`] (transport error, attempt
    /// timeout, 5xx, 429, invalid request; it carries the call's correlation id and
    /// idempotency key); [`Error::TimedOut`] with [`PolicyKind::Deadline`] when the call's
    /// deadline ended it; [`Error::Rejected`] when the rate limiter, the bulkhead or the
    /// breakers refused it (or it was cancelled).
    ///
    /// # Examples
    ///
    /// ```
    /// use breakwater::{Error, http::{HttpOutcome, ServiceClient}};
    /// // Nothing listens on this port any more: the connection is refused.
    /// let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    /// let mut profile = breakwater::http::Profile::normal();
    /// profile.max_attempts = 1;
    /// let client = ServiceClient::builder("gone").instance(format!("http://127.0.0.1:{port}")).profile(profile).build()?;
    /// match client.get("/").correlation_id("trace-5").send() {
    ///     Err(Error::Failed { error, attempts: 1 }) => {
    ///         assert_eq!(error.outcome(), HttpOutcome::Transport);
    ///         assert_eq!(error.correlation_id(), Some("trace-5"));
    ///     }
    ///     other => panic!("{other:?}"),
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn send(self) -> Result<Reply, Error<HttpError>> {
        let client = self.client;
        let ctx = self.ctx;
        let request = self.into_request();
        client.inner.execute(ctx, request)
    }

    /// Settles the request ids: the caller's, else generated (a key only on request and
    /// only for a method that is not idempotent).
    fn into_request(self) -> Request {
        let idempotent = is_idempotent_method(&self.method);
        let idempotency_key = match self.key {
            Key::None => None,
            Key::Given(k) => Some(k),
            Key::Generate if idempotent => None,
            Key::Generate => Some(new_request_id()),
        };
        Request {
            replayable: idempotent || idempotency_key.is_some(),
            correlation_id: self.correlation_id.unwrap_or_else(new_request_id),
            idempotency_key,
            method: self.method,
            path: self.path,
            headers: self.headers,
            body: self.body,
            invalid: self.invalid,
        }
    }
}
