//! Retry: `bw_retry` (JSON configuration), its callback-free protocol
//! (`bw_retry_begin` / `bw_retry_next`) and the C convenience `bw_retry_call`.

use std::ffi::{CString, c_char, c_int, c_void};
use std::sync::OnceLock;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::boundary::FfiEnum;
use super::cancel::bw_cancel;
use super::clock::{bw_clock, sleep_until_ns};
use super::error::{FfiError, bw_error};
use super::json_config::{
    JsonConfig, check_name, defaults_json, ms_field, new_json, schema, schema_json, static_text,
    to_ms,
};
use super::out::{free_handle, into_handle};
use super::status::{BW_CANCELLED, BW_FAILED, BW_POLICY_RETRY, bw_status};
use crate::clock::Clock;
use crate::clock::duration_nanos;
use crate::error::{ConfigError, PolicyKind};
use crate::retry::{
    Backoff, Jitter, Next, OutcomeKind, Retry, RetryBudgetConfig, RetryBuilder, RetryConfig,
    RetryState, StopReason,
};
use parking_lot::Mutex;

/// How the delay grows in a [`RetryJson`] (`"backoff"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackoffJson {
    /// `initial_ms` before every retry.
    Fixed,
    /// `initial_ms + (k - 1) * step_ms` before retry `k`.
    Linear,
    /// `initial_ms * multiplier^(k - 1)` before retry `k` (the default).
    #[default]
    Exponential,
}

/// The randomisation of each delay in a [`RetryJson`] (`"jitter"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JitterJson {
    /// No jitter (the default).
    #[default]
    None,
    /// Uniform in `[0, d]`.
    Full,
    /// Uniform in `[d / 2, d]`.
    Equal,
    /// `d * (1 ± jitter_factor)`.
    Proportional,
    /// `min(cap, rand(initial, previous * 3))`.
    Decorrelated,
}

/// The shared retry budget of a [`RetryJson`] (`"budget"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryBudgetJson {
    /// The share of calls that may be retried, in `[0, 1]`. Defaults to 0.2.
    pub percent: f64,
    /// The window, in milliseconds (non-zero). Defaults to 10000.
    pub ttl_ms: f64,
    /// Retries allowed per second of `ttl` on top of `percent`. Defaults to 10.
    pub min_retries_per_sec: u32,
}

impl Default for RetryBudgetJson {
    fn default() -> Self {
        RetryBudgetJson {
            percent: 0.2,
            ttl_ms: 10_000.0,
            min_retries_per_sec: 10,
        }
    }
}

/// The JSON configuration of `bw_retry_new_json`. Durations are `*_ms` fields: JSON
/// numbers of milliseconds (fractions allowed, rounded to the nanosecond).
///
/// ```json
/// {"max_attempts": 4, "backoff": "exponential", "initial_ms": 100, "multiplier": 2,
///  "max_delay_ms": 1000, "jitter": "proportional", "jitter_factor": 0.1,
///  "min_delay_ms": 50, "max_elapsed_ms": 5000, "seed": 7,
///  "budget": {"percent": 0.2, "ttl_ms": 10000, "min_retries_per_sec": 10}}
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryJson {
    /// The retry's name. Defaults to an empty name.
    pub name: String,
    /// Attempts in all, counting the first call (at least 1). Defaults to 3.
    pub max_attempts: u32,
    /// The backoff kind. Defaults to `"exponential"`.
    pub backoff: BackoffJson,
    /// The delay before the first retry, in ms. Defaults to 500.
    pub initial_ms: f64,
    /// The growth factor of an exponential backoff (finite, at least 1). Defaults to 2.
    pub multiplier: f64,
    /// What each retry adds to a linear backoff, in ms. Defaults to 0.
    pub step_ms: f64,
    /// The cap on the backoff's delay, in ms. Defaults to none.
    pub max_delay_ms: Option<f64>,
    /// The floor applied after jitter, in ms. Defaults to 0.
    pub min_delay_ms: f64,
    /// The jitter kind. Defaults to `"none"`.
    pub jitter: JitterJson,
    /// The factor of a proportional jitter, in `[0, 1]`. Defaults to 0.1.
    pub jitter_factor: f64,
    /// The total time budget of a call, in ms. Defaults to none.
    pub max_elapsed_ms: Option<f64>,
    /// The jitter seed. Defaults to one drawn when the retry is built.
    pub seed: Option<u64>,
    /// A retry budget shared by every call of this retry. Defaults to none.
    pub budget: Option<RetryBudgetJson>,
}

