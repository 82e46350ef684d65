//! Delay schedules: each backoff without jitter (cap, floor), each jitter's bounds over
//! many samples and its exact sequence for a fixed seed, and the reference settings.
//!
//! The fixed-seed sequences are those of rand 0.9's `SmallRng` (Xoshiro256++ on 64-bit
//! targets) and its uniform sampling; a rand upgrade may change them.

use std::time::Duration;

use breakwater::{Backoff, Jitter, Retry, RetryBuilder};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn nanos(v: &[u64]) -> Vec<Duration> {
    v.iter().copied().map(Duration::from_nanos).collect()
}

fn delays(b: RetryBuilder) -> Vec<Duration> {
    b.build().unwrap().delays().collect()
}

fn exp(initial: Duration, multiplier: f64) -> Backoff {
    Backoff::Exponential {
        initial,
        multiplier,
    }
}

#[test]
fn fixed_backoff_repeats_its_delay() {
    let d = delays(
        Retry::builder()
            .max_attempts(5)
            .backoff(Backoff::Fixed(ms(250))),
    );
    assert_eq!(d, [ms(250); 4]);
}

#[test]
fn linear_backoff_adds_its_step_and_stops_at_the_cap() {
    let d = delays(
        Retry::builder()
            .max_attempts(7)
            .backoff(Backoff::Linear {
                initial: ms(100),
                step: ms(150),
            })
            .max_delay(ms(700)),
    );
    assert_eq!(d, [ms(100), ms(250), ms(400), ms(550), ms(700), ms(700)]);
}

#[test]
fn exponential_backoff_doubles_up_to_the_cap() {
    let d = delays(
        Retry::builder()
            .max_attempts(8)
            .backoff(exp(ms(500), 2.0))
            .max_delay(secs(10)),
    );
    assert_eq!(
        d,
        [
            ms(500),
            secs(1),
            secs(2),
            secs(4),
            secs(8),
            secs(10),
            secs(10)
        ]
    );
}

#[test]
fn exponential_backoff_with_a_fractional_multiplier_rounds_to_nanoseconds() {
    let d = delays(Retry::builder().max_attempts(5).backoff(exp(ms(100), 1.5)));
    assert_eq!(
        d,
        [ms(100), ms(150), ms(225), Duration::from_micros(337_500)]
    );
}

#[test]
fn exponential_backoff_without_a_cap_saturates_instead_of_overflowing() {
    let d = delays(
        Retry::builder()
            .max_attempts(200)
            .backoff(exp(secs(1), 10.0)),
    );
    assert_eq!(d.len(), 199);
    assert_eq!(d[3], secs(1000));
    assert_eq!(*d.last().unwrap(), Duration::from_nanos(u64::MAX));
}

#[test]
fn multiplier_one_is_a_fixed_delay() {
    let d = delays(Retry::builder().max_attempts(4).backoff(exp(ms(300), 1.0)));
    assert_eq!(d, [ms(300); 3]);
}

#[test]
fn min_delay_raises_short_delays_only() {
    let d = delays(
        Retry::builder()
            .max_attempts(6)
            .backoff(exp(ms(25), 2.0))
            .min_delay(ms(100)),
    );
    assert_eq!(d, [ms(100), ms(100), ms(100), ms(200), ms(400)]);
}

#[test]
fn max_attempts_one_has_no_delays() {
    assert!(delays(Retry::builder().max_attempts(1)).is_empty());
}

#[test]
fn default_schedule_is_two_exponential_delays_from_half_a_second() {
    assert_eq!(delays(Retry::builder()), [ms(500), secs(1)]);
}

#[test]
fn max_elapsed_bounds_the_schedule_sum() {
    // 1 + 2 + 4 = 7 < 8, the next (8) would end at 15 >= 8.
    let d = delays(
        Retry::builder()
            .max_attempts(10)
            .backoff(exp(secs(1), 2.0))
            .max_elapsed(secs(8)),
    );
    assert_eq!(d, [secs(1), secs(2), secs(4)]);
    // A delay ending exactly at the budget is not started.
    let d = delays(
        Retry::builder()
            .max_attempts(10)
            .backoff(Backoff::Fixed(secs(1)))
            .max_elapsed(secs(3)),
    );
    assert_eq!(d, [secs(1), secs(1)]);
}

/// Many samples: 20 calls (each its own stream) of 100 retries on a fixed 1 s delay.
fn samples(jitter: Jitter) -> Vec<Duration> {
    let retry = Retry::builder()
        .max_attempts(101)
        .backoff(Backoff::Fixed(secs(1)))
        .jitter(jitter)
        .seed(7)
        .build()
        .unwrap();
    let mut out = Vec::new();
    for _ in 0..20 {
        let mut state = retry.begin();
        while let breakwater::Next::RetryAfter(d) =
            state.next(breakwater::OutcomeKind::Retryable, None)
        {
            out.push(d);
        }
    }
    assert_eq!(out.len(), 2000);
    out
}

