//! The breaker's JSON configuration ([`BreakerJson`]): its form, conversion to the
//! core's [`BreakerConfig`], schema, and the exports `bw_breaker_new_json`,
//! `bw_breaker_config_defaults_json` and `bw_breaker_config_schema_json`.
//!
//! The trip policy is one of four top-level keys (`consecutive_failures`,
//! `failures_in_window`, `failure_rate`, `slow_call_rate`); setting two is refused with
//! the core's one message (`two_trip_policies` in the breaker's configuration).

use std::ffi::{CString, c_char};
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{Shared, bw_breaker};
use crate::breaker::{
    BreakerConfig, DEFAULT_MINIMUM_CALLS, DEFAULT_RATE_WINDOW, MAX_COUNT_WINDOW, SlowCalls,
    TripPolicy, Window, two_trip_policies,
};
use crate::clock::Clock;
use crate::error::{ConfigError, PolicyKind};
use crate::ffi::clock::bw_clock;
use crate::ffi::error::{FfiError, bw_error};
use crate::ffi::json_config::{
    JsonConfig, check_name, defaults_json, ms_field, new_json, schema, schema_json, static_text,
    to_ms,
};
use crate::ffi::status::bw_status;

const POLICY: PolicyKind = PolicyKind::CircuitBreaker;

/// A rate window: exactly one of `count` (the last n outcomes) or `time_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WindowJson {
    /// The last `count` outcomes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    /// The outcomes of the last `time_ms` milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_ms: Option<f64>,
}

/// `failures_in_window`: `threshold` failures within `window_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailuresInWindowJson {
    /// Failures that open.
    pub threshold: u32,
    /// The window, from its first failure.
    pub window_ms: f64,
}

/// A slow-call rate added to `failure_rate` (`failure_rate.slow`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlowJson {
    /// The slow-call rate that opens, in (0, 1].
    pub threshold: f64,
    /// A call at least this long is slow.
    pub slow_duration_ms: f64,
}

/// `failure_rate`: the failure rate of a window.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailureRateJson {
    /// The failure rate that opens, in (0, 1].
    pub threshold: f64,
    /// The window (default: the last 100 outcomes).
    #[serde(default)]
    pub window: Option<WindowJson>,
    /// Outcomes needed before the rate counts (default 100).
    #[serde(default)]
    pub minimum_calls: Option<u32>,
    /// An optional slow-call rate over the same window.
    #[serde(default)]
    pub slow: Option<SlowJson>,
}

/// `slow_call_rate`: the slow-call rate of a window, alone.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlowCallRateJson {
    /// The slow-call rate that opens, in (0, 1].
    pub threshold: f64,
    /// A call at least this long is slow.
    pub slow_duration_ms: f64,
    /// The window (default: the last 100 outcomes).
    #[serde(default)]
    pub window: Option<WindowJson>,
    /// Outcomes needed before the rate counts (default 100).
    #[serde(default)]
    pub minimum_calls: Option<u32>,
}

/// The JSON configuration of a breaker. Every key is optional; `null` is "unset".
///
/// ```json
/// {"name": "db", "failure_rate": {"threshold": 0.5, "window": {"count": 100},
///  "minimum_calls": 20, "slow": {"threshold": 0.8, "slow_duration_ms": 2000}},
///  "open_duration_ms": 30000, "open_duration_multiplier": 2.0,
///  "open_duration_cap_ms": 300000, "half_open_max_calls": 3,
///  "half_open_max_wait_ms": 10000}
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default = "BreakerJson::unset", deny_unknown_fields)]
pub struct BreakerJson {
    /// The breaker's name.
    pub name: String,
    /// The n-th consecutive failure opens.
    pub consecutive_failures: Option<u32>,
    /// n failures within a window open.
    pub failures_in_window: Option<FailuresInWindowJson>,
    /// A failure rate (optionally with a slow-call rate) opens.
    pub failure_rate: Option<FailureRateJson>,
    /// A slow-call rate opens.
    pub slow_call_rate: Option<SlowCallRateJson>,
    /// How long the breaker stays open.
    pub open_duration_ms: f64,
    /// The growth of the open duration on consecutive re-opens.
    pub open_duration_multiplier: f64,
    /// The longest open duration when it grows.
    pub open_duration_cap_ms: Option<f64>,
    /// Admissions per half-open trial.
    pub half_open_max_calls: u32,
    /// Successes that close a trial (count policies).
    pub success_threshold: Option<u32>,
    /// How long a trial may stay undecided.
    pub half_open_max_wait_ms: Option<f64>,
    /// The closed state's interval: counts cleared and a new generation every interval.
    pub interval_ms: Option<f64>,
}

