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
//! Steady traffic: a few client threads, each sending a request every `period` (staggered,
//! so that a request starts every `period / clients`); a request that takes longer than
//! the period is followed by the next one at once. A director drives the story by the
//! breaker's transitions, with generous bounds: normal traffic for `lead_in`; authors stops
//! answering (attempts take their timeout, the retry tries again) until the breaker opens;
//! answers come back instantly; the breaker goes half-open, the trial fails and it
//! re-opens; authors answers again; the breaker goes half-open, the trial succeeds and it
//! closes; normal traffic for `tail`.
//!
//! Every event is recorded, and printed if asked, under one lock that also stamps its
//! time, so the timeline comes out in time order: requests when they end (with the
//! breaker's state read at their end), attempts that timed out, transitions, and the
//! director's marks.
#![allow(
    dead_code,
    reason = "the example and the test use different parts of the story"
)]

#[path = "http_server.rs"]
mod http_server;
#[path = "svg.rs"]
pub mod svg;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use breakwater::http::{Profile, ServiceClient};
use breakwater::{Registry, State};
use http_server::{Behaviour, TestServer};
use parking_lot::Mutex;
use svg::{Band, Chart, Mark};

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

/// Consecutive failed attempts that open the authors breaker (the reference profile's 5).
pub const BREAKER_FAILURES: u32 = 5;

/// The knobs of a run.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The authors call's attempt timeout.
    pub attempt_timeout: Duration,
    /// How long the breaker stays open.
    pub open_duration: Duration,
    /// Client threads sending requests.
    pub clients: u32,
    /// Each client's pace: one request per period (or at once when the last one took longer).
    pub period: Duration,
    /// Normal traffic before authors stops answering.
    pub lead_in: Duration,
    /// Normal traffic after the breaker closed again.
    pub tail: Duration,
    /// Print the timeline while it runs.
    pub print: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            attempt_timeout: Duration::from_millis(300),
            open_duration: Duration::from_secs(2),
            clients: 3,
            period: Duration::from_millis(100),
            lead_in: Duration::from_millis(1200),
            tail: Duration::from_millis(1200),
            print: true,
        }
    }
}

/// How a request was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// With the author from the authors service.
    Answer,
    /// With the fallback, after attempts at authors failed.
    Fallback,
    /// With the fallback at once: no attempt reached authors (the breaker refused).
    Rejected,
    /// Not answered by the aggregator at all (a bug in the story: the test fails).
    Error,
}

impl Source {
    /// The words of the timeline.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Answer => "real answer",
            Source::Fallback => "fallback",
            Source::Rejected => "rejected at once",
            Source::Error => "error",
        }
    }
}

/// One request of the timeline.
#[derive(Debug, Clone)]
pub struct Row {
    /// When it started, seconds since the start.
    pub start: f64,
    /// When it ended, seconds since the start.
    pub end: f64,
    /// The request's number (its correlation id is `demo-{n}`).
    pub n: u32,
    /// The client thread that sent it.
    pub client: u32,
    /// Its latency as the caller saw it.
    pub latency: Duration,
    /// The breaker's state at its end.
    pub state: State,
    /// The author field of the answer.
    pub author: String,
    /// How it was answered.
    pub source: Source,
    /// Its attempts at authors.
    pub attempts: usize,
    /// The director's phase when it started.
    pub phase: &'static str,
}

/// How an attempt at authors ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptEnd {
    /// Authors answered (any status).
    Answered,
    /// The attempt's timeout ended it.
    TimedOut,
    /// Another transport error.
    Failed,
}

/// One attempt at authors, as the authors client's agent saw it.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// The request it belongs to.
    pub n: u32,
    /// When it started, seconds since the start.
    pub start: f64,
    /// When it ended, seconds since the start.
    pub end: f64,
    /// How it ended.
    pub outcome: AttemptEnd,
}

