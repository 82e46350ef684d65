//! Active health checks: a background thread probes every instance of a [`Balancer`] at an
//! interval and marks it down or up.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use super::balance::Balancer;
use crate::clock::{Clock, Monitor};
use crate::error::{ConfigError, PolicyKind};

type Probe = Arc<dyn Fn(&str) -> bool + Send + Sync>;

#[derive(Default)]
struct State {
    stop: bool,
    exited: bool,
    rounds: u64,
}

/// How [`HealthChecker::stop`] ended.
///
/// ```
/// assert!(breakwater::http::StopResult::Stopped.is_stopped());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StopResult {
    /// The thread finished and was joined.
    Stopped,
    /// The thread was still inside a probe when the stop timeout passed. It is detached and
    /// ends on its own when the probe returns; it probes nothing more.
    TimedOut,
}

impl StopResult {
    /// `true` for [`StopResult::Stopped`].
    ///
    /// ```
    /// assert!(!breakwater::http::StopResult::TimedOut.is_stopped());
    /// ```
    pub fn is_stopped(self) -> bool {
        self == StopResult::Stopped
    }
}

/// Marks the checker's thread as finished when dropped (even by a panic).
struct Exit<'a>(&'a Monitor<State>);

impl Drop for Exit<'_> {
    fn drop(&mut self) {
        self.0.lock().exited = true;
        self.0.notify_all();
    }
}

/// Configures and starts a [`HealthChecker`]; made by [`HealthChecker::builder`].
///
/// ```
/// use std::time::Duration;
/// use breakwater::http::{Balancer, HealthChecker};
///
/// let lb = Balancer::new(["http://a.local"], Default::default()).unwrap();
/// let e = HealthChecker::builder(&lb, |_| true).interval(Duration::ZERO).start().unwrap_err();
/// assert_eq!(e.field, "interval");
/// ```
#[must_use = "a builder does nothing until `start` is called"]
pub struct HealthCheckerBuilder {
    balancer: Balancer,
    probe: Probe,
    interval: Duration,
    clock: Clock,
    unhealthy_threshold: u32,
    healthy_threshold: u32,
    stop_timeout: Duration,
}

impl fmt::Debug for HealthCheckerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HealthCheckerBuilder")
            .field("interval", &self.interval)
            .field("unhealthy_threshold", &self.unhealthy_threshold)
            .field("healthy_threshold", &self.healthy_threshold)
            .field("stop_timeout", &self.stop_timeout)
            .finish_non_exhaustive()
    }
}

impl HealthCheckerBuilder {
    /// The time between the end of one round of probes and the start of the next.
    /// Defaults to 10 s.
    ///
    /// ```
    /// # let lb = breakwater::http::Balancer::new(["http://a.local"], Default::default()).unwrap();
    /// let b = breakwater::http::HealthChecker::builder(&lb, |_| true)
    ///     .interval(std::time::Duration::from_secs(5));
    /// ```
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// The clock the interval and the stop timeout are measured on. Defaults to the
    /// monotonic clock.
    ///
    /// ```
    /// # let lb = breakwater::http::Balancer::new(["http://a.local"], Default::default()).unwrap();
    /// let b = breakwater::http::HealthChecker::builder(&lb, |_| true)
    ///     .clock(breakwater::ManualClock::new().into());
    /// ```
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Consecutive failed probes that mark a healthy instance down. Defaults to 1.
    ///
    /// ```
    /// # let lb = breakwater::http::Balancer::new(["http://a.local"], Default::default()).unwrap();
    /// let b = breakwater::http::HealthChecker::builder(&lb, |_| true).unhealthy_threshold(3);
    /// ```
    pub fn unhealthy_threshold(mut self, probes: u32) -> Self {
        self.unhealthy_threshold = probes;
        self
    }

    /// Consecutive successful probes that mark an instance that is down up again.
    /// Defaults to 1.
    ///
    /// ```
    /// # let lb = breakwater::http::Balancer::new(["http://a.local"], Default::default()).unwrap();
    /// let b = breakwater::http::HealthChecker::builder(&lb, |_| true).healthy_threshold(2);
    /// ```
    pub fn healthy_threshold(mut self, probes: u32) -> Self {
        self.healthy_threshold = probes;
        self
    }