impl Default for RetryJson {
    fn default() -> Self {
        RetryJson {
            name: String::new(),
            max_attempts: 3,
            backoff: BackoffJson::Exponential,
            initial_ms: 500.0,
            multiplier: 2.0,
            step_ms: 0.0,
            max_delay_ms: None,
            min_delay_ms: 0.0,
            jitter: JitterJson::None,
            jitter_factor: 0.1,
            max_elapsed_ms: None,
            seed: None,
            budget: None,
        }
    }
}

impl JsonConfig for RetryJson {
    const POLICY: PolicyKind = PolicyKind::Retry;
    type Handle = bw_retry;

    fn build(self, clock: Clock) -> Result<bw_retry, FfiError> {
        let retry = RetryBuilder::from_config(self.to_config()?)
            .name(self.name)
            .clock(clock)
            .build()?;
        Ok(bw_retry { retry })
    }

    fn schema() -> serde_json::Value {
        let u32max = u64::from(u32::MAX);
        schema::object(
            vec![
                ("name", schema::name("the retry's name")),
                (
                    "max_attempts",
                    schema::integer(1, u32max, "attempts in all, the first included"),
                ),
                (
                    "backoff",
                    schema::one_of_strings(
                        &["fixed", "linear", "exponential"],
                        "the delay schedule",
                    ),
                ),
                ("initial_ms", schema::ms("the first delay")),
                (
                    "multiplier",
                    serde_json::json!({"type": "number", "minimum": 1, "description": "exponential growth of the delay"}),
                ),
                ("step_ms", schema::ms("linear growth of the delay")),
                (
                    "max_delay_ms",
                    schema::nullable(schema::ms("the longest delay; null: none")),
                ),
                ("min_delay_ms", schema::ms("the shortest delay")),
                (
                    "jitter",
                    schema::one_of_strings(
                        &["none", "full", "equal", "proportional", "decorrelated"],
                        "randomisation of the delays",
                    ),
                ),
                (
                    "jitter_factor",
                    schema::number("the spread of proportional jitter, in [0, 1]"),
                ),
                (
                    "max_elapsed_ms",
                    schema::nullable(schema::ms(
                        "no retry starts after this long; null: no limit",
                    )),
                ),
                (
                    "seed",
                    schema::nullable(schema::integer(
                        0,
                        u64::MAX,
                        "the jitter's random seed; null: random",
                    )),
                ),
                (
                    "budget",
                    schema::nullable(schema::object(
                        vec![
                            (
                                "percent",
                                schema::number("retries allowed as a fraction of calls, in [0, 1]"),
                            ),
                            ("ttl_ms", schema::ms("how long a call counts (> 0)")),
                            (
                                "min_retries_per_sec",
                                schema::integer(0, u32max, "retries allowed whatever the calls"),
                            ),
                        ],
                        &[],
                    )),
                ),
            ],
            &[],
        )
    }
}

