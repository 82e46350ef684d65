//! What a breaker says about itself: the one sentence describing a transition (used by
//! the `tracing` events, [`Transition::describe`] and the C ABI's
//! `bw_breaker_describe_transition`) and, with the `tracing` feature, the events
//! themselves (transitions at INFO, or WARN when entering open or forced open;
//! rejections at DEBUG).

use std::fmt::Write;
use std::time::Duration;

use super::config::{BreakerConfig, TripPolicy, Window};
use super::events::{Transition, TransitionReason, WindowFigures};
use super::state::State;

impl Transition {
    /// One sentence describing this transition of the breaker named `name` built with
    /// `config`: `"breaker authors: closed -> open (3 consecutive failures)"`. A trip of a
    /// rate policy names the rate that tripped and the window it was measured over
    /// (`"failure rate 62.5% >= 50% over the last 8 calls"`); other transitions name their
    /// reason (`"open duration elapsed"`, `"trial succeeded"`, `"reset"`, ...). It is the
    /// text of the breaker's `tracing` event.
    ///
    /// # Examples
    ///
    /// ```
    /// use breakwater::CircuitBreaker;
    /// use std::sync::{Arc, Mutex};
    ///
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let s = seen.clone();
    /// let breaker = CircuitBreaker::builder()
    ///     .name("authors")
    ///     .consecutive_failures(3)
    ///     .on_transition(move |t| s.lock().unwrap().push(*t))
    ///     .build()?;
    /// for _ in 0..3 {
    ///     let _ = breaker.call(|| Err::<(), _>("down"));
    /// }
    /// let t = seen.lock().unwrap()[0];
    /// assert_eq!(
    ///     t.describe(breaker.name(), breaker.config()),
    ///     "breaker authors: closed -> open (3 consecutive failures)"
    /// );
    /// # Ok::<(), breakwater::ConfigError>(())
    /// ```
    pub fn describe(&self, name: &str, config: &BreakerConfig) -> String {
        describe(name, config, self.from, self.to, self.reason, self.window)
    }
}

/// The sentence of a transition (see [`Transition::describe`]); `window` is what the rate
/// window held when a rate policy tripped, if known (without it, the rule is named from
/// the configuration).
pub(crate) fn describe(
    name: &str,
    config: &BreakerConfig,
    from: State,
    to: State,
    reason: TransitionReason,
    window: Option<WindowFigures>,
) -> String {
    let mut out = format!("breaker {name}: {} -> {} (", from.as_str(), to.as_str());
    if reason == TransitionReason::ThresholdReached {
        write_trip(&mut out, &config.policy, window);
    } else {
        out.push_str(reason.as_str());
    }
    out.push(')');
    out
}

/// Why a trip policy tripped.
fn write_trip(out: &mut String, policy: &TripPolicy, sums: Option<WindowFigures>) {
    match policy {
        TripPolicy::ConsecutiveFailures { threshold } => {
            let s = if *threshold == 1 { "" } else { "s" };
            let _ = write!(out, "{threshold} consecutive failure{s}");
        }
        TripPolicy::FailuresInWindow { threshold, window } => {
            let s = if *threshold == 1 { "" } else { "s" };
            let _ = write!(out, "{threshold} failure{s} within {window:?}");
        }
        TripPolicy::FailureRate {
            threshold,
            window,
            slow,
            ..
        } => {
            let failure = sums.map(|s| ratio(s.failures, s.calls));
            match slow {
                // Both rates are watched: name the one that reached its threshold.
                Some(slow) if failure.is_some_and(|r| r < *threshold) => {
                    let rate = sums.map(|s| ratio(s.slow, s.calls));
                    write_rate(out, "slow-call", rate, slow.threshold, window, sums);
                }
                _ => write_rate(out, "failure", failure, *threshold, window, sums),
            }
        }
        TripPolicy::SlowCallRate { slow, window, .. } => {
            let rate = sums.map(|s| ratio(s.slow, s.calls));
            write_rate(out, "slow-call", rate, slow.threshold, window, sums);
        }
    }
}

fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// `failure rate 62.5% >= 50% over the last 8 calls` (count window) or `... over 8 calls
/// in the last 10s` (time window); without the figures, `failure rate >= 50% over the
/// last 100 calls`.
fn write_rate(
    out: &mut String,
    what: &str,
    rate: Option<f64>,
    threshold: f64,
    window: &Window,
    sums: Option<WindowFigures>,
) {
    let _ = write!(out, "{what} rate ");
    if let Some(r) = rate {
        let _ = write!(out, "{}% ", percent(r));
    }
    let _ = write!(out, ">= {}% over ", percent(threshold));
    match (window, sums) {
        (Window::Count(_), Some(s)) => {
            let _ = write!(out, "the last {} {}", s.calls, calls(s.calls));
        }
        (Window::Count(n), None) => {
            let _ = write!(out, "the last {n} {}", calls(u64::from(*n)));
        }
        (Window::Time(d), Some(s)) => {
            let _ = write!(
                out,
                "{} {} in the last {}",
                s.calls,
                calls(s.calls),
                span(*d)
            );
        }
        (Window::Time(d), None) => {
            let _ = write!(out, "the last {}", span(*d));
        }
    }
}

fn calls(n: u64) -> &'static str {
    if n == 1 { "call" } else { "calls" }
}

fn span(d: Duration) -> String {
    format!("{d:?}")
}

