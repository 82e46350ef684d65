//! Writers that turn plain metric data into what monitoring systems read: the Prometheus
//! text exposition format 0.0.4 ([`encode_text`]) and a JSON health report
//! ([`health_json`]).
//!
//! Policies describe what they know as [`Sample`]s (a name, a kind, labels, a value) and
//! health [`Component`]s; these writers know nothing about policies. [`prometheus`] and
//! [`health_report`] export a whole [`Registry`](crate::Registry): every policy it built
//! left an exporter there (the crate's `report` module holds them, one per policy kind).
//!
//! # Examples
//!
//! ```
//! use breakwater::exposition::{encode_text, Sample};
//!
//! let labels = [("service", "authors")];
//! let text = encode_text(&[
//!     Sample::gauge("breaker_state", 1.0)
//!         .with_help("0 closed, 1 open, 2 half-open")
//!         .with_labels(&labels),
//!     Sample::counter("breaker_failures_total", 12.0).with_labels(&labels),
//! ]);
//! assert_eq!(text, "\
//! ## HELP breaker_state 0 closed, 1 open, 2 half-open
//! ## TYPE breaker_state gauge
//! breaker_state{service=\"authors\"} 1
//! ## TYPE breaker_failures_total counter
//! breaker_failures_total{service=\"authors\"} 12
//! ");
//! ```

mod collect;
mod json;
mod report;
mod text;

pub(crate) use collect::{Collector, Exporter, Health};
pub use json::{Component, Detail, Status, health_json, overall_status};
pub use report::{health_report, prometheus};
pub use text::{MetricKind, Sample, encode_text, format_value, write_text};
