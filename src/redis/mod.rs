//! Fleet-wide policies shared through Redis (feature `redis`): a [`SharedBreaker`] and a
//! [`SharedRateLimiter`] that every process naming them shares.
//!
//! Decisions are atomic in Redis (Lua scripts on the server's clock, compare-and-set on
//! the breaker's generation); the hot path stays local; every Redis operation has a
//! timeout; when Redis is unreachable a policy works on local state, reports
//! [`Health::Degraded`] (a counter, a listener event) and resynchronises when Redis
//! returns.
//!
//! # The shared breaker
//!
//! Redis holds the state, the generation, the open-until time, the half-open trial's
//! admissions and the fleet's counts (consecutive failures, the failure window, the
//! per-bucket counters of a time-window failure rate). Each process keeps a local copy
//! of (state, generation, open-until):
//!
//! - **closed** admissions read the local copy and never wait on Redis; outcomes are
//!   counted locally (a success is one atomic operation) and sent in batches by a
//!   background thread every `flush_interval`, a failure or trial outcome at once;
//! - **open** rejects locally until open-until (taken from Redis as "time left", so
//!   the processes' clocks need not agree);
//! - **half-open** admission is one round trip to Redis for an atomic trial slot,
//!   bounded by `op_timeout`;
//! - a transition is made by one script in Redis, which bumps the generation and
//!   publishes it; every process applies it when the notification arrives, or at the
//!   latest at the next poll (`poll_interval`), or with the reply to its next batch.
//!
//! # Consistency model
//!
//! What is exact: transitions (one script, compare-and-set on the generation: one trip
//! per outage, never two), trial slots (never more than `half_open_max_calls` per trial
//! across the fleet), the fleet's counts once batches are flushed, and the dropping of
//! outcomes of an ended generation (counted in `stale_dropped`).
//!
//! What can overshoot, by how much, for how long:
//!
//! - **Calls after a trip.** A process keeps admitting on its closed copy until the
//!   notification arrives (measured from the tripping failure in one instance to a
//!   rejection in another: p50 0.1 ms, p99 5 ms on a loaded 2-core machine, see
//!   `docs/redis.md`), at worst `poll_interval` (default 500 ms) if the notification is
//!   lost. Calls admitted then run; their outcomes belong to the old generation and are
//!   dropped.
//! - **Failures before the trip.** A failure is sent at once, but successes and
//!   failures of one process recorded in the same `flush_interval` (default 10 ms) are
//!   sent as one batch: within a batch the consecutive-failure run counts the failures
//!   after the batch's last success, and all the batch's failures are stamped at the
//!   time the batch arrives. The threshold can therefore be crossed by up to the
//!   failures of one batch per process (the trip happens at the batch that crosses it).
//! - **Time windows.** Failure windows and rate buckets use the Redis server's clock;
//!   a bucket is `window / 10` wide, so an outcome leaves the rate window at most one
//!   bucket late; an outcome may be stamped up to `flush_interval` late.
//! - **Redis down.** Each process falls back to its own local breaker (the same
//!   configuration, starting closed; an open or forced-open state known before the
//!   outage is kept until it ends). During the outage the fleet behaves like
//!   independent breakers: each process trips on its own failures. Outcomes waiting in
//!   a batch when Redis became unreachable are lost to the fleet view (counted in
//!   [`RedisMetrics::outcomes_lost`]). When Redis answers again (tried every
//!   `poll_interval`), the shared state wins; if Redis lost its data it starts closed
//!   at a generation above any the processes knew.
//!
//! # The shared rate limiter
//!
//! GCRA evaluated atomically in Redis on the server's clock: at most `burst + t / T`
//! permits in any interval of length `t` (`T = period / permits`), fleet-wide. A
//! rejection carries the wait until the next permit is free, and the process rejects
//! locally until then (nobody can get one before). With a lease of `k`, a process takes
//! up to `k` permits (those free) in one round trip and hands them out locally for at
//! most `lease_ttl` (default `k * T`); permits not used by then are dropped (never
//! returned). The overshoot this allows is bounded: a permit is used at
//! most `lease_ttl` after Redis granted it, so over any interval the fleet uses at most
//! `ceil(lease_ttl / T)` permits more than GCRA allows (and never more than
//! `processes * (k - 1)`). Without a lease (`k = 1`) there is no overshoot. While Redis
//! is unreachable each process enforces the quota locally on its own (the fleet may
//! then use up to `processes` times the quota; see
//! [`SharedRateLimiterBuilder::degraded_permits`]).
//!
//! # Clocks
//!
//! Shared decisions run on the Redis server's clock, local deadlines on the monotonic
//! clock; a [`ManualClock`](crate::ManualClock) cannot drive a shared policy.

mod admission;
mod breaker;
mod builder;
mod error;
mod export;
mod health;
mod limiter;
mod limiter_builder;
mod link;
mod manage;
mod options;
mod permit;
mod registry;
mod scripts;
mod shared;
mod worker;

pub use breaker::SharedBreaker;
pub use builder::SharedBreakerBuilder;
pub use error::SharedError;
pub use health::{Health, HealthEvent, RedisMetrics};
pub use limiter::SharedRateLimiter;
pub use limiter_builder::SharedRateLimiterBuilder;
pub use options::{
    DEFAULT_FLUSH_INTERVAL, DEFAULT_KEY_PREFIX, DEFAULT_OP_TIMEOUT, DEFAULT_POLL_INTERVAL,
    DEFAULT_REDIS_URL, RedisOptions,
};
pub(crate) use permit::RawSharedPermit;
pub use permit::SharedPermit;
pub use registry::{SharedPolicies, health_components};
pub(crate) use registry::{registered_breaker, registered_limiter};
pub use shared::FleetCounts;
