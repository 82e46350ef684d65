//! The effective configuration read back: `bw_breaker_config_json`.

use std::ffi::c_char;

use super::bw_breaker;
use super::config::BreakerJson;
use crate::ffi::error::{FfiError, bw_error};
use crate::ffi::out::copy_text;
use crate::ffi::status::{BW_FAILED, bw_status};

/// The breaker's effective configuration as JSON text, in the form `bw_breaker_new_json`
/// accepts (every default filled in: the trip policy with its window and
/// `minimum_calls`, the durations in `*_ms`; unset optional keys as `null`).
fn config_text(breaker: &bw_breaker) -> Result<String, FfiError> {
    let json = BreakerJson::from_config(breaker.shared.breaker.config());
    serde_json::to_string(&json).map_err(|e| {
        FfiError::new(
            BW_FAILED,
            format!("the configuration could not be written: {e}"),
        )
    })
}

/// Copies the breaker's effective configuration (JSON, UTF-8, NUL-terminated) into
/// `buf` and its length without the NUL into `*out_len`: the form `bw_breaker_new_json`
/// accepts, with every default filled in (the trip policy with its window and
/// `minimum_calls`; durations as `*_ms`; unset optional keys as `null`). Building a
/// breaker from it gives the same configuration.
///
/// `BW_BUFFER_TOO_SMALL` when `len` is less than the length plus one (`*out_len`
/// receives the length, `buf` is not written; `buf` may be NULL when `len` is 0);
/// `BW_INVALID_ARGUMENT` for a NULL `breaker` or `out_len`, or a NULL `buf` with a
/// non-zero `len`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_breaker_config_json(
    breaker: *const bw_breaker,
    buf: *mut c_char,
    len: usize,
    out_len: *mut usize,
    err: *mut bw_error,
) -> bw_status {
    ffi_boundary!(err, {
        let breaker = try_ref!(breaker);
        let text = config_text(breaker)?;
        // SAFETY: as documented for this function's parameters.
        unsafe { copy_text(&text, buf, len, out_len) }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffi::status::{BW_BUFFER_TOO_SMALL, BW_OK};

    fn breaker(json: &str) -> *mut bw_breaker {
        let mut out = std::ptr::null_mut();
        // SAFETY: valid text and out-pointer; no clock.
        let s = unsafe {
            super::super::bw_breaker_new_json(
                json.as_ptr().cast(),
                json.len(),
                std::ptr::null(),
                &mut out,
                std::ptr::null_mut(),
            )
        };
        assert_eq!(s, BW_OK);
        out
    }

    fn read(b: *mut bw_breaker) -> serde_json::Value {
        let mut n = 0usize;
        // SAFETY: a live breaker, NULL buffer of length 0, valid out_len.
        let s = unsafe {
            bw_breaker_config_json(b, std::ptr::null_mut(), 0, &mut n, std::ptr::null_mut())
        };
        assert_eq!(s, BW_BUFFER_TOO_SMALL);
        let mut buf = vec![0u8; n + 1];
        // SAFETY: a live breaker, a buffer of n + 1 bytes, valid out_len.
        let s = unsafe {
            bw_breaker_config_json(
                b,
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut n,
                std::ptr::null_mut(),
            )
        };
        assert_eq!(s, BW_OK);
        serde_json::from_slice(&buf[..n]).unwrap()
    }

    #[test]
    fn reads_back_the_defaults_filled_in() {
        let b = breaker(r#"{"name":"db","failure_rate":{"threshold":0.5},"interval_ms":1500}"#);
        let v = read(b);
        assert_eq!(v["name"], "db");
        assert_eq!(v["failure_rate"]["threshold"], 0.5);
        assert_eq!(v["failure_rate"]["window"]["count"], 100);
        assert_eq!(v["failure_rate"]["minimum_calls"], 100);
        assert_eq!(v["interval_ms"], 1500.0);
        assert!(v["consecutive_failures"].is_null());
        // The text builds an equivalent breaker.
        let again = breaker(&v.to_string());
        assert_eq!(read(again), v);
        // SAFETY: both handles are live and freed once.
        unsafe {
            super::super::bw_breaker_free(b);
            super::super::bw_breaker_free(again);
        }
    }
}
