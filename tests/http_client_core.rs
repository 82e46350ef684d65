//! The resilient service client against real local servers (127.0.0.1, ephemeral ports).
//! Policies run on a manual clock where time matters (open durations, retry delays); the
//! HTTP exchanges are real, bounded by generous wall-time limits, with no speed asserts.

#[path = "support/http_server.rs"]
mod http_server;

use std::time::{Duration, Instant};

use breakwater::http::{HttpOutcome, Profile, ServiceClient};
use breakwater::{Clock, Ctx, Error, ManualClock, PolicyKind, RejectReason, State};
use http_server::{Behaviour, TestServer};

/// A profile for tests: `attempts` attempts, a breaker of `failures` consecutive failures
/// open for 10 s, a 100 ms fixed delay, a 5 s attempt timeout, no bulkhead.
fn profile(attempts: u32, failures: u32) -> Profile {
    let mut p = Profile::normal();
    p.max_attempts = attempts;
    p.breaker_failures = failures;
    p.breaker_open_ms = 10_000;
    p.breaker_trial = 1;
    p.breaker_successes = 1;
    p.backoff_initial_ms = 100;
    p.backoff_multiplier = 1.0;
    p.backoff_max_ms = 100;
    p.jitter = 0.0;
    p.attempt_timeout_ms = 5_000;
    p.bulkhead = None;
    p
}

fn client(urls: &[String], p: Profile, clock: &ManualClock) -> ServiceClient {
    ServiceClient::builder("svc")
        .instances(urls.iter().cloned())
        .profile(p)
        .clock(Clock::from(clock))
        .build()
        .unwrap()
}

fn rejected_open<T: std::fmt::Debug>(r: &Result<T, Error<breakwater::http::HttpError>>) -> bool {
    matches!(
        r,
        Err(Error::Rejected {
            policy: PolicyKind::CircuitBreaker,
            reason: RejectReason::Open,
            ..
        })
    )
}

#[test]
fn breaker_opens_on_an_outage_and_then_answers_without_the_network() {
    let server = TestServer::start();
    server.set(Behaviour::Status(503));
    let clock = ManualClock::new();
    let c = client(&[server.url()], profile(1, 3), &clock);
    for _ in 0..3 {
        match c.get("/a").send() {
            Err(Error::Failed { error, attempts: 1 }) => {
                assert_eq!(error.outcome(), HttpOutcome::ServerError);
                assert_eq!(error.status(), Some(503));
                assert_eq!(error.body(), b"{\"error\":503}");
            }
            other => panic!("expected a 503 failure, got {other:?}"),
        }
    }
    assert_eq!(c.breakers()[0].state(), State::Open);
    assert_eq!(server.count(), 3);
    for _ in 0..5 {
        let r = c.get("/a").send();
        assert!(rejected_open(&r), "{r:?}");
    }
    assert_eq!(
        server.count(),
        3,
        "an open breaker must not touch the network"
    );
    let m = c.metrics();
    assert_eq!((m.calls, m.failed, m.rejected, m.attempts), (8, 3, 5, 3));
    assert_eq!(c.breakers()[0].metrics().totals.rejected_open, 5);
}

#[test]
fn breaker_recovers_after_the_open_duration() {
    let server = TestServer::start();
    server.set(Behaviour::Drop);
    let clock = ManualClock::new();
    let c = client(&[server.url()], profile(1, 2), &clock);
    for _ in 0..2 {
        let e = c.get("/").send().unwrap_err();
        assert_eq!(e.inner().unwrap().outcome(), HttpOutcome::Transport);
    }
    assert_eq!(c.breakers()[0].state(), State::Open);
    server.set(Behaviour::Normal);
    clock.advance(Duration::from_secs(10));
    let reply = c.get("/back").send().unwrap();
    assert_eq!(reply.status(), 200);
    assert_eq!(c.breakers()[0].state(), State::Closed);
    assert_eq!(server.count(), 3);
}

