//! Behaviour of the TTL cache: freshness, stale-if-error, the bound and eviction,
//! invalidation, and single-flight loading with real threads (manual clock only).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use breakwater::{Cache, CacheError, CacheMetrics, ManualClock};
use crossbeam_channel::{Receiver, bounded};

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

const NS: Duration = Duration::from_nanos(1);

fn cache(
    ttl: Duration,
    max_stale: Duration,
    max_entries: usize,
) -> (Cache<u32, String>, ManualClock) {
    let clock = ManualClock::new();
    let c = Cache::builder()
        .ttl(ttl)
        .max_stale(max_stale)
        .max_entries(max_entries)
        .clock(clock.clone())
        .build()
        .unwrap();
    (c, clock)
}

fn ok(v: &str) -> impl FnOnce() -> Result<String, &'static str> + '_ {
    move || Ok(v.to_string())
}

fn down() -> Result<String, &'static str> {
    Err("down")
}

/// Waits (without sleeping) until `n` callers have joined a load in flight, failing
/// as soon as more than `max_loads` loads have started (a broken single flight).
fn wait_for_joiners(c: &Cache<u32, String>, n: u64, max_loads: u64) {
    let hang_guard = Instant::now() + secs(60);
    loop {
        let m = c.metrics();
        assert!(m.loads <= max_loads, "more loads than expected: {m:?}");
        if m.coalesced >= n {
            return;
        }
        assert!(Instant::now() < hang_guard, "hang guard: {m:?}");
        thread::yield_now();
    }
}

/// A loader that blocks until the test releases it (with a generous hang guard).
fn blocked_loader(
    rx: Receiver<Result<String, &'static str>>,
    runs: Arc<AtomicU32>,
) -> impl FnOnce() -> Result<String, &'static str> {
    move || {
        runs.fetch_add(1, Ordering::SeqCst);
        rx.recv_timeout(secs(60))
            .expect("hang guard: the test never released the loader")
    }
}

#[test]
fn a_value_is_fresh_until_exactly_ttl() {
    let (c, clock) = cache(secs(10), Duration::ZERO, 100);
    assert_eq!(c.get_or_load(&1, ok("a")).unwrap(), "a");
    clock.advance(secs(10) - NS);
    assert_eq!(c.get(&1).as_deref(), Some("a"));
    assert_eq!(c.get_or_load(&1, ok("b")).unwrap(), "a");
    clock.advance(NS);
    assert_eq!(c.get(&1), None);
    assert_eq!(c.get_or_load(&1, ok("b")).unwrap(), "b");
    let m = c.metrics();
    assert_eq!(
        (m.hits, m.misses, m.loads, m.load_failures),
        (2, 3, 2, 0),
        "{m:?}"
    );
}

#[test]
fn ttl_counts_from_the_end_of_the_load() {
    let (c, clock) = cache(secs(10), Duration::ZERO, 100);
    let slow = || {
        clock.advance(secs(4)); // the load takes 4 s
        Ok::<_, ()>("slow".to_string())
    };
    c.get_or_load(&1, slow).unwrap();
    clock.advance(secs(10) - NS);
    assert_eq!(c.get(&1).as_deref(), Some("slow"));
    clock.advance(NS);
    assert_eq!(c.get(&1), None);
}

#[test]
fn a_failed_load_serves_the_stale_value_within_max_stale_then_the_error() {
    let (c, clock) = cache(secs(10), secs(5), 100);
    c.get_or_load(&1, ok("good")).unwrap();
    clock.advance(secs(12));
    // Stale, and the reload fails: the last good value.
    assert_eq!(c.get_or_load(&1, down).unwrap(), "good");
    // get() never serves stale.
    assert_eq!(c.get(&1), None);
    clock.advance(secs(3) - NS); // 15 s - 1 ns old
    assert_eq!(c.get_or_load(&1, down).unwrap(), "good");
    clock.advance(NS); // exactly ttl + max_stale old
    assert_eq!(c.get_or_load(&1, down), Err(CacheError::Load("down")));
    let m = c.metrics();
    assert_eq!(
        (m.loads, m.load_failures, m.stale_served),
        (4, 3, 2),
        "{m:?}"
    );
    // A successful reload makes it fresh again.
    assert_eq!(c.get_or_load(&1, ok("new")).unwrap(), "new");
    assert_eq!(c.get(&1).as_deref(), Some("new"));
}

