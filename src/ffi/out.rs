//! Out-parameters: the checked [`Out`] pointer, handles moved to and from C, size-tagged
//! stats structures ([`write_stats`], the one body behind every `bw_<policy>_metrics`)
//! and text copied into a caller's buffer ([`copy_text`]).

use std::ffi::c_char;
use std::ptr::NonNull;

use super::error::FfiError;
use super::status::BW_BUFFER_TOO_SMALL;

/// A checked, non-NULL out-parameter. Written at most once, by [`Out::set`].
pub struct Out<T>(NonNull<T>);

impl<T> Out<T> {
    /// Wraps a checked out-parameter.
    ///
    /// # Safety
    ///
    /// `p` is valid for writing one `T` for the duration of the exported call.
    pub unsafe fn new(p: NonNull<T>) -> Out<T> {
        Out(p)
    }

    /// Writes the value (without reading or dropping what was there: it may be
    /// uninitialised memory).
    pub fn set(self, value: T) {
        // SAFETY: `Out::new`'s contract: valid for one write of `T`.
        unsafe { self.0.as_ptr().write(value) }
    }
}

/// Moves `value` to the heap and returns the handle C will own.
pub fn into_handle<T>(value: T) -> *mut T {
    Box::into_raw(Box::new(value))
}

/// Releases a handle made by [`into_handle`]; NULL is a no-op.
///
/// # Safety
///
/// `ptr` is NULL or a handle from [`into_handle`] with the same `T`, not yet freed and no
/// longer used by any other thread.
pub unsafe fn free_handle<T>(ptr: *mut T) {
    if !ptr.is_null() {
        // SAFETY: the caller's contract: `ptr` came from `Box::into_raw` and is released
        // once.
        drop(unsafe { Box::from_raw(ptr) });
    }
}

/// A `#[repr(C)]` stats structure whose first field is `size_t size`.
///
/// # Safety
///
/// Implement it only for `#[repr(C)]` structures that start with a `usize` field.
pub unsafe trait Stats: Copy {
    /// Sets the leading `size` field.
    fn set_size(&mut self, size: usize);
}

/// Implements [`Stats`] for `#[repr(C)]` structures that start with `pub size: usize`.
macro_rules! impl_stats {
    ($($t:ty),* $(,)?) => {$(
        // SAFETY: `$t` is `#[repr(C)]` and starts with `pub size: usize` (checked by the
        // field access below and by the header test).
        unsafe impl $crate::ffi::out::Stats for $t {
            fn set_size(&mut self, size: usize) {
                self.size = size;
            }
        }
        const _: () = assert!(::std::mem::offset_of!($t, size) == 0);
    )*};
}

/// The body of every `bw_<policy>_metrics`: copies `value` to the caller's structure
/// `out`. The caller sets `out->size` to the size it knows (`sizeof`); the library writes
/// at most that many bytes (a prefix of the structure: the fields that fit) and sets
/// `out->size` to the number written. This lets a structure grow at the end without
/// breaking older callers.
///
/// # Errors
///
/// `BW_INVALID_ARGUMENT` for a NULL `out`, or `out->size` smaller than `sizeof(size_t)`
/// (`*out` is then not written).
///
/// # Safety
///
/// `out` is NULL or valid for reading a `usize` and for writing `out->size` bytes (as
/// documented on the exported functions).
pub unsafe fn write_stats<T: Stats>(out: *mut T, mut value: T) -> Result<(), FfiError> {
    let Some(out) = NonNull::new(out) else {
        return Err(FfiError::null("out"));
    };
    // SAFETY: the caller's contract: `out` starts with a readable `size_t`.
    let given = unsafe { out.cast::<usize>().as_ptr().read() };
    if given < size_of::<usize>() {
        return Err(FfiError::invalid_argument(format!(
            "out->size is {given}: set it to sizeof the stats structure ({})",
            size_of::<T>()
        )));
    }
    let n = given.min(size_of::<T>());
    value.set_size(n);
    // SAFETY: `out` is valid for `given >= n` bytes of writes (the caller's contract);
    // `value` is a local `Copy` value of `size_of::<T>() >= n` bytes; no overlap.
    unsafe {
        std::ptr::copy_nonoverlapping(
            (&raw const value).cast::<u8>(),
            out.as_ptr().cast::<u8>(),
            n,
        );
    }
    Ok(())
}

/// Copies `text` NUL-terminated into `buf` (`len` bytes) and its length without the NUL
/// into `*out_len`.
///
/// # Errors
///
/// `BW_BUFFER_TOO_SMALL` when `len < text.len() + 1` (`*out_len` receives the length,
/// `buf` is not written); `BW_INVALID_ARGUMENT` for a NULL `out_len`, or a NULL `buf`
/// with a non-zero `len`.
///
/// # Safety
///
/// `out_len` is NULL or writable; `buf` is NULL or valid for `len` bytes.
pub unsafe fn copy_text(
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
