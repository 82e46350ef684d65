//! The behaviour scenarios of `ffi-tests/scenarios/*.json`, run through the public Rust
//! API. The same files are run by the C (`ffi-tests/scenarios/run_scenarios.c`), Python
//! (`ffi-tests/python/test_scenarios.py`) and Go (`ffi-tests/go/scenarios_test.go`)
//! runners, so a change of behaviour fails in all four languages at once.
//!
//! Each configuration is parsed by the library's own JSON entry point (the one behind
//! `bw_<policy>_new_json`) and the policy is built on a `ManualClock`. The format of a
//! scenario is described in `ffi-tests/scenarios/README.md`.
#![cfg(feature = "ffi")]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use breakwater::ffi::breaker::BreakerJson;
use breakwater::ffi::bulkhead::BulkheadJson;
use breakwater::ffi::json_config::config_from_json;
use breakwater::ffi::ratelimit::LimiterJson;
use breakwater::ffi::retry::RetryJson;
use breakwater::{
    BreakerBuilder, BreakerMetrics, Bulkhead, CircuitBreaker, Clock, Error, ManualClock, Outcome,
    PolicyKind, RateLimiter, RawPermit, Recorded, RetryBuilder,
};
use serde_json::Value;

/// A step's failure: what differed.
type StepResult = Result<(), String>;

fn ns_of_ms(ms: f64) -> u128 {
    (ms * 1e6).round() as u128
}

fn str_field<'a>(step: &'a Value, key: &str) -> Result<&'a str, String> {
    step.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("step has no string \"{key}\""))
}

fn parse<T: serde::de::DeserializeOwned + Default>(
    policy: PolicyKind,
    config: &Value,
) -> Result<T, String> {
    config_from_json(policy, config.to_string().as_bytes())
        .map_err(|e| format!("configuration refused: {}", e.message))
}

/// Compares an expected rejection (`reject`, optional `retry_after_ms`) with what
/// happened (`None`: admitted).
fn check_admission(step: &Value, got: Option<(String, Option<Duration>)>) -> StepResult {
    match (step.get("reject").and_then(Value::as_str), got) {
        (None, None) => Ok(()),
        (None, Some((reason, _))) => Err(format!("expected admitted, got rejected ({reason})")),
        (Some(want), None) => Err(format!("expected rejected ({want}), got admitted")),
        (Some(want), Some((reason, retry_after))) => {
            if want != reason {
                return Err(format!(
                    "expected rejection reason {want:?}, got {reason:?}"
                ));
            }
            if let Some(ms) = step.get("retry_after_ms").and_then(Value::as_f64) {
                let got = retry_after.map(|d| d.as_nanos());
                if got != Some(ns_of_ms(ms)) {
                    return Err(match got {
                        Some(ns) => format!("expected retry_after_ms {ms}, got {ns} ns"),
                        None => format!("expected retry_after_ms {ms}, got none"),
                    });
                }
            }
            Ok(())
        }
    }
}

/// The reason (by the library's name) and retry-after of a policy's rejection, through
/// the library's own conversion into [`Error`].
fn rejection(e: Error<()>) -> (String, Option<Duration>) {
    match e {
        Error::Rejected {
            reason,
            retry_after,
            ..
        } => (reason.to_string(), retry_after),
        other => (format!("not a rejection: {other:?}"), None),
    }
}

/// A metric as the scenarios name it: a count, or a rate (`None` when none is computed).
#[derive(Debug, PartialEq)]
enum Metric {
    Count(u64),
    Rate(Option<f64>),
}

