//! Regression tests of the service client's defects found from outside (issue 10, items
//! 2 to 4), each named after what broke. Real local servers (127.0.0.1, ephemeral ports),
//! policies on a manual clock, no speed asserts.
#![cfg(feature = "http")]

#[path = "support/http_server.rs"]
mod http_server;

use std::time::Duration;

use breakwater::http::{HttpOutcome, Profile, ServiceClient};
use breakwater::{Clock, Error, ManualClock, PolicyKind};
use http_server::{Behaviour, SeenRequest, TestServer};

/// `attempts` attempts, 100 ms fixed delays, a breaker that never opens here, no bulkhead,
/// no deadline.
fn profile(attempts: u32) -> Profile {
    let mut p = Profile::normal();
    p.max_attempts = attempts;
    p.breaker_failures = 100;
    p.backoff_initial_ms = 100;
    p.backoff_multiplier = 1.0;
    p.backoff_max_ms = 100;
    p.jitter = 0.0;
    p.bulkhead = None;
    p.deadline_ms = None;
    p
}

fn client(server: &TestServer, p: Profile, clock: &ManualClock) -> ServiceClient {
    ServiceClient::builder("svc")
        .instance(server.url())
        .profile(p)
        .clock(Clock::from(clock))
        .build()
        .unwrap()
}

/// The values of every header called `name` (case-insensitive) in `r`.
fn all(r: &SeenRequest, name: &str) -> Vec<String> {
    r.headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.clone())
        .collect()
}

#[test]
fn a_correlation_id_given_as_a_header_was_sent_twice() {
    let server = TestServer::start();
    let clock = ManualClock::new();
    let c = client(&server, profile(2), &clock);
    for name in ["X-Correlation-Id", "x-correlation-id", "X-CORRELATION-ID"] {
        let reply = c.get("/").header(name, "trace-41").send().unwrap();
        assert_eq!(reply.correlation_id(), "trace-41", "{name}");
        let seen = server.requests();
        let last = seen.last().unwrap();
        assert_eq!(all(last, "x-correlation-id"), ["trace-41"], "{name}");
    }
    // The last setting wins, whichever way it was given.
    let reply = c
        .get("/")
        .correlation_id("first")
        .header("X-Correlation-Id", "second")
        .send()
        .unwrap();
    assert_eq!(reply.correlation_id(), "second");
    let reply = c
        .get("/")
        .header("X-Correlation-Id", "first")
        .correlation_id("second")
        .send()
        .unwrap();
    assert_eq!(reply.correlation_id(), "second");
    let last = server.requests().pop().unwrap();
    assert_eq!(all(&last, "x-correlation-id"), ["second"]);
}

#[test]
fn an_idempotency_key_given_as_a_header_was_ignored_when_retrying_a_post() {
    let server = TestServer::start();
    server.set(Behaviour::Status(503));
    let clock = ManualClock::new();
    let c = client(&server, profile(3), &clock);
    let e = c
        .post("/orders")
        .header("Idempotency-Key", "order-42")
        .body("{}")
        .send()
        .unwrap_err();
    assert_eq!(e.attempts(), 3, "a keyed POST is retried");
    let seen = server.requests();
    assert_eq!(seen.len(), 3);
    for r in &seen {
        assert_eq!(all(r, "idempotency-key"), ["order-42"]);
    }
    assert_eq!(e.inner().unwrap().idempotency_key(), Some("order-42"));

    server.set(Behaviour::Normal);
    let reply = c
        .post("/orders")
        .header("IDEMPOTENCY-KEY", "order-43")
        .send()
        .unwrap();
    assert_eq!(reply.idempotency_key(), Some("order-43"));
    // A generated key and a header key are one key, never two.
    let reply = c
        .post("/orders")
        .generate_idempotency_key()
        .header("idempotency-key", "order-44")
        .send()
        .unwrap();
    assert_eq!(reply.idempotency_key(), Some("order-44"));
    let last = server.requests().pop().unwrap();
    assert_eq!(all(&last, "idempotency-key"), ["order-44"]);
}

