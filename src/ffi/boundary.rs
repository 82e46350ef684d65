//! The panic boundary and the argument-checking macros every exported function uses.
//!
//! The boundary macros wrap function *bodies*, never signatures, so that cbindgen sees
//! every exported function as it is written. Inside a body (a closure returning
//! `Result<(), FfiError>`), the `try_*!` macros check one argument each and `return` an
//! `Err(FfiError)` with `BW_INVALID_ARGUMENT` and a message naming the parameter.

/// Runs `$body` (a block evaluating to `Result<(), FfiError>`) inside `catch_unwind`,
/// and returns its status: `BW_OK`, the error's status, or `BW_PANIC` with the panic
/// message. Fills `$err` (a `*mut bw_error`, may be NULL) and the thread's last error.
///
/// The status is settled inside the closure, so that the success path is a comparison
/// of `$err` with NULL (and a few stores when it is not), and an error goes straight to
/// [`fail`](crate::ffi::error::fail), out of line.
macro_rules! ffi_boundary {
    ($err:expr, $body:block) => {{
        let err: *mut $crate::ffi::error::bw_error = $err;
        let result = ::std::panic::catch_unwind(::std::panic::AssertUnwindSafe(
            || -> $crate::ffi::status::bw_status {
                // `mut`: a body may assign to the caller's locals (an FnMut closure).
                #[allow(unused_mut)]
                let mut body =
                    || -> ::std::result::Result<(), $crate::ffi::error::FfiError> { $body };
                match body() {
                    // SAFETY: `err` is the exported function's error parameter,
                    // documented as NULL or a valid, writable `bw_error`.
                    Ok(()) => unsafe { $crate::ffi::error::succeed(err) },
                    // SAFETY: as above.
                    Err(e) => unsafe { $crate::ffi::error::fail(e, err) },
                }
            },
        ));
        match result {
            Ok(status) => status,
            // SAFETY: as above.
            Err(payload) => unsafe { $crate::ffi::error::fail_panic(payload, err) },
        }
    }};
}

/// [`ffi_boundary!`] for a hot export that may end in a policy's rejection: `$body`
/// evaluates to `Result<Result<(), Rejection>, FfiError>` (`RejectingResult`). A
/// rejection is recorded by [`reject`](crate::ffi::error::reject) (the thread's last
/// error, `$err` when given) without building an `FfiError`; the rest as
/// `ffi_boundary!`. Same statuses, same messages, same panic boundary.
macro_rules! ffi_boundary_rejecting {
    ($err:expr, $body:block) => {{
        let err: *mut $crate::ffi::error::bw_error = $err;
        let result = ::std::panic::catch_unwind(::std::panic::AssertUnwindSafe(
            || -> $crate::ffi::status::bw_status {
                let body = || -> $crate::ffi::error::RejectingResult { $body };
                match body() {
                    // SAFETY: `err` is the exported function's error parameter,
                    // documented as NULL or a valid, writable `bw_error`.
                    Ok(Ok(())) => unsafe { $crate::ffi::error::succeed(err) },
                    // SAFETY: as above.
                    Ok(Err(rejection)) => unsafe { $crate::ffi::error::reject(rejection, err) },
                    // SAFETY: as above.
                    Err(e) => unsafe { $crate::ffi::error::fail(e, err) },
                }
            },
        ));
        match result {
            Ok(status) => status,
            // SAFETY: as above.
            Err(payload) => unsafe { $crate::ffi::error::fail_panic(payload, err) },
        }
    }};
}

/// Runs `$body` (a block evaluating to the function's return value) inside
/// `catch_unwind`; a panic is recorded as the thread's last error and `$default` is
/// returned. For the few exports that do not return a status (`_free`, getters).
macro_rules! ffi_boundary_value {
    ($default:expr, $body:block) => {{
        let result = ::std::panic::catch_unwind(::std::panic::AssertUnwindSafe(|| $body));
        $crate::ffi::error::finish_value(result, $default)
    }};
}

/// `&T` from a `*const T` / `*mut T` parameter that must not be NULL.
macro_rules! try_ref {
    ($ptr:ident) => {
        // SAFETY: the header documents that a non-NULL pointer parameter points to a
        // live object of its type (a handle from its `_new` function, not yet freed).
        match unsafe { $ptr.as_ref() } {
            Some(r) => r,
            None => return Err($crate::ffi::error::FfiError::null(stringify!($ptr))),
        }
    };
}

/// `Option<&T>` from a parameter documented as "may be NULL".
#[cfg_attr(
    not(test),
    allow(
        unused_macros,
        reason = "for the policy exports (optional clock, cancel handle)"
    )
)]
macro_rules! opt_ref {
    ($ptr:ident) => {
        // SAFETY: the header documents that a non-NULL pointer parameter points to a
        // live object of its type (a handle from its `_new` function, not yet freed).
        unsafe { $ptr.as_ref() }
    };
}

