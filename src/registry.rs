//! A registry of named policies (breakers, bulkheads, pools, limiters) with shared
//! defaults.
//!
//! Asking for a name that exists returns the existing instance (clones share state).
//! Asking for it with an explicit configuration that differs from the one it was built
//! with is an error; asking without one (defaults) returns whatever is registered.
//! Each policy module adds its typed accessors (`Registry::breaker`, ...) on top of the
//! generic [`Registry::get_or_build`].

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::Arc;

use crate::error::{ConfigError, PolicyKind};

type AnyBox = Box<dyn Any + Send + Sync>;

#[cfg_attr(
    not(feature = "exposition"),
    allow(dead_code, reason = "kind and attachment are read by the exporters")
)]
struct Entry {
    kind: PolicyKind,
    config: AnyBox,
    instance: AnyBox,
    /// What the policy's module attached for the exporters (see
    /// [`Registry::get_or_build_attached`]).
    attachment: Option<AnyBox>,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<(TypeId, String), Entry>,
    defaults: HashMap<TypeId, AnyBox>,
}

/// Named policies with shared defaults. Cloning shares the registry.
///
/// # Examples
///
/// ```
/// use breakwater::{PolicyKind, Registry};
///
/// let registry = Registry::new();
/// // A policy type `P` built from a config type `C` (here: a plain counter and a u32).
/// let build = |c: &u32| Ok::<_, breakwater::ConfigError>(std::sync::Arc::new(*c));
/// let a = registry.get_or_build(PolicyKind::Bulkhead, "db", Some(4u32), build).unwrap();
/// let b = registry.get_or_build(PolicyKind::Bulkhead, "db", None::<u32>, build).unwrap();
/// assert!(std::sync::Arc::ptr_eq(&a, &b));
/// // Same name, different explicit configuration: refused.
/// assert!(registry.get_or_build(PolicyKind::Bulkhead, "db", Some(5u32), build).is_err());
/// ```
#[derive(Clone, Default)]
pub struct Registry {
    inner: Arc<parking_lot::Mutex<Inner>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("entries", &self.inner.lock().entries.len())
            .finish()
    }
}

impl Registry {
    /// An empty registry.
    ///
    /// ```
    /// assert!(breakwater::Registry::new().names().is_empty());
    /// ```
    pub fn new() -> Registry {
        Registry::default()
    }

