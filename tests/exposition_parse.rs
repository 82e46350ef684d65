//! A registry's exposition read back by parsers that are not ours: the metrics text by
//! `nom-openmetrics` (a strict OpenMetrics parser: the text must end with `# EOF`, every
//! line must be well formed), every number equal to the policy's own metrics; the health
//! report by serde_json.
#![cfg(feature = "exposition")]

use std::collections::BTreeMap;
use std::time::Duration;

use breakwater::{BreakerConfig, BulkheadConfig, RateLimiterConfig, Registry, TripPolicy};
use nom_openmetrics::{MetricDescriptor, MetricType, parser};

/// A sample: its name and its labels, sorted.
type Key = (String, Vec<(String, String)>);

/// What the parser read: each family's type and help, each sample's value.
#[derive(Default, Debug)]
struct Read {
    types: BTreeMap<String, String>,
    help: BTreeMap<String, String>,
    values: BTreeMap<Key, f64>,
    families: Vec<String>,
}

fn read(text: &str) -> Read {
    let (rest, families) = parser::openmetrics(text)
        .unwrap_or_else(|e| panic!("the parser refused the text: {e:?}\n{text}"));
    assert_eq!(rest, "", "unparsed text");
    let mut out = Read::default();
    for f in families {
        let mut family = None;
        for d in &f.descriptors {
            match d {
                MetricDescriptor::Type { metric, r#type } => {
                    let t = match r#type {
                        MetricType::Counter => "counter".to_owned(),
                        MetricType::Gauge => "gauge".to_owned(),
                        other => format!("{other}"),
                    };
                    out.types.insert((*metric).to_owned(), t);
                    family = Some((*metric).to_owned());
                }
                MetricDescriptor::Help { metric, help } => {
                    out.help.insert((*metric).to_owned(), help.clone());
                }
                MetricDescriptor::Unit { .. } => panic!("no family has a unit"),
            }
        }
        out.families
            .push(family.expect("every family has a TYPE line"));
        for s in &f.samples {
            let mut labels: Vec<(String, String)> = s
                .labels()
                .iter()
                .map(|l| (l.name.to_owned(), l.value.clone()))
                .collect();
            labels.sort();
            let key = (s.name().to_owned(), labels);
            assert!(
                out.values.insert(key, s.number()).is_none(),
                "a duplicate sample"
            );
        }
    }
    out
}

fn key(name: &str, labels: &[(&str, &str)]) -> Key {
    let mut l: Vec<(String, String)> = labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    l.sort();
    (name.to_owned(), l)
}

fn breaker_labels(name: &str) -> [(&str, &str); 3] {
    [("breaker", name), ("service", ""), ("instance", "")]
}

