//! Behaviour of the GCRA rate limiter, on the manual clock only (exact values).

use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use breakwater::{
    Error, ManualClock, PolicyKind, RateLimited, RateLimiter, RateLimiterConfig, Registry,
    RejectReason,
};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn limiter(permits: u32, period: Duration, burst: u32) -> (RateLimiter, ManualClock) {
    let clock = ManualClock::new();
    let l = RateLimiter::builder()
        .rate(permits, period)
        .burst(burst)
        .clock(clock.clone())
        .build()
        .unwrap();
    (l, clock)
}

/// Steps the clock by `step` over `span` and takes every permit it can after each step:
/// the grants in the half-open window `(now, now + span]`.
fn grants_over(l: &RateLimiter, clock: &ManualClock, span: Duration, step: Duration) -> u32 {
    let mut granted = 0;
    let mut t = Duration::ZERO;
    while t < span {
        clock.advance(step);
        t += step;
        while l.try_acquire().is_ok() {
            granted += 1;
        }
    }
    granted
}

#[test]
fn burst_one_grants_exactly_n_per_period() {
    let (l, clock) = limiter(10, Duration::from_secs(1), 1);
    l.try_acquire().unwrap();
    assert!(l.try_acquire().is_err());
    for _ in 0..3 {
        assert_eq!(grants_over(&l, &clock, Duration::from_secs(1), ms(1)), 10);
    }
}

#[test]
fn steady_state_after_the_burst_is_exactly_n_per_period() {
    let (l, clock) = limiter(10, Duration::from_secs(1), 10);
    // The full bucket: ten at once, then the eleventh waits one emission interval.
    for _ in 0..10 {
        l.try_acquire().unwrap();
    }
    assert_eq!(
        l.try_acquire(),
        Err(RateLimited {
            retry_after: ms(100)
        })
    );
    // From then on, exactly ten per second.
    for _ in 0..3 {
        assert_eq!(grants_over(&l, &clock, Duration::from_secs(1), ms(5)), 10);
    }
}

#[test]
fn the_burst_refills_at_one_permit_per_interval() {
    let (l, clock) = limiter(10, Duration::from_secs(1), 5);
    for _ in 0..5 {
        l.try_acquire().unwrap();
    }
    assert_eq!(
        l.try_acquire(),
        Err(RateLimited {
            retry_after: ms(100)
        })
    );
    clock.advance(ms(250));
    assert_eq!(l.metrics().available, 2);
    l.try_acquire().unwrap();
    l.try_acquire().unwrap();
    assert_eq!(
        l.try_acquire(),
        Err(RateLimited {
            retry_after: ms(50)
        })
    );
}

#[test]
fn idle_time_never_grants_more_than_the_burst() {
    let (l, clock) = limiter(10, Duration::from_secs(1), 4);
    clock.advance(Duration::from_secs(3600));
    assert_eq!(l.metrics().available, 4);
    for _ in 0..4 {
        l.try_acquire().unwrap();
    }
    assert_eq!(
        l.try_acquire(),
        Err(RateLimited {
            retry_after: ms(100)
        })
    );
}

#[test]
fn retry_after_is_exact_to_the_nanosecond() {
    let (l, clock) = limiter(4, Duration::from_secs(1), 1);
    l.try_acquire().unwrap();
    clock.advance(ms(100));
    let r = l.try_acquire().unwrap_err();
    assert_eq!(r.retry_after, ms(150));
    clock.advance(r.retry_after - Duration::from_nanos(1));
    assert_eq!(
        l.try_acquire(),
        Err(RateLimited {
            retry_after: Duration::from_nanos(1)
        })
    );
    clock.advance(Duration::from_nanos(1));
    assert_eq!(l.try_acquire(), Ok(()));
}

#[test]
fn a_rejection_takes_nothing() {
    let (l, clock) = limiter(10, Duration::from_secs(1), 2);
    l.try_acquire_n(2).unwrap();
    for _ in 0..100 {
        assert_eq!(
            l.try_acquire(),
            Err(RateLimited {
                retry_after: ms(100)
            })
        );
    }
    clock.advance(ms(100));
    assert_eq!(l.try_acquire(), Ok(()));
}

