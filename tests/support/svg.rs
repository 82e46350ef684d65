//! A tiny standalone SVG chart for the outage exercise: calls over time (x: when a call
//! ended, with a bar back to when it started; y: how long it took), one marker shape and
//! colour per kind of call, on pale bands that show the breaker's state; each transition
//! drawn as a line and labelled above the plot; under the time axis a strip for the breaker
//! and a strip for when the dependency was down; a legend.
//!
//! Include it with `#[path = "support/svg.rs"] mod svg;` (from an example:
//! `#[path = "../tests/support/svg.rs"]`).
#![allow(
    dead_code,
    reason = "each test binary uses a different part of the support code"
)]

use std::fmt::Write;
use std::path::Path;

/// A breaker state, as the bands and the strip colour it.
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
    /// The colour of the band (pale in the plot, solid in the strip).
    pub fn colour(self) -> &'static str {
        match self {
            Band::Closed => "#2e7d32",
            Band::Open => "#c62828",
            Band::HalfOpen => "#f9a825",
        }
    }

    /// The state's name, as labels and classes spell it.
    pub fn name(self) -> &'static str {
        match self {
            Band::Closed => "closed",
            Band::Open => "open",
            Band::HalfOpen => "half-open",
        }
    }
}

/// What a plotted call was; each kind has its own marker shape and colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// A request answered with the dependency's real answer (blue circle).
    Answer,
    /// One attempt at the dependency that ran into its timeout (orange cross).
    TimedOut,
    /// A request answered with the fallback after its attempts failed (purple diamond).
    Fallback,
    /// A request the breaker refused at once, answered with the fallback (black triangle).
    Rejected,
}

impl Mark {
    /// Every kind, in legend order.
    pub const ALL: [Mark; 4] = [Mark::Answer, Mark::TimedOut, Mark::Fallback, Mark::Rejected];

    /// The marker's colour (none of them is the open band's red).
    pub fn colour(self) -> &'static str {
        match self {
            Mark::Answer => "#1565c0",
            Mark::TimedOut => "#e65100",
            Mark::Fallback => "#7b1fa2",
            Mark::Rejected => "#212121",
        }
    }

    /// The class of the marker's element (and of its bar, prefixed with `bar-`).
    pub fn class(self) -> &'static str {
        match self {
            Mark::Answer => "answer",
            Mark::TimedOut => "timed-out",
            Mark::Fallback => "fallback",
            Mark::Rejected => "rejected",
        }
    }

    /// The legend's words.
    pub fn legend(self) -> &'static str {
        match self {
            Mark::Answer => "real answer",
            Mark::TimedOut => "attempt timed out",
            Mark::Fallback => "fallback answer",
            Mark::Rejected => "rejected at once",
        }
    }

    /// The marker centred on (`x`, `y`), as one SVG element.
    fn shape(self, x: f64, y: f64, class: &str) -> String {
        let c = self.colour();
        match self {
            Mark::Answer => {
                format!(r#"<circle class="{class}" cx="{x:.1}" cy="{y:.1}" r="3.5" fill="{c}"/>"#)
            }
            Mark::TimedOut => format!(
                r#"<path class="{class}" d="M{:.1} {:.1}L{:.1} {:.1}M{:.1} {:.1}L{:.1} {:.1}" stroke="{c}" stroke-width="2.2" fill="none"/>"#,
                x - 4.0,
                y - 4.0,
                x + 4.0,
                y + 4.0,
                x - 4.0,
                y + 4.0,
                x + 4.0,
                y - 4.0
            ),
            Mark::Fallback => format!(
                r#"<path class="{class}" d="M{x:.1} {:.1}L{:.1} {y:.1}L{x:.1} {:.1}L{:.1} {y:.1}Z" fill="{c}"/>"#,
                y - 5.0,
                x + 5.0,
                y + 5.0,
                x - 5.0
            ),
            Mark::Rejected => format!(
                r#"<path class="{class}" d="M{x:.1} {:.1}L{:.1} {:.1}L{:.1} {:.1}Z" fill="{c}"/>"#,
                y - 4.5,
                x + 4.0,
                y + 3.0,
                x - 4.0,
                y + 3.0
            ),
        }
    }
}

/// One plotted call: it ran from `start` to `end` (seconds since the start of the run).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Call {
    start: f64,
    end: f64,
    mark: Mark,
}

/// The chart's data; [`Chart::render`] draws it.
#[derive(Debug, Clone)]
pub struct Chart {
    title: String,
    dependency: String,
    width: f64,
    height: f64,
    calls: Vec<Call>,
    states: Vec<(f64, Band)>,
    down: Vec<(f64, Option<f64>)>,
    end: f64,
}

