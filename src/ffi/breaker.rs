//! The circuit breaker: `bw_breaker` (the permit protocol, a callback convenience,
//! metrics, manual modes, transition events), its configuration `bw_breaker_config`, and
//! the registry `bw_registry`.

use std::collections::VecDeque;
use std::ffi::{c_char, c_int, c_void};
use std::sync::Arc;
use std::time::Duration;

use super::clock::{bw_clock, clock_or_monotonic};
use super::error::{FfiError, bw_error};
use super::json::config_from_json;
use super::macros::{FfiEnum, free_handle, into_handle};
use super::status::{
    BW_BUFFER_TOO_SMALL, BW_FAILED, BW_POLICY_CIRCUIT_BREAKER, BW_STALE, bw_status,
};
use crate::breaker::{
    BreakerBuilder, BreakerConfig, BreakerMetrics, CircuitBreaker, MAX_COUNT_WINDOW, Outcome,
    RawPermit, Recorded, State, Transition, TransitionReason, Window,
};
use crate::clock::Clock;
use crate::error::{ConfigError, PolicyKind};
use crate::registry::Registry;

/// `bw_breaker_state`: closed (calls run, outcomes are counted).
pub const BW_STATE_CLOSED: u32 = 0;
/// `bw_breaker_state`: open (calls are rejected until the open duration has elapsed).
pub const BW_STATE_OPEN: u32 = 1;
/// `bw_breaker_state`: half-open (a trial of a few calls decides).
pub const BW_STATE_HALF_OPEN: u32 = 2;
/// `bw_breaker_state`: forced open by hand (everything is rejected until a reset).
pub const BW_STATE_FORCED_OPEN: u32 = 3;
/// `bw_breaker_state`: disabled by hand (everything runs and is counted, never trips).
pub const BW_STATE_DISABLED: u32 = 4;

/// `bw_breaker_record` outcome: the call succeeded.
pub const BW_OUTCOME_SUCCESS: u32 = 0;
/// `bw_breaker_record` outcome: the call failed.
pub const BW_OUTCOME_FAILURE: u32 = 1;
/// `bw_breaker_record` outcome: neither (gives a half-open admission back).
pub const BW_OUTCOME_IGNORED: u32 = 2;

/// `bw_breaker_event.reason`: the trip policy's threshold was reached (closed -> open).
pub const BW_TRANSITION_THRESHOLD_REACHED: u32 = 0;
/// `bw_breaker_event.reason`: the open duration elapsed (open -> half-open).
pub const BW_TRANSITION_OPEN_DURATION_ELAPSED: u32 = 1;
/// `bw_breaker_event.reason`: the half-open trial succeeded (half-open -> closed).
pub const BW_TRANSITION_TRIAL_SUCCEEDED: u32 = 2;
/// `bw_breaker_event.reason`: the half-open trial failed (half-open -> open).
pub const BW_TRANSITION_TRIAL_FAILED: u32 = 3;
/// `bw_breaker_event.reason`: the trial stayed undecided too long (half-open -> open).
pub const BW_TRANSITION_HALF_OPEN_TIMEOUT: u32 = 4;
/// `bw_breaker_event.reason`: `bw_breaker_reset`.
pub const BW_TRANSITION_RESET: u32 = 5;
/// `bw_breaker_event.reason`: `bw_breaker_force_open`.
pub const BW_TRANSITION_FORCED_OPEN: u32 = 6;
/// `bw_breaker_event.reason`: `bw_breaker_disable`.
pub const BW_TRANSITION_DISABLED: u32 = 7;
/// Any -> open, by `bw_breaker_transition_to_open` (timed, like a trip).
pub const BW_TRANSITION_MANUAL_OPEN: u32 = 8;
/// Any -> half-open, by `bw_breaker_transition_to_half_open`.
pub const BW_TRANSITION_MANUAL_HALF_OPEN: u32 = 9;

/// How many transition events a breaker keeps for `bw_breaker_poll_events`: when the
/// queue is full a new event is dropped (the queue keeps the oldest) and counted in
/// `bw_breaker_stats.events_dropped`.
pub const BW_BREAKER_EVENT_QUEUE_LEN: usize = 256;

/// A permit to run one call, returned by value by `bw_breaker_try_acquire`: report its
/// outcome once with `bw_breaker_record` (or `bw_breaker_record_duration`). Plain data:
/// copy it freely; a permit of an older generation is stale (`BW_STALE`). A permit that is
/// never reported holds a half-open admission at most until the half-open wait re-opens
/// the trial.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct bw_permit {
    /// The generation the call was admitted in (never 0: a zeroed permit is stale).
    pub generation: u64,
    /// The clock reading at admission when the breaker measures durations, else 0.
    pub acquired_ns: u64,
}

impl From<RawPermit> for bw_permit {
    fn from(p: RawPermit) -> bw_permit {
        bw_permit {
            generation: p.generation,
            acquired_ns: p.acquired_nanos,
        }
    }
}

impl From<bw_permit> for RawPermit {
    fn from(p: bw_permit) -> RawPermit {
        RawPermit {
            generation: p.generation,
            acquired_nanos: p.acquired_ns,
        }
    }
}

/// A state transition of a breaker (`bw_breaker_poll_events`, or the event callback).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct bw_breaker_event {
    /// The state left (`BW_STATE_*`).
    pub from: u32,
    /// The state entered (`BW_STATE_*`).
    pub to: u32,
    /// Why (`BW_TRANSITION_*`).
    pub reason: u32,
    /// The generation the transition started.
    pub generation: u64,
    /// When it happened, on the breaker's clock (`bw_clock_now_ns`).
    pub at_ns: u64,
}