#[test]
fn without_max_stale_a_failed_reload_is_an_error() {
    let (c, clock) = cache(secs(10), Duration::ZERO, 100);
    c.get_or_load(&1, ok("good")).unwrap();
    clock.advance(secs(10));
    assert_eq!(c.get_or_load(&1, down), Err(CacheError::Load("down")));
    assert_eq!(c.metrics().stale_served, 0);
}

#[test]
fn a_failed_first_load_is_the_error_and_stores_nothing() {
    let (c, _clock) = cache(secs(10), secs(10), 100);
    assert_eq!(c.get_or_load(&1, down), Err(CacheError::Load("down")));
    assert!(c.is_empty());
    assert_eq!(c.get_or_load(&1, ok("x")).unwrap(), "x");
}

#[test]
fn a_full_cache_evicts_the_oldest_loaded_entry() {
    let (c, clock) = cache(secs(100), Duration::ZERO, 3);
    for k in 1..=3 {
        c.insert(k, format!("v{k}"));
        clock.advance(secs(1));
    }
    // A hit does not change the order (oldest-loaded, not LRU).
    assert_eq!(c.get(&1).as_deref(), Some("v1"));
    c.insert(4, "v4".into());
    assert_eq!(c.len(), 3);
    assert_eq!(c.get(&1), None);
    assert_eq!(c.get(&2).as_deref(), Some("v2"));
    // Reloading 2 makes it the newest: 3 goes next.
    c.insert(2, "v2'".into());
    c.insert(5, "v5".into());
    assert_eq!(c.get(&3), None);
    assert_eq!(c.get(&2).as_deref(), Some("v2'"));
    assert_eq!(c.get(&4).as_deref(), Some("v4"));
    assert_eq!(c.get(&5).as_deref(), Some("v5"));
    let m = c.metrics();
    assert_eq!((m.evictions, m.expired, m.len), (2, 0, 3));
}

#[test]
fn replacing_a_key_in_a_full_cache_evicts_nothing() {
    let (c, _clock) = cache(secs(100), Duration::ZERO, 2);
    c.insert(1, "a".into());
    c.insert(2, "b".into());
    c.insert(1, "a2".into());
    c.get_or_load(&2, ok("never")).unwrap();
    assert_eq!(c.metrics().evictions, 0);
    assert_eq!(c.len(), 2);
}

#[test]
fn entries_too_old_to_serve_are_dropped_before_anything_is_evicted() {
    let (c, clock) = cache(secs(10), secs(5), 3);
    c.insert(1, "old".into());
    clock.advance(secs(6));
    c.insert(2, "mid".into());
    clock.advance(secs(9)); // 1 is 15 s old: dead; 2 is 9 s old
    c.insert(3, "new".into());
    let m = c.metrics();
    assert_eq!((m.expired, m.evictions, m.len), (1, 0, 2));
    // 2 is still kept (and still fresh).
    assert_eq!(c.get(&2).as_deref(), Some("mid"));
}

#[test]
fn many_reloads_of_few_keys_keep_the_cache_bounded() {
    let (c, clock) = cache(secs(1), Duration::ZERO, 4);
    for round in 0..1_000u32 {
        let k = round % 6;
        c.get_or_load(&k, || Ok::<_, ()>(round.to_string()))
            .unwrap();
        clock.advance(Duration::from_millis(100));
        assert!(c.len() <= 4);
    }
    let m = c.metrics();
    assert_eq!(m.loads, 1_000);
    assert_eq!(m.evictions + m.expired, 1_000 - m.len as u64);
}

#[test]
fn invalidate_removes_the_value_and_the_stale_fallback() {
    let (c, clock) = cache(secs(10), secs(60), 100);
    c.get_or_load(&1, ok("v1")).unwrap();
    assert!(c.invalidate(&1));
    assert!(!c.invalidate(&1));
    assert_eq!(c.get(&1), None);
    // The write-side invalidation also means no stale value for a failing reload.
    clock.advance(secs(11));
    assert_eq!(c.get_or_load(&1, down), Err(CacheError::Load("down")));
    assert_eq!(c.get_or_load(&1, ok("v2")).unwrap(), "v2");
}

#[test]
fn clear_removes_everything() {
    let (c, _clock) = cache(secs(10), Duration::ZERO, 100);
    for k in 0..5 {
        c.insert(k, k.to_string());
    }
    c.clear();
    assert!(c.is_empty());
    assert_eq!(c.get_or_load(&3, ok("again")).unwrap(), "again");
    assert_eq!(c.len(), 1);
}

