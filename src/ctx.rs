//! The call context [`Ctx`] that reaches every guarded closure, and the
//! [`CancelToken`] behind its cancellation flag.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::clock::Clock;

/// A cancellation flag, shared by clones. A child token is cancelled when it or any of
/// its ancestors is.
///
/// # Examples
///
/// ```
/// use breakwater::CancelToken;
/// let parent = CancelToken::new();
/// let child = parent.child();
/// assert!(!child.is_cancelled());
/// parent.cancel();
/// assert!(child.is_cancelled());
/// ```
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<CancelInner>);

#[derive(Debug, Default)]
struct CancelInner {
    flag: AtomicBool,
    wakers: CancelWakers,
    parent: Option<CancelToken>,
}

impl CancelToken {
    /// A new, uncancelled token.
    ///
    /// ```
    /// assert!(!breakwater::CancelToken::new().is_cancelled());
    /// ```
    pub fn new() -> CancelToken {
        CancelToken::default()
    }

    /// A token cancelled with this one, that can also be cancelled alone.
    ///
    /// ```
    /// let p = breakwater::CancelToken::new();
    /// let c = p.child();
    /// c.cancel();
    /// assert!(!p.is_cancelled());
    /// ```
    pub fn child(&self) -> CancelToken {
        CancelToken(Arc::new(CancelInner {
            flag: AtomicBool::new(false),
            wakers: CancelWakers::default(),
            parent: Some(self.clone()),
        }))
    }

    /// Sets the flag.
    ///
    /// ```
    /// let t = breakwater::CancelToken::new();
    /// t.cancel();
    /// assert!(t.is_cancelled());
    /// ```
    pub fn cancel(&self) {
        self.0.flag.store(true, Ordering::Release);
        self.0.wakers.wake_all();
    }

    /// `true` once this token or an ancestor was cancelled.
    ///
    /// ```
    /// assert!(!breakwater::CancelToken::new().is_cancelled());
    /// ```
    pub fn is_cancelled(&self) -> bool {
        let mut t = self;
        loop {
            if t.0.flag.load(Ordering::Acquire) {
                return true;
            }
            match &t.0.parent {
                Some(p) => t = p,
                None => return false,
            }
        }
    }
}

/// What a guarded closure knows about its call: the attempt number, the deadline, the
/// clock and the cancellation flag.
///
/// Deadlines are cooperative: nothing is interrupted, but retries, waits and I/O
/// (the HTTP client turns [`Ctx::remaining`] into the request timeout) respect them.
///
/// # Examples
///
/// ```
/// use breakwater::{Ctx, ManualClock};
/// use std::time::Duration;
///
/// let clock = ManualClock::new();
/// let ctx = Ctx::with_clock(clock.clone().into()).with_timeout(Duration::from_secs(2));
/// assert_eq!(ctx.attempt(), 1);
/// assert_eq!(ctx.remaining(), Some(Duration::from_secs(2)));
/// clock.advance(Duration::from_secs(3));
/// assert_eq!(ctx.remaining(), Some(Duration::ZERO));
/// assert!(ctx.is_expired());
/// ```
#[derive(Debug, Clone, Default)]
pub struct Ctx {
    clock: Clock,
    deadline: Option<Instant>,
    attempt: u32,
    cancel: Option<CancelToken>,
}

impl Ctx {
    /// A context on the monotonic clock, with no deadline, at attempt 1.
    ///
    /// ```
    /// assert!(breakwater::Ctx::new().deadline().is_none());
    /// ```
    pub fn new() -> Ctx {
        Ctx::with_clock(Clock::monotonic())
    }

    /// A context on `clock`, with no deadline, at attempt 1.
    ///
    /// ```
    /// let ctx = breakwater::Ctx::with_clock(breakwater::Clock::monotonic());
    /// assert_eq!(ctx.attempt(), 1);
    /// ```
    pub fn with_clock(clock: Clock) -> Ctx {
        Ctx {
            clock,
            deadline: None,
            attempt: 1,
            cancel: None,
        }
    }

    /// The clock of this call.
    ///
    /// ```
    /// assert!(!breakwater::Ctx::new().clock().is_manual());
    /// ```
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The attempt number, from 1.
    ///
    /// ```
    /// assert_eq!(breakwater::Ctx::new().with_attempt(3).attempt(), 3);
    /// ```
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The call's deadline, if any.
    ///
    /// ```
    /// let ctx = breakwater::Ctx::new();
    /// let t = ctx.clock().now();
    /// assert_eq!(ctx.with_deadline(t).deadline(), Some(t));
    /// ```
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Time left until the deadline (zero once it has passed), or `None` without one.
    ///
    /// ```
    /// assert_eq!(breakwater::Ctx::new().remaining(), None);
    /// ```
    pub fn remaining(&self) -> Option<Duration> {
        self.deadline
            .map(|d| d.saturating_duration_since(self.clock.now()))
    }

    /// `true` when the deadline has passed.
    ///
    /// ```
    /// let ctx = breakwater::Ctx::new().with_timeout(std::time::Duration::ZERO);
    /// assert!(ctx.is_expired());
    /// ```
    pub fn is_expired(&self) -> bool {
        self.deadline.is_some_and(|d| self.clock.now() >= d)
    }

    /// `true` once the call was cancelled (a time limiter gave up on it, or the caller
    /// cancelled its token). Long-running guarded code should check it and stop early.
    ///
    /// ```
    /// let token = breakwater::CancelToken::new();
    /// let ctx = breakwater::Ctx::new().with_cancel(token.clone());
    /// token.cancel();
    /// assert!(ctx.is_cancelled());
    /// ```
    pub fn is_cancelled(&self) -> bool {
        self.cancel.as_ref().is_some_and(CancelToken::is_cancelled)
    }

