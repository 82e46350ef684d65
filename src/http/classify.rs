//! Classification of an HTTP exchange for resilience. The user-facing documentation (the
//! table of outcomes) is on [`HttpOutcome`] (this module is private; its items are
//! re-exported from `breakwater::http`).

use std::io;
use std::time::{Duration, SystemTime};

use ureq::http::Response;

use super::retry_after::retry_after;

/// What an HTTP exchange means for resilience: success, server failure, throttling, caller
/// fault, transport error or timeout (see [`classify_status`], [`classify_response`],
/// [`classify_error`] and [`classify_result`], which also read the server's `Retry-After`
/// hint into a [`Classification`]).
///
/// | exchange                                   | outcome         | breaker   | retried |
/// |--------------------------------------------|-----------------|-----------|---------|
/// | status 1xx, 2xx, 3xx                       | `Success`       | success   | no      |
/// | status 429                                 | `Throttled`     | failure   | yes     |
/// | other 4xx                                  | `CallerError`   | success   | never   |
/// | 5xx (and any status outside 100..=599)     | `ServerError`   | failure   | yes     |
/// | connection refused, reset, dropped, DNS, TLS, protocol | `Transport` | failure | yes |
/// | any ureq timeout, an I/O read that timed out | `Timeout`     | failure   | yes     |
/// | bad URI, invalid header, body over its length, https-only | `Invalid` | ignored | never |
///
/// The "breaker" column is [`HttpOutcome::verdict`], "retried" is
/// [`HttpOutcome::is_retryable`]: whether the outcome is worth another attempt. Whether the
/// request may be sent again at all is the business of [`may_retry`](super::may_retry).
///
/// A caller fault counts as a success for a breaker: the dependency answered, correctly, that
/// the request was wrong. The `Retry-After` hint is read on every status that carries one
/// (usually 429 and 503, also 301 or 202 for some servers).
///
/// # Examples
///
/// ```
/// use breakwater::http::{classify_status, HttpOutcome};
///
/// assert_eq!(classify_status(200), HttpOutcome::Success);
/// assert_eq!(classify_status(404), HttpOutcome::CallerError);
/// assert_eq!(classify_status(429), HttpOutcome::Throttled);
/// assert_eq!(classify_status(503), HttpOutcome::ServerError);
/// assert!(HttpOutcome::Throttled.is_failure());
/// assert!(!HttpOutcome::CallerError.is_retryable());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HttpOutcome {
    /// The server answered with a status below 400.
    Success,
    /// The server answered 5xx (or a status outside 100..=599).
    ServerError,
    /// The server answered 429 Too Many Requests.
    Throttled,
    /// The server answered a 4xx other than 429: the request was wrong.
    CallerError,
    /// No answer: the connection was refused, reset or dropped, the host was not found, or
    /// the answer was not valid HTTP.
    Transport,
    /// A timeout ended the exchange.
    Timeout,
    /// The request could not be sent as it was built (bad URI, invalid header, a body
    /// longer than its declared length, an http URI on an https-only agent).
    Invalid,
}

/// How a circuit breaker should count an outcome.
///
/// ```
/// use breakwater::http::{HttpOutcome, Verdict};
/// assert_eq!(HttpOutcome::CallerError.verdict(), Verdict::Success);
/// assert_eq!(HttpOutcome::Invalid.verdict(), Verdict::Ignore);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// Counts as a success.
    Success,
    /// Counts as a failure.
    Failure,
    /// Counts as neither.
    Ignore,
}

impl HttpOutcome {
    /// `true` when the dependency failed: server error, throttling, transport error or
    /// timeout.
    ///
    /// ```
    /// assert!(breakwater::http::HttpOutcome::Timeout.is_failure());
    /// ```
    pub fn is_failure(self) -> bool {
        matches!(
            self,
            HttpOutcome::ServerError
                | HttpOutcome::Throttled
                | HttpOutcome::Transport
                | HttpOutcome::Timeout
        )
    }

    /// `true` when another attempt may succeed (the failures, see
    /// [`HttpOutcome::is_failure`]). Caller faults and invalid requests are never retried.
    ///
    /// ```
    /// assert!(breakwater::http::HttpOutcome::ServerError.is_retryable());
    /// assert!(!breakwater::http::HttpOutcome::Invalid.is_retryable());
    /// ```
    pub fn is_retryable(self) -> bool {
        self.is_failure()
    }

    /// How a circuit breaker counts this outcome: failures fail, invalid requests are
    /// ignored, the rest (including caller faults) succeed.
    ///
    /// ```
    /// use breakwater::http::{HttpOutcome, Verdict};
    /// assert_eq!(HttpOutcome::Throttled.verdict(), Verdict::Failure);
    /// ```
    pub fn verdict(self) -> Verdict {
        match self {
            HttpOutcome::Invalid => Verdict::Ignore,
            o if o.is_failure() => Verdict::Failure,
            _ => Verdict::Success,
        }
    }

    /// A short snake_case name, for metric labels and logs.
    ///
    /// ```
    /// assert_eq!(breakwater::http::HttpOutcome::CallerError.name(), "caller_error");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            HttpOutcome::Success => "success",
            HttpOutcome::ServerError => "server_error",
            HttpOutcome::Throttled => "throttled",
            HttpOutcome::CallerError => "caller_error",
            HttpOutcome::Transport => "transport",
            HttpOutcome::Timeout => "timeout",
            HttpOutcome::Invalid => "invalid",
        }
    }
}

