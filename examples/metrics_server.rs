//! `/metrics` and `/health` of a [`Registry`] over HTTP (tiny_http), with the breakers'
//! transitions in the service's own log (tracing-subscriber's fmt): a few lines each.
//!
//! ```text
//! cargo run --example metrics_server                # serves until stopped (port 9898)
//! cargo run --example metrics_server -- --port 0 --requests 2   # any port, 2 requests
//! cargo run --example metrics_server -- --once      # asks itself once for each, exits
//! ```
//!
//! At start a scripted outage trips the breaker `authors` (three failures), so the log
//! shows `breaker authors: closed -> open (3 consecutive failures)` and `/health` says
//! `DOWN` until the open duration (10 s) has passed and a call succeeds.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use breakwater::exposition::{CONTENT_TYPE, health_report, prometheus};
use breakwater::{BreakerConfig, Registry, TripPolicy};
use tiny_http::{Header, Response, Server};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |flag: &str| {
        let at = args.iter().position(|a| a == flag)?;
        args.get(at + 1)?.parse::<u64>().ok()
    };
    let once = args.iter().any(|a| a == "--once");
    let port = u16::try_from(value("--port").unwrap_or(if once { 0 } else { 9898 }))?;
    let limit = if once { Some(2) } else { value("--requests") };

    let registry = Registry::new();
    let config = BreakerConfig {
        policy: TripPolicy::ConsecutiveFailures { threshold: 3 },
        open_duration: Duration::from_secs(10),
        ..Default::default()
    };
    let authors = registry.breaker_with("authors", config)?;
    registry.bulkhead("email")?;
    registry.rate_limiter("api")?;
    for _ in 0..3 {
        let _ = authors.call(|| Err::<(), _>("authors is down"));
    }

    let server = Server::http(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    let addr = server.server_addr().to_ip().ok_or("not an IP address")?;
    println!("serving http://{addr}/metrics and http://{addr}/health");
    let client = once.then(|| {
        std::thread::spawn(move || {
            for path in ["/metrics", "/health"] {
                println!("GET {path}\n{}", get(addr, path));
            }
        })
    });

    for (served, request) in server.incoming_requests().enumerate() {
        let (body, content_type, status) = match request.url() {
            "/metrics" => (prometheus(&registry), CONTENT_TYPE, 200),
            "/health" => {
                let report = health_report(&registry);
                let down = report.starts_with(r#"{"status":"DOWN""#);
                (report, "application/json", if down { 503 } else { 200 })
            }
            _ => ("not found\n".to_owned(), "text/plain", 404),
        };
        let header = Header::from_bytes("Content-Type", content_type).expect("a valid header");
        request.respond(
            Response::from_string(body)
                .with_header(header)
                .with_status_code(status),
        )?;
        if limit.is_some_and(|n| served as u64 + 1 >= n) {
            break;
        }
    }
    if let Some(client) = client {
        client
            .join()
            .expect("the client thread printed both answers");
    }
    Ok(())
}

/// A plain HTTP/1.0 GET (what `--once` asks itself): the status line, the content type
/// and the body.
fn get(addr: std::net::SocketAddr, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).expect("the server is listening");
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").expect("a request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("a response");
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head.lines().next().unwrap_or_default();
    let content_type = head
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("content-type:"))
        .unwrap_or_default();
    format!("{status}\n{content_type}\n{body}")
}
