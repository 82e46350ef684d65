//! The outage exercise over real HTTP (the story of `examples/outage.rs`), with shorter
//! settings: the transitions must be closed -> open -> half-open -> open -> half-open ->
//! closed. Phases are driven by the breaker's observed state; no timing asserts.

#[path = "support/outage_story.rs"]
mod outage_story;

use std::time::Duration;

use breakwater::State;
use outage_story::{EXPECTED, FALLBACK, Settings};

#[test]
fn the_outage_exercise_goes_through_every_transition() {
    let report = outage_story::run(&Settings {
        attempt_timeout: Duration::from_millis(250),
        open_duration: Duration::from_millis(800),
        print: false,
        svg: None,
    });
    assert_eq!(report.stuck, None);
    assert_eq!(report.transitions, EXPECTED, "{}", report.path());
    assert!(report.ok());
    for r in report.phase("normal") {
        assert_eq!(r.author, format!("Author #{}", r.n));
    }
    for r in report.phase("open") {
        assert_eq!((r.state, r.author.as_str()), (State::Open, FALLBACK));
    }
    let recovered = report.phase("recovered");
    assert_eq!(recovered.len(), 3);
    assert!(
        recovered
            .iter()
            .all(|r| r.state == State::Closed && r.author != FALLBACK)
    );
    // While the breaker is open the authors server sees nothing.
    for pair in report.rows.windows(2) {
        if pair[1].phase == "open" {
            assert_eq!(
                pair[1].authors_seen, pair[0].authors_seen,
                "request #{}",
                pair[1].n
            );
        }
    }
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
