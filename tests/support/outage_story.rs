//! The outage exercise over real HTTP on loopback, shared by `examples/outage.rs` and the
//! test `tests/http_client_outage.rs`.
//!
//! Three servers on ephemeral ports of 127.0.0.1: authors and presentations (the test
//! server, which can be switched to accept connections and never answer), and the
//! aggregating endpoint (a tiny_http server of its own) that answers
//! `GET /presentations/{id}` with the presentation and its author. The authors call goes
//! through a [`ServiceClient`] whose instance has a breaker; when it fails the endpoint
//! still answers, with the author "temporary unavailable". The endpoint also serves
//! `/health` (the authors client's health report) and `/metrics` (Prometheus text).
//!
//! The script drives its phases by the breaker's observed state, with generous bounds:
//! normal traffic; authors stops answering (attempts take their timeout, the retry tries
//! again) until the breaker opens; answers come back instantly; once the breaker goes
//! half-open the trial fails and it re-opens; authors answers again; once half-open the
//! trial succeeds and it closes.
#![allow(
    dead_code,
    reason = "the example and the test use different parts of the story"
)]

#[path = "http_server.rs"]
mod http_server;
#[path = "svg.rs"]
mod svg;

use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use breakwater::http::{Profile, ServiceClient};
use breakwater::{Registry, State};
use http_server::{Behaviour, TestServer};
use parking_lot::Mutex;
use svg::{Band, Chart};

/// The transitions the story must produce.
pub const EXPECTED: [State; 6] = [
    State::Closed,
    State::Open,
    State::HalfOpen,
    State::Open,
    State::HalfOpen,
    State::Closed,
];

/// The fallback answer.
pub const FALLBACK: &str = "temporary unavailable";

/// The knobs of a run.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The authors call's attempt timeout.
    pub attempt_timeout: Duration,
    /// How long the breaker stays open.
    pub open_duration: Duration,
    /// Print the timeline while it runs.
    pub print: bool,
    /// Where to write the SVG chart, if anywhere.
    pub svg: Option<std::path::PathBuf>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            attempt_timeout: Duration::from_millis(300),
            open_duration: Duration::from_secs(2),
            print: true,
            svg: None,
        }
    }
}

/// One request of the timeline.
#[derive(Debug, Clone)]
pub struct Row {
    /// Seconds since the start.
    pub t: f64,
    /// The request's number.
    pub n: u32,
    /// Its latency as the caller saw it.
    pub latency: Duration,
    /// The breaker's state after it.
    pub state: State,
    /// The author field of the answer.
    pub author: String,
    /// The phase it belongs to.
    pub phase: &'static str,
    /// Requests the authors server had seen after it.
    pub authors_seen: usize,
}

/// What a run produced.
#[derive(Debug, Clone)]
pub struct Report {
    /// Every request.
    pub rows: Vec<Row>,
    /// The breaker's states, starting with closed, in order.
    pub transitions: Vec<State>,
    /// The transitions with their times (seconds since the start).
    pub log: Vec<(f64, State, State)>,
    /// Requests the authors server saw.
    pub authors_requests: usize,
    /// How long the run took.
    pub total: Duration,
    /// Why a phase did not finish within its bound, if one did not.
    pub stuck: Option<String>,
    /// The authors client's health report at the end.
    pub health: String,
    /// The aggregator's /metrics at the end.
    pub metrics: String,
}

impl Report {
    /// `true` when the transitions are exactly [`EXPECTED`].
    pub fn ok(&self) -> bool {
        self.stuck.is_none() && self.transitions == EXPECTED
    }

    /// The transitions as `closed -> open -> ...`.
    pub fn path(&self) -> String {
        let names: Vec<&str> = self.transitions.iter().map(|s| s.as_str()).collect();
        names.join(" -> ")
    }

    /// The rows of one phase.
    pub fn phase(&self, phase: &str) -> Vec<&Row> {
        self.rows.iter().filter(|r| r.phase == phase).collect()
    }
}

/// The aggregating endpoint: a tiny_http server with a few worker threads.
struct Aggregator {
    server: Arc<tiny_http::Server>,
    workers: Vec<JoinHandle<()>>,
    url: String,
}

