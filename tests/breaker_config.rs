//! Configuration: defaults, builder shorthands, every refused configuration with the
//! field it names, and the registry.

use std::time::Duration;

use breakwater::{
    BREAKER_DEFAULT_MINIMUM_CALLS, BREAKER_DEFAULT_RATE_WINDOW, BREAKER_MAX_COUNT_WINDOW,
    BREAKER_MAX_DURATION,
};
use breakwater::{
    BreakerConfig, CircuitBreaker, PolicyKind, Registry, SlowCalls, TripPolicy, Window,
};

const SEC: Duration = Duration::from_secs(1);

#[test]
fn defaults_are_the_documented_ones() {
    let c = BreakerConfig::default();
    assert_eq!(c.name, "default");
    assert_eq!(c.policy, TripPolicy::ConsecutiveFailures { threshold: 5 });
    assert_eq!(c.open_duration, Duration::from_secs(60));
    assert_eq!(c.open_duration_multiplier, 1.0);
    assert_eq!(c.open_duration_cap, None);
    assert_eq!(c.half_open_max_calls, 1);
    assert_eq!(c.success_threshold, None);
    assert_eq!(c.effective_success_threshold(), 1);
    assert_eq!(c.half_open_max_wait, None);
    assert_eq!(c.effective_half_open_max_wait(), Duration::from_secs(60));
    let b = CircuitBreaker::builder().build().unwrap();
    assert_eq!(b.config(), &c);
}

#[test]
fn builder_shorthands_build_the_policies() {
    let cfg = |b: breakwater::BreakerBuilder| b.to_config().unwrap().policy;
    assert_eq!(
        cfg(CircuitBreaker::builder().consecutive_failures(3)),
        TripPolicy::ConsecutiveFailures { threshold: 3 }
    );
    assert_eq!(
        cfg(CircuitBreaker::builder().failures_in_window(4, SEC)),
        TripPolicy::FailuresInWindow {
            threshold: 4,
            window: SEC
        }
    );
    assert_eq!(
        cfg(CircuitBreaker::builder().failure_rate(0.5, Window::Time(SEC), 7)),
        TripPolicy::FailureRate {
            threshold: 0.5,
            window: Window::Time(SEC),
            minimum_calls: 7,
            slow: None
        }
    );
    let slow = SlowCalls {
        threshold: 0.9,
        slow_duration: SEC,
    };
    // Alone: a slow-call rate policy over the default window.
    assert_eq!(
        cfg(CircuitBreaker::builder().slow_call_rate(0.9, SEC)),
        TripPolicy::SlowCallRate {
            slow,
            window: BREAKER_DEFAULT_RATE_WINDOW,
            minimum_calls: BREAKER_DEFAULT_MINIMUM_CALLS
        }
    );
    // Added to a failure rate, in either order.
    let combined = TripPolicy::FailureRate {
        threshold: 0.5,
        window: Window::Count(10),
        minimum_calls: 5,
        slow: Some(slow),
    };
    assert_eq!(
        cfg(CircuitBreaker::builder()
            .failure_rate(0.5, Window::Count(10), 5)
            .slow_call_rate(0.9, SEC)),
        combined
    );
    assert_eq!(
        cfg(CircuitBreaker::builder()
            .slow_call_rate(0.9, SEC)
            .failure_rate(0.5, Window::Count(10), 5)),
        combined
    );
    // With a count policy: refused.
    let e = CircuitBreaker::builder()
        .consecutive_failures(3)
        .slow_call_rate(0.9, SEC)
        .build()
        .unwrap_err();
    assert_eq!(e.field, "consecutive_failures");
    assert!(
        e.to_string().contains(
            "consecutive_failures and slow_call_rate are both set: a breaker has one trip policy"
        ),
        "{e}"
    );
    assert_eq!(e.policy, PolicyKind::CircuitBreaker);
}

fn refused(config: BreakerConfig) -> &'static str {
    let e = CircuitBreaker::from_config(config.clone()).unwrap_err();
    assert_eq!(e.policy, PolicyKind::CircuitBreaker);
    assert_eq!(config.validate().unwrap_err(), e);
    assert!(
        e.to_string().contains(e.field),
        "the message names the field: {e}"
    );
    e.field
}

fn with_policy(policy: TripPolicy) -> BreakerConfig {
    BreakerConfig {
        policy,
        ..BreakerConfig::default()
    }
}

fn rate(threshold: f64, window: Window, minimum_calls: u32) -> BreakerConfig {
    with_policy(TripPolicy::FailureRate {
        threshold,
        window,
        minimum_calls,
        slow: None,
    })
}