/// A snapshot of a breaker's counts, written by `bw_breaker_metrics` (C keeps type and
/// function names in one namespace, hence the different name).
///
/// It can grow at the end in later versions: set `size` to `sizeof(bw_breaker_stats)`
/// before the call; the library writes the fields that fit in `size` bytes and sets
/// `size` to the number of bytes it wrote. Rates are -1.0 when the policy computes none
/// (count policies, or fewer outcomes than the minimum).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct bw_breaker_stats {
    /// In: the caller's `sizeof(bw_breaker_stats)`; out: the bytes written.
    pub size: u32,
    /// The current state (`BW_STATE_*`).
    pub state: u32,
    /// The current generation.
    pub generation: u64,
    /// Admissions in the current state.
    pub requests: u64,
    /// Successes in the current state.
    pub successes: u64,
    /// Failures in the current state.
    pub failures: u64,
    /// Ignored outcomes in the current state.
    pub ignored: u64,
    /// Slow calls in the current state.
    pub slow: u64,
    /// The current run of successes.
    pub consecutive_successes: u64,
    /// The current run of failures.
    pub consecutive_failures: u64,
    /// Outcomes in the rate window.
    pub window_calls: u64,
    /// Failures in the rate window.
    pub window_failures: u64,
    /// The window's failure rate, or -1.0.
    pub failure_rate: f64,
    /// The window's slow-call rate, or -1.0.
    pub slow_call_rate: f64,
    /// Admissions since the breaker was built.
    pub total_requests: u64,
    /// Successes since the breaker was built.
    pub total_successes: u64,
    /// Failures since the breaker was built.
    pub total_failures: u64,
    /// Ignored outcomes since the breaker was built.
    pub total_ignored: u64,
    /// Slow calls since the breaker was built.
    pub total_slow: u64,
    /// Rejections because the breaker was open.
    pub rejected_open: u64,
    /// Rejections because the half-open trial was full.
    pub rejected_trial_full: u64,
    /// Rejections because the breaker was forced open.
    pub rejected_forced_open: u64,
    /// Outcomes dropped as stale.
    pub stale_dropped: u64,
    /// State transitions.
    pub transitions: u64,
    /// Transitions into open.
    pub opened: u64,
    /// Transition events dropped because the polling queue was full.
    pub events_dropped: u64,
}

/// A transition callback (the `on_event` parameter of `bw_breaker_new`).
type EventFn = unsafe extern "C" fn(event: *const bw_breaker_event, user_data: *mut c_void);

impl FfiEnum for Outcome {
    const VALID: &'static str =
        "0 (BW_OUTCOME_SUCCESS), 1 (BW_OUTCOME_FAILURE) or 2 (BW_OUTCOME_IGNORED)";
    fn from_u32(value: u32) -> Option<Self> {
        Outcome::from_code(value)
    }
}

fn reason_code(reason: TransitionReason) -> u32 {
    match reason {
        TransitionReason::ThresholdReached => BW_TRANSITION_THRESHOLD_REACHED,
        TransitionReason::OpenDurationElapsed => BW_TRANSITION_OPEN_DURATION_ELAPSED,
        TransitionReason::TrialSucceeded => BW_TRANSITION_TRIAL_SUCCEEDED,
        TransitionReason::TrialFailed => BW_TRANSITION_TRIAL_FAILED,
        TransitionReason::HalfOpenTimeout => BW_TRANSITION_HALF_OPEN_TIMEOUT,
        TransitionReason::Reset => BW_TRANSITION_RESET,
        TransitionReason::ForcedOpen => BW_TRANSITION_FORCED_OPEN,
        TransitionReason::Disabled => BW_TRANSITION_DISABLED,
        TransitionReason::ManualOpen => BW_TRANSITION_MANUAL_OPEN,
        TransitionReason::ManualHalfOpen => BW_TRANSITION_MANUAL_HALF_OPEN,
    }
}

/// The bounded queue of transition events behind `bw_breaker_poll_events`.
struct EventQueue {
    inner: parking_lot::Mutex<(VecDeque<bw_breaker_event>, u64)>,
}

impl EventQueue {
    fn new() -> EventQueue {
        EventQueue {
            inner: parking_lot::Mutex::new((
                VecDeque::with_capacity(BW_BREAKER_EVENT_QUEUE_LEN),
                0,
            )),
        }
    }

    fn push(&self, event: bw_breaker_event) {
        let mut q = self.inner.lock();
        if q.0.len() < BW_BREAKER_EVENT_QUEUE_LEN {
            q.0.push_back(event);
        } else {
            q.1 += 1;
        }
    }

    fn dropped(&self) -> u64 {
        self.inner.lock().1
    }
}

/// A C callback and its user data.
#[derive(Clone, Copy)]
struct EventCallback {
    f: EventFn,
    user_data: *mut c_void,
}

// SAFETY: the header documents that the callback may run on any thread that uses the
// breaker, so the caller guarantees `user_data` may be used from those threads.
unsafe impl Send for EventCallback {}
// SAFETY: as above; the library only passes the pointer back to the callback.
unsafe impl Sync for EventCallback {}

/// What a handle (and a registry entry) shares: the breaker and its event queue.
#[derive(Clone)]
struct Shared {
    breaker: CircuitBreaker,
    events: Arc<EventQueue>,
}

fn build(
    config: BreakerConfig,
    clock: Clock,
    callback: Option<EventCallback>,
) -> Result<Shared, ConfigError> {
    let events = Arc::new(EventQueue::new());
    let queue = Arc::clone(&events);
    let event_clock = clock.clone();
    let breaker = CircuitBreaker::builder()
        .config(config)
        .clock(clock)
        .on_transition(move |t: &Transition| {
            let event = bw_breaker_event {
                from: t.from.code(),
                to: t.to.code(),
                reason: reason_code(t.reason),
                generation: t.generation,
                at_ns: event_clock.nanos_at(t.at),
            };
            queue.push(event);
            if let Some(cb) = callback {
                // SAFETY: the caller gave a valid callback with its user data at `_new`;
                // `event` lives for the duration of the call.
                unsafe { (cb.f)(&event, cb.user_data) };
            }
        })
        .build()?;
    Ok(Shared { breaker, events })
}

/// A circuit breaker handle. Thread-safe; free it with `bw_breaker_free`. Handles from a
/// registry share their breaker (and its event queue) with every other handle of the
/// same name.
pub struct bw_breaker {
    shared: Shared,
}

