//! Balancing: exact round-robin sequences, least-in-flight choices, random spread, skipping
//! unavailable and unhealthy instances, preferring another instance on retry, the in-flight
//! guard under threads, and refused configurations.
#![cfg(feature = "http")]

use std::collections::HashMap;
use std::sync::{Arc, Barrier};

use breakwater::http::{Balancer, Strategy};

const URLS: [&str; 3] = ["http://a.local", "http://b.local", "http://c.local"];

fn lb(strategy: Strategy) -> Balancer {
    Balancer::new(URLS, strategy).unwrap()
}

fn picks(lb: &Balancer, n: usize, available: impl Fn(usize) -> bool) -> Vec<usize> {
    (0..n).map(|_| lb.pick(&[], &available).unwrap()).collect()
}

#[test]
fn round_robin_takes_turns() {
    let lb = lb(Strategy::RoundRobin);
    assert_eq!(picks(&lb, 7, |_| true), [0, 1, 2, 0, 1, 2, 0]);
}

#[test]
fn round_robin_skips_an_unavailable_instance_without_doubling_its_neighbour() {
    let lb = lb(Strategy::RoundRobin);
    assert_eq!(picks(&lb, 6, |i| i != 1), [0, 2, 0, 2, 0, 2]);
    // Available again: it gets its turn back where the rotation stands.
    assert_eq!(picks(&lb, 4, |_| true), [0, 1, 2, 0]);
}

#[test]
fn nothing_eligible_gives_none() {
    for s in [
        Strategy::RoundRobin,
        Strategy::Random,
        Strategy::LeastInFlight,
    ] {
        let lb = lb(s);
        assert_eq!(lb.pick(&[], |_| false), None, "{s:?}");
        for i in 0..3 {
            lb.set_healthy(i, false);
        }
        assert_eq!(lb.pick(&[], |_| true), None, "{s:?}");
        assert_eq!(lb.pick(&[0, 1, 2], |_| true), None, "{s:?}");
    }
}

#[test]
fn a_retry_prefers_an_instance_not_tried_yet() {
    let lb = lb(Strategy::RoundRobin);
    let first = lb.pick(&[], |_| true).unwrap();
    assert_eq!(first, 0);
    let second = lb.pick(&[first], |_| true).unwrap();
    assert_eq!(second, 1);
    let third = lb.pick(&[first, second], |_| true).unwrap();
    assert_eq!(third, 2);
    // Every instance tried: the rotation goes on among them.
    assert_eq!(lb.pick(&[0, 1, 2], |_| true), Some(0));
    // Tried ones are chosen again only when nothing else is eligible.
    assert_eq!(lb.pick(&[1], |i| i != 0 && i != 2), Some(1));
    assert_eq!(lb.pick(&[1], |i| i != 1), Some(2));
}

#[test]
fn retries_on_a_single_instance_stay_on_it() {
    let lb = Balancer::new(["http://only.local"], Strategy::LeastInFlight).unwrap();
    assert_eq!(lb.pick(&[0], |_| true), Some(0));
    assert_eq!(lb.pick(&[0], |_| false), None);
}

#[test]
fn least_in_flight_chooses_the_least_loaded() {
    let lb = lb(Strategy::LeastInFlight);
    let _a1 = lb.begin(0);
    let _a2 = lb.begin(0);
    let _c1 = lb.begin(2);
    assert_eq!(
        (lb.in_flight(0), lb.in_flight(1), lb.in_flight(2)),
        (2, 0, 1)
    );
    assert_eq!(lb.pick(&[], |_| true), Some(1));
    let _b1 = lb.begin(1);
    let _b2 = lb.begin(1);
    // Loads 2, 2, 1.
    assert_eq!(lb.pick(&[], |_| true), Some(2));
    // Skipping 2: a tie between 0 and 1 goes to the next in rotation after the last pick (2).
    assert_eq!(lb.pick(&[], |i| i != 2), Some(0));
    // Excluding the least loaded picks the least loaded of the rest.
    assert_eq!(lb.pick(&[2], |_| true), Some(1));
}

#[test]
fn least_in_flight_spreads_an_idle_service_in_turn() {
    let lb = lb(Strategy::LeastInFlight);
    assert_eq!(picks(&lb, 6, |_| true), [0, 1, 2, 0, 1, 2]);
}

