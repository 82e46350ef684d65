//! The outage exercise over real HTTP on loopback.
//!
//! An authors service and a presentations service (test servers on ephemeral ports), and an
//! aggregating endpoint (a tiny_http server) that returns a presentation with its author.
//! The authors call goes through a `breakwater::http::ServiceClient` (300 ms attempt
//! timeout, 2 attempts, a breaker that opens after 5 consecutive failed attempts for 2 s);
//! when it fails the endpoint answers with the author "temporary unavailable". Three
//! clients send steady traffic: a request every 100 ms each, staggered.
//!
//! The script: normal traffic; authors accepts connections and never answers (attempts
//! take their timeout and a retry) until the breaker opens; answers come back at once;
//! the breaker goes half-open, the trial fails and it re-opens; authors answers again; a
//! trial succeeds and it closes; normal traffic. It prints the timeline in time order
//! (every request when it ended, with the breaker's state then; every attempt that timed
//! out; every transition), writes an SVG chart, and exits non-zero unless the transitions
//! were closed -> open -> half-open -> open -> half-open -> closed.
//!
//! Run: `cargo run --release --example outage` (the chart goes to `target/outage.svg`;
//! `-- --chart PATH` writes it to PATH instead, e.g. `-- --chart docs/outage.svg`).
//! (`examples/outage_sim.rs` tells the same story on the manual clock.)

#[path = "../tests/support/outage_story.rs"]
mod outage_story;

use std::path::PathBuf;
use std::process::ExitCode;

use outage_story::{Source, svg::Mark};

/// The chart's path: `--chart PATH` (or `--chart=PATH`), else `target/outage.svg`.
fn chart_path() -> Result<PathBuf, String> {
    let mut args = std::env::args().skip(1);
    let mut path = None;
    while let Some(arg) = args.next() {
        if arg == "--chart" {
            let value = args
                .next()
                .ok_or("--chart needs a path, e.g. --chart docs/outage.svg")?;
            path = Some(PathBuf::from(value));
        } else if let Some(value) = arg.strip_prefix("--chart=") {
            path = Some(PathBuf::from(value));
        } else {
            return Err(format!(
                "unknown argument {arg:?}; the only option is --chart PATH"
            ));
        }
    }
    Ok(path.unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/outage.svg")))
}

fn main() -> ExitCode {
    let svg = match chart_path() {
        Ok(p) => p,
        Err(why) => {
            eprintln!("outage: {why}");
            return ExitCode::from(2);
        }
    };
    let settings = outage_story::Settings::default();
    let report = outage_story::run(&settings);
    println!();
    println!("transition log:");
    for (t, from, to) in &report.log {
        println!("  {t:>6.3} s  {from} -> {to}");
    }
    let count = |s: Source| report.answered(s).len();
    println!(
        "{} requests: {} real answers, {} fallbacks after failed attempts, {} rejected at once",
        report.rows.len(),
        count(Source::Answer),
        count(Source::Fallback),
        count(Source::Rejected)
    );
    let chart = outage_story::chart(&report);
    println!(
        "{} attempts at authors timed out; authors saw {} requests",
        chart.count(Mark::TimedOut),
        report.authors_seen.len()
    );
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
    let chart_written = match chart.save(&svg) {
        Ok(()) => {
            println!("chart: {}", svg.display());
            true
        }
        Err(e) => {
            eprintln!("outage: cannot write the chart to {}: {e}", svg.display());
            false
        }
    };
    println!("finished in {:.1} s", report.total.as_secs_f64());
    println!("transitions: {}", report.path());
    if let Some(why) = &report.stuck {
        eprintln!("outage exercise: STUCK ({why})");
    }
    if !report.ok() {
        eprintln!(
            "outage exercise: FAILED (expected closed -> open -> half-open -> open -> half-open -> closed)"
        );
        ExitCode::FAILURE
    } else if !chart_written {
        eprintln!("outage exercise: FAILED (the story happened but its chart was not written)");
        ExitCode::FAILURE
    } else {
        println!("outage exercise: OK");
        ExitCode::SUCCESS
    }
}