impl Default for BreakerJson {
    /// The default configuration, every key written (`consecutive_failures: 5`).
    fn default() -> Self {
        BreakerJson::from_config(&BreakerConfig::default())
    }
}

fn window_of(field: &'static str, w: Option<WindowJson>) -> Result<Window, ConfigError> {
    match w {
        None => Ok(DEFAULT_RATE_WINDOW),
        Some(WindowJson {
            count: Some(n),
            time_ms: None,
        }) => Ok(Window::Count(n)),
        Some(WindowJson {
            count: None,
            time_ms: Some(ms),
        }) => Ok(Window::Time(ms_field(POLICY, field, ms)?)),
        Some(_) => Err(ConfigError::new(
            POLICY,
            field,
            "must set exactly one of count (the last n outcomes) or time_ms",
        )),
    }
}

fn window_json(w: Window) -> WindowJson {
    match w {
        Window::Count(n) => WindowJson {
            count: Some(n),
            time_ms: None,
        },
        Window::Time(d) => WindowJson {
            count: None,
            time_ms: Some(to_ms(d)),
        },
    }
}

impl BreakerJson {
    /// Every key unset: what a JSON text that sets nothing means.
    fn unset() -> BreakerJson {
        BreakerJson {
            consecutive_failures: None,
            ..BreakerJson::default()
        }
    }