#[test]
fn try_acquire_n_takes_all_or_nothing() {
    let (l, clock) = limiter(10, Duration::from_secs(1), 5);
    assert_eq!(l.try_acquire_n(0), Ok(()));
    l.try_acquire_n(3).unwrap();
    // Three more need one more interval than the two left.
    assert_eq!(
        l.try_acquire_n(3),
        Err(RateLimited {
            retry_after: ms(100)
        })
    );
    l.try_acquire_n(2).unwrap();
    clock.advance(ms(300));
    l.try_acquire_n(3).unwrap();
    assert_eq!(l.metrics().permitted, 3);
}

#[test]
fn more_than_the_burst_never_fits() {
    let (l, _clock) = limiter(10, Duration::from_secs(1), 5);
    let r = l.try_acquire_n(6).unwrap_err();
    assert_eq!(r.retry_after, Duration::MAX);
    assert!(r.never_fits());
    assert!(
        l.acquire_n_timeout(6, Duration::from_secs(3600))
            .unwrap_err()
            .never_fits()
    );
    // Nothing was taken.
    assert_eq!(l.metrics().available, 5);
}

#[test]
fn acquire_timeout_waits_exactly_the_wait_when_in_time() {
    let (l, clock) = limiter(1, Duration::from_secs(1), 1);
    // Free now: no wait, the clock does not move.
    l.acquire_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(clock.elapsed(), Duration::ZERO);
    clock.advance(ms(300));
    // Free in 700 ms, within the 700 ms allowed: waits exactly 700 ms.
    l.acquire_timeout(ms(700)).unwrap();
    assert_eq!(clock.elapsed(), Duration::from_secs(1));
    l.acquire_timeout(Duration::from_secs(1)).unwrap();
    assert_eq!(clock.elapsed(), Duration::from_secs(2));
    let m = l.metrics();
    assert_eq!((m.permitted, m.waited, m.rejected), (3, 2, 0));
}

#[test]
fn acquire_timeout_fails_at_once_when_too_late() {
    let (l, clock) = limiter(1, Duration::from_secs(1), 1);
    l.try_acquire().unwrap();
    clock.advance(ms(300));
    let r = l.acquire_timeout(ms(699)).unwrap_err();
    assert_eq!(r.retry_after, ms(700));
    assert_eq!(clock.elapsed(), ms(300)); // not moved
    // Nothing was reserved: the permit is still there at its time.
    clock.advance(ms(700));
    assert_eq!(l.try_acquire(), Ok(()));
    assert_eq!(l.metrics().rejected, 1);
}

#[test]
fn acquire_timeout_reserves_successive_permits() {
    let (l, clock) = limiter(10, Duration::from_secs(1), 1);
    l.try_acquire().unwrap();
    for k in 1..=5 {
        l.acquire_timeout(Duration::from_secs(1)).unwrap();
        assert_eq!(clock.elapsed(), ms(100 * k));
    }
}

#[test]
fn acquire_deadline_waits_until_the_permit_or_fails_at_once() {
    let (l, clock) = limiter(2, Duration::from_secs(1), 1);
    let t0 = clock.now();
    l.try_acquire().unwrap();
    // The next permit is at t0 + 500 ms.
    assert_eq!(
        l.acquire_deadline(t0 + ms(499)),
        Err(RateLimited {
            retry_after: ms(500)
        })
    );
    assert_eq!(clock.elapsed(), Duration::ZERO);
    // A deadline already past behaves like try_acquire.
    clock.advance(ms(100));
    assert_eq!(
        l.acquire_deadline(t0),
        Err(RateLimited {
            retry_after: ms(400)
        })
    );
    l.acquire_deadline(t0 + ms(500)).unwrap();
    assert_eq!(clock.elapsed(), ms(500));
}

#[test]
fn acquire_waits_as_long_as_needed() {
    let (l, clock) = limiter(1, Duration::from_secs(10), 1);
    l.acquire();
    l.acquire();
    l.acquire();
    assert_eq!(clock.elapsed(), Duration::from_secs(20));
}