#[test]
fn every_invalid_configuration_names_its_field() {
    let d = BreakerConfig::default;
    assert_eq!(
        refused(BreakerConfig {
            name: String::new(),
            ..d()
        }),
        "name"
    );
    // Zero thresholds and sizes.
    assert_eq!(
        refused(with_policy(TripPolicy::ConsecutiveFailures {
            threshold: 0
        })),
        "consecutive_failures"
    );
    assert_eq!(
        refused(with_policy(TripPolicy::FailuresInWindow {
            threshold: 0,
            window: SEC
        })),
        "failures_in_window.threshold"
    );
    assert_eq!(
        refused(with_policy(TripPolicy::FailuresInWindow {
            threshold: 1,
            window: Duration::ZERO
        })),
        "failures_in_window.window_ms"
    );
    // Rates outside (0, 1], NaN, infinite.
    for bad in [0.0, -0.1, 1.01, f64::NAN, f64::INFINITY] {
        assert_eq!(
            refused(rate(bad, Window::Count(10), 5)),
            "failure_rate.threshold",
            "{bad}"
        );
    }
    assert!(rate(1.0, Window::Count(10), 5).validate().is_ok());
    // Windows.
    assert_eq!(
        refused(rate(0.5, Window::Count(0), 1)),
        "failure_rate.window"
    );
    assert_eq!(
        refused(rate(0.5, Window::Count(BREAKER_MAX_COUNT_WINDOW + 1), 1)),
        "failure_rate.window"
    );
    assert_eq!(
        refused(rate(0.5, Window::Time(Duration::ZERO), 1)),
        "failure_rate.window"
    );
    assert_eq!(
        refused(rate(0.5, Window::Time(Duration::MAX), 1)),
        "failure_rate.window"
    );
    // Minimum calls: zero, or more than a count window holds.
    assert_eq!(
        refused(rate(0.5, Window::Count(10), 0)),
        "failure_rate.minimum_calls"
    );
    assert_eq!(
        refused(rate(0.5, Window::Count(10), 11)),
        "failure_rate.minimum_calls"
    );
    assert!(rate(0.5, Window::Time(SEC), 1000).validate().is_ok());
    // Slow calls.
    let slow = |threshold: f64, slow_duration: Duration| {
        with_policy(TripPolicy::SlowCallRate {
            slow: SlowCalls {
                threshold,
                slow_duration,
            },
            window: Window::Count(10),
            minimum_calls: 10,
        })
    };
    assert_eq!(refused(slow(f64::NAN, SEC)), "slow_call_rate.threshold");
    assert_eq!(refused(slow(0.0, SEC)), "slow_call_rate.threshold");
    assert_eq!(
        refused(slow(0.5, Duration::ZERO)),
        "slow_call_rate.slow_duration_ms"
    );
    assert_eq!(
        refused(slow(0.5, Duration::MAX)),
        "slow_call_rate.slow_duration_ms"
    );
    assert_eq!(
        refused(with_policy(TripPolicy::FailureRate {
            threshold: 0.5,
            window: Window::Count(10),
            minimum_calls: 10,
            slow: Some(SlowCalls {
                threshold: 2.0,
                slow_duration: SEC
            }),
        })),
        "failure_rate.slow.threshold"
    );
    // Durations: zero where meaningless, overflowing.
    assert_eq!(
        refused(BreakerConfig {
            open_duration: Duration::ZERO,
            ..d()
        }),
        "open_duration_ms"
    );
    assert_eq!(
        refused(BreakerConfig {
            open_duration: Duration::MAX,
            ..d()
        }),
        "open_duration_ms"
    );
    assert!(
        BreakerConfig {
            open_duration: BREAKER_MAX_DURATION,
            ..d()
        }
        .validate()
        .is_ok()
    );
    // Growth.
    for bad in [0.5, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        assert_eq!(
            refused(BreakerConfig {
                open_duration_multiplier: bad,
                ..d()
            }),
            "open_duration_multiplier",
            "{bad}"
        );
    }
    assert_eq!(
        refused(BreakerConfig {
            open_duration_cap: Some(Duration::from_secs(59)),
            ..d()
        }),
        "open_duration_cap_ms"
    );
    assert_eq!(
        refused(BreakerConfig {
            open_duration_multiplier: 2.0,
            open_duration_cap: Some(Duration::MAX),
            ..d()
        }),
        "open_duration_cap_ms"
    );
    // Half-open.
    assert_eq!(
        refused(BreakerConfig {
            half_open_max_calls: 0,
            ..d()
        }),
        "half_open_max_calls"
    );
    assert_eq!(
        refused(BreakerConfig {
            success_threshold: Some(0),
            ..d()
        }),
        "success_threshold"
    );
    assert_eq!(
        refused(BreakerConfig {
            half_open_max_calls: 2,
            success_threshold: Some(3),
            ..d()
        }),
        "success_threshold"
    );
    assert_eq!(
        refused(BreakerConfig {
            success_threshold: Some(1),
            ..rate(0.5, Window::Count(10), 5)
        }),
        "success_threshold"
    );
    assert_eq!(
        refused(BreakerConfig {
            half_open_max_wait: Some(Duration::ZERO),
            ..d()
        }),
        "half_open_max_wait_ms"
    );
    assert_eq!(
        refused(BreakerConfig {
            half_open_max_wait: Some(Duration::MAX),
            ..d()
        }),
        "half_open_max_wait_ms"
    );
}

