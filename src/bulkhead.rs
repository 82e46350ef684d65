//! The semaphore bulkhead: at most `max_concurrent` calls in flight, callers beyond that wait (first come, first served) for at most `max_wait`, or are refused at once. See [`Bulkhead`].

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::clock::{Clock, Monitor};
use crate::ctx::CancelToken;
use crate::error::{ConfigError, Error, PolicyKind, RejectReason};
use crate::registry::Registry;
use crate::sync::Mutex;

/// The configuration of a [`Bulkhead`].
///
/// # Examples
///
/// ```
/// use breakwater::BulkheadConfig;
/// use std::time::Duration;
///
/// let config = BulkheadConfig {
///     max_concurrent: 20,
///     max_wait: Duration::from_millis(50),
///     ..BulkheadConfig::default()
/// };
/// assert_eq!(config.max_concurrent, 20);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkheadConfig {
    /// The bulkhead's name (metrics, messages). Empty means `"bulkhead"`; the registry
    /// uses its own name for the instances it builds.
    pub name: String,
    /// How many calls may be in flight at once (at least 1).
    pub max_concurrent: u32,
    /// How long [`Bulkhead::acquire`] and [`Bulkhead::call`] wait for a permit; zero fails
    /// fast.
    pub max_wait: Duration,
}

impl Default for BulkheadConfig {
    /// 25 concurrent calls, no waiting (resilience4j's defaults), no name.
    fn default() -> Self {
        BulkheadConfig {
            name: String::new(),
            max_concurrent: 25,
            max_wait: Duration::ZERO,
        }
    }
}

/// Refused: no permit was free (within the wait), or the wait was cancelled.
///
/// Converts into [`Error::Rejected`] with policy [`PolicyKind::Bulkhead`] and reason
/// [`RejectReason::BulkheadFull`] ([`RejectReason::Cancelled`] for a cancelled wait).
///
/// # Examples
///
/// ```
/// use breakwater::{Error, PolicyKind, RejectReason, Bulkhead};
///
/// let b = Bulkhead::builder().max_concurrent(1).build()?;
/// let _p = b.try_acquire()?;
/// let full = b.try_acquire().unwrap_err();
/// assert_eq!(full.max_concurrent(), 1);
/// let e: Error<()> = full.into();
/// assert!(matches!(e, Error::Rejected { policy: PolicyKind::Bulkhead, reason: RejectReason::BulkheadFull, .. }));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BulkheadFull {
    max_concurrent: u32,
    cancelled: bool,
}

impl BulkheadFull {
    /// The bulkhead's `max_concurrent`.
    ///
    /// ```
    /// let b = breakwater::Bulkhead::builder().max_concurrent(3).build()?;
    /// let _p: Vec<_> = (0..3).map(|_| b.try_acquire().unwrap()).collect();
    /// assert_eq!(b.try_acquire().unwrap_err().max_concurrent(), 3);
    /// # Ok::<(), breakwater::ConfigError>(())
    /// ```
    pub fn max_concurrent(&self) -> u32 {
        self.max_concurrent
    }

    /// `true` when the wait ended because its cancellation token was cancelled.
    ///
    /// ```
    /// let b = breakwater::Bulkhead::builder().max_concurrent(1).build()?;
    /// let _p = b.try_acquire().unwrap();
    /// let token = breakwater::CancelToken::new();
    /// token.cancel();
    /// assert!(b.acquire_cancellable(None, Some(&token)).unwrap_err().is_cancelled());
    /// # Ok::<(), breakwater::ConfigError>(())
    /// ```
    pub fn is_cancelled(&self) -> bool {
        self.cancelled
    }
}

impl fmt::Display for BulkheadFull {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.cancelled {
            f.write_str("bulkhead wait cancelled")
        } else {
            write!(f, "bulkhead full ({} in flight)", self.max_concurrent)
        }
    }
}

impl std::error::Error for BulkheadFull {}

