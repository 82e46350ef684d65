//! The outage exercise over real HTTP (the story of `examples/outage.rs`), with shorter
//! settings and the same steady traffic: the transitions must be closed -> open ->
//! half-open -> open -> half-open -> closed, every request is answered the way the breaker
//! says, and the chart drawn from the run shows it. Phases are driven by the breaker's
//! observed transitions; no timing asserts.

#[path = "support/outage_story.rs"]
mod outage_story;

use std::time::Duration;

use breakwater::State;
use outage_story::svg::Mark;
use outage_story::{AttemptEnd, BREAKER_FAILURES, EXPECTED, FALLBACK, Settings, Source};

#[test]
fn the_outage_exercise_goes_through_every_transition() {
    let settings = Settings {
        attempt_timeout: Duration::from_millis(400),
        open_duration: Duration::from_millis(800),
        lead_in: Duration::from_millis(400),
        tail: Duration::from_millis(400),
        print: false,
        ..Settings::default()
    };
    let report = outage_story::run(&settings);
    assert_eq!(report.stuck, None);
    assert_eq!(report.transitions, EXPECTED, "{}", report.path());
    assert!(report.ok());
    let (down, back) = (report.authors_down.unwrap(), report.authors_back.unwrap());
    let (opened, closed) = (report.log[0].0, report.log[4].0);
    assert!(down < opened && opened < back && back < closed);

    // The timeline is in time order, and every request was answered.
    assert!(report.rows.windows(2).all(|w| w[0].end <= w[1].end));
    assert!(
        report.answered(Source::Error).is_empty(),
        "{:?}",
        report.rows
    );
    for r in &report.rows {
        match r.source {
            Source::Answer => assert_eq!(r.author, format!("Author #{}", r.n)),
            _ => assert_eq!(r.author, FALLBACK, "request #{}", r.n),
        }
        assert_eq!(r.attempts, report.attempts_of(r.n).len());
    }
    // Before the outage, and after the breaker closed again, authors answers.
    for r in report
        .rows
        .iter()
        .filter(|r| r.end < down || r.start > closed)
    {
        assert_eq!(
            (r.source, r.state),
            (Source::Answer, State::Closed),
            "#{}",
            r.n
        );
    }
    // Steady traffic: several requests while the breaker was open, refused at once
    // without reaching authors.
    let rejected = report.answered(Source::Rejected);
    assert!(rejected.len() >= 3, "{}", rejected.len());
    assert!(rejected.iter().any(|r| r.state == State::Open));
    for r in &rejected {
        assert!(
            r.end >= opened,
            "#{} was rejected before the breaker opened",
            r.n
        );
        let id = format!("demo-{}", r.n);
        assert!(!report.authors_seen.contains(&id), "authors saw #{}", r.n);
    }
    // Until the breaker opened, attempts ran into their timeout and the answer was the
    // fallback; the first failed trial timed out too.
    let timed_out = report
        .attempts
        .iter()
        .filter(|a| a.outcome == AttemptEnd::TimedOut)
        .count();
    assert!(timed_out > BREAKER_FAILURES as usize, "{timed_out}");
    assert!(!report.answered(Source::Fallback).is_empty());
    assert!(
        report
            .answered(Source::Fallback)
            .iter()
            .all(|r| r.attempts > 0)
    );

    // The chart of the run has every kind of marker, the outage and each state.
    let chart = outage_story::chart(&report);
    for mark in Mark::ALL {
        assert!(chart.count(mark) > 0, "{mark:?}");
    }
    assert_eq!(chart.outages(), [(down, back)]);
    assert_eq!(chart.segments().len(), EXPECTED.len());

    assert!(
        report.health.starts_with(r#"{"status":"UP""#),
        "{}",
        report.health
    );
    assert!(
        report
            .metrics
            .contains("breakwater_breaker_opened_total{breaker=\"authors@")
    );
}
