//! The TTL cache for cache-aside: [`Cache`], with single-flight loading and stale-if-error.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::hash::Hash;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use crate::clock::{Clock, Monitor};
use crate::error::{ConfigError, PolicyKind};

/// Why [`Cache::get_or_load`] has no value to give.
///
/// # Examples
///
/// ```
/// use breakwater::{Cache, CacheError};
/// let cache: Cache<&str, u32> = Cache::builder().build().unwrap();
/// let e = cache.get_or_load(&"k", || Err("backend down")).unwrap_err();
/// assert!(matches!(e, CacheError::Load("backend down")));
/// assert_eq!(e.into_inner(), Some("backend down"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CacheError<E> {
    /// This call's own loader failed, and no value young enough to serve was held.
    #[error("cache load failed: {0}")]
    Load(#[source] E),
    /// This call waited for another caller's load of the same key; that load failed (or
    /// panicked), and no value young enough to serve was held. The loader's error went to
    /// the caller that ran it.
    #[error("the shared load this call waited for failed (panicked: {panicked})")]
    SharedLoadFailed {
        /// `true` when the loader panicked.
        panicked: bool,
    },
}

impl<E> CacheError<E> {
    /// The loader's error, when this call ran the loader.
    ///
    /// ```
    /// let e = breakwater::CacheError::<()>::SharedLoadFailed { panicked: true };
    /// assert_eq!(e.into_inner(), None);
    /// ```
    pub fn into_inner(self) -> Option<E> {
        match self {
            CacheError::Load(e) => Some(e),
            CacheError::SharedLoadFailed { .. } => None,
        }
    }
}

/// Counters and the size of a [`Cache`] (the counters only grow).
///
/// Every [`Cache::get`] and [`Cache::get_or_load`] is exactly one hit or one miss, and
/// every miss of `get_or_load` either runs a load or joins one:
/// `misses from get_or_load == loads + coalesced`.
///
/// # Examples
///
/// ```
/// let cache: breakwater::Cache<u8, u8> = breakwater::Cache::builder().build().unwrap();
/// cache.get_or_load(&1, || Ok::<_, ()>(10)).unwrap();
/// cache.get_or_load(&1, || Ok::<_, ()>(11)).unwrap();
/// let m = cache.metrics();
/// assert_eq!((m.hits, m.misses, m.loads, m.len), (1, 1, 1, 1));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheMetrics {
    /// Lookups answered with a fresh value.
    pub hits: u64,
    /// Lookups that found no fresh value.
    pub misses: u64,
    /// Loader runs.
    pub loads: u64,
    /// Loader runs that failed or panicked.
    pub load_failures: u64,
    /// Misses that waited for another caller's load instead of loading (single flight).
    pub coalesced: u64,
    /// Answers given with a stale value because a load failed (stale-if-error).
    pub stale_served: u64,
    /// Entries evicted to respect `max_entries`.
    pub evictions: u64,
    /// Entries dropped because they were too old even for stale-if-error.
    pub expired: u64,
    /// Values held now (fresh, or kept for stale-if-error).
    pub len: usize,
}

/// Builds a [`Cache`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// let cache: breakwater::Cache<String, Vec<u8>> = breakwater::Cache::builder()
///     .name("avatars")
///     .ttl(Duration::from_secs(300))
///     .max_stale(Duration::from_secs(60))
///     .max_entries(1_000)
///     .build()
///     .unwrap();
/// assert_eq!(cache.name(), "avatars");
/// ```
#[must_use = "a builder does nothing until `build` is called"]
pub struct CacheBuilder<K, V> {
    name: String,
    ttl: Duration,
    max_stale: Duration,
    max_entries: usize,
    clock: Clock,
    types: PhantomData<fn() -> (K, V)>,
}

impl<K, V> fmt::Debug for CacheBuilder<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CacheBuilder")
            .field("name", &self.name)
            .field("ttl", &self.ttl)
            .field("max_stale", &self.max_stale)
            .field("max_entries", &self.max_entries)
            .field("clock", &self.clock)
            .finish()
    }
}