#[test]
fn concurrent_waiters_reserve_distinct_permits() {
    let (l, clock) = limiter(1, Duration::from_secs(1), 1);
    l.try_acquire().unwrap();
    let barrier = Arc::new(Barrier::new(4));
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let l = l.clone();
            let b = Arc::clone(&barrier);
            thread::spawn(move || {
                b.wait();
                l.acquire_timeout(Duration::from_secs(10))
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap().unwrap();
    }
    // Four reservations at 1, 2, 3 and 4 s; each sleep moves the shared clock to its own
    // permit's time, so the clock ends at the last one.
    assert_eq!(clock.elapsed(), Duration::from_secs(4));
    let m = l.metrics();
    assert_eq!((m.permitted, m.waited, m.rejected), (5, 4, 0));
}

#[test]
fn eight_threads_at_a_frozen_clock_get_exactly_the_burst() {
    let (l, _clock) = limiter(1000, Duration::from_secs(1), 100);
    let barrier = Arc::new(Barrier::new(8));
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let l = l.clone();
            let b = Arc::clone(&barrier);
            thread::spawn(move || {
                b.wait();
                (0..2_000).filter(|_| l.try_acquire().is_ok()).count()
            })
        })
        .collect();
    let granted: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(granted, 100);
    let m = l.metrics();
    assert_eq!((m.permitted, m.rejected, m.available), (100, 15_900, 0));
}

#[test]
fn eight_threads_with_n_permits_never_overdraw() {
    let (l, _clock) = limiter(1000, Duration::from_secs(1), 100);
    let barrier = Arc::new(Barrier::new(8));
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let l = l.clone();
            let b = Arc::clone(&barrier);
            thread::spawn(move || {
                b.wait();
                let n = 1 + i % 3; // 1, 2 or 3 permits at a time
                let ok = (0..500).filter(|_| l.try_acquire_n(n).is_ok()).count();
                ok as u32 * n
            })
        })
        .collect();
    let taken: u32 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    // Every permit is taken: 1-permit threads finish off whatever is left.
    assert_eq!(taken, 100);
}

#[test]
fn rounding_never_exceeds_the_rate() {
    let (l, clock) = limiter(3, Duration::from_secs(1), 1);
    assert_eq!(l.emission_interval(), Duration::from_nanos(333_333_334));
    l.try_acquire().unwrap();
    // One every 333 333 334 ns: 29 more in (0, 10 s], where exact thirds would give 30.
    assert_eq!(grants_over(&l, &clock, Duration::from_secs(10), ms(1)), 29);
}

#[test]
fn call_runs_only_with_a_permit_and_rejects_with_retry_after() {
    let (l, clock) = limiter(5, Duration::from_secs(1), 1);
    let mut runs = 0;
    assert_eq!(
        l.call(|| {
            runs += 1;
            Ok::<_, &str>("ok")
        })
        .unwrap(),
        "ok"
    );
    let e = l
        .call(|| {
            runs += 1;
            Ok::<_, &str>("never")
        })
        .unwrap_err();
    assert!(matches!(
        e,
        Error::Rejected {
            policy: PolicyKind::RateLimiter,
            reason: RejectReason::RateLimited,
            retry_after: Some(d),
        } if d == ms(200)
    ));
    assert_eq!(runs, 1);
    clock.advance(ms(200));
    let e = l.call(|| Err::<(), _>("boom")).unwrap_err();
    assert!(matches!(
        e,
        Error::Failed {
            error: "boom",
            attempts: 1
        }
    ));
}

