//! The error object `bw_error`, the Rust-side [`FfiError`] every body returns, the
//! per-thread last error message, and the end of the panic boundary.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::ffi::c_char;
use std::fmt::{self, Write as _};
use std::time::Duration;

use super::status::*;
use crate::clock::duration_nanos;
use crate::error::{ConfigError, Error, PolicyKind, RejectReason};

/// The size of `bw_error.message`, the terminating NUL included.
pub const BW_ERROR_MESSAGE_LEN: usize = 1024;

/// What went wrong in a call: pass one (on the stack is fine) as the last argument of
/// any fallible function. May be NULL.
///
/// When given, it is written on every return: `status` equals the returned status; on
/// failure `policy` (`BW_POLICY_*`), `reason` (`BW_REASON_*`, for rejections),
/// `retry_after_ns` (when `has_retry_after`), `message` (NUL-terminated UTF-8) and
/// `message_len` describe the error; on success they are zero or empty. The library
/// keeps no pointer to it after the call. Its layout is part of the ABI (1056 bytes on
/// 64-bit targets).
///
/// Messages are never cut: every message the library writes fits in
/// `BW_ERROR_MESSAGE_LEN` bytes, because the user text it quotes is bounded (names are
/// refused beyond 128 bytes; an unknown key or a string value is quoted up to 64
/// characters followed by "..."). `message_len` is the message's full length in bytes
/// (without the NUL); it is larger than `BW_ERROR_MESSAGE_LEN - 1` only for a panic
/// message (a bug), the one text the library does not produce itself, which is then cut
/// at a character boundary.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct bw_error {
    /// The status the call returned.
    pub status: bw_status,
    /// The policy involved (`BW_POLICY_*`), `BW_POLICY_NONE` if none.
    pub policy: u32,
    /// Why a policy rejected the call (`BW_REASON_*`), `BW_REASON_NONE` otherwise.
    pub reason: u32,
    /// Whether `retry_after_ns` holds a hint.
    pub has_retry_after: bool,
    /// When the policy may admit again, in nanoseconds from the call (rejections only).
    pub retry_after_ns: u64,
    /// The full length of the message in bytes, without the NUL (0 on success).
    pub message_len: usize,
    /// A human-readable message, NUL-terminated UTF-8; empty on success.
    pub message: [c_char; BW_ERROR_MESSAGE_LEN],
}

impl Default for bw_error {
    fn default() -> Self {
        bw_error {
            status: BW_OK,
            policy: BW_POLICY_NONE,
            reason: BW_REASON_NONE,
            has_retry_after: false,
            retry_after_ns: 0,
            message_len: 0,
            message: [0; BW_ERROR_MESSAGE_LEN],
        }
    }
}

impl fmt::Debug for bw_error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("bw_error")
            .field("status", &status_cstr(self.status))
            .field("policy", &self.policy)
            .field("reason", &self.reason)
            .field("has_retry_after", &self.has_retry_after)
            .field("retry_after_ns", &self.retry_after_ns)
            .field("message", &self.message_str())
            .finish()
    }
}

impl bw_error {
    /// The message as text (up to its NUL).
    pub fn message_str(&self) -> String {
        let bytes: Vec<u8> = self
            .message
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as u8)
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

/// The message of an [`FfiError`]: static text, formatted text, or a rejection that is
/// formatted only where it is written (no allocation on the rejection path).
#[derive(Debug, Clone)]
pub enum Message {
    /// Static text.
    Static(&'static str),
    /// Formatted text.
    Owned(String),
    /// "{policy} rejected the call: {reason}".
    Rejected(PolicyKind, RejectReason),
    /// "{policy}: the call timed out".
    TimedOut(PolicyKind),
}

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Message::Static(s) => f.write_str(s),
            Message::Owned(s) => f.write_str(s),
            Message::Rejected(p, r) => write!(f, "{p} rejected the call: {r}"),
            Message::TimedOut(p) => write!(f, "{p}: the call timed out"),
        }
    }
}