impl<E> From<BulkheadFull> for Error<E> {
    fn from(full: BulkheadFull) -> Error<E> {
        Error::Rejected {
            policy: PolicyKind::Bulkhead,
            reason: if full.cancelled {
                RejectReason::Cancelled
            } else {
                RejectReason::BulkheadFull
            },
            retry_after: None,
        }
    }
}

/// A snapshot of a bulkhead's counters.
///
/// # Examples
///
/// ```
/// let b = breakwater::Bulkhead::builder().max_concurrent(4).build()?;
/// let _p = b.try_acquire()?;
/// let m = b.metrics();
/// assert_eq!((m.max, m.available, m.in_use, m.acquired), (4, 3, 1, 1));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct BulkheadMetrics {
    /// `max_concurrent`.
    pub max: u32,
    /// Permits free now.
    pub available: u32,
    /// Permits held now.
    pub in_use: u32,
    /// Callers waiting for a permit now.
    pub waiting: u32,
    /// Acquisitions refused (full, timed out or cancelled), in total.
    pub rejected: u64,
    /// The highest `in_use` seen.
    pub peak: u32,
    /// Permits granted, in total.
    pub acquired: u64,
}

/// A waiter's own parking place: the releaser sets `granted` and wakes only this waiter.
#[derive(Debug, Default)]
struct Waiter {
    granted: bool,
}

type WaiterNode = Arc<Monitor<Waiter>>;

/// The semaphore's state, guarded by one mutex.
///
/// Invariants: `available + in_use == max`; `available > 0` implies `queue` is empty
/// (a release hands its permit to the oldest waiter instead of making it available);
/// a granted waiter is already counted in `in_use`.
#[derive(Debug)]
struct State {
    available: u32,
    in_use: u32,
    /// Permits taken through [`Bulkhead::acquire_raw`] and not yet released raw.
    raw_held: u32,
    queue: VecDeque<WaiterNode>,
    rejected: u64,
    peak: u32,
    acquired: u64,
}

impl State {
    #[inline]
    fn grant(&mut self) {
        self.available -= 1;
        self.in_use += 1;
        self.acquired += 1;
        if self.in_use > self.peak {
            self.peak = self.in_use;
        }
    }
}

struct Inner {
    name: String,
    config: BulkheadConfig,
    clock: Clock,
    state: Mutex<State>,
}

/// A semaphore bulkhead. Cloning is cheap; clones share the permits.
///
/// # Fairness
///
/// Waiting is FIFO with hand-off: every waiter parks on its own monitor in a queue, and a
/// released permit goes straight to the oldest waiter (it never becomes "available" for a
/// newcomer to grab, and only that one waiter is woken: no thundering herd). A caller that
/// finds no free permit never overtakes a waiter, since a free permit and a waiting
/// caller never exist at the same time.
///
/// # Time
///
/// Timed waits go through the bulkhead's [`Clock`]: on a [`ManualClock`](crate::ManualClock)
/// an `acquire_timeout` wakes when another thread advances the clock past its deadline.
///
/// # Examples
///
/// ```
/// use breakwater::Bulkhead;
///
/// let bulkhead = Bulkhead::builder().name("db").max_concurrent(2).build()?;
/// let a = bulkhead.try_acquire()?;
/// let _b = bulkhead.try_acquire()?;
/// assert!(bulkhead.try_acquire().is_err()); // full: fails fast
/// drop(a); // released on drop
/// assert!(bulkhead.try_acquire().is_ok());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Examples
///
/// ```
/// use breakwater::{Error, Bulkhead};
///
/// let bulkhead = Bulkhead::builder().name("payments").max_concurrent(10).build()?;
/// let r: Result<u32, Error<std::io::Error>> = bulkhead.call(|| Ok(7));
/// assert_eq!(r.unwrap(), 7);
/// assert_eq!(bulkhead.metrics().in_use, 0);
/// # Ok::<(), breakwater::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct Bulkhead {
    inner: Arc<Inner>,
}

impl fmt::Debug for Bulkhead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bulkhead")
            .field("name", &self.inner.name)
            .field("metrics", &self.metrics())
            .finish()
    }
}