impl RetryJson {
    /// The Rust configuration (the builder checks the values).
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming a `*_ms` field that is negative or too large.
    pub fn to_config(&self) -> Result<RetryConfig, ConfigError> {
        check_name(PolicyKind::Retry, &self.name)?;
        let ms = |field, v| ms_field(PolicyKind::Retry, field, v);
        let initial = ms("initial_ms", self.initial_ms)?;
        let backoff = match self.backoff {
            BackoffJson::Fixed => Backoff::Fixed(initial),
            BackoffJson::Linear => Backoff::Linear {
                initial,
                step: ms("step_ms", self.step_ms)?,
            },
            BackoffJson::Exponential => Backoff::Exponential {
                initial,
                multiplier: self.multiplier,
            },
        };
        let jitter = match self.jitter {
            JitterJson::None => Jitter::None,
            JitterJson::Full => Jitter::Full,
            JitterJson::Equal => Jitter::Equal,
            JitterJson::Proportional => Jitter::Proportional(self.jitter_factor),
            JitterJson::Decorrelated => Jitter::Decorrelated,
        };
        let budget = match &self.budget {
            None => None,
            Some(b) => Some(RetryBudgetConfig {
                percent: b.percent,
                ttl: ms("budget.ttl_ms", b.ttl_ms)?,
                min_retries_per_sec: b.min_retries_per_sec,
            }),
        };
        Ok(RetryConfig {
            max_attempts: self.max_attempts,
            backoff,
            max_delay: self
                .max_delay_ms
                .map(|v| ms("max_delay_ms", v))
                .transpose()?,
            min_delay: ms("min_delay_ms", self.min_delay_ms)?,
            jitter,
            max_elapsed: self
                .max_elapsed_ms
                .map(|v| ms("max_elapsed_ms", v))
                .transpose()?,
            budget,
            seed: self.seed,
            retry_rejections: false,
        })
    }

    /// The JSON form of a Rust configuration.
    pub fn from_config(name: &str, c: &RetryConfig) -> RetryJson {
        let mut j = RetryJson {
            name: name.to_owned(),
            max_attempts: c.max_attempts,
            max_delay_ms: c.max_delay.map(to_ms),
            min_delay_ms: to_ms(c.min_delay),
            max_elapsed_ms: c.max_elapsed.map(to_ms),
            seed: c.seed,
            budget: c.budget.map(|b| RetryBudgetJson {
                percent: b.percent,
                ttl_ms: to_ms(b.ttl),
                min_retries_per_sec: b.min_retries_per_sec,
            }),
            ..RetryJson::default()
        };
        match c.backoff {
            Backoff::Fixed(d) => {
                j.backoff = BackoffJson::Fixed;
                j.initial_ms = to_ms(d);
            }
            Backoff::Linear { initial, step } => {
                j.backoff = BackoffJson::Linear;
                j.initial_ms = to_ms(initial);
                j.step_ms = to_ms(step);
            }
            Backoff::Exponential {
                initial,
                multiplier,
            } => {
                j.initial_ms = to_ms(initial);
                j.multiplier = multiplier;
            }
        }
        j.jitter = match c.jitter {
            Jitter::None => JitterJson::None,
            Jitter::Full => JitterJson::Full,
            Jitter::Equal => JitterJson::Equal,
            Jitter::Proportional(f) => {
                j.jitter_factor = f;
                JitterJson::Proportional
            }
            Jitter::Decorrelated => JitterJson::Decorrelated,
        };
        j
    }
}

/// A retry policy: its schedule (backoff, cap, jitter, floor), its time budget and its
/// optional shared retry budget. Thread-safe: any number of calls may run at once, each
/// with its own `bw_retry_state`.
pub struct bw_retry {
    retry: Retry,
}

/// One call under a retry (from `bw_retry_begin`): which attempt runs, and the schedule
/// of its delays. Thread-safe (calls on one state are serialised).
pub struct bw_retry_state {
    state: Mutex<RetryState>,
}

/// `bw_retry_next` outcome: the attempt succeeded.
pub const BW_RETRY_OUTCOME_SUCCESS: u32 = 0;
/// `bw_retry_next` outcome: the attempt failed in a way worth retrying.
pub const BW_RETRY_OUTCOME_RETRYABLE: u32 = 1;
/// `bw_retry_next` outcome: the attempt failed for good.
pub const BW_RETRY_OUTCOME_PERMANENT: u32 = 2;
/// `bw_retry_next` outcome: an inner policy (breaker, bulkhead, limiter) refused the
/// attempt: never retried.
pub const BW_RETRY_OUTCOME_REJECTED: u32 = 3;

