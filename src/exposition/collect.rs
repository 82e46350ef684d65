//! The interface between the policies and the writers: an [`Exporter`] (implemented by
//! each policy that a [`Registry`](crate::Registry) exports, and by the HTTP service
//! client) describes itself into a [`Collector`] (metric samples) and a [`Health`] (health
//! components). Nothing here knows a policy type.

use std::sync::Arc;

use super::{Component, Detail, MetricKind, Sample, Status, encode_text, health_json};

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

impl Collector {
    /// Adds one sample (labels are copied).
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

    /// Adds a counter sample.
    pub(crate) fn counter(
        &mut self,
        name: &'static str,
        help: &'static str,
        labels: &[(&'static str, &str)],
        v: u64,
    ) {
        self.push(name, MetricKind::Counter, help, labels, v as f64);
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

    /// The samples in the Prometheus text format (one family per name).
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

/// A component's details, in order.
type Details = Vec<(&'static str, Detail<'static>)>;

/// Owned health components, written as one report at the end.
#[derive(Default)]
pub(crate) struct Health {
    components: Vec<(String, Status, Details)>,
}

impl Health {
    /// Adds a component.
    pub(crate) fn push(&mut self, name: &str, status: Status, details: Details) {
        self.components.push((name.to_owned(), status, details));
    }

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

impl crate::registry::Registry {
    /// As [`Registry::get_or_build`](crate::Registry::get_or_build), and a policy built
    /// here leaves its exporter in the registry for [`prometheus`](super::prometheus) and
    /// [`health_report`](super::health_report).
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