/// Builds a [`Bulkhead`].
///
/// # Examples
///
/// ```
/// use breakwater::{ManualClock, Bulkhead};
/// use std::time::Duration;
///
/// let b = Bulkhead::builder()
///     .name("search")
///     .max_concurrent(8)
///     .max_wait(Duration::from_millis(20))
///     .clock(ManualClock::new().into())
///     .build()?;
/// assert_eq!(b.name(), "search");
/// # Ok::<(), breakwater::ConfigError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct BulkheadBuilder {
    config: BulkheadConfig,
    clock: Clock,
}

impl BulkheadBuilder {
    /// The name.
    ///
    /// ```
    /// let b = breakwater::Bulkhead::builder().name("x").build()?;
    /// assert_eq!(b.name(), "x");
    /// # Ok::<(), breakwater::ConfigError>(())
    /// ```
    ///
    /// Defaults to `"bulkhead"`.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.config.name = name.into();
        self
    }

    /// How many calls may be in flight at once; 0 is refused by [`BulkheadBuilder::build`].
    ///
    /// ```
    /// let b = breakwater::Bulkhead::builder().max_concurrent(3).build()?;
    /// assert_eq!(b.metrics().max, 3);
    /// # Ok::<(), breakwater::ConfigError>(())
    /// ```
    ///
    /// Defaults to 25.
    pub fn max_concurrent(mut self, max: u32) -> Self {
        self.config.max_concurrent = max;
        self
    }

    /// How long [`Bulkhead::acquire`] and [`Bulkhead::call`] wait for a permit; zero
    /// fails fast.
    ///
    /// ```
    /// let b = breakwater::Bulkhead::builder()
    ///     .max_wait(std::time::Duration::from_millis(5))
    ///     .build()?;
    /// assert_eq!(b.config().max_wait, std::time::Duration::from_millis(5));
    /// # Ok::<(), breakwater::ConfigError>(())
    /// ```
    ///
    /// Defaults to zero (fail fast).
    pub fn max_wait(mut self, max_wait: Duration) -> Self {
        self.config.max_wait = max_wait;
        self
    }

    /// The whole configuration at once (replaces earlier setters' values).
    ///
    /// ```
    /// use breakwater::{Bulkhead, BulkheadConfig};
    /// let config = BulkheadConfig { max_concurrent: 2, ..Default::default() };
    /// let b = Bulkhead::builder().config(config.clone()).build()?;
    /// assert_eq!(b.config().max_concurrent, 2);
    /// # Ok::<(), breakwater::ConfigError>(())
    /// ```
    ///
    /// Defaults to [`BulkheadConfig::default`].
    pub fn config(mut self, config: BulkheadConfig) -> Self {
        self.config = config;
        self
    }

    /// The clock that timed waits go through.
    ///
    /// ```
    /// let b = breakwater::Bulkhead::builder()
    ///     .clock(breakwater::ManualClock::new().into())
    ///     .build()?;
    /// assert!(b.clock().is_manual());
    /// # Ok::<(), breakwater::ConfigError>(())
    /// ```
    ///
    /// Defaults to the monotonic clock.
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Builds the bulkhead.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming `max_concurrent` when it is 0, or `max_wait` when it is
    /// too large to add to an `Instant`.
    ///
    /// ```
    /// let e = breakwater::Bulkhead::builder().max_concurrent(0).build().unwrap_err();
    /// assert_eq!(e.field, "max_concurrent");
    /// ```
    pub fn build(self) -> Result<Bulkhead, ConfigError> {
        let config = self.config;
        if config.max_concurrent == 0 {
            return Err(ConfigError::new(
                PolicyKind::Bulkhead,
                "max_concurrent",
                "must be at least 1",
            ));
        }
        check_duration(PolicyKind::Bulkhead, "max_wait", config.max_wait)?;
        let name = if config.name.is_empty() {
            "bulkhead".to_owned()
        } else {
            config.name.clone()
        };
        let state = State {
            available: config.max_concurrent,
            in_use: 0,
            raw_held: 0,
            queue: VecDeque::new(),
            rejected: 0,
            peak: 0,
            acquired: 0,
        };
        Ok(Bulkhead {
            inner: Arc::new(Inner {
                name,
                config,
                clock: self.clock,
                state: Mutex::new(state),
            }),
        })
    }
}

