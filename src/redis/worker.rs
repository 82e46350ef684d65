//! The background threads of a shared breaker: the worker (outcome batches, polling,
//! reconnection) and the subscriber (transition notifications over pub/sub).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;

use crate::breaker::State;

use super::scripts::reason_from_code;
use super::shared::Inner;

/// How often the subscriber wakes up to see whether it should stop.
const SUBSCRIBER_TICK: Duration = Duration::from_millis(50);

thread_local! {
    /// Set on a breaker's background threads (the worker and the subscriber), so that
    /// dropping the last handle there does not join them.
    pub(super) static ON_WORKER: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// The worker: sends outcome batches every `flush_interval` (a failure or a trial
/// outcome at once), re-reads the shared state every `poll_interval` (or after the
/// subscriber reconnected), and while degraded tries Redis again every `poll_interval`.
pub(crate) fn worker(inner: Arc<Inner>, wake: Receiver<()>) {
    ON_WORKER.with(|w| w.set(true));
    let mut link = inner.link();
    let poll = inner.options.poll_interval;
    let mut next_poll = Instant::now() + poll;
    loop {
        let _ = wake.recv_timeout(inner.options.flush_interval);
        if inner.stop.load(Ordering::Acquire) {
            if !inner.health.is_degraded() {
                let _ = inner.flush(&mut link);
            }
            return;
        }
        let now = Instant::now();
        if inner.health.is_degraded() {
            if now >= next_poll {
                next_poll = now + poll;
                // Outcomes recorded under the shared state before the outage are lost.
                if inner.sync(&mut link).is_ok() {
                    inner.health.recover();
                }
            }
            continue;
        }
        if let Err(e) = inner.flush(&mut link) {
            inner.degrade(&e);
            next_poll = now + poll;
            continue;
        }
        if now >= next_poll || inner.need_sync.swap(false, Ordering::AcqRel) {
            next_poll = now + poll;
            if let Err(e) = inner.sync(&mut link) {
                inner.degrade(&e);
            }
        }
    }
}

/// The subscriber: listens on the breaker's channel and applies every transition it
/// hears of; reconnects (every `poll_interval`) after losing the connection.
pub(crate) fn subscriber(inner: Arc<Inner>) {
    ON_WORKER.with(|w| w.set(true));
    while !inner.stop.load(Ordering::Acquire) {
        let connected = inner
            .client
            .get_connection_with_timeout(inner.options.op_timeout);
        let Ok(mut con) = connected else {
            pause(&inner, inner.options.poll_interval);
            continue;
        };
        if con
            .set_read_timeout(Some(inner.options.op_timeout))
            .is_err()
            || con
                .set_write_timeout(Some(inner.options.op_timeout))
                .is_err()
        {
            continue;
        }
        let mut pubsub = con.as_pubsub();
        if pubsub.subscribe(&inner.channel).is_err()
            || pubsub.set_read_timeout(Some(SUBSCRIBER_TICK)).is_err()
        {
            pause(&inner, inner.options.poll_interval);
            continue;
        }
        // Anything published while we were not subscribed is read by a poll.
        inner.need_sync.store(true, Ordering::Release);
        let _ = inner.wake.try_send(());
        while !inner.stop.load(Ordering::Acquire) {
            match pubsub.get_message() {
                Ok(msg) => {
                    let payload: String = msg.get_payload().unwrap_or_default();
                    if let Some((state, gn, rem, reason)) = parse(&payload) {
                        inner.health.notifications.fetch_add(1, Ordering::Relaxed);
                        if !inner.health.is_degraded() {
                            inner.apply_state(state, gn, rem, Some(reason_from_code(reason)));
                        }
                    }
                }
                Err(e) if e.is_timeout() => {}
                Err(_) => break,
            }
        }
    }
}

/// Parses `"gn state rem_ms reason from"`.
fn parse(payload: &str) -> Option<(State, u64, u64, u32)> {
    let mut it = payload.split(' ').map(str::parse::<u64>);
    let gn = it.next()?.ok()?;
    let state = State::from_code(u32::try_from(it.next()?.ok()?).ok()?)?;
    let rem = it.next()?.ok()?;
    let reason = u32::try_from(it.next()?.ok()?).ok()?;
    Some((state, gn, rem, reason))
}

/// Sleeps `d` in short steps, returning early when the breaker stops.
fn pause(inner: &Inner, d: Duration) {
    let end = Instant::now() + d;
    while !inner.stop.load(Ordering::Acquire) {
        let now = Instant::now();
        if now >= end {
            return;
        }
        std::thread::sleep((end - now).min(SUBSCRIBER_TICK));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifications_parse_and_garbage_is_refused() {
        assert_eq!(parse("7 1 30000 0 0"), Some((State::Open, 7, 30000, 0)));
        assert_eq!(parse("7 9 0 0 0"), None);
        assert_eq!(parse("x"), None);
        assert_eq!(parse(""), None);
    }
}