/// `bw_retry_next` stop reason: not stopped; wait the delay and run the next attempt.
pub const BW_RETRY_CONTINUE: u32 = 0;
/// Stop reason: the last attempt succeeded.
pub const BW_RETRY_STOP_SUCCEEDED: u32 = 1;
/// Stop reason: `max_attempts` attempts ran.
pub const BW_RETRY_STOP_ATTEMPTS_EXHAUSTED: u32 = 2;
/// Stop reason: the last outcome was permanent.
pub const BW_RETRY_STOP_PERMANENT: u32 = 3;
/// Stop reason: an inner policy rejected the last attempt.
pub const BW_RETRY_STOP_REJECTED: u32 = 4;
/// Stop reason: the shared retry budget had no retry left.
pub const BW_RETRY_STOP_BUDGET_EXHAUSTED: u32 = 5;
/// Stop reason: the next retry would end at or past `max_elapsed` or the call's deadline.
pub const BW_RETRY_STOP_DEADLINE_REACHED: u32 = 6;

impl FfiEnum for OutcomeKind {
    const VALID: &'static str = "0 (BW_RETRY_OUTCOME_SUCCESS), 1 (BW_RETRY_OUTCOME_RETRYABLE), \
         2 (BW_RETRY_OUTCOME_PERMANENT) or 3 (BW_RETRY_OUTCOME_REJECTED)";
    fn from_u32(value: u32) -> Option<Self> {
        match value {
            BW_RETRY_OUTCOME_SUCCESS => Some(OutcomeKind::Success),
            BW_RETRY_OUTCOME_RETRYABLE => Some(OutcomeKind::Retryable),
            BW_RETRY_OUTCOME_PERMANENT => Some(OutcomeKind::Permanent),
            BW_RETRY_OUTCOME_REJECTED => Some(OutcomeKind::Rejected),
            _ => None,
        }
    }
}

/// The `BW_RETRY_STOP_*` code of a stop reason.
pub fn stop_code(reason: StopReason) -> u32 {
    match reason {
        StopReason::Succeeded => BW_RETRY_STOP_SUCCEEDED,
        StopReason::AttemptsExhausted => BW_RETRY_STOP_ATTEMPTS_EXHAUSTED,
        StopReason::Permanent => BW_RETRY_STOP_PERMANENT,
        StopReason::Rejected => BW_RETRY_STOP_REJECTED,
        StopReason::BudgetExhausted => BW_RETRY_STOP_BUDGET_EXHAUSTED,
        _ => BW_RETRY_STOP_DEADLINE_REACHED,
    }
}

/// Creates a retry from JSON configuration (`json`, `json_len` bytes of UTF-8; empty or
/// NULL with length 0 for the defaults: 3 attempts, exponential from 500 ms doubling, no
/// jitter) into `*out`, on `clock` (may be NULL: the monotonic clock). Fields:
/// `name`, `max_attempts`, `backoff` (`"fixed"`, `"linear"`, `"exponential"`),
/// `initial_ms`, `multiplier`, `step_ms`, `max_delay_ms`, `min_delay_ms`, `jitter`
/// (`"none"`, `"full"`, `"equal"`, `"proportional"`, `"decorrelated"`), `jitter_factor`,
/// `max_elapsed_ms`, `seed`, `budget` (`{"percent", "ttl_ms", "min_retries_per_sec"}`).
/// Durations are milliseconds (JSON numbers, fractions allowed). Free it with
/// `bw_retry_free`.
///
/// `BW_INVALID_CONFIG` (naming the field) for bad JSON, an unknown field or a refused
/// value; `BW_INVALID_ARGUMENT` for a NULL `out`, or `json` NULL with a non-zero length.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_retry_new_json(
    json: *const c_char,
    json_len: usize,
    clock: *const bw_clock,
    out: *mut *mut bw_retry,
    err: *mut bw_error,
) -> bw_status {
    // SAFETY: the parameters are as documented for `new_json`.
    unsafe { new_json::<RetryJson>(json, json_len, clock, out, err) }
}