/// Refuses a duration that cannot be added to an `Instant` (it would overflow).
pub(crate) fn check_duration(
    policy: PolicyKind,
    field: &'static str,
    d: Duration,
) -> Result<(), ConfigError> {
    if Instant::now().checked_add(d).is_none() {
        return Err(ConfigError::new(
            policy,
            field,
            format!("{d:?} is too large (it overflows a deadline)"),
        ));
    }
    Ok(())
}

impl Bulkhead {
    /// A builder with the default configuration.
    ///
    /// ```
    /// let b = breakwater::Bulkhead::builder().build()?;
    /// assert_eq!(b.metrics().max, 25);
    /// # Ok::<(), breakwater::ConfigError>(())
    /// ```
    pub fn builder() -> BulkheadBuilder {
        BulkheadBuilder::default()
    }

    /// A bulkhead on the monotonic clock from `config`.
    ///
    /// # Errors
    ///
    /// See [`BulkheadBuilder::build`].
    ///
    /// ```
    /// use breakwater::{Bulkhead, BulkheadConfig};
    /// let b = Bulkhead::from_config(BulkheadConfig { max_concurrent: 5, ..Default::default() })?;
    /// assert_eq!(b.metrics().available, 5);
    /// # Ok::<(), breakwater::ConfigError>(())
    /// ```
    pub fn from_config(config: BulkheadConfig) -> Result<Bulkhead, ConfigError> {
        Bulkhead::builder().config(config).build()
    }

    /// The bulkhead's name.
    ///
    /// ```
    /// assert_eq!(breakwater::Bulkhead::builder().build()?.name(), "bulkhead");
    /// # Ok::<(), breakwater::ConfigError>(())
    /// ```
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The configuration it was built with.
    ///
    /// ```
    /// let b = breakwater::Bulkhead::builder().max_concurrent(9).build()?;
    /// assert_eq!(b.config().max_concurrent, 9);
    /// # Ok::<(), breakwater::ConfigError>(())
    /// ```
    pub fn config(&self) -> &BulkheadConfig {
        &self.inner.config
    }

    /// The clock its timed waits go through.
    ///
    /// ```
    /// assert!(!breakwater::Bulkhead::builder().build()?.clock().is_manual());
    /// # Ok::<(), breakwater::ConfigError>(())
    /// ```
    pub fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    /// Takes a permit if one is free now; never waits.
    ///
    /// # Errors
    ///
    /// [`BulkheadFull`] when every permit is held.
    ///
    /// ```
    /// let b = breakwater::Bulkhead::builder().max_concurrent(1).build()?;
    /// let p = b.try_acquire();
    /// assert!(p.is_ok());
    /// assert!(b.try_acquire().is_err());
    /// # Ok::<(), breakwater::ConfigError>(())
    /// ```
    pub fn try_acquire(&self) -> Result<BulkheadPermit, BulkheadFull> {
        let mut st = self.inner.state.lock();
        if st.available > 0 {
            st.grant();
            drop(st);
            return Ok(self.permit());
        }
        st.rejected += 1;
        Err(self.full(false))
    }

    /// Takes a permit, waiting up to the configured `max_wait` (zero: fails fast).
    ///
    /// # Errors
    ///
    /// [`BulkheadFull`] when no permit came free within `max_wait`.
    ///
    /// ```
    /// let b = breakwater::Bulkhead::builder().max_concurrent(1).build()?;
    /// let _p = b.acquire().unwrap();
    /// assert!(b.acquire().is_err()); // max_wait defaults to zero
    /// # Ok::<(), breakwater::ConfigError>(())
    /// ```
    pub fn acquire(&self) -> Result<BulkheadPermit, BulkheadFull> {
        self.acquire_timeout(self.inner.config.max_wait)
    }