/// A breaker configuration, from JSON (`bw_breaker_config_from_json`) or built with
/// setters (`bw_breaker_config_new`, `bw_breaker_config_set_*`), to build breakers with
/// `bw_breaker_new`. Thread-safe; free it with `bw_breaker_config_free`.
pub struct bw_breaker_config {
    builder: parking_lot::Mutex<BreakerBuilder>,
}

impl bw_breaker_config {
    fn new(builder: BreakerBuilder) -> bw_breaker_config {
        bw_breaker_config {
            builder: parking_lot::Mutex::new(builder),
        }
    }

    fn update(&self, f: impl FnOnce(BreakerBuilder) -> BreakerBuilder) {
        let mut guard = self.builder.lock();
        let builder = std::mem::take(&mut *guard);
        *guard = f(builder);
    }

    fn config(&self) -> Result<BreakerConfig, ConfigError> {
        self.builder.lock().to_config()
    }
}

/// `bw_breaker_config_set_failure_rate` window kind: the last `n` outcomes.
pub const BW_WINDOW_COUNT: u32 = 0;
/// `bw_breaker_config_set_failure_rate` window kind: the outcomes of the last `n`
/// nanoseconds.
pub const BW_WINDOW_TIME: u32 = 1;

fn window_of(kind: u32, size: u64) -> Result<Window, FfiError> {
    match kind {
        BW_WINDOW_COUNT => u32::try_from(size).map(Window::Count).map_err(|_| {
            ConfigError::new(
                PolicyKind::CircuitBreaker,
                "window",
                format!("a count window holds at most {MAX_COUNT_WINDOW} outcomes, got {size}"),
            )
            .into()
        }),
        BW_WINDOW_TIME => Ok(Window::Time(Duration::from_nanos(size))),
        _ => Err(super::macros::enum_error(
            "window_kind",
            kind,
            "0 (BW_WINDOW_COUNT) or 1 (BW_WINDOW_TIME)",
        )),
    }
}

/// A registry of named breakers: the same name gives handles on the same breaker.
/// Thread-safe; free it with `bw_registry_free` (handles stay valid).
pub struct bw_registry {
    registry: Registry,
}

fn parse_config(json: &[u8]) -> Result<BreakerConfig, FfiError> {
    config_from_json(PolicyKind::CircuitBreaker, json)
}

/// Parses a breaker configuration from JSON text into `*out` (free it with
/// `bw_breaker_config_free`). `json` is UTF-8 of `len` bytes; empty text (or NULL with
/// `len` 0) gives the defaults. Every field is optional, unknown fields are refused;
/// durations are milliseconds (fractions allowed) in fields ending in `_ms`:
///
/// ```json
/// {"name": "db", "open_duration_ms": 30000, "open_duration_multiplier": 2.0,
///  "open_duration_cap_ms": 300000, "half_open_max_calls": 3, "success_threshold": 2,
///  "half_open_max_wait_ms": 10000,
///  "policy": {"type": "failure_rate", "threshold": 0.5, "window": {"count": 100},
///             "minimum_calls": 20, "slow": {"threshold": 0.8, "slow_duration_ms": 2000}}}
/// ```
///
/// Defaults: name "default", `{"type": "consecutive_failures", "threshold": 5}`, open
/// 60000 ms, multiplier 1.0, no cap, 1 trial call, success threshold = trial size,
/// half-open wait = open duration. `policy.type` is one of `consecutive_failures`
/// (`threshold`), `failures_in_window` (`threshold`, `window_ms`), `failure_rate`
/// (`threshold`, `window`, `minimum_calls`, optional `slow`), `slow_call_rate` (`slow`,
/// `window`, `minimum_calls`); a `window` is `{"count": n}` or `{"time_ms": t}`.
///
/// `BW_INVALID_CONFIG` (the message names the field) for malformed JSON, an unknown
/// field, or a value out of range (checked here, as `bw_breaker_new` would);
/// `BW_INVALID_ARGUMENT` for a NULL `out`, or a NULL `json` with a non-zero `len`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_breaker_config_from_json(
    json: *const c_char,
    len: usize,
    out: *mut *mut bw_breaker_config,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let text = try_bytes!(json, len);
        let out = try_out!(out);
        let config = parse_config(text)?;
        config.validate()?;
        out.set(into_handle(bw_breaker_config::new(
            BreakerBuilder::new().config(config),
        )));
        Ok(())
    })
}

/// Writes the configuration as JSON text (the form `bw_breaker_config_from_json` reads,
/// every field present) into `buf` (NUL-terminated) and its length without the NUL into
/// `*out_len`.
///
/// `BW_INVALID_CONFIG` when the setters combined a slow-call rate with a count policy;
/// `BW_BUFFER_TOO_SMALL` when `len` is less than the length plus one (`*out_len`
/// receives the length; `buf` may be NULL when `len` is 0); `BW_INVALID_ARGUMENT` for a
/// NULL `config` or `out_len`, or a NULL `buf` with a non-zero `len`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_breaker_config_to_json(
    config: *const bw_breaker_config,
    buf: *mut c_char,
    len: usize,
    out_len: *mut usize,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let config = try_ref!(config).config()?;
        let text = serde_json::to_string(&config)
            .map_err(|e| FfiError::invalid_argument(format!("cannot serialize: {e}")))?;
        // SAFETY: as documented for this function's parameters.
        unsafe { copy_text(&text, buf, len, out_len) }
    })
}

/// Creates a configuration with the defaults (those of `bw_breaker_config_from_json`)
/// into `*out`, to change with the `bw_breaker_config_set_*` functions. The setters
/// check only what they cannot pass on (an unknown window kind, a count window over
/// 2^32 - 1); every value is checked when a breaker is built (`BW_INVALID_CONFIG` naming
/// the field). Free it with `bw_breaker_config_free`.
///
/// `BW_INVALID_ARGUMENT` for a NULL `out`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_breaker_config_new(
    out: *mut *mut bw_breaker_config,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let out = try_out!(out);
        out.set(into_handle(bw_breaker_config::new(BreakerBuilder::new())));
        Ok(())
    })
}

