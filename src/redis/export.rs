//! The shared policies in the registry's exports: their samples for
//! [`prometheus`](crate::exposition::prometheus) and their components for
//! [`health_report`](crate::exposition::health_report).
//!
//! # Metric families
//!
//! A shared breaker writes the **same families as a local breaker**
//! (`breakwater_breaker_state`, `_requests_total`, ..., with the labels `breaker`,
//! `service` and `instance`) plus the label `shared="redis"`, so that a dashboard built for
//! local breakers shows shared ones unchanged and can still tell them apart. Its counts
//! are this process's (what it admitted, recorded and rejected), the state is the one it
//! acts on. A shared rate limiter likewise writes `breakwater_rate_limiter_permitted_total`
//! and `_rejected_total` with `shared="redis"` (it has no `waited` count and no local
//! `available` gauge: the permits free are known only to Redis).
//!
//! What only a shared policy has goes into separate `breakwater_redis_*` families, with
//! the labels `policy` (`breaker` or `rate_limiter`) and `name`:
//!
//! | family | type | what |
//! |---|---|---|
//! | `redis_degraded` | gauge | 1 while Redis is unreachable (the policy works locally), else 0 |
//! | `redis_commands_total` | counter | Redis commands sent |
//! | `redis_errors_total` | counter | operations that failed (unreachable or too slow) |
//! | `redis_degradations_total`, `redis_resyncs_total` | counter | times Redis was lost, and found again |
//! | `redis_notifications_total`, `redis_polls_total` | counter | transitions heard over pub/sub, polls of the shared state |
//! | `redis_batches_total`, `redis_outcomes_lost_total` | counter | outcome batches sent, outcomes lost to an outage |
//! | `redis_script_reloads_total` | counter | scripts loaded again after a `SCRIPT FLUSH` |
//! | `redis_stale_dropped_total` | counter | outcomes of an ended generation dropped (breakers) |
//! | `redis_generation` | gauge | the shared generation as this process knows it (breakers) |
//! | `redis_fleet_failures`, `redis_fleet_successes` | gauge | the fleet's counts of the current generation (breakers) |
//!
//! # Health
//!
//! A shared breaker is the component `redis_breaker:NAME` (prefixed so that it never
//! collides with a local breaker of the same name in the report): the status of its
//! state as for a local breaker (up closed, degraded half-open, down open), and at least
//! `DEGRADED` while Redis is unreachable; details `state`, `redis` (`"healthy"` or
//! `"degraded"`) and `generation`. A shared rate limiter is `redis_limiter:NAME`: up, or
//! degraded while Redis is unreachable; details `redis`.

use crate::breaker::State;
use crate::exposition::{Collector, Detail, Exporter, Health as Report, Status};
use crate::report::breaker_status;

use super::breaker::SharedBreaker;
use super::health::{Health, RedisMetrics};
use super::limiter::SharedRateLimiter;

/// The label value of `shared`.
const SHARED: &str = "redis";

/// `"healthy"` or `"degraded"`, as in the health details.
fn redis_word(h: Health) -> &'static str {
    match h {
        Health::Healthy => "healthy",
        Health::Degraded => "degraded",
    }
}

