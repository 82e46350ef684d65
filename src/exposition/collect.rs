//! The interface between the policies and the writers: an [`Exporter`] (implemented by
//! each policy that a [`Registry`](crate::Registry) exports, and by the HTTP service
//! client) describes itself into a [`Collector`] (metric samples) and a [`Health`] (health
//! components). Nothing here knows a policy type, or a format: the samples are encoded by
//! `prometheus-client` (`text`), the health report by serde_json (`json`).

#![cfg_attr(
    not(feature = "exposition"),
    allow(
        dead_code,
        reason = "read only by the writers of the `exposition` feature"
    )
)]

use std::sync::Arc;

use super::{Detail, Status};

/// Something a registry exports: it writes its samples and its health components.
pub(crate) trait Exporter: Send + Sync {
    /// Writes this policy's metric samples.
    fn samples(&self, out: &mut Collector);
    /// Writes this policy's health components (none by default).
    fn health(&self, out: &mut Health) {
        let _ = out;
    }
}

/// A shared exporter, as the registry keeps it next to its policy.
pub(crate) type SharedExporter = Arc<dyn Exporter>;

/// The type of a metric family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum MetricKind {
    /// A value that only goes up (reset by a restart); named `*_total`.
    Counter,
    /// A value that goes up and down.
    Gauge,
}

/// A sample's value: exact integers stay integers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Value {
    Int(u64),
    Float(f64),
}

/// One sample, owned.
#[derive(Debug)]
pub(crate) struct Owned {
    pub(crate) name: &'static str,
    pub(crate) kind: MetricKind,
    pub(crate) help: &'static str,
    pub(crate) labels: Vec<(&'static str, String)>,
    pub(crate) value: Value,
}

/// The samples of one scrape, encoded at the end.
#[derive(Default)]
pub(crate) struct Collector {
    pub(crate) samples: Vec<Owned>,
}

impl Collector {
    fn add(
        &mut self,
        name: &'static str,
        kind: MetricKind,
        help: &'static str,
        labels: &[(&'static str, &str)],
        value: Value,
    ) {
        self.samples.push(Owned {
            name,
            kind,
            help,
            labels: labels.iter().map(|(k, v)| (*k, (*v).to_owned())).collect(),
            value,
        });
    }

    /// Adds one sample (labels are copied). The first sample of a name gives its family's
    /// kind and help text.
    pub(crate) fn push(
        &mut self,
        name: &'static str,
        kind: MetricKind,
        help: &'static str,
        labels: &[(&'static str, &str)],
        value: f64,
    ) {
        let value = if value >= 0.0 && value.fract() == 0.0 && value < u64::MAX as f64 {
            Value::Int(value as u64)
        } else {
            Value::Float(value)
        };
        self.add(name, kind, help, labels, value);
    }

    /// Adds a counter sample.
    pub(crate) fn counter(
        &mut self,
        name: &'static str,
        help: &'static str,
        labels: &[(&'static str, &str)],
        v: u64,
    ) {
        self.add(name, MetricKind::Counter, help, labels, Value::Int(v));
    }

    /// Adds a gauge sample.
    pub(crate) fn gauge(
        &mut self,
        name: &'static str,
        help: &'static str,
        labels: &[(&'static str, &str)],
        v: f64,
    ) {
        self.push(name, MetricKind::Gauge, help, labels, v);
    }
}

/// A component's details, in order.
type Details = Vec<(&'static str, Detail<'static>)>;

/// Owned health components, written as one report at the end.
#[derive(Default)]
pub(crate) struct Health {
    pub(crate) components: Vec<(String, Status, Details)>,
}

impl Health {
    /// Adds a component.
    pub(crate) fn push(&mut self, name: &str, status: Status, details: Details) {
        self.components.push((name.to_owned(), status, details));
    }
}

impl crate::registry::Registry {
    /// As [`Registry::get_or_build`](crate::Registry::get_or_build), and a policy built
    /// here leaves its exporter in the registry for `exposition::prometheus` and
    /// `exposition::health_report`.
    pub(crate) fn get_or_build_exported<C, P>(
        &self,
        kind: crate::error::PolicyKind,
        name: &str,
        config: Option<C>,
        build: impl FnOnce(&C) -> Result<P, crate::error::ConfigError>,
    ) -> Result<P, crate::error::ConfigError>
    where
        C: PartialEq + Clone + Default + Send + Sync + 'static,
        P: Exporter + Clone + Send + Sync + 'static,
    {
        self.get_or_build_attached(kind, name, config, build, |p| {
            Some(Arc::new(p.clone()) as SharedExporter)
        })
    }
}
