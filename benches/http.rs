//! The resilient HTTP client's overhead over a bare ureq call to a local server (same run,
//! same server, same agent settings), the middleware's, and the latency of an answer while
//! the breaker is open (no network).
//!
//! `cargo bench --bench http -- --warm-up-time 1 --measurement-time 3`
#![allow(
    missing_docs,
    reason = "criterion's macros generate undocumented items"
)]

use std::sync::Arc;
use std::thread;
use std::time::Duration;

use breakwater::CircuitBreaker;
use breakwater::http::{Profile, ResilienceMiddleware, ServiceClient};
use criterion::{Criterion, criterion_group, criterion_main};

/// A tiny_http server answering `200 ok` on two threads; returns its base URL.
fn server() -> String {
    let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("a server"));
    let url = format!("http://{}", server.server_addr().to_ip().expect("an IP"));
    for _ in 0..2 {
        let server = server.clone();
        thread::spawn(move || {
            while let Ok(request) = server.recv() {
                let _ = request.respond(tiny_http::Response::from_string("ok"));
            }
        });
    }
    url
}

fn agent(middleware: Option<ResilienceMiddleware>) -> ureq::Agent {
    let mut b = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(5)));
    if let Some(m) = middleware {
        b = b.middleware(m);
    }
    b.build().into()
}

fn benches(c: &mut Criterion) {
    let url = server();
    let mut g = c.benchmark_group("http");

    let bare = agent(None);
    let target = format!("{url}/item");
    g.bench_function("bare ureq GET", |b| {
        b.iter(|| {
            let mut r = bare.get(&target).call().unwrap();
            r.body_mut().read_to_vec().unwrap()
        })
    });

    let client = ServiceClient::builder("bench")
        .instance(url.clone())
        .profile(Profile::normal())
        .agent(agent(None))
        .build()
        .unwrap();
    g.bench_function("ServiceClient GET (normal profile)", |b| {
        b.iter(|| client.get("/item").send().unwrap().into_body())
    });

    let mw = ResilienceMiddleware::new().breaker(CircuitBreaker::builder().build().unwrap());
    let with_mw = agent(Some(mw));
    g.bench_function("ureq GET through ResilienceMiddleware", |b| {
        b.iter(|| {
            let mut r = with_mw.get(&target).call().unwrap();
            r.body_mut().read_to_vec().unwrap()
        })
    });

    let open = ServiceClient::builder("open")
        .instance(url.clone())
        .agent(agent(None))
        .build()
        .unwrap();
    open.breakers()[0].force_open();
    g.bench_function("ServiceClient GET, breaker open (rejected)", |b| {
        b.iter(|| open.get("/item").send().unwrap_err())
    });
    g.finish();
}

criterion_group!(http, benches);
criterion_main!(http);
