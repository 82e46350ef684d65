//! What a [`ServiceClient`] contributes to reports: its counters ([`ClientMetrics`],
//! attempts by instance and outcome), its Prometheus families and its health.

use std::sync::atomic::{AtomicU64, Ordering};

use super::ServiceClient;
use crate::breaker::State;
use crate::error::Error;
use crate::exposition::Collector;
use crate::exposition::{Component, Detail, MetricKind, Status, health_json};
use crate::http::classify::HttpOutcome;
use crate::report::breaker_status;

#[cfg(doc)]
use super::Reply;

/// Every [`HttpOutcome`], in the order of the client's per-outcome counters.
pub(crate) const OUTCOMES: [HttpOutcome; 7] = [
    HttpOutcome::Success,
    HttpOutcome::CallerError,
    HttpOutcome::ServerError,
    HttpOutcome::Throttled,
    HttpOutcome::Transport,
    HttpOutcome::Timeout,
    HttpOutcome::Invalid,
];

pub(crate) fn outcome_index(o: HttpOutcome) -> usize {
    OUTCOMES.iter().position(|x| *x == o).unwrap_or(0)
}

/// Counters of a [`ServiceClient`], since it was built.
///
/// # Examples
///
/// ```
/// let client = breakwater::http::ServiceClient::builder("x").instance("http://127.0.0.1:9").build()?;
/// let m = client.metrics();
/// assert_eq!((m.calls, m.attempts, m.retries), (0, 0, 0));
/// # Ok::<(), breakwater::ConfigError>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientMetrics {
    /// Calls started.
    pub calls: u64,
    /// Calls that returned a [`Reply`].
    pub succeeded: u64,
    /// Calls that returned [`Error::Failed`].
    pub failed: u64,
    /// Calls that returned [`Error::Rejected`].
    pub rejected: u64,
    /// Calls that returned [`Error::TimedOut`].
    pub timed_out: u64,
    /// Attempts sent, on every instance.
    pub attempts: u64,
    /// Retries (attempts after the first).
    pub retries: u64,
}

#[derive(Default)]
pub(super) struct Counters {
    pub(super) calls: AtomicU64,
    succeeded: AtomicU64,
    failed: AtomicU64,
    rejected: AtomicU64,
    timed_out: AtomicU64,
    pub(super) retries: AtomicU64,
}