/// An error on its way to C: what the body of an exported function returns as `Err`.
#[derive(Debug, Clone)]
pub struct FfiError {
    /// The status returned to C (never `BW_OK`).
    pub status: bw_status,
    /// `BW_POLICY_*`.
    pub policy: u32,
    /// `BW_REASON_*`.
    pub reason: u32,
    /// The retry-after hint, in nanoseconds.
    pub retry_after_ns: Option<u64>,
    /// The message.
    pub message: Message,
}

impl FfiError {
    /// An error with `status` and a message, no policy.
    pub fn new(status: bw_status, message: impl Into<String>) -> FfiError {
        FfiError {
            status,
            policy: BW_POLICY_NONE,
            reason: BW_REASON_NONE,
            retry_after_ns: None,
            message: Message::Owned(message.into()),
        }
    }

    /// `BW_INVALID_ARGUMENT` with a message.
    pub fn invalid_argument(message: impl Into<String>) -> FfiError {
        FfiError::new(BW_INVALID_ARGUMENT, message)
    }

    /// `BW_INVALID_ARGUMENT`: "`name` must not be NULL".
    pub fn null(name: &str) -> FfiError {
        FfiError::invalid_argument(format!("{name} must not be NULL"))
    }

    /// The error of a guarded call, mapped to its status (`BW_REJECTED` (or
    /// `BW_SHUTDOWN` / `BW_CANCELLED`, see [`rejection_status`]), `BW_TIMED_OUT`,
    /// `BW_FAILED`), with its policy, reason and retry-after hint.
    pub fn from_error<E: fmt::Display>(error: &Error<E>) -> FfiError {
        match error {
            Error::Rejected {
                policy,
                reason,
                retry_after,
            } => FfiError::rejected(*policy, *reason, *retry_after),
            Error::TimedOut { policy } => FfiError {
                status: BW_TIMED_OUT,
                policy: policy_code(*policy),
                reason: BW_REASON_NONE,
                retry_after_ns: None,
                message: Message::TimedOut(*policy),
            },
            Error::Failed { .. } => FfiError::new(BW_FAILED, error.to_string()),
        }
    }

    /// A rejection (no allocation).
    pub fn rejected(
        policy: PolicyKind,
        reason: RejectReason,
        retry_after: Option<Duration>,
    ) -> FfiError {
        FfiError {
            status: rejection_status(reason),
            policy: policy_code(policy),
            reason: reason_code(reason),
            retry_after_ns: retry_after.map(duration_nanos),
            message: Message::Rejected(policy, reason),
        }
    }

    /// `BW_PANIC` with the panic's message.
    pub fn panic(payload: &(dyn Any + Send)) -> FfiError {
        let what = if let Some(s) = payload.downcast_ref::<&'static str>() {
            s
        } else if let Some(s) = payload.downcast_ref::<String>() {
            s.as_str()
        } else {
            "unknown panic payload"
        };
        FfiError::new(BW_PANIC, format!("panic in breakwater: {what}"))
    }
}

impl From<ConfigError> for FfiError {
    fn from(e: ConfigError) -> FfiError {
        FfiError {
            status: BW_INVALID_CONFIG,
            policy: policy_code(e.policy),
            reason: BW_REASON_NONE,
            retry_after_ns: None,
            message: Message::Owned(e.to_string()),
        }
    }
}

impl fmt::Display for FfiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}",
            status_cstr(self.status).to_string_lossy(),
            self.message
        )
    }
}