fn compare_metrics(step: &Value, lookup: impl Fn(&str) -> Option<Metric>) -> StepResult {
    let wanted = step
        .get("metrics")
        .and_then(Value::as_object)
        .ok_or("expect_metrics has no \"metrics\" object")?;
    for (key, want) in wanted {
        let got = lookup(key).ok_or_else(|| format!("unknown metric {key:?}"))?;
        let ok = match (&got, want) {
            (Metric::Count(n), w) => w.as_u64() == Some(*n),
            (Metric::Rate(None), w) => w.is_null(),
            (Metric::Rate(Some(r)), w) => w.as_f64().is_some_and(|w| (w - r).abs() < 1e-9),
        };
        if !ok {
            let got = match got {
                Metric::Count(n) => n.to_string(),
                Metric::Rate(Some(r)) => r.to_string(),
                Metric::Rate(None) => "none".to_owned(),
            };
            return Err(format!("metric {key}: expected {want}, got {got}"));
        }
    }
    Ok(())
}

fn breaker_metric(m: &BreakerMetrics, key: &str) -> Option<Metric> {
    let (c, t) = (&m.current, &m.totals);
    let n = match key {
        "generation" => m.generation,
        "requests" => c.requests,
        "successes" => c.successes,
        "failures" => c.failures,
        "ignored" => c.ignored,
        "slow" => c.slow,
        "consecutive_successes" => c.consecutive_successes,
        "consecutive_failures" => c.consecutive_failures,
        "window_calls" => c.window_calls,
        "window_failures" => c.window_failures,
        "failure_rate" => return Some(Metric::Rate(c.failure_rate)),
        "slow_call_rate" => return Some(Metric::Rate(c.slow_call_rate)),
        "total_requests" => t.requests,
        "total_successes" => t.successes,
        "total_failures" => t.failures,
        "total_ignored" => t.ignored,
        "total_slow" => t.slow,
        "rejected_open" => t.rejected_open,
        "rejected_trial_full" => t.rejected_trial_full,
        "rejected_forced_open" => t.rejected_forced_open,
        "stale_dropped" => t.stale_dropped,
        "transitions" => t.transitions,
        "opened" => t.opened,
        _ => return None,
    };
    Some(Metric::Count(n))
}

fn outcome_of(step: &Value) -> Result<Outcome, String> {
    match str_field(step, "outcome")? {
        "success" => Ok(Outcome::Success),
        "failure" => Ok(Outcome::Failure),
        "ignored" => Ok(Outcome::Ignored),
        other => Err(format!("unknown outcome {other:?}")),
    }
}

fn advance(clock: &ManualClock, step: &Value) -> StepResult {
    let ms = step
        .get("ms")
        .and_then(Value::as_f64)
        .ok_or("advance has no \"ms\"")?;
    clock.advance(Duration::from_nanos(ns_of_ms(ms) as u64));
    Ok(())
}

struct BreakerRun {
    clock: ManualClock,
    breaker: CircuitBreaker,
    permits: HashMap<String, RawPermit>,
}

impl BreakerRun {
    fn new(config: &Value) -> Result<BreakerRun, String> {
        let json: BreakerJson = parse(PolicyKind::CircuitBreaker, config)?;
        let clock = ManualClock::new();
        let breaker = BreakerBuilder::new()
            .config(json.to_config().map_err(|e| e.to_string())?)
            .clock(Clock::from(&clock))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(BreakerRun {
            clock,
            breaker,
            permits: HashMap::new(),
        })
    }

    fn acquire(&self) -> Result<RawPermit, (String, Option<Duration>)> {
        self.breaker
            .try_acquire_raw()
            .map_err(|r| (r.reason.to_string(), r.retry_after))
    }

