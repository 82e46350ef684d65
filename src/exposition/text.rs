//! The Prometheus text of collected samples, written by the official client library
//! (`prometheus-client`): the samples become a [`prometheus_client::collector::Collector`]
//! registered in a fresh `prometheus_client` registry, encoded with
//! [`prometheus_client::encoding::text::encode`]. That is the OpenMetrics text format
//! 1.0.0: a counter family is named without its `_total` suffix on the `# HELP` and
//! `# TYPE` lines (its samples keep it), and the text ends with `# EOF`.

use std::fmt;

use prometheus_client::encoding::{
    DescriptorEncoder, EncodeLabelValue, EncodeMetric, LabelValueEncoder,
};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

use super::collect::{Collector, MetricKind, Owned, Value};

/// A label value, escaped as the text format requires (`\`, `"` and newline):
/// `prometheus-client` 0.24 writes label values as they are (prometheus/client_rust issue
/// 151, open), and a policy name may hold any of the three. The only escaping left here.
struct Escaped<'a>(&'a str);

impl EncodeLabelValue for Escaped<'_> {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> Result<(), fmt::Error> {
        use fmt::Write;
        let mut rest = self.0;
        while let Some(i) = rest.find(['\\', '"', '\n']) {
            encoder.write_str(&rest[..i])?;
            encoder.write_str(match rest.as_bytes()[i] {
                b'\\' => "\\\\",
                b'"' => "\\\"",
                _ => "\\n",
            })?;
            rest = &rest[i + 1..];
        }
        encoder.write_str(rest)
    }
}

/// The samples of one scrape, registered with the library's registry for one encoding:
/// one family per name, in the order names first appear; the samples of a name keep
/// their order.
#[derive(Debug)]
struct Snapshot(Vec<Owned>);

impl prometheus_client::collector::Collector for Snapshot {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), fmt::Error> {
        let samples = &self.0;
        for (first, head) in samples.iter().enumerate() {
            if samples[..first].iter().any(|s| s.name == head.name) {
                continue; // this family was written with its first sample
            }
            let (metric_type, name) = match head.kind {
                // The library adds the `_total` of the samples itself.
                MetricKind::Counter => (
                    MetricType::Counter,
                    head.name.strip_suffix("_total").unwrap_or(head.name),
                ),
                MetricKind::Gauge => (MetricType::Gauge, head.name),
            };
            let mut family = encoder.encode_descriptor(name, head.help, None, metric_type)?;
            for s in samples[first..].iter().filter(|s| s.name == head.name) {
                let labels: Vec<(&str, Escaped<'_>)> =
                    s.labels.iter().map(|(k, v)| (*k, Escaped(v))).collect();
                let sample = family.encode_family(&labels)?;
                match (head.kind, s.value) {
                    (MetricKind::Counter, Value::Int(v)) => ConstCounter::new(v).encode(sample)?,
                    (MetricKind::Counter, Value::Float(v)) => {
                        ConstCounter::new(v).encode(sample)?;
                    }
                    (MetricKind::Gauge, Value::Int(v)) => {
                        ConstGauge::new(i64::try_from(v).unwrap_or(i64::MAX)).encode(sample)?;
                    }
                    (MetricKind::Gauge, Value::Float(v)) => ConstGauge::new(v).encode(sample)?,
                }
            }
        }
        Ok(())
    }
}

impl Collector {
    /// The samples as OpenMetrics text, ending with `# EOF` (see
    /// [`prometheus`](super::prometheus)).
    pub(crate) fn render(self) -> String {
        encode(self.samples)
    }
}

fn encode(samples: Vec<Owned>) -> String {
    let mut registry = prometheus_client::registry::Registry::default();
    registry.register_collector(Box::new(Snapshot(samples)));
    let mut out = String::new();
    prometheus_client::encoding::text::encode(&mut out, &registry)
        .expect("writing to a String cannot fail");
    out
}
