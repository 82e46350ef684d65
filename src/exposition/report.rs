//! The exporters over a whole registry: [`prometheus`] and [`health_report`].

use crate::error::PolicyKind;
use crate::registry::Registry;

use super::collect::{Collector, Health, SharedExporter};
use super::json::{Component, health_json};

/// The order of the kinds in a report.
const ORDER: [PolicyKind; 5] = [
    PolicyKind::CircuitBreaker,
    PolicyKind::Http,
    PolicyKind::Bulkhead,
    PolicyKind::RateLimiter,
    PolicyKind::ThreadPool,
];

/// The registry's exporters in report order.
fn exporters(registry: &Registry) -> Vec<SharedExporter> {
    let mut all = registry.attachments::<SharedExporter>();
    all.sort_by_key(|(kind, _, _)| ORDER.iter().position(|k| k == kind).unwrap_or(ORDER.len()));
    all.into_iter().map(|(_, _, e)| e).collect()
}

/// The content type of [`prometheus`]'s text: the OpenMetrics text format 1.0.0, which
/// Prometheus asks for first and which the official clients write. Parsers of the older
/// text format 0.0.4 read it too (`# EOF` is a comment to them), but see a counter's
/// samples (`x_total`) apart from its `# TYPE x counter` line, as untyped.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Every policy registered in `registry` (breakers, bulkheads, rate limiters, thread
/// pools and HTTP service clients), in the OpenMetrics text format 1.0.0 (serve it with
/// [`CONTENT_TYPE`]), read from their lifetime totals, encoded by `prometheus-client`.
///
/// # Metric families
///
/// All names start with `breakwater_`. A counter's samples are named `*_total`; its
/// `# HELP` and `# TYPE` lines name the family without the suffix (OpenMetrics). Breakers carry the labels `breaker`, `service` and
/// `instance` (the last two are empty for a breaker that belongs to no service client);
/// the other policies carry their name.
///
/// | family | type | what |
/// |---|---|---|
/// | `breaker_state` | gauge | 0 closed, 1 open, 2 half-open, 3 forced open, 4 disabled |
/// | `breaker_requests_total`, `_successes_total`, `_failures_total`, `_ignored_total` | counter | admitted calls and their outcomes |
/// | `breaker_rejected_total{reason}` | counter | rejections: `open`, `trial_full`, `forced_open` |
/// | `breaker_transitions_total`, `breaker_opened_total` | counter | state changes, openings |
/// | `bulkhead_in_use`, `_available`, `_waiting`, `_max`, `_peak` | gauge | permits |
/// | `bulkhead_acquired_total`, `bulkhead_rejected_total` | counter | acquisitions |
/// | `rate_limiter_permitted_total`, `_rejected_total`, `_waited_total` | counter | acquisitions |
/// | `rate_limiter_available` | gauge | permits free now |
/// | `pool_busy`, `pool_queue_depth`, `pool_workers` | gauge | thread-pool bulkheads |
/// | `pool_completed_total`, `pool_rejected_total`, `pool_panicked_total`, `pool_cancelled_total` | counter | tasks |
/// | `http_calls_total{service,result}` | counter | client calls: `ok`, `failed`, `rejected`, `timed_out` |
/// | `http_attempts_total{service,instance,outcome}` | counter | attempts by [`HttpOutcome`](crate::http::HttpOutcome) name |
/// | `http_retries_total{service}` | counter | retries (a [`Retry`](crate::Retry) keeps no counters; the client counts them) |
/// | `http_instance_up{service,instance}`, `http_in_flight{service,instance}` | gauge | health mark, calls in flight |
///
/// A service client's own bulkhead and rate limiter are exported under the service's name.
///
/// Each policy that a registry builds (and each service client built with a registry)
/// leaves an exporter next to it in the registry; this function asks every exporter in
/// turn: breakers first, then service clients, bulkheads, rate limiters and thread pools,
/// each kind by name. The text ends with `# EOF`.
///
/// # Examples
///
/// ```
/// let registry = breakwater::Registry::new();
/// registry.bulkhead("email")?;
/// let text = breakwater::exposition::prometheus(&registry);
/// assert!(text.contains("breakwater_bulkhead_max{bulkhead=\"email\"} 25\n"));
/// assert!(text.contains("# TYPE breakwater_bulkhead_acquired counter\n"));
/// assert!(text.contains("breakwater_bulkhead_acquired_total{bulkhead=\"email\"} 0\n"));
/// assert_eq!(breakwater::exposition::prometheus(&breakwater::Registry::new()), "# EOF\n");
/// # Ok::<(), breakwater::ConfigError>(())
/// ```
pub fn prometheus(registry: &Registry) -> String {
    let mut c = Collector::default();
    for e in exporters(registry) {
        e.samples(&mut c);
    }
    c.render()
}

/// A JSON health report of every breaker and service client in `registry` (see
/// [`health_json`](super::health_json), written by serde_json): a breaker is up when closed (or disabled), degraded when half-open,
/// down when open; a service is up when every instance's breaker is closed and every
/// instance is marked healthy, down when none is usable, degraded otherwise. Serve it at
/// `/health`.
///
/// # Examples
///
/// ```
/// let registry = breakwater::Registry::new();
/// registry.breaker("authors")?.force_open();
/// assert_eq!(
///     breakwater::exposition::health_report(&registry),
///     r#"{"status":"DOWN","components":{"authors":{"status":"DOWN","details":{"state":"forced-open"}}}}"#
/// );
/// # Ok::<(), breakwater::ConfigError>(())
/// ```
pub fn health_report(registry: &Registry) -> String {
    let mut h = Health::default();
    for e in exporters(registry) {
        e.health(&mut h);
    }
    h.render()
}

impl Health {
    /// The report (see [`health_json`]).
    pub(crate) fn render(&self) -> String {
        let components: Vec<Component<'_>> = self
            .components
            .iter()
            .map(|(name, status, details)| Component::new(name, *status).with_details(details))
            .collect();
        health_json(&components)
    }
}
