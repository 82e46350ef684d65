//! Library and ABI versions, for bindings to check what they loaded.

use std::ffi::c_char;

/// The ABI version this header describes. It changes whenever a change could break a
/// program compiled against an older header (a changed signature or struct layout, a
/// removed function); additions keep it. Compare it with `bw_abi_version()` at start-up.
pub const BW_ABI_VERSION: u32 = 2;

/// The library's version, "MAJOR.MINOR.PATCH" (the crate version), as a static
/// NUL-terminated string that must not be freed. Never fails.
#[unsafe(no_mangle)]
pub extern "C" fn bw_version() -> *const c_char {
    VERSION.as_ptr().cast()
}

const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");

/// The ABI version of the loaded library (`BW_ABI_VERSION` of the header it was built
/// with). Never fails.
#[unsafe(no_mangle)]
pub extern "C" fn bw_abi_version() -> u32 {
    BW_ABI_VERSION
}
