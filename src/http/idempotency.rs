//! Which requests may be sent more than once, and the `Idempotency-Key` and
//! `X-Correlation-Id` request ids. The user-facing documentation is the
//! [idempotency section](super#idempotency-and-request-ids) of `breakwater::http` (this
//! module is private; its items are re-exported from there).

use ureq::http::{HeaderName, HeaderValue, Method, Request};

/// The `Idempotency-Key` header (lowercase, as HTTP/1.1 header names are case-insensitive).
///
/// ```
/// assert_eq!(breakwater::http::IDEMPOTENCY_KEY.as_str(), "idempotency-key");
/// ```
pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");

/// The `X-Correlation-Id` header.
///
/// ```
/// assert_eq!(breakwater::http::CORRELATION_ID.as_str(), "x-correlation-id");
/// ```
pub const CORRELATION_ID: HeaderName = HeaderName::from_static("x-correlation-id");

/// `true` for the methods that are idempotent by definition: GET, HEAD, PUT, DELETE,
/// OPTIONS and TRACE.
///
/// ```
/// use ureq::http::Method;
/// use breakwater::http::is_idempotent_method;
///
/// assert!(is_idempotent_method(&Method::PUT));
/// assert!(!is_idempotent_method(&Method::POST));
/// assert!(!is_idempotent_method(&Method::PATCH));
/// ```
pub fn is_idempotent_method(method: &Method) -> bool {
    [
        Method::GET,
        Method::HEAD,
        Method::PUT,
        Method::DELETE,
        Method::OPTIONS,
        Method::TRACE,
    ]
    .contains(method)
}

/// `true` when `request` may be sent again: its method is idempotent, or it carries a
/// non-empty `Idempotency-Key`.
///
/// ```
/// use ureq::http::Request;
/// use breakwater::http::may_retry;
///
/// assert!(may_retry(&Request::get("http://a.local/").body(()).unwrap()));
/// let keyed = Request::post("http://a.local/").header("Idempotency-Key", "k1").body(()).unwrap();
/// assert!(may_retry(&keyed));
/// ```
pub fn may_retry<B>(request: &Request<B>) -> bool {
    is_idempotent_method(request.method()) || existing(request, &IDEMPOTENCY_KEY).is_some()
}

/// A new random 128-bit id as 32 lowercase hex digits (from the thread's random generator).
///
/// ```
/// let id = breakwater::http::new_request_id();
/// assert_eq!(id.len(), 32);
/// assert!(id.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
/// assert_ne!(id, breakwater::http::new_request_id());
/// ```
pub fn new_request_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}

fn new_header_value() -> HeaderValue {
    HeaderValue::try_from(new_request_id()).expect("hex digits are a valid header value")
}

/// The request's non-empty value for `name`, if any.
fn existing<B>(request: &Request<B>, name: &HeaderName) -> Option<HeaderValue> {
    request
        .headers()
        .get(name)
        .filter(|v| !v.as_bytes().iter().all(u8::is_ascii_whitespace))
        .cloned()
}

/// Returns the request's `Idempotency-Key`, first setting a new one (see
/// [`new_request_id`]) when it has none or only an empty one. Call it once per logical
/// operation, before the first attempt, and send every attempt with the same headers.
///
/// ```
/// use ureq::http::Request;
/// use breakwater::http::ensure_idempotency_key;
///
/// let mut keyed = Request::post("http://a.local/").header("Idempotency-Key", "mine").body(()).unwrap();
/// assert_eq!(ensure_idempotency_key(&mut keyed), "mine");
///
/// let mut plain = Request::post("http://a.local/").body(()).unwrap();
/// let key = ensure_idempotency_key(&mut plain);
/// assert_eq!(key.len(), 32);
/// assert_eq!(ensure_idempotency_key(&mut plain), key); // kept
/// ```
pub fn ensure_idempotency_key<B>(request: &mut Request<B>) -> HeaderValue {
    if let Some(v) = existing(request, &IDEMPOTENCY_KEY) {
        return v;
    }
    let v = new_header_value();
    request.headers_mut().insert(IDEMPOTENCY_KEY, v.clone());
    v
}

/// Returns the request's `X-Correlation-Id`, first setting one when it has none: the
/// `inherited` id (the one of the call being served, to propagate it) when it is a valid,
/// non-empty header value, otherwise a new one.
///
/// ```
/// use ureq::http::Request;
/// use breakwater::http::ensure_correlation_id;
///
/// let mut r = Request::get("http://a.local/").body(()).unwrap();
/// assert_eq!(ensure_correlation_id(&mut r, Some("abc")), "abc");
/// let mut fresh = Request::get("http://a.local/").body(()).unwrap();
/// assert_eq!(ensure_correlation_id(&mut fresh, Some("bad\nvalue")).len(), 32);
/// ```
pub fn ensure_correlation_id<B>(request: &mut Request<B>, inherited: Option<&str>) -> HeaderValue {
    if let Some(v) = existing(request, &CORRELATION_ID) {
        return v;
    }
    let v = inherited
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .and_then(|s| HeaderValue::from_str(s).ok())
        .unwrap_or_else(new_header_value);
    request.headers_mut().insert(CORRELATION_ID, v.clone());
    v
}

/// What [`prepare_request`] decided for a request.
///
/// ```
/// use ureq::http::Request;
/// let mut r = Request::delete("http://a.local/x").body(()).unwrap();
/// let p = breakwater::http::prepare_request(&mut r, false, None);
/// assert!(p.retryable && p.idempotency_key.is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedRequest {
    /// Whether the request may be sent more than once (see [`may_retry`]).
    pub retryable: bool,
    /// The request's idempotency key, if it has one.
    pub idempotency_key: Option<HeaderValue>,
    /// The request's correlation id.
    pub correlation_id: HeaderValue,
}

/// Prepares a request before its first attempt: sets the correlation id (see
/// [`ensure_correlation_id`]); when `generate_key` is set and the method is not idempotent,
/// makes sure it has an idempotency key (see [`ensure_idempotency_key`]); and tells whether
/// it may be retried. A key the caller set is always kept.
///
/// ```
/// use ureq::http::Request;
/// use breakwater::http::prepare_request;
///
/// let mut post = Request::post("http://a.local/pay").body(()).unwrap();
/// let p = prepare_request(&mut post, false, None);
/// assert!(!p.retryable && p.idempotency_key.is_none());
/// let p = prepare_request(&mut post, true, None);
/// assert!(p.retryable && p.idempotency_key.is_some());
/// ```
pub fn prepare_request<B>(
    request: &mut Request<B>,
    generate_key: bool,
    inherited_correlation_id: Option<&str>,
) -> PreparedRequest {
    let correlation_id = ensure_correlation_id(request, inherited_correlation_id);
    let idempotency_key = if generate_key && !is_idempotent_method(request.method()) {
        Some(ensure_idempotency_key(request))
    } else {
        existing(request, &IDEMPOTENCY_KEY)
    };
    PreparedRequest {
        retryable: may_retry(request),
        idempotency_key,
        correlation_id,
    }
}