impl<K, V> Clone for CacheBuilder<K, V> {
    fn clone(&self) -> Self {
        CacheBuilder {
            name: self.name.clone(),
            clock: self.clock.clone(),
            ..*self
        }
    }
}

impl<K, V> Default for CacheBuilder<K, V> {
    fn default() -> Self {
        CacheBuilder {
            name: "default".to_owned(),
            ttl: Duration::from_secs(60),
            max_stale: Duration::ZERO,
            max_entries: 10_000,
            clock: Clock::monotonic(),
            types: PhantomData,
        }
    }
}

impl<K, V> CacheBuilder<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// The cache's name (metrics, messages).
    ///
    /// ```
    /// let c: breakwater::Cache<u8, u8> = breakwater::Cache::builder().name("x").build().unwrap();
    /// assert_eq!(c.name(), "x");
    /// ```
    ///
    /// Defaults to `"default"`.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// How long a value stays fresh after its load finished (not zero).
    ///
    /// ```
    /// let c: breakwater::Cache<u8, u8> = breakwater::Cache::builder()
    ///     .ttl(std::time::Duration::from_secs(5)).build().unwrap();
    /// assert_eq!(c.ttl(), std::time::Duration::from_secs(5));
    /// ```
    ///
    /// Defaults to 60 s.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// How long after `ttl` a value may still be served when a reload fails
    /// (stale-if-error); zero never serves a stale value.
    ///
    /// ```
    /// let c: breakwater::Cache<u8, u8> = breakwater::Cache::builder()
    ///     .max_stale(std::time::Duration::from_secs(5)).build().unwrap();
    /// assert_eq!(c.max_stale(), std::time::Duration::from_secs(5));
    /// ```
    ///
    /// Defaults to zero.
    pub fn max_stale(mut self, max_stale: Duration) -> Self {
        self.max_stale = max_stale;
        self
    }

    /// How many values the cache holds at most (at least 1).
    ///
    /// ```
    /// let c: breakwater::Cache<u8, u8> = breakwater::Cache::builder().max_entries(2).build().unwrap();
    /// assert_eq!(c.max_entries(), 2);
    /// ```
    ///
    /// Defaults to 10 000.
    pub fn max_entries(mut self, max_entries: usize) -> Self {
        self.max_entries = max_entries;
        self
    }

    /// The clock that ages the values.
    ///
    /// ```
    /// let c: breakwater::Cache<u8, u8> = breakwater::Cache::builder()
    ///     .clock(breakwater::ManualClock::new()).build().unwrap();
    /// assert_eq!(c.len(), 0);
    /// ```
    ///
    /// Defaults to [`Clock::monotonic()`].
    pub fn clock(mut self, clock: impl Into<Clock>) -> Self {
        self.clock = clock.into();
        self
    }

    /// Builds the cache, empty.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the field: `ttl` zero or too long, `max_stale` too long
    /// (`ttl + max_stale` must fit in 2^64 nanoseconds), `max_entries` zero.
    ///
    /// ```
    /// let e = breakwater::Cache::<u8, u8>::builder().ttl(std::time::Duration::ZERO).build().unwrap_err();
    /// assert_eq!(e.field, "ttl");
    /// ```
    pub fn build(self) -> Result<Cache<K, V>, ConfigError> {
        let err = |field, msg: &str| ConfigError::new(PolicyKind::Cache, field, msg);
        let too_long = "must fit in 2^64 nanoseconds (about 584 years)";
        if self.ttl.is_zero() {
            return Err(err("ttl", "must be greater than zero"));
        }
        let ttl = u64::try_from(self.ttl.as_nanos()).map_err(|_| err("ttl", too_long))?;
        let max_stale =
            u64::try_from(self.max_stale.as_nanos()).map_err(|_| err("max_stale", too_long))?;
        let usable = ttl
            .checked_add(max_stale)
            .ok_or_else(|| err("max_stale", "plus ttl must fit in 2^64 nanoseconds"))?;
        if self.max_entries == 0 {
            return Err(err("max_entries", "must be at least 1"));
        }
        Ok(Cache {
            inner: Arc::new(Inner {
                monitor: Monitor::new(State {
                    entries: HashMap::new(),
                    order: VecDeque::new(),
                    loading: HashMap::new(),
                    flights: HashMap::new(),
                    next_seq: 0,
                    counts: CacheMetrics::default(),
                }),
                clock: self.clock,
                ttl,
                usable,
                max_entries: self.max_entries,
                name: self.name,
            }),
        })
    }
}