#[test]
fn every_number_read_back_equals_the_policy_metrics() {
    let registry = Registry::new();
    let weird = "we\"ird\\name\nnext ✓";
    let authors = registry
        .breaker_with(
            "authors",
            BreakerConfig {
                policy: TripPolicy::ConsecutiveFailures { threshold: 3 },
                ..Default::default()
            },
        )
        .unwrap();
    let other = registry.breaker(weird).unwrap();
    let _ = other.call(|| Ok::<_, &str>(()));
    for _ in 0..3 {
        let _ = authors.call(|| Err::<(), _>("down"));
    }
    assert!(authors.try_acquire().is_err());
    other.force_open();
    let email = registry
        .bulkhead_with(
            "email",
            BulkheadConfig {
                max_concurrent: 3,
                ..Default::default()
            },
        )
        .unwrap();
    let held = email.try_acquire().unwrap();
    let limiter = registry
        .rate_limiter_with(
            "api",
            RateLimiterConfig {
                permits: 4,
                period: Duration::from_secs(1),
                ..Default::default()
            },
        )
        .unwrap();
    limiter.try_acquire_n(3).unwrap();
    assert!(limiter.try_acquire_n(2).is_err());
    let pool = registry.thread_pool("jobs").unwrap();

    let text = breakwater::exposition::prometheus(&registry);
    assert!(text.ends_with("# EOF\n"), "{text}");
    let r = read(&text);

    for (b, name) in [(&authors, "authors"), (&other, weird)] {
        let m = b.metrics();
        let t = m.totals;
        let l = breaker_labels(name);
        let state = f64::from(m.state.code());
        assert_eq!(r.values[&key("breakwater_breaker_state", &l)], state);
        for (family, v) in [
            ("breakwater_breaker_requests_total", t.requests),
            ("breakwater_breaker_successes_total", t.successes),
            ("breakwater_breaker_failures_total", t.failures),
            ("breakwater_breaker_ignored_total", t.ignored),
            ("breakwater_breaker_transitions_total", t.transitions),
            ("breakwater_breaker_opened_total", t.opened),
        ] {
            assert_eq!(r.values[&key(family, &l)], v as f64, "{family} {name:?}");
        }
        for (reason, v) in [
            ("open", t.rejected_open),
            ("trial_full", t.rejected_trial_full),
            ("forced_open", t.rejected_forced_open),
        ] {
            let l = [l[0], l[1], l[2], ("reason", reason)];
            let k = key("breakwater_breaker_rejected_total", &l);
            assert_eq!(r.values[&k], v as f64, "{reason} {name:?}");
        }
    }
    // The numbers are those of the script, not only equal to whatever metrics() says.
    let l = breaker_labels("authors");
    assert_eq!(r.values[&key("breakwater_breaker_failures_total", &l)], 3.0);
    assert_eq!(r.values[&key("breakwater_breaker_state", &l)], 1.0);
    let l = breaker_labels(weird);
    assert_eq!(r.values[&key("breakwater_breaker_state", &l)], 3.0);

    let m = email.metrics();
    let l = [("bulkhead", "email")];
    for (family, v) in [
        ("breakwater_bulkhead_in_use", u64::from(m.in_use)),
        ("breakwater_bulkhead_available", u64::from(m.available)),
        ("breakwater_bulkhead_waiting", u64::from(m.waiting)),
        ("breakwater_bulkhead_max", u64::from(m.max)),
        ("breakwater_bulkhead_peak", u64::from(m.peak)),
        ("breakwater_bulkhead_acquired_total", m.acquired),
        ("breakwater_bulkhead_rejected_total", m.rejected),
    ] {
        assert_eq!(r.values[&key(family, &l)], v as f64, "{family}");
    }
    assert_eq!(r.values[&key("breakwater_bulkhead_in_use", &l)], 1.0);
    drop(held);

    let m = limiter.metrics();
    let l = [("limiter", "api")];
    for (family, v) in [
        ("breakwater_rate_limiter_permitted_total", m.permitted),
        ("breakwater_rate_limiter_rejected_total", m.rejected),
        ("breakwater_rate_limiter_waited_total", m.waited),
        ("breakwater_rate_limiter_available", u64::from(m.available)),
    ] {
        assert_eq!(r.values[&key(family, &l)], v as f64, "{family}");
    }
    assert_eq!(
        r.values[&key("breakwater_rate_limiter_rejected_total", &l)],
        1.0
    );

    let m = pool.metrics();
    let l = [("pool", "jobs")];
    for (family, v) in [
        ("breakwater_pool_workers", u64::from(m.workers)),
        ("breakwater_pool_busy", u64::from(m.busy)),
        ("breakwater_pool_queue_depth", u64::from(m.queue_depth)),
        ("breakwater_pool_completed_total", m.completed),
        ("breakwater_pool_rejected_total", m.rejected),
        ("breakwater_pool_panicked_total", m.panicked),
        ("breakwater_pool_cancelled_total", m.cancelled),
    ] {
        assert_eq!(r.values[&key(family, &l)], v as f64, "{family}");
    }

    // Nothing else: 2 breakers x 10 samples, 7 bulkhead, 4 limiter, 7 pool.
    assert_eq!(r.values.len(), 2 * 10 + 7 + 4 + 7, "{text}");
}