#[test]
fn call_waits_up_to_max_wait() {
    let clock = ManualClock::new();
    let l = RateLimiter::builder()
        .rate(10, Duration::from_secs(1))
        .burst(1)
        .max_wait(ms(50))
        .clock(clock.clone())
        .build()
        .unwrap();
    l.call(|| Ok::<_, ()>(())).unwrap();
    // The next permit is 100 ms away, beyond the 50 ms allowed: rejected at once.
    let e = l.call(|| Ok::<_, ()>(())).unwrap_err();
    assert_eq!(e.retry_after(), Some(ms(100)));
    assert_eq!(clock.elapsed(), Duration::ZERO);
    // 50 ms later it is 50 ms away: the call waits for it.
    clock.advance(ms(50));
    l.call(|| Ok::<_, ()>(())).unwrap();
    assert_eq!(clock.elapsed(), ms(100));
    let m = l.metrics();
    assert_eq!((m.permitted, m.waited, m.rejected), (2, 1, 1));
}

#[test]
fn the_rejection_converts_into_the_crate_error() {
    let e: Error<std::io::Error> = RateLimited {
        retry_after: ms(42),
    }
    .into();
    assert_eq!(e.retry_after(), Some(ms(42)));
    assert_eq!(
        e.to_string(),
        "rate limiter rejected the call: rate limited"
    );
}

#[test]
fn clones_share_the_limiter_and_it_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync + Clone + 'static>() {}
    assert_send_sync::<RateLimiter>();
    assert_send_sync::<RateLimited>();
    let (l, _clock) = limiter(10, Duration::from_secs(1), 3);
    let c = l.clone();
    l.try_acquire_n(3).unwrap();
    assert!(c.try_acquire().is_err());
    assert_eq!(c.metrics().permitted, 1);
}

#[test]
fn invalid_configurations_name_their_field() {
    let field = |b: breakwater::RateLimiterBuilder| b.build().unwrap_err().field;
    let b = RateLimiter::builder;
    assert_eq!(field(b().permits(0)), "permits");
    assert_eq!(field(b().period(Duration::ZERO)), "period");
    assert_eq!(field(b().burst(0)), "burst");
    assert_eq!(field(b().period(Duration::MAX)), "period");
    assert_eq!(
        field(b().permits(1_000_001).period(ms(1))),
        "permits",
        "more than one permit per nanosecond"
    );
    assert_eq!(
        field(
            b().permits(1)
                .period(Duration::from_secs(10))
                .burst(u32::MAX)
        ),
        "burst"
    );
    assert_eq!(field(b().max_wait(Duration::MAX)), "max_wait");
    // The edges that are fine.
    assert!(b().permits(1_000_000).period(ms(1)).build().is_ok());
    assert!(b().permits(1).period(ms(1)).burst(u32::MAX).build().is_ok());
}

#[test]
fn the_registry_shares_limiters_by_name() {
    let r = Registry::new();
    let a = r.rate_limiter("api").unwrap();
    let b = r.rate_limiter("api").unwrap();
    a.try_acquire_n(100).unwrap();
    assert!(b.try_acquire().is_err());
    assert_eq!(b.name(), "api");
    // The same configuration given explicitly is the same limiter.
    let c = r
        .rate_limiter_with("api", RateLimiterConfig::default())
        .unwrap();
    assert!(c.try_acquire().is_err());
    // A different one is refused.
    let other = RateLimiterConfig {
        permits: 5,
        ..RateLimiterConfig::default()
    };
    assert_eq!(r.rate_limiter_with("api", other).unwrap_err().field, "name");
}

#[test]
fn the_registry_uses_its_default_configuration() {
    let r = Registry::new();
    r.set_default(RateLimiterConfig {
        permits: 2,
        burst: Some(1),
        ..RateLimiterConfig::default()
    });
    let l = r.rate_limiter("db").unwrap();
    assert_eq!(l.name(), "db");
    assert_eq!(l.emission_interval(), ms(500));
    assert_eq!(l.metrics().burst, 1);
    // Registered with an explicit configuration, then asked for without one.
    let explicit = RateLimiterConfig {
        permits: 7,
        ..RateLimiterConfig::default()
    };
    r.rate_limiter_with("search", explicit).unwrap();
    assert_eq!(r.rate_limiter("search").unwrap().config().permits, 7);
    let bad = Registry::new();
    bad.set_default(RateLimiterConfig {
        permits: 0,
        ..RateLimiterConfig::default()
    });
    assert_eq!(bad.rate_limiter("x").unwrap_err().field, "permits");
}