/// A TTL cache for the cache-aside pattern: [`Cache::get_or_load`] with single-flight
/// loading, stale-if-error, a `max_entries` bound and invalidation on write. Clones share
/// the cache; it is `Send + Sync`; a hit takes one short lock and allocates nothing
/// beyond what cloning the value allocates.
///
/// # Freshness
///
/// A value is *fresh* while it is younger than `ttl`, counted from the moment its load
/// finished (or it was inserted), on the cache's [`Clock`]. A fresh value is a hit.
/// After `ttl` the value is kept a further `max_stale` (stale-if-error): when a reload
/// fails, the last good value is served while it is younger than `ttl + max_stale`;
/// after that, the error is returned. `max_stale` defaults to zero (no stale serving).
///
/// # Single flight
///
/// Concurrent misses of one key run the loader **once**: the first caller runs its
/// loader (outside the cache's lock), the others wait on the cache's
/// [`Monitor`] and all get that load's outcome:
///
/// | the load | the loader's caller gets | every waiter gets |
/// | --- | --- | --- |
/// | succeeds with `v` | `Ok(v)` | `Ok(v)` |
/// | fails, a value younger than `ttl + max_stale` is held | `Ok(stale)` | `Ok(stale)` |
/// | fails, no such value | `Err(CacheError::Load(e))` | `Err(CacheError::SharedLoadFailed { panicked: false })` |
/// | panics, a value younger than `ttl + max_stale` is held | the panic (it keeps unwinding) | `Ok(stale)` |
/// | panics, no such value | the panic | `Err(CacheError::SharedLoadFailed { panicked: true })` |
///
/// Waiters never re-run a failed load themselves: against a failing backend, `n`
/// waiters would otherwise make `n` loads in a row, each waiting for the one before.
/// The loader's error value goes to its own caller only (callers of one key may even use
/// different error types).
///
/// Waiters wait as long as the load runs: bound the loader itself (a time limiter, a
/// deadline pushed into its I/O) if it can hang. A loader must not load its own key
/// through the same cache (it would wait for itself).
///
/// # Bound and eviction
///
/// At most `max_entries` values are held. Storing a new key into a full cache evicts the
/// **oldest-loaded** entry. Since every entry has the same TTL, the oldest-loaded entry
/// is also the first to expire, so this evicts expired entries first, then the ones
/// closest to expiring; and it costs a hit nothing (a hit writes no ordering state).
/// Entries too old even for stale-if-error (older than `ttl + max_stale`) are dropped
/// whenever a value is stored (counted in `expired`), so the cache does not keep dead
/// values around.
///
/// # Invalidation
///
/// [`Cache::invalidate`] (and [`Cache::insert`], [`Cache::clear`]) also detach a load in
/// flight for that key: its result still goes to the callers that were waiting for it,
/// but it is not stored, so a value read before a write cannot overwrite the
/// invalidation that followed the write.
///
/// # Examples
///
/// ```
/// use breakwater::{Cache, ManualClock};
/// use std::time::Duration;
///
/// let clock = ManualClock::new();
/// let cache: Cache<u32, String> = Cache::builder()
///     .ttl(Duration::from_secs(30))
///     .clock(clock.clone())
///     .build()
///     .unwrap();
/// let user = cache.get_or_load(&7, || Ok::<_, std::io::Error>("ada".to_string())).unwrap();
/// assert_eq!(user, "ada");
/// assert_eq!(cache.get(&7).as_deref(), Some("ada"));
/// clock.advance(Duration::from_secs(30));
/// assert_eq!(cache.get(&7), None); // expired
/// ```
///
/// Cache-aside with invalidation on write:
///
/// ```
/// use breakwater::Cache;
/// use std::collections::HashMap;
/// use std::sync::Mutex;
///
/// let db = Mutex::new(HashMap::from([(1, "v1")]));
/// let cache: Cache<i32, &str> = Cache::builder().build().unwrap();
/// let read = |k: i32| cache.get_or_load(&k, || Ok::<_, ()>(db.lock().unwrap()[&k]));
/// assert_eq!(read(1).unwrap(), "v1");
/// db.lock().unwrap().insert(1, "v2"); // a write...
/// cache.invalidate(&1);                // ...invalidates
/// assert_eq!(read(1).unwrap(), "v2");
/// ```
pub struct Cache<K, V> {
    inner: Arc<Inner<K, V>>,
}

