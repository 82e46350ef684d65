//! Shared by the `prop_*` model-based tests: how many cases to run.

use proptest::test_runner::Config;

/// The proptest configuration: `PROPTEST_CASES` cases when set (the long run sets
/// 1,000,000), otherwise `default`. Failures are not persisted to files: a failing
/// sequence is printed shrunk, and becomes a named regression test.
pub fn config(default: u32) -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}
