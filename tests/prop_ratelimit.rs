//! Model-based test of the rate limiter (SPEC 7, GCRA): random sequences of
//! acquisitions, timed acquisitions, calls and clock steps on a manual clock, against a
//! reference written from the algorithm's description (one theoretical arrival time),
//! plus an independent bound: over any span `w` between two grants, at most
//! `burst + floor(w / T)` permits were granted.
//!
//! Case count: `PROPTEST_CASES` (default 1000; `scripts/prop-long.sh` runs 1,000,000).

mod prop_support;

use std::time::Duration;

use breakwater::{Error, ManualClock, RateLimited, RateLimiter};
use proptest::prelude::*;

#[derive(Debug, Clone, Copy)]
struct Cfg {
    permits: u32,
    period: u64,
    burst: Option<u32>,
    max_wait: u64,
}

fn cfg() -> impl Strategy<Value = Cfg> {
    (
        1u32..=5,
        prop_oneof![Just(1_000u64), Just(1_000_000), Just(999_999), Just(7)],
        proptest::option::of(1u32..=5),
        prop_oneof![Just(0u64), Just(1), Just(300_000), Just(2_000_000)],
    )
        .prop_filter("at most one permit per nanosecond", |(p, period, _, _)| {
            u64::from(*p) <= *period
        })
        .prop_map(|(permits, period, burst, max_wait)| Cfg {
            permits,
            period,
            burst,
            max_wait,
        })
}

#[derive(Debug, Clone)]
enum Op {
    TryAcquire(u32),
    AcquireTimeout(u32, u64),
    Call,
    Advance(u64),
    Metrics,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => prop_oneof![4 => Just(1u32), 1 => 0u32..=7].prop_map(Op::TryAcquire),
        3 => (0u32..=3, prop_oneof![Just(0u64), 0u64..3_000_000]).prop_map(|(n, t)| Op::AcquireTimeout(n, t)),
        2 => Just(Op::Call),
        5 => prop_oneof![Just(1u64), 0u64..500_000, 0u64..5_000_000].prop_map(Op::Advance),
        1 => Just(Op::Metrics),
    ]
}

/// GCRA as the documentation states it: acquiring k permits at `now` moves the TAT to
/// `max(TAT, now) + k * T`; the permits start at `new TAT - burst * T`, granted when that
/// is no later than the latest start the caller accepts.
struct Model {
    interval: u64,
    burst: u32,
    max_wait: u64,
    now: u64,
    tat: u64,
    permitted: u64,
    rejected: u64,
    waited: u64,
    /// The start time of every permit granted (a grant of k permits: k entries).
    grants: Vec<u64>,
}

impl Model {
    fn new(c: Cfg) -> Model {
        Model {
            interval: c.period.div_ceil(u64::from(c.permits)),
            burst: c.burst.unwrap_or(c.permits),
            max_wait: c.max_wait,
            now: 0,
            tat: 0,
            permitted: 0,
            rejected: 0,
            waited: 0,
            grants: Vec::new(),
        }
    }

    /// Ok(wait) or Err(retry_after).
    fn acquire(&mut self, n: u32, latest: u64) -> Result<u64, Duration> {
        if n == 0 {
            return Ok(0);
        }
        if n > self.burst {
            self.rejected += 1;
            return Err(Duration::MAX);
        }
        let new_tat = self.tat.max(self.now) + u64::from(n) * self.interval;
        let start = new_tat.saturating_sub(u64::from(self.burst) * self.interval);
        if start > latest {
            self.rejected += 1;
            return Err(Duration::from_nanos(start - self.now));
        }
        self.tat = new_tat;
        self.permitted += 1;
        // All n permits of one grant are had when the caller gets them.
        for _ in 0..n {
            self.grants.push(start.max(self.now));
        }
        let wait = start.saturating_sub(self.now);
        if wait > 0 {
            self.waited += 1;
        }
        Ok(wait)
    }

