//! Unit tests of the ABI plumbing: the panic boundary, the error object, the argument
//! macros. (The exported functions are also tested from C, Python and Go.)

use std::ffi::{CStr, c_char, c_void};
use std::mem::{offset_of, size_of};
use std::ptr;
use std::time::Duration;

use super::*;
use crate::error::{ConfigError, Error, PolicyKind, RejectReason};

fn last_message() -> String {
    let mut len = 0usize;
    // SAFETY: NULL buffer with length 0 asks for the length; `len` is a valid out-pointer.
    let st = unsafe { bw_last_error_message(ptr::null_mut(), 0, &mut len) };
    assert!(st == BW_OK || st == BW_BUFFER_TOO_SMALL);
    let mut buf = vec![0 as c_char; len + 1];
    let mut got = usize::MAX;
    // SAFETY: `buf` holds `len + 1` bytes.
    let st = unsafe { bw_last_error_message(buf.as_mut_ptr(), buf.len(), &mut got) };
    assert_eq!(st, BW_OK);
    assert_eq!(got, len);
    // SAFETY: the function wrote a NUL-terminated string into `buf`.
    unsafe { CStr::from_ptr(buf.as_ptr()) }
        .to_str()
        .unwrap()
        .to_owned()
}

fn panicking(err: *mut bw_error) -> bw_status {
    ffi_boundary!(err, {
        let v: Vec<u32> = Vec::new();
        if v.is_empty() {
            panic!("boom {}", 42);
        }
        Ok(())
    })
}

fn failing(err: *mut bw_error) -> bw_status {
    ffi_boundary!(err, {
        Err(FfiError::rejected(
            PolicyKind::RateLimiter,
            RejectReason::RateLimited,
            Some(Duration::from_millis(250)),
        ))
    })
}

fn succeeding(err: *mut bw_error) -> bw_status {
    ffi_boundary!(err, { Ok(()) })
}

#[test]
fn the_error_object_layout_is_fixed() {
    assert_eq!(size_of::<bw_error>(), 1056);
    assert_eq!(offset_of!(bw_error, status), 0);
    assert_eq!(offset_of!(bw_error, policy), 4);
    assert_eq!(offset_of!(bw_error, reason), 8);
    assert_eq!(offset_of!(bw_error, has_retry_after), 12);
    assert_eq!(offset_of!(bw_error, retry_after_ns), 16);
    assert_eq!(offset_of!(bw_error, message_len), 24);
    assert_eq!(offset_of!(bw_error, message), 32);
}

#[test]
fn a_panic_becomes_bw_panic_with_its_message() {
    let mut err = bw_error::default();
    assert_eq!(panicking(&mut err), BW_PANIC);
    assert_eq!(err.status, BW_PANIC);
    assert_eq!(err.message_str(), "panic in breakwater: boom 42");
    assert_eq!(last_message(), "panic in breakwater: boom 42");
    // Without an error object too.
    assert_eq!(panicking(ptr::null_mut()), BW_PANIC);
}

#[test]
fn a_panic_in_a_value_function_returns_the_default() {
    let v = ffi_boundary_value!(7u32, {
        if size_of::<u8>() == 1 {
            panic!("value boom");
        }
        1u32
    });
    assert_eq!(v, 7);
    assert_eq!(last_message(), "panic in breakwater: value boom");
}

#[test]
fn a_rejection_fills_every_field() {
    let mut err = bw_error::default();
    assert_eq!(failing(&mut err), BW_REJECTED);
    assert_eq!(err.status, BW_REJECTED);
    assert_eq!(err.policy, BW_POLICY_RATE_LIMITER);
    assert_eq!(err.reason, BW_REASON_RATE_LIMITED);
    assert!(err.has_retry_after);
    assert_eq!(err.retry_after_ns, 250_000_000);
    assert_eq!(
        err.message_str(),
        "rate limiter rejected the call: rate limited"
    );
    // A later success on the same object resets it.
    assert_eq!(succeeding(&mut err), BW_OK);
    assert_eq!(err.status, BW_OK);
    assert_eq!(err.policy, BW_POLICY_NONE);
    assert_eq!(err.reason, BW_REASON_NONE);
    assert!(!err.has_retry_after);
    assert_eq!(err.retry_after_ns, 0);
    assert_eq!(err.message_str(), "");
    // ... but not the thread's last error.
    assert_eq!(
        last_message(),
        "rate limiter rejected the call: rate limited"
    );
}