    /// The core configuration (validated by the core when the breaker is built).
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the field as written in the JSON: two trip policies, a
    /// window with both or neither of `count` and `time_ms`, a bad duration, a name
    /// longer than the limit.
    pub fn to_config(&self) -> Result<BreakerConfig, ConfigError> {
        check_name(POLICY, &self.name)?;
        let set: Vec<&'static str> = [
            ("consecutive_failures", self.consecutive_failures.is_some()),
            ("failures_in_window", self.failures_in_window.is_some()),
            ("failure_rate", self.failure_rate.is_some()),
            ("slow_call_rate", self.slow_call_rate.is_some()),
        ]
        .into_iter()
        .filter_map(|(k, on)| on.then_some(k))
        .collect();
        if let [first, second, ..] = set[..] {
            return Err(two_trip_policies(first, second));
        }
        let ms = |field, v| ms_field(POLICY, field, v);
        let policy = if let Some(n) = self.consecutive_failures {
            TripPolicy::ConsecutiveFailures { threshold: n }
        } else if let Some(f) = self.failures_in_window {
            TripPolicy::FailuresInWindow {
                threshold: f.threshold,
                window: ms("failures_in_window.window_ms", f.window_ms)?,
            }
        } else if let Some(f) = self.failure_rate {
            TripPolicy::FailureRate {
                threshold: f.threshold,
                window: window_of("failure_rate.window", f.window)?,
                minimum_calls: f.minimum_calls.unwrap_or(DEFAULT_MINIMUM_CALLS),
                slow: match f.slow {
                    None => None,
                    Some(s) => Some(SlowCalls {
                        threshold: s.threshold,
                        slow_duration: ms(
                            "failure_rate.slow.slow_duration_ms",
                            s.slow_duration_ms,
                        )?,
                    }),
                },
            }
        } else if let Some(s) = self.slow_call_rate {
            TripPolicy::SlowCallRate {
                slow: SlowCalls {
                    threshold: s.threshold,
                    slow_duration: ms("slow_call_rate.slow_duration_ms", s.slow_duration_ms)?,
                },
                window: window_of("slow_call_rate.window", s.window)?,
                minimum_calls: s.minimum_calls.unwrap_or(DEFAULT_MINIMUM_CALLS),
            }
        } else {
            TripPolicy::default()
        };
        Ok(BreakerConfig {
            name: self.name.clone(),
            policy,
            open_duration: ms("open_duration_ms", self.open_duration_ms)?,
            open_duration_multiplier: self.open_duration_multiplier,
            open_duration_cap: self
                .open_duration_cap_ms
                .map(|v| ms("open_duration_cap_ms", v))
                .transpose()?,
            half_open_max_calls: self.half_open_max_calls,
            success_threshold: self.success_threshold,
            half_open_max_wait: self
                .half_open_max_wait_ms
                .map(|v| ms("half_open_max_wait_ms", v))
                .transpose()?,
            interval: self.interval_ms.map(|v| ms("interval_ms", v)).transpose()?,
        })
    }

    /// The JSON form of a core configuration.
    pub fn from_config(c: &BreakerConfig) -> BreakerJson {
        let mut j = BreakerJson {
            name: c.name.clone(),
            consecutive_failures: None,
            failures_in_window: None,
            failure_rate: None,
            slow_call_rate: None,
            open_duration_ms: to_ms(c.open_duration),
            open_duration_multiplier: c.open_duration_multiplier,
            open_duration_cap_ms: c.open_duration_cap.map(to_ms),
            half_open_max_calls: c.half_open_max_calls,
            success_threshold: c.success_threshold,
            half_open_max_wait_ms: c.half_open_max_wait.map(to_ms),
            interval_ms: c.interval.map(to_ms),
        };
        match &c.policy {
            TripPolicy::ConsecutiveFailures { threshold } => {
                j.consecutive_failures = Some(*threshold);
            }
            TripPolicy::FailuresInWindow { threshold, window } => {
                j.failures_in_window = Some(FailuresInWindowJson {
                    threshold: *threshold,
                    window_ms: to_ms(*window),
                });
            }
            TripPolicy::FailureRate {
                threshold,
                window,
                minimum_calls,
                slow,
            } => {
                j.failure_rate = Some(FailureRateJson {
                    threshold: *threshold,
                    window: Some(window_json(*window)),
                    minimum_calls: Some(*minimum_calls),
                    slow: slow.map(|s| SlowJson {
                        threshold: s.threshold,
                        slow_duration_ms: to_ms(s.slow_duration),
                    }),
                });
            }
            TripPolicy::SlowCallRate {
                slow,
                window,
                minimum_calls,
            } => {
                j.slow_call_rate = Some(SlowCallRateJson {
                    threshold: slow.threshold,
                    slow_duration_ms: to_ms(slow.slow_duration),
                    window: Some(window_json(*window)),
                    minimum_calls: Some(*minimum_calls),
                });
            }
        }
        j
    }
}

fn window_schema() -> Value {
    let max = u64::from(MAX_COUNT_WINDOW);
    json!({"oneOf": [
        schema::object(vec![("count", schema::integer(1, max, "the last n outcomes"))], &["count"]),
        schema::object(vec![("time_ms", schema::ms("the outcomes of the last t ms"))], &["time_ms"]),
    ], "description": "default: the last 100 outcomes"})
}

fn minimum_calls_schema() -> Value {
    schema::integer(
        1,
        u64::from(MAX_COUNT_WINDOW),
        "outcomes the window must hold before the rate counts (default 100)",
    )
}

impl JsonConfig for BreakerJson {
    const POLICY: PolicyKind = POLICY;
    type Handle = bw_breaker;

    fn build(self, clock: Clock) -> Result<bw_breaker, FfiError> {
        let shared = Shared::build(self.to_config()?, clock, None)?;
        Ok(bw_breaker { shared })
    }

