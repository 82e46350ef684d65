//! The engine of a [`ServiceClient`](super::ServiceClient) call: the profile's policies
//! composed with the crate's own [`Pipeline`], around one attempt (see
//! [`attempt`](super::attempt)).
//!
//! The pipeline is `rate_limit -> deadline -> bulkhead -> retry -> attempt`; the attempt
//! picks an instance, takes a permit from that instance's breaker and sends the request.
//! The breaker is chosen per attempt (a retry prefers another instance), so it is part of
//! the attempt rather than a pipeline stage; everything else is the pipeline's.
//!
//! What the retry stage is told about an attempt ([`retry_decision`]):
//!
//! - a reply (1xx-4xx other than 429) is done;
//! - a retryable failure (transport, timeout, 5xx, 429) of a request that may be sent
//!   again is retried, after the server's `Retry-After` hint when it is longer than the
//!   computed delay; a hint longer than the profile's `max_retry_after_ms` stops the call
//!   with that error (waiting would hold the caller and a bulkhead permit for as long);
//! - anything else is returned as it is.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::attempt::{AttemptError, CallState};
use super::call::Request;
use super::{HttpError, Inner, Reply};
use crate::bulkhead::Bulkhead;
use crate::clock::Clock;
use crate::ctx::Ctx;
use crate::error::Error;
use crate::http::classify::HttpOutcome;
use crate::http::profile::Profile;
use crate::pipeline::Pipeline;
use crate::ratelimit::RateLimiter;
use crate::retry::{Retry, RetryDecision};

/// The policies of a client's calls, outermost first, around one attempt.
pub(super) type Engine = Pipeline<Reply, AttemptError>;

/// Composes the profile's policies: `rate_limit -> deadline -> bulkhead -> retry`.
pub(super) fn compose(
    profile: &Profile,
    limiter: Option<RateLimiter>,
    bulkhead: Option<Bulkhead>,
    retry: Retry,
    clock: Clock,
) -> Engine {
    let mut p = Pipeline::builder().clock(clock);
    if let Some(limiter) = limiter {
        // Over the limit, a call is rejected at once.
        p = p.rate_limit(limiter, Duration::ZERO);
    }
    if let Some(ms) = profile.deadline_ms {
        p = p.deadline(Duration::from_millis(ms));
    }
    if let Some(bulkhead) = bulkhead {
        p = p.bulkhead(bulkhead);
    }
    let max_hint = profile.max_retry_after();
    p.retry_with(retry, move |r| retry_decision(r, max_hint))
        .build()
}

/// What the retry makes of an attempt's result (see the [module docs](self)).
fn retry_decision(
    result: &Result<Reply, Error<AttemptError>>,
    max_retry_after: Duration,
) -> RetryDecision {
    let Err(Error::Failed {
        error: AttemptError::Http(e),
        ..
    }) = result
    else {
        return match result {
            Ok(_) => RetryDecision::Done,
            Err(_) => RetryDecision::Permanent,
        };
    };
    if !e.outcome().is_retryable() || !e.replayable() {
        return RetryDecision::Permanent;
    }
    match e.retry_after() {
        Some(hint) if hint > max_retry_after => RetryDecision::Permanent,
        Some(hint) => RetryDecision::RetryAfter(hint),
        None => RetryDecision::Retry,
    }
}

impl Inner {
    /// Runs one call: the pipeline around the attempts, then its counters.
    pub(super) fn execute(
        self: &Arc<Self>,
        caller: Option<&Ctx>,
        request: Request,
    ) -> Result<Reply, Error<HttpError>> {
        self.counters.calls.fetch_add(1, Ordering::Relaxed);
        let result = self.run_pipeline(caller, request);
        self.counters.finished(&result);
        result
    }

    fn run_pipeline(
        self: &Arc<Self>,
        caller: Option<&Ctx>,
        request: Request,
    ) -> Result<Reply, Error<HttpError>> {
        if let Some(message) = &request.invalid {
            let e = HttpError::new(HttpOutcome::Invalid, "", message.clone());
            return Err(Error::failed(e.with_call(
                &request.correlation_id,
                request.idempotency_key.as_deref(),
                false,
            )));
        }
        let fresh;
        let ctx = match caller {
            Some(ctx) => ctx,
            None => {
                fresh = Ctx::with_clock(self.clock.clone());
                &fresh
            }
        };
        // The pipeline wants a closure that owns what it uses.
        let inner = Arc::clone(self);
        let call = CallState::new(request);
        let result = self
            .engine
            .call_ctx(ctx, move |attempt_ctx| inner.attempt(attempt_ctx, &call));
        match result {
            Ok(reply) => Ok(reply),
            Err(Error::Failed { error, attempts }) => match error {
                AttemptError::Http(error) => Err(Error::Failed { error, attempts }),
                AttemptError::Ended(e) => Err(e),
            },
            Err(Error::Rejected {
                policy,
                reason,
                retry_after,
            }) => Err(Error::Rejected {
                policy,
                reason,
                retry_after,
            }),
            Err(Error::TimedOut { policy }) => Err(Error::TimedOut { policy }),
        }
    }
}