const LEFT: f64 = 70.0;
const RIGHT: f64 = 24.0;
/// The top of the plot; the transition labels sit in rows above it.
const TOP: f64 = 96.0;
const LABEL_ROWS: [f64; 3] = [48.0, 64.0, 80.0];
const PLOT_HEIGHT: f64 = 300.0;
const STRIP: f64 = 18.0;
/// The narrowest a state or an outage is drawn, in pixels, however short it was.
pub const MIN_WIDTH: f64 = 5.0;
/// Pixels between the plot's floor and a zero-latency marker, so that markers clear the axis.
const FLOOR: f64 = 6.0;

impl Chart {
    /// An empty 960 x 560 chart with a title; the dependency strip is called "authors".
    pub fn new(title: &str) -> Chart {
        Chart {
            title: title.to_owned(),
            dependency: "authors".to_owned(),
            width: 960.0,
            height: 560.0,
            calls: Vec::new(),
            states: Vec::new(),
            down: Vec::new(),
            end: 0.0,
        }
    }

    /// A call of kind `mark` that ran from `start` to `end` seconds into the run; it is
    /// drawn at its end, at the height of its duration, with a bar back to its start.
    pub fn call(&mut self, start: f64, end: f64, mark: Mark) {
        self.calls.push(Call {
            start: start.min(end),
            end,
            mark,
        });
    }

    /// The breaker entered `state` at `t` seconds (it lasts until the next state or the end).
    pub fn state(&mut self, t: f64, state: Band) {
        self.states.push((t, state));
    }

    /// The dependency was down from `from` until `to` seconds (`None`: to the end).
    pub fn down(&mut self, from: f64, to: Option<f64>) {
        self.down.push((from, to));
    }

    /// The run lasted at least until `t` seconds (the axis reaches it).
    pub fn end(&mut self, t: f64) {
        self.end = self.end.max(t);
    }

    /// The number of calls of kind `mark`.
    pub fn count(&self, mark: Mark) -> usize {
        self.calls.iter().filter(|c| c.mark == mark).count()
    }

    /// The breaker's states as (start, end, state), in time order; the last lasts to the end
    /// of the time axis.
    pub fn segments(&self) -> Vec<(f64, f64, Band)> {
        let end = self.t_max();
        let mut states = self.states.clone();
        states.sort_by(|a, b| a.0.total_cmp(&b.0));
        (0..states.len())
            .map(|i| {
                let stop = states.get(i + 1).map_or(end, |s| s.0);
                (states[i].0, stop, states[i].1)
            })
            .filter(|(a, b, _)| b > a || (a == b && *a < end))
            .collect()
    }

    /// The dependency's outages as (start, end), in time order, ended at the end of the
    /// time axis when open-ended.
    pub fn outages(&self) -> Vec<(f64, f64)> {
        let end = self.t_max();
        let mut down: Vec<(f64, f64)> = self
            .down
            .iter()
            .map(|(a, b)| (*a, b.unwrap_or(end).max(*a)))
            .collect();
        down.sort_by(|a, b| a.0.total_cmp(&b.0));
        down
    }

    fn t_max(&self) -> f64 {
        let last = self
            .calls
            .iter()
            .map(|c| c.end)
            .chain(self.states.iter().map(|s| s.0))
            .chain(self.down.iter().flat_map(|(a, b)| [Some(*a), *b]).flatten())
            .fold(self.end, f64::max);
        nice(last.max(1e-9))
    }

    /// The chart as a standalone SVG document.
    pub fn render(&self) -> String {
        let w = self.width;
        let pw = w - LEFT - RIGHT;
        let ph = PLOT_HEIGHT;
        let floor = TOP + ph;
        let t_max = self.t_max();
        let ms_max = nice(
            self.calls
                .iter()
                .map(|c| (c.end - c.start) * 1000.0)
                .fold(0.0, f64::max)
                .max(1.0),
        );
        let x = |t: f64| LEFT + t.clamp(0.0, t_max) / t_max * pw;
        let y = |ms: f64| floor - FLOOR - ms.clamp(0.0, ms_max) / ms_max * (ph - FLOOR);
        let mut s = String::new();
        let _ = writeln!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">"#,
            h = self.height
        );
        let _ = writeln!(
            s,
            r##"<rect width="{w}" height="{}" fill="#ffffff"/>"##,
            self.height
        );
        let _ = writeln!(
            s,
            r#"<text x="{}" y="24" font-size="16" text-anchor="middle">{}</text>"#,
            w / 2.0,
            escape(&self.title)
        );

