//! Classification of real exchanges with the test server, through a plain ureq 3 agent built
//! with `http_status_as_error(false)`.
#![cfg(feature = "http")]

#[path = "support/http_server.rs"]
mod http_server;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use breakwater::http::{
    Classification, HttpOutcome, Verdict, classify_error, classify_result, classify_status,
};
use http_server::{Behaviour, TestServer};

fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .build()
        .into()
}

fn get(agent: &ureq::Agent, url: &str, now: SystemTime) -> Classification {
    let mut result = agent.get(url).call();
    if let Ok(r) = &mut result {
        let _ = r.body_mut().read_to_string();
    }
    classify_result(&result, now)
}

/// Sun, 06 Nov 1994 08:49:37 GMT.
const DATE: &str = "Sun, 06 Nov 1994 08:49:37 GMT";
const DATE_SECS: u64 = 784_111_777;

#[test]
fn every_server_behaviour_is_classified() {
    let server = TestServer::start();
    let a = agent(Duration::from_secs(10));
    let url = format!("{}/authors/1", server.url());
    let now = SystemTime::now();

    let ok = get(&a, &url, now);
    assert_eq!(
        (ok.outcome, ok.status, ok.retry_after),
        (HttpOutcome::Success, Some(200), None)
    );

    server.set(Behaviour::Status(500));
    let c = get(&a, &url, now);
    assert_eq!((c.outcome, c.status), (HttpOutcome::ServerError, Some(500)));
    assert_eq!(c.outcome.verdict(), Verdict::Failure);

    server.set(Behaviour::Status(502));
    assert_eq!(get(&a, &url, now).outcome, HttpOutcome::ServerError);

    server.set(Behaviour::Status(404));
    let c = get(&a, &url, now);
    assert_eq!((c.outcome, c.status), (HttpOutcome::CallerError, Some(404)));
    assert_eq!(c.outcome.verdict(), Verdict::Success);
    assert!(!c.outcome.is_retryable());

    server.set(Behaviour::RetryAfter(429, "3".into()));
    let c = get(&a, &url, now);
    assert_eq!(
        (c.outcome, c.status, c.retry_after),
        (
            HttpOutcome::Throttled,
            Some(429),
            Some(Duration::from_secs(3))
        )
    );
    assert!(c.outcome.is_retryable());

    server.set(Behaviour::RetryAfter(503, DATE.into()));
    let thirty_before = UNIX_EPOCH + Duration::from_secs(DATE_SECS - 30);
    let c = get(&a, &url, thirty_before);
    assert_eq!(
        (c.outcome, c.status, c.retry_after),
        (
            HttpOutcome::ServerError,
            Some(503),
            Some(Duration::from_secs(30))
        )
    );

    server.set(Behaviour::RetryAfter(503, "in a while".into()));
    let c = get(&a, &url, now);
    assert_eq!((c.outcome, c.retry_after), (HttpOutcome::ServerError, None));

    // A hint on a status that is not a failure is still read.
    server.set(Behaviour::RetryAfter(202, "1".into()));
    let c = get(&a, &url, now);
    assert_eq!(
        (c.outcome, c.retry_after),
        (HttpOutcome::Success, Some(Duration::from_secs(1)))
    );

    server.set(Behaviour::Drop);
    let c = get(&a, &url, now);
    assert_eq!((c.outcome, c.status), (HttpOutcome::Transport, None));
    assert_eq!(c.outcome.verdict(), Verdict::Failure);

    server.set(Behaviour::Slow(Duration::from_millis(50)));
    assert_eq!(get(&a, &url, now).outcome, HttpOutcome::Success);

    assert_eq!(server.count(), 10);
}

#[test]
fn a_server_that_never_answers_returns_control_by_the_timeout() {
    let server = TestServer::start();
    server.set(Behaviour::Hang);
    let a = agent(Duration::from_millis(300));
    let started = Instant::now();
    let c = get(&a, &format!("{}/slow", server.url()), SystemTime::now());
    assert_eq!((c.outcome, c.status), (HttpOutcome::Timeout, None));
    assert!(c.outcome.is_retryable());
    // Wall time, generous bound: the call came back, it did not wait for the server.
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(server.held(), 1);
    // Switched back, the server answers again (the held request too, to a closed connection).
    server.set(Behaviour::Normal);
    assert_eq!(
        get(&a, &format!("{}/fast", server.url()), SystemTime::now()).outcome,
        HttpOutcome::Success
    );
}

#[test]
fn stopping_unblocks_a_held_request_and_refuses_connections_until_restart() {
    let server = TestServer::start();
    server.set(Behaviour::Hang);
    let url = format!("{}/x", server.url());
    let waiting = {
        let url = url.clone();
        std::thread::spawn(move || get(&agent(Duration::from_secs(60)), &url, SystemTime::now()))
    };
    server.wait_for_held(1);
    server.stop();
    // The held call ends when the server closes its connection, long before its timeout.
    let c = waiting.join().unwrap();
    assert_eq!(c.outcome, HttpOutcome::Transport);
    assert!(!server.is_running());

    let a = agent(Duration::from_secs(10));
    assert_eq!(
        get(&a, &url, SystemTime::now()).outcome,
        HttpOutcome::Transport
    );

    server.set(Behaviour::Normal);
    server.restart();
    assert_eq!(
        get(&a, &url, SystemTime::now()).outcome,
        HttpOutcome::Success
    );
    // Both requests that reached a running server were recorded; the refused one was not.
    assert_eq!(server.count(), 2);
}