/// Starts a call into `*out` (recording it in the retry budget): run attempt 1, report
/// its outcome to `bw_retry_next`, and so on. `deadline_ns` is a reading of the retry's
/// clock (as `bw_clock_now_ns` or `bw_deadline_at_ns`) past which no retry starts; 0 for
/// none (`max_elapsed_ms` still applies). Free the state with `bw_retry_state_free`.
///
/// `BW_INVALID_ARGUMENT` for a NULL `retry` or `out`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_retry_begin(
    retry: *const bw_retry,
    deadline_ns: u64,
    out: *mut *mut bw_retry_state,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let retry = try_ref!(retry);
        let out = try_out!(out);
        let r = &retry.retry;
        let state = if deadline_ns == 0 {
            r.begin()
        } else {
            r.begin_with_deadline(Some(r.clock().instant_at(deadline_ns)))
        };
        out.set(into_handle(bw_retry_state {
            state: Mutex::new(state),
        }));
        Ok(())
    })
}

/// Reports the outcome of the current attempt (`BW_RETRY_OUTCOME_*`) and says what to do:
/// `*out_stop_reason` is `BW_RETRY_CONTINUE` (0) when the next attempt should run after
/// `*out_delay_ns` nanoseconds (the caller waits; on a manual clock it advances the
/// clock), or a `BW_RETRY_STOP_*` reason (then `*out_delay_ns` is 0) when the caller
/// should stop and keep the last outcome. `retry_after_ns` is a Retry-After hint (0 for
/// none) that replaces the computed delay when larger. Once stopped, the state keeps
/// answering the same reason. Returns `BW_OK` in both cases, so a loop reads:
///
/// ```c
/// while (bw_retry_next(st, kind, 0, &delay, &stop, &e) == BW_OK && stop == BW_RETRY_CONTINUE)
///     { sleep_ns(delay); kind = attempt(); }
/// ```
///
/// `BW_INVALID_ARGUMENT` for a NULL pointer or an unknown `outcome_kind`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_retry_next(
    state: *const bw_retry_state,
    outcome_kind: u32,
    retry_after_ns: u64,
    out_delay_ns: *mut u64,
    out_stop_reason: *mut u32,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let state = try_ref!(state);
        let kind = try_enum!(outcome_kind as OutcomeKind);
        let out_delay_ns = try_out!(out_delay_ns);
        let out_stop_reason = try_out!(out_stop_reason);
        let hint = (retry_after_ns != 0).then(|| Duration::from_nanos(retry_after_ns));
        let next = state.state.lock().next(kind, hint);
        let (delay, stop) = match next {
            Next::RetryAfter(d) => (duration_nanos(d), BW_RETRY_CONTINUE),
            Next::Stop(reason) => (0, stop_code(reason)),
        };
        out_delay_ns.set(delay);
        out_stop_reason.set(stop);
        Ok(())
    })
}

/// Writes the number of the attempt to run now (from 1; the last one once stopped) to
/// `*out_attempt`.
///
/// `BW_INVALID_ARGUMENT` for a NULL `state` or `out_attempt`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_retry_state_attempt(
    state: *const bw_retry_state,
    out_attempt: *mut u32,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let state = try_ref!(state);
        let out_attempt = try_out!(out_attempt);
        out_attempt.set(state.state.lock().attempt());
        Ok(())
    })
}

/// Releases a call's state. NULL is a no-op.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_retry_state_free(state: *mut bw_retry_state) {
    ffi_boundary_value!((), {
        // SAFETY: the header documents `state` as NULL or a handle from `bw_retry_begin`,
        // freed once, no longer used by other threads.
        unsafe { free_handle(state) }
    })
}