    fn schema() -> Value {
        let u32max = u64::from(u32::MAX);
        let trip = |key: &str, value: Value| json!({"required": [key], "properties": {key: value}});
        let trips = [
            "consecutive_failures",
            "failures_in_window",
            "failure_rate",
            "slow_call_rate",
        ];
        let mut object = schema::object(
            vec![
                ("name", schema::name("the breaker's name")),
                (
                    "consecutive_failures",
                    schema::nullable(schema::integer(
                        1,
                        u32max,
                        "the n-th consecutive failure opens",
                    )),
                ),
                (
                    "failures_in_window",
                    schema::nullable(schema::object(
                        vec![
                            (
                                "threshold",
                                schema::integer(1, u32max, "failures that open"),
                            ),
                            (
                                "window_ms",
                                schema::ms("the window, from its first failure (> 0)"),
                            ),
                        ],
                        &["threshold", "window_ms"],
                    )),
                ),
                (
                    "failure_rate",
                    schema::nullable(schema::object(
                        vec![
                            ("threshold", schema::rate("the failure rate that opens")),
                            ("window", window_schema()),
                            ("minimum_calls", minimum_calls_schema()),
                            (
                                "slow",
                                schema::nullable(schema::object(
                                    vec![
                                        (
                                            "threshold",
                                            schema::rate("the slow-call rate that opens"),
                                        ),
                                        (
                                            "slow_duration_ms",
                                            schema::ms("a call this long is slow (> 0)"),
                                        ),
                                    ],
                                    &["threshold", "slow_duration_ms"],
                                )),
                            ),
                        ],
                        &["threshold"],
                    )),
                ),
                (
                    "slow_call_rate",
                    schema::nullable(schema::object(
                        vec![
                            ("threshold", schema::rate("the slow-call rate that opens")),
                            (
                                "slow_duration_ms",
                                schema::ms("a call this long is slow (> 0)"),
                            ),
                            ("window", window_schema()),
                            ("minimum_calls", minimum_calls_schema()),
                        ],
                        &["threshold", "slow_duration_ms"],
                    )),
                ),
                (
                    "open_duration_ms",
                    schema::ms("how long the breaker stays open (> 0)"),
                ),
                (
                    "open_duration_multiplier",
                    json!({"type": "number", "minimum": 1, "description": "growth of the open duration on consecutive re-opens"}),
                ),
                (
                    "open_duration_cap_ms",
                    schema::nullable(schema::ms(
                        "the longest open duration (>= open_duration_ms); null: none",
                    )),
                ),
                (
                    "half_open_max_calls",
                    schema::integer(1, u32max, "admissions per half-open trial"),
                ),
                (
                    "success_threshold",
                    schema::nullable(schema::integer(
                        1,
                        u32max,
                        "successes that close a trial (<= half_open_max_calls; count policies only); null: the trial size",
                    )),
                ),
                (
                    "half_open_max_wait_ms",
                    schema::nullable(schema::ms(
                        "how long a trial may stay undecided (> 0); null: the open duration",
                    )),
                ),
                (
                    "interval_ms",
                    schema::nullable(schema::ms(
                        "the closed state's interval: counts cleared and a new generation every interval (> 0; count policies only); null: never",
                    )),
                ),
            ],
            &[],
        );
        // The trip policy: at most one of the four keys set (not null); none means
        // consecutive_failures 5.
        let set = |k: &str| trip(k, json!({"not": {"type": "null"}}));
        let mut one_of: Vec<Value> = trips.iter().map(|k| set(k)).collect();
        one_of.push(json!({"not": {"anyOf": trips.iter().map(|k| set(k)).collect::<Vec<_>>()}}));
        if let Value::Object(m) = &mut object {
            m.insert("oneOf".into(), Value::Array(one_of));
        }
        object
    }
}