    /// Sets the default configuration used for policies built from config type `C`
    /// without an explicit configuration. Instances already built keep theirs.
    ///
    /// ```
    /// let r = breakwater::Registry::new();
    /// r.set_default(7u32);
    /// assert_eq!(r.default_config::<u32>(), Some(7));
    /// ```
    pub fn set_default<C: Clone + Send + Sync + 'static>(&self, config: C) {
        self.inner
            .lock()
            .defaults
            .insert(TypeId::of::<C>(), Box::new(config));
    }

    /// The default configuration set for config type `C`, if any.
    ///
    /// ```
    /// assert_eq!(breakwater::Registry::new().default_config::<u32>(), None);
    /// ```
    pub fn default_config<C: Clone + Send + Sync + 'static>(&self) -> Option<C> {
        self.inner
            .lock()
            .defaults
            .get(&TypeId::of::<C>())
            .and_then(|b| b.downcast_ref::<C>())
            .cloned()
    }

    /// Returns the policy registered under `name` for config type `C`, or builds it from
    /// `config` (or, when `None`, the registry's default for `C`, or `C::default()`).
    ///
    /// # Errors
    ///
    /// The build's own [`ConfigError`], or a `ConfigError` naming the field `name` when
    /// `config` is given and differs from the registered instance's configuration.
    ///
    /// ```
    /// use breakwater::{PolicyKind, Registry};
    /// let r = Registry::new();
    /// r.set_default(3u32);
    /// let p = r.get_or_build(PolicyKind::RateLimiter, "api", None::<u32>, |c| Ok(*c)).unwrap();
    /// assert_eq!(p, 3);
    /// ```
    pub fn get_or_build<C, P>(
        &self,
        kind: PolicyKind,
        name: &str,
        config: Option<C>,
        build: impl FnOnce(&C) -> Result<P, ConfigError>,
    ) -> Result<P, ConfigError>
    where
        C: PartialEq + Clone + Default + Send + Sync + 'static,
        P: Clone + Send + Sync + 'static,
    {
        self.get_or_build_attached(kind, name, config, build, |_| None::<()>)
    }

    /// As [`Registry::get_or_build`], and when the policy is built, keeps `attach(&policy)`
    /// next to it (read back with [`Registry::attachments`]). The exporters use it: a
    /// policy's module attaches its exporter, so that the registry and the exporters need
    /// not know the policy types.
    pub(crate) fn get_or_build_attached<C, P, A>(
        &self,
        kind: PolicyKind,
        name: &str,
        config: Option<C>,
        build: impl FnOnce(&C) -> Result<P, ConfigError>,
        attach: impl FnOnce(&P) -> Option<A>,
    ) -> Result<P, ConfigError>
    where
        C: PartialEq + Clone + Default + Send + Sync + 'static,
        P: Clone + Send + Sync + 'static,
        A: Send + Sync + 'static,
    {
        let key = (TypeId::of::<C>(), name.to_owned());
        let mut inner = self.inner.lock();
        if let Some(entry) = inner.entries.get(&key) {
            if let Some(explicit) = &config {
                let registered = entry
                    .config
                    .downcast_ref::<C>()
                    .expect("registry entry holds its config type");
                if registered != explicit {
                    return Err(ConfigError::new(
                        kind,
                        "name",
                        format!("{name:?} is already registered with a different configuration"),
                    ));
                }
            }
            return Ok(entry
                .instance
                .downcast_ref::<P>()
                .expect("registry entry holds its policy type")
                .clone());
        }
        let config = match config {
            Some(c) => c,
            None => inner
                .defaults
                .get(&TypeId::of::<C>())
                .and_then(|b| b.downcast_ref::<C>())
                .cloned()
                .unwrap_or_default(),
        };
        let instance = build(&config)?;
        let attachment = attach(&instance).map(|a| Box::new(a) as AnyBox);
        inner.entries.insert(
            key,
            Entry {
                kind,
                config: Box::new(config),
                instance: Box::new(instance.clone()),
                attachment,
            },
        );
        Ok(instance)
    }

    /// Every attachment of type `A` (see [`Registry::get_or_build_attached`]) with the
    /// kind and name of its policy, sorted by name.
    #[cfg_attr(
        not(feature = "exposition"),
        allow(dead_code, reason = "for the exporters")
    )]
    pub(crate) fn attachments<A: Clone + 'static>(&self) -> Vec<(PolicyKind, String, A)> {
        let inner = self.inner.lock();
        let mut out: Vec<(PolicyKind, String, A)> = inner
            .entries
            .iter()
            .filter_map(|((_, n), e)| {
                let a = e.attachment.as_ref()?.downcast_ref::<A>()?;
                Some((e.kind, n.clone(), a.clone()))
            })
            .collect();
        out.sort_by(|a, b| a.1.cmp(&b.1));
        out
    }

    /// Every registered policy built from config type `C`, by name (sorted).
    ///
    /// ```
    /// use breakwater::{PolicyKind, Registry};
    /// let r = Registry::new();
    /// r.get_or_build(PolicyKind::Bulkhead, "b", Some(1u32), |c| Ok(*c)).unwrap();
    /// r.get_or_build(PolicyKind::Bulkhead, "a", Some(2u32), |c| Ok(*c)).unwrap();
    /// assert_eq!(r.all::<u32, u32>(), vec![("a".to_string(), 2), ("b".to_string(), 1)]);
    /// ```
    pub fn all<C: 'static, P: Clone + 'static>(&self) -> Vec<(String, P)> {
        let inner = self.inner.lock();
        let mut out: Vec<(String, P)> = inner
            .entries
            .iter()
            .filter(|((t, _), _)| *t == TypeId::of::<C>())
            .filter_map(|((_, n), e)| {
                e.instance
                    .downcast_ref::<P>()
                    .map(|p| (n.clone(), p.clone()))
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Every registered name, of any kind (sorted, deduplicated).
    ///
    /// ```
    /// assert!(breakwater::Registry::new().names().is_empty());
    /// ```
    pub fn names(&self) -> Vec<String> {
        let inner = self.inner.lock();
        let mut names: Vec<String> = inner.entries.keys().map(|(_, n)| n.clone()).collect();
        names.sort();
        names.dedup();
        names
    }

    /// Removes the policy of config type `C` named `name`; `true` if there was one.
    /// Handles already given out keep working.
    ///
    /// ```
    /// use breakwater::{PolicyKind, Registry};
    /// let r = Registry::new();
    /// r.get_or_build(PolicyKind::Bulkhead, "x", Some(1u32), |c| Ok(*c)).unwrap();
    /// assert!(r.remove::<u32>("x"));
    /// assert!(!r.remove::<u32>("x"));
    /// ```
    pub fn remove<C: 'static>(&self, name: &str) -> bool {
        self.inner
            .lock()
            .entries
            .remove(&(TypeId::of::<C>(), name.to_owned()))
            .is_some()
    }
}