/// Runs `fn` under the retry on the calling thread (callbacks run there too), sleeping
/// through the retry's clock between attempts (a manual clock is advanced instead), and
/// writes the last attempt's result to `*out_result` whenever an attempt ran. `fn`
/// returns 0 for success, > 0 for a retryable failure, < 0 for a permanent one.
///
/// Returns `BW_OK` when the last attempt succeeded; `BW_FAILED` when the retry stopped
/// on a failure (the message says why: attempts exhausted, permanent, budget, deadline);
/// `BW_CANCELLED` when `cancel` (may be NULL) was cancelled before or during a wait (a
/// cancel wakes the wait at once; attempts are never interrupted).
/// `BW_INVALID_ARGUMENT` for a NULL `retry`, `fn` or `out_result`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_retry_call(
    retry: *const bw_retry,
    fn_: Option<unsafe extern "C" fn(*mut c_void, u32) -> c_int>,
    user_data: *mut c_void,
    cancel: *const bw_cancel,
    out_result: *mut c_int,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let retry = try_ref!(retry);
        let f = try_callback!(fn_);
        let cancel = opt_ref!(cancel).map(bw_cancel::token);
        let out_result = try_out!(out_result);
        let r = &retry.retry;
        let clock = r.clock();
        let mut state = r.begin();
        loop {
            let attempt = state.attempt();
            // SAFETY: the caller passes a valid callback and its user data.
            let result = unsafe { f(user_data, attempt) };
            let kind = match result {
                0 => OutcomeKind::Success,
                x if x > 0 => OutcomeKind::Retryable,
                _ => OutcomeKind::Permanent,
            };
            match state.next(kind, None) {
                Next::Stop(StopReason::Succeeded) => {
                    out_result.set(result);
                    return Ok(());
                }
                Next::Stop(reason) => {
                    out_result.set(result);
                    let mut e = FfiError::new(
                        BW_FAILED,
                        format!(
                            "retry stopped after {attempt} attempt(s): {reason} (last result {result})"
                        ),
                    );
                    e.policy = BW_POLICY_RETRY;
                    return Err(e);
                }
                Next::RetryAfter(d) => {
                    let until = clock.nanos().saturating_add(duration_nanos(d));
                    if !sleep_until_ns(clock, until, cancel) {
                        out_result.set(result);
                        let mut e = FfiError::new(
                            BW_CANCELLED,
                            format!(
                                "retry cancelled after {attempt} attempt(s) (last result {result})"
                            ),
                        );
                        e.policy = BW_POLICY_RETRY;
                        return Err(e);
                    }
                }
            }
        }
    })
}

/// Releases a retry. NULL is a no-op. States from `bw_retry_begin` stay usable (they
/// hold their own reference).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_retry_free(retry: *mut bw_retry) {
    ffi_boundary_value!((), {
        // SAFETY: the header documents `retry` as NULL or a handle from
        // `bw_retry_new_json`, freed once, no longer used by other threads.
        unsafe { free_handle(retry) }
    })
}

/// Writes the delays a fresh call that fails every attempt would wait (as Rust's
/// `Retry::delays`: same seed, first call) into `buf` (room for `len` values), and their
/// number to `*out_len`. `BW_BUFFER_TOO_SMALL` (with the number in `*out_len`) when
/// `len` is too small; `buf` may be NULL when `len` is 0.
///
/// `BW_INVALID_ARGUMENT` for a NULL `retry` or `out_len`, or `buf` NULL with `len` > 0.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_retry_delays_ns(
    retry: *const bw_retry,
    buf: *mut u64,
    len: usize,
    out_len: *mut usize,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let retry = try_ref!(retry);
        let out_len = try_out!(out_len);
        if buf.is_null() && len > 0 {
            return Err(FfiError::invalid_argument(
                "buf must not be NULL when len is not 0",
            ));
        }
        let n = retry.retry.delays().count();
        if n > len {
            out_len.set(n);
            return Err(FfiError::new(
                super::status::BW_BUFFER_TOO_SMALL,
                format!("buf has room for {len} delays, {n} are needed"),
            ));
        }
        for (i, d) in retry.retry.delays().enumerate() {
            // SAFETY: `buf` is non-NULL here (n > 0 implies len > 0) and valid for `len`
            // values (the caller's contract); i < n <= len.
            unsafe { buf.add(i).write(duration_nanos(d)) };
        }
        out_len.set(n);
        Ok(())
    })
}

impl bw_retry {
    /// The Rust retry behind the handle (for pipeline stages).
    pub(crate) fn policy(&self) -> &Retry {
        &self.retry
    }
}