/// Builds a breaker from JSON configuration (`json`, `json_len` bytes of UTF-8; empty,
/// or NULL with length 0, for the defaults) into `*out`, on `clock` (may be NULL: the
/// monotonic clock; it may be freed after the call). No event callback: events can be
/// polled with `bw_breaker_poll_events` (or use `bw_breaker_new_json_with_callback`).
/// Free it with `bw_breaker_free`.
///
/// Keys (all optional, `null` is unset; `bw_breaker_config_schema_json` has the schema,
/// `bw_breaker_config_defaults_json` the defaults): `name` (at most 128 bytes); one trip
/// policy of `consecutive_failures` (n), `failures_in_window` (`{"threshold",
/// "window_ms"}`), `failure_rate` (`{"threshold", "window", "minimum_calls", "slow":
/// {"threshold", "slow_duration_ms"}}`), `slow_call_rate` (`{"threshold",
/// "slow_duration_ms", "window", "minimum_calls"}`), where a `window` is `{"count": n}`
/// or `{"time_ms": t}` (default the last 100 outcomes, `minimum_calls` 100); none is
/// `consecutive_failures` 5; `open_duration_ms`, `open_duration_multiplier`,
/// `open_duration_cap_ms`, `half_open_max_calls`, `success_threshold`,
/// `half_open_max_wait_ms`, `interval_ms`. Durations are milliseconds, fractions allowed.
///
/// `BW_INVALID_CONFIG` (the message names the key as written, e.g.
/// `failure_rate.threshold`) for malformed JSON, an unknown key, two trip policies or a
/// value out of range; `BW_INVALID_ARGUMENT` for a NULL `out`, or a NULL `json` with a
/// non-zero `json_len`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bw_breaker_new_json(
    json: *const c_char,
    json_len: usize,
    clock: *const bw_clock,
    out: *mut *mut bw_breaker,
    err: *mut bw_error,
) -> bw_status {
    // SAFETY: the parameters are as documented for `new_json`.
    unsafe { new_json::<BreakerJson>(json, json_len, clock, out, err) }
}

/// The default breaker configuration as JSON text (static, NUL-terminated, never
/// freed): every key `bw_breaker_new_json` accepts, unset ones as `null`.
#[unsafe(no_mangle)]
pub extern "C" fn bw_breaker_config_defaults_json() -> *const c_char {
    static TEXT: OnceLock<CString> = OnceLock::new();
    ffi_boundary_value!(std::ptr::null(), {
        static_text(&TEXT, defaults_json::<BreakerJson>)
    })
}