        // The breaker's states: pale bands behind the plot, solid in a strip under it, each
        // at least MIN_WIDTH wide (a later state starts where a widened one ends).
        let strip_y = floor + 44.0;
        let segments = widen(
            self.segments()
                .into_iter()
                .map(|(a, b, band)| (x(a), x(b), band))
                .collect(),
            LEFT + pw,
        );
        for (x0, x1, band) in &segments {
            let (c, n, bw) = (band.colour(), band.name(), x1 - x0);
            let _ = writeln!(
                s,
                r#"<rect class="band-{n}" x="{x0:.1}" y="{TOP}" width="{bw:.1}" height="{ph}" fill="{c}" fill-opacity="0.10"/>"#
            );
            let _ = writeln!(
                s,
                r#"<rect class="strip-{n}" x="{x0:.1}" y="{strip_y}" width="{bw:.1}" height="{STRIP}" fill="{c}"/>"#
            );
            if text_width(n, 11.0) + 6.0 <= bw {
                let _ = writeln!(
                    s,
                    r##"<text x="{:.1}" y="{}" font-size="11" text-anchor="middle" fill="{}">{n}</text>"##,
                    x0 + bw / 2.0,
                    strip_y + 13.0,
                    if *band == Band::HalfOpen {
                        "#000000"
                    } else {
                        "#ffffff"
                    }
                );
            }
        }
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="end">breaker</text>"#,
            LEFT - 8.0,
            strip_y + 13.0
        );

        // The dependency: up (grey) or down (dark), from the run's own marks.
        let dep_y = strip_y + STRIP + 6.0;
        let _ = writeln!(
            s,
            r##"<rect class="dependency-up" x="{LEFT}" y="{dep_y}" width="{pw:.1}" height="{STRIP}" fill="#cfd8dc"/>"##
        );
        let outages = widen(
            self.outages()
                .into_iter()
                .map(|(a, b)| (x(a), x(b), ()))
                .collect(),
            LEFT + pw,
        );
        for (x0, x1, ()) in &outages {
            let bw = x1 - x0;
            let _ = writeln!(
                s,
                r##"<rect class="dependency-down" x="{x0:.1}" y="{dep_y}" width="{bw:.1}" height="{STRIP}" fill="#37474f"/>"##
            );
            let words = format!("{} down", self.dependency);
            if text_width(&words, 11.0) + 6.0 <= bw {
                let _ = writeln!(
                    s,
                    r##"<text x="{:.1}" y="{}" font-size="11" text-anchor="middle" fill="#ffffff">{}</text>"##,
                    x0 + bw / 2.0,
                    dep_y + 13.0,
                    escape(&words)
                );
            }
            // The outage's edges, dashed through the plot.
            for edge in [x0, x1] {
                let _ = writeln!(
                    s,
                    r##"<line class="dependency-edge" x1="{edge:.1}" y1="{TOP}" x2="{edge:.1}" y2="{:.1}" stroke="#37474f" stroke-dasharray="2 3"/>"##,
                    dep_y + STRIP
                );
            }
        }
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="end">{}</text>"#,
            LEFT - 8.0,
            dep_y + 13.0,
            escape(&self.dependency)
        );

        // Axes, ticks and labels.
        let _ = writeln!(
            s,
            r##"<path d="M{LEFT} {TOP} V{floor} H{}" fill="none" stroke="#333"/>"##,
            LEFT + pw
        );
        for i in 0..=8 {
            let t = t_max * f64::from(i) / 8.0;
            let _ = writeln!(
                s,
                r##"<line x1="{0:.1}" y1="{floor}" x2="{0:.1}" y2="{1}" stroke="#333"/><text x="{0:.1}" y="{2}" text-anchor="middle">{3}</text>"##,
                x(t),
                floor + 5.0,
                floor + 18.0,
                label(t)
            );
        }
        for i in 0..=4 {
            let ms = ms_max * f64::from(i) / 4.0;
            let _ = writeln!(
                s,
                r##"<line x1="{0}" y1="{1:.1}" x2="{LEFT}" y2="{1:.1}" stroke="#333"/><text x="{2}" y="{3:.1}" text-anchor="end">{4}</text>"##,
                LEFT - 5.0,
                y(ms),
                LEFT - 8.0,
                y(ms) + 4.0,
                label(ms)
            );
        }
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="middle">time (s): a call is drawn when it ended, its bar reaches back to when it started</text>"#,
            LEFT + pw / 2.0,
            floor + 34.0
        );
        let _ = writeln!(
            s,
            r#"<text x="16" y="{0}" text-anchor="middle" transform="rotate(-90 16 {0})">duration (ms)</text>"#,
            TOP + ph / 2.0
        );

        // Each transition: a line through the plot and its label above, in the first row
        // where the label does not run into an earlier one.
        let mut rows_end = [f64::NEG_INFINITY; LABEL_ROWS.len()];
        for (i, (x0, _, band)) in segments.iter().enumerate() {
            if i == 0 {
                continue;
            }
            let text = band.name();
            let tw = text_width(text, 11.0);
            let row = (0..LABEL_ROWS.len())
                .find(|r| rows_end[*r] + 4.0 <= *x0)
                .unwrap_or_else(|| {
                    (0..LABEL_ROWS.len())
                        .min_by(|a, b| rows_end[*a].total_cmp(&rows_end[*b]))
                        .unwrap_or(0)
                });
            rows_end[row] = x0 + 2.0 + tw;
            let c = label_colour(*band);
            let _ = writeln!(
                s,
                r##"<line class="transition" x1="{x0:.1}" y1="{:.1}" x2="{x0:.1}" y2="{floor}" stroke="{c}" stroke-width="1.2"/>"##,
                LABEL_ROWS[row] + 3.0
            );
            let _ = writeln!(
                s,
                r#"<text class="transition-label" x="{:.1}" y="{}" font-size="11" fill="{c}">{text}</text>"#,
                x0 + 2.0,
                LABEL_ROWS[row]
            );
        }

        // The calls: the bars first, then the markers on top of them.
        for c in &self.calls {
            let yy = y((c.end - c.start) * 1000.0);
            let (x0, x1) = (x(c.start), x(c.end));
            if x1 - x0 >= 1.0 {
                let _ = writeln!(
                    s,
                    r#"<line class="bar-{}" x1="{x0:.1}" y1="{yy:.1}" x2="{x1:.1}" y2="{yy:.1}" stroke="{}" stroke-opacity="0.45" stroke-width="1.5"/>"#,
                    c.mark.class(),
                    c.mark.colour()
                );
            }
        }
        for c in &self.calls {
            let yy = y((c.end - c.start) * 1000.0);
            let _ = writeln!(s, "{}", c.mark.shape(x(c.end), yy, c.mark.class()));
        }

        // Legend: the markers, then the states and the dependency.
        let ly = self.height - 34.0;
        let mut lx = LEFT;
        for mark in Mark::ALL {
            let _ = writeln!(
                s,
                r#"{}<text x="{}" y="{}">{}</text>"#,
                mark.shape(lx + 6.0, ly - 4.0, &format!("legend-{}", mark.class())),
                lx + 16.0,
                ly,
                mark.legend()
            );
            lx += 24.0 + text_width(mark.legend(), 12.0);
        }
        let ly = self.height - 12.0;
        let mut lx = LEFT;
        let swatches = [
            (Band::Closed.colour(), "closed".to_owned()),
            (Band::Open.colour(), "open".to_owned()),
            (Band::HalfOpen.colour(), "half-open".to_owned()),
            ("#cfd8dc", format!("{} up", self.dependency)),
            ("#37474f", format!("{} down", self.dependency)),
        ];
        for (colour, words) in swatches {
            let _ = writeln!(
                s,
                r#"<rect x="{lx}" y="{}" width="12" height="12" fill="{colour}"/><text x="{}" y="{ly}">{}</text>"#,
                ly - 10.0,
                lx + 16.0,
                escape(&words)
            );
            lx += 28.0 + text_width(&words, 12.0);
        }
        s.push_str("</svg>\n");
        s
    }

    /// Writes [`Chart::render`] to `path`, creating its directory if needed.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, self.render())
    }
}

/// Pixel spans made at least [`MIN_WIDTH`] wide: a span that had to grow pushes the start
/// of the next one (no span starts before the previous one ends, none passes `limit`).
fn widen<T: Copy>(spans: Vec<(f64, f64, T)>, limit: f64) -> Vec<(f64, f64, T)> {
    let mut out: Vec<(f64, f64, T)> = Vec::with_capacity(spans.len());
    for (a, b, v) in spans {
        let start = out.last().map_or(a, |p| a.max(p.1)).min(limit - MIN_WIDTH);
        let end = b.max(start + MIN_WIDTH).min(limit);
        out.push((start, end.max(start), v));
    }
    out
}

/// A darker shade for labels on white (amber text is hard to read).
fn label_colour(band: Band) -> &'static str {
    match band {
        Band::HalfOpen => "#b26a00",
        other => other.colour(),
    }
}

/// A rough width of `text` in a sans-serif font of `size` pixels.
fn text_width(text: &str, size: f64) -> f64 {
    text.chars().count() as f64 * size * 0.56
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
