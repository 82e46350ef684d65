//! The SVG chart of the outage exercise, parsed as XML: the band segments, one marker per
//! call with its own shape and colour, the dependency's strip, a label per transition, a
//! minimum width for short states, the legend and escaping.

#[path = "support/svg.rs"]
mod svg;

use roxmltree::{Document, Node};
use svg::{Band, Chart, MIN_WIDTH, Mark};

/// A minute of an outage: authors down from 12 s to 41.5 s; the breaker opens at 20 s,
/// half-open at 30 s for 1 s, open again, half-open at 41 s for 1 ms, closed.
fn outage() -> Chart {
    let mut chart = Chart::new("authors <outage> & recovery");
    chart.state(0.0, Band::Closed);
    chart.state(20.0, Band::Open);
    chart.state(30.0, Band::HalfOpen);
    chart.state(31.0, Band::Open);
    chart.state(41.0, Band::HalfOpen);
    chart.state(41.001, Band::Closed);
    chart.down(12.0, Some(41.5));
    for i in 0..58 {
        let t = f64::from(i);
        match i {
            12..=19 => {
                // Two attempts that time out, then the fallback.
                chart.call(t - 0.7, t - 0.4, Mark::TimedOut);
                chart.call(t - 0.3, t, Mark::TimedOut);
                chart.call(t - 0.7, t, Mark::Fallback);
            }
            20..=41 => chart.call(t - 0.0002, t, Mark::Rejected),
            _ => chart.call(t - 0.012, t, Mark::Answer),
        }
    }
    chart
}

fn parse(text: &str) -> Document<'_> {
    Document::parse(text).expect("the chart is well-formed XML")
}

/// The elements whose class is `class`.
fn class<'a, 'i>(doc: &'a Document<'i>, class: &str) -> Vec<Node<'a, 'i>> {
    doc.descendants()
        .filter(|n| n.attribute("class") == Some(class))
        .collect()
}

fn num(n: &Node, attribute: &str) -> f64 {
    n.attribute(attribute)
        .unwrap_or_else(|| panic!("{attribute} on {n:?}"))
        .parse()
        .unwrap_or_else(|e| panic!("{attribute} on {n:?}: {e}"))
}

#[test]
fn the_band_follows_the_breaker_states() {
    assert_eq!(
        outage().segments(),
        [
            (0.0, 20.0, Band::Closed),
            (20.0, 30.0, Band::Open),
            (30.0, 31.0, Band::HalfOpen),
            (31.0, 41.0, Band::Open),
            (41.0, 41.001, Band::HalfOpen),
            (41.001, 60.0, Band::Closed), // to the end of the axis (57 s rounds up to 60)
        ]
    );
}

#[test]
fn each_kind_of_call_has_its_own_marker_shape_and_colour() {
    let chart = outage();
    let text = chart.render();
    let doc = parse(&text);
    let mut colours = Vec::new();
    for (mark, n, shape) in [
        (Mark::Answer, 58 - 8 - 22, "circle"),
        (Mark::TimedOut, 16, "path"),
        (Mark::Fallback, 8, "path"),
        (Mark::Rejected, 22, "path"),
    ] {
        assert_eq!(chart.count(mark), n, "{mark:?}");
        let marks = class(&doc, mark.class());
        assert_eq!(marks.len(), n, "{mark:?}");
        assert!(
            marks.iter().all(|m| m.tag_name().name() == shape),
            "{mark:?}"
        );
        // The colour: a fill for the solid shapes, a stroke for the cross.
        let paint = if mark == Mark::TimedOut {
            "stroke"
        } else {
            "fill"
        };
        assert!(
            marks
                .iter()
                .all(|m| m.attribute(paint) == Some(mark.colour())),
            "{mark:?}"
        );
        colours.push(mark.colour());
        // No red markers on the red band.
        assert_ne!(mark.colour(), Band::Open.colour(), "{mark:?}");
    }
    colours.sort_unstable();
    colours.dedup();
    assert_eq!(colours.len(), 4, "four different colours");
    // The paths draw different shapes: a cross is two strokes, a diamond four corners, a
    // triangle three.
    let d = |c: &str| class(&doc, c)[0].attribute("d").unwrap().to_owned();
    assert_eq!(d("timed-out").matches('M').count(), 2);
    assert_eq!(d("fallback").matches('L').count(), 3);
    assert_eq!(d("rejected").matches('L').count(), 2);
}

#[test]
fn calls_are_drawn_at_their_end_with_a_bar_back_to_their_start() {
    let mut chart = Chart::new("one call");
    chart.call(2.0, 3.0, Mark::Fallback); // 1 s from 2 s to 3 s
    chart.call(3.5, 3.5005, Mark::Rejected); // too short for a bar
    chart.end(10.0);
    let text = chart.render();
    let doc = parse(&text);
    let bar = &class(&doc, "bar-fallback")[0];
    let (x1, x2) = (num(bar, "x1"), num(bar, "x2"));
    // 10 s across the plot: the bar is a tenth of it, and ends where the marker is.
    let axis = class(&doc, "dependency-up")[0];
    let plot_width = num(&axis, "width");
    assert!(((x2 - x1) - plot_width / 10.0).abs() < 0.5, "{x1} {x2}");
    let diamond = class(&doc, "fallback")[0]
        .attribute("d")
        .unwrap()
        .to_owned();
    assert!(
        diamond.starts_with(&format!("M{x2:.1} ")),
        "{diamond} vs {x2}"
    );
    // The longer call is drawn higher (y grows downwards).
    assert_eq!(num(bar, "y1"), num(bar, "y2"));
    assert!(class(&doc, "bar-rejected").is_empty());
}