#[test]
fn the_last_error_is_per_thread() {
    assert_eq!(failing(ptr::null_mut()), BW_REJECTED);
    let other = std::thread::spawn(|| {
        let before = last_message();
        assert_eq!(panicking(ptr::null_mut()), BW_PANIC);
        (before, last_message())
    })
    .join()
    .unwrap();
    assert_eq!(other.0, "");
    assert_eq!(other.1, "panic in breakwater: boom 42");
    assert_eq!(
        last_message(),
        "rate limiter rejected the call: rate limited"
    );
}

#[test]
fn last_error_message_checks_its_arguments_and_buffer() {
    assert_eq!(failing(ptr::null_mut()), BW_REJECTED);
    let expected = "rate limiter rejected the call: rate limited";
    let mut len = 0usize;
    let mut buf = [b'x' as c_char; 8];
    // SAFETY: the pointers below are NULL or point to live locals of the right size.
    unsafe {
        assert_eq!(
            bw_last_error_message(buf.as_mut_ptr(), 8, ptr::null_mut()),
            BW_INVALID_ARGUMENT
        );
        assert_eq!(
            bw_last_error_message(ptr::null_mut(), 8, &mut len),
            BW_INVALID_ARGUMENT
        );
        assert_eq!(len, 0, "not written on failure");
        assert_eq!(
            bw_last_error_message(buf.as_mut_ptr(), buf.len(), &mut len),
            BW_BUFFER_TOO_SMALL
        );
        assert_eq!(len, expected.len());
        assert!(buf.iter().all(|&c| c == b'x' as c_char), "buffer untouched");
        // Exactly the length is still too small: the NUL needs a byte.
        let mut exact = vec![0 as c_char; expected.len()];
        assert_eq!(
            bw_last_error_message(exact.as_mut_ptr(), exact.len(), &mut len),
            BW_BUFFER_TOO_SMALL
        );
    }
    // The failed calls above did not replace the message.
    assert_eq!(last_message(), expected);
}

#[test]
fn an_oversized_text_is_cut_on_a_character_boundary_and_its_length_kept() {
    let mut err = bw_error::default();
    // Only a panic message can be this long. 1022 ASCII bytes then a 3-byte character:
    // it does not fit in the 1023 bytes left.
    let text = format!("{}€ tail", "a".repeat(1022));
    let full = text.len();
    err.set(&FfiError::new(BW_FAILED, text));
    let msg = err.message_str();
    assert_eq!(msg.len(), 1022);
    assert_eq!(err.message_len, full);
    assert!(msg.bytes().all(|b| b == b'a'));
    assert_eq!(err.message[1022], 0);
    // NUL bytes inside a message become spaces.
    err.set(&FfiError::new(BW_FAILED, "a\0b"));
    assert_eq!(err.message_str(), "a b");
}

#[test]
fn errors_map_to_statuses() {
    let open: Error<String> = Error::Rejected {
        policy: PolicyKind::CircuitBreaker,
        reason: RejectReason::Open,
        retry_after: None,
    };
    let e = FfiError::from_error(&open);
    assert_eq!(
        (e.status, e.policy, e.reason, e.retry_after_ns),
        (BW_REJECTED, BW_POLICY_CIRCUIT_BREAKER, BW_REASON_OPEN, None)
    );
    let shut: Error<String> = Error::Rejected {
        policy: PolicyKind::ThreadPool,
        reason: RejectReason::Shutdown,
        retry_after: None,
    };
    assert_eq!(FfiError::from_error(&shut).status, BW_SHUTDOWN);
    let cancelled: Error<String> = Error::Rejected {
        policy: PolicyKind::TimeLimiter,
        reason: RejectReason::Cancelled,
        retry_after: None,
    };
    assert_eq!(FfiError::from_error(&cancelled).status, BW_CANCELLED);
    let timed_out: Error<String> = Error::TimedOut {
        policy: PolicyKind::TimeLimiter,
    };
    let e = FfiError::from_error(&timed_out);
    assert_eq!((e.status, e.policy), (BW_TIMED_OUT, BW_POLICY_TIME_LIMITER));
    assert_eq!(e.message.to_string(), "time limiter: the call timed out");
    let failed: Error<String> = Error::Failed {
        error: "io".into(),
        attempts: 3,
    };
    let e = FfiError::from_error(&failed);
    assert_eq!(e.status, BW_FAILED);
    assert_eq!(
        e.message.to_string(),
        "the call failed after 3 attempt(s): io"
    );
    let e = FfiError::from(ConfigError::new(
        PolicyKind::Bulkhead,
        "max_concurrent",
        "must be at least 1",
    ));
    assert_eq!(
        (e.status, e.policy),
        (BW_INVALID_CONFIG, BW_POLICY_BULKHEAD)
    );
    assert_eq!(
        e.message.to_string(),
        "invalid bulkhead configuration: max_concurrent must be at least 1"
    );
    assert_eq!(
        e.to_string(),
        "BW_INVALID_CONFIG: invalid bulkhead configuration: max_concurrent must be at least 1"
    );
}