    /// Takes a permit, waiting at most `timeout` (zero: fails fast).
    ///
    /// # Errors
    ///
    /// [`BulkheadFull`] when no permit came free in time.
    ///
    /// ```
    /// let b = breakwater::Bulkhead::builder().max_concurrent(1).build()?;
    /// let p = b.acquire_timeout(std::time::Duration::from_secs(1)).unwrap();
    /// drop(p);
    /// # Ok::<(), breakwater::ConfigError>(())
    /// ```
    pub fn acquire_timeout(&self, timeout: Duration) -> Result<BulkheadPermit, BulkheadFull> {
        let deadline = self.inner.clock.deadline_after(timeout);
        self.acquire_deadline(deadline)
    }

    /// Takes a permit, waiting until `deadline` (on the bulkhead's clock) at the latest.
    ///
    /// # Errors
    ///
    /// [`BulkheadFull`] when no permit came free before `deadline`.
    ///
    /// ```
    /// let b = breakwater::Bulkhead::builder().max_concurrent(1).build()?;
    /// let _p = b.try_acquire().unwrap();
    /// let past = b.clock().now();
    /// assert!(b.acquire_deadline(past).is_err());
    /// # Ok::<(), breakwater::ConfigError>(())
    /// ```
    pub fn acquire_deadline(&self, deadline: Instant) -> Result<BulkheadPermit, BulkheadFull> {
        self.acquire_inner(Some(deadline), None)?;
        Ok(self.permit())
    }

    /// Takes a permit, waiting until `deadline` (`None`: no limit) unless `cancel` is
    /// cancelled first. A cancel wakes the waiter: the call returns promptly, not at its
    /// deadline. For the C ABI and the bindings, whose callers cancel from other threads.
    ///
    /// # Errors
    ///
    /// [`BulkheadFull`] when the deadline passed first, or with
    /// [`BulkheadFull::is_cancelled`] set when the token was cancelled first (an
    /// already-cancelled token refuses even when a permit is free).
    ///
    /// ```
    /// use breakwater::{CancelToken, Bulkhead};
    /// let b = Bulkhead::builder().max_concurrent(1).build()?;
    /// let held = b.try_acquire().unwrap();
    /// let token = CancelToken::new();
    /// let (b2, t2) = (b.clone(), token.clone());
    /// let waiter = std::thread::spawn(move || b2.acquire_cancellable(None, Some(&t2)).map(drop));
    /// while b.metrics().waiting == 0 { std::thread::yield_now(); }
    /// token.cancel();
    /// assert!(waiter.join().unwrap().unwrap_err().is_cancelled());
    /// drop(held);
    /// # Ok::<(), breakwater::ConfigError>(())
    /// ```
    pub fn acquire_cancellable(
        &self,
        deadline: Option<Instant>,
        cancel: Option<&CancelToken>,
    ) -> Result<BulkheadPermit, BulkheadFull> {
        self.acquire_inner(deadline, cancel)?;
        Ok(self.permit())
    }

    /// The permit protocol without an RAII guard, for the C ABI: like
    /// [`Bulkhead::acquire_cancellable`], but the caller must call
    /// [`Bulkhead::release_raw`] once for every `Ok`.
    ///
    /// # Errors
    ///
    /// As [`Bulkhead::acquire_cancellable`].
    ///
    /// ```
    /// let b = breakwater::Bulkhead::builder().max_concurrent(1).build()?;
    /// b.acquire_raw(None, None).unwrap();
    /// assert_eq!(b.metrics().in_use, 1);
    /// assert!(b.release_raw());
    /// assert_eq!(b.metrics().in_use, 0);
    /// # Ok::<(), breakwater::ConfigError>(())
    /// ```
    pub fn acquire_raw(
        &self,
        deadline: Option<Instant>,
        cancel: Option<&CancelToken>,
    ) -> Result<(), BulkheadFull> {
        self.acquire_inner(deadline, cancel)?;
        self.inner.state.lock().raw_held += 1;
        Ok(())
    }

