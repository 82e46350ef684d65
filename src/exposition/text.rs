//! The Prometheus text exposition format, version 0.0.4.
//!
//! One family per metric name: an optional `# HELP` line, a `# TYPE` line, then every
//! sample of that name. Metric and label names are made valid by replacing each
//! character outside `[a-zA-Z0-9_:]` (label names: `[a-zA-Z0-9_]`) with `_`, and a leading
//! digit gets a `_` in front. Label values escape `\`, `"` and newline; help text escapes
//! `\` and newline. Values are written so that they parse back to the same `f64`:
//! integers without a fraction, `NaN`, `+Inf`, `-Inf`, and exponent notation for very large
//! or very small magnitudes.

use std::fmt::{self, Write};

/// The type of a metric family.
///
/// ```
/// assert_eq!(breakwater::exposition::MetricKind::Counter.as_str(), "counter");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MetricKind {
    /// A value that only goes up (reset by a restart); by convention named `*_total`.
    Counter,
    /// A value that goes up and down.
    Gauge,
    /// A value of no declared type.
    Untyped,
}

impl MetricKind {
    /// The word used on the `# TYPE` line.
    ///
    /// ```
    /// assert_eq!(breakwater::exposition::MetricKind::Gauge.as_str(), "gauge");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
            MetricKind::Untyped => "untyped",
        }
    }
}

/// One sample: a metric name, its kind and help text, its labels and its value. Plain data,
/// borrowed from whoever produces it.
///
/// # Examples
///
/// ```
/// use breakwater::exposition::{MetricKind, Sample};
///
/// let labels = [("pool", "email")];
/// let s = Sample::gauge("bulkhead_in_use", 3.0).with_labels(&labels);
/// assert_eq!((s.kind, s.value, s.labels.len()), (MetricKind::Gauge, 3.0, 1));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample<'a> {
    /// The metric name.
    pub name: &'a str,
    /// The metric kind (taken from the first sample of each name).
    pub kind: MetricKind,
    /// The help text (taken from the first sample of each name; empty: no `# HELP` line).
    pub help: &'a str,
    /// Label names and values, in the order they are written.
    pub labels: &'a [(&'a str, &'a str)],
    /// The value.
    pub value: f64,
}

