//! Replays the committed fuzz corpus (`fuzz/corpus/<target>/*`) through the same target
//! functions the cargo-fuzz targets call, on stable and without libFuzzer: CI checks
//! that no input that once mattered crashes now. `scripts/fuzz.sh` runs the fuzzer.

#[path = "../fuzz/src/lib.rs"]
mod harness;

use std::path::Path;

use harness::abi::Policy;

fn replay(target: &str, run: impl Fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(&data)));
        assert!(result.is_ok(), "{target}: {} crashes", path.display());
        n += 1;
    }
    assert!(n > 0, "{target}: empty corpus");
    println!("{target}: {n} inputs replayed");
}

#[test]
fn json_corpora_replay() {
    for policy in Policy::ALL {
        replay(policy.target(), |d| harness::json(policy, d));
    }
}

#[test]
fn abi_sequence_corpus_replays() {
    replay("abi_sequence", harness::sequence);
    println!("abi_sequence: {} log records seen", harness::log_records());
}

#[test]
fn json_shared_corpus_replays() {
    // Every shared policy built here points at the unreachable loopback port of
    // `harness::UNREACHABLE_REDIS` (without the redis feature every build is refused).
    replay("json_shared", harness::json_shared);
    println!(
        "json_shared: {} shared policies built",
        harness::shared_built()
    );
}
