//! The checked-in C header `include/breakwater.h` must be exactly what cbindgen generates
//! from `src/ffi/` (build.rs writes it to `OUT_DIR` with the `header` feature).
//!
//! The Go module carries its own copy (`bindings/go/breakwater.h`, so that the module is
//! self-contained): it must be the same text.
//!
//! `BW_BLESS=1 cargo test --features header --test header` rewrites both checked-in copies.
#![cfg(feature = "header")]

use std::path::Path;

#[test]
fn the_checked_in_header_matches_the_generated_one() {
    let generated_path = concat!(env!("OUT_DIR"), "/breakwater.h");
    let generated = std::fs::read_to_string(generated_path)
        .unwrap_or_else(|e| panic!("reading the generated header {generated_path}: {e}"));
    let checked_in_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("include/breakwater.h");
    let go_copy_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("bindings/go/breakwater.h");
    if std::env::var("BW_BLESS").as_deref() == Ok("1") {
        for path in [&checked_in_path, &go_copy_path] {
            std::fs::write(path, &generated)
                .unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
            eprintln!("blessed {}", path.display());
        }
        return;
    }
    let go_copy = std::fs::read_to_string(&go_copy_path).unwrap_or_default();
    assert!(
        go_copy == generated,
        "bindings/go/breakwater.h differs from the generated header: run \
         `BW_BLESS=1 cargo test --features header --test header` and commit both copies"
    );
    let checked_in = std::fs::read_to_string(&checked_in_path).unwrap_or_default();
    if checked_in != generated {
        let first_difference = checked_in
            .lines()
            .zip(generated.lines())
            .enumerate()
            .find(|(_, (a, b))| a != b)
            .map(|(i, (a, b))| format!("line {}:\n  checked in: {a}\n  generated:  {b}", i + 1))
            .unwrap_or_else(|| {
                format!(
                    "one is a prefix of the other ({} vs {} lines)",
                    checked_in.lines().count(),
                    generated.lines().count()
                )
            });
        panic!(
            "include/breakwater.h differs from the header generated from src/ffi/ \
             ({generated_path}); first difference at {first_difference}\n\
             If the change to the ABI is intended, run \
             `BW_BLESS=1 cargo test --features header --test header` and commit the header."
        );
    }
}

#[test]
fn every_c_name_has_the_bw_prefix() {
    let header = std::fs::read_to_string(concat!(env!("OUT_DIR"), "/breakwater.h")).unwrap();
    let mut names = 0;
    for line in header.lines() {
        let name = if let Some(rest) = line.strip_prefix("#define ") {
            rest.split_whitespace().next()
        } else if line.starts_with("typedef ")
            || (line.starts_with("} ") && !line.contains("extern"))
        {
            line.trim_end_matches(';').split_whitespace().last()
        } else if !line.starts_with(' ') && !line.starts_with('#') && line.contains('(') {
            line.split('(')
                .next()
                .and_then(|d| d.split([' ', '*']).next_back())
        } else {
            None
        };
        let Some(name) = name else { continue };
        if name == "BREAKWATER_H" || name == "{" {
            continue;
        }
        names += 1;
        assert!(
            name.starts_with("bw_") || name.starts_with("BW_"),
            "{name:?} lacks the bw_/BW_ prefix (line: {line})"
        );
    }
    assert!(names > 40, "found only {names} names");
}
