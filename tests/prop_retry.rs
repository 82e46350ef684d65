//! Model-based test of the retry schedule (SPEC 4) through the callback-free form
//! (`begin` / `next`): random configurations and sequences of outcomes, hints and clock
//! steps on a manual clock. The model computes each delay from the SPEC's formula
//! (`min(cap, initial * multiplier^(k-1))`, then jitter, then the `min_delay` floor) and
//! checks a jittered delay against the jitter's range; it decides when to stop (attempts,
//! permanent errors, rejections, the total budget and the caller's deadline).
//!
//! Case count: `PROPTEST_CASES` (default 1000; `scripts/prop-long.sh` runs 1,000,000).

mod prop_support;

use std::time::Duration;

use breakwater::{Backoff, Clock, Jitter, ManualClock, Retry};
use breakwater::{Next, OutcomeKind, StopReason};
use proptest::prelude::*;

const MS: u64 = 1_000_000;

#[derive(Debug, Clone, Copy)]
enum Shape {
    Fixed,
    Linear(u64),
    /// multiplier as a fraction (numerator, denominator), exact on whole milliseconds.
    Exponential(u64, u64),
}

#[derive(Debug, Clone, Copy)]
struct Cfg {
    max_attempts: u32,
    initial: u64,
    shape: Shape,
    cap: Option<u64>,
    floor: u64,
    jitter: Jitter,
    max_elapsed: Option<u64>,
    seed: u64,
}

fn cfg() -> impl Strategy<Value = Cfg> {
    (
        1u32..=6,
        prop_oneof![Just(MS), Just(10 * MS), Just(64 * MS)],
        prop_oneof![
            Just(Shape::Fixed),
            prop_oneof![Just(MS), Just(5 * MS)].prop_map(Shape::Linear),
            prop_oneof![Just((1, 1)), Just((2, 1)), Just((3, 1)), Just((3, 2))]
                .prop_map(|(n, d)| Shape::Exponential(n, d)),
        ],
        proptest::option::of(prop_oneof![Just(1u64), Just(2), Just(5)]),
        prop_oneof![Just(0u64), Just(MS), Just(20 * MS)],
        prop_oneof![
            Just(Jitter::None),
            Just(Jitter::Full),
            Just(Jitter::Equal),
            Just(Jitter::Proportional(0.1)),
            Just(Jitter::Proportional(0.5)),
            Just(Jitter::Decorrelated),
        ],
        proptest::option::of(prop_oneof![Just(30 * MS), Just(200 * MS)]),
        any::<u64>(),
    )
        .prop_map(
            |(max_attempts, initial, shape, cap_x, floor, jitter, max_elapsed, seed)| {
                // The cap, when set, is a multiple of the initial delay (never below it) and
                // not below the floor.
                let cap = cap_x.map(|x| (initial * x).max(floor));
                Cfg {
                    max_attempts,
                    initial,
                    shape,
                    cap,
                    floor,
                    jitter,
                    max_elapsed,
                    seed,
                }
            },
        )
}

#[derive(Debug, Clone)]
enum Op {
    /// A new call, with an optional caller deadline (ns from now).
    Begin(Option<u64>),
    /// Report an attempt's outcome, with an optional Retry-After hint (ns).
    Next(OutcomeKind, Option<u64>),
    Advance(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => proptest::option::of(0u64..300 * MS).prop_map(Op::Begin),
        6 => (
            prop_oneof![
                1 => Just(OutcomeKind::Success),
                6 => Just(OutcomeKind::Retryable),
                1 => Just(OutcomeKind::Permanent),
                1 => Just(OutcomeKind::Rejected),
            ],
            proptest::option::of(prop_oneof![Just(0u64), 0u64..100 * MS]),
        )
            .prop_map(|(k, h)| Op::Next(k, h)),
        3 => prop_oneof![Just(1u64), 0u64..50 * MS].prop_map(Op::Advance),
    ]
}

/// One call of the model.
struct Call {
    deadline: Option<u64>,
    attempt: u32,
    stopped: Option<StopReason>,
    /// Decorrelated jitter: an upper bound of the previous delay (exact unless the
    /// floor hid it).
    previous: u64,
}

fn base_delay(c: &Cfg, k: u32) -> u64 {
    let n = u64::from(k - 1);
    let d = match c.shape {
        Shape::Fixed => u128::from(c.initial),
        Shape::Linear(step) => u128::from(c.initial) + u128::from(step) * u128::from(n),
        Shape::Exponential(num, den) => {
            u128::from(c.initial) * u128::from(num).pow(n as u32) / u128::from(den).pow(n as u32)
        }
    };
    u64::try_from(d.min(c.cap.map_or(u128::MAX, u128::from))).unwrap_or(u64::MAX)
}