#[test]
fn builder_setters_are_validated_too() {
    let field = |b: breakwater::BreakerBuilder| b.build().unwrap_err().field;
    assert_eq!(field(CircuitBreaker::builder().name("")), "name");
    assert_eq!(
        field(CircuitBreaker::builder().open_duration_growth(0.9, Duration::from_secs(120))),
        "open_duration_multiplier"
    );
    assert_eq!(
        field(CircuitBreaker::builder().open_duration_growth(2.0, SEC)),
        "open_duration_cap_ms"
    );
    assert_eq!(
        field(CircuitBreaker::builder().half_open_max_calls(0)),
        "half_open_max_calls"
    );
    assert_eq!(
        field(CircuitBreaker::builder().failure_rate(0.5, Window::Count(3), 4)),
        "failure_rate.minimum_calls"
    );
}

#[test]
fn open_duration_growth_saturates_at_the_cap() {
    let c = BreakerConfig {
        open_duration: SEC,
        open_duration_multiplier: 10.0,
        open_duration_cap: Some(Duration::from_secs(3600)),
        ..BreakerConfig::default()
    };
    assert_eq!(c.open_duration_for(0), SEC);
    assert_eq!(c.open_duration_for(3), Duration::from_secs(1000));
    assert_eq!(c.open_duration_for(4), Duration::from_secs(3600));
    assert_eq!(c.open_duration_for(u32::MAX), Duration::from_secs(3600));
    let uncapped = BreakerConfig {
        open_duration_multiplier: 2.0,
        ..BreakerConfig::default()
    };
    assert_eq!(uncapped.open_duration_for(u32::MAX), BREAKER_MAX_DURATION);
}

#[test]
fn registry_returns_the_same_instance_and_refuses_a_different_config() {
    let registry = Registry::new();
    let a = registry.breaker("authors").unwrap();
    let b = registry.breaker("authors").unwrap();
    assert!(a.ptr_eq(&b));
    assert_eq!(a.name(), "authors");
    // The same configuration given explicitly: the same instance.
    let same = BreakerConfig {
        name: "ignored, the registry name wins".into(),
        ..BreakerConfig::default()
    };
    assert!(registry.breaker_with("authors", same).unwrap().ptr_eq(&a));
    // A different explicit configuration: refused, naming `name`.
    let other = with_policy(TripPolicy::ConsecutiveFailures { threshold: 3 });
    let e = registry.breaker_with("authors", other.clone()).unwrap_err();
    assert_eq!(e.field, "name");
    // State is shared through the registry.
    a.force_open();
    assert_eq!(b.state(), breakwater::State::ForcedOpen);
    // Another name gets its own breaker; an invalid config is refused.
    let c = registry.breaker_with("presentations", other).unwrap();
    assert!(!c.ptr_eq(&a));
    assert_eq!(
        registry
            .breaker_with(
                "bad",
                with_policy(TripPolicy::ConsecutiveFailures { threshold: 0 })
            )
            .unwrap_err()
            .field,
        "consecutive_failures"
    );
    assert_eq!(registry.names(), vec!["authors", "presentations"]);
}

#[test]
fn registry_uses_its_default_configuration() {
    let registry = Registry::new();
    registry.set_default(BreakerConfig {
        policy: TripPolicy::ConsecutiveFailures { threshold: 3 },
        open_duration: Duration::from_secs(30),
        ..BreakerConfig::default()
    });
    let a = registry.breaker("critical").unwrap();
    assert_eq!(
        a.config().policy,
        TripPolicy::ConsecutiveFailures { threshold: 3 }
    );
    assert_eq!(a.name(), "critical");
    // Asking with the default's values explicitly is the same configuration.
    let explicit = BreakerConfig {
        policy: TripPolicy::ConsecutiveFailures { threshold: 3 },
        open_duration: Duration::from_secs(30),
        ..BreakerConfig::default()
    };
    assert!(
        registry
            .breaker_with("critical", explicit)
            .unwrap()
            .ptr_eq(&a)
    );
    // An invalid default is refused when a breaker is built from it.
    registry.set_default(BreakerConfig {
        half_open_max_calls: 0,
        ..BreakerConfig::default()
    });
    assert_eq!(
        registry.breaker("other").unwrap_err().field,
        "half_open_max_calls"
    );
}
