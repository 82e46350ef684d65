//! The breaker's states and the packed words read lock-free on the way in (the data
//! guarded by the breaker's lock is in `locked.rs`).
//!
//! # The state word
//!
//! | bits | meaning |
//! |---|---|
//! | 0..=2 | [`State`] (`Closed` 0, `Open` 1, `HalfOpen` 2, `ForcedOpen` 3, `Disabled` 4) |
//! | 3 | `FULL`: half-open and the trial has no admission left |
//! | 4..=63 | generation |
//!
//! Written only under the lock (release), read lock-free (acquire). The open and
//! half-open deadlines sit in their own atomics, written under the lock before the word
//! that makes them current is published; a reader loads the word, then the deadline,
//! then the word again, and trusts the deadline only if the word did not change.
//!
//! # The stripes
//!
//! Admissions and successes in the closed (and disabled) state are counted lock-free in
//! per-thread stripes (one cache line each) so that threads do not share a written line:
//!
//! | bits | meaning |
//! |---|---|
//! | 63 | `ACTIVE`: counting lock-free |
//! | 32..=62 | tag: the low 31 bits of the lock-free epoch |
//! | 16..=31 | admissions not yet folded |
//! | 0..=15 | successes not yet folded |
//!
//! The current key is published in [`Hot::key`]. A fast-path increment reads the state
//! word, the key, the word again (so the key belongs to the generation it read), and is
//! a compare-and-swap that requires that key and room in the field. Under the lock the
//! counts are folded into the generation's counts. A locked step that needs every count
//! (a failure under a count policy, any outcome under a time-window rate policy,
//! `metrics()`) *seals* the stripes (swaps them to 0 while folding) and re-keys them
//! with a new epoch before unlocking: a lock-free increment either lands before the fold
//! or fails and takes the lock after the whole step, and one that read the old key
//! before the step can never succeed after it. A transition seals the stripes (folding
//! what was counted for the old generation into the totals), publishes the new word,
//! then re-keys. Each stripe also counts rejections by reason, in separate atomics.

use std::fmt;

use crate::sync::{AtomicU64, Ordering};

/// The state of a breaker.
///
/// # Examples
///
/// ```
/// use breakwater::State;
/// assert_eq!(State::HalfOpen.to_string(), "half-open");
/// assert!(State::ForcedOpen.is_manual());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum State {
    /// Calls run; outcomes are recorded and may open the breaker.
    Closed = 0,
    /// Calls are rejected until the open duration has elapsed.
    Open = 1,
    /// A trial of `half_open_max_calls` admissions decides between closed and open.
    HalfOpen = 2,
    /// Opened by hand: every call is rejected until `reset()` (or `disable()`).
    ForcedOpen = 3,
    /// Disabled by hand: every call runs and is recorded, nothing trips, until `reset()`
    /// (or `force_open()`).
    Disabled = 4,
}

