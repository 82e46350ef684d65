//! A test HTTP server on 127.0.0.1 with a behaviour you switch while it runs: answer, answer
//! slowly, never answer, answer 5xx, answer 429/503 with `Retry-After`, or drop the
//! connection; it stops (closing every connection, joining every thread it started) and
//! restarts on the same port, and it records the requests it saw.
//!
//! Include it with `#[path = "support/http_server.rs"] mod http_server;` (from an example:
//! `#[path = "../tests/support/http_server.rs"]`).
//!
//! tiny_http parses the requests and writes the answers; a small relay in front of it owns
//! the public port and the client connections (see `relay.rs` for why). tiny_http's own
//! worker threads end a few seconds after the server stops (its pool's idle timeout).
#![allow(
    dead_code,
    reason = "each test binary uses a different part of the support code"
)]

use std::collections::HashMap;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

#[path = "relay.rs"]
mod relay;
use relay::{DROP_MARKER, relay};

/// How long the `wait_for_*` helpers wait before they fail the test.
const WAIT_BOUND: Duration = Duration::from_secs(20);

/// What the server does with the requests it gets from now on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Behaviour {
    /// 200 with a JSON body `{"ok":true,"method":..,"path":..,"n":..}`.
    Normal,
    /// Waits this long, then answers like `Normal`.
    Slow(Duration),
    /// Accepts the connection and holds the request without answering, until the behaviour
    /// changes (then answers by the new behaviour) or the server stops (then closes).
    Hang,
    /// Answers with this status and a JSON body `{"error":status}`.
    Status(u16),
    /// Answers with this status and a `Retry-After` header with this exact value.
    RetryAfter(u16, String),
    /// Reads the request and closes the connection without answering.
    Drop,
}

/// A request the server saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenRequest {
    /// The method, e.g. "GET".
    pub method: String,
    /// The path with its query.
    pub path: String,
    /// The headers, in order, names as sent.
    pub headers: Vec<(String, String)>,
    /// The body, lossily decoded as UTF-8.
    pub body: String,
}

impl SeenRequest {
    /// The value of the first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

struct State {
    behaviour: Behaviour,
    seen: Vec<SeenRequest>,
    held: usize,
    stopping: bool,
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn wait<'a>(&self, g: MutexGuard<'a, State>, d: Duration) -> MutexGuard<'a, State> {
        let (g, _) = self
            .changed
            .wait_timeout(g, d)
            .unwrap_or_else(PoisonError::into_inner);
        g
    }
}

type Threads = Arc<Mutex<Vec<JoinHandle<()>>>>;
type Conns = Arc<Mutex<HashMap<u64, (TcpStream, TcpStream)>>>;

struct Running {
    accept: JoinHandle<()>,
    accept_stop: Arc<AtomicBool>,
    dispatcher: JoinHandle<()>,
    server: Arc<tiny_http::Server>,
    conns: Conns,
    relays: Threads,
    handlers: Threads,
}

/// The test server. Dropping it stops it.
pub struct TestServer {
    shared: Arc<Shared>,
    addr: SocketAddr,
    running: Mutex<Option<Running>>,
}

impl TestServer {
    /// Starts a server on an ephemeral port of 127.0.0.1, answering `Normal`.
    pub fn start() -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        let server = TestServer {
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    behaviour: Behaviour::Normal,
                    seen: Vec::new(),
                    held: 0,
                    stopping: false,
                }),
                changed: Condvar::new(),
            }),
            addr,
            running: Mutex::new(None),
        };
        server.launch(listener);
        server
    }

    /// The address the server listens on (the same after a restart).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Switches the behaviour; held requests are released when it is no longer `Hang`.
    pub fn set(&self, behaviour: Behaviour) {
        self.shared.lock().behaviour = behaviour;
        self.shared.changed.notify_all();
    }

    /// The requests seen so far (across restarts), in arrival order.
    pub fn requests(&self) -> Vec<SeenRequest> {
        self.shared.lock().seen.clone()
    }

    /// How many requests the server has seen.
    pub fn count(&self) -> usize {
        self.shared.lock().seen.len()
    }

    /// How many requests are held right now (see [`Behaviour::Hang`]).
    pub fn held(&self) -> usize {
        self.shared.lock().held
    }

    /// Blocks until `n` requests are held; fails the test after a generous bound.
    pub fn wait_for_held(&self, n: usize) {
        self.wait_for(|s| s.held >= n, "held requests");
    }

    /// Blocks until the server has seen `n` requests; fails the test after a generous bound.
    pub fn wait_for_count(&self, n: usize) {
        self.wait_for(|s| s.seen.len() >= n, "requests");
    }

    fn wait_for(&self, done: impl Fn(&State) -> bool, what: &str) {
        let end = Instant::now() + WAIT_BOUND;
        let mut g = self.shared.lock();
        while !done(&g) {
            let now = Instant::now();
            assert!(now < end, "test server: waited {WAIT_BOUND:?} for {what}");
            g = self.shared.wait(g, end - now);
        }
    }

    /// `true` between a start and a stop.
    pub fn is_running(&self) -> bool {
        self.running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some()
    }

    /// Stops: closes the port and every open connection, releases held and slow requests
    /// (closing them unanswered), and joins every thread the server started. Idempotent.
    pub fn stop(&self) {
        let Some(r) = self
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        else {
            return;
        };
        self.shared.lock().stopping = true;
        self.shared.changed.notify_all();
        // The accept loop checks its flag after each accept: wake it with a connection.
        r.accept_stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        let _ = r.accept.join();
        // Every connection was registered by the accept thread: close them all.
        for (_, (client, upstream)) in r.conns.lock().unwrap().drain() {
            let _ = client.shutdown(Shutdown::Both);
            let _ = upstream.shutdown(Shutdown::Both);
        }
        r.server.unblock();
        let _ = r.dispatcher.join();
        for t in r.handlers.lock().unwrap().drain(..) {
            let _ = t.join();
        }
        for t in r.relays.lock().unwrap().drain(..) {
            let _ = t.join();
        }
    }

    /// Starts again on the same port (stopping first if running); the behaviour and the
    /// recorded requests are kept.
    pub fn restart(&self) {
        self.stop();
        let listener = TcpListener::bind(self.addr).expect("bind the same port again");
        self.launch(listener);
    }

    fn launch(&self, listener: TcpListener) {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("tiny_http server"));
        let inner = server.server_addr().to_ip().expect("an IP address");
        self.shared.lock().stopping = false;
        let handlers: Threads = Arc::default();
        let dispatcher = {
            let (server, shared, handlers) =
                (server.clone(), self.shared.clone(), handlers.clone());
            spawn("test-http-dispatch", move || {
                while let Ok(request) = server.recv() {
                    let shared = shared.clone();
                    let t = spawn("test-http-handler", move || handle(&shared, request));
                    push(&handlers, t);
                }
            })
        };
        let conns: Conns = Arc::default();
        let relays: Threads = Arc::default();
        let accept_stop = Arc::new(AtomicBool::new(false));
        let accept = {
            let (conns, relays, stop) = (conns.clone(), relays.clone(), accept_stop.clone());
            spawn("test-http-accept", move || {
                let ids = AtomicU64::new(0);
                for client in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(client) = client else { continue };
                    let Ok(upstream) = TcpStream::connect(inner) else {
                        continue;
                    };
                    let (Ok(c2), Ok(u2)) = (client.try_clone(), upstream.try_clone()) else {
                        continue;
                    };
                    let id = ids.fetch_add(1, Ordering::Relaxed);
                    conns.lock().unwrap().insert(id, (c2, u2));
                    let conns = conns.clone();
                    let t = spawn("test-http-relay", move || {
                        relay(client, upstream);
                        conns.lock().unwrap().remove(&id);
                    });
                    push(&relays, t);
                }
            })
        };
        *self.running.lock().unwrap_or_else(PoisonError::into_inner) = Some(Running {
            accept,
            accept_stop,
            dispatcher,
            server,
            conns,
            relays,
            handlers,
        });
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> JoinHandle<()> {
    thread::Builder::new()
        .name(name.into())
        .spawn(f)
        .expect("spawn a test server thread")
}