#[test]
fn sixteen_misses_of_one_key_load_once() {
    let (c, _clock) = cache(secs(10), Duration::ZERO, 100);
    let (tx, rx) = bounded(1);
    let runs = Arc::new(AtomicU32::new(0));
    let start = Arc::new(Barrier::new(16));
    let handles: Vec<_> = (0..16)
        .map(|_| {
            let c = c.clone();
            let loader = blocked_loader(rx.clone(), Arc::clone(&runs));
            let start = Arc::clone(&start);
            thread::spawn(move || {
                start.wait();
                c.get_or_load(&7, loader)
            })
        })
        .collect();
    // One thread runs its loader; the fifteen others join it and wait.
    wait_for_joiners(&c, 15, 1);
    tx.send(Ok("loaded once".to_string())).unwrap();
    for h in handles {
        assert_eq!(h.join().unwrap().unwrap(), "loaded once");
    }
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    let m: CacheMetrics = c.metrics();
    assert_eq!(
        (m.hits, m.misses, m.loads, m.coalesced, m.len),
        (0, 16, 1, 15, 1)
    );
}

#[test]
fn a_failed_shared_load_reaches_every_waiter() {
    let (c, _clock) = cache(secs(10), Duration::ZERO, 100);
    let (tx, rx) = bounded(1);
    let runs = Arc::new(AtomicU32::new(0));
    let handles: Vec<_> = (0..16)
        .map(|_| {
            let c = c.clone();
            let loader = blocked_loader(rx.clone(), Arc::clone(&runs));
            thread::spawn(move || c.get_or_load(&7, loader))
        })
        .collect();
    wait_for_joiners(&c, 15, 1);
    tx.send(Err("down")).unwrap();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let own = results
        .iter()
        .filter(|r| **r == Err(CacheError::Load("down")))
        .count();
    let shared = results
        .iter()
        .filter(|r| **r == Err(CacheError::SharedLoadFailed { panicked: false }))
        .count();
    assert_eq!((own, shared), (1, 15));
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    let m = c.metrics();
    assert_eq!((m.loads, m.load_failures, m.len), (1, 1, 0));
    // Nothing is left behind: the next miss loads again.
    assert_eq!(c.get_or_load(&7, ok("back")).unwrap(), "back");
}

#[test]
fn a_panicking_loader_wakes_its_waiters() {
    let (c, _clock) = cache(secs(10), Duration::ZERO, 100);
    let (release_tx, release_rx) = bounded::<()>(1);
    let leader = {
        let c = c.clone();
        thread::spawn(move || {
            catch_unwind(AssertUnwindSafe(|| {
                c.get_or_load(&1, || -> Result<String, ()> {
                    release_rx.recv().unwrap();
                    panic!("loader bug");
                })
            }))
            .is_err()
        })
    };
    while c.metrics().loads == 0 {
        thread::yield_now();
    }
    let waiters: Vec<_> = (0..4)
        .map(|_| {
            let c = c.clone();
            thread::spawn(move || c.get_or_load(&1, ok("unused")))
        })
        .collect();
    wait_for_joiners(&c, 4, 1);
    release_tx.send(()).unwrap();
    assert!(
        leader.join().unwrap(),
        "the panic must reach the loader's caller"
    );
    for w in waiters {
        assert_eq!(
            w.join().unwrap(),
            Err(CacheError::SharedLoadFailed { panicked: true })
        );
    }
    let m = c.metrics();
    assert_eq!((m.loads, m.load_failures, m.coalesced), (1, 1, 4));
    assert_eq!(c.get_or_load(&1, ok("fine")).unwrap(), "fine");
}

#[test]
fn waiters_of_a_failed_load_get_the_stale_value_within_max_stale() {
    let (c, clock) = cache(secs(10), secs(30), 100);
    c.get_or_load(&1, ok("last good")).unwrap();
    clock.advance(secs(20));
    let (tx, rx) = bounded(1);
    let runs = Arc::new(AtomicU32::new(0));
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let c = c.clone();
            let loader = blocked_loader(rx.clone(), Arc::clone(&runs));
            thread::spawn(move || c.get_or_load(&1, loader))
        })
        .collect();
    wait_for_joiners(&c, 7, 2);
    tx.send(Err("down")).unwrap();
    for h in handles {
        assert_eq!(h.join().unwrap().unwrap(), "last good");
    }
    let m = c.metrics();
    assert_eq!((m.loads, m.load_failures, m.stale_served), (2, 1, 8));
}