/// The default retry configuration as JSON text (static, NUL-terminated, never freed):
/// every key `bw_retry_new_json` accepts, unset ones as `null`.
#[unsafe(no_mangle)]
pub extern "C" fn bw_retry_config_defaults_json() -> *const c_char {
    static TEXT: OnceLock<CString> = OnceLock::new();
    ffi_boundary_value!(std::ptr::null(), {
        static_text(&TEXT, defaults_json::<RetryJson>)
    })
}

/// The JSON Schema (draft 2020-12) of the retry configuration (static, NUL-terminated,
/// never freed): types, ranges, defaults.
#[unsafe(no_mangle)]
pub extern "C" fn bw_retry_config_schema_json() -> *const c_char {
    static TEXT: OnceLock<CString> = OnceLock::new();
    ffi_boundary_value!(std::ptr::null(), {
        static_text(&TEXT, schema_json::<RetryJson>)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffi::bulkhead::BulkheadJson;
    use crate::ffi::json_config::config_from_json;
    use crate::ffi::ratelimit::LimiterJson;

    #[test]
    fn the_json_forms_round_trip() {
        let text = r#"{"name": "a", "max_attempts": 4, "backoff": "linear", "initial_ms": 0.5,
            "step_ms": 2, "max_delay_ms": 100, "min_delay_ms": 0.25, "jitter": "proportional",
            "jitter_factor": 0.2, "max_elapsed_ms": 1000, "seed": 18446744073709551615,
            "budget": {"percent": 0.5, "ttl_ms": 2000, "min_retries_per_sec": 3}}"#;
        let j: RetryJson = config_from_json(PolicyKind::Retry, text.as_bytes()).unwrap();
        let c = j.to_config().unwrap();
        assert_eq!(
            c.backoff,
            Backoff::Linear {
                initial: Duration::from_micros(500),
                step: Duration::from_millis(2)
            }
        );
        assert_eq!(c.min_delay, Duration::from_micros(250));
        assert_eq!(c.seed, Some(u64::MAX));
        assert_eq!(c.budget.unwrap().ttl, Duration::from_secs(2));
        assert_eq!(RetryJson::from_config("a", &c), j);
        let again: RetryJson = serde_json::from_str(&serde_json::to_string(&j).unwrap()).unwrap();
        assert_eq!(again, j);
        assert_eq!(
            RetryJson::from_config("", &RetryConfig::default()),
            RetryJson::default()
        );

        let l: LimiterJson = serde_json::from_str(r#"{"permits": 3, "period_ms": 1.5}"#).unwrap();
        assert_eq!(LimiterJson::from_config(&l.to_config().unwrap()), l);
        assert_eq!(l.to_config().unwrap().period, Duration::from_micros(1500));
        let b: BulkheadJson = serde_json::from_str(r#"{"max_concurrent": 3}"#).unwrap();
        assert_eq!(BulkheadJson::from_config(&b.to_config().unwrap()), b);
    }

    #[test]
    fn millisecond_fields_are_checked() {
        let e = ms_field(PolicyKind::Retry, "initial_ms", -1.0).unwrap_err();
        assert_eq!(e.field, "initial_ms");
        assert!(ms_field(PolicyKind::Retry, "x", f64::NAN).is_err());
        assert!(ms_field(PolicyKind::Retry, "x", 1.9e13).is_err());
        assert_eq!(
            ms_field(PolicyKind::Retry, "x", 1.8e13).unwrap(),
            Duration::from_millis(18_000_000_000_000)
        );
        assert_eq!(
            ms_field(PolicyKind::Retry, "x", 0.000_001).unwrap(),
            Duration::from_nanos(1)
        );
    }

    #[test]
    fn stop_codes_are_distinct() {
        let codes = [
            StopReason::Succeeded,
            StopReason::AttemptsExhausted,
            StopReason::Permanent,
            StopReason::Rejected,
            StopReason::BudgetExhausted,
            StopReason::DeadlineReached,
        ]
        .map(stop_code);
        assert_eq!(codes, [1, 2, 3, 4, 5, 6]);
        assert!(!codes.contains(&BW_RETRY_CONTINUE));
    }
}
