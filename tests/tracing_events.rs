//! The `tracing` events of a scripted outage on a manual clock, captured by a small
//! subscriber layer: breaker transitions (WARN entering open, INFO otherwise) with the
//! core's sentence, rejections, retries, bulkhead and rate-limiter refusals (DEBUG), and
//! nothing at all when no subscriber wants them.
#![cfg(feature = "tracing")]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use breakwater::{
    Backoff, Bulkhead, CircuitBreaker, Error, ManualClock, RateLimiter, Retry, Window,
};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::{Layer, filter::LevelFilter};

/// One captured event: level, target and every field as text (`message` included).
#[derive(Debug, Clone)]
struct Record {
    level: Level,
    target: String,
    fields: BTreeMap<String, String>,
}

impl Record {
    fn message(&self) -> &str {
        &self.fields["message"]
    }

    fn field(&self, name: &str) -> &str {
        self.fields.get(name).map_or("<absent>", String::as_str)
    }
}

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<Record>>>);

impl<S: Subscriber> Layer<S> for Capture {
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        self.0.lock().unwrap().push(Record {
            level: *event.metadata().level(),
            target: event.metadata().target().to_owned(),
            fields,
        });
    }
}

impl Capture {
    /// Runs `f` with this layer (at `level` and above) as the thread's subscriber.
    fn run(&self, level: LevelFilter, f: impl FnOnce()) -> Vec<Record> {
        let subscriber = tracing_subscriber::registry().with(self.clone().with_filter(level));
        tracing::subscriber::with_default(subscriber, f);
        self.0.lock().unwrap().clone()
    }
}

fn only(records: &[Record], target: &str) -> Vec<Record> {
    records
        .iter()
        .filter(|r| r.target == target)
        .cloned()
        .collect()
}

#[test]
fn a_scripted_outage_logs_each_transition_with_its_sentence() {
    let clock = ManualClock::new();
    let breaker = CircuitBreaker::builder()
        .name("authors")
        .consecutive_failures(3)
        .open_duration(Duration::from_secs(10))
        .clock(clock.clone().into())
        .build()
        .unwrap();
    let records = Capture::default().run(LevelFilter::INFO, || {
        for _ in 0..3 {
            let _ = breaker.call(|| Err::<(), _>("down"));
        }
        assert!(breaker.try_acquire().is_err()); // DEBUG: filtered out at INFO
        clock.advance(Duration::from_secs(10));
        breaker.try_acquire().unwrap().success();
        breaker.force_open();
        breaker.reset();
    });
    let records = only(&records, "breakwater::breaker");
    let seen: Vec<(Level, &str)> = records.iter().map(|r| (r.level, r.message())).collect();
    assert_eq!(
        seen,
        [
            (
                Level::WARN,
                "breaker authors: closed -> open (3 consecutive failures)"
            ),
            (
                Level::INFO,
                "breaker authors: open -> half-open (open duration elapsed)"
            ),
            (
                Level::INFO,
                "breaker authors: half-open -> closed (trial succeeded)"
            ),
            (
                Level::WARN,
                "breaker authors: closed -> forced-open (forced open)"
            ),
            (
                Level::INFO,
                "breaker authors: forced-open -> closed (reset)"
            ),
        ]
    );
    let first = &records[0];
    assert_eq!(first.field("policy"), "circuit_breaker");
    assert_eq!(first.field("name"), "authors");
    assert_eq!(first.field("from"), "closed");
    assert_eq!(first.field("to"), "open");
    assert_eq!(first.field("reason"), "threshold reached");
    assert_eq!(first.field("generation"), "2");
}

#[test]
fn the_event_text_is_the_transition_description() {
    let clock = ManualClock::new();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let breaker = CircuitBreaker::builder()
        .name("search")
        .failure_rate(0.5, Window::Count(10), 8)
        .clock(clock.into())
        .on_transition(move |t| s.lock().unwrap().push(*t))
        .build()
        .unwrap();
    let records = Capture::default().run(LevelFilter::INFO, || {
        for i in 0..8 {
            let _ = breaker.call(|| if i < 3 { Ok(()) } else { Err("down") });
        }
    });
    let described = seen.lock().unwrap()[0].describe(breaker.name(), breaker.config());
    assert_eq!(
        described,
        "breaker search: closed -> open (failure rate 62.5% >= 50% over the last 8 calls)"
    );
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].message(), described);
}