    /// How long [`HealthChecker::stop`] (and the drop) waits for a probe in progress to
    /// return, on the checker's clock. Defaults to 1 s.
    ///
    /// ```
    /// # let lb = breakwater::http::Balancer::new(["http://a.local"], Default::default()).unwrap();
    /// let b = breakwater::http::HealthChecker::builder(&lb, |_| true)
    ///     .stop_timeout(std::time::Duration::from_millis(200));
    /// ```
    pub fn stop_timeout(mut self, timeout: Duration) -> Self {
        self.stop_timeout = timeout;
        self
    }

    /// Starts the checker's thread (named `breakwater-health`). The first round of probes
    /// runs at once.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming `interval` (zero), `unhealthy_threshold` or
    /// `healthy_threshold` (zero), or `thread` when the thread cannot be spawned.
    ///
    /// # Examples
    ///
    /// ```
    /// # let lb = breakwater::http::Balancer::new(["http://a.local"], Default::default()).unwrap();
    /// let mut checker = breakwater::http::HealthChecker::builder(&lb, |_url| false).start().unwrap();
    /// assert!(checker.stop().is_stopped());
    /// ```
    pub fn start(self) -> Result<HealthChecker, ConfigError> {
        let refuse = |field, msg| Err(ConfigError::new(PolicyKind::Http, field, msg));
        if self.interval.is_zero() {
            return refuse("interval", "must be greater than zero");
        }
        if self.unhealthy_threshold == 0 {
            return refuse("unhealthy_threshold", "must be at least 1");
        }
        if self.healthy_threshold == 0 {
            return refuse("healthy_threshold", "must be at least 1");
        }
        let monitor = Monitor::new(State::default());
        let clock = self.clock.clone();
        let stop_timeout = self.stop_timeout;
        let m = Arc::clone(&monitor);
        let thread = std::thread::Builder::new()
            .name("breakwater-health".into())
            .spawn(move || {
                // Declared first, dropped last: `exited` is set once the probe is dropped too.
                let _exit = Exit(&m);
                self.run(&m);
            })
            .map_err(|e| ConfigError::new(PolicyKind::Http, "thread", e.to_string()))?;
        Ok(HealthChecker {
            monitor,
            clock,
            stop_timeout,
            thread: Some(thread),
        })
    }

    fn run(self, monitor: &Arc<Monitor<State>>) {
        let n = self.balancer.len();
        let mut failures = vec![0u32; n];
        let mut successes = vec![0u32; n];
        loop {
            for i in 0..n {
                if monitor.lock().stop {
                    return;
                }
                let url = self.balancer.url(i).unwrap_or_default();
                let up = catch_unwind(AssertUnwindSafe(|| (self.probe)(url))).unwrap_or(false);
                if up {
                    failures[i] = 0;
                    successes[i] = successes[i].saturating_add(1);
                    if successes[i] >= self.healthy_threshold {
                        self.balancer.set_healthy(i, true);
                    }
                } else {
                    successes[i] = 0;
                    failures[i] = failures[i].saturating_add(1);
                    if failures[i] >= self.unhealthy_threshold {
                        self.balancer.set_healthy(i, false);
                    }
                }
            }
            let mut state = monitor.lock();
            state.rounds += 1;
            monitor.notify_all();
            let deadline = self.clock.deadline_after(self.interval);
            loop {
                if state.stop {
                    return;
                }
                let (s, waited) = self.clock.wait_until(monitor, state, deadline);
                state = s;
                if waited.timed_out() {
                    break;
                }
            }
        }
    }
}

