//! Build script: with the `header` feature, generates the C header with cbindgen into
//! `OUT_DIR` (never into the source tree); `tests/header.rs` compares it with the
//! checked-in `include/breakwater.h`.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rustc-check-cfg=cfg(breakwater_loom)");
}