    /// Gives back a permit taken with [`Bulkhead::acquire_raw`]. Returns `false`, and
    /// changes nothing, when no raw permit is held (a release without an acquire, or one
    /// release too many): permits held through [`BulkheadPermit`]s are never taken.
    ///
    /// ```
    /// let b = breakwater::Bulkhead::builder().max_concurrent(1).build()?;
    /// let _guard = b.try_acquire().unwrap();
    /// assert!(!b.release_raw()); // not a raw permit
    /// assert_eq!(b.metrics().in_use, 1);
    /// # Ok::<(), breakwater::ConfigError>(())
    /// ```
    #[must_use = "false means nothing was released"]
    pub fn release_raw(&self) -> bool {
        let mut st = self.inner.state.lock();
        if st.raw_held == 0 {
            return false;
        }
        st.raw_held -= 1;
        release_locked(&mut st);
        true
    }

    /// Runs `f` holding a permit (waiting up to `max_wait` for one); the permit is released
    /// when `f` returns or panics (the panic keeps unwinding).
    ///
    /// # Errors
    ///
    /// [`Error::Rejected`] (policy [`PolicyKind::Bulkhead`]) when no permit was had, or
    /// [`Error::Failed`] with `f`'s error.
    ///
    /// ```
    /// use breakwater::{Error, Bulkhead};
    /// let b = Bulkhead::builder().max_concurrent(1).build()?;
    /// let r: Result<(), Error<&str>> = b.call(|| Err("boom"));
    /// assert_eq!(r.unwrap_err().into_inner(), Some("boom"));
    /// # Ok::<(), breakwater::ConfigError>(())
    /// ```
    pub fn call<T, E>(&self, f: impl FnOnce() -> Result<T, E>) -> Result<T, Error<E>> {
        let _permit = self.acquire()?;
        f().map_err(Error::failed)
    }

    /// A snapshot of the counters.
    ///
    /// ```
    /// let b = breakwater::Bulkhead::builder().max_concurrent(1).build()?;
    /// let _p = b.try_acquire().unwrap();
    /// let _ = b.try_acquire();
    /// let m = b.metrics();
    /// assert_eq!((m.in_use, m.rejected, m.peak), (1, 1, 1));
    /// # Ok::<(), breakwater::ConfigError>(())
    /// ```
    pub fn metrics(&self) -> BulkheadMetrics {
        let st = self.inner.state.lock();
        BulkheadMetrics {
            max: self.inner.config.max_concurrent,
            available: st.available,
            in_use: st.in_use,
            waiting: u32::try_from(st.queue.len()).unwrap_or(u32::MAX),
            rejected: st.rejected,
            peak: st.peak,
            acquired: st.acquired,
        }
    }

    fn permit(&self) -> BulkheadPermit {
        BulkheadPermit {
            bulkhead: self.clone(),
        }
    }

    fn full(&self, cancelled: bool) -> BulkheadFull {
        crate::trace::bulkhead_rejected(&self.inner.name, cancelled);
        BulkheadFull {
            max_concurrent: self.inner.config.max_concurrent,
            cancelled,
        }
    }