impl Counters {
    /// Counts a finished call by its result.
    pub(super) fn finished<T, E>(&self, result: &Result<T, Error<E>>) {
        let counter = match result {
            Ok(_) => &self.succeeded,
            Err(Error::Rejected { .. }) => &self.rejected,
            Err(Error::TimedOut { .. }) => &self.timed_out,
            Err(_) => &self.failed,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// Attempts by outcome, one row per instance.
pub(super) type AttemptCounts = Box<[[AtomicU64; OUTCOMES.len()]]>;

impl ServiceClient {
    /// The client's counters.
    ///
    /// ```
    /// let client = breakwater::http::ServiceClient::builder("a").instance("http://x.local").build().unwrap();
    /// assert_eq!(client.metrics().calls, 0);
    /// ```
    pub fn metrics(&self) -> ClientMetrics {
        let c = &self.inner.counters;
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        ClientMetrics {
            calls: load(&c.calls),
            succeeded: load(&c.succeeded),
            failed: load(&c.failed),
            rejected: load(&c.rejected),
            timed_out: load(&c.timed_out),
            attempts: self
                .inner
                .attempts
                .iter()
                .flat_map(|a| a.iter())
                .map(load)
                .sum(),
            retries: load(&c.retries),
        }
    }

    /// Attempts sent to instance `index` that ended with `outcome` (0 out of range).
    ///
    /// ```
    /// use breakwater::http::{HttpOutcome, ServiceClient};
    /// let client = ServiceClient::builder("a").instance("http://x.local").build()?;
    /// assert_eq!(client.attempts(0, HttpOutcome::Success), 0);
    /// # Ok::<(), breakwater::ConfigError>(())
    /// ```
    pub fn attempts(&self, index: usize, outcome: HttpOutcome) -> u64 {
        self.inner
            .attempts
            .get(index)
            .map_or(0, |a| a[outcome_index(outcome)].load(Ordering::Relaxed))
    }

    /// This client's metrics in the Prometheus text format: its breakers (labels
    /// `service`, `instance`), calls, attempts by outcome, retries, instance health and
    /// in-flight gauges, bulkhead and rate limiter (see
    /// [`exposition::prometheus`](crate::exposition::prometheus) for the families).
    ///
    /// ```
    /// let client = breakwater::http::ServiceClient::builder("a").instance("http://x.local").build()?;
    /// assert!(client.prometheus().contains("breakwater_http_calls_total{service=\"a\",result=\"ok\"} 0\n"));
    /// # Ok::<(), breakwater::ConfigError>(())
    /// ```
    pub fn prometheus(&self) -> String {
        let mut c = Collector::default();
        self.collect(&mut c);
        c.render()
    }

    pub(crate) fn collect(&self, c: &mut Collector) {
        let service = self.service();
        let m = self.metrics();
        for (result, v) in [
            ("ok", m.succeeded),
            ("failed", m.failed),
            ("rejected", m.rejected),
            ("timed_out", m.timed_out),
        ] {
            c.push(
                "breakwater_http_calls_total",
                MetricKind::Counter,
                "Service calls by result",
                &[("service", service), ("result", result)],
                v as f64,
            );
        }
        c.push(
            "breakwater_http_retries_total",
            MetricKind::Counter,
            "Retries (attempts after the first)",
            &[("service", service)],
            m.retries as f64,
        );
        let lb = &self.inner.balancer;
        for i in 0..lb.len() {
            let instance = lb.url(i).unwrap_or_default();
            for outcome in OUTCOMES {
                c.push(
                    "breakwater_http_attempts_total",
                    MetricKind::Counter,
                    "Attempts by instance and outcome",
                    &[
                        ("service", service),
                        ("instance", instance),
                        ("outcome", outcome.name()),
                    ],
                    self.attempts(i, outcome) as f64,
                );
            }
            let labels = [("service", service), ("instance", instance)];
            let up = if lb.is_healthy(i) { 1.0 } else { 0.0 };
            c.push(
                "breakwater_http_instance_up",
                MetricKind::Gauge,
                "1 while the instance is marked healthy",
                &labels,
                up,
            );
            c.push(
                "breakwater_http_in_flight",
                MetricKind::Gauge,
                "Attempts in flight",
                &labels,
                lb.in_flight(i) as f64,
            );
            c.breaker(&self.inner.breakers[i], service, instance);
        }
        if let Some(b) = &self.inner.bulkhead {
            c.bulkhead(b, service);
        }
        if let Some(r) = &self.inner.limiter {
            c.limiter(r, service);
        }
    }

    /// The service's health: up when every instance is marked healthy with its breaker
    /// closed, down when no instance is usable (marked down or breaker open), degraded
    /// otherwise; with the number of usable instances and of all instances.
    pub(crate) fn health(&self) -> (Status, u64, u64) {
        let lb = &self.inner.balancer;
        let mut usable = 0u64;
        let mut all_up = true;
        for (i, b) in self.inner.breakers.iter().enumerate() {
            let state = b.state();
            let open = matches!(state, State::Open | State::ForcedOpen);
            if lb.is_healthy(i) && !open {
                usable += 1;
            }
            all_up &= lb.is_healthy(i) && breaker_status(state) == Status::Up;
        }
        let status = match (usable, all_up) {
            (0, _) => Status::Down,
            (_, true) => Status::Up,
            _ => Status::Degraded,
        };
        (status, usable, lb.len() as u64)
    }

    /// The service's health as a JSON report (see
    /// [`crate::exposition::health_json`]): the service, then each instance's
    /// breaker.
    ///
    /// ```
    /// let client = breakwater::http::ServiceClient::builder("a").instance("http://x.local").build()?;
    /// assert!(client.health_json().starts_with(r#"{"status":"UP","components":{"a":"#));
    /// client.breakers()[0].force_open();
    /// assert!(client.health_json().starts_with(r#"{"status":"DOWN""#));
    /// # Ok::<(), breakwater::ConfigError>(())
    /// ```
    pub fn health_json(&self) -> String {
        let (status, usable, total) = self.health();
        let service = [
            ("usable_instances", Detail::UInt(usable)),
            ("instances", Detail::UInt(total)),
        ];
        let states: Vec<(State, bool)> = self
            .inner
            .breakers
            .iter()
            .enumerate()
            .map(|(i, b)| (b.state(), self.inner.balancer.is_healthy(i)))
            .collect();
        let details: Vec<[(&str, Detail<'_>); 2]> = states
            .iter()
            .map(|(s, up)| {
                [
                    ("state", Detail::Str(s.as_str())),
                    ("healthy", Detail::Bool(*up)),
                ]
            })
            .collect();
        let mut components = vec![Component::new(self.service(), status).with_details(&service)];
        for ((b, (s, up)), d) in self.inner.breakers.iter().zip(&states).zip(&details) {
            let st = if *up {
                breaker_status(*s)
            } else {
                Status::Down
            };
            components.push(Component::new(b.name(), st).with_details(d));
        }
        health_json(&components)
    }
}