/// Sets the breaker's name (UTF-8, `len` bytes, not empty). Defaults to "default".
///
/// `BW_INVALID_ARGUMENT` for a NULL `config`, a NULL `name` with a non-zero `len`, or
/// text that is not UTF-8.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_breaker_config_set_name(
    config: *const bw_breaker_config,
    name: *const c_char,
    len: usize,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let config = try_ref!(config);
        let name = try_str!(name, len);
        config.update(|b| b.name(name));
        Ok(())
    })
}

/// Opens on the `threshold`-th consecutive failure (at least 1). Defaults to 5.
/// `BW_INVALID_ARGUMENT` for a NULL `config`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_breaker_config_set_consecutive_failures(
    config: *const bw_breaker_config,
    threshold: u32,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        try_ref!(config).update(|b| b.consecutive_failures(threshold));
        Ok(())
    })
}

/// Opens on `threshold` failures within `window_ns` nanoseconds from the first failure
/// of the window. Defaults to the consecutive-failures policy (5).
/// `BW_INVALID_ARGUMENT` for a NULL `config`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_breaker_config_set_failures_in_window(
    config: *const bw_breaker_config,
    threshold: u32,
    window_ns: u64,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        try_ref!(config)
            .update(|b| b.failures_in_window(threshold, Duration::from_nanos(window_ns)));
        Ok(())
    })
}

/// Opens when the failure rate of the window reaches `threshold` (in (0, 1]) once it
/// holds `minimum_calls` outcomes. The window is `window_kind` `BW_WINDOW_COUNT` (the
/// last `window_size` outcomes) or `BW_WINDOW_TIME` (the last `window_size`
/// nanoseconds). Defaults to the consecutive-failures policy (5).
///
/// `BW_INVALID_ARGUMENT` for a NULL `config` or an unknown `window_kind`;
/// `BW_INVALID_CONFIG` for a count window over 2^32 - 1.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_breaker_config_set_failure_rate(
    config: *const bw_breaker_config,
    threshold: f64,
    window_kind: u32,
    window_size: u64,
    minimum_calls: u32,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let config = try_ref!(config);
        let window = window_of(window_kind, window_size)?;
        config.update(|b| b.failure_rate(threshold, window, minimum_calls));
        Ok(())
    })
}

/// Adds a slow-call rate: calls of at least `slow_ns` nanoseconds are slow, and the
/// breaker opens when their rate reaches `threshold` (in (0, 1]), over the window of a
/// failure-rate policy, or alone over the last 100 calls (minimum 100). With a count
/// policy, building refuses it. Defaults to no slow-call rate.
/// `BW_INVALID_ARGUMENT` for a NULL `config`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_breaker_config_set_slow_call_rate(
    config: *const bw_breaker_config,
    threshold: f64,
    slow_ns: u64,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        try_ref!(config).update(|b| b.slow_call_rate(threshold, Duration::from_nanos(slow_ns)));
        Ok(())
    })
}

/// How long the breaker stays open before a trial, in nanoseconds (greater than zero).
/// Defaults to 60 s. `BW_INVALID_ARGUMENT` for a NULL `config`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_breaker_config_set_open_duration_ns(
    config: *const bw_breaker_config,
    ns: u64,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        try_ref!(config).update(|b| b.open_duration(Duration::from_nanos(ns)));
        Ok(())
    })
}

/// Grows the open duration on consecutive re-opens: the k-th lasts
/// `min(cap_ns, open_duration * multiplier^k)` (`multiplier` at least 1, `cap_ns` at
/// least the open duration). Defaults to no growth. `BW_INVALID_ARGUMENT` for a NULL
/// `config`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_breaker_config_set_open_duration_growth(
    config: *const bw_breaker_config,
    multiplier: f64,
    cap_ns: u64,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        try_ref!(config)
            .update(|b| b.open_duration_growth(multiplier, Duration::from_nanos(cap_ns)));
        Ok(())
    })
}

/// Admissions per half-open trial (at least 1). Defaults to 1. `BW_INVALID_ARGUMENT` for
/// a NULL `config`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_breaker_config_set_half_open_max_calls(
    config: *const bw_breaker_config,
    n: u32,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        try_ref!(config).update(|b| b.half_open_max_calls(n));
        Ok(())
    })
}

/// Successes that close a half-open trial under a count policy (1 to the trial size).
/// Defaults to the trial size. `BW_INVALID_ARGUMENT` for a NULL `config`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_breaker_config_set_success_threshold(
    config: *const bw_breaker_config,
    n: u32,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        try_ref!(config).update(|b| b.success_threshold(n));
        Ok(())
    })
}

/// How long a half-open trial may stay undecided before the breaker re-opens, in
/// nanoseconds (greater than zero). Defaults to the open duration.
/// `BW_INVALID_ARGUMENT` for a NULL `config`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_breaker_config_set_half_open_max_wait_ns(
    config: *const bw_breaker_config,
    ns: u64,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        try_ref!(config).update(|b| b.half_open_max_wait(Duration::from_nanos(ns)));
        Ok(())
    })
}

/// Releases a configuration. NULL is a no-op. Breakers built from it are not affected.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_breaker_config_free(config: *mut bw_breaker_config) {
    ffi_boundary_value!((), {
        // SAFETY: the header documents `config` as NULL or a handle from
        // `bw_breaker_config_from_json`, freed once.
        unsafe { free_handle(config) }
    })
}

