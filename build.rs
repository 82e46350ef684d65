//! Build script: with the `header` feature, generates the C header with cbindgen into
//! `OUT_DIR/breakwater.h` (never into the source tree); `tests/header.rs` compares it with
//! the checked-in `include/breakwater.h` (and rewrites that copy under `BW_BLESS=1`).

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rustc-check-cfg=cfg(breakwater_loom)");
    #[cfg(feature = "header")]
    header::generate();
}

#[cfg(feature = "header")]
mod header {
    use std::path::PathBuf;

    pub fn generate() {
        let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
        let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join("breakwater.h");
        let ffi_dir = root.join("src").join("ffi");
        let config_path = root.join("cbindgen.toml");
        println!("cargo:rerun-if-changed={}", config_path.display());
        println!("cargo:rerun-if-changed={}", ffi_dir.display());
        if let Ok(entries) = std::fs::read_dir(&ffi_dir) {
            for entry in entries.flatten() {
                println!("cargo:rerun-if-changed={}", entry.path().display());
            }
        }
        let config = cbindgen::Config::from_file(&config_path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", config_path.display()));
        // Only the ffi module is parsed (it follows its `mod` declarations): the rest of the
        // crate has no C items, and this avoids running `cargo metadata` from a build script.
        cbindgen::Builder::new()
            .with_config(config)
            .with_src(ffi_dir.join("mod.rs"))
            .generate()
            .unwrap_or_else(|e| panic!("cbindgen: {e}"))
            .write_to_file(&out);
    }
}