/// The range a jittered delay (before the floor) may take.
fn jitter_range(c: &Cfg, d: u64, previous: u64) -> (u64, u64) {
    match c.jitter {
        Jitter::None => (d, d),
        Jitter::Full => (0, d),
        Jitter::Equal => (d / 2, d),
        Jitter::Proportional(f) => {
            let x = d as f64;
            let lo = (x * (1.0 - f)).round() as u64;
            (lo, ((x * (1.0 + f)).round() as u64).max(lo))
        }
        Jitter::Decorrelated => {
            let cap = c.cap.unwrap_or(u64::MAX);
            let hi = previous.saturating_mul(3).max(c.initial);
            (c.initial.min(cap), hi.min(cap))
        }
        _ => (0, u64::MAX),
    }
}

fn run(c: Cfg, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let clock = ManualClock::new();
    let backoff = match c.shape {
        Shape::Fixed => Backoff::Fixed(Duration::from_nanos(c.initial)),
        Shape::Linear(step) => Backoff::Linear {
            initial: Duration::from_nanos(c.initial),
            step: Duration::from_nanos(step),
        },
        Shape::Exponential(num, den) => Backoff::Exponential {
            initial: Duration::from_nanos(c.initial),
            multiplier: num as f64 / den as f64,
        },
    };
    let mut b = Retry::builder()
        .max_attempts(c.max_attempts)
        .backoff(backoff)
        .jitter(c.jitter)
        .min_delay(Duration::from_nanos(c.floor))
        .clock(Clock::from(clock.clone()))
        .seed(c.seed);
    if let Some(cap) = c.cap {
        b = b.max_delay(Duration::from_nanos(cap));
    }
    if let Some(t) = c.max_elapsed {
        b = b.max_elapsed(Duration::from_nanos(t));
    }
    let retry = b.build().expect("valid configuration");
    let mut now = 0u64;
    let begin = |now: u64, caller: Option<u64>| {
        let own = c.max_elapsed.map(|t| now + t);
        let caller = caller.map(|t| now + t);
        Call {
            deadline: match (own, caller) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            },
            attempt: 1,
            stopped: None,
            previous: c.initial,
        }
    };
    let mut state = retry.begin();
    let mut m = begin(now, None);
    for op in ops {
        match op {
            Op::Begin(caller) => {
                state = retry
                    .begin_with_deadline(caller.map(|t| clock.now() + Duration::from_nanos(t)));
                m = begin(now, caller);
                prop_assert_eq!(state.attempt(), 1);
            }
            Op::Advance(d) => {
                clock.advance(Duration::from_nanos(d));
                now += d;
            }
            Op::Next(kind, hint) => {
                let got = state.next(kind, hint.map(Duration::from_nanos));
                if let Some(reason) = m.stopped {
                    prop_assert_eq!(got, Next::Stop(reason), "a stopped call stays stopped");
                    continue;
                }
                let stop = match kind {
                    OutcomeKind::Success => Some(StopReason::Succeeded),
                    OutcomeKind::Permanent => Some(StopReason::Permanent),
                    OutcomeKind::Rejected => Some(StopReason::Rejected),
                    OutcomeKind::Retryable if m.attempt >= c.max_attempts => {
                        Some(StopReason::AttemptsExhausted)
                    }
                    OutcomeKind::Retryable => None,
                };
                if let Some(reason) = stop {
                    prop_assert_eq!(got, Next::Stop(reason), "stop");
                    m.stopped = Some(reason);
                    continue;
                }
                // Retry k = the attempt that just failed.
                let d = base_delay(&c, m.attempt);
                let (lo, hi) = jitter_range(&c, d, m.previous);
                let hint = hint.unwrap_or(0);
                let (lo, hi) = (lo.max(c.floor).max(hint), hi.max(c.floor).max(hint));
                match got {
                    Next::RetryAfter(delay) => {
                        let delay = u64::try_from(delay.as_nanos()).unwrap();
                        prop_assert!(
                            (lo..=hi).contains(&delay),
                            "retry {}: delay {} outside [{}, {}] (base {})",
                            m.attempt,
                            delay,
                            lo,
                            hi,
                            d
                        );
                        if let Some(deadline) = m.deadline {
                            prop_assert!(
                                now + delay < deadline,
                                "a retry that ends past the deadline"
                            );
                        }
                        if matches!(c.jitter, Jitter::Decorrelated) {
                            // The drawn value is the delay unless the floor or the hint
                            // replaced it; then it was at most that.
                            m.previous = delay;
                        }
                        m.attempt += 1;
                        prop_assert_eq!(state.attempt(), m.attempt);
                    }
                    Next::Stop(StopReason::DeadlineReached) => {
                        let deadline = m.deadline;
                        prop_assert!(
                            deadline.is_some_and(|dl| now + hi >= dl),
                            "stopped for the deadline {:?} though every delay up to {} from {} fits",
                            deadline,
                            hi,
                            now
                        );
                        m.stopped = Some(StopReason::DeadlineReached);
                    }
                    other => prop_assert!(false, "unexpected {:?}", other),
                }
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(prop_support::config(1000))]

    #[test]
    fn retry_schedule_agrees_with_the_model(c in cfg(), ops in proptest::collection::vec(op(), 1..40)) {
        run(c, ops)?;
    }
}