impl Aggregator {
    fn start(
        presentations: ServiceClient,
        authors: ServiceClient,
        registry: Registry,
    ) -> Aggregator {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("aggregator"));
        let url = format!("http://{}", server.server_addr().to_ip().expect("an IP"));
        let workers = (0..4)
            .map(|k| {
                let (server, p, a) = (server.clone(), presentations.clone(), authors.clone());
                let registry = registry.clone();
                thread::Builder::new()
                    .name(format!("aggregator-{k}"))
                    .spawn(move || {
                        while let Ok(request) = server.recv() {
                            answer(request, &p, &a, &registry);
                        }
                    })
                    .expect("spawn an aggregator worker")
            })
            .collect();
        Aggregator {
            server,
            workers,
            url,
        }
    }

    fn stop(self) {
        for _ in &self.workers {
            self.server.unblock();
        }
        for w in self.workers {
            let _ = w.join();
        }
    }
}

fn answer(
    request: tiny_http::Request,
    presentations: &ServiceClient,
    authors: &ServiceClient,
    registry: &Registry,
) {
    let path = request.url().to_owned();
    let correlation = request
        .headers()
        .iter()
        .find(|h| h.field.equiv("X-Correlation-Id"))
        .map(|h| h.value.as_str().to_owned());
    let (status, body, kind) = if path == "/health" {
        (200, authors.health_json(), "application/json")
    } else if path == "/metrics" {
        let text = breakwater::exposition::prometheus(registry);
        (200, text, "text/plain; version=0.0.4")
    } else if let Some(id) = path.strip_prefix("/presentations/") {
        let mut call = presentations.get(&format!("/presentations/{id}"));
        if let Some(c) = &correlation {
            call = call.correlation_id(c);
        }
        match call.send() {
            Err(e) => (
                502,
                format!("{{\"error\":\"presentations: {e}\"}}"),
                "application/json",
            ),
            Ok(_) => {
                let mut call = authors.get(&format!("/authors/{id}"));
                if let Some(c) = &correlation {
                    call = call.correlation_id(c);
                }
                let author = match call.send() {
                    Ok(r) if r.is_success() => format!("Author #{id}"),
                    _ => FALLBACK.to_owned(),
                };
                let body = format!(
                    "{{\"presentation\":{{\"id\":{id},\"title\":\"Rust at scale\"}},\"author\":\"{author}\"}}"
                );
                (200, body, "application/json")
            }
        }
    } else {
        (
            404,
            "{\"error\":\"not found\"}".to_owned(),
            "application/json",
        )
    };
    let header = tiny_http::Header::from_bytes("Content-Type", kind).expect("a valid header");
    let _ = request.respond(
        tiny_http::Response::from_string(body)
            .with_status_code(status)
            .with_header(header),
    );
}

