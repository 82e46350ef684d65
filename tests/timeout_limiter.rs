//! The time limiter: a call that never returns gives `TimedOut` at the deadline (manual
//! clock, plus one wall-clock check), the abandoned call sees its cancellation flag, its
//! late result is dropped and counted, a full pool rejects and never grows past
//! `max_threads`, and the context's own deadline and cancellation are honoured.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use breakwater::TimeLimiter;
use breakwater::{CancelToken, Ctx, Error, ManualClock, PolicyKind, RejectReason};

fn limiter(timeout: Duration, max_threads: u32) -> (TimeLimiter, ManualClock) {
    let clock = ManualClock::new();
    let limiter = TimeLimiter::builder()
        .name("tl")
        .timeout(timeout)
        .max_threads(max_threads)
        .clock(clock.clone().into())
        .build()
        .unwrap();
    (limiter, clock)
}

fn timed_out<T: std::fmt::Debug, E: std::fmt::Debug>(r: &Result<T, Error<E>>) -> bool {
    matches!(
        r,
        Err(Error::TimedOut {
            policy: PolicyKind::TimeLimiter
        })
    )
}

fn rejected<T, E>(r: &Result<T, Error<E>>, why: RejectReason) -> bool {
    matches!(r, Err(Error::Rejected { policy: PolicyKind::TimeLimiter, reason, .. }) if *reason == why)
}

