//! The local half of a shared breaker: the cached state word, the outcome batch waiting
//! for the background thread, and how a reply or a notification from Redis updates them.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use crossbeam_channel::Sender;
use parking_lot::Mutex;

use crate::breaker::{
    BreakerConfig, CircuitBreaker, Outcome, Recorded, State, Transition, TransitionReason,
};
use crate::clock::Clock;

use super::error::OpError;
use super::health::HealthState;
use super::link::{Link, Script, ints};
use super::options::RedisOptions;
use super::scripts::{RECORD_SCRIPT, SYNC_SCRIPT, script_config};

/// A transition listener.
pub(crate) type TransitionListener = Arc<dyn Fn(&Transition) + Send + Sync>;

/// The fleet-wide counts, as of the last reply from Redis.
///
/// ```
/// let f = breakwater::redis::FleetCounts::default();
/// assert_eq!(f.successes + f.failures, 0);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FleetCounts {
    /// The shared state's generation.
    pub generation: u64,
    /// Successes of the current generation, every process together.
    pub successes: u64,
    /// Failures of the current generation, every process together.
    pub failures: u64,
    /// The fleet's current run of consecutive failures (consecutive-failures policy).
    pub consecutive_failures: u64,
    /// Outcomes Redis dropped because their generation had ended (lifetime).
    pub stale_dropped: u64,
    /// Successes recorded in Redis over the breaker's lifetime.
    pub total_successes: u64,
    /// Failures recorded in Redis over the breaker's lifetime.
    pub total_failures: u64,
}

/// The outcomes of the current generation not yet sent (successes are counted apart,
/// lock-free, in [`Inner::succ`]).
#[derive(Default)]
pub(crate) struct Pending {
    pub(crate) gn: u64,
    pub(crate) failures: u64,
    pub(crate) ignored: u64,
}

/// Process-local lifetime totals.
#[derive(Default)]
pub(crate) struct Totals {
    pub(crate) successes: AtomicU64,
    pub(crate) failures: AtomicU64,
    pub(crate) ignored: AtomicU64,
    pub(crate) rejected_open: AtomicU64,
    pub(crate) rejected_trial_full: AtomicU64,
    pub(crate) rejected_forced_open: AtomicU64,
    pub(crate) stale_dropped: AtomicU64,
    pub(crate) transitions: AtomicU64,
    pub(crate) opened: AtomicU64,
}

const GEN_SHIFT: u32 = 3;
const TAG_SHIFT: u32 = 48;
const COUNT_MASK: u64 = (1 << TAG_SHIFT) - 1;

/// Packs a state and a generation into the state word.
pub(crate) fn word(state: State, gn: u64) -> u64 {
    u64::from(state.code()) | (gn << GEN_SHIFT)
}

/// Unpacks the state word.
pub(crate) fn unword(w: u64) -> (State, u64) {
    let state = State::from_code((w & 0b111) as u32).unwrap_or(State::Closed);
    (state, w >> GEN_SHIFT)
}

fn tag(gn: u64) -> u64 {
    (gn & 0xFFFF) << TAG_SHIFT
}

