//! Fan-out: independent branches under one deadline with per-branch fallbacks.

use std::time::Duration;

use breakwater::{Branch, FanOut};
use breakwater::{Clock, Ctx, Error, ManualClock, ThreadPool};

#[test]
fn one_value_two_fallbacks_at_the_deadline() {
    let clock = ManualClock::new();
    let pool = ThreadPool::builder()
        .name("fan")
        .workers(3)
        .clock(Clock::from(&clock))
        .build()
        .unwrap();
    let fan = FanOut::new(pool.clone(), Duration::from_millis(500));
    let (release_tx, release_rx) = crossbeam_channel::unbounded::<()>();
    let (started_tx, started_rx) = crossbeam_channel::unbounded::<()>();
    let (cancelled_tx, cancelled_rx) = crossbeam_channel::unbounded::<bool>();
    let advancer = {
        let clock = clock.clone();
        std::thread::spawn(move || {
            // The two quick branches are done, the third runs and the caller parks on
            // it; then the deadline passes.
            started_rx.recv().unwrap();
            while pool.metrics().completed < 2 || clock.waiters() == 0 {
                std::thread::yield_now();
            }
            clock.advance(Duration::from_millis(500));
        })
    };
    let ctx = Ctx::with_clock(Clock::from(&clock));
    let outcomes = fan.run(
        &ctx,
        vec![
            Branch::<String, &'static str>::new("presentation", |_| Ok("Rust at scale".into())),
            Branch::new("author", |_| Err(Error::failed("authors down")))
                .fallback(|_| "temporary unavailable".into()),
            Branch::new("recommendations", move |ctx: &Ctx| {
                started_tx.send(()).unwrap();
                let _ = release_rx.recv();
                let _ = cancelled_tx.send(ctx.is_cancelled());
                Ok("late".into())
            })
            .fallback(|e| {
                assert!(e.is_timeout());
                "no recommendations".into()
            }),
        ],
    );
    advancer.join().unwrap();
    assert_eq!(clock.elapsed(), Duration::from_millis(500));
    let values: Vec<(&str, &str, bool)> = outcomes
        .iter()
        .map(|o| (o.name.as_str(), o.result.as_deref().unwrap(), o.degraded))
        .collect();
    assert_eq!(
        values,
        vec![
            ("presentation", "Rust at scale", false),
            ("author", "temporary unavailable", true),
            ("recommendations", "no recommendations", true),
        ]
    );
    // The abandoned branch sees its cancellation flag once released.
    release_tx.send(()).unwrap();
    assert!(cancelled_rx.recv().unwrap());
}

#[test]
fn a_branch_without_fallback_returns_its_error() {
    let pool = ThreadPool::builder().workers(2).build().unwrap();
    let fan = FanOut::new(pool, Duration::from_secs(30));
    let outcomes = fan.run(
        &Ctx::new(),
        vec![
            Branch::<u8, &'static str>::new("ok", |_| Ok(1)),
            Branch::new("critical", |_| Err(Error::failed("down"))),
        ],
    );
    assert_eq!(*outcomes[0].result.as_ref().unwrap(), 1);
    assert_eq!(
        outcomes[1].result.as_ref().unwrap_err().inner(),
        Some(&"down")
    );
    assert!(!outcomes[1].degraded);
}

#[test]
fn branches_rejected_by_a_full_pool_degrade() {
    let clock = ManualClock::new();
    let pool = ThreadPool::builder()
        .workers(1)
        .queue_capacity(0)
        .clock(Clock::from(&clock))
        .build()
        .unwrap();
    let fan = FanOut::new(pool.clone(), Duration::from_secs(30));
    let (release_tx, release_rx) = crossbeam_channel::unbounded::<()>();
    // Release the slow branch once the second one has been refused.
    let releaser = std::thread::spawn(move || {
        while pool.metrics().rejected == 0 {
            std::thread::yield_now();
        }
        release_tx.send(()).unwrap();
    });
    let outcomes = fan.run(
        &Ctx::with_clock(Clock::from(&clock)),
        vec![
            Branch::<u8, ()>::new("slow", move |_| {
                let _ = release_rx.recv();
                Ok(1)
            }),
            Branch::new("rejected", |_| Ok(2)).fallback(|e| {
                assert!(e.is_rejected());
                0
            }),
        ],
    );
    releaser.join().unwrap();
    assert_eq!(*outcomes[0].result.as_ref().unwrap(), 1);
    assert!(!outcomes[0].degraded);
    assert_eq!(*outcomes[1].result.as_ref().unwrap(), 0);
    assert!(outcomes[1].degraded);
    assert_eq!(clock.elapsed(), Duration::ZERO);
}