/// Copies `text` NUL-terminated into `buf` (see `bw_breaker_name`).
///
/// # Safety
///
/// `out_len` is NULL or writable; `buf` is NULL or valid for `len` bytes.
unsafe fn copy_text(
    text: &str,
    buf: *mut c_char,
    len: usize,
    out_len: *mut usize,
) -> Result<(), FfiError> {
    let out_len = try_out!(out_len);
    if buf.is_null() && len > 0 {
        return Err(FfiError::invalid_argument(
            "buf must not be NULL when len is not 0",
        ));
    }
    let n = text.len();
    if len < n + 1 {
        out_len.set(n);
        return Err(FfiError::new(
            BW_BUFFER_TOO_SMALL,
            format!("the buffer holds {len} bytes, {} are needed", n + 1),
        ));
    }
    // SAFETY: `buf` is non-NULL (len > n >= 0) and valid for `len >= n + 1` bytes (the
    // caller's contract); the source is a live `str` and cannot overlap it.
    unsafe {
        std::ptr::copy_nonoverlapping(text.as_ptr(), buf.cast::<u8>(), n);
        buf.add(n).write(0);
    }
    out_len.set(n);
    Ok(())
}

/// Builds a breaker from `config` into `*out` (free it with `bw_breaker_free`).
///
/// `clock` (may be NULL: the monotonic clock) is kept by reference: it may be freed
/// after the call. `on_event` (may be NULL) is called with every state transition, with
/// `user_data`, on the thread whose call caused the transition (or applied a due one:
/// transitions are lazy), after the breaker's lock is released, one at a time and in
/// order; it may call back into the breaker (a transition it causes is delivered after it
/// returns) and must not unwind. `user_data` must stay valid, and usable from those
/// threads, until the breaker is freed. Events also go to the polling queue.
///
/// `BW_INVALID_CONFIG` for a configuration out of range; `BW_INVALID_ARGUMENT` for a
/// NULL `config` or `out`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_breaker_new(
    config: *const bw_breaker_config,
    clock: *const bw_clock,
    on_event: Option<unsafe extern "C" fn(event: *const bw_breaker_event, user_data: *mut c_void)>,
    user_data: *mut c_void,
    out: *mut *mut bw_breaker,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let config = try_ref!(config);
        let clock = opt_ref!(clock);
        let out = try_out!(out);
        let callback = on_event.map(|f| EventCallback { f, user_data });
        let shared = build(config.config()?, clock_or_monotonic(clock), callback)?;
        out.set(into_handle(bw_breaker { shared }));
        Ok(())
    })
}

/// Builds a breaker from JSON text (see `bw_breaker_config_from_json` for the form;
/// empty or NULL with `len` 0 gives the defaults) into `*out`, without an event callback
/// (events can be polled). `clock` may be NULL (the monotonic clock) and may be freed
/// after the call. Free the breaker with `bw_breaker_free`.
///
/// `BW_INVALID_CONFIG` (the message names the field); `BW_INVALID_ARGUMENT` for a NULL
/// `out`, or a NULL `json` with a non-zero `len`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_breaker_new_json(
    json: *const c_char,
    len: usize,
    clock: *const bw_clock,
    out: *mut *mut bw_breaker,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let text = try_bytes!(json, len);
        let clock = opt_ref!(clock);
        let out = try_out!(out);
        let config = parse_config(text)?;
        let shared = build(config, clock_or_monotonic(clock), None)?;
        out.set(into_handle(bw_breaker { shared }));
        Ok(())
    })
}

/// Releases a breaker handle. NULL is a no-op. Must not be called while another thread
/// uses the handle; other handles on the same (registry) breaker stay valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_breaker_free(breaker: *mut bw_breaker) {
    ffi_boundary_value!((), {
        // SAFETY: the header documents `breaker` as NULL or a handle from a breaker
        // constructor, freed once, no longer used by other threads.
        unsafe { free_handle(breaker) }
    })
}

/// Asks to run one call. On `BW_OK`, `*out` receives the permit: run the call, then
/// report its outcome once with `bw_breaker_record`. Does not block, allocates nothing.
///
/// `BW_REJECTED` when the breaker refuses: `err->reason` is `BW_REASON_OPEN` (with
/// `err->retry_after_ns`, the time left in the open state), `BW_REASON_TRIAL_FULL` or
/// `BW_REASON_FORCED_OPEN`; `BW_INVALID_ARGUMENT` for a NULL `breaker` or `out`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_breaker_try_acquire(
    breaker: *const bw_breaker,
    out: *mut bw_permit,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let breaker = try_ref!(breaker);
        let out = try_out!(out);
        match breaker.shared.breaker.try_acquire_raw() {
            Ok(raw) => {
                out.set(raw.into());
                Ok(())
            }
            Err(r) => Err(FfiError::rejected(
                PolicyKind::CircuitBreaker,
                r.reason,
                r.retry_after,
            )),
        }
    })
}

fn record(
    breaker: &bw_breaker,
    permit: bw_permit,
    outcome: Outcome,
    duration: Option<Duration>,
) -> Result<(), FfiError> {
    match breaker
        .shared
        .breaker
        .record_raw(permit.into(), outcome, duration)
    {
        Recorded::Recorded => Ok(()),
        Recorded::Stale => {
            let mut e = FfiError::new(
                BW_STALE,
                format!(
                    "the permit of generation {} is stale (the breaker changed state since): \
                     its outcome was dropped",
                    permit.generation
                ),
            );
            e.policy = BW_POLICY_CIRCUIT_BREAKER;
            Err(e)
        }
    }
}

/// Reports the outcome (`BW_OUTCOME_SUCCESS`, `BW_OUTCOME_FAILURE` or
/// `BW_OUTCOME_IGNORED`) of a call admitted with `permit`. When the breaker measures
/// durations (a slow-call policy), the duration is measured from the permit's
/// acquisition. Does not block.
///
/// `BW_STALE` when the permit is of an older generation (the breaker changed state since
/// it was acquired, or it was already reported and the state changed): the outcome is
/// dropped and counted in `stale_dropped`. `BW_INVALID_ARGUMENT` for a NULL `breaker` or
/// an unknown outcome.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_breaker_record(
    breaker: *const bw_breaker,
    permit: bw_permit,
    outcome: u32,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let breaker = try_ref!(breaker);
        let outcome = try_enum!(outcome as Outcome);
        record(breaker, permit, outcome, None)
    })
}