/// Keeps a handle to join at stop, and joins the ones whose closure has returned.
///
/// `is_finished` turns true when the thread's closure has returned, before the thread itself
/// has exited: dropping such a handle (detaching the thread) let a `test-http-*` thread
/// outlive `stop`. Joining it instead waits for the exit, which is then imminent.
fn push(threads: &Threads, t: JoinHandle<()>) {
    let mut list = threads.lock().unwrap();
    let (done, running): (Vec<_>, Vec<_>) = list.drain(..).partition(|t| t.is_finished());
    *list = running;
    list.push(t);
    drop(list);
    for t in done {
        let _ = t.join();
    }
}

fn handle(shared: &Shared, mut request: tiny_http::Request) {
    let mut body = Vec::new();
    let _ = request.as_reader().read_to_end(&mut body);
    let seen = SeenRequest {
        method: request.method().as_str().to_owned(),
        path: request.url().to_owned(),
        headers: request
            .headers()
            .iter()
            .map(|h| {
                (
                    h.field.as_str().as_str().to_owned(),
                    h.value.as_str().to_owned(),
                )
            })
            .collect(),
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    let mut g = shared.lock();
    g.seen.push(seen.clone());
    let n = g.seen.len();
    shared.changed.notify_all();
    let behaviour = loop {
        match g.behaviour.clone() {
            Behaviour::Hang => {
                g.held += 1;
                shared.changed.notify_all();
                while g.behaviour == Behaviour::Hang && !g.stopping {
                    g = shared.wait(g, WAIT_BOUND);
                }
                g.held -= 1;
                shared.changed.notify_all();
                if g.stopping {
                    return drop(request.into_writer()); // closed unanswered by the stop
                }
            }
            Behaviour::Slow(delay) => {
                let end = Instant::now() + delay;
                while !g.stopping && Instant::now() < end {
                    let left = end.saturating_duration_since(Instant::now());
                    g = shared.wait(g, left);
                }
                if g.stopping {
                    return drop(request.into_writer());
                }
                break Behaviour::Normal;
            }
            other => break other,
        }
    };
    drop(g);
    let json = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
    let (status, text, retry_after) = match behaviour {
        Behaviour::Status(code) => (code, format!("{{\"error\":{code}}}"), None),
        Behaviour::RetryAfter(code, v) => (code, format!("{{\"error\":{code}}}"), Some(v)),
        Behaviour::Drop => (DROP_MARKER, String::new(), None),
        _ => (
            200,
            format!(
                "{{\"ok\":true,\"method\":\"{}\",\"path\":\"{}\",\"n\":{n}}}",
                json(&seen.method),
                json(&seen.path)
            ),
            None,
        ),
    };
    let mut response = tiny_http::Response::from_string(text)
        .with_status_code(status)
        .with_header(header("Content-Type", "application/json"));
    if let Some(v) = retry_after {
        response.add_header(header("Retry-After", &v));
    }
    if let Some(id) = seen.header("X-Correlation-Id") {
        response.add_header(header("X-Correlation-Id", id));
    }
    let _ = request.respond(response);
}

fn header(name: &str, value: &str) -> tiny_http::Header {
    tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("a valid header")
}
