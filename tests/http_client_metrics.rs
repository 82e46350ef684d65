//! The registry-wide Prometheus export (OpenMetrics text) read back by a real parser
//! (Python's `prometheus_client.openmetrics.parser`), its numbers compared with the policies' own metrics, and the
//! health report read back by Python's `json`.
//!
//! Without `prometheus_client` the parser test is skipped with a notice, unless
//! `BW_REQUIRE_PROMETHEUS=1` (set by `scripts/suites/http-client.sh`, which installs it).

#[path = "support/http_server.rs"]
mod http_server;

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};

use breakwater::http::{HttpOutcome, Profile, ServiceClient};
use breakwater::{Clock, ManualClock, RateLimiter, Registry};
use http_server::{Behaviour, TestServer};

/// Prints one line per sample: name, sorted labels as k=v joined by ',', repr(value).
const PARSE: &str = r#"
import sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families
for f in text_string_to_metric_families(sys.stdin.read()):
    for s in f.samples:
        labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
        print(f"{f.type}\t{s.name}\t{labels}\t{s.value!r}")
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

fn have(module: &str) -> bool {
    let found = python(&format!("import {module}"), "").is_ok();
    if !found {
        assert!(
            std::env::var("BW_REQUIRE_PROMETHEUS").as_deref() != Ok("1"),
            "BW_REQUIRE_PROMETHEUS=1 but python3 cannot import {module}"
        );
        eprintln!("skipped: python3 with {module} not available");
    }
    found
}

/// (type, sample name, labels) -> value
type Parsed = BTreeMap<(String, String, String), f64>;

fn parse(text: &str) -> Parsed {
    let out = python(PARSE, text).expect("prometheus_client parses the text");
    out.lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (
                (f[0].to_owned(), f[1].to_owned(), f[2].to_owned()),
                f[3].parse::<f64>().unwrap(),
            )
        })
        .collect()
}

fn get(p: &Parsed, kind: &str, name: &str, labels: &str) -> f64 {
    *p.get(&(kind.to_owned(), name.to_owned(), labels.to_owned()))
        .unwrap_or_else(|| panic!("no sample {name}{{{labels}}} in {p:#?}"))
}