/// The `breakwater_redis_*` families common to both policies.
fn redis_samples(out: &mut Collector, l: &[(&'static str, &str)], h: Health, m: &RedisMetrics) {
    out.gauge(
        "breakwater_redis_degraded",
        "1 while Redis is unreachable and the policy works on local state",
        l,
        if h == Health::Degraded { 1.0 } else { 0.0 },
    );
    for (name, help, v) in [
        (
            "breakwater_redis_commands_total",
            "Redis commands sent",
            m.commands,
        ),
        (
            "breakwater_redis_errors_total",
            "Redis operations that failed (unreachable or too slow)",
            m.errors,
        ),
        (
            "breakwater_redis_degradations_total",
            "Times the policy lost Redis",
            m.degraded,
        ),
        (
            "breakwater_redis_resyncs_total",
            "Times the policy found Redis again and resynchronised",
            m.resyncs,
        ),
        (
            "breakwater_redis_notifications_total",
            "Transition notifications received over pub/sub",
            m.notifications,
        ),
        (
            "breakwater_redis_polls_total",
            "Polls of the shared state",
            m.polls,
        ),
        (
            "breakwater_redis_batches_total",
            "Outcome batches sent",
            m.batches,
        ),
        (
            "breakwater_redis_outcomes_lost_total",
            "Outcomes that could not be sent because Redis was down",
            m.outcomes_lost,
        ),
        (
            "breakwater_redis_script_reloads_total",
            "Scripts loaded again after the server forgot them",
            m.script_reloads,
        ),
    ] {
        out.counter(name, help, l, v);
    }
}

/// The code of `breakwater_breaker_state`.
fn state_value(state: State) -> f64 {
    match state {
        State::Closed => 0.0,
        State::Open => 1.0,
        State::HalfOpen => 2.0,
        State::ForcedOpen => 3.0,
        _ => 4.0,
    }
}

impl Exporter for SharedBreaker {
    fn samples(&self, out: &mut Collector) {
        let m = self.metrics();
        let t = m.totals;
        let name = self.name();
        let l = [
            ("breaker", name),
            ("service", ""),
            ("instance", ""),
            ("shared", SHARED),
        ];
        out.gauge(
            "breakwater_breaker_state",
            "0 closed, 1 open, 2 half-open, 3 forced open, 4 disabled",
            &l,
            state_value(m.state),
        );
        for (family, help, v) in [
            (
                "breakwater_breaker_requests_total",
                "Calls the breaker admitted",
                t.requests,
            ),
            (
                "breakwater_breaker_successes_total",
                "Recorded successes",
                t.successes,
            ),
            (
                "breakwater_breaker_failures_total",
                "Recorded failures",
                t.failures,
            ),
            (
                "breakwater_breaker_ignored_total",
                "Recorded ignored outcomes",
                t.ignored,
            ),
        ] {
            out.counter(family, help, &l, v);
        }
        for (reason, v) in [
            ("open", t.rejected_open),
            ("trial_full", t.rejected_trial_full),
            ("forced_open", t.rejected_forced_open),
        ] {
            let l = [l[0], l[1], l[2], ("reason", reason), l[3]];
            out.counter(
                "breakwater_breaker_rejected_total",
                "Calls rejected, by reason",
                &l,
                v,
            );
        }
        out.counter(
            "breakwater_breaker_transitions_total",
            "State changes",
            &l,
            t.transitions,
        );
        out.counter(
            "breakwater_breaker_opened_total",
            "Times the breaker opened",
            &l,
            t.opened,
        );
        let r = [("policy", "breaker"), ("name", name)];
        redis_samples(out, &r, self.health(), &self.redis_metrics());
        out.counter(
            "breakwater_redis_stale_dropped_total",
            "Outcomes of an ended generation dropped",
            &r,
            t.stale_dropped,
        );
        let fleet = self.fleet();
        out.gauge(
            "breakwater_redis_generation",
            "The shared generation as this process knows it",
            &r,
            self.generation() as f64,
        );
        out.gauge(
            "breakwater_redis_fleet_failures",
            "Failures of the current generation, every process together",
            &r,
            fleet.failures as f64,
        );
        out.gauge(
            "breakwater_redis_fleet_successes",
            "Successes of the current generation, every process together",
            &r,
            fleet.successes as f64,
        );
    }

    fn health(&self, out: &mut Report) {
        let (status, details) = breaker_health(self);
        out.push(&format!("redis_breaker:{}", self.name()), status, details);
    }
}

/// A shared breaker's health status and details (the report's component, and the C
/// ABI's `_health`).
pub(crate) fn breaker_health(b: &SharedBreaker) -> (Status, Vec<(&'static str, Detail<'static>)>) {
    let health = b.health();
    let state = b.state();
    let status = breaker_status(state).max(health.status());
    (
        status,
        vec![
            ("state", Detail::Str(state.as_str())),
            ("redis", Detail::Str(redis_word(health))),
            ("generation", Detail::UInt(b.generation())),
        ],
    )
}

impl Exporter for SharedRateLimiter {
    fn samples(&self, out: &mut Collector) {
        let (granted, rejected) = self.granted_rejected();
        let name = self.name();
        let l = [("limiter", name), ("shared", SHARED)];
        out.counter(
            "breakwater_rate_limiter_permitted_total",
            "Acquisitions granted",
            &l,
            granted,
        );
        out.counter(
            "breakwater_rate_limiter_rejected_total",
            "Acquisitions refused",
            &l,
            rejected,
        );
        let r = [("policy", "rate_limiter"), ("name", name)];
        redis_samples(out, &r, self.health(), &self.redis_metrics());
    }

    fn health(&self, out: &mut Report) {
        let health = self.health();
        out.push(
            &format!("redis_limiter:{}", self.name()),
            health.status(),
            vec![("redis", Detail::Str(redis_word(health)))],
        );
    }
}
