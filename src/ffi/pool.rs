//! The thread-pool bulkhead: `bw_pool` (over [`ThreadPool`]) and its tasks, `bw_task`.
//!
//! C code submits `void (*fn)(void *user_data)` callbacks; they run on the pool's named
//! worker threads (`"<name>-0"`, `"<name>-1"`, ...). A callback cannot unwind into the
//! library: a C++ exception escaping it aborts the process (Rust refuses to unwind
//! through `extern "C"`), so a C task's outcome is always "done" or "cancelled".

use std::convert::Infallible;
use std::ffi::{CString, c_char, c_void};
use std::sync::OnceLock;
use std::time::Duration;

use parking_lot::Mutex;

use super::boundary::FfiEnum;
use super::cancel::bw_cancel;
use super::clock::bw_clock;
use super::error::{FfiError, Message, bw_error};
use super::json_config::{
    JsonConfig, check_name, defaults_json, new_json, schema, schema_json, static_text,
};
use super::out::{free_handle, into_handle, write_stats};
use super::status::*;
use crate::clock::Clock;
use crate::error::{Error, PolicyKind};
use crate::pool::{PoolConfig, ShutdownMode, TaskError, TaskHandle, ThreadPool};

/// `bw_pool_shutdown` mode: run every queued task, then stop.
pub const BW_SHUTDOWN_DRAIN: u32 = 0;
/// `bw_pool_shutdown` mode: cancel the queued tasks (their joins give `BW_CANCELLED`
/// with reason `BW_REASON_SHUTDOWN`); running ones finish.
pub const BW_SHUTDOWN_CANCEL: u32 = 1;

impl FfiEnum for ShutdownMode {
    const VALID: &'static str = "0 (BW_SHUTDOWN_DRAIN) or 1 (BW_SHUTDOWN_CANCEL)";
    fn from_u32(value: u32) -> Option<Self> {
        match value {
            BW_SHUTDOWN_DRAIN => Some(ShutdownMode::Drain),
            BW_SHUTDOWN_CANCEL => Some(ShutdownMode::Cancel),
            _ => None,
        }
    }
}

/// A `void *user_data` moved to another thread. The C caller promises (in the header)
/// that it may be used from the thread the callback runs on.
#[derive(Clone, Copy)]
pub(crate) struct UserData(pub(crate) *mut c_void);

// SAFETY: the pointer is only handed back to the caller's own callback; the header makes
// the caller responsible for what it points to being usable from the worker threads.
unsafe impl Send for UserData {}
// SAFETY: as for `Send`: the library never dereferences it.
unsafe impl Sync for UserData {}

/// A thread-pool bulkhead: a named pool of worker threads and a bounded queue. Thread-safe.
pub struct bw_pool {
    pub(crate) pool: ThreadPool,
}

/// A submitted task: join it for its outcome, free it when done (freeing detaches the
/// task, which still runs). Thread-safe (concurrent joins take turns).
pub struct bw_task {
    handle: Mutex<TaskHandle<()>>,
}

/// What `bw_pool_shutdown` did and left.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct bw_shutdown_report {
    /// The pool's mode after the call (`BW_SHUTDOWN_*`; a CANCEL upgrades an earlier DRAIN).
    pub mode: u32,
    /// Every worker had exited when the call returned.
    pub terminated: bool,
    /// Queued tasks this call cancelled.
    pub cancelled: u64,
    /// Tasks still queued when the call returned (a DRAIN that timed out; they still run).
    pub still_queued: u32,
    /// Workers still running a task when the call returned.
    pub busy_workers: u32,
}

/// A snapshot of a pool's counters.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct bw_pool_stats {
    /// In: the caller's `sizeof(bw_pool_stats)`; out: the bytes written.
    pub size: usize,
    /// The configured number of workers.
    pub workers: u32,
    /// Worker threads spawned so far (lazily, at most `workers`).
    pub spawned: u32,
    /// Workers running a task now.
    pub busy: u32,
    /// Tasks waiting in the queue now.
    pub queue_depth: u32,
    /// The configured queue capacity.
    pub queue_capacity: u32,
    /// The deepest the queue has been.
    pub peak_queue: u32,
    /// Submissions refused (queue full or shut down), in total.
    pub rejected: u64,
    /// Tasks that returned, in total.
    pub completed: u64,
    /// Tasks that panicked, in total (always 0 for C callbacks).
    pub panicked: u64,
    /// Queued tasks cancelled by a shutdown, in total.
    pub cancelled: u64,
}

