//! Time: the [`Clock`] every policy reads and waits through, and the [`ManualClock`] that tests (and users) step by hand. See [`Clock`].

use std::fmt;
use std::sync::{Arc as StdArc, Weak};
use std::time::{Duration, Instant};

use crate::sync::{AtomicU64, Condvar, Mutex, MutexGuard, Ordering};

/// How a timed wait ended.
///
/// # Examples
///
/// ```
/// use breakwater::{Clock, Monitor, WaitResult};
/// use std::time::Duration;
///
/// let clock = Clock::monotonic();
/// let monitor = Monitor::new(0u32);
/// let guard = monitor.lock();
/// let (_guard, result) = clock.wait_until(&monitor, guard, clock.now() + Duration::from_millis(1));
/// assert_eq!(result, WaitResult::TimedOut);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WaitResult {
    /// The wait ended before its deadline (notified, or woken spuriously: re-check your condition).
    Notified,
    /// The deadline was reached.
    TimedOut,
}

impl WaitResult {
    /// `true` when the deadline was reached.
    ///
    /// ```
    /// assert!(breakwater::WaitResult::TimedOut.timed_out());
    /// ```
    pub fn timed_out(self) -> bool {
        self == WaitResult::TimedOut
    }
}

/// The time source of a policy: the monotonic clock, or a [`ManualClock`].
///
/// A [`Clock`] is either the monotonic clock of the machine or a handle on a
/// [`ManualClock`]. It offers `now`, a cheaper [`Clock::nanos_coarse`] for hot paths,
/// `sleep_until`, and timed waits on a [`Monitor`] (a mutex and a condition variable):
/// a wait ends when the monitor is notified or when the deadline is reached, on
/// whichever clock the wait was given. On a manual clock a timed wait blocks until it
/// is notified or until some thread advances the clock past the deadline.
///
/// # Coarse time
///
/// On Linux the monotonic clock's coarse reading (`CLOCK_MONOTONIC_COARSE`, a few
/// nanoseconds through the vDSO, resolution of one scheduler tick, typically 1 to 4 ms)
/// is used where a policy only needs to know whether a deadline that was set with the
/// precise clock has passed (the breaker's open state). The coarse reading never runs
/// ahead of the precise one, so such checks can be late by at most one tick, never early.
///
/// Cloning is cheap; clones of a manual clock share its time.
///
/// # Examples
///
/// ```
/// use breakwater::{Clock, ManualClock};
/// use std::time::Duration;
///
/// let manual = ManualClock::new();
/// let clock = Clock::from(manual.clone());
/// let t0 = clock.now();
/// manual.advance(Duration::from_secs(5));
/// assert_eq!(clock.now() - t0, Duration::from_secs(5));
/// ```
#[derive(Clone, Default)]
pub struct Clock {
    manual: Option<ManualClock>,
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.manual {
            None => f.write_str("Clock::Monotonic"),
            Some(m) => write!(f, "Clock::Manual({:?})", m.elapsed()),
        }
    }
}

impl Clock {
    /// The machine's monotonic clock (the default).
    ///
    /// ```
    /// let clock = breakwater::Clock::monotonic();
    /// assert!(!clock.is_manual());
    /// ```
    pub fn monotonic() -> Clock {
        Clock { manual: None }
    }

    /// `true` for a handle on a [`ManualClock`].
    ///
    /// ```
    /// let clock = breakwater::Clock::from(breakwater::ManualClock::new());
    /// assert!(clock.is_manual());
    /// ```
    pub fn is_manual(&self) -> bool {
        self.manual.is_some()
    }

    /// The manual clock behind this handle, if any.
    ///
    /// ```
    /// let clock = breakwater::Clock::from(breakwater::ManualClock::new());
    /// assert!(clock.as_manual().is_some());
    /// ```
    pub fn as_manual(&self) -> Option<&ManualClock> {
        self.manual.as_ref()
    }

    /// The current time.
    ///
    /// ```
    /// let clock = breakwater::Clock::monotonic();
    /// let a = clock.now();
    /// assert!(clock.now() >= a);
    /// ```
    #[inline]
    pub fn now(&self) -> Instant {
        match &self.manual {
            None => Instant::now(),
            Some(m) => m.now(),
        }
    }