/// The last error's message as the hot paths record it: plain data (no destructor), so
/// that its thread-local needs no registration and a rejection records it with one
/// store. Formatted text lives beside it, in [`LAST_OWNED`].
#[derive(Clone, Copy)]
enum LastMessage {
    Static(&'static str),
    Rejected(PolicyKind, RejectReason),
    TimedOut(PolicyKind),
    /// The text in [`LAST_OWNED`].
    Owned,
}

thread_local! {
    /// The message of the last failed call on this thread, kept unformatted (a
    /// rejection is then recorded without formatting or allocating; it is formatted
    /// when asked for).
    static LAST_ERROR: Cell<LastMessage> = const { Cell::new(LastMessage::Static("")) };
    /// The text of the last error when it was formatted (`LastMessage::Owned`); its
    /// buffer is reused.
    static LAST_OWNED: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Remembers `message` as this thread's last error (no allocation for rejections,
/// time-outs and static messages).
#[inline]
pub fn set_last_error(message: &Message) {
    let last = match message {
        Message::Static(s) => LastMessage::Static(s),
        Message::Rejected(p, r) => LastMessage::Rejected(*p, *r),
        Message::TimedOut(p) => LastMessage::TimedOut(*p),
        Message::Owned(text) => {
            // `try_with`: during thread teardown the slot may be gone; the message is then
            // lost, which is fine.
            let kept = LAST_OWNED.try_with(|owned| {
                if let Ok(mut owned) = owned.try_borrow_mut() {
                    owned.clone_from(text);
                    true
                } else {
                    false
                }
            });
            if kept != Ok(true) {
                return;
            }
            LastMessage::Owned
        }
    };
    LAST_ERROR.set(last);
}

/// This thread's last error message (empty if no call failed on this thread yet).
pub fn last_error() -> String {
    match LAST_ERROR.get() {
        LastMessage::Static(s) => s.to_owned(),
        LastMessage::Rejected(p, r) => Message::Rejected(p, r).to_string(),
        LastMessage::TimedOut(p) => Message::TimedOut(p).to_string(),
        LastMessage::Owned => LAST_OWNED
            .try_with(|owned| owned.borrow().clone())
            .unwrap_or_default(),
    }
}

/// Writes formatted text into the message buffer of a `bw_error` through a raw pointer
/// (the caller's object may be uninitialised: it is only written), truncating at a
/// character boundary and replacing NUL bytes, so that the buffer always holds valid
/// NUL-terminated UTF-8.
struct FixedWriter {
    buf: *mut c_char,
    len: usize,
    /// The length of the whole text given, written or not.
    full: usize,
}

impl FixedWriter {
    /// Appends bytes known to hold no NUL and to end on a character boundary, if they
    /// fit (counting them in `full` either way).
    fn push_plain(&mut self, bytes: &[u8]) {
        self.full += bytes.len();
        self.copy(bytes);
    }

    /// Copies bytes (no NUL, whole characters) if they fit; returns whether they did.
    fn copy(&mut self, bytes: &[u8]) -> bool {
        if bytes.len() > BW_ERROR_MESSAGE_LEN - 1 - self.len {
            return false;
        }
        // SAFETY: `buf` points to `BW_ERROR_MESSAGE_LEN` writable bytes (see `write_error`)
        // and `len + bytes.len() < BW_ERROR_MESSAGE_LEN`; a caller's buffer cannot overlap
        // the library's text.
        unsafe {
            std::ptr::copy_nonoverlapping(
                bytes.as_ptr(),
                self.buf.add(self.len).cast::<u8>(),
                bytes.len(),
            );
        }
        self.len += bytes.len();
        true
    }
}

impl fmt::Write for FixedWriter {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.full += s.len();
        // Fast path: the whole text fits and holds no NUL (a plain copy).
        if !s.as_bytes().contains(&0) && self.copy(s.as_bytes()) {
            return Ok(());
        }
        for ch in s.chars() {
            let ch = if ch == '\0' { ' ' } else { ch };
            let mut tmp = [0u8; 4];
            if !self.copy(ch.encode_utf8(&mut tmp).as_bytes()) {
                return Ok(()); // truncated: keep what fits
            }
        }
        Ok(())
    }
}

/// Fills the error object at `err` from `e`, field by field, without reading it.
///
/// # Safety
///
/// `err` is non-NULL and valid for writing a `bw_error`.
unsafe fn write_error(err: *mut bw_error, e: &FfiError) {
    // SAFETY: the caller's contract; place assignments of `Copy` fields and a raw
    // pointer to the message array: nothing is read or borrowed.
    let mut w = unsafe {
        (*err).status = e.status;
        (*err).policy = e.policy;
        (*err).reason = e.reason;
        (*err).has_retry_after = e.retry_after_ns.is_some();
        (*err).retry_after_ns = e.retry_after_ns.unwrap_or(0);
        FixedWriter {
            buf: std::ptr::addr_of_mut!((*err).message).cast::<c_char>(),
            len: 0,
            full: 0,
        }
    };
    match &e.message {
        // The hot error path (a rejection): three plain copies of static text.
        Message::Rejected(p, r) => {
            w.push_plain(p.name().as_bytes());
            w.push_plain(b" rejected the call: ");
            w.push_plain(r.description().as_bytes());
        }
        Message::Static(text) => {
            let _ = w.write_str(text);
        }
        other => {
            let _ = write!(w, "{other}");
        }
    }
    // SAFETY: `len < BW_ERROR_MESSAGE_LEN`, within the message array; `err` is valid
    // for writes (the caller's contract).
    unsafe {
        w.buf.add(w.len).write(0);
        (*err).message_len = w.full;
    }
}

impl bw_error {
    /// Fills this error object from `e`.
    pub fn set(&mut self, e: &FfiError) {
        // SAFETY: `self` is a valid, writable `bw_error`.
        unsafe { write_error(self, e) }
    }
}

/// The end of the panic boundary for a body that succeeded: fills `err` (when given)
/// for a success and returns `BW_OK`. Inlined into every export: with a NULL `err` (the
/// hot path) it costs one comparison.
///
/// The caller's error object may hold garbage (or be uninitialised): it is only ever
/// written, field by field or as a whole, never read or borrowed (here, in [`fail`] and
/// in [`reject`]).
///
/// # Safety
///
/// `err` is NULL or points to memory valid for writing a `bw_error`.
#[inline(always)]
pub unsafe fn succeed(err: *mut bw_error) -> bw_status {
    if !err.is_null() {
        // SAFETY: the caller guarantees `err` is valid for writes.
        unsafe { write_ok(err) };
    }
    BW_OK
}

/// The end of the panic boundary as one function: turns a body's result (or its panic)
/// into a status, fills `err` and the thread's last error. The boundary macros call
/// [`succeed`], [`fail`] and [`fail_panic`] directly, inside and after the closure;
/// this is the same for code that holds a `catch_unwind` result.
///
/// # Safety
///
/// `err` is NULL or points to memory valid for writing a `bw_error`.
pub unsafe fn finish(
    result: std::thread::Result<Result<(), FfiError>>,
    err: *mut bw_error,
) -> bw_status {
    // SAFETY: the caller's guarantee on `err`, passed on.
    unsafe {
        match result {
            Ok(Ok(())) => succeed(err),
            Ok(Err(e)) => fail(e, err),
            Err(payload) => fail_panic(payload, err),
        }
    }
}

/// Fills an error object for a success.
///
/// # Safety
///
/// `err` is non-NULL and valid for writing a `bw_error`.
#[inline(always)]
unsafe fn write_ok(err: *mut bw_error) {
    // SAFETY: the caller's contract; place assignments of `Copy` fields: nothing is read
    // or borrowed.
    unsafe {
        (*err).status = BW_OK;
        (*err).policy = BW_POLICY_NONE;
        (*err).reason = BW_REASON_NONE;
        (*err).has_retry_after = false;
        (*err).retry_after_ns = 0;
        (*err).message_len = 0;
        (*err).message[0] = 0;
    }
}

/// The end of the panic boundary for a body that failed: records the message as the
/// thread's last error, fills `err` when given, returns the status. Out of line.
///
/// # Safety
///
/// `err` is NULL or points to memory valid for writing a `bw_error`.
#[inline(never)]
pub unsafe fn fail(failure: FfiError, err: *mut bw_error) -> bw_status {
    debug_assert_ne!(failure.status, BW_OK, "an error must not carry BW_OK");
    set_last_error(&failure.message);
    if !err.is_null() {
        // SAFETY: the caller guarantees `err` is valid for writes; it is only written.
        unsafe { write_error(err, &failure) };
    }
    failure.status
}

/// The end of the panic boundary for a body that panicked: `BW_PANIC` with the panic's
/// message, as [`fail`].
///
/// # Safety
///
/// `err` is NULL or points to memory valid for writing a `bw_error`.
#[cold]
#[inline(never)]
pub unsafe fn fail_panic(payload: Box<dyn Any + Send>, err: *mut bw_error) -> bw_status {
    // SAFETY: the caller's guarantee on `err`, passed on.
    unsafe { fail(FfiError::panic(&*payload), err) }
}

/// A policy's refusal on its way to C, as the hot exports report it (see
/// `ffi_boundary_rejecting!`): the fields of an [`FfiError::rejected`], without its
/// message.
#[derive(Debug, Clone, Copy)]
pub struct Rejection {
    /// The policy that refused.
    pub policy: PolicyKind,
    /// Why.
    pub reason: RejectReason,
    /// When it may admit again.
    pub retry_after: Option<Duration>,
}

/// What the body of an export under `ffi_boundary_rejecting!` evaluates to: success, a
/// rejection, or another error.
pub type RejectingResult = Result<Result<(), Rejection>, FfiError>;

/// A rejected call: records it as the thread's last error (one store, no formatting),
/// fills `err` when given, returns the status, exactly as [`fail`] with
/// [`FfiError::rejected`] would.
///
/// # Safety
///
/// `err` is NULL or points to memory valid for writing a `bw_error`.
#[inline(always)]
pub unsafe fn reject(rejection: Rejection, err: *mut bw_error) -> bw_status {
    LAST_ERROR.set(LastMessage::Rejected(rejection.policy, rejection.reason));
    if !err.is_null() {
        // SAFETY: the caller guarantees `err` is valid for writes.
        unsafe { write_rejection(rejection, err) };
    }
    rejection_status(rejection.reason)
}

/// Fills an error object for a rejection (out of line: the C hot path passes NULL).
///
/// # Safety
///
/// `err` is non-NULL and valid for writing a `bw_error`.
#[inline(never)]
unsafe fn write_rejection(rejection: Rejection, err: *mut bw_error) {
    let e = FfiError::rejected(rejection.policy, rejection.reason, rejection.retry_after);
    // SAFETY: the caller's contract.
    unsafe { write_error(err, &e) };
}

/// The end of the panic boundary of a function that returns a value instead of a
/// status: a panic is recorded as the thread's last error and `default` is returned.
pub fn finish_value<T>(result: std::thread::Result<T>, default: T) -> T {
    match result {
        Ok(v) => v,
        Err(payload) => {
            set_last_error(&FfiError::panic(&*payload).message);
            default
        }
    }
}

/// Copies the message of the last failed call on this thread into `buf` as
/// NUL-terminated UTF-8, and its length (without the NUL) into `*out_len`.
///
/// The message is empty if no call has failed on this thread. Calls that succeed do
/// not clear it, and this function never changes it. Prefer the per-call `bw_error`
/// from languages whose code moves between threads (Go).
///
/// Returns `BW_OK`; `BW_BUFFER_TOO_SMALL` when `len` is less than the length plus one
/// (then `*out_len` receives the length, and `buf` is not written: call again with a
/// larger buffer; `buf` may be NULL when `len` is 0 to ask for the length);
/// `BW_INVALID_ARGUMENT` when `out_len` is NULL, or `buf` is NULL while `len` is not 0.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_last_error_message(
    buf: *mut c_char,
    len: usize,
    out_len: *mut usize,
) -> bw_status {
    // Not through `ffi_boundary!`: this function must not replace the message it reports.
    let result = std::panic::catch_unwind(|| {
        if out_len.is_null() || (buf.is_null() && len > 0) {
            return BW_INVALID_ARGUMENT;
        }
        let last = last_error();
        let n = last.len();
        if len < n + 1 {
            // SAFETY: `out_len` was checked non-NULL; the caller guarantees it is
            // valid for writes.
            unsafe { out_len.write(n) };
            return BW_BUFFER_TOO_SMALL;
        }
        // SAFETY: `buf` is non-NULL (len > n >= 0) and the caller guarantees it is
        // valid for `len >= n + 1` bytes; the source is a live String of `n` bytes
        // and cannot overlap a caller's buffer.
        unsafe {
            std::ptr::copy_nonoverlapping(last.as_ptr(), buf.cast::<u8>(), n);
            buf.add(n).write(0);
            out_len.write(n);
        }
        BW_OK
    });
    result.unwrap_or(BW_PANIC)
}
