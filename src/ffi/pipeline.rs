//! Pipelines: `bw_pipeline_builder` and `bw_pipeline` (over [`Pipeline`]), composed from
//! existing policy handles, outermost first.
//!
//! A C pipeline guards an `int (*fn)(void *user_data, const bw_call_info *info)`: a
//! result `>= 0` is a success (the value), a negative one a failure (its code), which
//! retries and breakers see as a failure.
//!
//! Adding a stage for another policy handle is two lines in its `_add_` function, over
//! `bw_pipeline_builder::add`:
//!
//! ```text
//! let breaker = try_ref!(breaker).breaker.clone();
//! builder.add(move |p| p.breaker(breaker.clone()));
//! ```

use std::ffi::{c_int, c_void};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use super::breaker::bw_breaker;
use super::bulkhead::bw_bulkhead;
use super::cancel::bw_cancel;
use super::clock::{bw_clock, clock_or_monotonic};
use super::error::{FfiError, bw_error};
use super::out::{free_handle, into_handle};
use super::ratelimit::bw_limiter;
use super::retry::bw_retry;
use super::status::bw_status;
use super::timeout::{Owned, bw_time_limiter, call_cancel};
use crate::clock::{Clock, duration_nanos};
use crate::ctx::Ctx;
use crate::error::Error;
use crate::pipeline::{Detached, Pipeline, PipelineBuilder};

/// The pipeline type behind the C ABI: values and failure codes are C `int`s.
// Stages are chosen at run time, so every pipeline is `Detached` (a C callback and its
// user_data are 'static to Rust anyway).
type CPipeline = Pipeline<c_int, c_int, Detached>;
type CBuilder = PipelineBuilder<c_int, c_int, Detached>;
type AddStage = Arc<dyn Fn(CBuilder) -> CBuilder + Send + Sync>;

/// `bw_pipeline_builder_add_fallback` flag: answer rejections (`BW_REJECTED`,
/// `BW_CANCELLED`, `BW_SHUTDOWN`).
pub const BW_FALLBACK_ON_REJECTED: u32 = 1;
/// `bw_pipeline_builder_add_fallback` flag: answer time-outs (`BW_TIMED_OUT`).
pub const BW_FALLBACK_ON_TIMED_OUT: u32 = 2;
/// `bw_pipeline_builder_add_fallback` flag: answer failures of the callback (`BW_FAILED`).
pub const BW_FALLBACK_ON_FAILED: u32 = 4;
/// `bw_pipeline_builder_add_fallback` flags: every error.
pub const BW_FALLBACK_ON_ALL: u32 = 7;

/// Collects stages, outermost first, for `bw_pipeline_builder_build` (which can be
/// called more than once). Policy handles added to it are shared by reference count:
/// they can be freed right after being added. Thread-safe.
pub struct bw_pipeline_builder {
    clock: Clock,
    stages: Mutex<Vec<AddStage>>,
    keep: Mutex<Vec<Keep>>,
}

/// A C-side owner a pipeline keeps alive (a time limiter's, whose drop shuts it down).
type Keep = Arc<dyn std::any::Any + Send + Sync>;

impl bw_pipeline_builder {
    /// Appends a stage (innermost so far): `stage` adds the Rust policy to a Rust
    /// [`PipelineBuilder`] each time the pipeline is built.
    pub(crate) fn add(&self, stage: impl Fn(CBuilder) -> CBuilder + Send + Sync + 'static) {
        self.stages.lock().push(Arc::new(stage));
    }

    /// Like `bw_pipeline_builder::add`, and keeps `owner` alive as long as the builder
    /// and every pipeline built from it.
    pub(crate) fn add_keeping(
        &self,
        owner: Keep,
        stage: impl Fn(CBuilder) -> CBuilder + Send + Sync + 'static,
    ) {
        self.keep.lock().push(owner);
        self.add(stage);
    }
}