struct Inner<K, V> {
    monitor: Arc<Monitor<State<K, V>>>,
    clock: Clock,
    /// `ttl` in nanoseconds.
    ttl: u64,
    /// `ttl + max_stale` in nanoseconds: how long a value may be served at all.
    usable: u64,
    max_entries: usize,
    name: String,
}

/// Everything behind the cache's lock.
struct State<K, V> {
    entries: HashMap<K, Entry<V>>,
    /// `(key, seq)` in load order; a record is live when `entries[key].seq == seq`,
    /// otherwise garbage (the key was reloaded or removed), skipped and compacted.
    order: VecDeque<(K, u64)>,
    /// The load in flight that new misses of a key join.
    loading: HashMap<K, u64>,
    /// Loads in flight or finished with waiters still to collect their outcome, by id.
    flights: HashMap<u64, Flight<V>>,
    /// Source of entry sequence numbers and flight ids.
    next_seq: u64,
    counts: CacheMetrics,
}

struct Entry<V> {
    value: V,
    loaded_at: u64,
    seq: u64,
}

struct Flight<V> {
    waiters: usize,
    outcome: Option<Outcome<V>>,
}

#[derive(Clone)]
enum Outcome<V> {
    Loaded(V),
    Stale(V),
    Failed { panicked: bool },
}

impl<K, V> Clone for Cache<K, V> {
    fn clone(&self) -> Self {
        Cache {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<K, V> fmt::Debug for Cache<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cache")
            .field("name", &self.inner.name)
            .field("ttl", &Duration::from_nanos(self.inner.ttl))
            .field("max_entries", &self.inner.max_entries)
            .finish_non_exhaustive()
    }
}

impl<K, V> Cache<K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// A builder with the defaults (TTL 60 s, no stale serving, 10 000 entries,
    /// monotonic clock).
    ///
    /// ```
    /// let c: breakwater::Cache<String, u64> = breakwater::Cache::builder().build().unwrap();
    /// assert!(c.is_empty());
    /// ```
    pub fn builder() -> CacheBuilder<K, V> {
        CacheBuilder::default()
    }

    /// The cache's name.
    ///
    /// ```
    /// let c: breakwater::Cache<u8, u8> = breakwater::Cache::builder().build().unwrap();
    /// assert_eq!(c.name(), "default");
    /// ```
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The configured time to live.
    ///
    /// ```
    /// let c: breakwater::Cache<u8, u8> = breakwater::Cache::builder().build().unwrap();
    /// assert_eq!(c.ttl(), std::time::Duration::from_secs(60));
    /// ```
    pub fn ttl(&self) -> Duration {
        Duration::from_nanos(self.inner.ttl)
    }

    /// The configured stale-if-error window after `ttl`.
    ///
    /// ```
    /// let c: breakwater::Cache<u8, u8> = breakwater::Cache::builder().build().unwrap();
    /// assert_eq!(c.max_stale(), std::time::Duration::ZERO);
    /// ```
    pub fn max_stale(&self) -> Duration {
        Duration::from_nanos(self.inner.usable - self.inner.ttl)
    }

    /// The configured bound on the number of values held.
    ///
    /// ```
    /// let c: breakwater::Cache<u8, u8> = breakwater::Cache::builder().build().unwrap();
    /// assert_eq!(c.max_entries(), 10_000);
    /// ```
    pub fn max_entries(&self) -> usize {
        self.inner.max_entries
    }

