//! The outage exercise against a simulated authors service, on the manual clock.
//!
//! A presentations endpoint returns a presentation with its author. The authors call goes
//! through a pipeline (fallback -> breaker -> retry -> simulated call); when authors is
//! down the endpoint still answers, with the author "temporary unavailable". The script:
//! normal traffic; authors stops answering (each attempt takes its 300 ms timeout), the
//! retries fail until the breaker opens; answers come back instantly; the breaker goes
//! half-open, the trial fails and it opens again; authors answers again; a trial succeeds
//! and it closes. Every transition is printed, and the program exits non-zero unless the
//! transitions were closed -> open -> half-open -> open -> half-open -> closed.
//!
//! Run: `cargo run --release --example outage_sim`

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use breakwater::State;
use breakwater::{Backoff, CircuitBreaker, Clock, Error, ManualClock, Pipeline, Retry};
use parking_lot::Mutex;

const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(300);
const OPEN_DURATION: Duration = Duration::from_secs(2);

fn main() -> ExitCode {
    let clock = ManualClock::new();
    let transitions = Arc::new(Mutex::new(vec![State::Closed]));
    let log = Arc::clone(&transitions);
    let printer = clock.clone();
    let breaker = CircuitBreaker::builder()
        .name("authors")
        .consecutive_failures(3)
        .open_duration(OPEN_DURATION)
        .clock(Clock::from(&clock))
        .on_transition(move |t| {
            println!(
                "  [{:>6.1} s] breaker authors: {} -> {} ({:?})",
                printer.elapsed().as_secs_f64(),
                t.from,
                t.to,
                t.reason
            );
            log.lock().push(t.to);
        })
        .build()
        .expect("valid breaker");
    let retry = Retry::builder()
        .max_attempts(2)
        .backoff(Backoff::Fixed(Duration::from_millis(100)))
        .clock(Clock::from(&clock))
        .build()
        .expect("valid retry");
    let authors = Pipeline::<String, String>::builder()
        .clock(Clock::from(&clock))
        .fallback_with(|_| true, |_| Ok("temporary unavailable".to_string()))
        .breaker(breaker.clone())
        .retry(retry)
        .build();

    let authors_up = Arc::new(AtomicBool::new(true));
    let request = |n: u32| {
        let up = Arc::clone(&authors_up);
        let sim = clock.clone();
        let started = clock.elapsed();
        let author = authors.call(move |_ctx| {
            if up.load(Ordering::SeqCst) {
                sim.advance(Duration::from_millis(5));
                Ok("Grace Hopper".to_string())
            } else {
                // The call hangs until its attempt timeout.
                sim.advance(ATTEMPT_TIMEOUT);
                Err("authors did not answer in time".to_string())
            }
        });
        let author = match author {
            Ok(a) => a,
            Err(Error::Failed { error, .. }) => error,
            Err(e) => e.to_string(),
        };
        println!(
            "[{:>6.1} s] request {n:>2}: {:>5} ms  breaker {:<9}  presentation \"Rust at scale\", author \"{author}\"",
            clock.elapsed().as_secs_f64(),
            (clock.elapsed() - started).as_millis(),
            breaker.state().to_string(),
        );
    };

    println!("normal traffic");
    for n in 1..=3 {
        request(n);
    }
    println!("authors stops answering");
    authors_up.store(false, Ordering::SeqCst);
    for n in 4..=8 {
        request(n);
    }
    println!("open duration passes; the half-open trial fails");
    clock.advance(OPEN_DURATION);
    request(9);
    request(10);
    println!("authors answers again; after the open duration a trial succeeds");
    authors_up.store(true, Ordering::SeqCst);
    clock.advance(OPEN_DURATION);
    for n in 11..=13 {
        request(n);
    }

    let got = transitions.lock().clone();
    let want = [
        State::Closed,
        State::Open,
        State::HalfOpen,
        State::Open,
        State::HalfOpen,
        State::Closed,
    ];
    let path: Vec<String> = got.iter().map(ToString::to_string).collect();
    println!("transitions: {}", path.join(" -> "));
    if got == want {
        println!("outage exercise: OK");
        ExitCode::SUCCESS
    } else {
        eprintln!(
            "outage exercise: FAILED (expected closed -> open -> half-open -> open -> half-open -> closed)"
        );
        ExitCode::FAILURE
    }
}