/// Policies composed around a call (see `bw_pipeline_call`). Thread-safe.
pub struct bw_pipeline {
    // Dropped first: the owners below may shut down what the pipeline used.
    pipeline: CPipeline,
    _keep: Vec<Keep>,
}

/// What the guarded callback of `bw_pipeline_call` knows about its attempt. Valid only
/// during the callback.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct bw_call_info {
    /// The attempt, from 1 (retries count up).
    pub attempt: u32,
    /// The time left until the call's deadline in nanoseconds (0 once it has passed),
    /// `UINT64_MAX` when there is no deadline. Pass it down (as an I/O timeout).
    pub remaining_ns: u64,
    /// The attempt's cancellation flag: set when a time limit abandoned the attempt or
    /// the caller's `cancel` fired. Poll it with `bw_cancel_is_cancelled`; do not free it.
    pub cancel: *const bw_cancel,
}

/// Creates an empty pipeline builder into `*out`. `clock` (may be NULL: the monotonic
/// clock) is the clock of the calls' deadlines. Free it with `bw_pipeline_builder_free`.
///
/// `BW_INVALID_ARGUMENT` for a NULL `out`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_pipeline_builder_new(
    clock: *const bw_clock,
    out: *mut *mut bw_pipeline_builder,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let clock = clock_or_monotonic(opt_ref!(clock));
        let out = try_out!(out);
        out.set(into_handle(bw_pipeline_builder {
            clock,
            stages: Mutex::new(Vec::new()),
            keep: Mutex::new(Vec::new()),
        }));
        Ok(())
    })
}

/// Adds a deadline stage: the call's deadline narrows to `now + deadline_ns` (it never
/// widens). Cooperative: inner stages and the callback (through
/// `bw_call_info.remaining_ns`) respect it; a call that reaches the callback after it
/// gets `BW_TIMED_OUT` (policy `BW_POLICY_DEADLINE`).
///
/// `BW_INVALID_ARGUMENT` for a NULL `builder`, or a `deadline_ns` of 0.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_pipeline_builder_add_deadline(
    builder: *const bw_pipeline_builder,
    deadline_ns: u64,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let builder = try_ref!(builder);
        if deadline_ns == 0 {
            return Err(FfiError::invalid_argument(
                "deadline_ns must be greater than 0",
            ));
        }
        let d = Duration::from_nanos(deadline_ns);
        builder.add(move |p| p.deadline(d));
        Ok(())
    })
}

/// Adds a time-limit stage: the inner stages and the callback run on one of `tl`'s
/// workers, and the call gets `BW_TIMED_OUT` at its time limit (see
/// `bw_time_limiter_call`). The builder keeps its own reference to the limiter.
///
/// `BW_INVALID_ARGUMENT` for a NULL `builder` or `tl`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_pipeline_builder_add_time_limiter(
    builder: *const bw_pipeline_builder,
    tl: *const bw_time_limiter,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let builder = try_ref!(builder);
        let owner = Arc::clone(&try_ref!(tl).owner);
        let limiter = owner.limiter.clone();
        builder.add_keeping(owner, move |p| p.time_limit(limiter.clone()));
        Ok(())
    })
}

/// Adds a circuit breaker stage (shared with the handle: its state and metrics are the
/// breaker's). Inner failures and time-outs are failures for it, inner rejections are
/// ignored. The handle may be freed afterwards: the pipeline keeps the breaker.
///
/// `BW_INVALID_ARGUMENT` for a NULL `builder` or `breaker`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_pipeline_builder_add_breaker(
    builder: *const bw_pipeline_builder,
    breaker: *const bw_breaker,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let builder = try_ref!(builder);
        let breaker = try_ref!(breaker).policy().clone();
        builder.add(move |p| p.breaker(breaker.clone()));
        Ok(())
    })
}

