//! The one place that knows every exported policy: how a breaker, a bulkhead, a rate
//! limiter and a thread pool describe themselves as metric samples and health components
//! (the [`Exporter`]s that their registry accessors attach), and the health status of a
//! breaker's state. `exposition` writes the formats and knows no policy; the HTTP service
//! client implements [`Exporter`] itself and uses the helpers here for its breakers,
//! bulkhead and rate limiter.

use crate::breaker::{CircuitBreaker, State};
use crate::bulkhead::Bulkhead;
use crate::exposition::{Collector, Detail, Exporter, Health, Status};
use crate::pool::ThreadPool;
use crate::ratelimit::RateLimiter;

/// The health of a breaker's state: closed or disabled is up, half-open degraded, open
/// down.
pub(crate) fn breaker_status(state: State) -> Status {
    match state {
        State::Closed | State::Disabled => Status::Up,
        State::HalfOpen => Status::Degraded,
        _ => Status::Down,
    }
}

impl Exporter for CircuitBreaker {
    fn samples(&self, out: &mut Collector) {
        out.breaker(self, "", "");
    }

    fn health(&self, out: &mut Health) {
        let state = self.state();
        out.push(
            self.name(),
            breaker_status(state),
            vec![("state", Detail::Str(state.as_str()))],
        );
    }
}

impl Exporter for Bulkhead {
    fn samples(&self, out: &mut Collector) {
        out.bulkhead(self, self.name());
    }
}

impl Exporter for RateLimiter {
    fn samples(&self, out: &mut Collector) {
        out.limiter(self, self.name());
    }
}

impl Exporter for ThreadPool {
    fn samples(&self, out: &mut Collector) {
        out.pool(self, self.name());
    }
}

impl Collector {
    pub(crate) fn breaker(&mut self, b: &CircuitBreaker, service: &str, instance: &str) {
        let m = b.metrics();
        let l = [
            ("breaker", b.name()),
            ("service", service),
            ("instance", instance),
        ];
        let state = match m.state {
            State::Closed => 0.0,
            State::Open => 1.0,
            State::HalfOpen => 2.0,
            State::ForcedOpen => 3.0,
            _ => 4.0,
        };
        let t = m.totals;
        self.gauge(
            "breakwater_breaker_state",
            "0 closed, 1 open, 2 half-open, 3 forced open, 4 disabled",
            &l,
            state,
        );
        self.counter(
            "breakwater_breaker_requests_total",
            "Calls the breaker admitted",
            &l,
            t.requests,
        );
        self.counter(
            "breakwater_breaker_successes_total",
            "Recorded successes",
            &l,
            t.successes,
        );
        self.counter(
            "breakwater_breaker_failures_total",
            "Recorded failures",
            &l,
            t.failures,
        );
        self.counter(
            "breakwater_breaker_ignored_total",
            "Recorded ignored outcomes",
            &l,
            t.ignored,
        );
        for (reason, v) in [
            ("open", t.rejected_open),
            ("trial_full", t.rejected_trial_full),
            ("forced_open", t.rejected_forced_open),
        ] {
            let l = [l[0], l[1], l[2], ("reason", reason)];
            self.counter(
                "breakwater_breaker_rejected_total",
                "Calls rejected, by reason",
                &l,
                v,
            );
        }
        self.counter(
            "breakwater_breaker_transitions_total",
            "State changes",
            &l,
            t.transitions,
        );
        self.counter(
            "breakwater_breaker_opened_total",
            "Times the breaker opened",
            &l,
            t.opened,
        );
    }

    pub(crate) fn bulkhead(&mut self, b: &Bulkhead, name: &str) {
        let m = b.metrics();
        let l = [("bulkhead", name)];
        self.gauge(
            "breakwater_bulkhead_in_use",
            "Permits held",
            &l,
            f64::from(m.in_use),
        );
        self.gauge(
            "breakwater_bulkhead_available",
            "Permits free",
            &l,
            f64::from(m.available),
        );
        self.gauge(
            "breakwater_bulkhead_waiting",
            "Callers waiting",
            &l,
            f64::from(m.waiting),
        );
        self.gauge(
            "breakwater_bulkhead_max",
            "max_concurrent",
            &l,
            f64::from(m.max),
        );
        self.gauge(
            "breakwater_bulkhead_peak",
            "Highest in_use seen",
            &l,
            f64::from(m.peak),
        );
        self.counter(
            "breakwater_bulkhead_acquired_total",
            "Permits granted",
            &l,
            m.acquired,
        );
        self.counter(
            "breakwater_bulkhead_rejected_total",
            "Acquisitions refused",
            &l,
            m.rejected,
        );
    }

    pub(crate) fn limiter(&mut self, r: &RateLimiter, name: &str) {
        let m = r.metrics();
        let l = [("limiter", name)];
        self.counter(
            "breakwater_rate_limiter_permitted_total",
            "Acquisitions granted",
            &l,
            m.permitted,
        );
        self.counter(
            "breakwater_rate_limiter_rejected_total",
            "Acquisitions refused",
            &l,
            m.rejected,
        );
        self.counter(
            "breakwater_rate_limiter_waited_total",
            "Granted after waiting",
            &l,
            m.waited,
        );
        self.gauge(
            "breakwater_rate_limiter_available",
            "Permits free now",
            &l,
            f64::from(m.available),
        );
    }

    pub(crate) fn pool(&mut self, p: &ThreadPool, name: &str) {
        let m = p.metrics();
        let l = [("pool", name)];
        self.gauge(
            "breakwater_pool_workers",
            "Configured workers",
            &l,
            f64::from(m.workers),
        );
        self.gauge(
            "breakwater_pool_busy",
            "Workers running a task",
            &l,
            f64::from(m.busy),
        );
        self.gauge(
            "breakwater_pool_queue_depth",
            "Tasks queued",
            &l,
            f64::from(m.queue_depth),
        );
        self.counter(
            "breakwater_pool_completed_total",
            "Tasks completed",
            &l,
            m.completed,
        );
        self.counter(
            "breakwater_pool_rejected_total",
            "Tasks refused",
            &l,
            m.rejected,
        );
        self.counter(
            "breakwater_pool_panicked_total",
            "Tasks that panicked",
            &l,
            m.panicked,
        );
        self.counter(
            "breakwater_pool_cancelled_total",
            "Tasks cancelled",
            &l,
            m.cancelled,
        );
    }
}