#[test]
fn a_strip_shows_when_the_dependency_was_down() {
    let text = outage().render();
    let doc = parse(&text);
    let up = &class(&doc, "dependency-up")[0];
    let (left, width) = (num(up, "x"), num(up, "width"));
    let x = |t: f64| left + t / 60.0 * width;
    let down = class(&doc, "dependency-down");
    assert_eq!(down.len(), 1);
    assert!((num(&down[0], "x") - x(12.0)).abs() < 0.2);
    assert!((num(&down[0], "width") - (x(41.5) - x(12.0))).abs() < 0.2);
    // Its edges are drawn through the plot.
    let edges: Vec<f64> = class(&doc, "dependency-edge")
        .iter()
        .map(|l| num(l, "x1"))
        .collect();
    assert_eq!(edges.len(), 2);
    assert!((edges[0] - x(12.0)).abs() < 0.2 && (edges[1] - x(41.5)).abs() < 0.2);
    assert!(text.contains(">authors down</text>"));
    assert!(text.contains(">authors</text>"));

    // Still down at the end: the strip reaches the end of the axis.
    let mut chart = Chart::new("still down");
    chart.down(5.0, None);
    chart.call(0.0, 0.001, Mark::Answer);
    chart.call(9.5, 10.0, Mark::Fallback);
    assert_eq!(chart.outages(), [(5.0, 10.0)]);
}

#[test]
fn every_transition_is_labelled_and_labels_do_not_collide() {
    let text = outage().render();
    let doc = parse(&text);
    let labels = class(&doc, "transition-label");
    let names: Vec<&str> = labels.iter().map(|l| l.text().unwrap()).collect();
    assert_eq!(names, ["open", "half-open", "open", "half-open", "closed"]);
    assert_eq!(class(&doc, "transition").len(), 5);
    // Labels on one row leave room for their text (about 6 px a character at 11 px).
    for (i, a) in labels.iter().enumerate() {
        for b in &labels[i + 1..] {
            if num(a, "y") == num(b, "y") {
                let (first, second) = if num(a, "x") < num(b, "x") {
                    (a, b)
                } else {
                    (b, a)
                };
                let room = num(second, "x") - num(first, "x");
                let need = first.text().unwrap().len() as f64 * 6.0;
                assert!(
                    room >= need,
                    "{:?} and {:?} overlap",
                    first.text(),
                    second.text()
                );
            }
        }
    }
    // The two short states' labels went to different rows from their neighbours'.
    assert!(num(&labels[3], "y") != num(&labels[4], "y"));
}

#[test]
fn a_state_of_one_millisecond_is_still_visible() {
    let text = outage().render();
    let doc = parse(&text);
    let half_open = class(&doc, "strip-half-open");
    assert_eq!(half_open.len(), 2);
    let short = &half_open[1];
    assert!(num(short, "width") >= MIN_WIDTH, "{short:?}");
    // The state after it starts where it ends: no overlap, nothing hidden.
    let closed = class(&doc, "strip-closed");
    let last = &closed[closed.len() - 1];
    assert!(num(last, "x") >= num(short, "x") + num(short, "width") - 0.05);
    // A 1 ms outage too.
    let mut chart = Chart::new("blip");
    chart.down(3.0, Some(3.001));
    chart.end(60.0);
    let text = chart.render();
    let doc = parse(&text);
    assert!(num(&class(&doc, "dependency-down")[0], "width") >= MIN_WIDTH);
}

#[test]
fn the_legend_names_every_marker_and_state() {
    let text = outage().render();
    let doc = parse(&text);
    for mark in Mark::ALL {
        assert_eq!(class(&doc, &format!("legend-{}", mark.class())).len(), 1);
        assert!(
            text.contains(&format!(">{}</text>", mark.legend())),
            "{mark:?}"
        );
    }
    for words in ["closed", "open", "half-open", "authors up", "authors down"] {
        assert!(text.contains(&format!(">{words}</text>")), "{words}");
    }
}

#[test]
fn the_document_has_axes_ticks_and_an_escaped_title() {
    let text = outage().render();
    let doc = parse(&text);
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    assert_eq!(
        root.tag_name().namespace(),
        Some("http://www.w3.org/2000/svg")
    );
    let texts: Vec<&str> = doc.descendants().filter_map(|n| n.text()).collect();
    assert!(texts.contains(&"authors <outage> & recovery"));
    assert!(text.contains(">authors &lt;outage&gt; &amp; recovery</text>"));
    assert!(texts.iter().any(|t| t.starts_with("time (s)")));
    assert!(texts.contains(&"duration (ms)"));
    // Ticks: time to 60 s in eighths, duration to 800 ms in quarters.
    for label in ["7.5", "15", "30", "60", "200", "400", "800"] {
        assert!(texts.contains(&label), "tick {label}");
    }
}

#[test]
fn an_empty_chart_is_still_a_document() {
    let text = Chart::new("nothing yet").render();
    let doc = parse(&text);
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    for mark in Mark::ALL {
        assert!(class(&doc, mark.class()).is_empty());
    }
    assert!(Chart::new("x").segments().is_empty());
    assert!(Chart::new("x").outages().is_empty());
}

#[test]
fn save_writes_the_document_and_creates_its_directory() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("svg_chart_save");
    let _ = std::fs::remove_dir_all(&dir);
    let path = dir.join("docs/outage.svg");
    outage().save(&path).unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), outage().render());
}
