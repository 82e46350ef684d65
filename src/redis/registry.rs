//! Shared policies in the [`Registry`] by name: built there, they are exported with the
//! registry ([`prometheus`](crate::exposition::prometheus),
//! [`health_report`](crate::exposition::health_report); see the crate's `redis::export`).

use crate::breaker::BreakerConfig;
use crate::error::PolicyKind;
use crate::ratelimit::RateLimiterConfig;
use crate::registry::Registry;

use super::breaker::SharedBreaker;
use super::error::SharedError;
use super::health::Health;
use super::limiter::SharedRateLimiter;
use super::options::RedisOptions;

/// What a shared policy is registered with: its own configuration and where Redis is.
///
/// ```
/// use breakwater::redis::SharedPolicies;
/// let spec = SharedPolicies::default();
/// assert_eq!(spec.lease, 1);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct SharedPolicies {
    /// The breaker configuration (for [`Registry::shared_breaker`]).
    pub breaker: BreakerConfig,
    /// The quota (for [`Registry::shared_rate_limiter`]).
    pub limiter: RateLimiterConfig,
    /// The limiter's lease size.
    pub lease: u32,
    /// Where Redis is.
    pub redis: RedisOptions,
}

impl Default for SharedPolicies {
    fn default() -> Self {
        SharedPolicies {
            breaker: BreakerConfig::default(),
            limiter: RateLimiterConfig::default(),
            lease: 1,
            redis: RedisOptions::default(),
        }
    }
}

/// The registry's config type of shared breakers (kept apart from local breakers').
#[derive(Debug, Clone, PartialEq, Default)]
struct BreakerSpec(BreakerConfig, RedisOptions);

/// The registry's config type of shared limiters.
#[derive(Debug, Clone, PartialEq, Default)]
struct LimiterSpec(RateLimiterConfig, u32, RedisOptions);

impl Registry {
    /// The shared breaker registered as `name`, or a new one built from `spec.breaker`
    /// (its name replaced by `name`) and `spec.redis`.
    ///
    /// # Errors
    ///
    /// The build's [`SharedError`], or a configuration error on `name` when a shared
    /// breaker of that name exists with a different configuration.
    ///
    /// ```
    /// use breakwater::{Registry, redis::{RedisOptions, SharedPolicies}};
    /// let registry = Registry::new();
    /// let spec = SharedPolicies { redis: RedisOptions { url: "redis://127.0.0.1:1/".into(), ..Default::default() }, ..Default::default() };
    /// let a = registry.shared_breaker("authors", &spec).unwrap();
    /// assert!(a.ptr_eq(&registry.shared_breaker("authors", &spec).unwrap()));
    /// ```
    pub fn shared_breaker(
        &self,
        name: &str,
        spec: &SharedPolicies,
    ) -> Result<SharedBreaker, SharedError> {
        let mut config = spec.breaker.clone();
        name.clone_into(&mut config.name);
        let mut failure = None;
        let built = self.get_or_build_exported(
            PolicyKind::CircuitBreaker,
            name,
            Some(BreakerSpec(config, spec.redis.clone())),
            |s| {
                SharedBreaker::builder()
                    .config(s.0.clone())
                    .redis(s.1.clone())
                    .build()
                    .map_err(|e| {
                        let c = crate::ConfigError::new(
                            PolicyKind::CircuitBreaker,
                            "name",
                            e.to_string(),
                        );
                        failure = Some(e);
                        c
                    })
            },
        );
        built.map_err(|e| failure.unwrap_or(SharedError::Config(e)))
    }

    /// The shared rate limiter registered as `name`, or a new one built from
    /// `spec.limiter`, `spec.lease` and `spec.redis`.
    ///
    /// # Errors
    ///
    /// As [`Registry::shared_breaker`].
    ///
    /// ```
    /// use breakwater::{Registry, redis::{RedisOptions, SharedPolicies}};
    /// let registry = Registry::new();
    /// let spec = SharedPolicies { redis: RedisOptions { url: "redis://127.0.0.1:1/".into(), ..Default::default() }, ..Default::default() };
    /// let l = registry.shared_rate_limiter("payments", &spec).unwrap();
    /// assert_eq!(l.name(), "payments");
    /// ```
    pub fn shared_rate_limiter(
        &self,
        name: &str,
        spec: &SharedPolicies,
    ) -> Result<SharedRateLimiter, SharedError> {
        let mut config = spec.limiter.clone();
        name.clone_into(&mut config.name);
        let mut failure = None;
        let built = self.get_or_build_exported(
            PolicyKind::RateLimiter,
            name,
            Some(LimiterSpec(config, spec.lease, spec.redis.clone())),
            |s| {
                SharedRateLimiter::builder()
                    .config(s.0.clone())
                    .lease(s.1)
                    .redis(s.2.clone())
                    .build()
                    .map_err(|e| {
                        let c =
                            crate::ConfigError::new(PolicyKind::RateLimiter, "name", e.to_string());
                        failure = Some(e);
                        c
                    })
            },
        );
        built.map_err(|e| failure.unwrap_or(SharedError::Config(e)))
    }
}

/// The health of every shared policy in `registry`, by component name
/// (`redis_breaker:NAME`, `redis_limiter:NAME`), sorted.
///
/// ```
/// use breakwater::{Registry, redis::{Health, RedisOptions, SharedPolicies, health_components}};
/// let registry = Registry::new();
/// let spec = SharedPolicies { redis: RedisOptions { url: "redis://127.0.0.1:1/".into(), ..Default::default() }, ..Default::default() };
/// registry.shared_breaker("authors", &spec).unwrap();
/// assert_eq!(health_components(&registry), vec![("redis_breaker:authors".to_string(), Health::Degraded)]);
/// ```
pub fn health_components(registry: &Registry) -> Vec<(String, Health)> {
    let mut out: Vec<(String, Health)> = registry
        .all::<BreakerSpec, SharedBreaker>()
        .into_iter()
        .map(|(n, b)| (format!("redis_breaker:{n}"), b.health()))
        .chain(
            registry
                .all::<LimiterSpec, SharedRateLimiter>()
                .into_iter()
                .map(|(n, l)| (format!("redis_limiter:{n}"), l.health())),
        )
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// The shared breaker registered as `name`, if any (whatever its configuration).
pub(crate) fn registered_breaker(registry: &Registry, name: &str) -> Option<SharedBreaker> {
    registry
        .all::<BreakerSpec, SharedBreaker>()
        .into_iter()
        .find_map(|(n, b)| (n == name).then_some(b))
}

/// The shared rate limiter registered as `name`, if any.
pub(crate) fn registered_limiter(registry: &Registry, name: &str) -> Option<SharedRateLimiter> {
    registry
        .all::<LimiterSpec, SharedRateLimiter>()
        .into_iter()
        .find_map(|(n, l)| (n == name).then_some(l))
}