/// A wait given as `uint64_t` nanoseconds, `UINT64_MAX` meaning forever.
fn wait_ns(ns: u64) -> Option<Duration> {
    (ns != u64::MAX).then(|| Duration::from_nanos(ns))
}

/// Creates a thread pool from JSON text into `*out`: `{"name": "email", "workers": 5,
/// "queue_capacity": 10}` (defaults: name "pool", 10 workers, a queue of 100; an empty
/// text means all defaults). `clock` (may be NULL: the monotonic clock) is what the
/// timed waits of `bw_task_join` and `bw_pool_shutdown` go through. No thread is
/// spawned yet: workers start lazily, named `"<name>-<i>"`. Free it with `bw_pool_free`.
///
/// `BW_INVALID_CONFIG` for bad JSON, `workers` 0 or a name with a NUL byte (the message
/// names the field); `BW_INVALID_ARGUMENT` for a NULL `out`, or a NULL `json` with a
/// non-zero `json_len`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_pool_new_json(
    json: *const c_char,
    json_len: usize,
    clock: *const bw_clock,
    out: *mut *mut bw_pool,
    err: *mut bw_error,
) -> bw_status {
    // SAFETY: the parameters are as documented for `new_json`.
    unsafe { new_json::<PoolJson>(json, json_len, clock, out, err) }
}

/// Queues `callback(user_data)` to run on one of the pool's worker threads; never waits. On
/// success `*out` (may be NULL: the task is detached) receives the task's handle, to
/// join and then free with `bw_task_free`.
///
/// `user_data` must stay valid until the callback has returned (join the task, or have
/// the callback signal its end); the callback runs on a worker thread, never on the
/// caller's. It must not unwind (a C++ exception escaping it aborts the process).
///
/// `BW_REJECTED` (policy `BW_POLICY_THREAD_POOL`, reason `BW_REASON_QUEUE_FULL`) when the
/// pool already holds `workers + queue_capacity` tasks; `BW_SHUTDOWN` after a shutdown
/// began; then `callback` is not called. `BW_INVALID_ARGUMENT` for a NULL `pool` or `callback`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_pool_submit(
    pool: *const bw_pool,
    callback: Option<unsafe extern "C" fn(user_data: *mut c_void)>,
    user_data: *mut c_void,
    out: *mut *mut bw_task,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let pool = try_ref!(pool);
        let f = match callback {
            Some(f) => f,
            None => return Err(FfiError::null("callback")),
        };
        let ud = UserData(user_data);
        let handle = pool
            .pool
            .submit(move || {
                let ud = ud;
                // SAFETY: the caller gave a valid function and user_data that stays
                // valid until the callback has returned (documented above).
                unsafe { f(ud.0) }
            })
            .map_err(|r| FfiError::from_error(&Error::<Infallible>::from(r)))?;
        if !out.is_null() {
            // SAFETY: non-NULL, and documented as valid for writing one pointer.
            unsafe {
                out.write(into_handle(bw_task {
                    handle: Mutex::new(handle),
                }));
            }
        }
        Ok(())
    })
}

fn task_error(e: TaskError) -> FfiError {
    let mut f = match e {
        TaskError::TimedOut => FfiError::new(
            BW_TIMED_OUT,
            "timed out waiting for the task (it goes on; join again later)",
        ),
        TaskError::Cancelled => {
            let mut f = FfiError::new(BW_CANCELLED, "task cancelled by a pool shutdown");
            f.reason = BW_REASON_SHUTDOWN;
            f
        }
        TaskError::Panicked(msg) => FfiError::new(BW_PANIC, format!("task panicked: {msg}")),
        TaskError::AlreadyJoined => {
            return FfiError::invalid_argument(
                "task: its outcome was already taken by an earlier bw_task_join",
            );
        }
    };
    f.policy = BW_POLICY_THREAD_POOL;
    f
}