/// What a run produced.
#[derive(Debug, Clone)]
pub struct Report {
    /// Every request, in the order they ended.
    pub rows: Vec<Row>,
    /// Every attempt at authors, in the order they ended.
    pub attempts: Vec<Attempt>,
    /// The breaker's states, starting with closed, in order.
    pub transitions: Vec<State>,
    /// The transitions with their times (seconds since the start).
    pub log: Vec<(f64, State, State)>,
    /// When authors stopped answering, if it did.
    pub authors_down: Option<f64>,
    /// When authors answered again, if it did.
    pub authors_back: Option<f64>,
    /// The correlation ids of the requests the authors server saw, in arrival order.
    pub authors_seen: Vec<String>,
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

    /// The rows answered one way.
    pub fn answered(&self, source: Source) -> Vec<&Row> {
        self.rows.iter().filter(|r| r.source == source).collect()
    }

    /// The attempts of request `n`.
    pub fn attempts_of(&self, n: u32) -> Vec<&Attempt> {
        self.attempts.iter().filter(|a| a.n == n).collect()
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
        workers: u32,
    ) -> Aggregator {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("aggregator"));
        let url = format!("http://{}", server.server_addr().to_ip().expect("an IP"));
        let workers = (0..workers)
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
        (200, text, breakwater::exposition::CONTENT_TYPE)
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

/// The request number of a correlation id `demo-{n}`.
fn number_of(correlation_id: &str) -> Option<u32> {
    correlation_id.strip_prefix("demo-")?.parse().ok()
}

/// The recorded events; every push takes the time under the lock, so they are in order.
#[derive(Default)]
struct Events {
    rows: Vec<Row>,
    attempts: Vec<Attempt>,
    log: Vec<(f64, State, State)>,
}

/// The clock, the switch for printing and the events, shared by every thread of a run.
struct Timeline {
    start: Instant,
    print: bool,
    events: Mutex<Events>,
}

impl Timeline {
    fn since(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    fn say(&self, what: &str) {
        let _events = self.events.lock();
        if self.print {
            println!("{:>7.3}  -- {what}", self.since());
        }
    }
}

fn took(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{ms:.0} ms")
    }
}

/// The header of the printed timeline.
pub const HEADER: &str =
    "  ended  request  client     took  how               breaker after  author";

const PHASES: [&str; 5] = ["normal", "outage", "open", "recovering", "recovered"];

/// Runs the story once.
pub fn run(settings: &Settings) -> Report {
    let timeline = Arc::new(Timeline {
        start: Instant::now(),
        print: settings.print,
        events: Mutex::default(),
    });
    let authors_server = TestServer::start();
    let presentations_server = TestServer::start();

    let registry = Registry::new();
    let authors_profile = {
        let mut p = Profile::normal();
        p.attempt_timeout_ms = settings.attempt_timeout.as_millis() as u64;
        p.breaker_failures = BREAKER_FAILURES;
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
    // The authors client's agent records every attempt (and prints those that time out).
    let recorder = Arc::clone(&timeline);
    let authors_agent: ureq::Agent = ureq::Agent::config_builder()
        .middleware(
            move |request: ureq::http::Request<ureq::SendBody>,
                  next: ureq::middleware::MiddlewareNext| {
                let n = request
                    .headers()
                    .get("X-Correlation-Id")
                    .and_then(|v| v.to_str().ok())
                    .and_then(number_of);
                let start = recorder.since();
                let result = next.handle(request);
                let outcome = match &result {
                    Ok(_) => AttemptEnd::Answered,
                    Err(ureq::Error::Timeout(_)) => AttemptEnd::TimedOut,
                    Err(_) => AttemptEnd::Failed,
                };
                if let Some(n) = n {
                    let mut events = recorder.events.lock();
                    let end = recorder.since();
                    if recorder.print && outcome != AttemptEnd::Answered {
                        println!(
                            "{end:>7.3}       #{n:<4}  an attempt at authors {} after {:.0} ms",
                            if outcome == AttemptEnd::TimedOut {
                                "timed out"
                            } else {
                                "failed"
                            },
                            (end - start) * 1000.0
                        );
                    }
                    events.attempts.push(Attempt {
                        n,
                        start,
                        end,
                        outcome,
                    });
                }
                result
            },
        )
        .build()
        .into();
    let hook = Arc::clone(&timeline);
    let authors = ServiceClient::builder("authors")
        .instance(authors_server.url())
        .profile(authors_profile)
        .agent(authors_agent)
        .on_transition(move |_instance, t| {
            let mut events = hook.events.lock();
            let at = hook.since();
            if hook.print {
                println!(
                    "{at:>7.3}  == breaker authors: {} -> {} ({:?})",
                    t.from, t.to, t.reason
                );
            }
            events.log.push((at, t.from, t.to));
        })
        .registry(&registry)
        .build()
        .expect("a valid authors client");
    let presentations = ServiceClient::builder("presentations")
        .instance(presentations_server.url())
        .registry(&registry)
        .build()
        .expect("a valid presentations client");
    let aggregator = Aggregator::start(
        presentations.clone(),
        authors.clone(),
        registry.clone(),
        settings.clients * 2 + 2,
    );
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let breaker = authors.breakers()[0].clone();

    // The clients.
    let stop = Arc::new(AtomicBool::new(false));
    let phase = Arc::new(AtomicU32::new(0));
    let counter = Arc::new(AtomicU32::new(0));
    if settings.print {
        println!("{HEADER}");
    }
    let clients: Vec<JoinHandle<()>> = (0..settings.clients)
        .map(|k| {
            let (stop, phase, counter) = (stop.clone(), phase.clone(), counter.clone());
            let (timeline, agent, breaker) = (timeline.clone(), agent.clone(), breaker.clone());
            let url = aggregator.url.clone();
            let period = settings.period;
            let stagger = period * k / settings.clients.max(1);
            thread::Builder::new()
                .name(format!("client-{k}"))
                .spawn(move || {
                    let mut next = Instant::now() + stagger;
                    while !stop.load(Ordering::SeqCst) {
                        let now = Instant::now();
                        if next > now {
                            thread::sleep(next - now);
                        }
                        if stop.load(Ordering::SeqCst) {
                            break;
                        }
                        let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
                        let in_phase = PHASES[phase.load(Ordering::SeqCst) as usize];
                        let start = timeline.since();
                        let began = Instant::now();
                        let reply = agent
                            .get(&format!("{url}/presentations/{n}"))
                            .header("X-Correlation-Id", &format!("demo-{n}"))
                            .call();
                        let (author, answered) = match reply {
                            Ok(mut r) => (
                                author_of(&r.body_mut().read_to_string().unwrap_or_default()),
                                r.status() == 200,
                            ),
                            Err(e) => (format!("error: {e}"), false),
                        };
                        let latency = began.elapsed();
                        // Read before taking the events' lock: reading the state can apply
                        // a transition, whose hook takes that lock.
                        let state = breaker.state();
                        let mut events = timeline.events.lock();
                        let end = timeline.since();
                        let attempts = events.attempts.iter().filter(|a| a.n == n).count();
                        let source = if !answered {
                            Source::Error
                        } else if author != FALLBACK {
                            Source::Answer
                        } else if attempts > 0 {
                            Source::Fallback
                        } else {
                            Source::Rejected
                        };
                        if timeline.print {
                            println!(
                                "{end:>7.3}  #{n:<4}   {k:>6}  {:>7}  {:<16}  {:<13}  \"{author}\"",
                                took(latency),
                                source.as_str(),
                                state.as_str()
                            );
                        }
                        events.rows.push(Row {
                            start,
                            end,
                            n,
                            client: k,
                            latency,
                            state,
                            author,
                            source,
                            attempts,
                            phase: in_phase,
                        });
                        drop(events);
                        next += period;
                        let now = Instant::now();
                        if next < now {
                            next = now;
                        }
                    }
                })
                .expect("spawn a client")
        })
        .collect();

    // The director.
    let transitions = || timeline.events.lock().log.len();
    let await_transitions = |count: usize, bound: Duration| -> bool {
        let end = Instant::now() + bound;
        while Instant::now() < end {
            if transitions() >= count {
                return true;
            }
            thread::sleep(Duration::from_millis(5));
        }
        false
    };
    let bound = settings.open_duration * 5 + Duration::from_secs(10);
    let mut stuck = None;
    let authors_down;
    let mut authors_back = None;
    'story: {
        timeline.say("normal traffic");
        thread::sleep(settings.lead_in);
        timeline
            .say("authors stops answering: attempts take their timeout, then the breaker opens");
        authors_server.set(Behaviour::Hang);
        authors_down = Some(timeline.since());
        phase.store(1, Ordering::SeqCst);
        if !await_transitions(1, bound) {
            stuck = Some("the breaker did not open".to_owned());
            break 'story;
        }
        phase.store(2, Ordering::SeqCst);
        timeline.say(
            "the breaker is open: answers come back at once; after the open duration a trial fails",
        );
        if !await_transitions(3, bound) {
            stuck = Some("the breaker did not go half-open and re-open".to_owned());
            break 'story;
        }
        timeline.say("authors answers again; after the open duration a trial succeeds");
        authors_server.set(Behaviour::Normal);
        authors_back = Some(timeline.since());
        phase.store(3, Ordering::SeqCst);
        if !await_transitions(5, bound) {
            stuck = Some("the breaker did not go half-open and close".to_owned());
            break 'story;
        }
        phase.store(4, Ordering::SeqCst);
        timeline.say("normal traffic again");
        thread::sleep(settings.tail);
    }
    stop.store(true, Ordering::SeqCst);
    if stuck.is_some() {
        // Let held requests go, so that the clients finish.
        authors_server.set(Behaviour::Normal);
    }
    for c in clients {
        let _ = c.join();
    }
    timeline.say("the clients stopped");

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
    let authors_seen = authors_server
        .requests()
        .iter()
        .filter_map(|r| r.header("X-Correlation-Id").map(str::to_owned))
        .collect();
    drop(authors_server);
    drop(presentations_server);

    let events = std::mem::take(&mut *timeline.events.lock());
    let mut transitions = vec![State::Closed];
    transitions.extend(events.log.iter().map(|(_, _, to)| *to));
    Report {
        rows: events.rows,
        attempts: events.attempts,
        transitions,
        log: events.log,
        authors_down,
        authors_back,
        authors_seen,
        total: timeline.start.elapsed(),
        stuck,
        health,
        metrics,
    }
}

fn band(s: State) -> Band {
    match s {
        State::Closed | State::Disabled => Band::Closed,
        State::HalfOpen => Band::HalfOpen,
        _ => Band::Open,
    }
}

/// The run as a chart: every request at its end (real answer, fallback or rejected at
/// once) and every attempt that timed out, on the breaker's states, with authors' outage.
pub fn chart(report: &Report) -> Chart {
    let mut chart =
        Chart::new("The outage exercise: requests to the aggregator and the authors breaker");
    chart.state(0.0, Band::Closed);
    for (t, _, to) in &report.log {
        chart.state(*t, band(*to));
    }
    if let Some(down) = report.authors_down {
        chart.down(down, report.authors_back);
    }
    for a in &report.attempts {
        if a.outcome == AttemptEnd::TimedOut {
            chart.call(a.start, a.end, Mark::TimedOut);
        }
    }
    for r in &report.rows {
        let mark = match r.source {
            Source::Answer => Mark::Answer,
            Source::Fallback | Source::Error => Mark::Fallback,
            Source::Rejected => Mark::Rejected,
        };
        chart.call(r.start, r.end, mark);
    }
    chart
}