#[test]
fn least_in_flight_follows_the_guards() {
    let lb = lb(Strategy::LeastInFlight);
    let mut guards = Vec::new();
    let mut chosen = Vec::new();
    for _ in 0..6 {
        let i = lb.pick(&[], |_| true).unwrap();
        chosen.push(i);
        guards.push(lb.begin(i));
    }
    assert_eq!(chosen, [0, 1, 2, 0, 1, 2]);
    guards.retain(|g| g.index() != 1);
    assert_eq!(lb.in_flight(1), 0);
    assert_eq!(lb.pick(&[], |_| true), Some(1));
}

#[test]
fn random_picks_only_eligible_instances_and_all_of_them() {
    let lb = lb(Strategy::Random);
    let mut counts: HashMap<usize, usize> = HashMap::new();
    for _ in 0..3000 {
        *counts.entry(lb.pick(&[], |i| i != 1).unwrap()).or_default() += 1;
    }
    assert_eq!(counts.get(&1), None);
    // 1500 expected each; 1300 is more than 7 standard deviations away.
    assert!(counts[&0] > 1300 && counts[&2] > 1300, "{counts:?}");
    assert_eq!(lb.pick(&[0], |i| i != 1), Some(2));
}

#[test]
fn unhealthy_instances_are_skipped_until_marked_up() {
    let lb = lb(Strategy::RoundRobin);
    lb.set_healthy(0, false);
    assert!(!lb.is_healthy(0));
    assert_eq!(picks(&lb, 4, |_| true), [1, 2, 1, 2]);
    lb.set_healthy(0, true);
    assert_eq!(picks(&lb, 3, |_| true), [0, 1, 2]);
}

#[test]
fn urls_are_normalised_and_joined() {
    let lb = Balancer::new(
        ["http://a.local:8080/", "https://b.local/api//"],
        Strategy::Random,
    )
    .unwrap();
    assert_eq!(lb.url(0), Some("http://a.local:8080"));
    assert_eq!(lb.url(1), Some("https://b.local/api"));
    assert_eq!(lb.url_for(1, "/v1/x").unwrap(), "https://b.local/api/v1/x");
    assert_eq!(lb.url_for(0, "v1").unwrap(), "http://a.local:8080/v1");
    assert_eq!(lb.url_for(2, "v1"), None);
    assert_eq!((lb.len(), lb.in_flight(9), lb.is_healthy(9)), (2, 0, false));
    drop(lb.begin(9)); // out of range: counts nothing, no panic
}

#[test]
fn bad_instance_lists_are_refused_naming_the_field() {
    for bad in [
        vec![],
        vec!["a.local"],
        vec!["http://"],
        vec!["https:///"],
        vec!["http://a b"],
    ] {
        let e = Balancer::new(bad.clone(), Strategy::RoundRobin).unwrap_err();
        assert_eq!(e.field, "instances", "{bad:?}");
        assert_eq!(e.policy, breakwater::PolicyKind::Http);
    }
}

#[test]
fn guards_keep_exact_counts_under_threads() {
    let lb = lb(Strategy::LeastInFlight);
    let threads = 4;
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (lb, barrier) = (lb.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                for _ in 0..2000 {
                    let i = lb.pick(&[], |_| true).unwrap();
                    let guard = lb.begin(i);
                    assert!(lb.in_flight(i) >= 1);
                    drop(guard);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(
        (lb.in_flight(0), lb.in_flight(1), lb.in_flight(2)),
        (0, 0, 0)
    );
}

#[test]
fn round_robin_is_even_under_threads() {
    let lb = lb(Strategy::RoundRobin);
    let threads = 4;
    let per_thread = 3000;
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let lb = lb.clone();
            std::thread::spawn(move || {
                let mut counts = [0usize; 3];
                for _ in 0..per_thread {
                    counts[lb.pick(&[], |_| true).unwrap()] += 1;
                }
                counts
            })
        })
        .collect();
    let mut total = [0usize; 3];
    for h in handles {
        for (t, c) in total.iter_mut().zip(h.join().unwrap()) {
            *t += c;
        }
    }
    // Every pick moves the cursor exactly one step: 12000 picks, 4000 each.
    assert_eq!(total, [4000, 4000, 4000]);
}