/// An [`Out`](crate::ffi::out::Out) from an out-parameter that must not be NULL. Write
/// it last, with `.set(value)`, so that it is written only on success.
macro_rules! try_out {
    ($ptr:ident) => {
        match ::std::ptr::NonNull::new($ptr) {
            // SAFETY: non-NULL, and the header documents that an out-parameter points to
            // writable memory for one value of its type.
            Some(p) => unsafe { $crate::ffi::out::Out::new(p) },
            None => return Err($crate::ffi::error::FfiError::null(stringify!($ptr))),
        }
    };
}

/// `&[u8]` from a `(const char *ptr, size_t len)` pair: NULL is accepted only with
/// length 0 (an empty slice).
#[cfg_attr(
    not(test),
    allow(
        unused_macros,
        reason = "for the policy exports that take JSON configuration"
    )
)]
macro_rules! try_bytes {
    ($ptr:ident, $len:ident) => {
        if $ptr.is_null() {
            if $len != 0 {
                return Err($crate::ffi::error::FfiError::invalid_argument(concat!(
                    stringify!($ptr),
                    " must not be NULL when ",
                    stringify!($len),
                    " is not 0"
                )));
            }
            &[][..]
        } else {
            // SAFETY: non-NULL, and the header documents that the pointer is valid for
            // reads of `len` bytes for the duration of the call.
            unsafe { ::std::slice::from_raw_parts($ptr.cast::<u8>(), $len) }
        }
    };
}

/// `&str` from a `(const char *ptr, size_t len)` pair that must be UTF-8 (NULL only with
/// length 0).
#[cfg_attr(
    not(test),
    allow(unused_macros, reason = "for the policy exports that take names")
)]
macro_rules! try_str {
    ($ptr:ident, $len:ident) => {
        match ::std::str::from_utf8(try_bytes!($ptr, $len)) {
            Ok(s) => s,
            Err(e) => {
                return Err($crate::ffi::error::FfiError::invalid_argument(format!(
                    concat!(stringify!($ptr), " is not valid UTF-8 (at byte {})"),
                    e.valid_up_to()
                )))
            }
        }
    };
}

/// A Rust enum from a `uint32_t` parameter, range-checked through [`FfiEnum`]:
/// `let kind = try_enum!(kind as ClockKind);`.
macro_rules! try_enum {
    ($value:ident as $ty:ty) => {
        match <$ty as $crate::ffi::boundary::FfiEnum>::from_u32($value) {
            Some(v) => v,
            None => {
                return Err($crate::ffi::boundary::enum_error(
                    stringify!($value),
                    $value,
                    <$ty as $crate::ffi::boundary::FfiEnum>::VALID,
                ));
            }
        }
    };
}

/// A flags `uint32_t` parameter whose bits must all be within `$mask`.
#[cfg_attr(
    not(test),
    allow(unused_macros, reason = "for the policy exports that take flags")
)]
macro_rules! try_flags {
    ($value:ident, $mask:expr) => {{
        let unknown = $value & !$mask;
        if unknown != 0 {
            return Err($crate::ffi::error::FfiError::invalid_argument(format!(
                concat!(
                    stringify!($value),
                    " has unknown bits {:#x} (valid bits: {:#x})"
                ),
                unknown, $mask
            )));
        }
        $value
    }};
}

/// The function of an `Option<extern "C" fn ...>` callback parameter that must not be
/// NULL.
#[cfg_attr(
    not(test),
    allow(
        unused_macros,
        reason = "for the callback conveniences (bw_breaker_call, ...)"
    )
)]
macro_rules! try_callback {
    ($cb:ident) => {
        match $cb {
            Some(f) => f,
            None => return Err($crate::ffi::error::FfiError::null(stringify!($cb))),
        }
    };
}

/// A Rust enum that crosses the C ABI as `uint32_t` constants.
pub trait FfiEnum: Sized {
    /// The valid values, for the error message (e.g. "0 (BW_CLOCK_MONOTONIC) or 1
    /// (BW_CLOCK_MANUAL)").
    const VALID: &'static str;
    /// The variant with this code, if any.
    fn from_u32(value: u32) -> Option<Self>;
}

/// `BW_INVALID_ARGUMENT`: "`name`: `value` is not a valid value (expected ...)". Cold
/// and out of line (it formats; the exports check their enums on their hot path).
#[cold]
#[inline(never)]
pub fn enum_error(name: &str, value: u32, valid: &str) -> super::error::FfiError {
    super::error::FfiError::invalid_argument(format!(
        "{name}: {value} is not a valid value (expected {valid})"
    ))
}