    /// The fresh value of `key`, or loads it with `loader` (once for all the concurrent
    /// misses of `key`; see [`Cache`]).
    ///
    /// # Errors
    ///
    /// [`CacheError::Load`] with the loader's error when this call's loader failed, or
    /// [`CacheError::SharedLoadFailed`] when the load this call waited for failed; in
    /// both cases only when no value younger than `ttl + max_stale` was held.
    ///
    /// # Panics
    ///
    /// When `loader` panics, the panic keeps unwinding out of this call (the callers
    /// waiting for that load are woken first).
    ///
    /// ```
    /// let cache: breakwater::Cache<&str, usize> = breakwater::Cache::builder().build().unwrap();
    /// assert_eq!(cache.get_or_load(&"abc", || Ok::<_, ()>("abc".len())).unwrap(), 3);
    /// assert_eq!(cache.get_or_load(&"abc", || Err(())).unwrap(), 3); // fresh: no load
    /// ```
    pub fn get_or_load<E>(
        &self,
        key: &K,
        loader: impl FnOnce() -> Result<V, E>,
    ) -> Result<V, CacheError<E>> {
        let inner = &*self.inner;
        let mut st = inner.monitor.lock();
        let now = inner.clock.nanos();
        if let Some(v) = self.fresh(&st, key, now) {
            st.counts.hits += 1;
            return Ok(v);
        }
        st.counts.misses += 1;

        if let Some(&id) = st.loading.get(key) {
            // Join the load in flight.
            st.counts.coalesced += 1;
            if let Some(flight) = st.flights.get_mut(&id) {
                flight.waiters += 1;
            }
            let outcome = loop {
                match st.flights.get_mut(&id) {
                    // Unreachable: a flight with waiters is kept until they collect.
                    None => break None,
                    Some(flight) if flight.outcome.is_none() => {}
                    Some(flight) => {
                        flight.waiters -= 1;
                        if flight.waiters > 0 {
                            break flight.outcome.clone();
                        }
                        break st.flights.remove(&id).and_then(|f| f.outcome);
                    }
                }
                st = inner.monitor.wait(st);
            };
            return match outcome {
                Some(Outcome::Loaded(v)) => Ok(v),
                Some(Outcome::Stale(v)) => {
                    st.counts.stale_served += 1;
                    Ok(v)
                }
                Some(Outcome::Failed { panicked }) => {
                    Err(CacheError::SharedLoadFailed { panicked })
                }
                None => Err(CacheError::SharedLoadFailed { panicked: false }),
            };
        }

        // Lead a new load.
        let id = st.next_seq;
        st.next_seq += 1;
        st.loading.insert(key.clone(), id);
        st.flights.insert(
            id,
            Flight {
                waiters: 0,
                outcome: None,
            },
        );
        st.counts.loads += 1;
        drop(st);

        let mut guard = LoadGuard {
            cache: self,
            key,
            id,
            armed: true,
        };
        let result = loader();
        guard.armed = false;
        match self.finish(key, id, result.map_err(Some)) {
            Ok(v) => Ok(v),
            Err(Some(e)) => Err(CacheError::Load(e)),
            Err(None) => Err(CacheError::SharedLoadFailed { panicked: true }),
        }
    }

    /// Ends load `id` of `key` with `result` (`Err(None)`: the loader panicked): stores
    /// the value when the load is still current, hands the outcome to the load's waiters,
    /// and returns the answer for the loader's own caller: the value, the stale value
    /// after a failure if one is young enough, or the failure.
    fn finish<E>(&self, key: &K, id: u64, result: Result<V, Option<E>>) -> Result<V, Option<E>> {
        let inner = &*self.inner;
        let mut st = inner.monitor.lock();
        let now = inner.clock.nanos();
        let current = st.loading.get(key) == Some(&id);
        if current {
            st.loading.remove(key);
        }
        let (outcome, error) = match result {
            Ok(v) => {
                if current {
                    self.store(&mut st, key.clone(), v.clone(), now);
                }
                (Outcome::Loaded(v), None)
            }
            Err(error) => {
                st.counts.load_failures += 1;
                let outcome = match self.usable(&st, key, now) {
                    Some(v) => Outcome::Stale(v),
                    None => Outcome::Failed {
                        panicked: error.is_none(),
                    },
                };
                (outcome, error)
            }
        };
        let mut has_waiters = false;
        if let Some(flight) = st.flights.get_mut(&id) {
            if flight.waiters == 0 {
                st.flights.remove(&id);
            } else {
                flight.outcome = Some(outcome.clone());
                has_waiters = true;
            }
        }
        let mine = match outcome {
            Outcome::Loaded(v) => Ok(v),
            Outcome::Stale(v) => {
                st.counts.stale_served += 1;
                Ok(v)
            }
            Outcome::Failed { .. } => Err(error),
        };
        drop(st);
        if has_waiters {
            inner.monitor.notify_all();
        }
        mine
    }