#[test]
fn a_panicking_loader_with_a_stale_value_serves_it_to_the_waiters() {
    let (c, clock) = cache(secs(10), secs(30), 100);
    c.insert(1, "last good".into());
    clock.advance(secs(15));
    let (release_tx, release_rx) = bounded::<()>(1);
    let leader = {
        let c = c.clone();
        thread::spawn(move || {
            catch_unwind(AssertUnwindSafe(|| {
                c.get_or_load(&1, || -> Result<String, ()> {
                    release_rx.recv().unwrap();
                    panic!("loader bug");
                })
            }))
            .is_err()
        })
    };
    while c.metrics().loads == 0 {
        thread::yield_now();
    }
    let waiter = {
        let c = c.clone();
        thread::spawn(move || c.get_or_load(&1, ok("unused")))
    };
    wait_for_joiners(&c, 1, 1);
    release_tx.send(()).unwrap();
    assert!(leader.join().unwrap());
    assert_eq!(waiter.join().unwrap().unwrap(), "last good");
}

#[test]
fn a_load_detached_by_invalidate_is_returned_but_not_stored() {
    let (c, _clock) = cache(secs(10), Duration::ZERO, 100);
    let (tx, rx) = bounded(1);
    let runs = Arc::new(AtomicU32::new(0));
    let reader = {
        let c = c.clone();
        let loader = blocked_loader(rx, Arc::clone(&runs));
        thread::spawn(move || c.get_or_load(&1, loader))
    };
    while runs.load(Ordering::SeqCst) == 0 {
        thread::yield_now();
    }
    // A write happens while the read's load is in flight, then invalidates.
    c.invalidate(&1);
    tx.send(Ok("read before the write".into())).unwrap();
    assert_eq!(reader.join().unwrap().unwrap(), "read before the write");
    assert_eq!(c.get(&1), None);
    assert!(c.is_empty());
}

#[test]
fn an_insert_during_a_load_wins() {
    let (c, _clock) = cache(secs(10), Duration::ZERO, 100);
    let (tx, rx) = bounded(1);
    let runs = Arc::new(AtomicU32::new(0));
    let reader = {
        let c = c.clone();
        let loader = blocked_loader(rx, Arc::clone(&runs));
        thread::spawn(move || c.get_or_load(&1, loader))
    };
    while runs.load(Ordering::SeqCst) == 0 {
        thread::yield_now();
    }
    c.insert(1, "written".into());
    // A new miss after the insert is a hit on the written value, not a join.
    assert_eq!(c.get_or_load(&1, ok("unused")).unwrap(), "written");
    tx.send(Ok("older read".into())).unwrap();
    assert_eq!(reader.join().unwrap().unwrap(), "older read");
    assert_eq!(c.get(&1).as_deref(), Some("written"));
}

#[test]
fn different_keys_load_in_parallel() {
    let (c, _clock) = cache(secs(10), Duration::ZERO, 100);
    let (tx, rx) = bounded(2);
    let runs = Arc::new(AtomicU32::new(0));
    let handles: Vec<_> = (1..=2)
        .map(|k| {
            let c = c.clone();
            let loader = blocked_loader(rx.clone(), Arc::clone(&runs));
            thread::spawn(move || c.get_or_load(&k, loader))
        })
        .collect();
    // Both loaders run at the same time (neither waits for the other).
    while runs.load(Ordering::SeqCst) < 2 {
        thread::yield_now();
    }
    tx.send(Ok("x".into())).unwrap();
    tx.send(Ok("x".into())).unwrap();
    for h in handles {
        assert_eq!(h.join().unwrap().unwrap(), "x");
    }
    assert_eq!(c.metrics().coalesced, 0);
}

#[test]
fn clones_share_the_cache_and_it_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync + Clone + 'static>() {}
    assert_send_sync::<Cache<String, Vec<u8>>>();
    let (c, _clock) = cache(secs(10), Duration::ZERO, 100);
    let d = c.clone();
    c.insert(1, "one".into());
    assert_eq!(d.get(&1).as_deref(), Some("one"));
}

#[test]
fn invalid_configurations_name_their_field() {
    let field = |b: breakwater::CacheBuilder<u8, u8>| b.build().unwrap_err().field;
    let b = Cache::<u8, u8>::builder;
    assert_eq!(field(b().ttl(Duration::ZERO)), "ttl");
    assert_eq!(field(b().ttl(Duration::MAX)), "ttl");
    assert_eq!(field(b().max_stale(Duration::MAX)), "max_stale");
    assert_eq!(
        field(b().ttl(Duration::from_nanos(u64::MAX)).max_stale(NS)),
        "max_stale"
    );
    assert_eq!(field(b().max_entries(0)), "max_entries");
    assert!(b().ttl(NS).max_entries(1).build().is_ok());
}