fn author_of(body: &str) -> String {
    body.split("\"author\":\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or("?")
        .to_owned()
}

/// Runs the story once.
pub fn run(settings: &Settings) -> Report {
    let start = Instant::now();
    let since = move || start.elapsed().as_secs_f64();
    let authors_server = TestServer::start();
    let presentations_server = TestServer::start();

    let registry = Registry::new();
    let log: Arc<Mutex<Vec<(f64, State, State)>>> = Arc::default();
    let hook = Arc::clone(&log);
    let print = settings.print;
    let authors_profile = {
        let mut p = Profile::normal();
        p.attempt_timeout_ms = settings.attempt_timeout.as_millis() as u64;
        p.breaker_failures = 3;
        p.breaker_open_ms = settings.open_duration.as_millis() as u64;
        p.breaker_trial = 1;
        p.breaker_successes = 1;
        p.max_attempts = 2;
        p.backoff_initial_ms = 100;
        p.backoff_multiplier = 1.0;
        p.backoff_max_ms = 100;
        p.jitter = 0.0;
        p
    };
    let authors = ServiceClient::builder("authors")
        .instance(authors_server.url())
        .profile(authors_profile)
        .on_transition(move |_instance, t| {
            let at = since();
            if print {
                println!(
                    "        [{at:>5.2} s] breaker authors: {} -> {} ({:?})",
                    t.from, t.to, t.reason
                );
            }
            hook.lock().push((at, t.from, t.to));
        })
        .registry(&registry)
        .build()
        .expect("a valid authors client");
    let presentations = ServiceClient::builder("presentations")
        .instance(presentations_server.url())
        .registry(&registry)
        .build()
        .expect("a valid presentations client");
    let aggregator = Aggregator::start(presentations.clone(), authors.clone(), registry.clone());
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let breaker = authors.breakers()[0].clone();

    let mut rows = Vec::new();
    let mut n = 0u32;
    let mut request = |phase: &'static str| -> State {
        n += 1;
        let t = since();
        let began = Instant::now();
        let url = format!("{}/presentations/{n}", aggregator.url);
        let author = match agent
            .get(&url)
            .header("X-Correlation-Id", &format!("demo-{n}"))
            .call()
        {
            Ok(mut r) => author_of(&r.body_mut().read_to_string().unwrap_or_default()),
            Err(e) => format!("error: {e}"),
        };
        let latency = began.elapsed();
        let state = breaker.state();
        if print {
            println!(
                "{t:>6.2} s  #{n:<3} {:>6} ms  breaker {:<9}  author \"{author}\"",
                latency.as_millis(),
                state.as_str()
            );
        }
        rows.push(Row {
            t,
            n,
            latency,
            state,
            author,
            phase,
            authors_seen: authors_server.count(),
        });
        state
    };
    let say = |what: &str| {
        if print {
            println!("-- {what}");
        }
    };
    // Polls the breaker until `want` (applying its lazy transitions), within `bound`.
    let await_state = |want: State, bound: Duration| -> bool {
        let end = Instant::now() + bound;
        while Instant::now() < end {
            if breaker.state() == want {
                return true;
            }
            thread::sleep(Duration::from_millis(20));
        }
        false
    };
    let bound = settings.open_duration * 5 + Duration::from_secs(10);
    let mut stuck = None;

    'story: {
        say("normal traffic");
        for _ in 0..3 {
            request("normal");
        }
        say("authors stops answering: attempts take their timeout, then the breaker opens");
        authors_server.set(Behaviour::Hang);
        let mut opened = false;
        for _ in 0..10 {
            if request("outage") == State::Open {
                opened = true;
                break;
            }
        }
        if !opened {
            stuck = Some("the breaker did not open within 10 requests".to_owned());
            break 'story;
        }
        say("the breaker is open: answers come back instantly, with the fallback");
        for _ in 0..3 {
            request("open");
        }
        say("waiting for the open duration; the half-open trial fails");
        if !await_state(State::HalfOpen, bound) {
            stuck = Some("the breaker did not go half-open".to_owned());
            break 'story;
        }
        request("trial-fails");
        if breaker.state() != State::Open {
            stuck = Some("the failed trial did not re-open the breaker".to_owned());
            break 'story;
        }
        request("open");
        say("authors answers again; after the open duration a trial succeeds");
        authors_server.set(Behaviour::Normal);
        if !await_state(State::HalfOpen, bound) {
            stuck = Some("the breaker did not go half-open again".to_owned());
            break 'story;
        }
        request("recovered");
        for _ in 0..2 {
            request("recovered");
        }
    }

    let fetch = |path: &str| {
        agent
            .get(&format!("{}{path}", aggregator.url))
            .call()
            .ok()
            .and_then(|mut r| r.body_mut().read_to_string().ok())
            .unwrap_or_default()
    };
    let health = fetch("/health");
    let metrics = fetch("/metrics");
    aggregator.stop();
    let authors_requests = authors_server.count();
    drop(authors_server);
    drop(presentations_server);

    let log = log.lock().clone();
    let mut transitions = vec![State::Closed];
    transitions.extend(log.iter().map(|(_, _, to)| *to));
    let report = Report {
        rows,
        transitions,
        log,
        authors_requests,
        total: start.elapsed(),
        stuck,
        health,
        metrics,
    };
    if let Some(path) = &settings.svg {
        let _ = chart(&report).save(path);
    }
    report
}

fn band(s: State) -> Band {
    match s {
        State::Closed | State::Disabled => Band::Closed,
        State::HalfOpen => Band::HalfOpen,
        _ => Band::Open,
    }
}

/// The latency of every request over time, on the breaker's state band.
pub fn chart(report: &Report) -> Chart {
    let mut chart = Chart::new("Outage exercise: aggregator latency and the authors breaker");
    chart.state(0.0, Band::Closed);
    for (t, _, to) in &report.log {
        chart.state(*t, band(*to));
    }
    for r in &report.rows {
        chart.point(r.t, r.latency.as_secs_f64() * 1000.0, r.author != FALLBACK);
    }
    chart
}