    /// Nanoseconds since this clock's origin, precise. Comparable with
    /// [`Clock::nanos_coarse`] of the same clock.
    ///
    /// ```
    /// let clock = breakwater::Clock::monotonic();
    /// assert!(clock.nanos() >= clock.nanos_coarse());
    /// ```
    #[inline]
    pub fn nanos(&self) -> u64 {
        match &self.manual {
            None => mono_nanos(),
            Some(m) => m.nanos(),
        }
    }

    /// Nanoseconds since this clock's origin from the cheap coarse clock: never ahead of
    /// [`Clock::nanos`], behind it by at most one scheduler tick. On a manual clock the
    /// two are the same.
    ///
    /// ```
    /// let m = breakwater::ManualClock::new();
    /// let clock = breakwater::Clock::from(m.clone());
    /// m.advance(std::time::Duration::from_nanos(7));
    /// assert_eq!(clock.nanos_coarse(), 7);
    /// ```
    #[inline]
    pub fn nanos_coarse(&self) -> u64 {
        match &self.manual {
            None => mono_nanos_coarse(),
            Some(m) => m.nanos(),
        }
    }

    /// The instant that corresponds to a reading of [`Clock::nanos`].
    ///
    /// ```
    /// let clock = breakwater::Clock::monotonic();
    /// let n = clock.nanos();
    /// let t = clock.instant_at(n);
    /// assert!(t <= clock.now());
    /// ```
    pub fn instant_at(&self, nanos: u64) -> Instant {
        match &self.manual {
            None => {
                let (base_instant, base_nanos) = *mono_base();
                if nanos >= base_nanos {
                    base_instant + Duration::from_nanos(nanos - base_nanos)
                } else {
                    base_instant
                        .checked_sub(Duration::from_nanos(base_nanos - nanos))
                        .unwrap_or(base_instant)
                }
            }
            Some(m) => m.inner.base + Duration::from_nanos(nanos),
        }
    }

    /// The reading of [`Clock::nanos`] that corresponds to `t` (saturating at the origin).
    ///
    /// ```
    /// let clock = breakwater::Clock::from(breakwater::ManualClock::new());
    /// let t = clock.now() + std::time::Duration::from_nanos(10);
    /// assert_eq!(clock.nanos_at(t), 10);
    /// ```
    pub fn nanos_at(&self, t: Instant) -> u64 {
        match &self.manual {
            None => {
                let (base_instant, base_nanos) = *mono_base();
                if t >= base_instant {
                    base_nanos.saturating_add(duration_nanos(t - base_instant))
                } else {
                    base_nanos.saturating_sub(duration_nanos(base_instant - t))
                }
            }
            Some(m) => duration_nanos(t.saturating_duration_since(m.inner.base)),
        }
    }

    /// Blocks until `deadline`. On a manual clock it moves the clock to `max(now, deadline)`
    /// at once and returns.
    ///
    /// ```
    /// let m = breakwater::ManualClock::new();
    /// let clock = breakwater::Clock::from(m.clone());
    /// clock.sleep_until(clock.now() + std::time::Duration::from_secs(60)); // returns at once
    /// assert_eq!(m.elapsed(), std::time::Duration::from_secs(60));
    /// ```
    pub fn sleep_until(&self, deadline: Instant) {
        match &self.manual {
            None => {
                let now = Instant::now();
                if deadline > now {
                    std::thread::sleep(deadline - now);
                }
            }
            Some(m) => m.advance_to(deadline),
        }
    }

    /// Blocks for `d` (see [`Clock::sleep_until`]).
    ///
    /// ```
    /// breakwater::Clock::monotonic().sleep(std::time::Duration::from_millis(1));
    /// ```
    pub fn sleep(&self, d: Duration) {
        let deadline = self.deadline_after(d);
        self.sleep_until(deadline);
    }

