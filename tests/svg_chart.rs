//! The SVG chart of the outage exercise: band segments, one mark per call, axes, escaping,
//! and a document that an XML parser accepts.

#[path = "support/svg.rs"]
mod svg;

use std::process::{Command, Stdio};

use svg::{Band, Chart};

fn outage() -> Chart {
    let mut chart = Chart::new("authors <outage> & recovery");
    chart.state(0.0, Band::Closed);
    chart.state(20.0, Band::Open);
    chart.state(30.0, Band::HalfOpen);
    chart.state(31.0, Band::Open);
    chart.state(41.0, Band::HalfOpen);
    chart.state(42.0, Band::Closed);
    for i in 0..58 {
        let t = f64::from(i);
        let (ms, ok) = match i {
            12..=19 => (1000.0, false), // hanging until the timeout
            20..=41 => (0.2, false),    // rejected at once
            _ => (12.0 + f64::from(i % 5), true),
        };
        chart.point(t, ms, ok);
    }
    chart
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
            (41.0, 42.0, Band::HalfOpen),
            (42.0, 60.0, Band::Closed), // to the end of the axis (57 s rounds up to 60)
        ]
    );
}

#[test]
fn the_document_has_one_mark_per_call_and_escapes_its_title() {
    let text = outage().render();
    assert!(text.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(text.ends_with("</svg>\n"));
    assert_eq!(text.matches("<circle class=\"ok\"").count(), 58 - 30);
    assert_eq!(text.matches("<circle class=\"failed\"").count(), 30);
    for (class, n) in [("closed", 2), ("open", 2), ("half-open", 2)] {
        assert_eq!(
            text.matches(&format!("class=\"band-{class}\"")).count(),
            n,
            "{class}"
        );
        assert_eq!(
            text.matches(&format!("class=\"strip-{class}\"")).count(),
            n,
            "{class}"
        );
    }
    assert!(text.contains(">authors &lt;outage&gt; &amp; recovery</text>"));
    assert!(text.contains(">time (s)</text>") && text.contains(">latency (ms)</text>"));
    // Tick labels: time to 60 s in steps of 12, latency to 1000 ms in steps of 200.
    for label in ["12", "24", "36", "48", "60", "200", "400", "1000"] {
        assert!(text.contains(&format!(">{label}</text>")), "tick {label}");
    }
}

#[test]
fn an_empty_chart_is_still_a_document() {
    let text = Chart::new("nothing yet").render();
    assert!(text.ends_with("</svg>\n"));
    assert_eq!(text.matches("<circle class=").count(), 0);
    assert!(Chart::new("x").segments().is_empty());
}

#[test]
fn an_xml_parser_accepts_it() {
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("outage.svg");
    outage().save(&path).unwrap();
    let check = "import sys, xml.etree.ElementTree as E; r = E.parse(sys.argv[1]).getroot(); \
                 print(r.tag, len(r.findall('{http://www.w3.org/2000/svg}circle')))";
    let out = Command::new("python3")
        .args(["-c", check])
        .arg(&path)
        .stderr(Stdio::inherit())
        .output();
    match out {
        Ok(out) => {
            assert!(out.status.success());
            // 58 calls and 2 legend marks.
            assert_eq!(
                String::from_utf8(out.stdout).unwrap().trim(),
                "{http://www.w3.org/2000/svg}svg 60"
            );
        }
        Err(e) => eprintln!("skipped: python3: {e}"),
    }
}
