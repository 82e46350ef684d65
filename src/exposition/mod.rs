//! What a [`Registry`](crate::Registry) exports for monitoring systems: the metrics of
//! every policy it built ([`prometheus`]) and a JSON health report ([`health_report`],
//! [`health_json`]).
//!
//! Each policy that a registry builds leaves an exporter next to it (the crate's `report`
//! module holds them, one per policy kind); these functions ask every exporter in turn.
//! The text is written by the official Prometheus client library (`prometheus-client`),
//! the health report by serde_json: nothing here writes either format by hand.
//!
//! # Serving
//!
//! Serve [`prometheus`] at `/metrics` with the content type [`CONTENT_TYPE`] (the
//! OpenMetrics text format 1.0.0, which ends with `# EOF`), and [`health_report`] at
//! `/health` as `application/json`.
//!
//! # Examples
//!
//! ```
//! let registry = breakwater::Registry::new();
//! registry.breaker("authors")?.force_open();
//! let text = breakwater::exposition::prometheus(&registry);
//! assert!(text.contains(
//!     "breakwater_breaker_state{breaker=\"authors\",service=\"\",instance=\"\"} 3\n"
//! ));
//! assert!(text.ends_with("# EOF\n"));
//! assert!(breakwater::exposition::health_report(&registry).starts_with(r#"{"status":"DOWN""#));
//! # Ok::<(), breakwater::ConfigError>(())
//! ```

mod collect;
mod json;
#[cfg(feature = "exposition")]
mod report;
#[cfg(feature = "exposition")]
mod text;

#[cfg(feature = "http")]
pub(crate) use collect::MetricKind;
pub(crate) use collect::{Collector, Exporter, Health};
#[cfg(feature = "exposition")]
pub use json::health_json;
pub use json::{Component, Detail, Status, overall_status};
#[cfg(feature = "exposition")]
pub use report::{CONTENT_TYPE, health_report, prometheus};
