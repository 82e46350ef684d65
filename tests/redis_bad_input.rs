//! Bad input against a real server: wrong URLs, authentication failures, keys of another
//! type, scripts flushed from under the policy.
#![cfg(feature = "redis")]

mod redis_support;

use std::time::Duration;

use breakwater::redis::{Health, SharedBreaker, SharedError, SharedRateLimiter};
use breakwater::{State, Window};
use redis_support::{server, server_with};

#[test]
fn a_url_that_is_not_redis_is_refused_with_its_name() {
    for url in [
        "http://127.0.0.1:6379/",
        "",
        "redis://",
        "redis://127.0.0.1:notaport/",
    ] {
        let e = SharedBreaker::builder().url(url).build().unwrap_err();
        assert!(matches!(e, SharedError::Url { .. }), "{url:?}: {e:?}");
        assert!(e.to_string().contains("redis_url"), "{e}");
    }
    let e = SharedRateLimiter::builder()
        .url("ftp://x")
        .build()
        .unwrap_err();
    assert!(matches!(e, SharedError::Url { .. }));
}

#[test]
fn the_password_never_shows_in_a_url_error() {
    let e = SharedBreaker::builder()
        .url("redis://user:hunter2@127.0.0.1:notaport/")
        .build()
        .unwrap_err();
    assert!(!e.to_string().contains("hunter2"), "{e}");
}

#[test]
fn an_unreachable_server_starts_degraded_not_failed() {
    let b = SharedBreaker::builder()
        .url("redis://127.0.0.1:1/")
        .op_timeout(Duration::from_millis(20))
        .build()
        .unwrap();
    assert_eq!(b.health(), Health::Degraded);
    assert!(b.try_acquire().unwrap().is_local());
}

#[test]
fn bad_configurations_name_their_field() {
    let field = |b: breakwater::redis::SharedBreakerBuilder| match b.build().unwrap_err() {
        SharedError::Config(c) => c.field,
        e => panic!("{e:?}"),
    };
    assert_eq!(
        field(SharedBreaker::builder().op_timeout(Duration::ZERO)),
        "op_timeout"
    );
    assert_eq!(field(SharedBreaker::builder().key_prefix("")), "key_prefix");
    assert_eq!(
        field(SharedBreaker::builder().key_prefix("a b")),
        "key_prefix"
    );
    assert_eq!(
        field(SharedBreaker::builder().poll_interval(Duration::from_secs(7200))),
        "poll_interval"
    );
    assert_eq!(
        field(SharedBreaker::builder().failure_rate(0.5, Window::Count(10), 5)),
        "failure_rate.window"
    );
    assert_eq!(
        field(SharedBreaker::builder().consecutive_failures(0)),
        "consecutive_failures"
    );
    assert_eq!(
        field(
            SharedBreaker::builder()
                .half_open_max_calls(1)
                .success_threshold(2)
        ),
        "success_threshold"
    );
    let e = SharedRateLimiter::builder()
        .rate(0, Duration::from_secs(1))
        .build()
        .unwrap_err();
    assert!(
        matches!(e, SharedError::Config(ref c) if c.field == "permits"),
        "{e:?}"
    );
}

#[test]
fn authentication_failures_are_errors_not_outages() {
    let Some(server) = server_with(&["--requirepass", "s3cret"]) else {
        return;
    };
    let port = server.port;
    let no_password = SharedBreaker::builder()
        .url(format!("redis://127.0.0.1:{port}/"))
        .build();
    assert!(
        matches!(no_password, Err(SharedError::Auth(_))),
        "{no_password:?}"
    );
    let wrong = SharedBreaker::builder()
        .url(format!("redis://:nope@127.0.0.1:{port}/"))
        .build();
    assert!(matches!(wrong, Err(SharedError::Auth(_))), "{wrong:?}");
    assert!(!wrong.unwrap_err().to_string().contains("nope"));
    let limiter = SharedRateLimiter::builder()
        .url(format!("redis://127.0.0.1:{port}/"))
        .build();
    assert!(matches!(limiter, Err(SharedError::Auth(_))), "{limiter:?}");
    let right = SharedBreaker::builder()
        .url(format!("redis://:s3cret@127.0.0.1:{port}/"))
        .build()
        .unwrap();
    assert_eq!(right.health(), Health::Healthy);
}

#[test]
fn keys_of_another_type_are_refused_by_name() {
    let Some(server) = server() else { return };
    let mut con = server.client();
    let _: () = redis::cmd("SET")
        .arg("breakwater:breaker:{taken}")
        .arg("x")
        .query(&mut con)
        .unwrap();
    let e = SharedBreaker::builder()
        .name("taken")
        .url(server.url())
        .op_timeout(Duration::from_secs(2))
        .build()
        .unwrap_err();
    match &e {
        SharedError::WrongType { key, .. } => assert_eq!(key, "breakwater:breaker:{taken}"),
        e => panic!("{e:?}"),
    }
    let _: () = redis::cmd("RPUSH")
        .arg("breakwater:limiter:{taken}")
        .arg("x")
        .query(&mut con)
        .unwrap();
    let e = SharedRateLimiter::builder()
        .name("taken")
        .url(server.url())
        .op_timeout(Duration::from_secs(2))
        .build()
        .unwrap_err();
    assert!(matches!(e, SharedError::WrongType { .. }), "{e:?}");
    assert!(e.to_string().contains("list"), "{e}");
}

#[test]
fn a_key_overwritten_at_run_time_degrades_instead_of_failing_calls() {
    let Some(server) = server() else { return };
    let b = SharedBreaker::builder()
        .name("overwritten")
        .url(server.url())
        .op_timeout(Duration::from_secs(2))
        .poll_interval(Duration::from_millis(20))
        .build()
        .unwrap();
    let mut con = server.client();
    let _: () = redis::cmd("SET")
        .arg(b.key())
        .arg("x")
        .query(&mut con)
        .unwrap();
    let _ = b.call(|| Err::<(), _>("x"));
    assert!(redis_support::eventually(Duration::from_secs(10), || b
        .health()
        == Health::Degraded));
    assert!(
        b.call(|| Ok::<_, ()>(())).is_ok(),
        "the local fallback answers"
    );
    let _: () = redis::cmd("DEL").arg(b.key()).query(&mut con).unwrap();
    assert!(redis_support::eventually(Duration::from_secs(10), || b
        .health()
        == Health::Healthy));
}

#[test]
fn scripts_flushed_from_the_server_are_loaded_again() {
    let Some(server) = server() else { return };
    let b = SharedBreaker::builder()
        .name("flushed")
        .url(server.url())
        .op_timeout(Duration::from_secs(2))
        .consecutive_failures(2)
        .build()
        .unwrap();
    let l = SharedRateLimiter::builder()
        .name("flushed")
        .url(server.url())
        .op_timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    b.call(|| Ok::<_, ()>(())).unwrap();
    b.flush().unwrap();
    l.try_acquire().unwrap();
    let mut con = server.client();
    let _: () = redis::cmd("SCRIPT").arg("FLUSH").query(&mut con).unwrap();
    for _ in 0..2 {
        let _ = b.call(|| Err::<(), _>("x"));
    }
    b.flush().unwrap();
    assert_eq!(b.state(), State::Open);
    assert_eq!(b.health(), Health::Healthy);
    assert!(b.redis_metrics().script_reloads >= 1);
    l.try_acquire().unwrap();
    assert!(l.redis_metrics().script_reloads >= 1);
}