/// Everything the handles, the permits and the background threads share.
pub(crate) struct Inner {
    pub(crate) config: BreakerConfig,
    pub(crate) options: RedisOptions,
    pub(crate) client: redis::Client,
    pub(crate) key: String,
    pub(crate) window_key: String,
    pub(crate) channel: String,
    /// `ARGV[1..=12]` of every breaker script.
    cfg_args: Vec<String>,
    pub(crate) scripts: Vec<Script>,
    pub(crate) clock: Clock,
    /// State code (low 3 bits) and generation: read lock-free on the way in.
    pub(crate) word: AtomicU64,
    /// When an open state ends, on `clock` (nanoseconds).
    pub(crate) open_until: AtomicU64,
    /// Successes not yet sent: the generation's low 16 bits above 48 bits of count.
    succ: AtomicU64,
    /// Failures recorded after the last success not yet sent.
    trailing: AtomicU64,
    pub(crate) pending: Mutex<Pending>,
    /// Held while a batch is taken and sent, so that [`Inner::flush`] returns only once
    /// every outcome recorded before it has reached Redis (whichever thread sent it).
    sending: Mutex<()>,
    /// Wakes the background thread (a failure, a trial outcome, a stop).
    pub(crate) wake: Sender<()>,
    /// The connection callers use for half-open trial slots (taken with `try_lock`).
    pub(crate) caller: Mutex<Link>,
    /// The local fallback while Redis is unreachable.
    pub(crate) local: CircuitBreaker,
    pub(crate) health: Arc<HealthState>,
    pub(crate) fleet: Mutex<FleetCounts>,
    pub(crate) totals: Totals,
    events: Mutex<VecDeque<Transition>>,
    deliver: Mutex<()>,
    listeners: Vec<TransitionListener>,
    pub(crate) stop: AtomicBool,
    /// Set by the subscriber after (re)subscribing: notifications may have been missed.
    pub(crate) need_sync: AtomicBool,
}

