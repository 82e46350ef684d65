//! Loom model tests of the breaker (filled in by the breaker branch).