#[test]
fn a_never_answering_server_returns_control_by_the_deadline() {
    let server = TestServer::start();
    server.set(Behaviour::Hang);
    let mut p = profile(5, 100);
    p.attempt_timeout_ms = 30_000;
    let c = ServiceClient::builder("hang")
        .instance(server.url())
        .profile(p)
        .build()
        .unwrap();
    let ctx = Ctx::new().with_timeout(Duration::from_millis(400));
    let began = Instant::now();
    let r = c.get("/slow").ctx(&ctx).send();
    let took = began.elapsed();
    assert!(
        matches!(
            r,
            Err(Error::TimedOut {
                policy: PolicyKind::Deadline
            })
        ),
        "{r:?}"
    );
    // Generous: the deadline is 400 ms, the attempt timeout 30 s.
    assert!(took < Duration::from_secs(15), "took {took:?}");
    server.set(Behaviour::Normal);
}

#[test]
fn post_without_a_key_is_not_retried() {
    let server = TestServer::start();
    server.set(Behaviour::Status(503));
    let clock = ManualClock::new();
    let c = client(&[server.url()], profile(3, 100), &clock);
    let e = c.post("/orders").body("{}").send().unwrap_err();
    assert_eq!(e.attempts(), 1);
    assert_eq!(server.count(), 1);
    assert_eq!(server.requests()[0].header("idempotency-key"), None);
}

#[test]
fn post_with_a_key_is_retried_with_the_same_key() {
    let server = TestServer::start();
    server.set(Behaviour::Status(503));
    let clock = ManualClock::new();
    let c = client(&[server.url()], profile(3, 100), &clock);
    let e = c
        .post("/orders")
        .body("{\"qty\":1}")
        .idempotency_key("order-42")
        .send()
        .unwrap_err();
    assert_eq!(e.attempts(), 3);
    let seen = server.requests();
    assert_eq!(seen.len(), 3);
    for r in &seen {
        assert_eq!(r.method, "POST");
        assert_eq!(r.header("idempotency-key"), Some("order-42"));
        assert_eq!(r.body, "{\"qty\":1}");
    }
    assert_eq!(c.metrics().retries, 2);
    assert_eq!(
        clock.elapsed(),
        Duration::from_millis(200),
        "two 100 ms delays"
    );
}

#[test]
fn a_generated_key_is_kept_across_attempts() {
    let server = TestServer::start();
    server.set(Behaviour::Status(500));
    let clock = ManualClock::new();
    let c = client(&[server.url()], profile(2, 100), &clock);
    let _ = c.post("/pay").generate_idempotency_key().send();
    let seen = server.requests();
    assert_eq!(seen.len(), 2);
    let key = seen[0].header("idempotency-key").unwrap().to_owned();
    assert_eq!(key.len(), 32);
    assert_eq!(seen[1].header("idempotency-key"), Some(key.as_str()));
    server.set(Behaviour::Normal);
    let reply = c.post("/pay").generate_idempotency_key().send().unwrap();
    assert_eq!(reply.idempotency_key().unwrap().len(), 32);
    assert_ne!(reply.idempotency_key(), Some(key.as_str()));
}

#[test]
fn the_correlation_id_arrives_on_every_attempt() {
    let server = TestServer::start();
    let clock = ManualClock::new();
    let c = client(&[server.url()], profile(2, 100), &clock);
    let reply = c.get("/x").correlation_id("trace-7").send().unwrap();
    assert_eq!(reply.correlation_id(), "trace-7");
    assert_eq!(reply.header("x-correlation-id"), Some("trace-7"));
    assert_eq!(
        server.requests()[0].header("x-correlation-id"),
        Some("trace-7")
    );

    server.set(Behaviour::Status(502));
    let _ = c.get("/y").send();
    let seen = server.requests();
    assert_eq!(seen.len(), 3);
    let created = seen[1].header("x-correlation-id").unwrap();
    assert_eq!(created.len(), 32);
    assert_eq!(seen[2].header("x-correlation-id"), Some(created));
}

