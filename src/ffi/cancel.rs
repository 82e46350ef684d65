//! Cancellation handles: `bw_cancel`, over [`CancelToken`].

use super::error::bw_error;
use super::out::{free_handle, into_handle};
use super::status::bw_status;
use crate::ctx::CancelToken;

/// A cancellation flag. Blocking calls of policies accept an optional
/// `const bw_cancel *`: once it is cancelled (from any thread) they give up with
/// `BW_CANCELLED` (each documents how soon it notices), and guarded code sees its
/// context cancelled. Once cancelled it stays cancelled. Thread-safe.
pub struct bw_cancel {
    pub(crate) token: CancelToken,
}

impl bw_cancel {
    /// The Rust token behind the handle.
    pub fn token(&self) -> &CancelToken {
        &self.token
    }
}

/// Creates an uncancelled cancellation handle into `*out`. Free it with
/// `bw_cancel_free`.
///
/// `BW_INVALID_ARGUMENT` for a NULL `out`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_cancel_new(out: *mut *mut bw_cancel, err: *mut bw_error) -> bw_status {
    ffi_boundary!(err, {
        let out = try_out!(out);
        out.set(into_handle(bw_cancel {
            token: CancelToken::new(),
        }));
        Ok(())
    })
}

/// Cancels: every call using this handle sees it cancelled. Idempotent, thread-safe,
/// does not block.
///
/// `BW_INVALID_ARGUMENT` for a NULL `cancel`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_cancel_cancel(
    cancel: *const bw_cancel,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let cancel = try_ref!(cancel);
        cancel.token.cancel();
        Ok(())
    })
}

/// Writes whether `cancel` was cancelled to `*out_cancelled`.
///
/// `BW_INVALID_ARGUMENT` for a NULL `cancel` or `out_cancelled`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_cancel_is_cancelled(
    cancel: *const bw_cancel,
    out_cancelled: *mut bool,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let cancel = try_ref!(cancel);
        let out_cancelled = try_out!(out_cancelled);
        out_cancelled.set(cancel.token.is_cancelled());
        Ok(())
    })
}

/// Releases a cancellation handle. NULL is a no-op. Must not be called while a blocking
/// call still uses the handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_cancel_free(cancel: *mut bw_cancel) {
    ffi_boundary_value!((), {
        // SAFETY: the header documents `cancel` as NULL or a handle from `bw_cancel_new`,
        // freed once, no longer used by other threads.
        unsafe { free_handle(cancel) }
    })
}