#[test]
fn statuses_map_to_outcomes() {
    let cases = [
        (100, HttpOutcome::Success),
        (200, HttpOutcome::Success),
        (204, HttpOutcome::Success),
        (304, HttpOutcome::Success),
        (399, HttpOutcome::Success),
        (400, HttpOutcome::CallerError),
        (401, HttpOutcome::CallerError),
        (408, HttpOutcome::CallerError),
        (428, HttpOutcome::CallerError),
        (429, HttpOutcome::Throttled),
        (430, HttpOutcome::CallerError),
        (499, HttpOutcome::CallerError),
        (500, HttpOutcome::ServerError),
        (503, HttpOutcome::ServerError),
        (599, HttpOutcome::ServerError),
        (600, HttpOutcome::ServerError),
        (99, HttpOutcome::ServerError),
    ];
    for (status, outcome) in cases {
        assert_eq!(classify_status(status), outcome, "status {status}");
    }
}

#[test]
fn ureq_errors_map_to_transport_timeout_or_invalid() {
    use std::io::{Error as IoError, ErrorKind};
    use ureq::Error as E;
    let cases: Vec<(E, HttpOutcome)> = vec![
        (E::Timeout(ureq::Timeout::Global), HttpOutcome::Timeout),
        (E::Timeout(ureq::Timeout::Connect), HttpOutcome::Timeout),
        (
            E::Timeout(ureq::Timeout::RecvResponse),
            HttpOutcome::Timeout,
        ),
        (E::Timeout(ureq::Timeout::RecvBody), HttpOutcome::Timeout),
        (E::Io(ErrorKind::TimedOut.into()), HttpOutcome::Timeout),
        (E::Io(ErrorKind::WouldBlock.into()), HttpOutcome::Timeout),
        (
            E::Io(ErrorKind::ConnectionRefused.into()),
            HttpOutcome::Transport,
        ),
        (
            E::Io(ErrorKind::ConnectionReset.into()),
            HttpOutcome::Transport,
        ),
        (
            E::Io(ErrorKind::UnexpectedEof.into()),
            HttpOutcome::Transport,
        ),
        (E::Io(ErrorKind::BrokenPipe.into()), HttpOutcome::Transport),
        (E::HostNotFound, HttpOutcome::Transport),
        (E::ConnectionFailed, HttpOutcome::Transport),
        (E::TooManyRedirects, HttpOutcome::Transport),
        (E::Tls("handshake"), HttpOutcome::Transport),
        (E::LargeResponseHeader(10, 5), HttpOutcome::Transport),
        (E::ConnectProxyFailed("no".into()), HttpOutcome::Transport),
        (
            E::Other(Box::new(IoError::from(ErrorKind::TimedOut))),
            HttpOutcome::Timeout,
        ),
        (E::Other("custom".into()), HttpOutcome::Transport),
        (E::BadUri("x".into()), HttpOutcome::Invalid),
        (E::BodyExceedsLimit(3), HttpOutcome::Invalid),
        (E::RequireHttpsOnly("http://a".into()), HttpOutcome::Invalid),
        (E::InvalidProxyUrl, HttpOutcome::Invalid),
        (E::RedirectFailed, HttpOutcome::Invalid),
    ];
    for (error, outcome) in &cases {
        let c = classify_error(error);
        assert_eq!(
            (c.outcome, c.status, c.retry_after),
            (*outcome, None, None),
            "{error}"
        );
    }
    let status = classify_error(&E::StatusCode(503));
    assert_eq!(
        (status.outcome, status.status),
        (HttpOutcome::ServerError, Some(503))
    );
    assert_eq!(HttpOutcome::Invalid.verdict(), Verdict::Ignore);
}

#[test]
fn a_refused_connection_is_a_transport_error() {
    let server = TestServer::start();
    let url = server.url();
    server.stop();
    let c = get(&agent(Duration::from_secs(10)), &url, SystemTime::now());
    assert_eq!(c.outcome, HttpOutcome::Transport);
}

#[test]
fn outcome_names_are_distinct_snake_case() {
    let all = [
        HttpOutcome::Success,
        HttpOutcome::ServerError,
        HttpOutcome::Throttled,
        HttpOutcome::CallerError,
        HttpOutcome::Transport,
        HttpOutcome::Timeout,
        HttpOutcome::Invalid,
    ];
    let names: Vec<_> = all.iter().map(|o| o.name()).collect();
    assert_eq!(
        names,
        [
            "success",
            "server_error",
            "throttled",
            "caller_error",
            "transport",
            "timeout",
            "invalid"
        ]
    );
    let failures: Vec<_> = all.iter().map(|o| o.is_failure()).collect();
    assert_eq!(failures, [false, true, true, false, true, true, false]);
}