/// Adds a retry stage: failures and time-outs of the inner stages are retried with the
/// retry's backoff (sleeping through its clock); rejections are returned at once.
/// The handle may be freed afterwards.
///
/// `BW_INVALID_ARGUMENT` for a NULL `builder` or `retry`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_pipeline_builder_add_retry(
    builder: *const bw_pipeline_builder,
    retry: *const bw_retry,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let builder = try_ref!(builder);
        let retry = try_ref!(retry).policy().clone();
        builder.add(move |p| p.retry(retry.clone()));
        Ok(())
    })
}

/// Adds a semaphore bulkhead stage (it waits up to its configured `max_wait_ms`, never
/// past the call's deadline). The handle may be freed afterwards.
///
/// `BW_INVALID_ARGUMENT` for a NULL `builder` or `bulkhead`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_pipeline_builder_add_bulkhead(
    builder: *const bw_pipeline_builder,
    bulkhead: *const bw_bulkhead,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let builder = try_ref!(builder);
        let bulkhead = try_ref!(bulkhead).policy().clone();
        builder.add(move |p| p.bulkhead(bulkhead.clone()));
        Ok(())
    })
}

/// Adds a rate limit stage: a call waits for a permit at most `max_wait_ns` (0: fail
/// fast with `BW_REJECTED`, reason `BW_REASON_RATE_LIMITED`). The handle may be freed
/// afterwards.
///
/// `BW_INVALID_ARGUMENT` for a NULL `builder` or `limiter`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_pipeline_builder_add_limiter(
    builder: *const bw_pipeline_builder,
    limiter: *const bw_limiter,
    max_wait_ns: u64,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let builder = try_ref!(builder);
        let limiter = try_ref!(limiter).policy().clone();
        let max_wait = Duration::from_nanos(max_wait_ns);
        builder.add(move |p| p.rate_limit(limiter.clone(), max_wait));
        Ok(())
    })
}

/// Adds a fallback stage: the errors of the inner stages selected by `on` (a
/// combination of `BW_FALLBACK_ON_*` flags) become `BW_OK` with `*out_result = value`.
///
/// `BW_INVALID_ARGUMENT` for a NULL `builder`, `on` of 0 or with unknown bits.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_pipeline_builder_add_fallback(
    builder: *const bw_pipeline_builder,
    value: c_int,
    on: u32,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let builder = try_ref!(builder);
        let on = try_flags!(on, BW_FALLBACK_ON_ALL);
        if on == 0 {
            return Err(FfiError::invalid_argument(
                "on must select at least one BW_FALLBACK_ON_* flag",
            ));
        }
        builder.add(move |p| {
            p.fallback_with(
                move |e: &Error<c_int>| match e {
                    Error::Rejected { .. } => on & BW_FALLBACK_ON_REJECTED != 0,
                    Error::TimedOut { .. } => on & BW_FALLBACK_ON_TIMED_OUT != 0,
                    _ => on & BW_FALLBACK_ON_FAILED != 0,
                },
                move |_| Ok(value),
            )
        });
        Ok(())
    })
}

/// Builds a pipeline from the stages added so far (outermost first) into `*out`. The
/// builder stays usable (more stages, more builds). Free the pipeline with
/// `bw_pipeline_free`.
///
/// `BW_INVALID_ARGUMENT` for a NULL `builder` or `out`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_pipeline_builder_build(
    builder: *const bw_pipeline_builder,
    out: *mut *mut bw_pipeline,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let builder = try_ref!(builder);
        let out = try_out!(out);
        let stages = builder.stages.lock().clone();
        let mut p = Pipeline::<c_int, c_int>::builder()
            .detached()
            .clock(builder.clock.clone());
        for stage in &stages {
            p = stage(p);
        }
        out.set(into_handle(bw_pipeline {
            pipeline: p.build(),
            _keep: builder.keep.lock().clone(),
        }));
        Ok(())
    })
}

/// Releases a pipeline builder. NULL is a no-op. Pipelines built from it stay valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_pipeline_builder_free(builder: *mut bw_pipeline_builder) {
    ffi_boundary_value!((), {
        // SAFETY: the header documents `builder` as NULL or a handle from
        // `bw_pipeline_builder_new`, freed once, no longer used by other threads.
        unsafe { free_handle(builder) }
    })
}