    /// The cancellation token, if the call has one.
    ///
    /// ```
    /// assert!(breakwater::Ctx::new().cancel_token().is_none());
    /// ```
    pub fn cancel_token(&self) -> Option<&CancelToken> {
        self.cancel.as_ref()
    }

    /// This context with its deadline narrowed to `deadline` (never widened).
    ///
    /// ```
    /// let ctx = breakwater::Ctx::new();
    /// let now = ctx.clock().now();
    /// let a = ctx.with_deadline(now + std::time::Duration::from_secs(1));
    /// let b = a.with_deadline(now + std::time::Duration::from_secs(9));
    /// assert_eq!(b.deadline(), a.deadline());
    /// ```
    pub fn with_deadline(&self, deadline: Instant) -> Ctx {
        let mut c = self.clone();
        c.deadline = Some(match self.deadline {
            Some(d) if d < deadline => d,
            _ => deadline,
        });
        c
    }

    /// This context with its deadline narrowed to `now + d`.
    ///
    /// ```
    /// let ctx = breakwater::Ctx::new().with_timeout(std::time::Duration::from_secs(1));
    /// assert!(ctx.remaining().unwrap() <= std::time::Duration::from_secs(1));
    /// ```
    pub fn with_timeout(&self, d: Duration) -> Ctx {
        let deadline = self.clock.deadline_after(d);
        self.with_deadline(deadline)
    }

    /// This context at attempt `attempt`.
    ///
    /// ```
    /// assert_eq!(breakwater::Ctx::new().with_attempt(2).attempt(), 2);
    /// ```
    pub fn with_attempt(&self, attempt: u32) -> Ctx {
        let mut c = self.clone();
        c.attempt = attempt;
        c
    }

    /// This context with `token` as its cancellation flag.
    ///
    /// ```
    /// let ctx = breakwater::Ctx::new().with_cancel(breakwater::CancelToken::new());
    /// assert!(ctx.cancel_token().is_some());
    /// ```
    pub fn with_cancel(&self, token: CancelToken) -> Ctx {
        let mut c = self.clone();
        c.cancel = Some(token);
        c
    }

    /// This context with a fresh child of its cancellation flag (cancelled with the
    /// parent, or alone): what a time limiter hands to the work it may abandon.
    ///
    /// ```
    /// let parent = breakwater::Ctx::new().with_cancel(breakwater::CancelToken::new());
    /// let child = parent.with_child_cancel();
    /// child.cancel_token().unwrap().cancel();
    /// assert!(child.is_cancelled() && !parent.is_cancelled());
    /// ```
    pub fn with_child_cancel(&self) -> Ctx {
        let token = match &self.cancel {
            Some(t) => t.child(),
            None => CancelToken::new(),
        };
        self.with_cancel(token)
    }
}

/// Monitors to wake when a token is cancelled, so that a blocking wait that watches the
/// token (a bulkhead acquire, a time limiter's caller) returns promptly instead of
/// sleeping until its deadline.
#[derive(Default)]
struct CancelWakers {
    list: parking_lot::Mutex<WakerList>,
}

#[derive(Default)]
struct WakerList {
    next_id: u64,
    entries: Vec<(u64, Arc<dyn Fn() + Send + Sync>)>,
}

impl std::fmt::Debug for CancelWakers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CancelWakers")
            .field("registered", &self.list.lock().entries.len())
            .finish()
    }
}

impl CancelWakers {
    fn wake_all(&self) {
        // Snapshot, then wake outside the list lock: a waker takes its monitor's lock.
        let snapshot: Vec<Arc<dyn Fn() + Send + Sync>> = {
            let list = self.list.lock();
            if list.entries.is_empty() {
                return;
            }
            list.entries.iter().map(|(_, w)| Arc::clone(w)).collect()
        };
        for wake in snapshot {
            wake();
        }
    }

    fn add(&self, wake: Arc<dyn Fn() + Send + Sync>) -> u64 {
        let mut list = self.list.lock();
        list.next_id += 1;
        let id = list.next_id;
        list.entries.push((id, wake));
        id
    }

    fn remove(&self, id: u64) {
        self.list.lock().entries.retain(|(i, _)| *i != id);
    }
}

/// Keeps a monitor registered with a token (and its ancestors) until dropped.
pub(crate) struct CancelWakeGuard {
    registrations: Vec<(CancelToken, u64)>,
}

impl Drop for CancelWakeGuard {
    fn drop(&mut self) {
        for (token, id) in &self.registrations {
            token.0.wakers.remove(*id);
        }
    }
}

impl CancelToken {
    /// Wakes `monitor` (lock, then notify all) when this token or one of its ancestors is
    /// cancelled, until the returned guard is dropped.
    ///
    /// Register before the wait's last check of [`CancelToken::is_cancelled`] (made under
    /// the monitor's lock): a cancel that the check misses then finds the registration and
    /// its wake cannot slip in before the wait starts.
    pub(crate) fn wake_on_cancel<T: Send + 'static>(
        &self,
        monitor: &Arc<crate::clock::Monitor<T>>,
    ) -> CancelWakeGuard {
        let weak = Arc::downgrade(monitor);
        let wake: Arc<dyn Fn() + Send + Sync> = Arc::new(move || {
            if let Some(m) = weak.upgrade() {
                drop(m.lock());
                m.notify_all();
            }
        });
        let mut registrations = Vec::new();
        let mut token = Some(self);
        while let Some(t) = token {
            registrations.push((t.clone(), t.0.wakers.add(Arc::clone(&wake))));
            token = t.0.parent.as_ref();
        }
        CancelWakeGuard { registrations }
    }
}