/// Waits for the task's outcome, at most `timeout_ns` nanoseconds (`UINT64_MAX`:
/// forever; 0: just look) on the pool's clock, and gives up early when `cancel` (may
/// be NULL) is cancelled. Blocks the calling thread.
///
/// Returns the outcome once: `BW_OK` (the callback returned) or `BW_CANCELLED` (reason
/// `BW_REASON_SHUTDOWN`: a shutdown cancelled it before it started). A later join of the
/// same task gives `BW_INVALID_ARGUMENT`. Without an outcome yet: `BW_TIMED_OUT` at the
/// timeout, `BW_CANCELLED` (reason `BW_REASON_CANCELLED`) when `cancel` fired; the task
/// goes on and can be joined again. `BW_INVALID_ARGUMENT` for a NULL `task`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_task_join(
    task: *const bw_task,
    timeout_ns: u64,
    cancel: *const bw_cancel,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let task = try_ref!(task);
        let cancel = opt_ref!(cancel);
        let mut handle = task.handle.lock();
        match handle.join_cancellable(wait_ns(timeout_ns), cancel.map(bw_cancel::token)) {
            Some(Ok(())) => Ok(()),
            Some(Err(e)) => Err(task_error(e)),
            None => Err(FfiError {
                status: BW_CANCELLED,
                policy: BW_POLICY_THREAD_POOL,
                reason: BW_REASON_CANCELLED,
                retry_after_ns: None,
                message: Message::Static("the join was cancelled; the task goes on"),
            }),
        }
    })
}

/// Releases a task handle. NULL is a no-op. The task itself is not affected (it runs,
/// or has run, to its outcome). Must not be called while another thread joins it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_task_free(task: *mut bw_task) {
    ffi_boundary_value!((), {
        // SAFETY: the header documents `task` as NULL or a handle from `bw_pool_submit`,
        // freed once, no longer used by other threads.
        unsafe { free_handle(task) }
    })
}

/// Shuts the pool down: submissions are refused from now on (`BW_SHUTDOWN`); with
/// `BW_SHUTDOWN_DRAIN` the queued tasks still run, with `BW_SHUTDOWN_CANCEL` they are
/// cancelled (each gets its one outcome, `BW_CANCELLED`); running callbacks always
/// finish (threads cannot be interrupted). Waits for the workers to exit at most
/// `timeout_ns` (`UINT64_MAX`: until they all have) on the pool's clock, and writes what
/// it did to `*out` (may be NULL). Blocks the calling thread; may be called again (a
/// CANCEL after a DRAIN cancels what is still queued). Called from one of the pool's own
/// callbacks it does not wait for that worker.
///
/// `BW_INVALID_ARGUMENT` for a NULL `pool` or an unknown `mode`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_pool_shutdown(
    pool: *const bw_pool,
    mode: u32,
    timeout_ns: u64,
    out: *mut bw_shutdown_report,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let pool = try_ref!(pool);
        let mode = try_enum!(mode as ShutdownMode);
        let report = match wait_ns(timeout_ns) {
            None => pool.pool.shutdown(mode),
            Some(d) => pool.pool.shutdown_timeout(mode, d),
        };
        if !out.is_null() {
            let report = bw_shutdown_report {
                mode: match report.mode {
                    ShutdownMode::Drain => BW_SHUTDOWN_DRAIN,
                    ShutdownMode::Cancel => BW_SHUTDOWN_CANCEL,
                },
                terminated: report.terminated,
                cancelled: report.cancelled,
                still_queued: report.still_queued,
                busy_workers: u32::try_from(report.busy_workers.len()).unwrap_or(u32::MAX),
            };
            // SAFETY: non-NULL, and documented as valid for writing one report.
            unsafe { out.write(report) };
        }
        Ok(())
    })
}