#[test]
fn the_registry_export_parses_and_matches_the_policies() {
    if !have("prometheus_client") {
        return;
    }
    let good = TestServer::start();
    let bad = TestServer::start();
    bad.set(Behaviour::Status(503));
    let clock = ManualClock::new();
    let registry = Registry::new();
    let mut p = Profile::normal();
    p.breaker_failures = 2;
    p.max_attempts = 2;
    p.rate_limit_per_sec = Some(1000);
    let client = ServiceClient::builder("authors")
        .instances([good.url(), bad.url()])
        .profile(p)
        .clock(Clock::from(&clock))
        .registry(&registry)
        .build()
        .unwrap();
    for i in 0..6 {
        client.get(&format!("/a/{i}")).send().unwrap();
    }
    let standalone = registry.breaker("db").unwrap();
    let _ = standalone.call(|| Err::<(), _>("down"));
    let _ = standalone.call(|| Ok::<_, ()>(()));
    let email = registry.bulkhead("email").unwrap();
    let _permit = email.try_acquire().unwrap();
    registry
        .rate_limiter_with(
            "search",
            breakwater::RateLimiterConfig {
                permits: 1,
                ..Default::default()
            },
        )
        .unwrap();
    let search: RateLimiter = registry.rate_limiter("search").unwrap();
    let _ = search.try_acquire();
    let _ = search.try_acquire();

    let text = breakwater::exposition::prometheus(&registry);
    let parsed = parse(&text);

    let (g, b) = (good.url(), bad.url());
    let inst = |url: &str| format!("breaker=authors@{url},instance={url},service=authors");
    let bm = client.breakers()[1].metrics();
    assert_eq!(
        get(&parsed, "gauge", "breakwater_breaker_state", &inst(&b)),
        1.0
    );
    assert_eq!(
        get(&parsed, "gauge", "breakwater_breaker_state", &inst(&g)),
        0.0
    );
    assert_eq!(
        get(
            &parsed,
            "counter",
            "breakwater_breaker_failures_total",
            &inst(&b)
        ),
        bm.totals.failures as f64
    );
    assert_eq!(bm.totals.failures, 2);
    assert_eq!(
        get(
            &parsed,
            "counter",
            "breakwater_breaker_opened_total",
            &inst(&b)
        ),
        1.0
    );
    let gm = client.breakers()[0].metrics();
    assert_eq!(
        get(
            &parsed,
            "counter",
            "breakwater_breaker_successes_total",
            &inst(&g)
        ),
        gm.totals.successes as f64
    );
    assert_eq!(gm.totals.successes, 6);
    let m = client.metrics();
    assert_eq!(
        get(
            &parsed,
            "counter",
            "breakwater_http_calls_total",
            "result=ok,service=authors"
        ),
        m.succeeded as f64
    );
    assert_eq!(m.succeeded, 6);
    assert_eq!(
        get(
            &parsed,
            "counter",
            "breakwater_http_retries_total",
            "service=authors"
        ),
        m.retries as f64
    );
    assert_eq!(m.retries, 2);
    assert_eq!(
        get(
            &parsed,
            "counter",
            "breakwater_http_attempts_total",
            &format!("instance={b},outcome=server_error,service=authors")
        ),
        client.attempts(1, HttpOutcome::ServerError) as f64
    );
    assert_eq!(
        get(
            &parsed,
            "gauge",
            "breakwater_http_instance_up",
            &format!("instance={g},service=authors")
        ),
        1.0
    );
    assert_eq!(
        get(
            &parsed,
            "counter",
            "breakwater_rate_limiter_permitted_total",
            "limiter=authors"
        ),
        6.0
    );
    let sd = "breaker=db,instance=,service=";
    assert_eq!(
        get(&parsed, "counter", "breakwater_breaker_failures_total", sd),
        1.0
    );
    assert_eq!(
        get(&parsed, "counter", "breakwater_breaker_successes_total", sd),
        1.0
    );
    assert_eq!(
        get(
            &parsed,
            "counter",
            "breakwater_breaker_rejected_total",
            &format!("{sd},reason=open").replace(
                "breaker=db,instance=,service=,reason=open",
                "breaker=db,instance=,reason=open,service="
            )
        ),
        0.0
    );
    assert_eq!(
        get(
            &parsed,
            "gauge",
            "breakwater_bulkhead_in_use",
            "bulkhead=email"
        ),
        1.0
    );
    assert_eq!(
        get(
            &parsed,
            "gauge",
            "breakwater_bulkhead_available",
            "bulkhead=email"
        ),
        24.0
    );
    assert_eq!(
        get(
            &parsed,
            "counter",
            "breakwater_rate_limiter_rejected_total",
            "limiter=search"
        ),
        search.metrics().rejected as f64
    );
    assert_eq!(search.metrics().rejected, 1);
}

#[test]
fn the_health_report_is_json_with_the_services_state() {
    if python("import json", "").is_err() {
        eprintln!("skipped: python3 not available");
        return;
    }
    let good = TestServer::start();
    let clock = ManualClock::new();
    let registry = Registry::new();
    let client = ServiceClient::builder("authors")
        .instances([good.url(), "http://127.0.0.1:9".to_owned()])
        .clock(Clock::from(&clock))
        .registry(&registry)
        .build()
        .unwrap();
    client.breakers()[1].force_open();
    registry.breaker("db").unwrap();
    let report = breakwater::exposition::health_report(&registry);
    let out = python(
        "import json,sys\nr=json.load(sys.stdin)\nc=r['components']\nprint(r['status'], c['db']['status'], c['authors']['status'], c['authors']['details']['usable_instances'])",
        &report,
    )
    .unwrap();
    assert_eq!(out.trim(), "DEGRADED UP DEGRADED 1");
}