    /// `now + d`, saturating far in the future instead of overflowing.
    ///
    /// ```
    /// let clock = breakwater::Clock::monotonic();
    /// assert!(clock.deadline_after(std::time::Duration::MAX) > clock.now());
    /// ```
    pub fn deadline_after(&self, d: Duration) -> Instant {
        let now = self.now();
        now.checked_add(d)
            .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 24 * 3600))
    }

    /// Waits on `monitor` until it is notified or `deadline` is reached on this clock.
    ///
    /// `guard` must come from `monitor.lock()`. Like every condition-variable wait, it may
    /// return [`WaitResult::Notified`] spuriously: callers re-check their condition in a loop.
    /// On a manual clock the wait blocks until it is notified or until another thread
    /// advances the clock to `deadline` or past it.
    ///
    /// ```
    /// use breakwater::{Clock, ManualClock, Monitor, WaitResult};
    /// use std::{sync::Arc, time::Duration};
    ///
    /// let manual = ManualClock::new();
    /// let clock = Clock::from(manual.clone());
    /// let monitor = Monitor::new(());
    /// let deadline = clock.now() + Duration::from_secs(10);
    /// let m2 = Arc::clone(&monitor);
    /// let c2 = clock.clone();
    /// let waiter = std::thread::spawn(move || {
    ///     let g = m2.lock();
    ///     let (_g, r) = c2.wait_until(&m2, g, deadline);
    ///     r
    /// });
    /// while manual.waiters() == 0 { std::thread::yield_now(); }
    /// manual.advance(Duration::from_secs(10));
    /// assert_eq!(waiter.join().unwrap(), WaitResult::TimedOut);
    /// ```
    pub fn wait_until<'a, T: Send + 'static>(
        &self,
        monitor: &'a StdArc<Monitor<T>>,
        guard: MutexGuard<'a, T>,
        deadline: Instant,
    ) -> (MutexGuard<'a, T>, WaitResult) {
        match &self.manual {
            None => {
                if Instant::now() >= deadline {
                    return (guard, WaitResult::TimedOut);
                }
                let (guard, timed_out) = monitor.cv.wait_until(guard, deadline);
                let result = if timed_out || Instant::now() >= deadline {
                    WaitResult::TimedOut
                } else {
                    WaitResult::Notified
                };
                (guard, result)
            }
            Some(m) => {
                // Register before reading the time: an advance that happens after the
                // registration wakes us (it takes the monitor's lock, which we hold until
                // the wait releases it); one that happened before is seen by the read.
                let waker: StdArc<dyn Wake> = StdArc::<Monitor<T>>::clone(monitor);
                let id = m.register(StdArc::downgrade(&waker));
                if m.now() >= deadline {
                    m.unregister(id);
                    return (guard, WaitResult::TimedOut);
                }
                let guard = monitor.cv.wait(guard);
                m.unregister(id);
                let result = if m.now() >= deadline {
                    WaitResult::TimedOut
                } else {
                    WaitResult::Notified
                };
                (guard, result)
            }
        }
    }

    /// Waits on `monitor` for at most `d` (see [`Clock::wait_until`]).
    ///
    /// ```
    /// use breakwater::{Clock, Monitor};
    /// let clock = Clock::monotonic();
    /// let monitor = Monitor::new(false);
    /// let g = monitor.lock();
    /// let (_g, r) = clock.wait_timeout(&monitor, g, std::time::Duration::ZERO);
    /// assert!(r.timed_out());
    /// ```
    pub fn wait_timeout<'a, T: Send + 'static>(
        &self,
        monitor: &'a StdArc<Monitor<T>>,
        guard: MutexGuard<'a, T>,
        d: Duration,
    ) -> (MutexGuard<'a, T>, WaitResult) {
        let deadline = self.deadline_after(d);
        self.wait_until(monitor, guard, deadline)
    }
}

impl From<ManualClock> for Clock {
    fn from(m: ManualClock) -> Clock {
        Clock { manual: Some(m) }
    }
}

impl From<&ManualClock> for Clock {
    fn from(m: &ManualClock) -> Clock {
        Clock {
            manual: Some(m.clone()),
        }
    }
}