/// A ratio as a percentage with at most one decimal: `0.625` -> `62.5`, `0.5` -> `50`.
fn percent(r: f64) -> String {
    let text = format!("{:.1}", r * 100.0);
    match text.strip_suffix(".0") {
        Some(whole) => whole.to_owned(),
        None => text,
    }
}

/// Adds the `tracing` transition listener to a breaker's listeners (with the `tracing`
/// feature; without it, returns them as they are).
pub(crate) fn listeners(
    on_transition: Vec<super::events::TransitionListener>,
    config: &BreakerConfig,
) -> Vec<super::events::TransitionListener> {
    #[cfg(feature = "tracing")]
    {
        let mut on_transition = on_transition;
        let config = config.clone();
        on_transition.push(std::sync::Arc::new(move |t: &Transition| {
            transition(&config, t);
        }));
        on_transition
    }
    #[cfg(not(feature = "tracing"))]
    {
        let _ = config;
        on_transition
    }
}

/// The transition event: WARN when entering open or forced open, INFO otherwise.
#[cfg(feature = "tracing")]
fn transition(config: &BreakerConfig, t: &Transition) {
    use tracing::Level;
    let warn = matches!(t.to, State::Open | State::ForcedOpen);
    let enabled = if warn {
        tracing::enabled!(target: "breakwater::breaker", Level::WARN)
    } else {
        tracing::enabled!(target: "breakwater::breaker", Level::INFO)
    };
    if !enabled {
        return;
    }
    let text = t.describe(&config.name, config);
    if warn {
        tracing::warn!(
            target: "breakwater::breaker",
            policy = "circuit_breaker",
            name = %config.name,
            from = t.from.as_str(),
            to = t.to.as_str(),
            reason = t.reason.as_str(),
            generation = t.generation,
            "{text}"
        );
    } else {
        tracing::info!(
            target: "breakwater::breaker",
            policy = "circuit_breaker",
            name = %config.name,
            from = t.from.as_str(),
            to = t.to.as_str(),
            reason = t.reason.as_str(),
            generation = t.generation,
            "{text}"
        );
    }
}

/// A rejection (DEBUG): one call at each rejection site; costs a load and a compare when
/// DEBUG is off for everyone.
#[inline(always)]
pub(crate) fn rejected(name: &str, reason: crate::error::RejectReason) {
    #[cfg(feature = "tracing")]
    if tracing::level_enabled!(tracing::Level::DEBUG) {
        rejected_cold(name, reason);
    }
    #[cfg(not(feature = "tracing"))]
    let _ = (name, reason);
}

#[cfg(feature = "tracing")]
#[cold]
#[inline(never)]
fn rejected_cold(name: &str, reason: crate::error::RejectReason) {
    tracing::debug!(
        target: "breakwater::breaker",
        policy = "circuit_breaker",
        name,
        reason = reason.description(),
        "breaker {name}: call rejected ({reason})"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::breaker::SlowCalls;

    fn sums(calls: u64, failures: u64, slow: u64) -> Option<WindowFigures> {
        Some(WindowFigures {
            calls,
            failures,
            slow,
        })
    }

    fn trip(policy: TripPolicy, window: Option<WindowFigures>) -> String {
        let config = BreakerConfig {
            policy,
            ..Default::default()
        };
        describe(
            "authors",
            &config,
            State::Closed,
            State::Open,
            TransitionReason::ThresholdReached,
            window,
        )
    }

    #[test]
    fn consecutive_and_in_window_trips_name_their_threshold() {
        assert_eq!(
            trip(TripPolicy::ConsecutiveFailures { threshold: 3 }, None),
            "breaker authors: closed -> open (3 consecutive failures)"
        );
        assert_eq!(
            trip(TripPolicy::ConsecutiveFailures { threshold: 1 }, None),
            "breaker authors: closed -> open (1 consecutive failure)"
        );
        let p = TripPolicy::FailuresInWindow {
            threshold: 5,
            window: Duration::from_millis(1500),
        };
        assert_eq!(
            trip(p, None),
            "breaker authors: closed -> open (5 failures within 1.5s)"
        );
    }

    #[test]
    fn a_rate_trip_names_the_rate_when_it_is_known() {
        let p = TripPolicy::FailureRate {
            threshold: 0.5,
            window: Window::Count(10),
            minimum_calls: 8,
            slow: None,
        };
        assert_eq!(
            trip(p.clone(), sums(8, 5, 0)),
            "breaker authors: closed -> open (failure rate 62.5% >= 50% over the last 8 calls)"
        );
        assert_eq!(
            trip(p, None),
            "breaker authors: closed -> open (failure rate >= 50% over the last 10 calls)"
        );
        let p = TripPolicy::FailureRate {
            threshold: 0.9,
            window: Window::Time(Duration::from_secs(10)),
            minimum_calls: 3,
            slow: Some(SlowCalls {
                threshold: 0.5,
                slow_duration: Duration::from_secs(1),
            }),
        };
        assert_eq!(
            trip(p, sums(3, 1, 2)),
            "breaker authors: closed -> open (slow-call rate 66.7% >= 50% over 3 calls in the last 10s)"
        );
    }

    #[test]
    fn other_reasons_are_named() {
        let config = BreakerConfig::default();
        let text = describe(
            "db",
            &config,
            State::Open,
            State::HalfOpen,
            TransitionReason::OpenDurationElapsed,
            None,
        );
        assert_eq!(
            text,
            "breaker db: open -> half-open (open duration elapsed)"
        );
    }
}