    /// Takes a permit (counted in `in_use`) or refuses. The slow path queues a waiter node
    /// and parks on it until a releaser hands it a permit, the deadline passes or the
    /// token is cancelled.
    fn acquire_inner(
        &self,
        deadline: Option<Instant>,
        cancel: Option<&CancelToken>,
    ) -> Result<(), BulkheadFull> {
        let inner = &*self.inner;
        let mut st = inner.state.lock();
        if cancel.is_some_and(CancelToken::is_cancelled) {
            st.rejected += 1;
            return Err(self.full(true));
        }
        if st.available > 0 {
            st.grant();
            return Ok(());
        }
        if deadline.is_some_and(|d| inner.clock.now() >= d) {
            st.rejected += 1;
            return Err(self.full(false));
        }
        let node = waiter_node();
        st.queue.push_back(Arc::clone(&node));
        drop(st);

        // Registered before the last check of the token, under the node's lock.
        let _wake = cancel.map(|token| token.wake_on_cancel(&node));
        let mut cancelled = false;
        let mut guard = node.lock();
        loop {
            if guard.granted {
                break;
            }
            if cancel.is_some_and(CancelToken::is_cancelled) {
                cancelled = true;
                break;
            }
            match deadline {
                None => guard = node.wait(guard),
                Some(d) => {
                    let (g, result) = inner.clock.wait_until(&node, guard, d);
                    guard = g;
                    if result.timed_out() && !guard.granted {
                        break;
                    }
                }
            }
        }
        if guard.granted {
            return Ok(());
        }
        drop(guard);

        // Gave up: leave the queue, unless a releaser granted us a permit meanwhile (it
        // does so under the state lock, which we take first: lock order state -> node).
        let mut st = inner.state.lock();
        let granted = node.lock().granted;
        if !granted {
            if let Some(pos) = st.queue.iter().position(|n| Arc::ptr_eq(n, &node)) {
                st.queue.remove(pos);
            }
            st.rejected += 1;
        }
        drop(st);
        if granted {
            Ok(())
        } else {
            Err(self.full(cancelled))
        }
    }
}

/// Gives a permit back: to the oldest waiter if there is one, else to the free count.
fn release_locked(st: &mut State) {
    if let Some(node) = st.queue.pop_front() {
        // The permit passes from the releaser to the waiter: `in_use` is unchanged.
        node.lock().granted = true;
        node.notify_one();
        st.acquired += 1;
    } else {
        st.in_use -= 1;
        st.available += 1;
    }
}

/// A waiter node: this thread's cached one when nobody else still holds it (a thread
/// waits on one bulkhead at a time), else a new one. Contended waits allocate nothing
/// in the steady state.
#[cfg(not(breakwater_loom))]
fn waiter_node() -> WaiterNode {
    thread_local! {
        static NODE: WaiterNode = Monitor::new(Waiter::default());
    }
    NODE.try_with(|n| {
        if Arc::strong_count(n) == 1 {
            n.lock().granted = false;
            Some(Arc::clone(n))
        } else {
            None
        }
    })
    .ok()
    .flatten()
    .unwrap_or_else(|| Monitor::new(Waiter::default()))
}

/// Under loom every wait gets a fresh node (loom objects must not outlive an execution).
#[cfg(breakwater_loom)]
fn waiter_node() -> WaiterNode {
    Monitor::new(Waiter::default())
}

/// A held permit of a [`Bulkhead`]; released when dropped, also while unwinding from a
/// panic.
///
/// # Examples
///
/// ```
/// let b = breakwater::Bulkhead::builder().max_concurrent(1).build()?;
/// {
///     let _permit = b.try_acquire()?;
///     assert_eq!(b.metrics().available, 0);
/// }
/// assert_eq!(b.metrics().available, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "the permit is released as soon as it is dropped"]
pub struct BulkheadPermit {
    bulkhead: Bulkhead,
}

impl BulkheadPermit {
    /// The bulkhead this permit belongs to.
    ///
    /// ```
    /// let b = breakwater::Bulkhead::builder().name("db").build()?;
    /// assert_eq!(b.try_acquire()?.bulkhead().name(), "db");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn bulkhead(&self) -> &Bulkhead {
        &self.bulkhead
    }
}

impl fmt::Debug for BulkheadPermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BulkheadPermit")
            .field("bulkhead", &self.bulkhead.inner.name)
            .finish()
    }
}

impl Drop for BulkheadPermit {
    fn drop(&mut self) {
        release_locked(&mut self.bulkhead.inner.state.lock());
    }
}

