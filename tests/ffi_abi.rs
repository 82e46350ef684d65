//! The exported C functions called from Rust: clocks, cancellation handles, versions
//! and status names (the C, Python and Go suites call them through their bindings).
#![allow(
    unsafe_code,
    reason = "calls the C ABI with raw pointers; every unsafe block has a SAFETY comment"
)]

use std::ffi::CStr;
use std::ptr;

use breakwater::ffi::*;

#[test]
fn every_status_has_a_name() {
    let names = [
        "BW_OK",
        "BW_REJECTED",
        "BW_TIMED_OUT",
        "BW_FAILED",
        "BW_INVALID_ARGUMENT",
        "BW_INVALID_CONFIG",
        "BW_PANIC",
        "BW_STALE",
        "BW_CANCELLED",
        "BW_SHUTDOWN",
        "BW_BUFFER_TOO_SMALL",
    ];
    for (code, name) in names.iter().enumerate() {
        let p = bw_status_name(code as bw_status);
        // SAFETY: a static NUL-terminated string.
        assert_eq!(unsafe { CStr::from_ptr(p) }.to_str().unwrap(), *name);
    }
    for unknown in [-1, 11, i32::MAX, i32::MIN] {
        assert_eq!(status_cstr(unknown), c"BW_UNKNOWN");
    }
}

#[test]
fn clock_handles_work_from_rust() {
    let mut clock = ptr::null_mut();
    let mut err = bw_error::default();
    let mut now = 0u64;
    let mut kind = 9u32;
    // SAFETY: every pointer below is NULL or points to a live local or handle.
    unsafe {
        assert_eq!(bw_clock_new(BW_CLOCK_MANUAL, &mut clock, &mut err), BW_OK);
        assert_eq!(bw_clock_kind(clock, &mut kind, &mut err), BW_OK);
        assert_eq!(kind, BW_CLOCK_MANUAL);
        assert_eq!(bw_clock_advance_ns(clock, 1_500, &mut err), BW_OK);
        assert_eq!(bw_clock_now_ns(clock, &mut now, &mut err), BW_OK);
        assert_eq!(now, 1_500);
        // A policy keeps its own reference: the time survives the handle.
        let kept = (*clock).clock().clone();
        bw_clock_free(clock);
        assert_eq!(kept.nanos(), 1_500);

        assert_eq!(bw_clock_new(7, &mut clock, &mut err), BW_INVALID_ARGUMENT);
        assert_eq!(
            err.message_str(),
            "kind: 7 is not a valid value (expected 0 (BW_CLOCK_MONOTONIC) or 1 (BW_CLOCK_MANUAL))"
        );
        assert_eq!(bw_clock_monotonic_new(&mut clock, &mut err), BW_OK);
        assert_eq!(bw_clock_advance_ns(clock, 1, &mut err), BW_INVALID_ARGUMENT);
        assert!(err.message_str().starts_with("clock is not a manual clock"));
        bw_clock_free(clock);
        bw_clock_free(ptr::null_mut());
    }
}

#[test]
fn cancel_handles_work_from_rust() {
    let mut cancel = ptr::null_mut();
    let mut cancelled = true;
    // SAFETY: every pointer below is NULL or points to a live local or handle.
    unsafe {
        assert_eq!(bw_cancel_new(&mut cancel, ptr::null_mut()), BW_OK);
        assert_eq!(
            bw_cancel_is_cancelled(cancel, &mut cancelled, ptr::null_mut()),
            BW_OK
        );
        assert!(!cancelled);
        let token = (*cancel).token().clone();
        assert_eq!(bw_cancel_cancel(cancel, ptr::null_mut()), BW_OK);
        assert_eq!(
            bw_cancel_is_cancelled(cancel, &mut cancelled, ptr::null_mut()),
            BW_OK
        );
        assert!(cancelled);
        assert!(token.is_cancelled());
        bw_cancel_free(cancel);
        bw_cancel_free(ptr::null_mut());
    }
}

#[test]
fn the_version_is_the_crate_version() {
    // SAFETY: a static NUL-terminated string.
    let v = unsafe { CStr::from_ptr(bw_version()) };
    assert_eq!(v.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
    assert_eq!(bw_abi_version(), BW_ABI_VERSION);
}

#[test]
fn advancing_a_manual_clock_wakes_a_timed_wait_on_it() {
    use breakwater::{Monitor, WaitResult};
    use std::time::Duration;

    let mut handle = ptr::null_mut();
    // SAFETY: `handle` is a valid out-pointer.
    assert_eq!(
        unsafe { bw_clock_manual_new(&mut handle, ptr::null_mut()) },
        BW_OK
    );
    // SAFETY: `handle` is a live clock handle.
    let clock = unsafe { (*handle).clock().clone() };
    let manual = clock.as_manual().unwrap().clone();
    let monitor = Monitor::new(());
    let waiter = {
        let (clock, monitor) = (clock.clone(), monitor.clone());
        std::thread::spawn(move || {
            let deadline = clock.now() + Duration::from_secs(30);
            let guard = monitor.lock();
            let (_guard, result) = clock.wait_until(&monitor, guard, deadline);
            result
        })
    };
    while manual.waiters() == 0 {
        std::thread::yield_now();
    }
    // SAFETY: `handle` is a live clock handle.
    assert_eq!(
        unsafe { bw_clock_advance_ns(handle, 30_000_000_000, ptr::null_mut()) },
        BW_OK
    );
    assert_eq!(waiter.join().unwrap(), WaitResult::TimedOut);
    // SAFETY: freed once.
    unsafe { bw_clock_free(handle) };
}