    /// The value of `key` if it is fresh at `now`.
    fn fresh(&self, st: &State<K, V>, key: &K, now: u64) -> Option<V> {
        st.entries
            .get(key)
            .filter(|e| now.saturating_sub(e.loaded_at) < self.inner.ttl)
            .map(|e| e.value.clone())
    }

    /// The value of `key` if it may still be served at `now` (fresh or stale).
    fn usable(&self, st: &State<K, V>, key: &K, now: u64) -> Option<V> {
        st.entries
            .get(key)
            .filter(|e| now.saturating_sub(e.loaded_at) < self.inner.usable)
            .map(|e| e.value.clone())
    }

    /// Stores `value` for `key`, loaded at `now`: drops dead entries, evicts the
    /// oldest-loaded ones while the cache is full, and records the load order.
    fn store(&self, st: &mut State<K, V>, key: K, value: V, now: u64) {
        let inner = &*self.inner;
        st.entries.remove(&key);
        // Drop what is too old to serve at all, from the oldest load on.
        while let Some((k, seq)) = st.order.front() {
            match st.entries.get(k) {
                Some(e) if e.seq == *seq => {
                    if now.saturating_sub(e.loaded_at) < inner.usable {
                        break;
                    }
                    st.entries.remove(k);
                    st.counts.expired += 1;
                }
                _ => {}
            }
            st.order.pop_front();
        }
        // Make room: evict the oldest-loaded entries.
        while st.entries.len() >= inner.max_entries {
            let Some((k, seq)) = st.order.pop_front() else {
                break;
            };
            if st.entries.get(&k).is_some_and(|e| e.seq == seq) {
                st.entries.remove(&k);
                st.counts.evictions += 1;
            }
        }
        let seq = st.next_seq;
        st.next_seq += 1;
        st.order.push_back((key.clone(), seq));
        st.entries.insert(
            key,
            Entry {
                value,
                loaded_at: now,
                seq,
            },
        );
        // Garbage records (reloaded or removed keys) are compacted away once they
        // outnumber the live ones, so the queue stays within twice the entries.
        if st.order.len() > 2 * st.entries.len() + 16 {
            let State { order, entries, .. } = st;
            order.retain(|(k, s)| entries.get(k).is_some_and(|e| e.seq == *s));
        }
    }

    /// The fresh value of `key`, if any (never a stale one; never loads).
    ///
    /// ```
    /// let cache: breakwater::Cache<u8, &str> = breakwater::Cache::builder().build().unwrap();
    /// assert_eq!(cache.get(&1), None);
    /// cache.insert(1, "one");
    /// assert_eq!(cache.get(&1), Some("one"));
    /// ```
    pub fn get(&self, key: &K) -> Option<V> {
        let mut st = self.inner.monitor.lock();
        let now = self.inner.clock.nanos();
        let v = self.fresh(&st, key, now);
        if v.is_some() {
            st.counts.hits += 1;
        } else {
            st.counts.misses += 1;
        }
        v
    }

    /// Stores `value` for `key` as freshly loaded now (write-through). A load of `key` in
    /// flight is detached: its result is not stored over this value.
    ///
    /// ```
    /// let cache: breakwater::Cache<u8, u8> = breakwater::Cache::builder().build().unwrap();
    /// cache.insert(1, 10);
    /// cache.insert(1, 11);
    /// assert_eq!((cache.get(&1), cache.len()), (Some(11), 1));
    /// ```
    pub fn insert(&self, key: K, value: V) {
        let mut st = self.inner.monitor.lock();
        let now = self.inner.clock.nanos();
        st.loading.remove(&key);
        self.store(&mut st, key, value, now);
    }