    fn available(&self) -> u32 {
        let room = (self.now + u64::from(self.burst) * self.interval)
            .saturating_sub(self.tat.max(self.now));
        u32::try_from(room / self.interval)
            .unwrap_or(u32::MAX)
            .min(self.burst)
    }
}

fn run(c: Cfg, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let clock = ManualClock::new();
    let mut b = RateLimiter::builder()
        .permits(c.permits)
        .period(Duration::from_nanos(c.period))
        .max_wait(Duration::from_nanos(c.max_wait))
        .clock(clock.clone());
    if let Some(burst) = c.burst {
        b = b.burst(burst);
    }
    let limiter = b.build().expect("valid configuration");
    let mut m = Model::new(c);
    prop_assert_eq!(
        limiter.emission_interval(),
        Duration::from_nanos(m.interval)
    );
    for op in ops {
        match op {
            Op::TryAcquire(n) => {
                let got = limiter.try_acquire_n(n).map_err(|e| e.retry_after);
                let want = m.acquire(n, m.now).map(|_| ());
                prop_assert_eq!(got, want, "try_acquire_n({})", n);
            }
            Op::AcquireTimeout(n, t) => {
                let got = limiter
                    .acquire_n_timeout(n, Duration::from_nanos(t))
                    .map_err(|e| e.retry_after);
                let want = m.acquire(n, m.now + t);
                // A granted wait sleeps on the manual clock: the clock moves by the wait.
                if let Ok(wait) = want {
                    m.now += wait;
                }
                prop_assert_eq!(got, want.map(|_| ()), "acquire_n_timeout({}, {})", n, t);
                prop_assert_eq!(
                    clock.elapsed(),
                    Duration::from_nanos(m.now),
                    "clock after the wait"
                );
            }
            Op::Call => {
                let got = limiter.call(|| Ok::<u8, ()>(1));
                let want = m.acquire(1, m.now + m.max_wait);
                if let Ok(wait) = want {
                    m.now += wait;
                }
                match (got, want) {
                    (Ok(1), Ok(_)) => {}
                    (Err(e @ Error::Rejected { .. }), Err(r)) => {
                        prop_assert_eq!(e.retry_after(), Some(r), "call rejection")
                    }
                    (g, w) => prop_assert!(false, "call: limiter {:?}, model {:?}", g, w),
                }
            }
            Op::Advance(d) => {
                clock.advance(Duration::from_nanos(d));
                m.now += d;
            }
            Op::Metrics => {
                let got = limiter.metrics();
                prop_assert_eq!(
                    (
                        got.permitted,
                        got.rejected,
                        got.waited,
                        got.available,
                        got.burst
                    ),
                    (m.permitted, m.rejected, m.waited, m.available(), m.burst)
                );
            }
        }
    }
    // The rate bound, independent of the model's arithmetic: between the i-th and j-th
    // permits (in start order) at most burst + floor(span / T) permits start.
    let mut g = m.grants.clone();
    g.sort_unstable();
    for i in 0..g.len() {
        for j in i..g.len() {
            let span = g[j] - g[i];
            let allowed = u64::from(m.burst) + span / m.interval;
            prop_assert!(
                (j - i + 1) as u64 <= allowed,
                "{} permits started within {} ns (allowed {})",
                j - i + 1,
                span,
                allowed
            );
        }
    }
    // A rejection's retry_after is exact: waiting that long grants the permit.
    match limiter.try_acquire() {
        Ok(()) => {}
        Err(RateLimited { retry_after }) => {
            clock.advance(retry_after);
            prop_assert!(limiter.try_acquire().is_ok(), "granted after retry_after");
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(prop_support::config(1000))]

    #[test]
    fn limiter_agrees_with_the_model(c in cfg(), ops in proptest::collection::vec(op(), 1..100)) {
        run(c, ops)?;
    }
}