/// Writes a snapshot of the pool's counters to `*out`. Does not block.
///
/// `BW_INVALID_ARGUMENT` for a NULL `pool` or `out`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_pool_metrics(
    h: *const bw_pool,
    out: *mut bw_pool_stats,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let m = try_ref!(h).pool.metrics();
        let value = bw_pool_stats {
            size: 0,
            workers: m.workers,
            spawned: m.spawned,
            busy: m.busy,
            queue_depth: m.queue_depth,
            queue_capacity: m.queue_capacity,
            peak_queue: m.peak_queue,
            rejected: m.rejected,
            completed: m.completed,
            panicked: m.panicked,
            cancelled: m.cancelled,
        };
        // SAFETY: `out` is NULL or documented as a stats structure of `out->size` bytes.
        unsafe { write_stats(out, value) }
    })
}

impl_stats!(bw_pool_stats);

/// The JSON configuration of `bw_pool_new_json`.
///
/// ```json
/// {"name": "email", "workers": 5, "queue_capacity": 10}
/// ```
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PoolJson {
    /// The pool's name (the prefix of its threads' names).
    pub name: String,
    /// Worker threads at most (at least 1).
    pub workers: u32,
    /// Tasks that may wait for a worker (0: hand-off only).
    pub queue_capacity: u32,
}

impl Default for PoolJson {
    fn default() -> Self {
        let c = PoolConfig::default();
        PoolJson {
            name: c.name,
            workers: c.workers,
            queue_capacity: c.queue_capacity,
        }
    }
}

impl JsonConfig for PoolJson {
    const POLICY: PolicyKind = PolicyKind::ThreadPool;
    type Handle = bw_pool;

    fn build(self, clock: Clock) -> Result<bw_pool, FfiError> {
        check_name(PolicyKind::ThreadPool, &self.name)?;
        let config = PoolConfig {
            name: self.name,
            workers: self.workers,
            queue_capacity: self.queue_capacity,
        };
        let pool = ThreadPool::builder().config(config).clock(clock).build()?;
        Ok(bw_pool { pool })
    }

    fn schema() -> serde_json::Value {
        let u32max = u64::from(u32::MAX);
        schema::object(
            vec![
                (
                    "name",
                    schema::name("the pool's name, prefix of its threads' names"),
                ),
                (
                    "workers",
                    schema::integer(1, u32max, "worker threads at most"),
                ),
                (
                    "queue_capacity",
                    schema::integer(0, u32max, "tasks that may wait for a worker"),
                ),
            ],
            &[],
        )
    }
}

/// Releases a pool. NULL is a no-op. If it was not shut down yet, this shuts it down
/// with `BW_SHUTDOWN_CANCEL` (queued tasks cancelled) and waits for running callbacks
/// at most 1 second of real time; workers still busy then are left to finish their
/// callback and exit on their own (their `user_data` must stay valid until then). Call
/// `bw_pool_shutdown` first for a wait of your choosing. Task handles stay valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_pool_free(pool: *mut bw_pool) {
    ffi_boundary_value!((), {
        // SAFETY: the header documents `pool` as NULL or a handle from `bw_pool_new_json`,
        // freed once, no longer used by other threads.
        unsafe { free_handle(pool) }
    })
}

/// The default thread pool configuration as JSON text (static, NUL-terminated, never freed):
/// every key `bw_pool_new_json` accepts, unset ones as `null`.
#[unsafe(no_mangle)]
pub extern "C" fn bw_pool_config_defaults_json() -> *const c_char {
    static TEXT: OnceLock<CString> = OnceLock::new();
    ffi_boundary_value!(std::ptr::null(), {
        static_text(&TEXT, defaults_json::<PoolJson>)
    })
}

/// The JSON Schema (draft 2020-12) of the thread pool configuration (static, NUL-terminated,
/// never freed): types, ranges, defaults.
#[unsafe(no_mangle)]
pub extern "C" fn bw_pool_config_schema_json() -> *const c_char {
    static TEXT: OnceLock<CString> = OnceLock::new();
    ffi_boundary_value!(std::ptr::null(), {
        static_text(&TEXT, schema_json::<PoolJson>)
    })
}