#[test]
fn caller_errors_are_replies_never_retried_and_successes_for_the_breaker() {
    let server = TestServer::start();
    server.set(Behaviour::Status(404));
    let clock = ManualClock::new();
    let c = client(&[server.url()], profile(3, 1), &clock);
    for _ in 0..3 {
        let reply = c.get("/missing").send().unwrap();
        assert_eq!((reply.status(), reply.attempts()), (404, 1));
    }
    assert_eq!(server.count(), 3);
    assert_eq!(c.breakers()[0].state(), State::Closed);
    assert_eq!(c.attempts(0, HttpOutcome::CallerError), 3);
}

#[test]
fn retry_after_is_honoured() {
    let server = TestServer::start();
    server.set(Behaviour::RetryAfter(429, "3".into()));
    let clock = ManualClock::new();
    let c = client(&[server.url()], profile(2, 100), &clock);
    let e = c.get("/").send().unwrap_err();
    assert_eq!(
        e.inner().unwrap().retry_after(),
        Some(Duration::from_secs(3))
    );
    assert_eq!(e.inner().unwrap().outcome(), HttpOutcome::Throttled);
    assert_eq!(server.count(), 2);
    assert_eq!(
        clock.elapsed(),
        Duration::from_secs(3),
        "the hint replaced the 100 ms delay"
    );
}

#[test]
fn with_one_of_three_instances_down_calls_succeed_and_its_breaker_opens() {
    let servers = [
        TestServer::start(),
        TestServer::start(),
        TestServer::start(),
    ];
    servers[1].stop();
    let urls: Vec<String> = servers.iter().map(TestServer::url).collect();
    let clock = ManualClock::new();
    let c = client(&urls, profile(3, 2), &clock);
    for i in 0..12 {
        let reply = c.get(&format!("/item/{i}")).send().unwrap();
        assert_eq!(reply.status(), 200);
        assert_ne!(reply.instance(), urls[1]);
    }
    assert_eq!(c.breakers()[1].state(), State::Open);
    assert_eq!(c.breakers()[0].state(), State::Closed);
    assert_eq!(c.breakers()[2].state(), State::Closed);
    assert_eq!(c.attempts(1, HttpOutcome::Transport), 2);
    assert_eq!(servers[0].count() + servers[2].count(), 12);
    assert_eq!(
        c.metrics().retries,
        2,
        "each failure was retried on another instance"
    );
}

#[test]
fn every_instance_open_is_a_rejection() {
    let servers = [TestServer::start(), TestServer::start()];
    for s in &servers {
        s.set(Behaviour::Status(500));
    }
    let urls: Vec<String> = servers.iter().map(TestServer::url).collect();
    let clock = ManualClock::new();
    let c = client(&urls, profile(2, 1), &clock);
    let e = c.get("/").send().unwrap_err();
    assert_eq!(e.attempts(), 2, "the retry went to the other instance");
    let r = c.get("/").send();
    assert!(rejected_open(&r), "{r:?}");
    assert_eq!(servers[0].count() + servers[1].count(), 2);
}

