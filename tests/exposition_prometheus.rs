//! A registry's exposition read back by the Python reference parsers: the OpenMetrics
//! parser of `prometheus_client` (`prometheus_client.openmetrics.parser`, strict: the text
//! must end with `# EOF`), and its parser of the older text format 0.0.4
//! (`prometheus_client.parser`), which must read it too; the health report by Python's
//! `json`. Numbers, labels (with quotes, backslashes, newlines and non-ASCII), help texts
//! and types must come back as written.
//!
//! Without `prometheus_client` installed the parser tests are skipped with a notice, unless
//! `BW_REQUIRE_PROMETHEUS=1` (set by `scripts/suites/exposition-prometheus.sh`, which
//! installs it first).
#![cfg(feature = "exposition")]

use std::io::Write;
use std::process::{Command, Stdio};

use breakwater::exposition::{Component, Detail, Status, health_json};
use breakwater::{BreakerConfig, Registry, TripPolicy};

/// Reads exposition text on stdin with the parser module named in argv[1]; prints one
/// line per sample, strings hex-encoded:
/// family type help sample n_labels (key value)* repr(value)
const PARSE: &str = r#"
import importlib, sys
parse = importlib.import_module(sys.argv[1]).text_string_to_metric_families
h = lambda s: s.encode("utf-8").hex() or "-"
for f in parse(sys.stdin.read()):
    for s in f.samples:
        labels = sorted(s.labels.items())
        fields = [h(f.name), f.type, h(f.documentation), h(s.name), str(len(labels))]
        for k, v in labels:
            fields += [h(k), h(v)]
        fields.append(repr(s.value))
        print(" ".join(fields))
"#;

fn python(script: &str, args: &[&str], input: &str) -> Result<String, String> {
    let mut child = Command::new("python3")
        .args(["-c", script])
        .args(args)
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
    let found = python("import prometheus_client", &[], "").is_ok();
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

/// A registry with a breaker of every state worth telling apart, one whose name needs
/// escaping, a bulkhead and a rate limiter.
fn registry() -> (Registry, String) {
    let registry = Registry::new();
    registry.set_default(BreakerConfig {
        policy: TripPolicy::ConsecutiveFailures { threshold: 2 },
        ..Default::default()
    });
    let tricky = "C:\\tmp\\\"x\"\nnext é ✓".to_owned();
    let authors = registry.breaker("authors").unwrap();
    for _ in 0..2 {
        let _ = authors.call(|| Err::<(), _>("down"));
    }
    let _ = authors.call(|| Ok::<_, &str>(()));
    let t = registry.breaker(&tricky).unwrap();
    for _ in 0..7 {
        let _ = t.call(|| Ok::<_, &str>(()));
    }
    let _ = t.call(|| Err::<(), _>("down"));
    drop(registry.bulkhead("email").unwrap().try_acquire().unwrap());
    let api = registry.rate_limiter("api").unwrap();
    api.try_acquire_n(60).unwrap();
    assert!(api.try_acquire_n(50).is_err());
    (registry, tricky)
}

fn parsed(module: &str, text: &str) -> Vec<Parsed> {
    let out = python(PARSE, &[module], text)
        .unwrap_or_else(|e| panic!("{module} refused the text:\n{text}\n{e}"));
    out.lines().map(parse_line).collect()
}

fn find<'a>(all: &'a [Parsed], name: &str, label: (&str, &str)) -> &'a Parsed {
    all.iter()
        .find(|p| {
            p.name == name
                && p.labels
                    .iter()
                    .any(|(k, v)| (k.as_str(), v.as_str()) == label)
        })
        .unwrap_or_else(|| panic!("no {name} with {label:?} in {all:#?}"))
}

#[test]
fn the_openmetrics_parser_reads_back_every_sample() {
    if !have_prometheus_client() {
        return;
    }
    let (registry, tricky) = registry();
    let text = breakwater::exposition::prometheus(&registry);
    let all = parsed("prometheus_client.openmetrics.parser", &text);
    assert_eq!(all.len(), 2 * 10 + 7 + 4, "{text}");
    let p = find(
        &all,
        "breakwater_breaker_failures_total",
        ("breaker", "authors"),
    );
    assert_eq!(
        (p.family.as_str(), p.kind.as_str(), p.help.as_str(), p.value),
        (
            "breakwater_breaker_failures",
            "counter",
            "Recorded failures",
            2.0
        )
    );
    let p = find(&all, "breakwater_breaker_state", ("breaker", "authors"));
    assert_eq!((p.kind.as_str(), p.value), ("gauge", 1.0));
    assert_eq!(
        p.labels,
        [
            ("breaker".to_owned(), "authors".to_owned()),
            ("instance".to_owned(), String::new()),
            ("service".to_owned(), String::new()),
        ]
    );
    // The tricky name comes back byte for byte.
    let p = find(
        &all,
        "breakwater_breaker_successes_total",
        ("breaker", &tricky),
    );
    assert_eq!(p.value, 7.0);
    let p = find(
        &all,
        "breakwater_breaker_rejected_total",
        ("breaker", "authors"),
    );
    assert_eq!(
        p.labels.iter().find(|(k, _)| k == "reason").unwrap().1,
        "open"
    );
    let p = find(
        &all,
        "breakwater_bulkhead_acquired_total",
        ("bulkhead", "email"),
    );
    assert_eq!((p.kind.as_str(), p.value), ("counter", 1.0));
    let p = find(
        &all,
        "breakwater_rate_limiter_available",
        ("limiter", "api"),
    );
    assert_eq!((p.kind.as_str(), p.value), ("gauge", 40.0));
    let p = find(
        &all,
        "breakwater_rate_limiter_rejected_total",
        ("limiter", "api"),
    );
    assert_eq!(p.value, 1.0);
}

#[test]
fn the_text_format_parser_reads_it_too() {
    if !have_prometheus_client() {
        return;
    }
    let (registry, tricky) = registry();
    let text = breakwater::exposition::prometheus(&registry);
    let all = parsed("prometheus_client.parser", &text);
    // Every sample, with its value; `# EOF` is a comment to this parser, and a counter's
    // `_total` samples come apart from their `# TYPE` line, as `unknown`.
    assert_eq!(all.len(), 2 * 10 + 7 + 4, "{text}");
    let p = find(
        &all,
        "breakwater_breaker_failures_total",
        ("breaker", "authors"),
    );
    assert_eq!((p.kind.as_str(), p.value), ("unknown", 2.0));
    let p = find(&all, "breakwater_breaker_state", ("breaker", &tricky));
    assert_eq!(
        (p.kind.as_str(), p.help.as_str(), p.value),
        (
            "gauge",
            "0 closed, 1 open, 2 half-open, 3 forced open, 4 disabled",
            0.0
        )
    );
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
    match python(check, &[], &json) {
        Ok(out) => assert_eq!(out.trim(), "ok"),
        Err(e) if e.starts_with("python3:") => eprintln!("skipped: {e}"),
        Err(e) => panic!("{json}\n{e}"),
    }
}
