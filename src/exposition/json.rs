//! A JSON health report: an overall status and one entry per component (a breaker, a
//! bulkhead, a dependency), each with its status and details.
//!
//! ```json
//! {"status":"DEGRADED","components":{"authors":{"status":"DOWN","details":{"state":"open"}}}}
//! ```
//!
//! Strings are escaped as RFC 8259 requires (quote, backslash and control characters);
//! non-finite numbers, which JSON cannot carry, are written as `null`.

use std::fmt::{self, Write};

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

/// The report as one line of JSON; its `status` is [`overall_status`].
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
pub fn health_json(components: &[Component<'_>]) -> String {
    let mut out = String::with_capacity(64 + components.len() * 96);
    write_health(&mut out, components).expect("writing to a String cannot fail");
    out
}

fn write_health(out: &mut String, components: &[Component<'_>]) -> fmt::Result {
    write!(
        out,
        "{{\"status\":\"{}\",\"components\":{{",
        overall_status(components).as_str()
    )?;
    for (i, c) in components.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_string(out, c.name)?;
        write!(out, ":{{\"status\":\"{}\"", c.status.as_str())?;
        if !c.details.is_empty() {
            out.push_str(",\"details\":{");
            for (k, (key, value)) in c.details.iter().enumerate() {
                if k > 0 {
                    out.push(',');
                }
                write_string(out, key)?;
                out.push(':');
                match *value {
                    Detail::Str(s) => write_string(out, s)?,
                    Detail::Int(v) => write!(out, "{v}")?,
                    Detail::UInt(v) => write!(out, "{v}")?,
                    Detail::Float(v) if v.is_finite() => write!(out, "{v:?}")?,
                    Detail::Float(_) => out.push_str("null"),
                    Detail::Bool(v) => write!(out, "{v}")?,
                }
            }
            out.push('}');
        }
        out.push('}');
    }
    out.push_str("}}");
    Ok(())
}

fn write_string(out: &mut String, s: &str) -> fmt::Result {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => write!(out, "\\u{:04x}", u32::from(c))?,
            c => out.push(c),
        }
    }
    out.push('"');
    Ok(())
}
