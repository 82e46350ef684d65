//! Which requests may be retried, the `Idempotency-Key` kept or generated and kept across
//! attempts, and the correlation id propagated or created, checked on the wire.
#![cfg(feature = "http")]

#[path = "support/http_server.rs"]
mod http_server;

use std::collections::HashSet;
use std::time::Duration;

use breakwater::http::{
    CORRELATION_ID, IDEMPOTENCY_KEY, ensure_correlation_id, ensure_idempotency_key,
    is_idempotent_method, may_retry, new_request_id, prepare_request,
};
use http_server::TestServer;
use ureq::http::{Method, Request};

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into()
}

#[test]
fn idempotent_methods() {
    let yes = ["GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"];
    let no = ["POST", "PATCH", "CONNECT", "PURGE"];
    for m in yes {
        assert!(
            is_idempotent_method(&Method::from_bytes(m.as_bytes()).unwrap()),
            "{m}"
        );
    }
    for m in no {
        assert!(
            !is_idempotent_method(&Method::from_bytes(m.as_bytes()).unwrap()),
            "{m}"
        );
    }
}

#[test]
fn other_methods_are_retried_only_with_a_key() {
    let post = Request::post("http://a.local/").body(()).unwrap();
    assert!(!may_retry(&post));
    let patch = Request::patch("http://a.local/").body(()).unwrap();
    assert!(!may_retry(&patch));
    let keyed = Request::post("http://a.local/")
        .header("Idempotency-Key", "order-17")
        .body(())
        .unwrap();
    assert!(may_retry(&keyed));
    let empty = Request::post("http://a.local/")
        .header("Idempotency-Key", " ")
        .body(())
        .unwrap();
    assert!(!may_retry(&empty), "an empty key is no key");
    assert!(may_retry(
        &Request::put("http://a.local/").body(()).unwrap()
    ));
}

#[test]
fn generated_ids_are_random_128_bit_hex() {
    let ids: HashSet<String> = (0..1000).map(|_| new_request_id()).collect();
    assert_eq!(ids.len(), 1000);
    for id in &ids {
        assert_eq!(id.len(), 32);
        assert!(u128::from_str_radix(id, 16).is_ok());
        assert_eq!(id, &id.to_lowercase());
    }
}

#[test]
fn a_callers_key_is_kept_and_an_empty_one_replaced() {
    let mut r = Request::post("http://a.local/")
        .header("Idempotency-Key", "order-17")
        .body(())
        .unwrap();
    assert_eq!(ensure_idempotency_key(&mut r), "order-17");
    assert_eq!(r.headers().get_all(&IDEMPOTENCY_KEY).iter().count(), 1);

    let mut empty = Request::post("http://a.local/")
        .header("Idempotency-Key", "")
        .body(())
        .unwrap();
    let key = ensure_idempotency_key(&mut empty);
    assert_eq!(key.len(), 32);
    assert_eq!(empty.headers()[&IDEMPOTENCY_KEY], key);
}

#[test]
fn prepare_generates_keys_only_when_asked_and_only_for_unsafe_methods() {
    let mut get = Request::get("http://a.local/").body(()).unwrap();
    let p = prepare_request(&mut get, true, None);
    assert!(p.retryable);
    assert_eq!(p.idempotency_key, None);
    assert!(get.headers().get(&IDEMPOTENCY_KEY).is_none());

    let mut post = Request::post("http://a.local/").body(()).unwrap();
    let p = prepare_request(&mut post, false, None);
    assert!(!p.retryable);
    assert_eq!(p.idempotency_key, None);

    let p = prepare_request(&mut post, true, None);
    assert!(p.retryable);
    let key = p.idempotency_key.unwrap();
    // Preparing again (a retry) keeps both ids.
    let again = prepare_request(&mut post, true, Some("other"));
    assert_eq!(again.idempotency_key, Some(key));
    assert_eq!(again.correlation_id, p.correlation_id);
}

#[test]
fn correlation_ids_are_kept_inherited_or_created() {
    let mut own = Request::get("http://a.local/")
        .header("X-Correlation-Id", "mine")
        .body(())
        .unwrap();
    assert_eq!(ensure_correlation_id(&mut own, Some("parent")), "mine");

    let mut child = Request::get("http://a.local/").body(()).unwrap();
    assert_eq!(
        ensure_correlation_id(&mut child, Some(" parent ")),
        "parent"
    );
    assert_eq!(child.headers()[&CORRELATION_ID], "parent");

    for inherited in [None, Some(""), Some("bad\r\nvalue")] {
        let mut fresh = Request::get("http://a.local/").body(()).unwrap();
        let id = ensure_correlation_id(&mut fresh, inherited);
        assert_eq!(id.len(), 32, "{inherited:?}");
        assert_eq!(fresh.headers()[&CORRELATION_ID], id);
    }
}

#[test]
fn every_attempt_carries_the_same_key_and_correlation_id() {
    let server = TestServer::start();
    let url = format!("{}/orders", server.url());
    let mut request = Request::post(&url).body("{\"item\":1}".to_owned()).unwrap();
    let ids = prepare_request(&mut request, true, Some("trace-42"));
    let agent = agent();
    for _ in 0..3 {
        // An attempt: the same parts, the same headers, a fresh copy of the body.
        let (parts, body) = request.clone().into_parts();
        let response = agent.run(Request::from_parts(parts, body)).unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["x-correlation-id"], "trace-42");
    }
    let seen = server.requests();
    assert_eq!(seen.len(), 3);
    let key = ids.idempotency_key.unwrap();
    for r in &seen {
        assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", "/orders"));
        assert_eq!(r.header("Idempotency-Key"), Some(key.to_str().unwrap()));
        assert_eq!(r.header("X-Correlation-Id"), Some("trace-42"));
        assert_eq!(r.body, "{\"item\":1}");
    }
}

#[test]
fn separate_operations_get_separate_keys() {
    let server = TestServer::start();
    let agent = agent();
    for _ in 0..2 {
        let mut r = Request::post(format!("{}/pay", server.url()))
            .body(())
            .unwrap();
        prepare_request(&mut r, true, None);
        agent.run(r).unwrap();
    }
    let seen = server.requests();
    let keys: HashSet<_> = seen
        .iter()
        .map(|r| r.header("idempotency-key").unwrap())
        .collect();
    let corr: HashSet<_> = seen
        .iter()
        .map(|r| r.header("x-correlation-id").unwrap())
        .collect();
    assert_eq!((keys.len(), corr.len()), (2, 2));
}
