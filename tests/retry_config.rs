//! Bad configurations are refused with a `ConfigError` naming the field; good edge
//! values are accepted.

use std::time::Duration;

use breakwater::{
    Backoff, Clock, ConfigError, Jitter, PolicyKind, Registry, Retry, RetryBudget,
    RetryBudgetConfig, RetryBuilder, RetryConfig,
};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn field(b: RetryBuilder) -> &'static str {
    let e: ConfigError = b.build().unwrap_err();
    assert_eq!(e.policy, PolicyKind::Retry);
    e.field
}

fn exp(multiplier: f64) -> Backoff {
    Backoff::Exponential {
        initial: ms(100),
        multiplier,
    }
}

#[test]
fn zero_attempts_is_refused() {
    let e = Retry::builder().max_attempts(0).build().unwrap_err();
    assert_eq!(e.field, "max_attempts");
    assert_eq!(
        e.to_string(),
        "invalid retry configuration: max_attempts must be at least 1"
    );
}

#[test]
fn bad_multipliers_are_refused() {
    for m in [
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        -2.0,
        0.0,
        0.5,
        0.999,
    ] {
        assert_eq!(field(Retry::builder().backoff(exp(m))), "multiplier", "{m}");
    }
    assert!(Retry::builder().backoff(exp(1.0)).build().is_ok());
}

#[test]
fn a_cap_below_the_initial_delay_is_refused() {
    for backoff in [
        Backoff::Fixed(ms(200)),
        Backoff::Linear {
            initial: ms(200),
            step: ms(1),
        },
        Backoff::Exponential {
            initial: ms(200),
            multiplier: 2.0,
        },
    ] {
        assert_eq!(
            field(Retry::builder().backoff(backoff).max_delay(ms(199))),
            "max_delay"
        );
        assert!(
            Retry::builder()
                .backoff(backoff)
                .max_delay(ms(200))
                .build()
                .is_ok()
        );
    }
}

#[test]
fn proportional_jitter_outside_zero_and_one_is_refused() {
    for f in [-0.1, 1.01, f64::NAN, f64::INFINITY] {
        assert_eq!(
            field(Retry::builder().jitter(Jitter::Proportional(f))),
            "jitter",
            "{f}"
        );
    }
    for f in [0.0, 0.1, 0.5, 1.0] {
        assert!(
            Retry::builder()
                .jitter(Jitter::Proportional(f))
                .build()
                .is_ok()
        );
    }
}

#[test]
fn a_floor_above_the_cap_is_refused() {
    assert_eq!(
        field(
            Retry::builder()
                .backoff(Backoff::Fixed(ms(10)))
                .max_delay(ms(100))
                .min_delay(ms(101))
        ),
        "min_delay"
    );
}

#[test]
fn durations_that_overflow_are_refused_by_name() {
    let huge = Duration::MAX;
    assert_eq!(
        field(Retry::builder().backoff(Backoff::Fixed(huge))),
        "initial"
    );
    assert_eq!(
        field(Retry::builder().backoff(Backoff::Exponential {
            initial: huge,
            multiplier: 2.0
        })),
        "initial"
    );
    assert_eq!(
        field(Retry::builder().backoff(Backoff::Linear {
            initial: ms(1),
            step: huge
        })),
        "step"
    );
    assert_eq!(field(Retry::builder().max_delay(huge)), "max_delay");
    assert_eq!(field(Retry::builder().min_delay(huge)), "min_delay");
    assert_eq!(field(Retry::builder().max_elapsed(huge)), "max_elapsed");
    // The largest representable value is fine.
    let max = Duration::from_nanos(u64::MAX);
    assert!(
        Retry::builder()
            .max_delay(max)
            .max_elapsed(max)
            .build()
            .is_ok()
    );
}

#[test]
fn a_zero_time_budget_is_refused() {
    assert_eq!(
        field(Retry::builder().max_elapsed(Duration::ZERO)),
        "max_elapsed"
    );
}

#[test]
fn bad_budgets_are_refused() {
    let ttl = Duration::from_secs(10);
    for p in [-0.01, 1.01, f64::NAN, f64::INFINITY] {
        let e = RetryBudget::new(p, ttl, 0, Clock::monotonic()).unwrap_err();
        assert_eq!((e.policy, e.field), (PolicyKind::Retry, "percent"), "{p}");
    }
    let e = RetryBudget::new(0.2, Duration::ZERO, 0, Clock::monotonic()).unwrap_err();
    assert_eq!(e.field, "ttl");
    let e = RetryBudget::new(0.2, Duration::MAX, 0, Clock::monotonic()).unwrap_err();
    assert_eq!(e.field, "ttl");
    for p in [0.0, 1.0, 1e-300] {
        assert!(RetryBudget::new(p, ttl, u32::MAX, Clock::monotonic()).is_ok());
    }
    // Through the retry's configuration too.
    let mut config = RetryConfig::default();
    let mut bc = RetryBudgetConfig::default();
    bc.percent = 2.0;
    config.budget = Some(bc);
    assert_eq!(Retry::from_config(&config).unwrap_err().field, "percent");
}

#[test]
fn a_tiny_percent_and_a_huge_reserve_do_not_overflow() {
    let b = RetryBudget::new(
        1e-300,
        Duration::from_secs(10),
        u32::MAX,
        Clock::monotonic(),
    )
    .unwrap();
    assert!(b.balance() >= 1);
    for _ in 0..1000 {
        b.deposit();
    }
    assert!(b.try_withdraw());
}

#[test]
fn the_default_configuration_builds_and_round_trips() {
    let retry = Retry::builder().build().unwrap();
    assert_eq!(retry.config(), &RetryConfig::default());
    let config = RetryConfig::default();
    assert_eq!(config.max_attempts, 3);
    assert_eq!(
        config.backoff,
        Backoff::Exponential {
            initial: ms(500),
            multiplier: 2.0
        }
    );
    assert_eq!(config.max_delay, None);
    assert_eq!(config.min_delay, Duration::ZERO);
    assert_eq!(config.jitter, Jitter::None);
    assert_eq!(config.max_elapsed, None);
    assert_eq!(config.budget, None);
    assert_eq!(config.seed, None);
}

#[test]
fn the_registry_returns_one_retry_per_name_and_refuses_a_different_configuration() {
    let registry = Registry::new();
    let mut config = RetryConfig::default();
    config.max_attempts = 5;
    let a = registry.retry("authors", Some(config.clone())).unwrap();
    let b = registry.retry("authors", None).unwrap();
    assert_eq!(a.name(), "authors");
    assert_eq!(b.config().max_attempts, 5);
    config.max_attempts = 6;
    let e = registry.retry("authors", Some(config)).unwrap_err();
    assert_eq!(e.field, "name");
    let mut bad = RetryConfig::default();
    bad.max_attempts = 0;
    assert_eq!(
        registry.retry("other", Some(bad)).unwrap_err().field,
        "max_attempts"
    );
}
