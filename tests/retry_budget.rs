//! The shared retry budget: exact arithmetic, its window, its reserve, and a simulated
//! outage in which it keeps retries to their share (sequential and on real threads).

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use breakwater::{
    Backoff, Clock, Error, ManualClock, Retry, RetryBudget, RetryBudgetConfig, RetryConfig,
};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn budget(clock: &ManualClock, percent: f64, ttl: Duration, min: u32) -> RetryBudget {
    RetryBudget::new(percent, ttl, min, Clock::from(clock)).unwrap()
}

#[test]
fn five_calls_pay_for_one_retry_at_twenty_percent() {
    let clock = ManualClock::new();
    let b = budget(&clock, 0.2, secs(10), 0);
    assert_eq!(b.balance(), 0);
    assert!(!b.try_withdraw());
    for i in 1..=4 {
        b.deposit();
        assert_eq!(b.balance(), 0, "after {i} calls");
        assert!(!b.try_withdraw());
    }
    b.deposit();
    assert_eq!(b.balance(), 1);
    assert!(b.try_withdraw());
    assert_eq!(b.balance(), 0);
    assert!(!b.try_withdraw());
    for _ in 0..12 {
        b.deposit();
    }
    assert_eq!(b.balance(), 2);
}

#[test]
fn percent_one_allows_one_retry_per_call_and_zero_allows_only_the_reserve() {
    let clock = ManualClock::new();
    let b = budget(&clock, 1.0, secs(1), 0);
    b.deposit();
    b.deposit();
    assert_eq!(b.balance(), 2);
    let b = budget(&clock, 0.0, secs(2), 3);
    assert_eq!(b.balance(), 6);
    for _ in 0..100 {
        b.deposit();
    }
    assert_eq!(b.balance(), 6, "calls add nothing at 0%");
    for _ in 0..6 {
        assert!(b.try_withdraw());
    }
    assert!(!b.try_withdraw());
}

#[test]
fn deposits_count_for_the_ttl_and_leave_at_most_one_bucket_late() {
    // ttl 10 s in 1 s buckets.
    let clock = ManualClock::new();
    let b = budget(&clock, 0.5, secs(10), 0);
    clock.advance(ms(999));
    b.deposit();
    b.deposit();
    assert_eq!(b.balance(), 1);
    clock.advance(secs(10)); // 10.999 s: 10 s old, still counted
    assert_eq!(b.balance(), 1);
    clock.advance(ms(1)); // 11.000 s: its bucket left the window
    assert_eq!(b.balance(), 0);
}

#[test]
fn withdrawals_age_out_too_so_the_reserve_refills() {
    let clock = ManualClock::new();
    let b = budget(&clock, 0.0, secs(1), 2);
    assert!(b.try_withdraw());
    assert!(b.try_withdraw());
    assert!(!b.try_withdraw());
    clock.advance(ms(1000)); // 1 s: the withdrawals (bucket 0) are still in the window
    assert!(!b.try_withdraw());
    clock.advance(ms(100)); // 1.1 s: bucket 0 left
    assert_eq!(b.balance(), 2);
}

#[test]
fn a_long_idle_gap_clears_the_whole_window() {
    let clock = ManualClock::new();
    let b = budget(&clock, 1.0, secs(10), 0);
    for _ in 0..50 {
        b.deposit();
        clock.advance(ms(100));
    }
    assert_eq!(b.balance(), 50);
    clock.advance(Duration::from_secs(3600));
    assert_eq!(b.balance(), 0);
    b.deposit();
    assert_eq!(b.balance(), 1);
}

#[test]
fn default_budget_is_twenty_percent_over_ten_seconds_plus_ten_per_second() {
    let clock = ManualClock::new();
    let b = RetryBudget::from_config(&RetryBudgetConfig::default(), Clock::from(&clock)).unwrap();
    assert_eq!(b.balance(), 100);
    for _ in 0..50 {
        b.deposit();
    }
    assert_eq!(b.balance(), 110);
}

/// 1000 calls of a dependency that is down, each allowed 3 attempts.
fn outage(retry: &Retry) -> (u32, u32) {
    let mut attempts = 0;
    let mut calls = 0;
    for _ in 0..1000 {
        calls += 1;
        let err = retry
            .call(|_| Err::<(), _>(Error::failed("down")))
            .unwrap_err();
        attempts += err.attempts();
    }
    (calls, attempts - calls)
}

