//! Exporters over a whole [`Registry`]: every registered breaker, bulkhead, rate limiter,
//! thread pool and HTTP service client, from their lifetime totals, as Prometheus text
//! ([`prometheus`]) and as a JSON health report ([`health_report`]).
//!
//! # Metric families
//!
//! All names start with `breakwater_`. Breakers carry the labels `breaker`, `service` and
//! `instance` (the last two are empty for a breaker that belongs to no service client);
//! the other policies carry their name.
//!
//! | family | type | what |
//! |---|---|---|
//! | `breaker_state` | gauge | 0 closed, 1 open, 2 half-open, 3 forced open, 4 disabled |
//! | `breaker_requests_total`, `_successes_total`, `_failures_total`, `_ignored_total` | counter | admitted calls and their outcomes |
//! | `breaker_rejected_total{reason}` | counter | rejections: `open`, `trial_full`, `forced_open` |
//! | `breaker_transitions_total`, `breaker_opened_total` | counter | state changes, openings |
//! | `bulkhead_in_use`, `_available`, `_waiting`, `_max`, `_peak` | gauge | permits |
//! | `bulkhead_acquired_total`, `bulkhead_rejected_total` | counter | acquisitions |
//! | `rate_limiter_permitted_total`, `_rejected_total`, `_waited_total` | counter | acquisitions |
//! | `rate_limiter_available` | gauge | permits free now |
//! | `pool_busy`, `pool_queue_depth`, `pool_workers` | gauge | thread-pool bulkheads |
//! | `pool_completed_total`, `pool_rejected_total`, `pool_panicked_total`, `pool_cancelled_total` | counter | tasks |
//! | `http_calls_total{service,result}` | counter | client calls: `ok`, `failed`, `rejected`, `timed_out` |
//! | `http_attempts_total{service,instance,outcome}` | counter | attempts by [`HttpOutcome`](crate::http::HttpOutcome) name |
//! | `http_retries_total{service}` | counter | retries (a [`Retry`](crate::Retry) keeps no counters; the client counts them) |
//! | `http_instance_up{service,instance}`, `http_in_flight{service,instance}` | gauge | health mark, calls in flight |
//!
//! A service client's own bulkhead and rate limiter are exported under the service's name.
//!
//! # Examples
//!
//! ```
//! use breakwater::Registry;
//! let registry = Registry::new();
//! let authors = registry.breaker("authors")?;
//! let _ = authors.call(|| Err::<(), _>("down"));
//! let text = breakwater::exposition::prometheus(&registry);
//! assert!(text.contains("breakwater_breaker_failures_total{breaker=\"authors\",service=\"\",instance=\"\"} 1\n"));
//! # Ok::<(), breakwater::ConfigError>(())
//! ```

use crate::breaker::{BreakerConfig, CircuitBreaker, State};
use crate::bulkhead::{Bulkhead, BulkheadConfig};
use crate::exposition::{Component, Detail, MetricKind, Sample, Status, encode_text, health_json};
use crate::pool::{PoolConfig, ThreadPool};
use crate::ratelimit::{RateLimiter, RateLimiterConfig};
use crate::registry::Registry;