    fn step(&mut self, step: &Value) -> StepResult {
        match str_field(step, "op")? {
            "acquire" => {
                let got = self.acquire();
                let rejection = got.as_ref().err().cloned();
                check_admission(step, rejection)?;
                if let (Ok(p), Some(name)) = (got, step.get("permit").and_then(Value::as_str)) {
                    self.permits.insert(name.to_owned(), p);
                }
                Ok(())
            }
            "record" => {
                let name = str_field(step, "permit")?;
                let permit = self
                    .permits
                    .remove(name)
                    .ok_or_else(|| format!("no permit named {name:?}"))?;
                let got = match self.breaker.record_raw(permit, outcome_of(step)?, None) {
                    Recorded::Recorded => "recorded",
                    Recorded::Stale => "stale",
                };
                let want = step
                    .get("expect")
                    .and_then(Value::as_str)
                    .unwrap_or("recorded");
                if got != want {
                    return Err(format!("expected {want}, got {got}"));
                }
                Ok(())
            }
            "call" => {
                let outcome = outcome_of(step)?;
                let times = step.get("times").and_then(Value::as_u64).unwrap_or(1);
                for i in 1..=times {
                    let permit = self.acquire().map_err(|(reason, _)| {
                        format!("call {i} of {times}: expected admitted, got rejected ({reason})")
                    })?;
                    if self.breaker.record_raw(permit, outcome, None) != Recorded::Recorded {
                        return Err(format!("call {i} of {times}: expected recorded, got stale"));
                    }
                }
                Ok(())
            }
            "advance" => advance(&self.clock, step),
            "reset" => {
                self.breaker.reset();
                Ok(())
            }
            "force_open" => {
                self.breaker.force_open();
                Ok(())
            }
            "disable" => {
                self.breaker.disable();
                Ok(())
            }
            "expect_state" => {
                let want = str_field(step, "state")?;
                let got = self.breaker.state().as_str();
                if got != want {
                    return Err(format!("expected state {want:?}, got {got:?}"));
                }
                Ok(())
            }
            "expect_metrics" => {
                let m = self.breaker.metrics();
                compare_metrics(step, |k| breaker_metric(&m, k))
            }
            other => Err(format!("unknown breaker op {other:?}")),
        }
    }
}

fn run_retry(config: &Value, steps: &[Value]) -> Result<(), (usize, String)> {
    let json: RetryJson = parse(PolicyKind::Retry, config).map_err(|e| (0, e))?;
    let retry = json
        .to_config()
        .map_err(|e| e.to_string())
        .and_then(|c| {
            RetryBuilder::from_config(c)
                .clock(Clock::from(&ManualClock::new()))
                .build()
                .map_err(|e| e.to_string())
        })
        .map_err(|e| (0, e))?;
    for (i, step) in steps.iter().enumerate() {
        let result = match str_field(step, "op").map_err(|e| (i, e))? {
            "delays" => {
                let want: Vec<u128> = step
                    .get("ms")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(Value::as_f64).map(ns_of_ms).collect())
                    .unwrap_or_default();
                let got: Vec<u128> = retry.delays().map(|d| d.as_nanos()).collect();
                if got == want {
                    Ok(())
                } else {
                    Err(format!("expected delays {want:?} ns, got {got:?} ns"))
                }
            }
            other => Err(format!("unknown retry op {other:?}")),
        };
        result.map_err(|e| (i, e))?;
    }
    Ok(())
}

fn run_bulkhead(config: &Value, steps: &[Value]) -> Result<(), (usize, String)> {
    let json: BulkheadJson = parse(PolicyKind::Bulkhead, config).map_err(|e| (0, e))?;
    let clock = ManualClock::new();
    let bulkhead = json
        .to_config()
        .map_err(|e| e.to_string())
        .and_then(|c| {
            Bulkhead::builder()
                .config(c)
                .clock(Clock::from(&clock))
                .build()
                .map_err(|e| e.to_string())
        })
        .map_err(|e| (0, e))?;
    for (i, step) in steps.iter().enumerate() {
        let result = match str_field(step, "op").map_err(|e| (i, e))? {
            "try_acquire" => {
                let now = bulkhead.clock().now();
                let got = bulkhead.acquire_raw(Some(now), None).err();
                check_admission(step, got.map(|full| rejection(full.into())))
            }
            "release" => {
                let want = step
                    .get("expect")
                    .and_then(Value::as_str)
                    .unwrap_or("released");
                let got = if bulkhead.release_raw() {
                    "released"
                } else {
                    "refused"
                };
                if got == want {
                    Ok(())
                } else {
                    Err(format!("expected {want}, got {got}"))
                }
            }
            "advance" => advance(&clock, step),
            "expect_metrics" => {
                let m = bulkhead.metrics();
                compare_metrics(step, |k| {
                    Some(Metric::Count(match k {
                        "max" => u64::from(m.max),
                        "available" => u64::from(m.available),
                        "in_use" => u64::from(m.in_use),
                        "waiting" => u64::from(m.waiting),
                        "rejected" => m.rejected,
                        "peak" => u64::from(m.peak),
                        "acquired" => m.acquired,
                        _ => return None,
                    }))
                })
            }
            other => Err(format!("unknown bulkhead op {other:?}")),
        };
        result.map_err(|e| (i, e))?;
    }
    Ok(())
}