#[test]
fn families_keep_their_types_help_and_order() {
    let registry = Registry::new();
    registry.breaker("b").unwrap();
    registry.bulkhead("h").unwrap();
    registry.rate_limiter("l").unwrap();
    let r = read(&breakwater::exposition::prometheus(&registry));
    // Counters are named without `_total` on their TYPE and HELP lines (OpenMetrics).
    assert_eq!(r.types["breakwater_breaker_requests"], "counter");
    assert_eq!(
        r.help["breakwater_breaker_requests"],
        "Calls the breaker admitted"
    );
    assert_eq!(r.types["breakwater_breaker_state"], "gauge");
    assert_eq!(
        r.help["breakwater_breaker_state"],
        "0 closed, 1 open, 2 half-open, 3 forced open, 4 disabled"
    );
    assert_eq!(r.types["breakwater_bulkhead_rejected"], "counter");
    assert_eq!(r.help["breakwater_bulkhead_max"], "max_concurrent");
    assert_eq!(r.types["breakwater_rate_limiter_available"], "gauge");
    // Breakers first, then bulkheads, then rate limiters.
    let first = |prefix: &str| r.families.iter().position(|f| f.starts_with(prefix));
    assert!(first("breakwater_breaker_") < first("breakwater_bulkhead_"));
    assert!(first("breakwater_bulkhead_") < first("breakwater_rate_limiter_"));
    assert_eq!(r.families.len(), 8 + 7 + 4);
}

#[test]
fn an_empty_registry_is_a_valid_empty_exposition() {
    let text = breakwater::exposition::prometheus(&Registry::new());
    assert_eq!(text, "# EOF\n");
    assert!(read(&text).values.is_empty());
}

#[test]
fn the_health_report_parses_as_json_with_each_breaker_state() {
    let registry = Registry::new();
    registry.set_default(BreakerConfig {
        policy: TripPolicy::ConsecutiveFailures { threshold: 1 },
        ..Default::default()
    });
    let open = registry.breaker("open\"q").unwrap();
    let _ = open.call(|| Err::<(), _>("down"));
    registry.breaker("forced").unwrap().force_open();
    registry.breaker("off").unwrap().disable();
    registry.breaker("closed").unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&breakwater::exposition::health_report(&registry)).unwrap();
    assert_eq!(json["status"], "DOWN");
    let c = &json["components"];
    assert_eq!(c["closed"]["status"], "UP");
    assert_eq!(c["closed"]["details"]["state"], "closed");
    assert_eq!(c["open\"q"]["status"], "DOWN");
    assert_eq!(c["open\"q"]["details"]["state"], "open");
    assert_eq!(c["forced"]["details"]["state"], "forced-open");
    assert_eq!(c["off"]["status"], "UP");
    assert_eq!(c["off"]["details"]["state"], "disabled");
    assert_eq!(c.as_object().unwrap().len(), 4);
}

#[test]
fn health_json_keeps_order_and_writes_non_finite_numbers_as_null() {
    use breakwater::exposition::{Component, Detail, Status, health_json};
    let details = [
        ("state", Detail::Str("half-open")),
        ("calls", Detail::UInt(u64::MAX)),
        ("delta", Detail::Int(i64::MIN)),
        ("rate", Detail::Float(0.1)),
        ("nan", Detail::Float(f64::NAN)),
        ("note", Detail::Str("tab\t\u{1} é \"q\"")),
        ("ok", Detail::Bool(true)),
    ];
    let text = health_json(&[
        Component::new("pay\"ments\n", Status::Up),
        Component::new("authors", Status::Degraded).with_details(&details),
    ]);
    assert_eq!(
        text,
        r#"{"status":"DEGRADED","components":{"pay\"ments\n":{"status":"UP"},"authors":{"status":"DEGRADED","details":{"state":"half-open","calls":18446744073709551615,"delta":-9223372036854775808,"rate":0.1,"nan":null,"note":"tab\t\u0001 é \"q\"","ok":true}}}}"#
    );
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        v["components"]["authors"]["details"]["note"],
        "tab\t\u{1} é \"q\""
    );
    assert_eq!(
        v["components"]["authors"]["details"]["calls"],
        serde_json::json!(u64::MAX)
    );
}
