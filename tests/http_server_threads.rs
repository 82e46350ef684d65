//! The test server leaves no thread of its own behind: after a stop, with a request held,
//! one answered and one dropped, none of its threads (all named `test-http-*`) is alive.
//! Alone in its binary, so that no other test's server is running meanwhile.
#![cfg(all(feature = "http", target_os = "linux"))]

#[path = "support/http_server.rs"]
mod http_server;

use std::time::Duration;

use http_server::{Behaviour, TestServer};

/// Names of this process's live threads that belong to a test server.
fn server_threads() -> Vec<String> {
    let mut names = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        if let Ok(name) = std::fs::read_to_string(task.path().join("comm")) {
            if name.starts_with("test-http") {
                names.push(name.trim().to_owned());
            }
        }
    }
    names
}

#[test]
fn stop_joins_every_thread_the_server_started() {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into();
    let server = TestServer::start();
    let url = format!("{}/x", server.url());
    assert_eq!(agent.get(&url).call().unwrap().status(), 200);
    server.set(Behaviour::Drop);
    assert!(agent.get(&url).call().is_err());
    server.set(Behaviour::Hang);
    let held = {
        let (agent, url) = (agent.clone(), url.clone());
        std::thread::spawn(move || agent.get(&url).call().is_err())
    };
    server.wait_for_held(1);
    assert!(!server_threads().is_empty());

    server.stop();
    assert!(
        held.join().unwrap(),
        "the held call ends with an error when the server stops"
    );
    assert_eq!(server_threads(), Vec::<String>::new());

    // The same after a restart and a second stop (by drop).
    server.set(Behaviour::Normal);
    server.restart();
    assert_eq!(agent.get(&url).call().unwrap().status(), 200);
    drop(server);
    assert_eq!(server_threads(), Vec::<String>::new());
    assert_eq!(
        agent.get(&url).call().map(|r| r.status()).ok(),
        None,
        "nothing listens after the drop"
    );
}