impl Inner {
    #[allow(
        clippy::too_many_arguments,
        reason = "internal constructor of one struct"
    )]
    pub(crate) fn new(
        config: BreakerConfig,
        options: RedisOptions,
        client: redis::Client,
        wake: Sender<()>,
        local: CircuitBreaker,
        health: Arc<HealthState>,
        listeners: Vec<TransitionListener>,
    ) -> Inner {
        let key = options.key("breaker", &config.name);
        let scripts = super::scripts::breaker_scripts();
        let caller = Link::new(client.clone(), options.op_timeout, health.clone());
        Inner {
            window_key: format!("{key}:w"),
            channel: format!("{key}:events"),
            cfg_args: script_config(&config, &key),
            key,
            scripts,
            config,
            options,
            client,
            clock: Clock::monotonic(),
            word: AtomicU64::new(word(State::Closed, 0)),
            open_until: AtomicU64::new(0),
            succ: AtomicU64::new(tag(0)),
            trailing: AtomicU64::new(0),
            pending: Mutex::new(Pending::default()),
            sending: Mutex::new(()),
            wake,
            caller: Mutex::new(caller),
            local,
            health,
            fleet: Mutex::new(FleetCounts::default()),
            totals: Totals::default(),
            events: Mutex::new(VecDeque::new()),
            deliver: Mutex::new(()),
            listeners,
            stop: AtomicBool::new(false),
            need_sync: AtomicBool::new(false),
        }
    }

    /// A new link with this breaker's scripts and timeout.
    pub(crate) fn link(&self) -> Link {
        Link::new(
            self.client.clone(),
            self.options.op_timeout,
            self.health.clone(),
        )
    }

    /// Runs breaker script `index` with `extra` arguments after the configuration.
    pub(crate) fn run(
        &self,
        link: &mut Link,
        index: usize,
        extra: &[u64],
    ) -> Result<Vec<i64>, OpError> {
        let mut args = self.cfg_args.clone();
        args.push(unword(self.word.load(Ordering::Acquire)).1.to_string());
        args.extend(extra.iter().map(u64::to_string));
        let v = link.eval(&self.scripts, index, &[&self.key, &self.window_key], &args)?;
        let r = ints(&v);
        if r.len() < 10 {
            return Err(OpError::Down(format!("unexpected script reply {v:?}")));
        }
        Ok(r)
    }

    /// Records an outcome of a permit admitted under the shared state in generation
    /// `gn`. Lock-free for successes.
    #[inline]
    pub(crate) fn record(&self, gn: u64, outcome: Outcome, trial: bool) -> Recorded {
        match outcome {
            Outcome::Success => {
                let mut cur = self.succ.load(Ordering::Relaxed);
                loop {
                    if cur & !COUNT_MASK != tag(gn) {
                        return self.stale();
                    }
                    match self.succ.compare_exchange_weak(
                        cur,
                        cur + 1,
                        Ordering::AcqRel,
                        Ordering::Relaxed,
                    ) {
                        Ok(_) => break,
                        Err(now) => cur = now,
                    }
                }
                if self.trailing.load(Ordering::Relaxed) != 0 {
                    self.trailing.store(0, Ordering::Relaxed);
                }
            }
            Outcome::Ignored if !trial => {
                // Counts for nothing in Redis outside a trial.
                if unword(self.word.load(Ordering::Acquire)).1 != gn {
                    return self.stale();
                }
                self.totals.ignored.fetch_add(1, Ordering::Relaxed);
                return Recorded::Recorded;
            }
            Outcome::Failure | Outcome::Ignored => {
                let mut p = self.pending.lock();
                if p.gn != gn {
                    drop(p);
                    return self.stale();
                }
                if outcome == Outcome::Failure {
                    p.failures += 1;
                    self.trailing.fetch_add(1, Ordering::Relaxed);
                } else {
                    p.ignored += 1;
                    self.totals.ignored.fetch_add(1, Ordering::Relaxed);
                }
                drop(p);
                let _ = self.wake.try_send(());
                return Recorded::Recorded;
            }
        }
        if trial {
            let _ = self.wake.try_send(());
        }
        Recorded::Recorded
    }

    fn stale(&self) -> Recorded {
        self.totals.stale_dropped.fetch_add(1, Ordering::Relaxed);
        Recorded::Stale
    }

    /// Sends the waiting outcomes, if any, through `link`.
    pub(crate) fn flush(&self, link: &mut Link) -> Result<(), OpError> {
        let _sending = self.sending.lock();
        let (gn, s, f, i, tr) = {
            let mut p = self.pending.lock();
            let s = self.succ.swap(tag(p.gn), Ordering::AcqRel) & COUNT_MASK;
            let tr = self.trailing.swap(0, Ordering::Relaxed);
            let batch = (p.gn, s, p.failures, p.ignored, tr.min(p.failures));
            p.failures = 0;
            p.ignored = 0;
            batch
        };
        if s + f + i == 0 {
            return Ok(());
        }
        self.health.batches.fetch_add(1, Ordering::Relaxed);
        match self.run(link, RECORD_SCRIPT, &[gn, s, f, i, tr]) {
            Ok(r) => {
                let dropped = r[9].max(0) as u64;
                self.totals.successes.fetch_add(s, Ordering::Relaxed);
                self.totals.failures.fetch_add(f, Ordering::Relaxed);
                self.totals
                    .stale_dropped
                    .fetch_add(dropped, Ordering::Relaxed);
                self.apply_reply(&r, None);
                Ok(())
            }
            Err(e) => {
                self.health
                    .outcomes_lost
                    .fetch_add(s + f, Ordering::Relaxed);
                Err(e)
            }
        }
    }

    /// Reads the shared state (the polling backstop, a resync).
    pub(crate) fn sync(&self, link: &mut Link) -> Result<(), OpError> {
        self.health.polls.fetch_add(1, Ordering::Relaxed);
        let r = self.run(link, SYNC_SCRIPT, &[])?;
        self.apply_reply(&r, None);
        Ok(())
    }

    /// Applies a script reply `{st, gn, rem_ms, cs, cfl, cf, stale, ts, tf, extra}`.
    pub(crate) fn apply_reply(&self, r: &[i64], reason: Option<TransitionReason>) {
        let u = |i: usize| r[i].max(0) as u64;
        {
            let mut fleet = self.fleet.lock();
            if u(1) >= fleet.generation {
                *fleet = FleetCounts {
                    generation: u(1),
                    successes: u(3),
                    failures: u(4),
                    consecutive_failures: u(5),
                    stale_dropped: u(6),
                    total_successes: u(7),
                    total_failures: u(8),
                };
            }
        }
        let state = State::from_code(u(0) as u32).unwrap_or(State::Closed);
        self.apply_state(state, u(1), u(2), reason);
    }

    /// Adopts `(state, gn)` from Redis if it is newer than the local copy; `rem_ms` is
    /// what is left of an open state.
    pub(crate) fn apply_state(
        &self,
        state: State,
        gn: u64,
        rem_ms: u64,
        reason: Option<TransitionReason>,
    ) {
        let mut p = self.pending.lock();
        let (from, cur_gen) = unword(self.word.load(Ordering::Acquire));
        // The coarse clock, as the admission path reads it, so that `retry_after` never
        // exceeds what Redis said was left.
        let now = self.clock.nanos_coarse();
        if gn == cur_gen && state == State::Open && from == State::Open {
            // Still open by the server's clock: wait locally again instead of asking.
            let until = now.saturating_add(Duration::from_millis(rem_ms).as_nanos() as u64);
            self.open_until.store(until, Ordering::Release);
        }
        if gn <= cur_gen {
            return;
        }
        let until = if state == State::Open {
            now.saturating_add(Duration::from_millis(rem_ms).as_nanos() as u64)
        } else {
            0
        };
        self.open_until.store(until, Ordering::Release);
        self.word.store(word(state, gn), Ordering::Release);
        // The outcomes of the old generation that were not sent are stale now.
        let old = self.succ.swap(tag(gn), Ordering::AcqRel) & COUNT_MASK;
        self.trailing.store(0, Ordering::Relaxed);
        let dropped = old + p.failures;
        *p = Pending {
            gn,
            failures: 0,
            ignored: 0,
        };
        drop(p);
        if dropped > 0 {
            self.totals
                .stale_dropped
                .fetch_add(dropped, Ordering::Relaxed);
        }
        if cur_gen == 0 {
            // The first state learnt at build time is not a transition.
            return;
        }
        self.totals.transitions.fetch_add(1, Ordering::Relaxed);
        if state == State::Open {
            self.totals.opened.fetch_add(1, Ordering::Relaxed);
        }
        let reason = reason.unwrap_or_else(|| infer_reason(from, state));
        self.events.lock().push_back(Transition {
            from,
            to: state,
            reason,
            at: self.clock.instant_at(now),
            generation: gn,
            window: None,
        });
        self.deliver();
    }

    /// Hands queued transitions to the listeners, one thread at a time, in order.
    fn deliver(&self) {
        loop {
            let Some(guard) = self.deliver.try_lock() else {
                return;
            };
            let batch = std::mem::take(&mut *self.events.lock());
            if batch.is_empty() {
                drop(guard);
                if self.events.lock().is_empty() {
                    return;
                }
                continue;
            }
            for t in &batch {
                for l in &self.listeners {
                    // A panicking listener must not take the background thread down.
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| l(t)));
                }
            }
        }
    }

    /// Marks the breaker degraded after `e`; on the first error of an outage, the local
    /// fallback starts afresh.
    pub(crate) fn degrade(&self, e: &OpError) {
        if self.health.degrade(&e.message()) {
            self.local.reset();
        }
    }
}

/// The reason of a transition learnt from a reply (notifications carry the real one).
fn infer_reason(from: State, to: State) -> TransitionReason {
    match (from, to) {
        (_, State::ForcedOpen) => TransitionReason::ForcedOpen,
        (_, State::Disabled) => TransitionReason::Disabled,
        (State::Closed, State::Open) => TransitionReason::ThresholdReached,
        (_, State::HalfOpen) => TransitionReason::OpenDurationElapsed,
        (State::HalfOpen, State::Open) => TransitionReason::TrialFailed,
        (State::HalfOpen, State::Closed) => TransitionReason::TrialSucceeded,
        _ => TransitionReason::Reset,
    }
}