impl State {
    /// The state's lowercase name: `"closed"`, `"open"`, `"half-open"`, `"forced-open"`,
    /// `"disabled"`.
    ///
    /// ```
    /// assert_eq!(breakwater::State::ForcedOpen.as_str(), "forced-open");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            State::Closed => "closed",
            State::Open => "open",
            State::HalfOpen => "half-open",
            State::ForcedOpen => "forced-open",
            State::Disabled => "disabled",
        }
    }

    /// `true` for the manual modes ([`State::ForcedOpen`], [`State::Disabled`]).
    ///
    /// ```
    /// assert!(!breakwater::State::Open.is_manual());
    /// ```
    pub fn is_manual(self) -> bool {
        matches!(self, State::ForcedOpen | State::Disabled)
    }

    /// The state's number (as in the state word and the C ABI): closed 0, open 1,
    /// half-open 2, forced-open 3, disabled 4.
    ///
    /// ```
    /// assert_eq!(breakwater::State::HalfOpen.code(), 2);
    /// ```
    pub fn code(self) -> u32 {
        self as u32
    }

    /// The state with number `code`, if any.
    ///
    /// ```
    /// use breakwater::State;
    /// assert_eq!(State::from_code(4), Some(State::Disabled));
    /// assert_eq!(State::from_code(5), None);
    /// ```
    pub fn from_code(code: u32) -> Option<State> {
        Some(match code {
            0 => State::Closed,
            1 => State::Open,
            2 => State::HalfOpen,
            3 => State::ForcedOpen,
            4 => State::Disabled,
            _ => return None,
        })
    }

    #[inline]
    pub(crate) fn counts_lock_free(self) -> bool {
        matches!(self, State::Closed | State::Disabled)
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

// ---- the state word

const STATE_MASK: u64 = 0b111;
pub(crate) const FULL: u64 = 0b1000;
const GEN_SHIFT: u32 = 4;

#[inline]
pub(crate) fn pack(state: State, generation: u64, full: bool) -> u64 {
    (generation << GEN_SHIFT) | (if full { FULL } else { 0 }) | state as u64
}

#[inline]
pub(crate) fn word_state(w: u64) -> State {
    match w & STATE_MASK {
        0 => State::Closed,
        1 => State::Open,
        2 => State::HalfOpen,
        3 => State::ForcedOpen,
        _ => State::Disabled,
    }
}

#[inline]
pub(crate) fn word_generation(w: u64) -> u64 {
    w >> GEN_SHIFT
}

// ---- the stripes

pub(crate) const ACTIVE: u64 = 1 << 63;
const TAG_SHIFT: u32 = 32;
const TAG_BITS: u64 = (1 << 31) - 1;
/// `ACTIVE` and the tag: what must match for a fast-path increment.
pub(crate) const KEY_MASK: u64 = ACTIVE | (TAG_BITS << TAG_SHIFT);
pub(crate) const REQ_ONE: u64 = 1 << 16;
pub(crate) const REQ_MASK: u64 = 0xFFFF << 16;
pub(crate) const SUCC_ONE: u64 = 1;
pub(crate) const SUCC_MASK: u64 = 0xFFFF;

/// The stripe key of lock-free epoch `epoch`.
#[inline]
pub(crate) fn stripe_key(epoch: u64) -> u64 {
    ACTIVE | ((epoch & TAG_BITS) << TAG_SHIFT)
}

#[inline]
pub(crate) fn stripe_requests(v: u64) -> u64 {
    (v & REQ_MASK) >> 16
}

#[inline]
pub(crate) fn stripe_successes(v: u64) -> u64 {
    v & SUCC_MASK
}

/// Rejection counters, by reason, in a stripe.
pub(crate) const REJ_OPEN: usize = 0;
pub(crate) const REJ_TRIAL_FULL: usize = 1;
pub(crate) const REJ_FORCED_OPEN: usize = 2;

/// One cache line of lock-free counters (see the module docs).
#[repr(align(128))]
pub(crate) struct Stripe {
    pub(crate) fast: AtomicU64,
    pub(crate) rejected: [AtomicU64; 3],
}

impl Stripe {
    pub(crate) fn new(fast: u64) -> Stripe {
        Stripe {
            fast: AtomicU64::new(fast),
            rejected: [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)],
        }
    }
}

/// The words read lock-free on every call, on their own cache line.
#[repr(align(128))]
pub(crate) struct Hot {
    pub(crate) word: AtomicU64,
    pub(crate) open_until: AtomicU64,
    pub(crate) half_open_until: AtomicU64,
    /// The key the stripes count under (0: no lock-free counting now). Stored after the
    /// stripes and `fast_until`, so that a reader that sees a key sees its deadline.
    pub(crate) key: AtomicU64,
    /// Time-window rate policies: successes are counted lock-free while the coarse
    /// clock is before this (the end of the current bucket, the next expiry; 0 while
    /// the window is below `minimum_calls` or has an unevaluated change).
    pub(crate) fast_until: AtomicU64,
    /// With an `interval`: when the closed state's current interval ends (a copy of
    /// `Inner::interval_end`); a lock-free admission at or after it takes the lock, so
    /// that the call is admitted in the new interval's generation.
    pub(crate) interval_end: AtomicU64,
}

/// This thread's stripe number (threads are numbered on first use, round robin, so that
/// the first threads of a process count on different stripes).
///
/// A thread-local: in a Rust binary one load relative to the thread pointer; in the
/// shared library (the C ABI) a call to `__tls_get_addr` (11 instructions; the
/// initial-exec model is not available on stable Rust, and would break `dlopen`). A hash
/// of a stack address saves about 8 instructions per C call but gives two threads the
/// same stripe about one time in four with four stripes (BENCHMARKS.md, "Stable
/// ratios").
#[inline]
pub(crate) fn stripe_index() -> usize {
    use std::cell::Cell;
    use std::sync::atomic::AtomicUsize;
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static INDEX: Cell<usize> = const { Cell::new(usize::MAX) };
    }
    let i = INDEX.get();
    if i != usize::MAX {
        return i;
    }
    let i = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) & (usize::MAX >> 1);
    INDEX.set(i);
    i
}

/// How many stripes a breaker gets: twice the parallelism, a power of two in 2..=64
/// (2 under loom, to keep the models small).
pub(crate) fn stripe_count() -> usize {
    if cfg!(breakwater_loom) {
        return 2;
    }
    let n = std::thread::available_parallelism().map_or(4, |n| n.get());
    (n * 2).next_power_of_two().clamp(2, 64)
}

/// Takes a stripe's pending counts, keeping its key; returns the stripe's previous value.
#[inline]
pub(crate) fn drain_stripe(stripe: &Stripe) -> u64 {
    stripe.fast.fetch_and(KEY_MASK, Ordering::AcqRel)
}