// The argument macros, through small functions shaped like exports.

#[derive(Debug, PartialEq)]
enum Mode {
    A,
    B,
}

impl boundary::FfiEnum for Mode {
    const VALID: &'static str = "0 (A) or 1 (B)";
    fn from_u32(value: u32) -> Option<Self> {
        match value {
            0 => Some(Mode::A),
            1 => Some(Mode::B),
            _ => None,
        }
    }
}

#[allow(
    clippy::too_many_arguments,
    reason = "shaped like an export that takes one parameter of each kind"
)]
unsafe fn uses_every_macro(
    name: *const c_char,
    name_len: usize,
    mode: u32,
    flags: u32,
    clock: *const bw_clock,
    cb: Option<extern "C" fn(*mut c_void) -> u32>,
    user_data: *mut c_void,
    out: *mut u64,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let name = try_str!(name, name_len);
        let mode = try_enum!(mode as Mode);
        let flags = try_flags!(flags, 0b101);
        let clock = clock::clock_or_monotonic(opt_ref!(clock));
        let cb = try_callback!(cb);
        let out = try_out!(out);
        let mode_value = if mode == Mode::B { 1000 } else { 0 };
        let manual = u64::from(clock.is_manual()) * 10_000;
        out.set(
            name.len() as u64
                + mode_value
                + u64::from(flags) * 100
                + manual
                + u64::from(cb(user_data)),
        );
        Ok(())
    })
}

extern "C" fn seven(user_data: *mut c_void) -> u32 {
    // SAFETY: the tests pass a pointer to a live u32.
    unsafe { *user_data.cast::<u32>() }
}

#[test]
fn the_argument_macros_accept_good_input() {
    let mut data = 7u32;
    let ud = (&mut data as *mut u32).cast::<c_void>();
    let mut out = 0u64;
    let mut err = bw_error::default();
    let mut clock = ptr::null_mut();
    // SAFETY: every pointer below is NULL or points to a live local.
    unsafe {
        assert_eq!(bw_clock_manual_new(&mut clock, ptr::null_mut()), BW_OK);
        let st = uses_every_macro(
            c"abc".as_ptr(),
            3,
            1,
            0b100,
            clock,
            Some(seven),
            ud,
            &mut out,
            &mut err,
        );
        assert_eq!(st, BW_OK, "{err:?}");
        assert_eq!(out, 3 + 1000 + 400 + 10_000 + 7);
        // NULL optional clock, NULL name with length 0.
        let st = uses_every_macro(
            ptr::null(),
            0,
            0,
            0,
            ptr::null(),
            Some(seven),
            ud,
            &mut out,
            &mut err,
        );
        assert_eq!(st, BW_OK, "{err:?}");
        assert_eq!(out, 7);
        bw_clock_free(clock);
    }
}

#[test]
fn the_argument_macros_name_what_is_wrong() {
    let mut data = 7u32;
    let ud = (&mut data as *mut u32).cast::<c_void>();
    let bad_utf8 = [b'o' as c_char, b'k' as c_char, 0xff_u8 as c_char];
    type Call = Box<dyn Fn(*mut u64, *mut bw_error) -> bw_status>;
    let cases: Vec<(Call, &str)> = vec![
        (
            // SAFETY: as above.
            Box::new(move |o, e| unsafe {
                uses_every_macro(ptr::null(), 2, 0, 0, ptr::null(), Some(seven), ud, o, e)
            }),
            "name must not be NULL when name_len is not 0",
        ),
        (
            // SAFETY: `bad_utf8` is live for the call.
            Box::new(move |o, e| unsafe {
                uses_every_macro(
                    bad_utf8.as_ptr(),
                    3,
                    0,
                    0,
                    ptr::null(),
                    Some(seven),
                    ud,
                    o,
                    e,
                )
            }),
            "name is not valid UTF-8 (at byte 2)",
        ),
        (
            // SAFETY: as above.
            Box::new(move |o, e| unsafe {
                uses_every_macro(ptr::null(), 0, 2, 0, ptr::null(), Some(seven), ud, o, e)
            }),
            "mode: 2 is not a valid value (expected 0 (A) or 1 (B))",
        ),
        (
            // SAFETY: as above.
            Box::new(move |o, e| unsafe {
                uses_every_macro(ptr::null(), 0, 0, 0b110, ptr::null(), Some(seven), ud, o, e)
            }),
            "flags has unknown bits 0x2 (valid bits: 0x5)",
        ),
        (
            // SAFETY: as above.
            Box::new(move |o, e| unsafe {
                uses_every_macro(ptr::null(), 0, 0, 0, ptr::null(), None, ud, o, e)
            }),
            "cb must not be NULL",
        ),
        (
            // SAFETY: as above.
            Box::new(move |_, e| unsafe {
                uses_every_macro(
                    ptr::null(),
                    0,
                    0,
                    0,
                    ptr::null(),
                    Some(seven),
                    ud,
                    ptr::null_mut(),
                    e,
                )
            }),
            "out must not be NULL",
        ),
    ];
    for (call, message) in cases {
        let mut out = 99u64;
        let mut err = bw_error::default();
        assert_eq!(call(&mut out, &mut err), BW_INVALID_ARGUMENT, "{message}");
        assert_eq!(err.status, BW_INVALID_ARGUMENT);
        assert_eq!(err.message_str(), message);
        assert_eq!(out, 99, "out-parameter not written on failure ({message})");
    }
}