impl Registry {
    /// The bulkhead registered as `name`, built from the registry's default
    /// [`BulkheadConfig`] (or [`BulkheadConfig::default`]) on first use. The instance is
    /// named `name`, whatever the configuration's `name` says.
    ///
    /// # Errors
    ///
    /// The build's [`ConfigError`] when the default configuration is invalid.
    ///
    /// ```
    /// let r = breakwater::Registry::new();
    /// let a = r.bulkhead("email")?;
    /// let _p = a.try_acquire()?;
    /// assert_eq!(r.bulkhead("email")?.metrics().in_use, 1); // same instance
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn bulkhead(&self, name: &str) -> Result<Bulkhead, ConfigError> {
        self.get_or_build_exported(PolicyKind::Bulkhead, name, None, |c: &BulkheadConfig| {
            Bulkhead::from_config(BulkheadConfig {
                name: name.to_owned(),
                ..c.clone()
            })
        })
    }

    /// The bulkhead registered as `name`, built from `config` on first use. The registry's
    /// name wins over `config.name`, which is not compared.
    ///
    /// # Errors
    ///
    /// The build's [`ConfigError`], or one naming `name` when the bulkhead exists with a
    /// different configuration.
    ///
    /// ```
    /// use breakwater::{Registry, BulkheadConfig};
    /// let r = Registry::new();
    /// let c = BulkheadConfig { max_concurrent: 10, ..Default::default() };
    /// r.bulkhead_with("payments", c.clone())?;
    /// assert!(r.bulkhead_with("payments", c).is_ok());
    /// let other = BulkheadConfig { max_concurrent: 5, ..Default::default() };
    /// assert_eq!(r.bulkhead_with("payments", other).unwrap_err().field, "name");
    /// # Ok::<(), breakwater::ConfigError>(())
    /// ```
    pub fn bulkhead_with(
        &self,
        name: &str,
        config: BulkheadConfig,
    ) -> Result<Bulkhead, ConfigError> {
        let config = BulkheadConfig {
            name: String::new(),
            ..config
        };
        self.get_or_build_exported(
            PolicyKind::Bulkhead,
            name,
            Some(config),
            |c: &BulkheadConfig| {
                Bulkhead::from_config(BulkheadConfig {
                    name: name.to_owned(),
                    ..c.clone()
                })
            },
        )
    }
}

#[cfg(all(test, breakwater_loom))]
mod loom_tests {
    use super::*;
    use loom::sync::atomic::{AtomicUsize, Ordering};

    fn model(f: impl Fn() + Sync + Send + 'static) {
        let mut builder = loom::model::Builder::new();
        builder.preemption_bound = Some(3);
        builder.check(f);
    }

    /// Each thread acquires (waiting, untimed), checks the in-flight count and releases.
    fn hammer(threads: usize, max: u32) {
        let b = Bulkhead::builder().max_concurrent(max).build().unwrap();
        let in_flight = loom::sync::Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let b = b.clone();
                let in_flight = in_flight.clone();
                loom::thread::spawn(move || {
                    let permit = b.acquire_cancellable(None, None).unwrap();
                    let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                    assert!(now <= max as usize, "{now} in flight, max {max}");
                    in_flight.fetch_sub(1, Ordering::SeqCst);
                    drop(permit);
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let m = b.metrics();
        assert_eq!((m.available, m.in_use, m.waiting), (max, 0, 0));
        assert_eq!(m.acquired, threads as u64);
        assert!(m.peak <= max);
    }

    #[test]
    fn loom_two_threads_one_permit() {
        model(|| hammer(2, 1));
    }

    #[test]
    fn loom_three_threads_two_permits() {
        model(|| hammer(3, 2));
    }

    #[test]
    fn loom_raw_and_guard_release_no_permit_lost() {
        model(|| {
            let b = Bulkhead::builder().max_concurrent(1).build().unwrap();
            let b2 = b.clone();
            let t = loom::thread::spawn(move || {
                b2.acquire_raw(None, None).unwrap();
                assert!(b2.release_raw());
            });
            let p = b.acquire_cancellable(None, None).unwrap();
            assert_eq!(b.metrics().in_use, 1);
            drop(p);
            t.join().unwrap();
            let m = b.metrics();
            assert_eq!((m.available, m.in_use), (1, 0));
        });
    }
}