struct Owned {
    name: &'static str,
    kind: MetricKind,
    help: &'static str,
    labels: Vec<(&'static str, String)>,
    value: f64,
}

/// Owned samples, turned into borrowed [`Sample`]s for the writer at the end.
#[derive(Default)]
pub(crate) struct Collector {
    samples: Vec<Owned>,
}

fn n(v: u64) -> f64 {
    v as f64
}

impl Collector {
    pub(crate) fn push(
        &mut self,
        name: &'static str,
        kind: MetricKind,
        help: &'static str,
        labels: &[(&'static str, &str)],
        value: f64,
    ) {
        self.samples.push(Owned {
            name,
            kind,
            help,
            labels: labels.iter().map(|(k, v)| (*k, (*v).to_owned())).collect(),
            value,
        });
    }

    fn counter(
        &mut self,
        name: &'static str,
        help: &'static str,
        labels: &[(&'static str, &str)],
        v: u64,
    ) {
        self.push(name, MetricKind::Counter, help, labels, n(v));
    }

    fn gauge(
        &mut self,
        name: &'static str,
        help: &'static str,
        labels: &[(&'static str, &str)],
        v: f64,
    ) {
        self.push(name, MetricKind::Gauge, help, labels, v);
    }

    pub(crate) fn breaker(&mut self, b: &CircuitBreaker, service: &str, instance: &str) {
        let m = b.metrics();
        let l = [
            ("breaker", b.name()),
            ("service", service),
            ("instance", instance),
        ];
        let state = match m.state {
            State::Closed => 0.0,
            State::Open => 1.0,
            State::HalfOpen => 2.0,
            State::ForcedOpen => 3.0,
            _ => 4.0,
        };
        let t = m.totals;
        self.gauge(
            "breakwater_breaker_state",
            "0 closed, 1 open, 2 half-open, 3 forced open, 4 disabled",
            &l,
            state,
        );
        self.counter(
            "breakwater_breaker_requests_total",
            "Calls the breaker admitted",
            &l,
            t.requests,
        );
        self.counter(
            "breakwater_breaker_successes_total",
            "Recorded successes",
            &l,
            t.successes,
        );
        self.counter(
            "breakwater_breaker_failures_total",
            "Recorded failures",
            &l,
            t.failures,
        );
        self.counter(
            "breakwater_breaker_ignored_total",
            "Recorded ignored outcomes",
            &l,
            t.ignored,
        );
        for (reason, v) in [
            ("open", t.rejected_open),
            ("trial_full", t.rejected_trial_full),
            ("forced_open", t.rejected_forced_open),
        ] {
            let l = [l[0], l[1], l[2], ("reason", reason)];
            self.counter(
                "breakwater_breaker_rejected_total",
                "Calls rejected, by reason",
                &l,
                v,
            );
        }
        self.counter(
            "breakwater_breaker_transitions_total",
            "State changes",
            &l,
            t.transitions,
        );
        self.counter(
            "breakwater_breaker_opened_total",
            "Times the breaker opened",
            &l,
            t.opened,
        );
    }

    pub(crate) fn bulkhead(&mut self, b: &Bulkhead, name: &str) {
        let m = b.metrics();
        let l = [("bulkhead", name)];
        self.gauge(
            "breakwater_bulkhead_in_use",
            "Permits held",
            &l,
            f64::from(m.in_use),
        );
        self.gauge(
            "breakwater_bulkhead_available",
            "Permits free",
            &l,
            f64::from(m.available),
        );
        self.gauge(
            "breakwater_bulkhead_waiting",
            "Callers waiting",
            &l,
            f64::from(m.waiting),
        );
        self.gauge(
            "breakwater_bulkhead_max",
            "max_concurrent",
            &l,
            f64::from(m.max),
        );
        self.gauge(
            "breakwater_bulkhead_peak",
            "Highest in_use seen",
            &l,
            f64::from(m.peak),
        );
        self.counter(
            "breakwater_bulkhead_acquired_total",
            "Permits granted",
            &l,
            m.acquired,
        );
        self.counter(
            "breakwater_bulkhead_rejected_total",
            "Acquisitions refused",
            &l,
            m.rejected,
        );
    }

    pub(crate) fn limiter(&mut self, r: &RateLimiter, name: &str) {
        let m = r.metrics();
        let l = [("limiter", name)];
        self.counter(
            "breakwater_rate_limiter_permitted_total",
            "Acquisitions granted",
            &l,
            m.permitted,
        );
        self.counter(
            "breakwater_rate_limiter_rejected_total",
            "Acquisitions refused",
            &l,
            m.rejected,
        );
        self.counter(
            "breakwater_rate_limiter_waited_total",
            "Granted after waiting",
            &l,
            m.waited,
        );
        self.gauge(
            "breakwater_rate_limiter_available",
            "Permits free now",
            &l,
            f64::from(m.available),
        );
    }

    fn pool(&mut self, p: &ThreadPool, name: &str) {
        let m = p.metrics();
        let l = [("pool", name)];
        self.gauge(
            "breakwater_pool_workers",
            "Configured workers",
            &l,
            f64::from(m.workers),
        );
        self.gauge(
            "breakwater_pool_busy",
            "Workers running a task",
            &l,
            f64::from(m.busy),
        );
        self.gauge(
            "breakwater_pool_queue_depth",
            "Tasks queued",
            &l,
            f64::from(m.queue_depth),
        );
        self.counter(
            "breakwater_pool_completed_total",
            "Tasks completed",
            &l,
            m.completed,
        );
        self.counter(
            "breakwater_pool_rejected_total",
            "Tasks refused",
            &l,
            m.rejected,
        );
        self.counter(
            "breakwater_pool_panicked_total",
            "Tasks that panicked",
            &l,
            m.panicked,
        );
        self.counter(
            "breakwater_pool_cancelled_total",
            "Tasks cancelled",
            &l,
            m.cancelled,
        );
    }

    pub(crate) fn render(&self) -> String {
        let labels: Vec<Vec<(&str, &str)>> = self
            .samples
            .iter()
            .map(|s| s.labels.iter().map(|(k, v)| (*k, v.as_str())).collect())
            .collect();
        let samples: Vec<Sample<'_>> = self
            .samples
            .iter()
            .zip(&labels)
            .map(|(s, l)| {
                Sample::new(s.name, s.kind, s.value)
                    .with_help(s.help)
                    .with_labels(l)
            })
            .collect();
        encode_text(&samples)
    }
}

/// The health of a breaker's state: closed or disabled is up, half-open degraded, open
/// down.
pub(crate) fn breaker_status(state: State) -> Status {
    match state {
        State::Closed | State::Disabled => Status::Up,
        State::HalfOpen => Status::Degraded,
        _ => Status::Down,
    }
}

/// Every policy registered in `registry`, in the Prometheus text format 0.0.4 (see the
/// [module docs](self) for the families), read from their lifetime totals.
///
/// # Examples
///
/// ```
/// let registry = breakwater::Registry::new();
/// registry.bulkhead("email")?;
/// let text = breakwater::exposition::prometheus(&registry);
/// assert!(text.contains("breakwater_bulkhead_max{bulkhead=\"email\"} 25\n"));
/// # Ok::<(), breakwater::ConfigError>(())
/// ```
pub fn prometheus(registry: &Registry) -> String {
    let mut c = Collector::default();
    for (name, b) in registry.all::<BreakerConfig, CircuitBreaker>() {
        let _ = name;
        c.breaker(&b, "", "");
    }
    #[cfg(feature = "http")]
    for (_, client) in registry.all::<crate::http::client::ClientKey, crate::http::ServiceClient>()
    {
        client.collect(&mut c);
    }
    for (name, b) in registry.all::<BulkheadConfig, Bulkhead>() {
        c.bulkhead(&b, &name);
    }
    for (name, r) in registry.all::<RateLimiterConfig, RateLimiter>() {
        c.limiter(&r, &name);
    }
    for (name, p) in registry.all::<PoolConfig, ThreadPool>() {
        c.pool(&p, &name);
    }
    c.render()
}

/// A JSON health report of every breaker and service client in `registry` (see
/// [`health_json`]): a breaker is up when closed (or disabled), degraded when half-open,
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
    let breakers = registry.all::<BreakerConfig, CircuitBreaker>();
    let states: Vec<State> = breakers.iter().map(|(_, b)| b.state()).collect();
    let details: Vec<[(&str, Detail<'_>); 1]> = states
        .iter()
        .map(|s| [("state", Detail::Str(s.as_str()))])
        .collect();
    let mut components: Vec<Component<'_>> = breakers
        .iter()
        .zip(&states)
        .zip(&details)
        .map(|(((name, _), s), d)| Component::new(name, breaker_status(*s)).with_details(d))
        .collect();
    #[cfg(feature = "http")]
    let clients = registry.all::<crate::http::client::ClientKey, crate::http::ServiceClient>();
    #[cfg(feature = "http")]
    let client_health: Vec<(Status, [(&str, Detail<'_>); 2])> = clients
        .iter()
        .map(|(_, c)| {
            let (status, usable, total) = c.health();
            (
                status,
                [
                    ("usable_instances", Detail::UInt(usable)),
                    ("instances", Detail::UInt(total)),
                ],
            )
        })
        .collect();
    #[cfg(feature = "http")]
    components.extend(
        clients
            .iter()
            .zip(&client_health)
            .map(|((name, _), (status, d))| Component::new(name, *status).with_details(d)),
    );
    health_json(&components)
}
