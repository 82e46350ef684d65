//! Behaviour of the fallback stage: what it handles, what it answers, what it counts.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use breakwater::{Error, Fallback, ManualClock, PolicyKind, RateLimiter, RejectReason};

fn rejected<E>() -> Error<E> {
    Error::Rejected {
        policy: PolicyKind::CircuitBreaker,
        reason: RejectReason::Open,
        retry_after: Some(Duration::from_secs(30)),
    }
}

fn timed_out<E>() -> Error<E> {
    Error::TimedOut {
        policy: PolicyKind::TimeLimiter,
    }
}

fn failed(msg: &'static str) -> Error<&'static str> {
    Error::Failed {
        error: msg,
        attempts: 3,
    }
}

#[test]
fn a_value_answers_every_kind_by_default() {
    let f = Fallback::value("temporarily unavailable");
    assert_eq!(
        f.recover(Err(rejected())).unwrap(),
        "temporarily unavailable"
    );
    assert_eq!(
        f.recover(Err(timed_out())).unwrap(),
        "temporarily unavailable"
    );
    assert_eq!(
        f.recover(Err(failed("500"))).unwrap(),
        "temporarily unavailable"
    );
    let m = f.metrics();
    assert_eq!((m.answered, m.recovered, m.declined), (3, 3, 0));
}

#[test]
fn successes_pass_through_untouched() {
    let f = Fallback::value(0);
    assert_eq!(f.recover(Ok::<_, Error<()>>(7)).unwrap(), 7);
    assert_eq!(f.metrics().answered, 0);
}

#[test]
fn the_function_receives_the_original_error() {
    let f = Fallback::from_fn(|e: &Error<&'static str>| match e {
        Error::Rejected {
            policy: PolicyKind::CircuitBreaker,
            reason: RejectReason::Open,
            retry_after: Some(d),
        } => Ok(format!("open, retry in {}s", d.as_secs())),
        Error::TimedOut { policy } => Ok(format!("timed out in the {policy}")),
        Error::Failed { error, attempts } => Ok(format!("{error} after {attempts}")),
        other => Err(Error::failed(if other.is_rejected() { "r" } else { "?" })),
    });
    assert_eq!(f.recover(Err(rejected())).unwrap(), "open, retry in 30s");
    assert_eq!(
        f.recover(Err(timed_out())).unwrap(),
        "timed out in the time limiter"
    );
    assert_eq!(f.recover(Err(failed("503"))).unwrap(), "503 after 3");
}

#[test]
fn failures_pass_through_when_not_handled() {
    let f = Fallback::value("cached").on_failure(false);
    assert_eq!(f.recover(Err(rejected())).unwrap(), "cached");
    assert_eq!(f.recover(Err(timed_out())).unwrap(), "cached");
    match f.recover(Err(failed("404"))) {
        Err(Error::Failed { error, attempts }) => assert_eq!((error, attempts), ("404", 3)),
        other => panic!("the failure must pass through unchanged, got {other:?}"),
    }
    let m = f.metrics();
    assert_eq!((m.answered, m.recovered, m.declined), (2, 2, 1));
}

#[test]
fn each_kind_switch_is_independent() {
    let only_rejections = Fallback::value(1).on_timeout(false).on_failure(false);
    assert_eq!(only_rejections.recover(Err(rejected::<()>())).unwrap(), 1);
    assert!(only_rejections.recover(Err(timed_out::<()>())).is_err());
    assert!(only_rejections.recover(Err(Error::failed(()))).is_err());

    let only_timeouts = Fallback::value(2).on_rejected(false).on_failure(false);
    assert!(only_timeouts.recover(Err(rejected::<()>())).is_err());
    assert_eq!(only_timeouts.recover(Err(timed_out::<()>())).unwrap(), 2);
    assert!(only_timeouts.recover(Err(Error::failed(()))).is_err());

    let nothing = Fallback::value(3)
        .on_rejected(false)
        .on_timeout(false)
        .on_failure(false);
    assert!(nothing.recover(Err(rejected::<()>())).is_err());
    assert_eq!(nothing.metrics().declined, 1);
}

#[test]
fn the_predicate_narrows_the_enabled_kinds() {
    let f = Fallback::value(0u16)
        .on_rejected(false)
        .when(|e: &Error<u16>| e.is_rejected() || e.inner().is_some_and(|s| *s >= 500));
    assert_eq!(f.recover(Err(Error::failed(503))).unwrap(), 0);
    assert!(matches!(
        f.recover(Err(Error::failed(404))),
        Err(Error::Failed { error: 404, .. })
    ));
    // The predicate accepts rejections, but their kind is switched off.
    assert!(f.recover(Err(rejected())).unwrap_err().is_rejected());
    assert!(f.handles(&Error::failed(500)));
    // Time-outs are enabled, but the predicate refuses them.
    assert!(!f.handles(&timed_out()));
}

#[test]
fn the_function_may_answer_with_an_error() {
    let f: Fallback<u8, String> = Fallback::from_fn(|e: &Error<String>| {
        Err(Error::failed(format!(
            "no fallback for: {}",
            e.inner().map_or("?", |s| s.as_str())
        )))
    });
    let e = f.recover(Err(Error::failed("db down".to_string())));
    assert_eq!(
        e.unwrap_err().into_inner().unwrap(),
        "no fallback for: db down"
    );
    let m = f.metrics();
    assert_eq!((m.answered, m.recovered, m.declined), (1, 0, 0));
}

#[test]
fn call_runs_the_closure_once_and_answers_its_error() {
    let runs = AtomicU32::new(0);
    let f = Fallback::value(-1);
    let ok = f.call(|| {
        runs.fetch_add(1, Ordering::Relaxed);
        Ok::<_, Error<()>>(5)
    });
    let err = f.call(|| {
        runs.fetch_add(1, Ordering::Relaxed);
        Err(Error::failed(()))
    });
    assert_eq!((ok.unwrap(), err.unwrap()), (5, -1));
    assert_eq!(runs.load(Ordering::Relaxed), 2);
}

#[test]
fn clones_share_the_counters_and_it_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync + Clone + 'static>() {}
    assert_send_sync::<Fallback<String, std::io::Error>>();
    let f = Fallback::value(1);
    let g = f.clone();
    let _ = g.recover(Err(Error::<()>::failed(())));
    let _ = f.recover(Err(Error::<()>::failed(())));
    assert_eq!(f.metrics().answered, 2);
}

#[test]
fn a_rate_limiter_rejection_is_answered_by_the_fallback() {
    let clock = ManualClock::new();
    let limiter = RateLimiter::builder()
        .rate(1, Duration::from_secs(1))
        .clock(clock)
        .build()
        .unwrap();
    let seen_retry_after = Arc::new(parking_lot::Mutex::new(None));
    let seen = Arc::clone(&seen_retry_after);
    let fallback = Fallback::from_fn(move |e: &Error<std::io::Error>| {
        *seen.lock() = e.retry_after();
        Ok("degraded")
    })
    .on_failure(false);
    let guarded = || fallback.call(|| limiter.call(|| Ok::<_, std::io::Error>("fresh")));
    assert_eq!(guarded().unwrap(), "fresh");
    assert_eq!(guarded().unwrap(), "degraded");
    assert_eq!(*seen_retry_after.lock(), Some(Duration::from_secs(1)));
}