/// Signals on a channel when dropped: tells the test a late result was dropped.
#[derive(Debug)]
struct DropSignal(mpsc::Sender<&'static str>);

impl Drop for DropSignal {
    fn drop(&mut self) {
        let _ = self.0.send("dropped");
    }
}

#[test]
fn a_call_that_never_returns_times_out_at_the_deadline_and_its_late_result_is_dropped() {
    let (limiter, clock) = limiter(Duration::from_secs(5), 2);
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let (seen_tx, seen_rx) = mpsc::channel::<(bool, bool)>();
    let (dropped_tx, dropped_rx) = mpsc::channel();

    let l2 = limiter.clone();
    let ctx = Ctx::with_clock(clock.clone().into());
    let caller = thread::spawn(move || {
        l2.call(&ctx, move |ctx| {
            release_rx.recv().unwrap(); // blocked until the test says so
            seen_tx
                .send((ctx.is_cancelled(), ctx.is_expired()))
                .unwrap();
            Ok::<_, Error<()>>(DropSignal(dropped_tx))
        })
    });
    while clock.waiters() != 1 {
        thread::yield_now();
    }
    clock.advance(Duration::from_secs(4));
    clock.advance(Duration::from_secs(1));
    let result = caller.join().unwrap();
    assert!(timed_out(&result), "{:?}", result.map(|_| ()));
    let m = limiter.metrics();
    assert_eq!((m.timed_out, m.late_results_dropped, m.busy), (1, 0, 1));

    // The abandoned call sees its flag, and its result is dropped when it comes.
    release_tx.send(()).unwrap();
    assert_eq!(seen_rx.recv().unwrap(), (true, true));
    assert_eq!(dropped_rx.recv().unwrap(), "dropped");
    assert_eq!(limiter.metrics().late_results_dropped, 1);
}

#[test]
fn timed_out_on_the_wall_clock() {
    let limiter = TimeLimiter::builder()
        .timeout(Duration::from_millis(50))
        .max_threads(1)
        .build()
        .unwrap();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let started = Instant::now();
    let result = limiter.call(&Ctx::new(), move |_| {
        let _ = release_rx.recv();
        Ok::<_, Error<()>>(())
    });
    let waited = started.elapsed();
    assert!(timed_out(&result));
    // Never before the deadline (a lower bound, not a speed assert); the upper bound is wide.
    assert!(waited >= Duration::from_millis(50), "{waited:?}");
    assert!(waited < Duration::from_secs(60), "{waited:?}");
    drop(release_tx);
}

#[test]
fn a_hundred_blocked_calls_use_at_most_eight_threads_and_the_rest_are_rejected() {
    const CALLS: usize = 100;
    let (limiter, clock) = limiter(Duration::from_secs(1), 8);
    let (gate_tx, gate_rx) = crossbeam_channel::unbounded::<()>();
    let (results_tx, results_rx) = mpsc::channel();
    let callers: Vec<_> = (0..CALLS)
        .map(|_| {
            let (limiter, gate, results) = (limiter.clone(), gate_rx.clone(), results_tx.clone());
            let ctx = Ctx::with_clock(clock.clone().into());
            thread::spawn(move || {
                let r = limiter.call(&ctx, move |_| {
                    let _ = gate.recv(); // never returns until the gate closes
                    Ok::<_, Error<()>>(())
                });
                results.send(r).unwrap();
            })
        })
        .collect();
    // 92 come back at once, rejected.
    for _ in 0..CALLS - 8 {
        let r = results_rx.recv().unwrap();
        assert!(rejected(&r, RejectReason::QueueFull), "{r:?}");
    }
    while clock.waiters() != 8 {
        thread::yield_now();
    }
    let m = limiter.metrics();
    assert_eq!((m.threads_spawned, m.busy, m.rejected), (8, 8, 92));
    clock.advance(Duration::from_secs(1));
    for _ in 0..8 {
        assert!(timed_out(&results_rx.recv().unwrap()));
    }
    for c in callers {
        c.join().unwrap();
    }
    // Abandoned calls still hold every worker: the next call is rejected, no new thread.
    let r = limiter.call(&Ctx::with_clock(clock.clone().into()), |_| {
        Ok::<_, Error<()>>(())
    });
    assert!(rejected(&r, RejectReason::QueueFull));
    let m = limiter.metrics();
    assert_eq!(
        (m.threads_spawned, m.timed_out, m.rejected, m.busy),
        (8, 8, 93, 8)
    );
    drop(gate_tx);
}

#[test]
fn fast_calls_return_their_own_result() {
    let (limiter, clock) = limiter(Duration::from_secs(1), 2);
    let ctx = Ctx::with_clock(clock.clone().into()).with_attempt(3);
    let ok: Result<u32, Error<&str>> = limiter.call(&ctx, |ctx| Ok(ctx.attempt()));
    assert_eq!(ok.unwrap(), 3);
    let failed: Result<u32, Error<&str>> = limiter.call(&ctx, |_| Err(Error::failed("boom")));
    assert_eq!(failed.unwrap_err().into_inner(), Some("boom"));
    let remaining: Result<Option<Duration>, Error<()>> =
        limiter.call(&ctx, |ctx| Ok(ctx.remaining()));
    assert_eq!(remaining.unwrap(), Some(Duration::from_secs(1)));
    let m = limiter.metrics();
    assert_eq!((m.timed_out, m.rejected, m.threads_spawned), (0, 0, 1));
}

#[test]
fn the_contexts_sooner_deadline_wins() {
    let (limiter, clock) = limiter(Duration::from_secs(10), 1);
    let ctx = Ctx::with_clock(clock.clone().into()).with_timeout(Duration::from_secs(2));
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let l2 = limiter.clone();
    let caller = thread::spawn(move || {
        l2.call(&ctx, move |ctx| {
            let remaining = ctx.remaining();
            let _ = release_rx.recv();
            Ok::<_, Error<()>>(remaining)
        })
    });
    while clock.waiters() != 1 {
        thread::yield_now();
    }
    clock.advance(Duration::from_secs(2));
    assert!(timed_out(&caller.join().unwrap()));
    assert_eq!(clock.elapsed(), Duration::from_secs(2));
    drop(release_tx);
}

#[test]
fn expired_or_cancelled_contexts_are_rejected_without_running() {
    let (limiter, clock) = limiter(Duration::from_secs(1), 1);
    let expired = Ctx::with_clock(clock.clone().into()).with_timeout(Duration::ZERO);
    let r = limiter.call(&expired, |_| -> Result<(), Error<()>> {
        panic!("must not run")
    });
    assert!(rejected(&r, RejectReason::DeadlineExceeded));
    let token = CancelToken::new();
    token.cancel();
    let cancelled = Ctx::with_clock(clock.clone().into()).with_cancel(token);
    let r = limiter.call(&cancelled, |_| -> Result<(), Error<()>> {
        panic!("must not run")
    });
    assert!(rejected(&r, RejectReason::Cancelled));
    let m = limiter.metrics();
    assert_eq!((m.rejected, m.threads_spawned), (2, 0));
}

#[test]
fn cancelling_the_callers_context_returns_at_once_and_flags_the_call() {
    let (limiter, clock) = limiter(Duration::from_secs(3600), 1);
    let token = CancelToken::new();
    let ctx = Ctx::with_clock(clock.clone().into()).with_cancel(token.clone());
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let (seen_tx, seen_rx) = mpsc::channel();
    let l2 = limiter.clone();
    let caller = thread::spawn(move || {
        l2.call(&ctx, move |ctx| {
            let _ = release_rx.recv();
            seen_tx.send(ctx.is_cancelled()).unwrap();
            Ok::<_, Error<()>>(())
        })
    });
    while clock.waiters() != 1 {
        thread::yield_now();
    }
    token.cancel();
    assert!(rejected(&caller.join().unwrap(), RejectReason::Cancelled));
    assert_eq!(clock.elapsed(), Duration::ZERO, "no time had to pass");
    release_tx.send(()).unwrap();
    assert!(seen_rx.recv().unwrap());
}

#[test]
fn a_panic_in_the_call_resumes_in_the_caller() {
    let (limiter, clock) = limiter(Duration::from_secs(1), 1);
    let ctx = Ctx::with_clock(clock.clone().into());
    let payload = catch_unwind(AssertUnwindSafe(|| {
        let _: Result<(), Error<()>> = limiter.call(&ctx, |_| panic!("authors service bug"));
    }))
    .unwrap_err();
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"authors service bug"));
    // The worker survived and serves the next call.
    let ok: Result<String, Error<()>> =
        limiter.call(&ctx, |_| Ok(thread::current().name().unwrap().to_owned()));
    assert_eq!(ok.unwrap(), "tl-0");
    assert_eq!(limiter.metrics().threads_spawned, 1);
}

