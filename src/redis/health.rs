//! Health of a shared policy's link to Redis: [`Health`], the [`HealthEvent`]s its
//! listeners see, and the [`RedisMetrics`] counters.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use parking_lot::Mutex;

use crate::exposition::Status;

/// Whether a shared policy is working on the shared state or on its local fallback.
///
/// ```
/// use breakwater::redis::Health;
/// assert_eq!(Health::Degraded.as_str(), "DEGRADED");
/// assert_eq!(Health::Healthy.status(), breakwater::exposition::Status::Up);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Health {
    /// Redis answers; decisions are shared.
    Healthy,
    /// Redis is unreachable or too slow; the policy works on its local state and tries
    /// Redis again every `poll_interval`.
    Degraded,
}

impl Health {
    /// `"UP"` or `"DEGRADED"`, as in the health report.
    ///
    /// ```
    /// assert_eq!(breakwater::redis::Health::Healthy.as_str(), "UP");
    /// ```
    pub fn as_str(self) -> &'static str {
        self.status().as_str()
    }

    /// The health report's status.
    ///
    /// ```
    /// use breakwater::{exposition::Status, redis::Health};
    /// assert_eq!(Health::Degraded.status(), Status::Degraded);
    /// ```
    pub fn status(self) -> Status {
        match self {
            Health::Healthy => Status::Up,
            Health::Degraded => Status::Degraded,
        }
    }
}

/// A change of [`Health`], as the health listeners see it.
///
/// ```
/// use breakwater::redis::{Health, HealthEvent};
/// let e = HealthEvent { health: Health::Degraded, reason: "timed out".into(), at: std::time::Instant::now() };
/// assert_eq!(e.health, Health::Degraded);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthEvent {
    /// The new health.
    pub health: Health,
    /// Why: the Redis error that degraded the policy, or `"resynchronised"`.
    pub reason: String,
    /// When the change was noticed.
    pub at: Instant,
}

/// Counters of a shared policy's traffic with Redis (monotonic, for exporters).
///
/// ```
/// let m = breakwater::redis::RedisMetrics::default();
/// assert_eq!(m.commands, 0);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RedisMetrics {
    /// Redis commands sent (scripts, script loads, publishes excluded as they run inside
    /// scripts; connection set-up excluded).
    pub commands: u64,
    /// Operations that failed because Redis was unreachable or too slow.
    pub errors: u64,
    /// Times the policy became [`Health::Degraded`].
    pub degraded: u64,
    /// Times it came back and resynchronised.
    pub resyncs: u64,
    /// Transition notifications received over pub/sub.
    pub notifications: u64,
    /// Polls of the shared state (the backstop).
    pub polls: u64,
    /// Outcome batches sent.
    pub batches: u64,
    /// Outcomes that could not be sent because Redis was down (lost to the fleet view;
    /// the local fallback still saw none of them, as they were recorded while healthy).
    pub outcomes_lost: u64,
    /// `SCRIPT LOAD`s after the server forgot a script (`NOSCRIPT`).
    pub script_reloads: u64,
}

pub(crate) type HealthListener = Arc<dyn Fn(&HealthEvent) + Send + Sync>;

/// The health flag, the counters and the listeners of one shared policy.
pub(crate) struct HealthState {
    degraded: AtomicBool,
    /// Serialises changes so that listeners see them in order.
    change: Mutex<()>,
    listeners: Vec<HealthListener>,
    pub(crate) commands: AtomicU64,
    pub(crate) errors: AtomicU64,
    pub(crate) degraded_count: AtomicU64,
    pub(crate) resyncs: AtomicU64,
    pub(crate) notifications: AtomicU64,
    pub(crate) polls: AtomicU64,
    pub(crate) batches: AtomicU64,
    pub(crate) outcomes_lost: AtomicU64,
    pub(crate) script_reloads: AtomicU64,
}

impl HealthState {
    pub(crate) fn new(listeners: Vec<HealthListener>) -> HealthState {
        HealthState {
            degraded: AtomicBool::new(false),
            change: Mutex::new(()),
            listeners,
            commands: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            degraded_count: AtomicU64::new(0),
            resyncs: AtomicU64::new(0),
            notifications: AtomicU64::new(0),
            polls: AtomicU64::new(0),
            batches: AtomicU64::new(0),
            outcomes_lost: AtomicU64::new(0),
            script_reloads: AtomicU64::new(0),
        }
    }

    #[inline]
    pub(crate) fn is_degraded(&self) -> bool {
        self.degraded.load(Ordering::Acquire)
    }

    pub(crate) fn health(&self) -> Health {
        if self.is_degraded() {
            Health::Degraded
        } else {
            Health::Healthy
        }
    }

    /// Marks the policy degraded (once per outage); tells the listeners. `true` when it
    /// was healthy until now.
    pub(crate) fn degrade(&self, reason: &str) -> bool {
        self.errors.fetch_add(1, Ordering::Relaxed);
        let _order = self.change.lock();
        if self.degraded.swap(true, Ordering::AcqRel) {
            return false;
        }
        self.degraded_count.fetch_add(1, Ordering::Relaxed);
        self.tell(Health::Degraded, reason);
        true
    }

    /// Marks the policy healthy again; tells the listeners. `true` when it was degraded.
    pub(crate) fn recover(&self) -> bool {
        let _order = self.change.lock();
        if !self.degraded.swap(false, Ordering::AcqRel) {
            return false;
        }
        self.resyncs.fetch_add(1, Ordering::Relaxed);
        self.tell(Health::Healthy, "resynchronised");
        true
    }

    fn tell(&self, health: Health, reason: &str) {
        let event = HealthEvent {
            health,
            reason: reason.to_owned(),
            at: Instant::now(),
        };
        for l in &self.listeners {
            l(&event);
        }
    }

    pub(crate) fn metrics(&self) -> RedisMetrics {
        let r = |a: &AtomicU64| a.load(Ordering::Relaxed);
        RedisMetrics {
            commands: r(&self.commands),
            errors: r(&self.errors),
            degraded: r(&self.degraded_count),
            resyncs: r(&self.resyncs),
            notifications: r(&self.notifications),
            polls: r(&self.polls),
            batches: r(&self.batches),
            outcomes_lost: r(&self.outcomes_lost),
            script_reloads: r(&self.script_reloads),
        }
    }
}
