//! One attempt of a call: pick an instance whose breaker admits it (preferring one the
//! call has not tried), send the request with the time left as ureq's global timeout,
//! read the whole answer, classify it, and record the outcome for that instance's breaker
//! and the client's counters.

use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use parking_lot::Mutex;
use ureq::Agent;
use ureq::http::Request as HttpRequest;

use super::call::Request;
use super::report::outcome_index;
use super::{HttpError, Inner, Reply};
use crate::breaker::{Outcome, Permit, State};
use crate::ctx::Ctx;
use crate::error::{Error, PolicyKind, RejectReason};
use crate::http::classify::{HttpOutcome, Verdict, classify_error, classify_response};
use crate::http::idempotency::{CORRELATION_ID, IDEMPOTENCY_KEY};

/// How an attempt ended when it did not bring a [`Reply`].
pub(super) enum AttemptError {
    /// The exchange failed (or could not be made): the retry may try again.
    Http(HttpError),
    /// The attempt ended the call with a policy's error: every instance's breaker
    /// refused it, or the call's deadline passed while it waited for the answer.
    Ended(Error<HttpError>),
}

/// A call shared by its attempts: the request, and the instances already tried.
pub(super) struct CallState {
    request: Request,
    tried: Mutex<Vec<usize>>,
}

impl CallState {
    pub(super) fn new(request: Request) -> CallState {
        CallState {
            request,
            tried: Mutex::new(Vec::new()),
        }
    }
}

impl Inner {
    /// Runs attempt `ctx.attempt()` of `call`.
    pub(super) fn attempt(&self, ctx: &Ctx, call: &CallState) -> Result<Reply, AttemptError> {
        let request = &call.request;
        let timeout = match ctx.remaining() {
            Some(r) => r.min(self.profile.attempt_timeout()),
            None => self.profile.attempt_timeout(),
        };
        let (index, permit) = {
            let mut tried = call.tried.lock();
            let (index, permit) = self.admit(&tried).map_err(AttemptError::Ended)?;
            tried.push(index);
            (index, permit)
        };
        if ctx.attempt() > 1 {
            self.counters.retries.fetch_add(1, Ordering::Relaxed);
        }
        let result = {
            let _in_flight = self.balancer.begin(index);
            self.send(index, request, timeout)
        };
        let outcome = match &result {
            Ok((_, outcome)) => *outcome,
            Err(e) => e.outcome(),
        };
        self.attempts[index][outcome_index(outcome)].fetch_add(1, Ordering::Relaxed);
        permit.record(match outcome.verdict() {
            Verdict::Success => Outcome::Success,
            Verdict::Failure => Outcome::Failure,
            Verdict::Ignore => Outcome::Ignored,
        });
        match result {
            Ok((mut reply, _)) => {
                reply.attempts = ctx.attempt();
                reply.correlation_id = request.correlation_id.clone();
                reply.idempotency_key = request.idempotency_key.clone();
                Ok(reply)
            }
            Err(_) if outcome == HttpOutcome::Timeout && ctx.is_expired() => {
                Err(AttemptError::Ended(Error::TimedOut {
                    policy: PolicyKind::Deadline,
                }))
            }
            Err(e) => Err(AttemptError::Http(e.with_call(
                &request.correlation_id,
                request.idempotency_key.as_deref(),
                request.replayable,
            ))),
        }
    }

    /// Picks an instance whose breaker admits the attempt, preferring those not `tried`.
    fn admit(&self, tried: &[usize]) -> Result<(usize, Permit), Error<HttpError>> {
        let admits =
            |i: usize| !matches!(self.breakers[i].state(), State::Open | State::ForcedOpen);
        let mut refused: Vec<usize> = Vec::new();
        let mut last = None;
        loop {
            let pick = self
                .balancer
                .pick(tried, |i| !refused.contains(&i) && admits(i))
                .or_else(|| {
                    // Every instance marked down: ignore the marks, the breakers decide.
                    let n = self.balancer.len();
                    let healthy = (0..n).any(|i| self.balancer.is_healthy(i));
                    (!healthy)
                        .then(|| (0..n).find(|&i| !refused.contains(&i) && admits(i)))
                        .flatten()
                });
            match pick {
                Some(i) => match self.breakers[i].try_acquire() {
                    Ok(permit) => return Ok((i, permit)),
                    Err(r) => {
                        refused.push(i);
                        last = Some(r);
                    }
                },
                None => break,
            }
        }
        if last.is_none() {
            // Every breaker is open: take the rejection (and its retry-after) from the first
            // instance in service, so that the rejection is counted.
            let n = self.balancer.len();
            let soonest = (0..n).find(|&i| self.balancer.is_healthy(i)).unwrap_or(0);
            match self.breakers[soonest].try_acquire() {
                Ok(permit) => return Ok((soonest, permit)),
                Err(r) => last = Some(r),
            }
        }
        Err(last.map(Error::from).unwrap_or(Error::Rejected {
            policy: PolicyKind::CircuitBreaker,
            reason: RejectReason::Open,
            retry_after: None,
        }))
    }

    /// Sends `request` to instance `index` within `timeout` and reads the whole answer.
    fn send(
        &self,
        index: usize,
        request: &Request,
        timeout: Duration,
    ) -> Result<(Reply, HttpOutcome), HttpError> {
        let base = self.balancer.url(index).unwrap_or_default();
        let url = self
            .balancer
            .url_for(index, &request.path)
            .unwrap_or_default();
        let mut builder = HttpRequest::builder()
            .method(request.method.clone())
            .uri(&url);
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        builder = builder.header(CORRELATION_ID, request.correlation_id.as_str());
        if let Some(key) = &request.idempotency_key {
            builder = builder.header(IDEMPOTENCY_KEY, key.as_str());
        }
        let invalid =
            |e: ureq::http::Error| HttpError::new(HttpOutcome::Invalid, base, e.to_string());
        let sent = match &request.body {
            Some(body) => {
                let r = builder.body(body.as_slice()).map_err(invalid)?;
                run(&self.agent, r, timeout)
            }
            None => {
                let r = builder.body(()).map_err(invalid)?;
                run(&self.agent, r, timeout)
            }
        };
        let transport =
            |e: ureq::Error| HttpError::new(classify_error(&e).outcome, base, e.to_string());
        let mut response = sent.map_err(transport)?;
        let c = classify_response(&response, SystemTime::now());
        let body = response.body_mut().read_to_vec().map_err(transport)?;
        if c.outcome.is_failure() || c.outcome == HttpOutcome::Invalid {
            return Err(HttpError::answered(c, base, body));
        }
        let (parts, _) = response.into_parts();
        let reply = Reply {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body,
            instance: base.to_owned(),
            attempts: 0,
            correlation_id: String::new(),
            idempotency_key: None,
        };
        Ok((reply, c.outcome))
    }
}

/// Runs `request` on `agent` with statuses as answers and `timeout` for the whole exchange.
pub(super) fn run<S: ureq::AsSendBody>(
    agent: &Agent,
    request: HttpRequest<S>,
    timeout: Duration,
) -> Result<ureq::http::Response<ureq::Body>, ureq::Error> {
    let request = agent
        .configure_request(request)
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .build();
    agent.run(request)
}

/// A health probe: `true` when GET `url` answers 2xx within `timeout`.
pub(super) fn probe(agent: &Agent, url: &str, timeout: Duration) -> bool {
    let Ok(request) = HttpRequest::get(url).body(()) else {
        return false;
    };
    run(agent, request, timeout).is_ok_and(|r| r.status().is_success())
}