fn run_limiter(config: &Value, steps: &[Value]) -> Result<(), (usize, String)> {
    let json: LimiterJson = parse(PolicyKind::RateLimiter, config).map_err(|e| (0, e))?;
    let clock = ManualClock::new();
    let limiter = json
        .to_config()
        .map_err(|e| e.to_string())
        .and_then(|c| {
            RateLimiter::builder()
                .config(c)
                .clock(Clock::from(&clock))
                .build()
                .map_err(|e| e.to_string())
        })
        .map_err(|e| (0, e))?;
    for (i, step) in steps.iter().enumerate() {
        let result = match str_field(step, "op").map_err(|e| (i, e))? {
            "try_acquire" => {
                let n = step.get("n").and_then(Value::as_u64).unwrap_or(1);
                let got = limiter.try_acquire_n(n as u32).err();
                check_admission(step, got.map(|r| rejection(r.into())))
            }
            "advance" => advance(&clock, step),
            "expect_metrics" => {
                let m = limiter.metrics();
                compare_metrics(step, |k| {
                    Some(Metric::Count(match k {
                        "permitted" => m.permitted,
                        "rejected" => m.rejected,
                        "waited" => m.waited,
                        "available" => u64::from(m.available),
                        "burst" => u64::from(m.burst),
                        _ => return None,
                    }))
                })
            }
            other => Err(format!("unknown limiter op {other:?}")),
        };
        result.map_err(|e| (i, e))?;
    }
    Ok(())
}

/// Runs one scenario; `Err((step index, what differed))`.
fn run(scenario: &Value) -> Result<(), (usize, String)> {
    let config = scenario.get("config").cloned().unwrap_or(Value::Null);
    let steps = scenario
        .get("steps")
        .and_then(Value::as_array)
        .ok_or((0, "no \"steps\" array".to_owned()))?;
    match scenario.get("policy").and_then(Value::as_str) {
        Some("breaker") => {
            let mut run = BreakerRun::new(&config).map_err(|e| (0, e))?;
            for (i, step) in steps.iter().enumerate() {
                run.step(step).map_err(|e| (i, e))?;
            }
            Ok(())
        }
        Some("retry") => run_retry(&config, steps),
        Some("bulkhead") => run_bulkhead(&config, steps),
        Some("limiter") => run_limiter(&config, steps),
        other => Err((0, format!("unknown policy {other:?}"))),
    }
}

fn scenario_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("ffi-tests/scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_scenario_passes() {
    let files = scenario_files();
    assert!(
        files.len() >= 15,
        "expected the scenario set, found {} files",
        files.len()
    );
    let (mut passed, mut failed) = (0, 0);
    for path in &files {
        let text = std::fs::read_to_string(path).expect("readable scenario");
        let scenario: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{}: not JSON: {e}", path.display()));
        let name = scenario.get("name").and_then(Value::as_str).unwrap_or("?");
        match run(&scenario) {
            Ok(()) => {
                passed += 1;
                println!("ok   {name}");
            }
            Err((step, what)) => {
                failed += 1;
                println!("FAIL {name}: step {step}: {what}");
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    assert_eq!(
        failed, 0,
        "{failed} scenario(s) failed (see the lines above)"
    );
}
