//! The ureq middleware adapter against a real local server.

#[path = "support/http_server.rs"]
mod http_server;

use std::time::Duration;

use breakwater::http::{HttpOutcome, Rejection, ResilienceMiddleware};
use breakwater::{CircuitBreaker, PolicyKind, RateLimiter, RejectReason, State};
use http_server::{Behaviour, TestServer};

fn agent(m: &ResilienceMiddleware, status_as_error: bool) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(status_as_error)
        .timeout_global(Some(Duration::from_secs(10)))
        .middleware(m.clone())
        .build()
        .into()
}

#[test]
fn the_breaker_opens_through_the_middleware() {
    for status_as_error in [false, true] {
        let server = TestServer::start();
        server.set(Behaviour::Status(503));
        let breaker = CircuitBreaker::builder()
            .consecutive_failures(2)
            .build()
            .unwrap();
        let m = ResilienceMiddleware::new().breaker(breaker.clone());
        let agent = agent(&m, status_as_error);
        let url = format!("{}/x", server.url());
        for _ in 0..2 {
            let r = agent.get(&url).call();
            if status_as_error {
                assert!(matches!(r, Err(ureq::Error::StatusCode(503))));
            } else {
                assert_eq!(r.unwrap().status(), 503);
            }
        }
        assert_eq!(breaker.state(), State::Open);
        let e = agent.get(&url).call().unwrap_err();
        let rejection = Rejection::of(&e).expect("a rejection");
        assert_eq!(
            (rejection.policy, rejection.reason),
            (PolicyKind::CircuitBreaker, RejectReason::Open)
        );
        assert!(rejection.retry_after.is_some());
        assert_eq!(
            server.count(),
            2,
            "a rejected request never reaches the server"
        );
        let metrics = m.metrics();
        assert_eq!(metrics.requests, 2);
        assert_eq!(metrics.outcome(HttpOutcome::ServerError), 2);
        assert_eq!(metrics.rejected_by_breaker, 1);
    }
}

#[test]
fn caller_errors_do_not_open_the_breaker() {
    let server = TestServer::start();
    server.set(Behaviour::Status(404));
    let breaker = CircuitBreaker::builder()
        .consecutive_failures(1)
        .build()
        .unwrap();
    let m = ResilienceMiddleware::new().breaker(breaker.clone());
    let agent = agent(&m, false);
    for _ in 0..3 {
        assert_eq!(agent.get(&server.url()).call().unwrap().status(), 404);
    }
    assert_eq!(breaker.state(), State::Closed);
    assert_eq!(breaker.metrics().totals.successes, 3);
    assert_eq!(m.metrics().outcome(HttpOutcome::CallerError), 3);
}

#[test]
fn the_rate_limit_rejects() {
    let server = TestServer::start();
    let limiter = RateLimiter::builder()
        .permits(2)
        .period(Duration::from_secs(3600))
        .build()
        .unwrap();
    let m = ResilienceMiddleware::new().rate_limiter(limiter);
    let agent = agent(&m, false);
    assert_eq!(agent.get(&server.url()).call().unwrap().status(), 200);
    assert_eq!(agent.get(&server.url()).call().unwrap().status(), 200);
    let e = agent.get(&server.url()).call().unwrap_err();
    let r = Rejection::of(&e).unwrap();
    assert_eq!(
        (r.policy, r.reason),
        (PolicyKind::RateLimiter, RejectReason::RateLimited)
    );
    assert!(r.retry_after.unwrap() > Duration::ZERO);
    assert_eq!(server.count(), 2);
    assert_eq!(m.metrics().rejected_by_limiter, 1);
    assert_eq!(m.metrics().outcome(HttpOutcome::Success), 2);
}