#[test]
fn invalid_configurations_name_their_field() {
    let field = |b: breakwater::TimeLimiterBuilder| b.build().unwrap_err().field;
    assert_eq!(
        field(TimeLimiter::builder().timeout(Duration::ZERO)),
        "timeout"
    );
    assert_eq!(
        field(TimeLimiter::builder().timeout(Duration::MAX)),
        "timeout"
    );
    assert_eq!(field(TimeLimiter::builder().max_threads(0)), "max_threads");
    assert_eq!(field(TimeLimiter::builder().name("x\0")), "name");
    let e = TimeLimiter::builder().max_threads(0).build().unwrap_err();
    assert_eq!(e.policy, PolicyKind::TimeLimiter);
}

#[test]
fn back_to_back_calls_on_one_thread_are_never_rejected() {
    // Regression: the result used to reach the caller before the pool counted the worker
    // free, so an immediate next call on a one-thread limiter could be refused.
    let (limiter, clock) = limiter(Duration::from_secs(1), 1);
    let ctx = Ctx::with_clock(clock.clone().into());
    for i in 0..200u32 {
        let r: Result<u32, Error<()>> = limiter.call(&ctx, move |_| Ok(i));
        assert_eq!(r.unwrap(), i);
    }
    let m = limiter.metrics();
    assert_eq!((m.rejected, m.threads_spawned, m.busy), (0, 1, 0));
}
