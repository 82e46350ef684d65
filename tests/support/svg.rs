//! A tiny standalone SVG chart: call latencies over time as points (failed calls in red) on
//! top of a band that shows the breaker's state (closed green, open red, half-open amber),
//! with axes, ticks, labels and a legend. For the outage exercise's picture.
//!
//! Include it with `#[path = "support/svg.rs"] mod svg;` (from an example:
//! `#[path = "../tests/support/svg.rs"]`).
#![allow(
    dead_code,
    reason = "each test binary uses a different part of the support code"
)]

use std::fmt::Write;
use std::path::Path;

/// A breaker state, as the band colours it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Band {
    /// Closed: calls go through.
    Closed,
    /// Open: calls are rejected.
    Open,
    /// Half-open: a trial is running.
    HalfOpen,
}

impl Band {
    fn colour(self) -> &'static str {
        match self {
            Band::Closed => "#2e7d32",
            Band::Open => "#c62828",
            Band::HalfOpen => "#f9a825",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Band::Closed => "closed",
            Band::Open => "open",
            Band::HalfOpen => "half-open",
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Point {
    t: f64,
    ms: f64,
    ok: bool,
}

/// The chart's data; [`Chart::render`] draws it.
#[derive(Debug, Clone)]
pub struct Chart {
    title: String,
    width: f64,
    height: f64,
    points: Vec<Point>,
    states: Vec<(f64, Band)>,
}

const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 100.0;
const STRIP: f64 = 14.0;

impl Chart {
    /// An empty 900 x 420 chart with a title.
    pub fn new(title: &str) -> Chart {
        Chart {
            title: title.to_owned(),
            width: 900.0,
            height: 420.0,
            points: Vec::new(),
            states: Vec::new(),
        }
    }

    /// A call that started `t` seconds into the run and took `latency_ms`; `ok` is false
    /// for a failed or rejected call.
    pub fn point(&mut self, t: f64, latency_ms: f64, ok: bool) {
        self.points.push(Point {
            t,
            ms: latency_ms,
            ok,
        });
    }

    /// The breaker entered `state` at `t` seconds (it lasts until the next state or the end).
    pub fn state(&mut self, t: f64, state: Band) {
        self.states.push((t, state));
    }

    /// The segments of the band: (start, end, state), in time order.
    pub fn segments(&self) -> Vec<(f64, f64, Band)> {
        let end = self.t_max();
        let mut states = self.states.clone();
        states.sort_by(|a, b| a.0.total_cmp(&b.0));
        (0..states.len())
            .map(|i| {
                let stop = states.get(i + 1).map_or(end, |s| s.0);
                (states[i].0, stop, states[i].1)
            })
            .filter(|(a, b, _)| b > a)
            .collect()
    }

    fn t_max(&self) -> f64 {
        let last = self
            .points
            .iter()
            .map(|p| p.t)
            .chain(self.states.iter().map(|s| s.0));
        nice(last.fold(0.0, f64::max).max(1e-9))
    }

    /// The chart as a standalone SVG document.
    pub fn render(&self) -> String {
        let (w, h) = (self.width, self.height);
        let (pw, ph) = (w - LEFT - RIGHT, h - TOP - BOTTOM);
        let t_max = self.t_max();
        let ms_max = nice(
            self.points
                .iter()
                .map(|p| p.ms)
                .fold(0.0, f64::max)
                .max(1.0),
        );
        let x = |t: f64| LEFT + t / t_max * pw;
        let y = |ms: f64| TOP + ph - ms.clamp(0.0, ms_max) / ms_max * ph;
        let mut s = String::new();
        let _ = writeln!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">"#
        );
        let _ = writeln!(s, r##"<rect width="{w}" height="{h}" fill="#ffffff"/>"##);
        let _ = writeln!(
            s,
            r#"<text x="{}" y="24" font-size="16" text-anchor="middle">{}</text>"#,
            w / 2.0,
            escape(&self.title)
        );
        // The breaker band: pale behind the plot, solid in a strip under the time axis.
        for (a, b, band) in self.segments() {
            let (x0, bw) = (x(a), x(b) - x(a));
            let c = band.colour();
            let _ = writeln!(
                s,
                r#"<rect class="band-{n}" x="{x0:.1}" y="{TOP}" width="{bw:.1}" height="{ph}" fill="{c}" fill-opacity="0.12"/>"#,
                n = band.name()
            );
            let _ = writeln!(
                s,
                r#"<rect class="strip-{n}" x="{x0:.1}" y="{sy}" width="{bw:.1}" height="{STRIP}" fill="{c}"/>"#,
                n = band.name(),
                sy = TOP + ph + 26.0
            );
        }
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="end">breaker</text>"#,
            LEFT - 8.0,
            TOP + ph + 26.0 + STRIP - 3.0
        );
        // Axes, ticks and labels.
        let (x_axis, y_axis) = (TOP + ph, LEFT);
        let _ = writeln!(
            s,
            r##"<path d="M{y_axis} {TOP} V{x_axis} H{}" fill="none" stroke="#333"/>"##,
            LEFT + pw
        );
        for i in 0..=5 {
            let (t, ms) = (t_max * f64::from(i) / 5.0, ms_max * f64::from(i) / 5.0);
            let _ = writeln!(
                s,
                r##"<line x1="{0:.1}" y1="{x_axis}" x2="{0:.1}" y2="{1}" stroke="#333"/><text x="{0:.1}" y="{2}" text-anchor="middle">{3}</text>"##,
                x(t),
                x_axis + 5.0,
                x_axis + 18.0,
                label(t)
            );
            let _ = writeln!(
                s,
                r##"<line x1="{0}" y1="{1:.1}" x2="{y_axis}" y2="{1:.1}" stroke="#333"/><text x="{2}" y="{3:.1}" text-anchor="end">{4}</text>"##,
                y_axis - 5.0,
                y(ms),
                y_axis - 8.0,
                y(ms) + 4.0,
                label(ms)
            );
        }
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="middle">time (s)</text>"#,
            LEFT + pw / 2.0,
            h - 34.0
        );
        let _ = writeln!(
            s,
            r#"<text x="16" y="{0}" text-anchor="middle" transform="rotate(-90 16 {0})">latency (ms)</text>"#,
            TOP + ph / 2.0
        );
        // The calls.
        for p in &self.points {
            let (fill, class) = if p.ok {
                ("#1565c0", "ok")
            } else {
                ("#c62828", "failed")
            };
            let _ = writeln!(
                s,
                r#"<circle class="{class}" cx="{:.1}" cy="{:.1}" r="3" fill="{fill}"/>"#,
                x(p.t),
                y(p.ms)
            );
        }
        // Legend.
        let ly = h - 14.0;
        let mut lx = LEFT;
        for band in [Band::Closed, Band::Open, Band::HalfOpen] {
            let _ = writeln!(
                s,
                r#"<rect x="{lx}" y="{}" width="12" height="12" fill="{}"/><text x="{}" y="{ly}">{}</text>"#,
                ly - 10.0,
                band.colour(),
                lx + 16.0,
                band.name()
            );
            lx += 100.0;
        }
        for (fill, text) in [
            ("#1565c0", "call ok"),
            ("#c62828", "call failed or rejected"),
        ] {
            let _ = writeln!(
                s,
                r#"<circle cx="{}" cy="{}" r="4" fill="{fill}"/><text x="{}" y="{ly}">{text}</text>"#,
                lx + 6.0,
                ly - 4.0,
                lx + 16.0
            );
            lx += 120.0;
        }
        s.push_str("</svg>\n");
        s
    }

    /// Writes [`Chart::render`] to `path`.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        std::fs::write(path, self.render())
    }
}

/// A round axis end: the smallest of 1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8 or 10 times a power
/// of ten that is at least `v`.
fn nice(v: f64) -> f64 {
    let p = 10f64.powf(v.log10().floor());
    [1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0]
        .into_iter()
        .map(|m| m * p)
        .find(|c| *c >= v * (1.0 - 1e-12))
        .unwrap_or(10.0 * p)
}

fn label(v: f64) -> String {
    let rounded = (v * 1000.0).round() / 1000.0;
    format!("{rounded}")
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