    /// Removes the value of `key` (also from stale-if-error) and detaches a load of `key`
    /// in flight; `true` if a value was held.
    ///
    /// ```
    /// let cache: breakwater::Cache<u8, u8> = breakwater::Cache::builder().build().unwrap();
    /// cache.insert(1, 10);
    /// assert!(cache.invalidate(&1));
    /// assert!(!cache.invalidate(&1));
    /// assert_eq!(cache.get(&1), None);
    /// ```
    pub fn invalidate(&self, key: &K) -> bool {
        let mut st = self.inner.monitor.lock();
        st.loading.remove(key);
        st.entries.remove(key).is_some()
    }

    /// Removes every value and detaches every load in flight.
    ///
    /// ```
    /// let cache: breakwater::Cache<u8, u8> = breakwater::Cache::builder().build().unwrap();
    /// cache.insert(1, 10);
    /// cache.insert(2, 20);
    /// cache.clear();
    /// assert!(cache.is_empty());
    /// ```
    pub fn clear(&self) {
        let mut st = self.inner.monitor.lock();
        st.entries.clear();
        st.order.clear();
        st.loading.clear();
    }

    /// How many values are held (fresh ones, and expired ones still kept for
    /// stale-if-error or not yet dropped).
    ///
    /// ```
    /// let cache: breakwater::Cache<u8, u8> = breakwater::Cache::builder().build().unwrap();
    /// cache.insert(1, 10);
    /// assert_eq!(cache.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.inner.monitor.lock().entries.len()
    }

    /// `true` when no value is held.
    ///
    /// ```
    /// let cache: breakwater::Cache<u8, u8> = breakwater::Cache::builder().build().unwrap();
    /// assert!(cache.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The counters and the current size.
    ///
    /// ```
    /// let cache: breakwater::Cache<u8, u8> = breakwater::Cache::builder().build().unwrap();
    /// assert_eq!(cache.get(&1), None);
    /// assert_eq!(cache.metrics().misses, 1);
    /// ```
    pub fn metrics(&self) -> CacheMetrics {
        let st = self.inner.monitor.lock();
        CacheMetrics {
            len: st.entries.len(),
            ..st.counts
        }
    }
}

/// Ends a load as panicked when its loader unwinds, so that its waiters are woken.
struct LoadGuard<'a, K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    cache: &'a Cache<K, V>,
    key: &'a K,
    id: u64,
    armed: bool,
}

impl<K, V> Drop for LoadGuard<'_, K, V>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    fn drop(&mut self) {
        if self.armed {
            // The panic keeps unwinding; this only wakes the waiters.
            let _ = self.cache.finish::<()>(self.key, self.id, Err(None));
        }
    }
}

#[cfg(all(test, breakwater_loom))]
mod loom_tests {
    use super::*;
    use crate::ManualClock;

    fn cache() -> Cache<u8, u32> {
        Cache::builder().clock(ManualClock::new()).build().unwrap()
    }

    #[test]
    fn loom_two_misses_of_one_key_load_once() {
        loom::model(|| {
            let c = cache();
            let c2 = c.clone();
            let t = loom::thread::spawn(move || c2.get_or_load(&1, || Ok::<_, ()>(7)));
            let mine = c.get_or_load(&1, || Ok::<_, ()>(7));
            assert_eq!(mine, Ok(7));
            assert_eq!(t.join().unwrap(), Ok(7));
            assert_eq!(c.metrics().loads, 1);
        });
    }

    #[test]
    fn loom_failed_load_wakes_its_waiter() {
        loom::model(|| {
            let c = cache();
            let c2 = c.clone();
            let t = loom::thread::spawn(move || c2.get_or_load(&1, || Err::<u32, _>("down")));
            let mine = c.get_or_load(&1, || Err::<u32, _>("down"));
            let theirs = t.join().unwrap();
            // Either both loaded (one after the other) or one waited for the other.
            let m = c.metrics();
            assert_eq!(m.loads + m.coalesced, 2);
            for r in [mine, theirs] {
                assert!(matches!(
                    r,
                    Err(CacheError::Load("down"))
                        | Err(CacheError::SharedLoadFailed { panicked: false })
                ));
            }
        });
    }
}
