//! Client-side balancing over the instances (base URLs) of one service: [`Balancer`] and
//! [`Strategy`]. The user-facing documentation is on [`Balancer`] (this module is private;
//! its items are re-exported from `breakwater::http`).

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use rand::Rng;

use crate::error::{ConfigError, PolicyKind};

/// How [`Balancer::pick`] chooses among the eligible instances.
///
/// ```
/// assert_eq!(breakwater::http::Strategy::default(), breakwater::http::Strategy::RoundRobin);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Strategy {
    /// In turn: the first eligible instance after the one picked last.
    #[default]
    RoundRobin,
    /// Uniformly at random among the eligible instances.
    Random,
    /// The eligible instance with the fewest calls in flight; ties go to the first one in
    /// round-robin order, so an idle service still spreads its calls.
    LeastInFlight,
}

struct Instance {
    url: Box<str>,
    in_flight: AtomicUsize,
    healthy: AtomicBool,
}

struct Inner {
    strategy: Strategy,
    instances: Box<[Instance]>,
    /// The index where the next round-robin scan starts.
    cursor: AtomicUsize,
}

/// The instances (base URLs) of one service and the strategy that picks among them, for
/// client-side balancing. `Send + Sync`; clones share the instances, counters and health
/// marks.
///
/// A balancer holds the instances, a [`Strategy`], an in-flight counter per instance (kept
/// by the RAII [`InFlight`] guard that [`Balancer::begin`] returns) and a health mark per
/// instance (set by a [`HealthChecker`](super::HealthChecker) or by hand).
/// [`Balancer::pick`] chooses among the instances that are marked healthy and that the
/// caller calls available (for example, whose breaker is not open), preferring those not
/// tried yet by this call.
///
/// # Examples
///
/// One call, retried on another instance:
///
/// ```
/// use breakwater::http::{Balancer, Strategy};
///
/// let lb = Balancer::new(["http://a.local", "http://b.local/"], Strategy::RoundRobin).unwrap();
/// let first = lb.pick(&[], |_| true).unwrap();
/// let guard = lb.begin(first);                          // counts the call in flight
/// assert_eq!(lb.url_for(first, "/v1/items").unwrap(), "http://a.local/v1/items");
/// // The call failed: retry on another instance.
/// let second = lb.pick(&[first], |_| true).unwrap();
/// assert_eq!(second, 1);
/// drop(guard);
/// assert_eq!(lb.in_flight(first), 0);
/// ```
///
/// An unavailable instance is skipped:
///
/// ```
/// use breakwater::http::{Balancer, Strategy};
///
/// let lb = Balancer::new(["http://a.local", "http://b.local", "http://c.local"], Strategy::RoundRobin)?;
/// let picks: Vec<_> = (0..4).map(|_| lb.pick(&[], |i| i != 1).unwrap()).collect();
/// assert_eq!(picks, [0, 2, 0, 2]); // instance 1 is unavailable (say, its breaker is open)
/// # Ok::<(), breakwater::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct Balancer {
    inner: Arc<Inner>,
}

impl fmt::Debug for Balancer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_list();
        for i in self.inner.instances.iter() {
            list.entry(&format_args!(
                "{} (in flight {}, {})",
                i.url,
                i.in_flight.load(Ordering::Relaxed),
                if i.healthy.load(Ordering::Relaxed) {
                    "up"
                } else {
                    "down"
                }
            ));
        }
        list.finish()
    }
}