/// A mutex and a condition variable whose timed waits go through a [`Clock`]
/// (see [`Clock::wait_until`]). Always held in an `Arc`, so that a manual clock can wake it.
///
/// # Examples
///
/// ```
/// use breakwater::Monitor;
/// let m = Monitor::new(1);
/// *m.lock() += 1;
/// assert_eq!(*m.lock(), 2);
/// m.notify_all();
/// ```
pub struct Monitor<T> {
    state: Mutex<T>,
    cv: Condvar,
}

impl<T: fmt::Debug> fmt::Debug for Monitor<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Monitor").finish_non_exhaustive()
    }
}

impl<T> Monitor<T> {
    /// A new monitor holding `value`, in an `Arc`.
    ///
    /// ```
    /// let m = breakwater::Monitor::new(String::new());
    /// assert!(m.lock().is_empty());
    /// ```
    pub fn new(value: T) -> StdArc<Monitor<T>> {
        StdArc::new(Monitor {
            state: Mutex::new(value),
            cv: Condvar::new(),
        })
    }

    /// Locks the state.
    ///
    /// ```
    /// let m = breakwater::Monitor::new(0u8);
    /// assert_eq!(*m.lock(), 0);
    /// ```
    #[inline]
    pub fn lock(&self) -> MutexGuard<'_, T> {
        self.state.lock()
    }

    /// Waits until notified (no deadline).
    ///
    /// ```no_run
    /// let m = breakwater::Monitor::new(false);
    /// let mut g = m.lock();
    /// while !*g { g = m.wait(g); }
    /// ```
    pub fn wait<'a>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        self.cv.wait(guard)
    }

    /// Wakes one waiter.
    ///
    /// ```
    /// breakwater::Monitor::new(()).notify_one();
    /// ```
    pub fn notify_one(&self) {
        self.cv.notify_one();
    }

    /// Wakes every waiter.
    ///
    /// ```
    /// breakwater::Monitor::new(()).notify_all();
    /// ```
    pub fn notify_all(&self) {
        self.cv.notify_all();
    }
}

/// Something a manual clock wakes when its time moves.
trait Wake: Send + Sync {
    fn wake(&self);
}

impl<T: Send> Wake for Monitor<T> {
    fn wake(&self) {
        // Taking the lock orders this wake after any waiter's check-then-wait.
        drop(self.state.lock());
        self.cv.notify_all();
    }
}

/// A clock that moves only when told to. Cloning shares the time.
///
/// Time starts at the instant the clock was created (`elapsed() == 0`). `advance` and
/// `sleep_until` move it forward and wake every timed wait on it whose deadline has come.
///
/// # Examples
///
/// ```
/// use breakwater::ManualClock;
/// use std::time::Duration;
///
/// let clock = ManualClock::new();
/// let start = clock.now();
/// clock.advance(Duration::from_millis(250));
/// assert_eq!(clock.now() - start, Duration::from_millis(250));
/// assert_eq!(clock.elapsed(), Duration::from_millis(250));
/// ```
#[derive(Clone)]
pub struct ManualClock {
    inner: StdArc<ManualInner>,
}

struct ManualInner {
    base: Instant,
    nanos: AtomicU64,
    waiters: parking_lot::Mutex<Waiters>,
}

#[derive(Default)]
struct Waiters {
    next_id: u64,
    list: Vec<(u64, Weak<dyn Wake>)>,
}

impl fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManualClock")
            .field("elapsed", &self.elapsed())
            .finish()
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        ManualClock::new()
    }
}

impl ManualClock {
    /// A manual clock at its origin.
    ///
    /// ```
    /// assert_eq!(breakwater::ManualClock::new().elapsed(), std::time::Duration::ZERO);
    /// ```
    pub fn new() -> ManualClock {
        ManualClock {
            inner: StdArc::new(ManualInner {
                base: Instant::now(),
                nanos: AtomicU64::new(0),
                waiters: parking_lot::Mutex::new(Waiters::default()),
            }),
        }
    }

    /// The current manual time.
    ///
    /// ```
    /// let c = breakwater::ManualClock::new();
    /// assert_eq!(c.now(), c.now());
    /// ```
    pub fn now(&self) -> Instant {
        self.inner.base + Duration::from_nanos(self.nanos())
    }

