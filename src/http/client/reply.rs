//! [`Reply`]: the answer a [`ServiceClient`](super::ServiceClient) call returns.

use ureq::http::HeaderMap;

/// A successful answer (status below 400) or a caller fault (4xx other than 429), with the
/// whole body, read within the attempt's timeout.
///
/// # Examples
///
/// ```no_run
/// # let client = breakwater::http::ServiceClient::builder("users").instance("http://127.0.0.1:8080").build()?;
/// let reply = client.get("/users/7").send()?;
/// if reply.status() == 404 {
///     println!("no such user");
/// } else {
///     println!("{} after {} attempt(s) on {}", reply.text(), reply.attempts(), reply.instance());
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Reply {
    pub(super) status: u16,
    pub(super) headers: HeaderMap,
    pub(super) body: Vec<u8>,
    pub(super) instance: String,
    pub(super) attempts: u32,
    pub(super) correlation_id: String,
    pub(super) idempotency_key: Option<String>,
}

impl Reply {
    /// The status.
    ///
    /// ```no_run
    /// # let client = breakwater::http::ServiceClient::builder("a").instance("http://127.0.0.1:8080").build()?;
    /// let reply = client.get("/").send()?;
    /// assert_eq!(reply.status(), 200);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn status(&self) -> u16 {
        self.status
    }

    /// `true` for a status below 400.
    ///
    /// ```no_run
    /// # let client = breakwater::http::ServiceClient::builder("a").instance("http://127.0.0.1:8080").build()?;
    /// let reply = client.get("/").send()?;
    /// assert!(reply.is_success());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_success(&self) -> bool {
        self.status < 400
    }

    /// The headers of the answer.
    ///
    /// ```no_run
    /// # let client = breakwater::http::ServiceClient::builder("a").instance("http://127.0.0.1:8080").build()?;
    /// let reply = client.get("/").send()?;
    /// let n = reply.headers().len();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The value of header `name`, when present and text.
    ///
    /// ```no_run
    /// # let client = breakwater::http::ServiceClient::builder("a").instance("http://127.0.0.1:8080").build()?;
    /// let reply = client.get("/").send()?;
    /// let kind = reply.header("content-type");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body.
    ///
    /// ```no_run
    /// # let client = breakwater::http::ServiceClient::builder("a").instance("http://127.0.0.1:8080").build()?;
    /// let reply = client.get("/").send()?;
    /// let bytes: &[u8] = reply.body();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The body as text (invalid UTF-8 replaced).
    ///
    /// ```no_run
    /// # let client = breakwater::http::ServiceClient::builder("a").instance("http://127.0.0.1:8080").build()?;
    /// let reply = client.get("/").send()?;
    /// println!("{}", reply.text());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body, taken.
    ///
    /// ```no_run
    /// # let client = breakwater::http::ServiceClient::builder("a").instance("http://127.0.0.1:8080").build()?;
    /// let reply = client.get("/").send()?;
    /// let bytes: Vec<u8> = reply.into_body();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn into_body(self) -> Vec<u8> {
        self.body
    }

    /// The base URL of the instance that answered.
    ///
    /// ```no_run
    /// # let client = breakwater::http::ServiceClient::builder("a").instance("http://127.0.0.1:8080").build()?;
    /// let reply = client.get("/").send()?;
    /// assert_eq!(reply.instance(), "http://127.0.0.1:8080");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// Attempts this call took (1 without retries).
    ///
    /// ```no_run
    /// # let client = breakwater::http::ServiceClient::builder("a").instance("http://127.0.0.1:8080").build()?;
    /// let reply = client.get("/").send()?;
    /// assert!(reply.attempts() >= 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The `X-Correlation-Id` every attempt carried.
    ///
    /// ```no_run
    /// # let client = breakwater::http::ServiceClient::builder("a").instance("http://127.0.0.1:8080").build()?;
    /// let reply = client.get("/").send()?;
    /// assert_eq!(reply.correlation_id().len(), 32);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn correlation_id(&self) -> &str {
        &self.correlation_id
    }

    /// The `Idempotency-Key` every attempt carried, if any.
    ///
    /// ```no_run
    /// # let client = breakwater::http::ServiceClient::builder("a").instance("http://127.0.0.1:8080").build()?;
    /// let reply = client.get("/").send()?;
    /// assert_eq!(reply.idempotency_key(), None); // a GET needs none
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn idempotency_key(&self) -> Option<&str> {
        self.idempotency_key.as_deref()
    }
}