/// `bw_breaker_record` with the call's duration given in nanoseconds (for slow-call
/// policies) instead of measured from the permit.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_breaker_record_duration(
    breaker: *const bw_breaker,
    permit: bw_permit,
    outcome: u32,
    duration_ns: u64,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let breaker = try_ref!(breaker);
        let outcome = try_enum!(outcome as Outcome);
        record(
            breaker,
            permit,
            outcome,
            Some(Duration::from_nanos(duration_ns)),
        )
    })
}

/// The answer of `bw_breaker_admit`: a permit, or why the breaker refused.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct bw_breaker_admission {
    /// The permit when admitted (`reason` is `BW_REASON_NONE`): report its outcome once
    /// with `bw_breaker_record` or `bw_breaker_record_ptr`. Zero when refused.
    pub permit: bw_permit,
    /// `BW_REASON_NONE` when admitted; else `BW_REASON_OPEN`, `BW_REASON_TRIAL_FULL` or
    /// `BW_REASON_FORCED_OPEN`, as `bw_breaker_try_acquire` would report in its error.
    pub reason: u32,
    /// Whether `retry_after_ns` holds a hint (`BW_REASON_OPEN` only).
    pub has_retry_after: bool,
    /// For `BW_REASON_OPEN`: the time left in the open state, in nanoseconds; else 0.
    pub retry_after_ns: u64,
}

/// `bw_breaker_try_acquire` for callers that treat a refusal as an answer rather than
/// an error: the one call of a binding's hot path. Writes to `*out` either a permit
/// (`out->reason == BW_REASON_NONE`) or the reason of the refusal with its retry-after
/// hint. A refusal is counted in the metrics exactly as by `bw_breaker_try_acquire`, but
/// it is not an error: the status is `BW_OK` and the thread's last error is left alone.
/// Does not block, allocates nothing.
///
/// `BW_INVALID_ARGUMENT` for a NULL `breaker` or `out` (`*out` is then not written).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_breaker_admit(
    breaker: *const bw_breaker,
    out: *mut bw_breaker_admission,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let breaker = try_ref!(breaker);
        let out = try_out!(out);
        out.set(match breaker.shared.breaker.try_acquire_raw() {
            Ok(raw) => bw_breaker_admission {
                permit: raw.into(),
                ..bw_breaker_admission::default()
            },
            Err(r) => bw_breaker_admission {
                permit: bw_permit::default(),
                reason: super::status::reason_code(r.reason),
                has_retry_after: r.retry_after.is_some(),
                retry_after_ns: r.retry_after.map_or(0, crate::clock::duration_nanos),
            },
        });
        Ok(())
    })
}

/// `bw_breaker_record` with the permit passed by pointer (cheaper to call from some
/// foreign-function interfaces than a struct by value). `*permit` is read, not kept.
///
/// `BW_STALE` as `bw_breaker_record`; `BW_INVALID_ARGUMENT` for a NULL `breaker` or
/// `permit`, or an unknown outcome.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_breaker_record_ptr(
    breaker: *const bw_breaker,
    permit: *const bw_permit,
    outcome: u32,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let breaker = try_ref!(breaker);
        let permit = *try_ref!(permit);
        let outcome = try_enum!(outcome as Outcome);
        record(breaker, permit, outcome, None)
    })
}

/// Runs `func(user_data)` through the breaker, on the calling thread: it returns 0 for a
/// success and anything else for a failure, which is recorded.
///
/// `BW_OK` when it ran and returned 0; `BW_FAILED` when it ran and returned non-zero;
/// in both cases `*out_result` (may be NULL) receives its return value (the one
/// exception to "out-parameters only on success": the function did run).
/// `BW_REJECTED` (as `bw_breaker_try_acquire`) when it was not run; `BW_INVALID_ARGUMENT`
/// for a NULL `breaker` or `func`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_breaker_call(
    breaker: *const bw_breaker,
    func: Option<unsafe extern "C" fn(user_data: *mut c_void) -> c_int>,
    user_data: *mut c_void,
    out_result: *mut c_int,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let breaker = try_ref!(breaker);
        let f = try_callback!(func);
        let permit =
            breaker.shared.breaker.try_acquire_raw().map_err(|r| {
                FfiError::rejected(PolicyKind::CircuitBreaker, r.reason, r.retry_after)
            })?;
        // SAFETY: the caller gives a valid function and the user data it expects.
        let result = unsafe { f(user_data) };
        let outcome = if result == 0 {
            Outcome::Success
        } else {
            Outcome::Failure
        };
        // A stale outcome (the state changed during the call) is not the caller's error.
        let _ = breaker.shared.breaker.record_raw(permit, outcome, None);
        if !out_result.is_null() {
            // SAFETY: non-NULL, documented as writable for one int.
            unsafe { out_result.write(result) };
        }
        if result == 0 {
            Ok(())
        } else {
            let mut e = FfiError::new(
                BW_FAILED,
                format!("the guarded function failed (returned {result})"),
            );
            e.policy = BW_POLICY_CIRCUIT_BREAKER;
            Err(e)
        }
    })
}

/// Writes the breaker's state (`BW_STATE_*`) to `*out_state`, applying a due transition
/// first (open -> half-open once the open duration has elapsed).
///
/// `BW_INVALID_ARGUMENT` for a NULL `breaker` or `out_state`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_breaker_state(
    breaker: *const bw_breaker,
    out_state: *mut u32,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let breaker = try_ref!(breaker);
        let out_state = try_out!(out_state);
        out_state.set(breaker.shared.breaker.state().code());
        Ok(())
    })
}

fn metrics_of(m: &BreakerMetrics, events_dropped: u64) -> bw_breaker_stats {
    bw_breaker_stats {
        size: size_of::<bw_breaker_stats>() as u32,
        state: m.state.code(),
        generation: m.generation,
        requests: m.current.requests,
        successes: m.current.successes,
        failures: m.current.failures,
        ignored: m.current.ignored,
        slow: m.current.slow,
        consecutive_successes: m.current.consecutive_successes,
        consecutive_failures: m.current.consecutive_failures,
        window_calls: m.current.window_calls,
        window_failures: m.current.window_failures,
        failure_rate: m.current.failure_rate.unwrap_or(-1.0),
        slow_call_rate: m.current.slow_call_rate.unwrap_or(-1.0),
        total_requests: m.totals.requests,
        total_successes: m.totals.successes,
        total_failures: m.totals.failures,
        total_ignored: m.totals.ignored,
        total_slow: m.totals.slow,
        rejected_open: m.totals.rejected_open,
        rejected_trial_full: m.totals.rejected_trial_full,
        rejected_forced_open: m.totals.rejected_forced_open,
        stale_dropped: m.totals.stale_dropped,
        transitions: m.totals.transitions,
        opened: m.totals.opened,
        events_dropped,
    }
}

