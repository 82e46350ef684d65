//! Shared policies in a registry's exports: the Prometheus text and the health report
//! (`breakwater::exposition`), against a real redis-server and an unreachable one.
#![cfg(feature = "redis")]

mod redis_support;

use std::time::Duration;

use breakwater::exposition::{health_report, prometheus};
use breakwater::redis::{RedisOptions, SharedPolicies};
use breakwater::{BreakerConfig, Registry, TripPolicy};
use redis_support::{eventually, server};

fn spec(url: &str) -> SharedPolicies {
    SharedPolicies {
        breaker: BreakerConfig {
            policy: TripPolicy::ConsecutiveFailures { threshold: 2 },
            ..BreakerConfig::default()
        },
        redis: RedisOptions {
            url: url.to_owned(),
            key_prefix: format!("export{}", std::process::id()),
            op_timeout: Duration::from_millis(500),
            ..RedisOptions::default()
        },
        ..SharedPolicies::default()
    }
}

/// The line of `family` whose labels contain every one of `labels`.
fn value(text: &str, family: &str, labels: &[&str]) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find(|l| {
            l.split(['{', ' ']).next() == Some(family) && labels.iter().all(|x| l.contains(x))
        })
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[test]
fn a_shared_breaker_is_in_the_prometheus_text_with_the_local_families_and_its_redis_counters() {
    let Some(redis) = server() else { return };
    let registry = Registry::new();
    let local = registry.breaker("authors").unwrap();
    let shared = registry
        .shared_breaker("authors", &spec(&redis.url()))
        .unwrap();
    let limiter = registry
        .shared_rate_limiter("payments", &spec(&redis.url()))
        .unwrap();
    local.call(|| Ok::<_, ()>(())).unwrap();
    for _ in 0..2 {
        let _ = shared.call(|| Err::<(), _>("down"));
    }
    shared.flush().unwrap();
    assert!(eventually(Duration::from_secs(10), || shared.state()
        == breakwater::State::Open));
    assert!(shared.call(|| Ok::<_, ()>(())).is_err());
    limiter.try_acquire().unwrap();

    let text = prometheus(&registry);
    // One family, two series: the local breaker and the shared one, told apart by `shared`.
    assert_eq!(
        text.matches("# TYPE breakwater_breaker_state gauge")
            .count(),
        1,
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            "breakwater_breaker_state",
            &["breaker=\"authors\"", "shared=\"redis\""]
        ),
        Some(1.0),
        "{text}"
    );
    assert!(
        text.contains(
            "breakwater_breaker_state{breaker=\"authors\",service=\"\",instance=\"\"} 0\n"
        ),
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            "breakwater_breaker_failures_total",
            &["shared=\"redis\""]
        ),
        Some(2.0)
    );
    assert_eq!(
        value(
            &text,
            "breakwater_breaker_rejected_total",
            &["shared=\"redis\"", "reason=\"open\""]
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            "breakwater_breaker_opened_total",
            &["shared=\"redis\""]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &text,
            "breakwater_redis_degraded",
            &["policy=\"breaker\"", "name=\"authors\""]
        ),
        Some(0.0)
    );
    assert!(
        value(
            &text,
            "breakwater_redis_commands_total",
            &["policy=\"breaker\""]
        )
        .unwrap()
            >= 2.0,
        "{text}"
    );
    // The trip started a new generation (whose fleet counts start at zero).
    assert_eq!(
        value(&text, "breakwater_redis_generation", &["name=\"authors\""]),
        Some(shared.generation() as f64)
    );
    assert_eq!(
        value(
            &text,
            "breakwater_redis_fleet_failures",
            &["name=\"authors\""]
        ),
        Some(0.0)
    );
    assert_eq!(
        value(
            &text,
            "breakwater_rate_limiter_permitted_total",
            &["limiter=\"payments\"", "shared=\"redis\""]
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            "breakwater_redis_degraded",
            &["policy=\"rate_limiter\"", "name=\"payments\""]
        ),
        Some(0.0)
    );

    // Health: the open shared breaker is down, Redis healthy.
    let health = health_report(&registry);
    assert!(
        health.contains(
            r#""redis_breaker:authors":{"status":"DOWN","details":{"state":"open","redis":"healthy""#
        ),
        "{health}"
    );
    assert!(
        health
            .contains(r#""redis_limiter:payments":{"status":"UP","details":{"redis":"healthy"}}"#),
        "{health}"
    );
    assert!(health.contains(r#""authors":{"status":"UP""#), "{health}");
}

#[test]
fn an_unreachable_redis_reads_degraded_in_both_exports() {
    let registry = Registry::new();
    let spec = spec("redis://127.0.0.1:1/");
    let b = registry.shared_breaker("authors", &spec).unwrap();
    registry.shared_rate_limiter("payments", &spec).unwrap();
    b.call(|| Ok::<_, ()>(())).unwrap();

    let text = prometheus(&registry);
    assert_eq!(
        value(&text, "breakwater_redis_degraded", &["policy=\"breaker\""]),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            "breakwater_redis_degraded",
            &["policy=\"rate_limiter\""]
        ),
        Some(1.0)
    );
    assert!(
        value(
            &text,
            "breakwater_redis_errors_total",
            &["policy=\"breaker\""]
        )
        .unwrap()
            >= 1.0
    );
    // Working locally: the call was admitted and counted.
    assert_eq!(
        value(
            &text,
            "breakwater_breaker_successes_total",
            &["shared=\"redis\""]
        ),
        Some(1.0)
    );

    let health = health_report(&registry);
    assert!(health.starts_with(r#"{"status":"DEGRADED""#), "{health}");
    assert!(
        health.contains(
            r#""redis_breaker:authors":{"status":"DEGRADED","details":{"state":"closed","redis":"degraded","generation":0}}"#
        ),
        "{health}"
    );
    assert!(
        health.contains(
            r#""redis_limiter:payments":{"status":"DEGRADED","details":{"redis":"degraded"}}"#
        ),
        "{health}"
    );
}

#[test]
fn asking_the_registry_twice_exports_the_policy_once() {
    let registry = Registry::new();
    let spec = spec("redis://127.0.0.1:1/");
    registry.shared_breaker("authors", &spec).unwrap();
    registry.shared_breaker("authors", &spec).unwrap();
    let text = prometheus(&registry);
    assert_eq!(
        text.matches("breakwater_breaker_state{breaker=\"authors\"")
            .count(),
        1,
        "{text}"
    );
    assert_eq!(breakwater::redis::health_components(&registry).len(), 1);
}
