//! The exposition text read back by a real parser: Python's
//! `prometheus_client.parser.text_string_to_metric_families`, and the health report by
//! Python's `json`. The numbers, labels, help texts and types must come back as written.
//!
//! Without `prometheus_client` installed the parser test is skipped with a notice, unless
//! `BW_REQUIRE_PROMETHEUS=1` (set by `scripts/suites/exposition-prometheus.sh`, which
//! installs it first).

use std::io::Write;
use std::process::{Command, Stdio};

use breakwater::exposition::{
    Component, Detail, MetricKind, Sample, Status, encode_text, health_json,
};

/// Reads exposition text on stdin; prints one line per sample, strings hex-encoded:
/// family type help sample n_labels (key value)* repr(value)
const PARSE: &str = r#"
import sys
from prometheus_client.parser import text_string_to_metric_families
h = lambda s: s.encode("utf-8").hex() or "-"
for f in text_string_to_metric_families(sys.stdin.read()):
    for s in f.samples:
        labels = sorted(s.labels.items())
        fields = [h(f.name), f.type, h(f.documentation), h(s.name), str(len(labels))]
        for k, v in labels:
            fields += [h(k), h(v)]
        fields.append(repr(s.value))
        print(" ".join(fields))
"#;

fn python(script: &str, input: &str) -> Result<String, String> {
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("python3: {e}"))?;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    if out.status.success() {
        Ok(String::from_utf8(out.stdout).unwrap())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn have_prometheus_client() -> bool {
    let found = python("import prometheus_client", "").is_ok();
    if !found {
        assert!(
            std::env::var("BW_REQUIRE_PROMETHEUS").as_deref() != Ok("1"),
            "BW_REQUIRE_PROMETHEUS=1 but python3 cannot import prometheus_client"
        );
        eprintln!("skipped: python3 with prometheus_client not available");
    }
    found
}

fn unhex(s: &str) -> String {
    if s == "-" {
        return String::new();
    }
    let bytes: Vec<u8> = (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect();
    String::from_utf8(bytes).unwrap()
}

#[derive(Debug, PartialEq)]
struct Parsed {
    family: String,
    kind: String,
    help: String,
    name: String,
    labels: Vec<(String, String)>,
    value: f64,
}

fn parse_line(line: &str) -> Parsed {
    let f: Vec<&str> = line.split(' ').collect();
    let n: usize = f[4].parse().unwrap();
    let labels = (0..n)
        .map(|i| (unhex(f[5 + 2 * i]), unhex(f[6 + 2 * i])))
        .collect();
    Parsed {
        family: unhex(f[0]),
        kind: f[1].to_owned(),
        help: unhex(f[2]),
        name: unhex(f[3]),
        labels,
        value: f[5 + 2 * n].parse().unwrap(),
    }
}

#[test]
fn the_prometheus_parser_reads_back_every_sample() {
    if !have_prometheus_client() {
        return;
    }
    let tricky = [("path", "C:\\tmp\\\"x\"\nnext"), ("unicode", "é ✓")];
    let svc = |s| [("service", s)];
    let (a, b) = (svc("payments"), svc("authors"));
    let values = [
        0.0,
        -0.0,
        1.0,
        -42.0,
        0.1,
        123_456_789.125,
        9_007_199_254_740_992.0,
        1e15,
        1e300,
        1.5e-7,
        0.0001,
        f64::MAX,
        f64::MIN_POSITIVE,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
    ];
    let index: Vec<String> = (0..values.len()).map(|i| i.to_string()).collect();
    let value_labels: Vec<[(&str, &str); 1]> = index.iter().map(|i| [("i", i.as_str())]).collect();
    let mut samples = vec![
        Sample::gauge("bw_breaker_state", 1.0)
            .with_help("State: 0 closed, 1 open.\nSecond line \\ backslash")
            .with_labels(&a),
        Sample::counter("bw_calls_total", 1234.0)
            .with_help("Calls.")
            .with_labels(&a),
        Sample::gauge("bw_breaker_state", 2.0).with_labels(&b),
        Sample::counter("bw_calls_total", 7.0).with_labels(&b),
        Sample::gauge("bw_tricky", 3.0).with_labels(&tricky),
        Sample::new("bw_untyped", MetricKind::Untyped, -1.0),
    ];
    for (v, labels) in values.iter().zip(&value_labels) {
        samples.push(Sample::gauge("bw_values", *v).with_labels(labels));
    }
    let text = encode_text(&samples);
    let out = python(PARSE, &text).unwrap_or_else(|e| panic!("parser refused:\n{text}\n{e}"));
    let parsed: Vec<Parsed> = out.lines().map(parse_line).collect();
    assert_eq!(parsed.len(), samples.len(), "{text}");

    // The parser returns families in order, samples in order within each.
    let mut order: Vec<&Sample<'_>> = Vec::new();
    for s in &samples {
        if !order.iter().any(|o| o.name == s.name) {
            order.extend(samples.iter().filter(|x| x.name == s.name));
        }
    }
    for (p, s) in parsed.iter().zip(order) {
        let family = s
            .name
            .strip_suffix("_total")
            .filter(|_| s.kind == MetricKind::Counter);
        assert_eq!(p.family, family.unwrap_or(s.name));
        // The Python client calls the 0.0.4 "untyped" by its OpenMetrics name.
        let kind = match s.kind {
            MetricKind::Untyped => "unknown",
            k => k.as_str(),
        };
        assert_eq!(p.kind, kind);
        assert_eq!(p.name, s.name);
        let first = samples.iter().find(|x| x.name == s.name).unwrap();
        assert_eq!(p.help, first.help);
        let mut labels: Vec<(String, String)> = s
            .labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        labels.sort();
        assert_eq!(p.labels, labels);
        assert!(
            p.value == s.value || (p.value.is_nan() && s.value.is_nan()),
            "{} {:?}: wrote {}, read {}",
            s.name,
            s.labels,
            s.value,
            p.value
        );
    }
}

#[test]
fn the_health_report_is_json_that_reads_back() {
    let check = r#"
import json, sys
r = json.loads(sys.stdin.read())
c = r["components"]
assert r["status"] == "DEGRADED", r
assert list(c) == ["pay\"ments\n", "authors"], list(c)
d = c["authors"]["details"]
assert d == {"state": "half-open", "calls": 18446744073709551615, "delta": -9223372036854775808,
             "rate": 0.1, "nan": None, "note": "tab\t\u0001 é", "ok": True}, d
print("ok")
"#;
    let details = [
        ("state", Detail::Str("half-open")),
        ("calls", Detail::UInt(u64::MAX)),
        ("delta", Detail::Int(i64::MIN)),
        ("rate", Detail::Float(0.1)),
        ("nan", Detail::Float(f64::NAN)),
        ("note", Detail::Str("tab\t\u{1} é")),
        ("ok", Detail::Bool(true)),
    ];
    let json = health_json(&[
        Component::new("pay\"ments\n", Status::Up),
        Component::new("authors", Status::Degraded).with_details(&details),
    ]);
    match python(check, &json) {
        Ok(out) => assert_eq!(out.trim(), "ok"),
        Err(e) if e.starts_with("python3:") => eprintln!("skipped: {e}"),
        Err(e) => panic!("{json}\n{e}"),
    }
}
