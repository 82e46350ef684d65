//! A JSON health report: an overall status and one entry per component (a breaker, a
//! bulkhead, a dependency), each with its status and details.
//!
//! ```json
//! {"status":"DEGRADED","components":{"authors":{"status":"DOWN","details":{"state":"open"}}}}
//! ```
//!
//! The report is written by serde_json ([`health_json`]): strings escaped as RFC 8259
//! requires; non-finite numbers, which JSON cannot carry, written as `null`.

/// The health of a component, or of the whole report.
///
/// ```
/// assert_eq!(breakwater::exposition::Status::Degraded.as_str(), "DEGRADED");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Status {
    /// Working.
    Up,
    /// Working with reduced function (for example a non-critical dependency is down).
    Degraded,
    /// Not working.
    Down,
}

impl Status {
    /// The word written in the report.
    ///
    /// ```
    /// assert_eq!(breakwater::exposition::Status::Up.as_str(), "UP");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Up => "UP",
            Status::Degraded => "DEGRADED",
            Status::Down => "DOWN",
        }
    }
}

/// One detail value of a component.
///
/// ```
/// use breakwater::exposition::Detail;
/// let details = [("state", Detail::Str("open")), ("failures", Detail::UInt(5))];
/// assert_eq!(details.len(), 2);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Detail<'a> {
    /// A string.
    Str(&'a str),
    /// A signed integer.
    Int(i64),
    /// An unsigned integer.
    UInt(u64),
    /// A number (`null` when not finite).
    Float(f64),
    /// A boolean.
    Bool(bool),
}

/// A component of the report: its name (a key of `components`, so keep names unique), its
/// status and its details, in order.
///
/// ```
/// use breakwater::exposition::{Component, Detail, Status};
/// let c = Component::new("payments", Status::Up).with_details(&[("in_use", Detail::UInt(3))]);
/// assert_eq!(c.details.len(), 1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Component<'a> {
    /// The component's name.
    pub name: &'a str,
    /// Its status.
    pub status: Status,
    /// Its details.
    pub details: &'a [(&'a str, Detail<'a>)],
}

impl<'a> Component<'a> {
    /// A component without details.
    ///
    /// ```
    /// use breakwater::exposition::{Component, Status};
    /// assert_eq!(Component::new("db", Status::Down).status, Status::Down);
    /// ```
    pub fn new(name: &'a str, status: Status) -> Component<'a> {
        Component {
            name,
            status,
            details: &[],
        }
    }

    /// The same component with details.
    ///
    /// ```
    /// use breakwater::exposition::{Component, Detail, Status};
    /// let c = Component::new("db", Status::Up).with_details(&[("open", Detail::Bool(false))]);
    /// assert_eq!(c.details[0].0, "open");
    /// ```
    pub fn with_details(mut self, details: &'a [(&'a str, Detail<'a>)]) -> Component<'a> {
        self.details = details;
        self
    }
}

/// The worst status among the components (`Up` when there are none).
///
/// ```
/// use breakwater::exposition::{overall_status, Component, Status};
/// let parts = [Component::new("a", Status::Up), Component::new("b", Status::Degraded)];
/// assert_eq!(overall_status(&parts), Status::Degraded);
/// assert_eq!(overall_status(&[]), Status::Up);
/// ```
pub fn overall_status(components: &[Component<'_>]) -> Status {
    components
        .iter()
        .map(|c| c.status)
        .max()
        .unwrap_or(Status::Up)
}

/// The report as one line of JSON, written by serde_json; its `status` is
/// [`overall_status`]. Components and details keep their order; a non-finite
/// [`Detail::Float`] is written as `null`.
///
/// # Examples
///
/// ```
/// use breakwater::exposition::{health_json, Component, Detail, Status};
///
/// let details = [("state", Detail::Str("open")), ("failure_rate", Detail::Float(0.5))];
/// let json = health_json(&[Component::new("authors", Status::Down).with_details(&details)]);
/// assert_eq!(
///     json,
///     r#"{"status":"DOWN","components":{"authors":{"status":"DOWN","details":{"state":"open","failure_rate":0.5}}}}"#
/// );
/// ```
#[cfg(feature = "exposition")]
pub fn health_json(components: &[Component<'_>]) -> String {
    serde_json::to_string(&Report(components)).expect("a health report is always valid JSON")
}

#[cfg(feature = "exposition")]
mod ser {
    //! serde's view of the report: maps written in order (the report's order matters to
    //! readers, and serde_json's own map would sort the keys).
    use serde::ser::{Serialize, SerializeMap, Serializer};

    use super::{Component, Detail, Status, overall_status};

    pub(super) struct Report<'a>(pub(super) &'a [Component<'a>]);

    struct Components<'a>(&'a [Component<'a>]);

    struct Entry<'a>(&'a Component<'a>);

    struct Details<'a>(&'a [(&'a str, Detail<'a>)]);

    impl Serialize for Status {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_str(self.as_str())
        }
    }

    impl Serialize for Detail<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            match *self {
                Detail::Str(v) => s.serialize_str(v),
                Detail::Int(v) => s.serialize_i64(v),
                Detail::UInt(v) => s.serialize_u64(v),
                Detail::Float(v) => s.serialize_f64(v),
                Detail::Bool(v) => s.serialize_bool(v),
            }
        }
    }

    impl Serialize for Report<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut map = s.serialize_map(Some(2))?;
            map.serialize_entry("status", &overall_status(self.0))?;
            map.serialize_entry("components", &Components(self.0))?;
            map.end()
        }
    }

    impl Serialize for Components<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut map = s.serialize_map(Some(self.0.len()))?;
            for c in self.0 {
                map.serialize_entry(c.name, &Entry(c))?;
            }
            map.end()
        }
    }

    impl Serialize for Entry<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let c = self.0;
            let with_details = !c.details.is_empty();
            let mut map = s.serialize_map(Some(1 + usize::from(with_details)))?;
            map.serialize_entry("status", &c.status)?;
            if with_details {
                map.serialize_entry("details", &Details(c.details))?;
            }
            map.end()
        }
    }

    impl Serialize for Details<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut map = s.serialize_map(Some(self.0.len()))?;
            for (k, v) in self.0 {
                map.serialize_entry(k, v)?;
            }
            map.end()
        }
    }
}

#[cfg(feature = "exposition")]
use ser::Report;