    /// Time since the clock was created.
    ///
    /// ```
    /// let c = breakwater::ManualClock::new();
    /// c.advance(std::time::Duration::from_secs(1));
    /// assert_eq!(c.elapsed().as_secs(), 1);
    /// ```
    pub fn elapsed(&self) -> Duration {
        Duration::from_nanos(self.nanos())
    }

    #[inline]
    fn nanos(&self) -> u64 {
        self.inner.nanos.load(Ordering::SeqCst)
    }

    /// Moves the clock forward by `d` and wakes the timed waits on it.
    ///
    /// ```
    /// let c = breakwater::ManualClock::new();
    /// c.advance(std::time::Duration::from_millis(3));
    /// c.advance(std::time::Duration::from_millis(4));
    /// assert_eq!(c.elapsed().as_millis(), 7);
    /// ```
    pub fn advance(&self, d: Duration) {
        let add = duration_nanos(d);
        let mut cur = self.inner.nanos.load(Ordering::SeqCst);
        loop {
            let new = cur.saturating_add(add);
            match self.inner.nanos.compare_exchange_weak(
                cur,
                new,
                Ordering::SeqCst,
                Ordering::SeqCst,
            ) {
                Ok(_) => break,
                Err(actual) => cur = actual,
            }
        }
        self.wake_all();
    }

    /// Moves the clock to `t` if `t` is later than now (never backwards), and wakes the
    /// timed waits on it.
    ///
    /// ```
    /// let c = breakwater::ManualClock::new();
    /// let t = c.now() + std::time::Duration::from_secs(2);
    /// c.advance_to(t);
    /// c.advance_to(t - std::time::Duration::from_secs(1)); // no effect
    /// assert_eq!(c.now(), t);
    /// ```
    pub fn advance_to(&self, t: Instant) {
        let target = duration_nanos(t.saturating_duration_since(self.inner.base));
        let prev = self.inner.nanos.fetch_max(target, Ordering::SeqCst);
        if prev < target {
            self.wake_all();
        }
    }

    /// How many threads are in a timed wait on this clock right now (for tests that must
    /// know a waiter is parked before they advance the clock).
    ///
    /// ```
    /// assert_eq!(breakwater::ManualClock::new().waiters(), 0);
    /// ```
    pub fn waiters(&self) -> usize {
        self.inner
            .waiters
            .lock()
            .list
            .iter()
            .filter(|(_, w)| w.strong_count() > 0)
            .count()
    }

    fn register(&self, w: Weak<dyn Wake>) -> u64 {
        let mut ws = self.inner.waiters.lock();
        ws.next_id += 1;
        let id = ws.next_id;
        ws.list.retain(|(_, w)| w.strong_count() > 0);
        ws.list.push((id, w));
        id
    }

    fn unregister(&self, id: u64) {
        let mut ws = self.inner.waiters.lock();
        ws.list.retain(|(i, _)| *i != id);
    }

    fn wake_all(&self) {
        // Snapshot, then wake without holding the list lock: waiters register while
        // holding their own monitor's lock, so waking under the list lock could deadlock.
        let snapshot: Vec<StdArc<dyn Wake>> = self
            .inner
            .waiters
            .lock()
            .list
            .iter()
            .filter_map(|(_, w)| w.upgrade())
            .collect();
        for w in snapshot {
            w.wake();
        }
    }
}

/// A duration in nanoseconds, saturating at `u64::MAX` (584 years).
#[inline]
pub(crate) fn duration_nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

fn timespec_nanos(ts: rustix::time::Timespec) -> u64 {
    (ts.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(ts.tv_nsec as u64)
}

#[inline]
fn mono_nanos() -> u64 {
    timespec_nanos(rustix::time::clock_gettime(
        rustix::time::ClockId::Monotonic,
    ))
}

#[inline]
fn mono_nanos_coarse() -> u64 {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        timespec_nanos(rustix::time::clock_gettime(
            rustix::time::ClockId::MonotonicCoarse,
        ))
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        mono_nanos()
    }
}

fn mono_base() -> &'static (Instant, u64) {
    static BASE: std::sync::OnceLock<(Instant, u64)> = std::sync::OnceLock::new();
    BASE.get_or_init(|| (Instant::now(), mono_nanos()))
}