#[test]
fn a_failed_call_did_not_say_which_correlation_id_and_key_it_used() {
    let server = TestServer::start();
    server.set(Behaviour::Status(500));
    let clock = ManualClock::new();
    let c = client(&server, profile(2), &clock);
    let e = c
        .post("/pay")
        .generate_idempotency_key()
        .send()
        .unwrap_err();
    let error = e.inner().unwrap();
    let seen = server.requests();
    assert_eq!(seen.len(), 2);
    assert_eq!(error.correlation_id(), seen[1].header("x-correlation-id"));
    assert_eq!(error.idempotency_key(), seen[1].header("idempotency-key"));
    assert_eq!(error.idempotency_key().map(str::len), Some(32));

    // Resending with the reported key sends the same key.
    server.set(Behaviour::Normal);
    let key = error.idempotency_key().unwrap().to_owned();
    let reply = c.post("/pay").idempotency_key(&key).send().unwrap();
    assert_eq!(reply.idempotency_key(), Some(key.as_str()));
    assert_eq!(
        server.requests()[2].header("idempotency-key"),
        Some(key.as_str())
    );

    // A request that could not even be sent reports its ids too.
    let e = c
        .get("/")
        .correlation_id("trace-9")
        .header("bad header", "x")
        .send()
        .unwrap_err();
    let error = e.inner().unwrap();
    assert_eq!(error.outcome(), HttpOutcome::Invalid);
    assert_eq!(error.correlation_id(), Some("trace-9"));
}

#[test]
fn a_long_retry_after_parked_the_caller_holding_a_bulkhead_permit() {
    let server = TestServer::start();
    server.set(Behaviour::RetryAfter(503, "3600".into()));
    let clock = ManualClock::new();
    let mut p = profile(3);
    p.bulkhead = Some(1);
    assert_eq!(p.max_retry_after_ms, 30_000, "the documented default");
    let c = client(&server, p, &clock);
    match c.get("/").send() {
        Err(Error::Failed { error, attempts: 1 }) => {
            assert_eq!(error.status(), Some(503));
            assert_eq!(error.retry_after(), Some(Duration::from_secs(3600)));
        }
        other => panic!("expected the 503 with its hint at once, got {other:?}"),
    }
    assert_eq!(server.count(), 1);
    assert_eq!(clock.elapsed(), Duration::ZERO, "no wait for the hint");
    assert_eq!(c.bulkhead().unwrap().metrics().available, 1);

    // A hint within the cap is still honoured.
    server.set(Behaviour::RetryAfter(503, "30".into()));
    let e = c.get("/").send().unwrap_err();
    assert_eq!(e.attempts(), 3);
    assert_eq!(clock.elapsed(), Duration::from_secs(60));

    // The cap is the profile's.
    let mut p = profile(2);
    p.max_retry_after_ms = 1_000;
    let c = client(&server, p, &clock);
    server.set(Behaviour::RetryAfter(429, "2".into()));
    let before = clock.elapsed();
    let e = c.get("/").send().unwrap_err();
    assert_eq!(e.attempts(), 1);
    assert_eq!(e.inner().unwrap().outcome(), HttpOutcome::Throttled);
    assert_eq!(clock.elapsed(), before);
}

#[test]
fn malformed_base_urls_were_accepted_and_failed_later_as_retryable_errors() {
    for (url, problem) in [
        ("http://[::1", "closing \"]\""),
        ("http://:80", "no host"),
        ("http://host:99999", "invalid port"),
        ("http://host/api?x=1", "query"),
        ("http://host/api#top", "fragment"),
        ("http://user:secret@host", "user information"),
        ("http//host", "http:// or https://"),
    ] {
        let e = ServiceClient::builder("s")
            .instance(url)
            .build()
            .unwrap_err();
        assert_eq!(
            (e.policy, e.field),
            (PolicyKind::Http, "instances"),
            "{url}"
        );
        let text = e.to_string();
        assert!(text.contains(&format!("{url:?}")), "names the URL: {text}");
        assert!(text.contains(problem), "names the problem: {text}");
    }
}

#[test]
fn an_upper_case_scheme_was_refused() {
    let server = TestServer::start();
    let upper = server.url().replacen("http://", "HTTP://", 1);
    let clock = ManualClock::new();
    let c = ServiceClient::builder("s")
        .instance(format!("{upper}/"))
        .profile(profile(1))
        .clock(Clock::from(&clock))
        .build()
        .unwrap();
    assert_eq!(c.instances(), [server.url()]);
    assert_eq!(c.get("/x").send().unwrap().status(), 200);
    assert_eq!(c.breakers()[0].name(), format!("s@{}", server.url()));
}