/// The smallest `size` `bw_breaker_metrics` accepts: the `size`, `state` and
/// `generation` fields.
pub const BW_BREAKER_METRICS_MIN_SIZE: u32 = 16;

/// Writes a snapshot of the breaker's counts to `*out` (applying a due transition
/// first). Set `out->size = sizeof(bw_breaker_stats)` before the call: the library
/// writes the fields that fit and sets `out->size` to the bytes written.
///
/// `BW_INVALID_ARGUMENT` for a NULL `breaker` or `out`, or `out->size` less than
/// `BW_BREAKER_METRICS_MIN_SIZE` (`*out` is then not written).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_breaker_metrics(
    breaker: *const bw_breaker,
    out: *mut bw_breaker_stats,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let breaker = try_ref!(breaker);
        if out.is_null() {
            return Err(FfiError::null("out"));
        }
        // SAFETY: non-NULL; the caller's struct starts with its `size` field (a u32).
        let size = unsafe { out.cast::<u32>().read_unaligned() };
        if size < BW_BREAKER_METRICS_MIN_SIZE {
            return Err(FfiError::invalid_argument(format!(
                "out->size must be set to sizeof(bw_breaker_stats) ({}), got {size}",
                size_of::<bw_breaker_stats>()
            )));
        }
        let shared = &breaker.shared;
        let mut m = metrics_of(&shared.breaker.metrics(), shared.events.dropped());
        let n = (size as usize).min(size_of::<bw_breaker_stats>());
        m.size = n as u32;
        // SAFETY: the caller's struct is valid for `size >= n` bytes (its contract);
        // `m` is a local of at least `n` bytes; they cannot overlap.
        unsafe {
            std::ptr::copy_nonoverlapping((&raw const m).cast::<u8>(), out.cast::<u8>(), n);
        }
        Ok(())
    })
}

/// Closes the breaker (from any state, manual modes included) and starts a new
/// generation with fresh counts. `BW_INVALID_ARGUMENT` for a NULL `breaker`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_breaker_reset(
    breaker: *const bw_breaker,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        try_ref!(breaker).shared.breaker.reset();
        Ok(())
    })
}

/// Forces the breaker open: every call is rejected with `BW_REASON_FORCED_OPEN` until
/// `bw_breaker_reset` (or `bw_breaker_disable`). `BW_INVALID_ARGUMENT` for a NULL
/// `breaker`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_breaker_force_open(
    breaker: *const bw_breaker,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        try_ref!(breaker).shared.breaker.force_open();
        Ok(())
    })
}

/// Disables the breaker: every call is admitted and counted, it never trips, until
/// `bw_breaker_reset` (or `bw_breaker_force_open`). `BW_INVALID_ARGUMENT` for a NULL
/// `breaker`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_breaker_disable(
    breaker: *const bw_breaker,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        try_ref!(breaker).shared.breaker.disable();
        Ok(())
    })
}

/// Copies the breaker's name (UTF-8, NUL-terminated) into `buf` and its length without
/// the NUL into `*out_len`.
///
/// `BW_BUFFER_TOO_SMALL` when `len` is less than the length plus one (`*out_len`
/// receives the length, `buf` is not written; `buf` may be NULL when `len` is 0);
/// `BW_INVALID_ARGUMENT` for a NULL `breaker` or `out_len`, or a NULL `buf` with a
/// non-zero `len`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_breaker_name(
    breaker: *const bw_breaker,
    buf: *mut c_char,
    len: usize,
    out_len: *mut usize,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let breaker = try_ref!(breaker);
        // SAFETY: as documented for this function's parameters.
        unsafe { copy_text(breaker.shared.breaker.name(), buf, len, out_len) }
    })
}

/// Moves up to `cap` pending transition events, oldest first, into `buf` and their
/// number into `*out_n` (0 when none). Every handle on a breaker polls the same queue of
/// `BW_BREAKER_EVENT_QUEUE_LEN` events: when it is full, new events are dropped and
/// counted in `bw_breaker_stats.events_dropped`. Does not block.
///
/// `BW_INVALID_ARGUMENT` for a NULL `breaker` or `out_n`, or a NULL `buf` with a
/// non-zero `cap`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_breaker_poll_events(
    breaker: *const bw_breaker,
    buf: *mut bw_breaker_event,
    cap: usize,
    out_n: *mut usize,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let breaker = try_ref!(breaker);
        let out_n = try_out!(out_n);
        if buf.is_null() && cap > 0 {
            return Err(FfiError::invalid_argument(
                "buf must not be NULL when cap is not 0",
            ));
        }
        let mut q = breaker.shared.events.inner.lock();
        let n = cap.min(q.0.len());
        for i in 0..n {
            let event = q.0.pop_front().unwrap_or_default();
            // SAFETY: `buf` is non-NULL (n > 0 implies cap > 0) and valid for `cap > i`
            // events (the caller's contract).
            unsafe { buf.add(i).write(event) };
        }
        out_n.set(n);
        Ok(())
    })
}

/// Creates an empty registry into `*out`. Free it with `bw_registry_free`.
///
/// `BW_INVALID_ARGUMENT` for a NULL `out`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_registry_new(
    out: *mut *mut bw_registry,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let out = try_out!(out);
        out.set(into_handle(bw_registry {
            registry: Registry::new(),
        }));
        Ok(())
    })
}