fn spread(v: &[Duration]) -> (Duration, Duration) {
    (*v.iter().min().unwrap(), *v.iter().max().unwrap())
}

#[test]
fn full_jitter_stays_within_zero_and_the_delay() {
    let v = samples(Jitter::Full);
    let (lo, hi) = spread(&v);
    assert!(hi <= secs(1), "{hi:?}");
    // The range is used: both ends are approached.
    assert!(lo < ms(10), "{lo:?}");
    assert!(hi > ms(990), "{hi:?}");
}

#[test]
fn equal_jitter_stays_within_half_and_the_delay() {
    let v = samples(Jitter::Equal);
    let (lo, hi) = spread(&v);
    assert!(lo >= ms(500) && hi <= secs(1), "{lo:?} {hi:?}");
    assert!(lo < ms(510) && hi > ms(990), "{lo:?} {hi:?}");
}

#[test]
fn proportional_jitter_stays_within_its_factor() {
    let v = samples(Jitter::Proportional(0.1));
    let (lo, hi) = spread(&v);
    assert!(lo >= ms(900) && hi <= ms(1100), "{lo:?} {hi:?}");
    assert!(lo < ms(905) && hi > ms(1095), "{lo:?} {hi:?}");
    let v = samples(Jitter::Proportional(0.5));
    let (lo, hi) = spread(&v);
    assert!(lo >= ms(500) && hi <= ms(1500), "{lo:?} {hi:?}");
    assert!(lo < ms(520) && hi > ms(1480), "{lo:?} {hi:?}");
}

#[test]
fn proportional_jitter_of_zero_is_no_jitter() {
    let v = samples(Jitter::Proportional(0.0));
    assert!(v.iter().all(|d| *d == secs(1)));
}

#[test]
fn decorrelated_jitter_stays_between_initial_and_three_times_the_previous_and_the_cap() {
    let retry = Retry::builder()
        .max_attempts(51)
        .backoff(Backoff::Fixed(ms(100)))
        .max_delay(secs(5))
        .jitter(Jitter::Decorrelated)
        .seed(11)
        .build()
        .unwrap();
    let mut at_cap = 0;
    for _ in 0..40 {
        let mut state = retry.begin();
        let mut previous = ms(100);
        while let breakwater::Next::RetryAfter(d) =
            state.next(breakwater::OutcomeKind::Retryable, None)
        {
            assert!(d >= ms(100), "{d:?}");
            assert!(d <= (previous * 3).min(secs(5)), "{d:?} after {previous:?}");
            if d == secs(5) {
                at_cap += 1;
            }
            previous = d;
        }
    }
    assert!(at_cap > 0, "the cap is reached");
}

#[test]
fn full_jitter_with_a_fixed_seed_draws_a_known_sequence() {
    let d = delays(
        Retry::builder()
            .max_attempts(6)
            .backoff(exp(ms(100), 2.0))
            .jitter(Jitter::Full)
            .seed(42),
    );
    assert_eq!(
        d,
        nanos(&[81430515, 63764208, 393557668, 560908479, 1269607184])
    );
}

#[test]
fn equal_jitter_with_a_fixed_seed_draws_a_known_sequence() {
    let d = delays(
        Retry::builder()
            .max_attempts(6)
            .backoff(exp(ms(100), 2.0))
            .jitter(Jitter::Equal)
            .seed(42),
    );
    assert_eq!(
        d,
        nanos(&[90715258, 131882104, 396778834, 680454239, 1434803592])
    );
}

#[test]
fn proportional_jitter_with_a_fixed_seed_draws_a_known_sequence() {
    let d = delays(
        Retry::builder()
            .max_attempts(6)
            .backoff(exp(ms(100), 2.0))
            .jitter(Jitter::Proportional(0.25))
            .seed(42),
    );
    assert_eq!(
        d,
        nanos(&[115715258, 181882104, 496778834, 880454239, 1834803592])
    );
}

#[test]
fn decorrelated_jitter_with_a_fixed_seed_draws_a_known_sequence() {
    let d = delays(
        Retry::builder()
            .max_attempts(8)
            .backoff(Backoff::Fixed(ms(100)))
            .max_delay(secs(2))
            .jitter(Jitter::Decorrelated)
            .seed(42),
    );
    assert_eq!(
        d,
        nanos(&[
            262861029, 319534776, 944775792, 2000000000, 2000000000, 2000000000, 839579408
        ])
    );
}

