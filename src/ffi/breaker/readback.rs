//! The effective configuration of a breaker, read back: `bw_breaker_config_json`.

use std::ffi::c_char;

use super::BreakerJson;
use super::bw_breaker;
use crate::ffi::error::{FfiError, bw_error};
use crate::ffi::out::copy_text;
use crate::ffi::status::{BW_FAILED, bw_status};

/// Copies the breaker's effective configuration as JSON (UTF-8, NUL-terminated: the form
/// `bw_breaker_new_json` accepts, every key present, the library's defaults filled in
/// and unset ones `null`) into `buf`, and its length without the NUL into `*out_len`.
/// For a registry handle, the registered breaker's configuration.
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
        let json = BreakerJson::from_config(breaker.shared.breaker.config());
        let text = serde_json::to_string(&json)
            .map_err(|e| FfiError::new(BW_FAILED, format!("writing the configuration: {e}")))?;
        // SAFETY: as documented for this function's parameters.
        unsafe { copy_text(&text, buf, len, out_len) }
    })
}

#[cfg(test)]
mod tests {
    use std::ptr;

    use super::*;
    use crate::ffi::status::{BW_BUFFER_TOO_SMALL, BW_OK};

    #[test]
    fn the_configuration_reads_back_with_its_defaults() {
        let json = br#"{"name": "db", "failure_rate": {"threshold": 0.5}, "interval_ms": 1500}"#;
        let mut b: *mut bw_breaker = ptr::null_mut();
        // SAFETY: `json` is valid for its length; `b` is a valid out-pointer.
        let st = unsafe {
            super::super::bw_breaker_new_json(
                json.as_ptr().cast(),
                json.len(),
                ptr::null(),
                &mut b,
                ptr::null_mut(),
            )
        };
        assert_eq!(st, BW_OK);
        let mut n = 0usize;
        // SAFETY: a live handle; NULL buffer with length 0 asks for the length.
        let st = unsafe { bw_breaker_config_json(b, ptr::null_mut(), 0, &mut n, ptr::null_mut()) };
        assert_eq!(st, BW_BUFFER_TOO_SMALL);
        let mut buf = vec![0 as c_char; n + 1];
        // SAFETY: `buf` holds `n + 1` bytes.
        let st = unsafe {
            bw_breaker_config_json(b, buf.as_mut_ptr(), buf.len(), &mut n, ptr::null_mut())
        };
        assert_eq!(st, BW_OK);
        let bytes: Vec<u8> = buf[..n].iter().map(|&c| c as u8).collect();
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["name"], "db");
        assert_eq!(v["failure_rate"]["threshold"], 0.5);
        assert_eq!(v["failure_rate"]["minimum_calls"], 100);
        assert_eq!(v["interval_ms"], 1500.0);
        assert!(v["consecutive_failures"].is_null());
        // SAFETY: the handle is freed once and no longer used.
        unsafe { super::super::bw_breaker_free(b) };
    }
}