/// The JSON Schema (draft 2020-12) of the breaker configuration (static,
/// NUL-terminated, never freed): types, ranges, defaults, and a `oneOf` for the trip
/// policy.
#[unsafe(no_mangle)]
pub extern "C" fn bw_breaker_config_schema_json() -> *const c_char {
    static TEXT: OnceLock<CString> = OnceLock::new();
    ffi_boundary_value!(std::ptr::null(), {
        static_text(&TEXT, schema_json::<BreakerJson>)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::breaker::CircuitBreaker;
    use crate::ffi::json_config::config_from_json;
    use std::time::Duration;

    /// The configuration the text gives, or the message of its error (parse or build).
    fn parse(text: &str) -> Result<BreakerConfig, String> {
        let j: BreakerJson =
            config_from_json(POLICY, text.as_bytes()).map_err(|e| e.message.to_string())?;
        let c = j.to_config().map_err(|e| e.to_string())?;
        CircuitBreaker::from_config(c.clone()).map_err(|e| e.to_string())?;
        Ok(c)
    }

    fn error(text: &str) -> String {
        parse(text).expect_err(text)
    }

    #[test]
    fn every_policy_round_trips_through_json() {
        let slow = SlowCalls {
            threshold: 0.8,
            slow_duration: Duration::from_micros(2500),
        };
        let policies = [
            TripPolicy::ConsecutiveFailures { threshold: 3 },
            TripPolicy::FailuresInWindow {
                threshold: 4,
                window: Duration::from_secs(10),
            },
            TripPolicy::FailureRate {
                threshold: 0.5,
                window: Window::Time(Duration::from_millis(1500)),
                minimum_calls: 5,
                slow: Some(slow),
            },
            TripPolicy::SlowCallRate {
                slow,
                window: Window::Count(20),
                minimum_calls: 20,
            },
        ];
        for policy in policies {
            let config = BreakerConfig {
                name: "x".into(),
                policy,
                open_duration_cap: Some(Duration::from_secs(600)),
                half_open_max_wait: Some(Duration::from_nanos(1)),
                success_threshold: None,
                ..BreakerConfig::default()
            };
            let text = serde_json::to_string(&BreakerJson::from_config(&config)).unwrap();
            assert_eq!(parse(&text).unwrap(), config, "{text}");
        }
    }

    #[test]
    fn the_defaults_json_is_the_default_configuration_and_parses_back() {
        let text = defaults_json::<BreakerJson>();
        assert_eq!(parse(&text).unwrap(), BreakerConfig::default());
        assert_eq!(parse("").unwrap(), BreakerConfig::default());
        assert_eq!(parse("{}").unwrap(), BreakerConfig::default());
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["consecutive_failures"], json!(5));
        assert_eq!(v["failure_rate"], Value::Null);
        assert_eq!(v["open_duration_ms"], json!(60000.0));
    }

    #[test]
    fn the_schema_lists_every_key_of_the_defaults_with_its_default() {
        let schema: Value = serde_json::from_str(&schema_json::<BreakerJson>()).unwrap();
        let defaults: Value = serde_json::from_str(&defaults_json::<BreakerJson>()).unwrap();
        let props = schema["properties"].as_object().unwrap();
        let keys = defaults.as_object().unwrap();
        assert_eq!(
            props.keys().collect::<Vec<_>>(),
            keys.keys().collect::<Vec<_>>()
        );
        for (k, v) in keys {
            assert_eq!(&props[k]["default"], v, "{k}");
        }
        assert_eq!(schema["oneOf"].as_array().unwrap().len(), 5);
        assert_eq!(schema["additionalProperties"], json!(false));
    }

    #[test]
    fn durations_are_milliseconds_with_fractions() {
        let c = parse(r#"{"open_duration_ms": 0.5, "half_open_max_wait_ms": null}"#).unwrap();
        assert_eq!(c.open_duration, Duration::from_micros(500));
        assert_eq!(c.half_open_max_wait, None);
    }

    #[test]
    fn two_trip_policies_are_refused_with_the_core_message() {
        let e = error(r#"{"consecutive_failures": 3, "failure_rate": {"threshold": 0.5}}"#);
        assert_eq!(
            e,
            two_trip_policies("consecutive_failures", "failure_rate").to_string()
        );
        assert_eq!(
            e,
            "invalid circuit breaker configuration: consecutive_failures and failure_rate are \
             both set: a breaker has one trip policy (to count slow calls with a failure rate, \
             set failure_rate.slow)"
        );
        // The Rust builder gives the same message.
        let b = CircuitBreaker::builder()
            .consecutive_failures(3)
            .failure_rate(0.5, Window::Count(10), 10)
            .build()
            .unwrap_err();
        assert_eq!(b.to_string(), e);
    }

    /// Every key of the breaker configuration, with a bad value, gives a message naming
    /// it as written in the JSON.
    #[test]
    fn every_field_error_names_the_field_as_written() {
        let cases: &[(&str, &str)] = &[
            (r#"{"name": ""}"#, "name must not be empty"),
            (
                r#"{"name": 5}"#,
                "name: invalid type: integer `5`, expected a string",
            ),
            (
                r#"{"consecutive_failures": 0}"#,
                "consecutive_failures must be at least 1",
            ),
            (
                r#"{"consecutive_failures": -1}"#,
                "consecutive_failures: invalid value: integer `-1`, expected u32",
            ),
            (
                r#"{"failures_in_window": {"threshold": 0, "window_ms": 10}}"#,
                "failures_in_window.threshold must be at least 1",
            ),
            (
                r#"{"failures_in_window": {"threshold": 2, "window_ms": 0}}"#,
                "failures_in_window.window_ms must be greater than zero",
            ),
            (
                r#"{"failures_in_window": {"threshold": 2}}"#,
                "failures_in_window.window_ms is required",
            ),
            (
                r#"{"failure_rate": {"threshold": 1.5}}"#,
                "failure_rate.threshold must be in (0, 1], got 1.5",
            ),
            (
                r#"{"failure_rate": {}}"#,
                "failure_rate.threshold is required",
            ),
            (
                r#"{"failure_rate": {"threshold": 0.5, "window": {"count": 0}}}"#,
                "failure_rate.window must hold at least 1 outcome (count >= 1)",
            ),
            (
                r#"{"failure_rate": {"threshold": 0.5, "window": {"count": 5, "time_ms": 5}}}"#,
                "failure_rate.window must set exactly one of count (the last n outcomes) or time_ms",
            ),
            (
                r#"{"failure_rate": {"threshold": 0.5, "window": {"time_ms": -1}}}"#,
                "failure_rate.window must be a non-negative number of milliseconds, got -1",
            ),
            (
                r#"{"failure_rate": {"threshold": 0.5, "minimum_calls": 0}}"#,
                "failure_rate.minimum_calls must be at least 1",
            ),
            (
                r#"{"failure_rate": {"threshold": 0.5, "window": {"count": 10}, "minimum_calls": 20}}"#,
                "failure_rate.minimum_calls must not exceed the count window's size (10), got 20",
            ),
            (
                r#"{"failure_rate": {"threshold": 0.5, "slow": {"threshold": 0, "slow_duration_ms": 1}}}"#,
                "failure_rate.slow.threshold must be in (0, 1], got 0",
            ),
            (
                r#"{"failure_rate": {"threshold": 0.5, "slow": {"threshold": 0.5, "slow_duration_ms": 0}}}"#,
                "failure_rate.slow.slow_duration_ms must be greater than zero",
            ),
            (
                r#"{"failure_rate": {"threshold": 0.5, "treshold": 0.5}}"#,
                "unknown key \"treshold\" in failure_rate (did you mean \"threshold\"?)",
            ),
            (
                r#"{"slow_call_rate": {"threshold": 2, "slow_duration_ms": 5}}"#,
                "slow_call_rate.threshold must be in (0, 1], got 2",
            ),
            (
                r#"{"slow_call_rate": {"threshold": 0.5, "slow_duration_ms": 0}}"#,
                "slow_call_rate.slow_duration_ms must be greater than zero",
            ),
            (
                r#"{"slow_call_rate": {"threshold": 0.5, "slow_duration_ms": 5, "minimum_calls": 0}}"#,
                "slow_call_rate.minimum_calls must be at least 1",
            ),
            (
                r#"{"slow_call_rate": {"threshold": 0.5, "slow_duration_ms": 5, "window": {}}}"#,
                "slow_call_rate.window must set exactly one of count (the last n outcomes) or time_ms",
            ),
            (
                r#"{"open_duration_ms": 0}"#,
                "open_duration_ms must be greater than zero",
            ),
            (
                r#"{"open_duration_ms": -3}"#,
                "open_duration_ms must be a non-negative number of milliseconds, got -3",
            ),
            (
                r#"{"open_duration_ms": 1e300}"#,
                "open_duration_ms is too large: 1e300 ms (at most 2^64 - 1 ns)",
            ),
            (
                r#"{"open_duration_multiplier": 0.5}"#,
                "open_duration_multiplier must be a finite number of at least 1.0, got 0.5",
            ),
            (
                r#"{"open_duration_cap_ms": 10}"#,
                "open_duration_cap_ms must not be less than open_duration_ms (60s), got 10ms",
            ),
            (
                r#"{"half_open_max_calls": 0}"#,
                "half_open_max_calls must be at least 1",
            ),
            (
                r#"{"success_threshold": 0}"#,
                "success_threshold must be at least 1",
            ),
            (
                r#"{"half_open_max_calls": 2, "success_threshold": 3}"#,
                "success_threshold must not exceed half_open_max_calls (2), got 3",
            ),
            (
                r#"{"failure_rate": {"threshold": 0.5}, "success_threshold": 1}"#,
                "success_threshold applies to count policies only: a rate policy decides a trial on its rate",
            ),
            (
                r#"{"half_open_max_wait_ms": 0}"#,
                "half_open_max_wait_ms must be greater than zero",
            ),
            (
                r#"{"open_duration": 5}"#,
                "unknown key \"open_duration\" (did you mean \"open_duration_ms\"?)",
            ),
        ];
        for (text, want) in cases {
            let got = error(text);
            assert_eq!(
                got,
                format!("invalid circuit breaker configuration: {want}"),
                "{text}"
            );
            assert!(!got.contains(" at line "), "{got}");
        }
        let long = format!(r#"{{"name": "{}"}}"#, "n".repeat(129));
        assert_eq!(
            error(&long),
            "invalid circuit breaker configuration: name is 129 bytes long: at most 128 bytes"
        );
    }
}