#[test]
fn a_seed_gives_the_same_delays_every_time_and_other_seeds_differ() {
    let build = |seed| {
        Retry::builder()
            .max_attempts(6)
            .jitter(Jitter::Full)
            .seed(seed)
            .build()
            .unwrap()
    };
    let a = build(5);
    assert_eq!(
        a.delays().collect::<Vec<_>>(),
        a.delays().collect::<Vec<_>>()
    );
    assert_eq!(
        a.delays().collect::<Vec<_>>(),
        build(5).delays().collect::<Vec<_>>()
    );
    assert_ne!(
        a.delays().collect::<Vec<_>>(),
        build(6).delays().collect::<Vec<_>>()
    );
}

#[test]
fn calls_of_one_retry_draw_different_streams() {
    use breakwater::{Next, OutcomeKind};
    let retry = Retry::builder()
        .max_attempts(2)
        .jitter(Jitter::Full)
        .seed(3)
        .build()
        .unwrap();
    let first = |retry: &Retry| match retry.begin().next(OutcomeKind::Retryable, None) {
        Next::RetryAfter(d) => d,
        other => panic!("{other:?}"),
    };
    let a = first(&retry);
    let b = first(&retry);
    assert_ne!(a, b);
    // The first call's stream is the one `delays()` shows.
    assert_eq!(retry.delays().next(), Some(a));
}

/// Reference setting 1: 0.5 s base doubling, 10 s cap, ±10%, 0.1 s floor.
fn reference_one(seed: u64) -> Retry {
    Retry::builder()
        .max_attempts(8)
        .backoff(exp(ms(500), 2.0))
        .max_delay(secs(10))
        .jitter(Jitter::Proportional(0.1))
        .min_delay(ms(100))
        .seed(seed)
        .build()
        .unwrap()
}

/// Reference setting 2: 1 s base doubling, 60 s cap, a factor 0.5..1.5.
fn reference_two(seed: u64) -> Retry {
    Retry::builder()
        .max_attempts(9)
        .backoff(exp(secs(1), 2.0))
        .max_delay(secs(60))
        .jitter(Jitter::Proportional(0.5))
        .seed(seed)
        .build()
        .unwrap()
}

fn within(d: &[Duration], base: &[Duration], f: f64) {
    assert_eq!(d.len(), base.len());
    for (d, b) in d.iter().zip(base) {
        assert!(
            *d >= b.mul_f64(1.0 - f) && *d <= b.mul_f64(1.0 + f),
            "{d:?} outside {b:?} ±{f}"
        );
    }
}

#[test]
fn reference_setting_half_second_base_ten_second_cap_ten_percent() {
    assert_eq!(
        reference_one(2024).delays().collect::<Vec<_>>(),
        nanos(&[
            502443154,
            958981118,
            1897420499,
            3937325013,
            8397104343,
            10616597668,
            10957053729
        ])
    );
    let base = [
        ms(500),
        secs(1),
        secs(2),
        secs(4),
        secs(8),
        secs(10),
        secs(10),
    ];
    for seed in 0..200 {
        within(
            &reference_one(seed).delays().collect::<Vec<_>>(),
            &base,
            0.1,
        );
    }
}

#[test]
fn reference_setting_floor_of_a_tenth_of_a_second_holds_under_jitter() {
    // The same ±10% and 0.1 s floor on a 50 ms base: the floor always wins.
    let retry = Retry::builder()
        .max_attempts(50)
        .backoff(Backoff::Fixed(ms(50)))
        .jitter(Jitter::Proportional(0.1))
        .min_delay(ms(100))
        .seed(1)
        .build()
        .unwrap();
    assert!(retry.delays().all(|d| d == ms(100)));
    // On a 100 ms base, the low half of the jitter is raised to the floor.
    let retry = Retry::builder()
        .max_attempts(200)
        .backoff(Backoff::Fixed(ms(100)))
        .jitter(Jitter::Proportional(0.1))
        .min_delay(ms(100))
        .seed(1)
        .build()
        .unwrap();
    let v: Vec<Duration> = retry.delays().collect();
    assert!(v.iter().all(|d| *d >= ms(100) && *d <= ms(110)));
    assert!(v.iter().filter(|d| **d == ms(100)).count() > 50);
}

#[test]
fn reference_setting_one_second_base_sixty_second_cap_factor_half_to_one_and_a_half() {
    assert_eq!(
        reference_two(2024).delays().collect::<Vec<_>>(),
        nanos(&[
            1024431541,
            1589811179,
            2974204996,
            7373250132,
            19971043433,
            41865562691,
            88711611856,
            69777671515
        ])
    );
    let base = [
        secs(1),
        secs(2),
        secs(4),
        secs(8),
        secs(16),
        secs(32),
        secs(60),
        secs(60),
    ];
    for seed in 0..200 {
        within(
            &reference_two(seed).delays().collect::<Vec<_>>(),
            &base,
            0.5,
        );
    }
}
