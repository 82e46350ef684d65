//! The Rust side of `benches/bindings/run.sh`: the per-call overhead of the breaker
//! through the Rust API, measured with the same timing loop as the C program
//! (`bench_c.c`), so that the two figures compare. Prints "name ns/op" lines.
//!
//! `cargo bench --bench bindings_breaker`

use std::hint::black_box;
use std::time::{Duration, Instant};

use breakwater::{CircuitBreaker, Outcome};

const N: u32 = 20_000_000;

fn breaker(open: bool) -> CircuitBreaker {
    let b = CircuitBreaker::builder()
        .consecutive_failures(1)
        .open_duration(Duration::from_secs(3600))
        .build()
        .expect("valid configuration");
    if open {
        let _ = b.call(|| Err::<(), _>(()));
    }
    b
}

fn report(name: &str, t0: Instant) {
    println!(
        "{name} {:.1}",
        t0.elapsed().as_nanos() as f64 / f64::from(N)
    );
}

fn main() {
    let closed = breaker(false);
    let open = breaker(true);
    for round in 0..2 {
        let t0 = Instant::now();
        for _ in 0..N {
            let p = black_box(&closed).try_acquire_raw().expect("closed");
            closed.record_raw(p, Outcome::Success, None);
        }
        if round == 1 {
            report("rust_protocol_success", t0);
        }
        let t0 = Instant::now();
        for _ in 0..N {
            let r: Result<(), breakwater::Error<()>> = black_box(&closed).call(|| Ok(()));
            black_box(r).expect("closed");
        }
        if round == 1 {
            report("rust_call_success", t0);
        }
        let t0 = Instant::now();
        for _ in 0..N {
            let r = black_box(&open).try_acquire_raw();
            assert!(black_box(r).is_err());
        }
        if round == 1 {
            report("rust_rejection", t0);
        }
    }
}