/// An exchange's [`HttpOutcome`] with the status (when the server answered) and the
/// server's `Retry-After` hint.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use breakwater::http::{classify_response, HttpOutcome};
///
/// let response = ureq::http::Response::builder()
///     .status(503)
///     .header("Retry-After", "7")
///     .body(())
///     .unwrap();
/// let c = classify_response(&response, SystemTime::now());
/// assert_eq!(c.outcome, HttpOutcome::ServerError);
/// assert_eq!(c.status, Some(503));
/// assert_eq!(c.retry_after, Some(Duration::from_secs(7)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Classification {
    /// What the exchange means.
    pub outcome: HttpOutcome,
    /// The status, when the server answered.
    pub status: Option<u16>,
    /// How long the server asked us to wait, from its `Retry-After` header.
    pub retry_after: Option<Duration>,
}

impl Classification {
    /// A classification without status or hint (an exchange that got no answer).
    ///
    /// ```
    /// use breakwater::http::{Classification, HttpOutcome};
    /// assert_eq!(Classification::new(HttpOutcome::Timeout).status, None);
    /// ```
    pub fn new(outcome: HttpOutcome) -> Classification {
        Classification {
            outcome,
            status: None,
            retry_after: None,
        }
    }
}

/// The outcome of a status code alone (see the table on [`HttpOutcome`]).
///
/// ```
/// use breakwater::http::{classify_status, HttpOutcome};
/// assert_eq!(classify_status(304), HttpOutcome::Success);
/// assert_eq!(classify_status(999), HttpOutcome::ServerError);
/// ```
pub fn classify_status(status: u16) -> HttpOutcome {
    match status {
        100..=399 => HttpOutcome::Success,
        429 => HttpOutcome::Throttled,
        400..=499 => HttpOutcome::CallerError,
        _ => HttpOutcome::ServerError,
    }
}

/// Classifies a response: its status, and its `Retry-After` header read relative to `now`
/// (the wall-clock time, used only for the HTTP-date form).
///
/// ```
/// use std::time::SystemTime;
/// use breakwater::http::{classify_response, HttpOutcome};
///
/// let response = ureq::http::Response::builder().status(429).body(()).unwrap();
/// let c = classify_response(&response, SystemTime::now());
/// assert_eq!((c.outcome, c.retry_after), (HttpOutcome::Throttled, None));
/// ```
pub fn classify_response<B>(response: &Response<B>, now: SystemTime) -> Classification {
    let status = response.status().as_u16();
    Classification {
        outcome: classify_status(status),
        status: Some(status),
        retry_after: retry_after(response.headers(), now),
    }
}

/// Classifies a ureq error as [`HttpOutcome::Timeout`], [`HttpOutcome::Transport`],
/// [`HttpOutcome::Invalid`], or, for `Error::StatusCode` (an agent built with
/// `http_status_as_error(true)`), by its status, without the headers.
///
/// ```
/// use breakwater::http::{classify_error, HttpOutcome};
///
/// let timeout = ureq::Error::Timeout(ureq::Timeout::Global);
/// assert_eq!(classify_error(&timeout).outcome, HttpOutcome::Timeout);
/// let refused = ureq::Error::Io(std::io::ErrorKind::ConnectionRefused.into());
/// assert_eq!(classify_error(&refused).outcome, HttpOutcome::Transport);
/// let bad = ureq::Error::BadUri("nope".into());
/// assert_eq!(classify_error(&bad).outcome, HttpOutcome::Invalid);
/// ```
pub fn classify_error(error: &ureq::Error) -> Classification {
    use ureq::Error as E;
    let outcome = match error {
        E::StatusCode(status) => {
            return Classification {
                outcome: classify_status(*status),
                status: Some(*status),
                retry_after: None,
            };
        }
        E::Timeout(_) => HttpOutcome::Timeout,
        E::Io(e) => io_outcome(e),
        E::Other(e) => match e.downcast_ref::<io::Error>() {
            Some(e) => io_outcome(e),
            None => HttpOutcome::Transport,
        },
        E::BadUri(_)
        | E::Http(_)
        | E::BodyExceedsLimit(_)
        | E::RequireHttpsOnly(_)
        | E::InvalidProxyUrl
        | E::RedirectFailed => HttpOutcome::Invalid,
        // Host not found, connection failed, protocol, TLS, proxy, too many redirects,
        // oversized header, and whatever a later ureq adds: the dependency did not answer.
        _ => HttpOutcome::Transport,
    };
    Classification::new(outcome)
}

fn io_outcome(e: &io::Error) -> HttpOutcome {
    match e.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => HttpOutcome::Timeout,
        _ => HttpOutcome::Transport,
    }
}

/// Classifies the result of `agent.run(request)` or `request.call()`: a response by
/// [`classify_response`], an error by [`classify_error`].
///
/// ```
/// use std::time::SystemTime;
/// use breakwater::http::{classify_result, HttpOutcome};
///
/// let ok: Result<ureq::http::Response<()>, ureq::Error> =
///     Ok(ureq::http::Response::builder().status(201).body(()).unwrap());
/// assert_eq!(classify_result(&ok, SystemTime::now()).outcome, HttpOutcome::Success);
/// ```
pub fn classify_result<B>(
    result: &Result<Response<B>, ureq::Error>,
    now: SystemTime,
) -> Classification {
    match result {
        Ok(response) => classify_response(response, now),
        Err(error) => classify_error(error),
    }
}
