//! The outage exercise over real HTTP on loopback.
//!
//! An authors service and a presentations service (test servers on ephemeral ports), and an
//! aggregating endpoint (a tiny_http server) that returns a presentation with its author.
//! The authors call goes through a `breakwater::http::ServiceClient` (300 ms attempt
//! timeout, 2 attempts, a breaker that opens after 3 consecutive failures for 2 s); when it
//! fails the endpoint answers with the author "temporary unavailable".
//!
//! The script: normal traffic; authors accepts connections and never answers (calls take
//! the timeout and a retry) until the breaker opens; answers come back instantly; the
//! breaker goes half-open, the trial fails and it re-opens; authors answers again; a trial
//! succeeds and it closes. It prints a timeline and the transition log, writes an SVG chart
//! to `target/outage.svg`, and exits non-zero unless the transitions were
//! closed -> open -> half-open -> open -> half-open -> closed.
//!
//! Run: `cargo run --release --example outage`
//! (`examples/outage_sim.rs` tells the same story on the manual clock.)

#[path = "../tests/support/outage_story.rs"]
mod outage_story;

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let svg = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/outage.svg");
    let settings = outage_story::Settings {
        svg: Some(svg.clone()),
        ..Default::default()
    };
    println!("  time     req    latency  breaker    answer");
    let report = outage_story::run(&settings);
    println!();
    println!("transition log:");
    for (t, from, to) in &report.log {
        println!("  {t:>6.2} s  {from} -> {to}");
    }
    println!("authors saw {} requests", report.authors_requests);
    println!("GET /health -> {}", report.health);
    println!(
        "GET /metrics -> {} lines, e.g.",
        report.metrics.lines().count()
    );
    for line in report.metrics.lines().filter(|l| {
        l.starts_with("breakwater_breaker_opened_total")
            || l.starts_with("breakwater_http_retries_total")
    }) {
        println!("  {line}");
    }
    println!("chart: {}", svg.display());
    println!("finished in {:.1} s", report.total.as_secs_f64());
    println!("transitions: {}", report.path());
    if let Some(why) = &report.stuck {
        eprintln!("outage exercise: STUCK ({why})");
    }
    if report.ok() {
        println!("outage exercise: OK");
        ExitCode::SUCCESS
    } else {
        eprintln!(
            "outage exercise: FAILED (expected closed -> open -> half-open -> open -> half-open -> closed)"
        );
        ExitCode::FAILURE
    }
}