#[test]
fn in_an_outage_retries_stay_within_their_share() {
    let clock = ManualClock::new();
    let b = budget(&clock, 0.2, secs(10), 0);
    let retry = Retry::builder()
        .max_attempts(3)
        .backoff(Backoff::Fixed(Duration::ZERO))
        .budget(b.clone())
        .clock(clock.clone().into())
        .build()
        .unwrap();
    let (calls, retries) = outage(&retry);
    assert_eq!(calls, 1000);
    assert_eq!(retries, 200, "20% of 1000 calls");
    assert_eq!(b.balance(), 0);
}

#[test]
fn in_an_outage_the_reserve_adds_min_retries_per_sec_times_ttl() {
    let clock = ManualClock::new();
    let b = budget(&clock, 0.2, secs(10), 1);
    let retry = Retry::builder()
        .max_attempts(3)
        .backoff(Backoff::Fixed(Duration::ZERO))
        .budget(b)
        .clock(clock.clone().into())
        .build()
        .unwrap();
    assert_eq!(outage(&retry).1, 210, "200 + 1/s over 10 s");
}

#[test]
fn in_an_outage_spread_over_time_the_window_bounds_retries() {
    // 1000 calls, one every 100 ms (100 s in all), in a 10 s window: each call
    // deposits, and at 20% every fifth call may retry once, however long it runs.
    let clock = ManualClock::new();
    let b = budget(&clock, 0.2, secs(10), 0);
    let retry = Retry::builder()
        .max_attempts(5)
        .backoff(Backoff::Fixed(Duration::ZERO))
        .budget(b)
        .clock(clock.clone().into())
        .build()
        .unwrap();
    let mut retries = 0;
    for _ in 0..1000 {
        retries += retry
            .call(|_| Err::<(), _>(Error::failed("down")))
            .unwrap_err()
            .attempts()
            - 1;
        clock.advance(ms(100));
    }
    assert_eq!(retries, 200);
}

#[test]
fn in_an_outage_on_threads_the_shared_budget_grants_exactly_its_share() {
    let clock = ManualClock::new();
    let b = budget(&clock, 0.2, secs(10), 0);
    let retry = Retry::builder()
        .max_attempts(3)
        .backoff(Backoff::Fixed(Duration::ZERO))
        .budget(b.clone())
        .clock(clock.clone().into())
        .build()
        .unwrap();
    let attempts = AtomicU32::new(0);
    std::thread::scope(|s| {
        for _ in 0..4 {
            let retry = retry.clone();
            let attempts = &attempts;
            s.spawn(move || {
                for _ in 0..250 {
                    let err = retry
                        .call(|_| Err::<(), _>(Error::failed("down")))
                        .unwrap_err();
                    attempts.fetch_add(err.attempts(), Ordering::Relaxed);
                }
            });
        }
    });
    // Every call deposits before it asks for its retry, so the last request sees all
    // 1000 deposits: exactly 1000 / 5 retries, never more.
    assert_eq!(attempts.load(Ordering::Relaxed), 1200);
    assert_eq!(b.balance(), 0);
}

#[test]
fn a_budget_from_the_configuration_is_shared_by_clones_of_the_retry() {
    let mut config = RetryConfig::default();
    config.backoff = Backoff::Fixed(Duration::ZERO);
    let mut bc = RetryBudgetConfig::default();
    bc.percent = 1.0;
    bc.min_retries_per_sec = 0;
    config.budget = Some(bc);
    let clock = ManualClock::new();
    let retry = breakwater::RetryBuilder::from_config(config.clone())
        .clock(clock.clone().into())
        .build()
        .unwrap();
    let clone = retry.clone();
    drop(retry.begin());
    drop(clone.begin());
    assert_eq!(retry.budget().unwrap().balance(), 2);
    assert_eq!(retry.config().budget, Some(bc));
    // A separately built retry gets its own budget.
    let other = breakwater::RetryBuilder::from_config(config)
        .clock(clock.into())
        .build()
        .unwrap();
    assert_eq!(other.budget().unwrap().balance(), 0);
}

#[test]
fn no_budget_means_unlimited_retries() {
    let clock = ManualClock::new();
    let retry = Retry::builder()
        .max_attempts(3)
        .backoff(Backoff::Fixed(Duration::ZERO))
        .clock(clock.into())
        .build()
        .unwrap();
    assert!(retry.budget().is_none());
    assert_eq!(outage(&retry).1, 2000);
}