impl Balancer {
    /// A balancer over `urls` (base URLs such as `http://10.0.0.1:8080` or
    /// `https://api.local/v2`), normalised: the scheme and host lower-case, trailing `/`
    /// dropped. Every instance starts healthy.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] on the field `instances`, naming the URL and the problem, when the
    /// list is empty or a URL is not an `http://` or `https://` base URL with a host, a
    /// valid port (1-65535) and no query, fragment, user information or whitespace.
    ///
    /// # Examples
    ///
    /// ```
    /// use breakwater::http::{Balancer, Strategy};
    /// assert!(Balancer::new(["http://a.local"], Strategy::Random).is_ok());
    /// let e = Balancer::new(Vec::<String>::new(), Strategy::Random).unwrap_err();
    /// assert_eq!(e.field, "instances");
    /// assert!(Balancer::new(["ftp://a.local"], Strategy::Random).is_err());
    /// let e = Balancer::new(["http://a.local:99999"], Strategy::Random).unwrap_err();
    /// assert!(e.message.contains("invalid port"), "{e}");
    /// let lb = Balancer::new(["HTTP://A.local/"], Strategy::Random)?;
    /// assert_eq!(lb.url(0), Some("http://a.local"));
    /// # Ok::<(), breakwater::ConfigError>(())
    /// ```
    pub fn new<I, S>(urls: I, strategy: Strategy) -> Result<Balancer, ConfigError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut instances = Vec::new();
        for url in urls {
            let url: String = url.into();
            let base = super::base_url::normalize(&url).map_err(|problem| {
                ConfigError::new(PolicyKind::Http, "instances", format!("entry {problem}"))
            })?;
            instances.push(Instance {
                url: base.into_boxed_str(),
                in_flight: AtomicUsize::new(0),
                healthy: AtomicBool::new(true),
            });
        }
        if instances.is_empty() {
            return Err(ConfigError::new(
                PolicyKind::Http,
                "instances",
                "must name at least one base URL",
            ));
        }
        Ok(Balancer {
            inner: Arc::new(Inner {
                strategy,
                instances: instances.into_boxed_slice(),
                cursor: AtomicUsize::new(0),
            }),
        })
    }

    /// The number of instances (at least one).
    ///
    /// ```
    /// let lb = breakwater::http::Balancer::new(["http://a.local"], Default::default()).unwrap();
    /// assert_eq!(lb.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.inner.instances.len()
    }

    /// Always `false`: a balancer has at least one instance.
    ///
    /// ```
    /// let lb = breakwater::http::Balancer::new(["http://a.local"], Default::default()).unwrap();
    /// assert!(!lb.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.inner.instances.is_empty()
    }

    /// The strategy.
    ///
    /// ```
    /// use breakwater::http::{Balancer, Strategy};
    /// let lb = Balancer::new(["http://a.local"], Strategy::LeastInFlight).unwrap();
    /// assert_eq!(lb.strategy(), Strategy::LeastInFlight);
    /// ```
    pub fn strategy(&self) -> Strategy {
        self.inner.strategy
    }

    /// The base URL of instance `index` (without a trailing `/`), `None` out of range.
    ///
    /// ```
    /// let lb = breakwater::http::Balancer::new(["http://a.local/"], Default::default()).unwrap();
    /// assert_eq!(lb.url(0), Some("http://a.local"));
    /// assert_eq!(lb.url(1), None);
    /// ```
    pub fn url(&self, index: usize) -> Option<&str> {
        self.inner.instances.get(index).map(|i| &*i.url)
    }

    /// The full URL of `path` on instance `index`: its base URL, one `/`, and `path`
    /// without its leading `/` (an empty `path` gives the base URL).
    ///
    /// ```
    /// let lb = breakwater::http::Balancer::new(["http://a.local/api"], Default::default()).unwrap();
    /// assert_eq!(lb.url_for(0, "users?id=1").unwrap(), "http://a.local/api/users?id=1");
    /// assert_eq!(lb.url_for(0, "").unwrap(), "http://a.local/api");
    /// ```
    pub fn url_for(&self, index: usize, path: &str) -> Option<String> {
        let base = self.url(index)?;
        let path = path.trim_start_matches('/');
        Some(if path.is_empty() {
            base.to_owned()
        } else {
            format!("{base}/{path}")
        })
    }

    /// Calls in flight on instance `index` (0 out of range).
    ///
    /// ```
    /// let lb = breakwater::http::Balancer::new(["http://a.local"], Default::default()).unwrap();
    /// let _g = lb.begin(0);
    /// assert_eq!(lb.in_flight(0), 1);
    /// ```
    pub fn in_flight(&self, index: usize) -> usize {
        self.inner
            .instances
            .get(index)
            .map_or(0, |i| i.in_flight.load(Ordering::Acquire))
    }

    /// Whether instance `index` is marked healthy (`false` out of range).
    ///
    /// ```
    /// let lb = breakwater::http::Balancer::new(["http://a.local"], Default::default()).unwrap();
    /// assert!(lb.is_healthy(0));
    /// ```
    pub fn is_healthy(&self, index: usize) -> bool {
        self.inner
            .instances
            .get(index)
            .is_some_and(|i| i.healthy.load(Ordering::Acquire))
    }

    /// Marks instance `index` healthy or not (no effect out of range). [`Balancer::pick`]
    /// never chooses an instance marked unhealthy.
    ///
    /// ```
    /// let lb = breakwater::http::Balancer::new(["http://a.local", "http://b.local"], Default::default()).unwrap();
    /// lb.set_healthy(0, false);
    /// assert_eq!(lb.pick(&[], |_| true), Some(1));
    /// ```
    pub fn set_healthy(&self, index: usize, healthy: bool) {
        if let Some(i) = self.inner.instances.get(index) {
            i.healthy.store(healthy, Ordering::Release);
        }
    }

    /// Counts a call in flight on instance `index` until the returned guard is dropped.
    /// An index out of range gives a guard that counts nothing.
    ///
    /// ```
    /// let lb = breakwater::http::Balancer::new(["http://a.local"], Default::default()).unwrap();
    /// let g = lb.begin(0);
    /// assert_eq!((g.index(), lb.in_flight(0)), (0, 1));
    /// drop(g);
    /// assert_eq!(lb.in_flight(0), 0);
    /// ```
    pub fn begin(&self, index: usize) -> InFlight {
        if let Some(i) = self.inner.instances.get(index) {
            i.in_flight.fetch_add(1, Ordering::AcqRel);
        }
        InFlight {
            balancer: self.clone(),
            index,
        }
    }

    /// Chooses an instance by the strategy among those marked healthy for which
    /// `available(index)` is `true`, preferring the ones not in `exclude` (the instances this
    /// call already tried): an excluded instance is chosen only when no other is eligible,
    /// so a service with a single instance still gets its retries. `None` when no instance
    /// is eligible. `available` may be called more than once per instance.
    ///
    /// ```
    /// use breakwater::http::{Balancer, Strategy};
    /// let lb = Balancer::new(["http://a.local", "http://b.local"], Strategy::Random).unwrap();
    /// assert_eq!(lb.pick(&[0], |_| true), Some(1));
    /// assert_eq!(lb.pick(&[0], |i| i == 0), Some(0)); // the only one left
    /// assert_eq!(lb.pick(&[], |_| false), None);
    /// ```
    pub fn pick(&self, exclude: &[usize], available: impl Fn(usize) -> bool) -> Option<usize> {
        let eligible = |i: usize| self.is_healthy(i) && available(i);
        match self.pick_where(|i| !exclude.contains(&i) && eligible(i)) {
            Some(i) => Some(i),
            None if exclude.is_empty() => None,
            None => self.pick_where(|i| exclude.contains(&i) && eligible(i)),
        }
    }

    fn pick_where(&self, ok: impl Fn(usize) -> bool) -> Option<usize> {
        let n = self.len();
        let inner = &*self.inner;
        match inner.strategy {
            Strategy::RoundRobin => loop {
                let start = inner.cursor.load(Ordering::Acquire) % n;
                let chosen = (0..n).map(|k| (start + k) % n).find(|&i| ok(i))?;
                // Move the cursor past the chosen instance, so that skipping an unavailable
                // one does not give its turn to its neighbour twice.
                if inner
                    .cursor
                    .compare_exchange(start, (chosen + 1) % n, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
                {
                    return Some(chosen);
                }
            },
            Strategy::Random => {
                // Reservoir sampling of one: uniform over the eligible, in one pass.
                let mut rng = rand::rng();
                let mut chosen = None;
                for (seen, i) in (0..n).filter(|&i| ok(i)).enumerate() {
                    if rng.random_range(0..=seen) == 0 {
                        chosen = Some(i);
                    }
                }
                chosen
            }
            Strategy::LeastInFlight => {
                let start = inner.cursor.load(Ordering::Acquire) % n;
                let mut best: Option<(usize, usize)> = None;
                for i in (0..n).map(|k| (start + k) % n).filter(|&i| ok(i)) {
                    let load = inner.instances[i].in_flight.load(Ordering::Acquire);
                    if best.is_none_or(|(_, b)| load < b) {
                        best = Some((i, load));
                    }
                }
                let (chosen, _) = best?;
                inner.cursor.store((chosen + 1) % n, Ordering::Release);
                Some(chosen)
            }
        }
    }
}

/// A call in flight on one instance: counted from [`Balancer::begin`] until dropped.
///
/// ```
/// let lb = breakwater::http::Balancer::new(["http://a.local"], Default::default()).unwrap();
/// {
///     let _call = lb.begin(0);
///     assert_eq!(lb.in_flight(0), 1);
/// }
/// assert_eq!(lb.in_flight(0), 0);
/// ```
#[derive(Debug)]
#[must_use = "the call counts as in flight only while the guard lives"]
pub struct InFlight {
    balancer: Balancer,
    index: usize,
}

impl InFlight {
    /// The instance this call runs on.
    ///
    /// ```
    /// let lb = breakwater::http::Balancer::new(["http://a.local"], Default::default()).unwrap();
    /// assert_eq!(lb.begin(0).index(), 0);
    /// ```
    pub fn index(&self) -> usize {
        self.index
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Some(i) = self.balancer.inner.instances.get(self.index) {
            i.in_flight.fetch_sub(1, Ordering::AcqRel);
        }
    }
}