#[test]
fn the_health_checker_takes_an_instance_out_and_back_in() {
    let a = TestServer::start();
    let b = TestServer::start();
    let clock = ManualClock::new();
    let interval = Duration::from_secs(1);
    let c = ServiceClient::builder("checked")
        .instances([a.url(), b.url()])
        .profile(profile(1, 100))
        .clock(Clock::from(&clock))
        .health_check("/health", interval)
        .build()
        .unwrap();
    // Completes `rounds` more rounds of probes, advancing the clock when the checker waits.
    let rounds = |more: u64| {
        let target = c.health_rounds().unwrap() + more;
        let end = Instant::now() + Duration::from_secs(20);
        while c.health_rounds().unwrap() < target {
            assert!(Instant::now() < end, "the health checker made no progress");
            if clock.waiters() > 0 {
                clock.advance(interval);
            }
            std::thread::yield_now();
        }
    };
    rounds(1);
    assert!(c.balancer().is_healthy(1));
    b.set(Behaviour::Status(503));
    rounds(2);
    assert!(!c.balancer().is_healthy(1));
    let before = b.count();
    for _ in 0..4 {
        assert_eq!(c.get("/work").send().unwrap().instance(), a.url());
    }
    assert_eq!(
        b.count(),
        before,
        "only health probes reach the instance marked down"
    );
    assert!(c.health_json().contains("\"healthy\":false"));
    b.set(Behaviour::Normal);
    rounds(2);
    assert!(c.balancer().is_healthy(1));
    let instances: Vec<String> = (0..4)
        .map(|_| c.get("/work").send().unwrap().instance().to_owned())
        .collect();
    assert!(instances.contains(&b.url()), "{instances:?}");
    assert!(b.requests().iter().any(|r| r.path == "/health"));
}

#[test]
fn the_profile_bulkhead_and_rate_limit_reject() {
    let server = TestServer::start();
    let clock = ManualClock::new();
    let mut p = profile(1, 100);
    p.rate_limit_per_sec = Some(2);
    let c = client(&[server.url()], p, &clock);
    assert!(c.get("/").send().is_ok());
    assert!(c.get("/").send().is_ok());
    match c.get("/").send() {
        Err(Error::Rejected {
            policy: PolicyKind::RateLimiter,
            reason: RejectReason::RateLimited,
            retry_after: Some(_),
        }) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(server.count(), 2);
    clock.advance(Duration::from_secs(1));
    assert!(c.get("/").send().is_ok());

    let mut p = profile(1, 100);
    p.bulkhead = Some(1);
    let c = client(&[server.url()], p, &clock);
    let _held = c.bulkhead().unwrap().try_acquire().unwrap();
    assert!(matches!(
        c.get("/").send(),
        Err(Error::Rejected {
            policy: PolicyKind::Bulkhead,
            ..
        })
    ));
}

#[test]
fn bad_configuration_is_refused_naming_the_field() {
    let e = ServiceClient::builder("")
        .instance("http://a.local")
        .build()
        .unwrap_err();
    assert_eq!(e.field, "service");
    let e = ServiceClient::builder("s")
        .instance("ftp://a.local")
        .build()
        .unwrap_err();
    assert_eq!(e.field, "instances");
    let mut p = Profile::normal();
    p.attempt_timeout_ms = 0;
    let e = ServiceClient::builder("s")
        .instance("http://a.local")
        .profile(p)
        .build()
        .unwrap_err();
    assert_eq!(e.field, "attempt_timeout_ms");
    let e = ServiceClient::builder("s")
        .instance("http://a.local")
        .health_check("/h", Duration::ZERO)
        .build()
        .unwrap_err();
    assert_eq!(e.field, "interval");
}

#[test]
fn a_cancelled_call_sends_nothing_and_takes_no_permit() {
    let server = TestServer::start();
    let clock = ManualClock::new();
    let mut p = profile(3, 100);
    p.rate_limit_per_sec = Some(1);
    p.bulkhead = Some(1);
    let c = client(&[server.url()], p, &clock);
    let token = breakwater::CancelToken::new();
    token.cancel();
    let ctx = Ctx::with_clock(Clock::from(&clock)).with_cancel(token);
    match c.get("/").ctx(&ctx).send() {
        // The pipeline of the client's policies stops a cancelled call before its first stage.
        Err(Error::Rejected {
            policy: PolicyKind::Pipeline,
            reason: RejectReason::Cancelled,
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(server.count(), 0);
    assert_eq!(c.bulkhead().unwrap().metrics().available, 1);
    // The rate limiter's one permit of this second is still there.
    assert_eq!(c.get("/").send().unwrap().status(), 200);
    assert_eq!(c.metrics().rejected, 1);
}