/// Probes every instance of a [`Balancer`] on a background thread and marks it down after
/// `unhealthy_threshold` consecutive failed probes, up after `healthy_threshold`
/// consecutive successful ones. A probe that panics counts as failed.
///
/// The thread stops when the checker is stopped or dropped; the stop waits at most
/// `stop_timeout` (on the checker's clock: with a manual clock, only an advance ends that
/// wait) for a probe in progress, so give the probe its own timeout.
///
/// # Examples
///
/// ```no_run
/// use std::time::Duration;
/// use breakwater::http::{Balancer, HealthChecker, Strategy};
///
/// let lb = Balancer::new(["http://10.0.0.1:8080", "http://10.0.0.2:8080"], Strategy::RoundRobin)?;
/// let agent: ureq::Agent = ureq::Agent::config_builder()
///     .http_status_as_error(false)
///     .timeout_global(Some(Duration::from_secs(1)))
///     .build()
///     .into();
/// let checker = HealthChecker::builder(&lb, move |base| {
///     agent.get(&format!("{base}/health")).call().is_ok_and(|r| r.status() == 200)
/// })
/// .interval(Duration::from_secs(5))
/// .start()?;
/// // ... lb.pick() skips the instances the checker marked down ...
/// drop(checker);
/// # Ok::<(), breakwater::ConfigError>(())
/// ```
pub struct HealthChecker {
    monitor: Arc<Monitor<State>>,
    clock: Clock,
    stop_timeout: Duration,
    thread: Option<JoinHandle<()>>,
}

impl fmt::Debug for HealthChecker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HealthChecker")
            .field("rounds", &self.rounds())
            .field("running", &self.is_running())
            .finish()
    }
}

impl HealthChecker {
    /// A builder for a checker of `balancer`'s instances; `probe` gets an instance's base
    /// URL and says whether it is healthy.
    ///
    /// ```
    /// # let lb = breakwater::http::Balancer::new(["http://a.local"], Default::default()).unwrap();
    /// let builder = breakwater::http::HealthChecker::builder(&lb, |url| url.starts_with("http://"));
    /// ```
    pub fn builder<F>(balancer: &Balancer, probe: F) -> HealthCheckerBuilder
    where
        F: Fn(&str) -> bool + Send + Sync + 'static,
    {
        HealthCheckerBuilder {
            balancer: balancer.clone(),
            probe: Arc::new(probe),
            interval: Duration::from_secs(10),
            clock: Clock::monotonic(),
            unhealthy_threshold: 1,
            healthy_threshold: 1,
            stop_timeout: Duration::from_secs(1),
        }
    }

    /// Rounds of probes completed so far (every instance probed once per round).
    ///
    /// ```
    /// # let lb = breakwater::http::Balancer::new(["http://a.local"], Default::default()).unwrap();
    /// let checker = breakwater::http::HealthChecker::builder(&lb, |_| true).start().unwrap();
    /// while checker.rounds() == 0 { std::thread::yield_now(); }
    /// ```
    pub fn rounds(&self) -> u64 {
        self.monitor.lock().rounds
    }

    /// `true` until the thread has finished.
    ///
    /// ```
    /// # let lb = breakwater::http::Balancer::new(["http://a.local"], Default::default()).unwrap();
    /// let mut checker = breakwater::http::HealthChecker::builder(&lb, |_| true).start().unwrap();
    /// checker.stop();
    /// assert!(!checker.is_running());
    /// ```
    pub fn is_running(&self) -> bool {
        !self.monitor.lock().exited
    }

    /// Stops the thread: no probe starts after this call, and it waits up to the stop
    /// timeout for a probe in progress. Calling it again returns [`StopResult::Stopped`]
    /// once the thread was joined, or [`StopResult::TimedOut`] again while a detached
    /// thread is still in its probe.
    ///
    /// ```
    /// # let lb = breakwater::http::Balancer::new(["http://a.local"], Default::default()).unwrap();
    /// let mut checker = breakwater::http::HealthChecker::builder(&lb, |_| true).start().unwrap();
    /// assert_eq!(checker.stop(), breakwater::http::StopResult::Stopped);
    /// assert_eq!(checker.stop(), breakwater::http::StopResult::Stopped);
    /// ```
    pub fn stop(&mut self) -> StopResult {
        let deadline = self.clock.deadline_after(self.stop_timeout);
        let mut state = self.monitor.lock();
        state.stop = true;
        self.monitor.notify_all();
        while !state.exited {
            let (s, waited) = self.clock.wait_until(&self.monitor, state, deadline);
            state = s;
            if waited.timed_out() && !state.exited {
                // Dropping the handle detaches the thread; it returns after its probe.
                self.thread = None;
                return StopResult::TimedOut;
            }
        }
        drop(state);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        StopResult::Stopped
    }
}

impl Drop for HealthChecker {
    fn drop(&mut self) {
        self.stop();
    }
}