impl<'a> Sample<'a> {
    /// A sample without help text or labels.
    ///
    /// ```
    /// use breakwater::exposition::{MetricKind, Sample};
    /// assert_eq!(Sample::new("up", MetricKind::Untyped, 1.0).name, "up");
    /// ```
    pub fn new(name: &'a str, kind: MetricKind, value: f64) -> Sample<'a> {
        Sample {
            name,
            kind,
            help: "",
            labels: &[],
            value,
        }
    }

    /// A counter sample.
    ///
    /// ```
    /// let s = breakwater::exposition::Sample::counter("calls_total", 5.0);
    /// assert_eq!(s.kind, breakwater::exposition::MetricKind::Counter);
    /// ```
    pub fn counter(name: &'a str, value: f64) -> Sample<'a> {
        Sample::new(name, MetricKind::Counter, value)
    }

    /// A gauge sample.
    ///
    /// ```
    /// let s = breakwater::exposition::Sample::gauge("in_flight", 2.0);
    /// assert_eq!(s.kind, breakwater::exposition::MetricKind::Gauge);
    /// ```
    pub fn gauge(name: &'a str, value: f64) -> Sample<'a> {
        Sample::new(name, MetricKind::Gauge, value)
    }

    /// The same sample with help text.
    ///
    /// ```
    /// let s = breakwater::exposition::Sample::gauge("up", 1.0).with_help("1 when up");
    /// assert_eq!(s.help, "1 when up");
    /// ```
    pub fn with_help(mut self, help: &'a str) -> Sample<'a> {
        self.help = help;
        self
    }

    /// The same sample with labels.
    ///
    /// ```
    /// let s = breakwater::exposition::Sample::gauge("up", 1.0).with_labels(&[("job", "api")]);
    /// assert_eq!(s.labels, &[("job", "api")]);
    /// ```
    pub fn with_labels(mut self, labels: &'a [(&'a str, &'a str)]) -> Sample<'a> {
        self.labels = labels;
        self
    }
}

/// The samples in the text format (see [`write_text`]).
///
/// ```
/// use breakwater::exposition::{encode_text, Sample};
/// let text = encode_text(&[Sample::gauge("temp", f64::NAN)]);
/// assert_eq!(text, "# TYPE temp gauge\ntemp NaN\n");
/// ```
pub fn encode_text(samples: &[Sample<'_>]) -> String {
    let mut out = String::with_capacity(samples.len() * 64);
    write_text(&mut out, samples).expect("writing to a String cannot fail");
    out
}

/// Writes the samples in the text format to `out`, one family per distinct name in the
/// order names first appear; the samples of a name keep their order, wherever they are
/// in `samples`.
///
/// # Errors
///
/// Only the errors of `out`.
///
/// # Examples
///
/// ```
/// use breakwater::exposition::{write_text, Sample};
/// let mut out = String::new();
/// write_text(&mut out, &[
///     Sample::counter("a_total", 1.0).with_labels(&[("x", "1")]),
///     Sample::counter("b_total", 2.0),
///     Sample::counter("a_total", 3.0).with_labels(&[("x", "2")]),
/// ])?;
/// let expected = "# TYPE a_total counter\na_total{x=\"1\"} 1\na_total{x=\"2\"} 3\n";
/// assert_eq!(out, expected.to_owned() + "# TYPE b_total counter\nb_total 2\n");
/// # Ok::<(), std::fmt::Error>(())
/// ```
pub fn write_text<W: Write>(out: &mut W, samples: &[Sample<'_>]) -> fmt::Result {
    for (first, head) in samples.iter().enumerate() {
        if samples[..first].iter().any(|s| s.name == head.name) {
            continue; // this family was written with its first sample
        }
        if !head.help.is_empty() {
            out.write_str("# HELP ")?;
            write_name(out, head.name, true)?;
            out.write_char(' ')?;
            write_escaped(out, head.help, false)?;
            out.write_char('\n')?;
        }
        out.write_str("# TYPE ")?;
        write_name(out, head.name, true)?;
        writeln!(out, " {}", head.kind.as_str())?;
        for s in samples[first..].iter().filter(|s| s.name == head.name) {
            write_sample(out, s)?;
        }
    }
    Ok(())
}

fn write_sample<W: Write>(out: &mut W, s: &Sample<'_>) -> fmt::Result {
    write_name(out, s.name, true)?;
    if !s.labels.is_empty() {
        out.write_char('{')?;
        for (k, (name, value)) in s.labels.iter().enumerate() {
            if k > 0 {
                out.write_char(',')?;
            }
            write_name(out, name, false)?;
            out.write_str("=\"")?;
            write_escaped(out, value, true)?;
            out.write_char('"')?;
        }
        out.write_char('}')?;
    }
    out.write_char(' ')?;
    write_value(out, s.value)?;
    out.write_char('\n')
}

/// A metric name (`colons`) or label name, with invalid characters replaced by `_`.
fn write_name<W: Write>(out: &mut W, name: &str, colons: bool) -> fmt::Result {
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        out.write_char('_')?;
    }
    for c in name.chars() {
        let ok = c.is_ascii_alphanumeric() || c == '_' || (colons && c == ':');
        out.write_char(if ok { c } else { '_' })?;
    }
    Ok(())
}

fn write_escaped<W: Write>(out: &mut W, text: &str, quotes: bool) -> fmt::Result {
    for c in text.chars() {
        match c {
            '\\' => out.write_str("\\\\")?,
            '\n' => out.write_str("\\n")?,
            '"' if quotes => out.write_str("\\\"")?,
            c => out.write_char(c)?,
        }
    }
    Ok(())
}

fn write_value<W: Write>(out: &mut W, v: f64) -> fmt::Result {
    if v.is_nan() {
        out.write_str("NaN")
    } else if v.is_infinite() {
        out.write_str(if v > 0.0 { "+Inf" } else { "-Inf" })
    } else if v == v.trunc() && v.abs() < 1e15 {
        write!(out, "{}", v as i64)
    } else if (1e-4..1e15).contains(&v.abs()) {
        write!(out, "{v}")
    } else {
        write!(out, "{v:e}")
    }
}

/// A value as the text format writes it.
///
/// ```
/// use breakwater::exposition::format_value;
/// assert_eq!(format_value(3.0), "3");
/// assert_eq!(format_value(0.25), "0.25");
/// assert_eq!(format_value(f64::INFINITY), "+Inf");
/// assert_eq!(format_value(f64::NEG_INFINITY), "-Inf");
/// assert_eq!(format_value(1e300), "1e300");
/// assert_eq!(format_value(-1.5e-7), "-1.5e-7");
/// ```
pub fn format_value(v: f64) -> String {
    let mut s = String::new();
    write_value(&mut s, v).expect("writing to a String cannot fail");
    s
}