#[test]
fn rejections_are_debug_events() {
    let clock = ManualClock::new();
    let breaker = CircuitBreaker::builder()
        .name("authors")
        .consecutive_failures(1)
        .clock(clock.clone().into())
        .build()
        .unwrap();
    let bulkhead = Bulkhead::builder()
        .name("email")
        .max_concurrent(1)
        .build()
        .unwrap();
    let limiter = RateLimiter::builder()
        .name("api")
        .rate(2, Duration::from_secs(1))
        .clock(clock.clone())
        .build()
        .unwrap();
    let records = Capture::default().run(LevelFilter::DEBUG, || {
        let _ = breaker.call(|| Err::<(), _>("down"));
        assert!(breaker.try_acquire().is_err());
        breaker.force_open();
        assert!(breaker.try_acquire().is_err());
        let _held = bulkhead.try_acquire().unwrap();
        assert!(bulkhead.try_acquire().is_err());
        limiter.try_acquire_n(2).unwrap();
        assert!(limiter.try_acquire().is_err());
        assert!(limiter.try_acquire_n(3).is_err());
    });
    let debug: Vec<&str> = records
        .iter()
        .filter(|r| r.level == Level::DEBUG)
        .map(Record::message)
        .collect();
    assert_eq!(
        debug,
        [
            "breaker authors: call rejected (open)",
            "breaker authors: call rejected (forced open)",
            "bulkhead email: call rejected (bulkhead full)",
            "rate limiter api: call rejected (rate limited, retry after 500ms)",
            "rate limiter api: call rejected (rate limited, retry after never: more than the burst)",
        ]
    );
    let b = records
        .iter()
        .find(|r| r.target == "breakwater::breaker" && r.level == Level::DEBUG)
        .unwrap();
    assert_eq!(
        (b.field("policy"), b.field("name"), b.field("reason")),
        ("circuit_breaker", "authors", "open")
    );
    let l = &only(&records, "breakwater::rate_limiter")[0];
    assert_eq!(
        (
            l.field("policy"),
            l.field("name"),
            l.field("retry_after_ms")
        ),
        ("rate_limiter", "api", "500.0")
    );
}

#[test]
fn retries_are_debug_events_with_attempt_delay_and_error_kind() {
    let clock = ManualClock::new();
    let retry = Retry::builder()
        .name("fetch")
        .max_attempts(3)
        .backoff(Backoff::Fixed(Duration::from_millis(250)))
        .clock(clock.clone().into())
        .build()
        .unwrap();
    let records = Capture::default().run(LevelFilter::DEBUG, || {
        let r: Result<(), Error<&str>> = retry.call(|_| Err(Error::failed("down")));
        assert_eq!(r.unwrap_err().attempts(), 3);
    });
    let records = only(&records, "breakwater::retry");
    let seen: Vec<&str> = records.iter().map(Record::message).collect();
    assert_eq!(
        seen,
        [
            "retry fetch: attempt 1 failed, next in 250ms",
            "retry fetch: attempt 2 failed, next in 250ms",
        ]
    );
    assert_eq!(records[1].field("attempt"), "2");
    assert_eq!(records[1].field("error"), "failed");
    assert_eq!(records[1].field("delay_ms"), "250.0");
}

#[test]
fn nothing_is_recorded_above_the_subscriber_level() {
    let clock = ManualClock::new();
    let breaker = CircuitBreaker::builder()
        .consecutive_failures(1)
        .clock(clock.into())
        .build()
        .unwrap();
    let records = Capture::default().run(LevelFilter::ERROR, || {
        let _ = breaker.call(|| Err::<(), _>("down"));
        assert!(breaker.try_acquire().is_err());
    });
    assert!(records.is_empty(), "{records:?}");
}