/// An export under `ffi_boundary_rejecting!`: 0 succeeds, 1 is rejected by the breaker
/// (open, 1.5 s left), 2 fails with formatted text of `n` bytes, 3 panics, 4 is a
/// shutdown (its own status).
fn rejecting(what: u32, n: usize, err: *mut bw_error) -> bw_status {
    ffi_boundary_rejecting!(err, {
        match what {
            0 => Ok(Ok(())),
            1 => Ok(Err(Rejection {
                policy: PolicyKind::CircuitBreaker,
                reason: RejectReason::Open,
                retry_after: Some(Duration::from_millis(1500)),
            })),
            2 => Err(FfiError::invalid_argument("x".repeat(n))),
            3 => panic!("rejecting boom"),
            _ => Ok(Err(Rejection {
                policy: PolicyKind::ThreadPool,
                reason: RejectReason::Shutdown,
                retry_after: None,
            })),
        }
    })
}

#[test]
fn the_rejecting_boundary_reports_as_the_plain_one() {
    let mut err = bw_error::default();
    assert_eq!(rejecting(1, 0, &mut err), BW_REJECTED);
    assert_eq!(err.status, BW_REJECTED);
    assert_eq!(err.policy, BW_POLICY_CIRCUIT_BREAKER);
    assert_eq!(err.reason, BW_REASON_OPEN);
    assert!(err.has_retry_after);
    assert_eq!(err.retry_after_ns, 1_500_000_000);
    let text = "circuit breaker rejected the call: open";
    assert_eq!(err.message_str(), text);
    assert_eq!(err.message_len, text.len());
    assert_eq!(last_message(), text);
    // The same through the plain boundary, for comparison.
    let mut plain = bw_error::default();
    let st = ffi_boundary!(&mut plain, {
        Err(FfiError::rejected(
            PolicyKind::CircuitBreaker,
            RejectReason::Open,
            Some(Duration::from_millis(1500)),
        ))
    });
    assert_eq!(st, BW_REJECTED);
    assert_eq!(format!("{plain:?}"), format!("{err:?}"));

    // A shutdown keeps its own status; NULL `err` still records the last error.
    assert_eq!(rejecting(4, 0, ptr::null_mut()), BW_SHUTDOWN);
    assert_eq!(last_message(), "thread pool rejected the call: shut down");
    // Formatted text replaces a rejection, a shorter text a longer one (the buffer is
    // reused), a rejection the text again.
    assert_eq!(rejecting(2, 40, ptr::null_mut()), BW_INVALID_ARGUMENT);
    assert_eq!(last_message(), "x".repeat(40));
    assert_eq!(rejecting(2, 3, &mut err), BW_INVALID_ARGUMENT);
    assert_eq!(err.message_str(), "xxx");
    assert_eq!(last_message(), "xxx");
    assert_eq!(rejecting(1, 0, ptr::null_mut()), BW_REJECTED);
    assert_eq!(last_message(), text);
    // A success fills the error object and leaves the last error alone.
    assert_eq!(rejecting(0, 0, &mut err), BW_OK);
    assert_eq!(err.status, BW_OK);
    assert_eq!(err.message_str(), "");
    assert_eq!(err.message_len, 0);
    assert_eq!(last_message(), text);
    // A panic is caught at the boundary.
    assert_eq!(rejecting(3, 0, &mut err), BW_PANIC);
    assert_eq!(err.status, BW_PANIC);
    assert_eq!(err.message_str(), "panic in breakwater: rejecting boom");
    assert_eq!(last_message(), "panic in breakwater: rejecting boom");
}