/// Runs `callback(user_data, info)` through every stage, outermost first. A result `>= 0` is
/// a success: `BW_OK` with `*out_result` set to it. A negative result is a failure with
/// that code: retried by a retry stage, counted by a breaker, answered by a fallback, or
/// returned as `BW_FAILED` (the message holds the code and the number of attempts).
/// Other errors: `BW_REJECTED` / `BW_CANCELLED` / `BW_SHUTDOWN` when a stage refused the
/// call, `BW_TIMED_OUT` at a deadline or time limit. Blocks the calling thread.
///
/// The callback runs on the calling thread, or on a time limiter's worker thread when
/// the pipeline has a time-limit stage; then it may still run after this function
/// returned (an abandoned attempt), and a retry may start another attempt meanwhile.
/// `user_data` must stay valid until every attempt has returned: pass `release` (may be
/// NULL), which the library calls exactly once with `user_data` when it will no longer
/// use it (unless the call returns `BW_INVALID_ARGUMENT`). `cancel` (may be NULL) cancels
/// the call: waits end with `BW_CANCELLED`, and the callback sees `info->cancel` set.
///
/// `BW_INVALID_ARGUMENT` for a NULL `p`, `callback` or `out_result`. The callback must not
/// unwind.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_pipeline_call(
    p: *const bw_pipeline,
    callback: Option<
        unsafe extern "C" fn(user_data: *mut c_void, info: *const bw_call_info) -> c_int,
    >,
    user_data: *mut c_void,
    release: Option<unsafe extern "C" fn(user_data: *mut c_void)>,
    cancel: *const bw_cancel,
    out_result: *mut c_int,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let p = try_ref!(p);
        let f = match callback {
            Some(f) => f,
            None => return Err(FfiError::null("callback")),
        };
        let cancel = opt_ref!(cancel);
        let out_result = try_out!(out_result);
        let owned = Owned::new(user_data, release);
        let ctx = Ctx::with_clock(p.pipeline.clock().clone());
        let ctx = match cancel {
            Some(c) => ctx.with_cancel(c.token.clone()),
            None => ctx,
        };
        let result = p.pipeline.call_ctx(&ctx, move |attempt: &Ctx| {
            let cancel = call_cancel(attempt);
            let info = bw_call_info {
                attempt: attempt.attempt(),
                remaining_ns: attempt.remaining().map_or(u64::MAX, duration_nanos),
                cancel: &cancel,
            };
            // SAFETY: the caller gave a valid function and user_data valid until the
            // last attempt returned (`owned` is released after that); `info` and
            // `cancel` live until the callback returns.
            let r = unsafe { f(owned.ptr(), &info) };
            if r >= 0 { Ok(r) } else { Err(r) }
        });
        let value = result.map_err(|e| FfiError::from_error(&e))?;
        out_result.set(value);
        Ok(())
    })
}

/// Releases a pipeline. NULL is a no-op. Must not be called while a call runs through
/// it; abandoned attempts on a time limiter's workers keep what they need.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_pipeline_free(p: *mut bw_pipeline) {
    ffi_boundary_value!((), {
        // SAFETY: the header documents `p` as NULL or a handle from
        // `bw_pipeline_builder_build`, freed once, no longer used by other threads.
        unsafe { free_handle(p) }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_adds_stages_in_order() {
        let b = bw_pipeline_builder {
            clock: Clock::monotonic(),
            stages: Mutex::new(Vec::new()),
            keep: Mutex::new(Vec::new()),
        };
        b.add(|p| p.deadline(Duration::from_secs(1)));
        b.add(|p| p.fallback(0));
        let mut p = Pipeline::<c_int, c_int>::builder().detached();
        for s in b.stages.lock().iter() {
            p = s(p);
        }
        assert_eq!(p.build().describe(), "deadline -> fallback -> call");
    }
}