/// Releases a registry. NULL is a no-op. Handles it gave stay valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_registry_free(registry: *mut bw_registry) {
    ffi_boundary_value!((), {
        // SAFETY: the header documents `registry` as NULL or a handle from
        // `bw_registry_new`, freed once, no longer used by other threads.
        unsafe { free_handle(registry) }
    })
}

/// Writes to `*out` a new handle (free it with `bw_breaker_free`) on the registry's
/// breaker named `name` (UTF-8, `name_len` bytes, not empty), building it on first use.
///
/// `json` (`json_len` bytes) is an explicit configuration (see
/// `bw_breaker_config_from_json`; its `name` is replaced by `name`), or NULL / empty for
/// none: the existing breaker whatever its configuration, or a new one with the default
/// configuration. `clock` (may be NULL: monotonic) is used only when the breaker is
/// built. Registry breakers have no event callback (events can be polled, by any
/// handle).
///
/// `BW_INVALID_CONFIG` for an invalid configuration, or when `name` is registered with a
/// different explicit configuration; `BW_INVALID_ARGUMENT` for a NULL `registry` or
/// `out`, an empty or non-UTF-8 `name`, or a NULL pointer with a non-zero length.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_registry_breaker(
    registry: *const bw_registry,
    name: *const c_char,
    name_len: usize,
    json: *const c_char,
    json_len: usize,
    clock: *const bw_clock,
    out: *mut *mut bw_breaker,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let registry = try_ref!(registry);
        let name = try_str!(name, name_len);
        let text = try_bytes!(json, json_len);
        let clock = opt_ref!(clock);
        let out = try_out!(out);
        if name.is_empty() {
            return Err(FfiError::invalid_argument("name must not be empty"));
        }
        let explicit = if text.iter().all(u8::is_ascii_whitespace) {
            None
        } else {
            let mut config = parse_config(text)?;
            name.clone_into(&mut config.name);
            config.validate()?;
            Some(config)
        };
        let shared = registry.registry.get_or_build(
            PolicyKind::CircuitBreaker,
            name,
            None::<BreakerConfig>,
            |default| {
                let config = explicit.clone().unwrap_or_else(|| {
                    let mut c = default.clone();
                    name.clone_into(&mut c.name);
                    c
                });
                build(config, clock_or_monotonic(clock), None)
            },
        )?;
        if let Some(config) = &explicit {
            if shared.breaker.config() != config {
                return Err(ConfigError::new(
                    PolicyKind::CircuitBreaker,
                    "name",
                    format!("{name:?} is already registered with a different configuration"),
                )
                .into());
            }
        }
        out.set(into_handle(bw_breaker { shared }));
        Ok(())
    })
}

#[allow(dead_code, reason = "keeps the state codes in step with the Rust enum")]
const _: () = {
    assert!(State::Closed as u32 == BW_STATE_CLOSED);
    assert!(State::Open as u32 == BW_STATE_OPEN);
    assert!(State::HalfOpen as u32 == BW_STATE_HALF_OPEN);
    assert!(State::ForcedOpen as u32 == BW_STATE_FORCED_OPEN);
    assert!(State::Disabled as u32 == BW_STATE_DISABLED);
};

impl bw_breaker {
    /// The Rust breaker behind the handle (for pipeline stages).
    pub(crate) fn policy(&self) -> &CircuitBreaker {
        &self.shared.breaker
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::breaker::{SlowCalls, TripPolicy, Window};

    fn parse(text: &str) -> Result<BreakerConfig, String> {
        parse_config(text.as_bytes()).map_err(|e| e.message.to_string())
    }

    #[test]
    fn every_policy_round_trips_through_json() {
        let slow = SlowCalls {
            threshold: 0.8,
            slow_duration: Duration::from_micros(2500),
        };
        let policies = [
            TripPolicy::ConsecutiveFailures { threshold: 3 },
            TripPolicy::FailuresInWindow {
                threshold: 4,
                window: Duration::from_secs(10),
            },
            TripPolicy::FailureRate {
                threshold: 0.5,
                window: Window::Time(Duration::from_millis(1500)),
                minimum_calls: 5,
                slow: Some(slow),
            },
            TripPolicy::SlowCallRate {
                slow,
                window: Window::Count(20),
                minimum_calls: 20,
            },
        ];
        for policy in policies {
            let config = BreakerConfig {
                name: "x".into(),
                policy,
                open_duration_cap: Some(Duration::from_secs(600)),
                half_open_max_wait: Some(Duration::from_nanos(1)),
                success_threshold: Some(1),
                ..BreakerConfig::default()
            };
            let text = serde_json::to_string(&config).unwrap();
            assert_eq!(parse(&text).unwrap(), config, "{text}");
        }
    }

    #[test]
    fn durations_are_milliseconds_with_fractions() {
        let c = parse(r#"{"open_duration_ms": 0.5, "half_open_max_wait_ms": null}"#).unwrap();
        assert_eq!(c.open_duration, Duration::from_micros(500));
        assert_eq!(c.half_open_max_wait, None);
        assert_eq!(
            serde_json::to_value(&c).unwrap()["open_duration_ms"],
            serde_json::json!(0.5)
        );
        assert!(
            parse(r#"{"open_duration_ms": -3}"#)
                .unwrap_err()
                .starts_with("invalid circuit breaker configuration: open_duration_ms: invalid value: integer `-3`, expected a non-negative number of milliseconds")
        );
        assert!(
            parse(r#"{"open_duration_ms": 1e300}"#)
                .unwrap_err()
                .contains("a number of milliseconds that fits a duration")
        );
    }

    #[test]
    fn nested_unknown_fields_are_refused_by_path() {
        let e = parse(r#"{"policy": {"type": "consecutive_failures", "threshold": 1, "x": 2}}"#)
            .unwrap_err();
        assert!(e.contains("unknown field `x`"), "{e}");
        let e = parse(r#"{"policy": {"type": "failure_rate", "threshold": 0.5, "window": {"cnt": 1}, "minimum_calls": 1}}"#)
            .unwrap_err();
        assert!(
            e.contains("unknown variant `cnt`, expected `count` or `time_ms`"),
            "{e}"
        );
    }
}
