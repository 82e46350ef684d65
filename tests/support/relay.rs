//! The relay in front of the test server's tiny_http: it owns the public port and every
//! client connection, because tiny_http can neither close a connection without answering
//! nor close its open connections when it stops.
//!
//! It copies bytes both ways and does two things to the answer's status line: it adds
//! `Connection: close` (one exchange per connection, so no client keeps a pooled connection
//! across a behaviour switch or a restart), and when the status is the private marker
//! [`DROP_MARKER`] it closes the client connection instead of answering.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};

use super::spawn;

/// The status the handler uses to ask the relay to drop the connection.
pub(super) const DROP_MARKER: u16 = 599;

/// Copies one exchange between the client and tiny_http (see the module docs).
pub(super) fn relay(mut client: TcpStream, mut upstream: TcpStream) {
    let (Ok(mut client_in), Ok(mut upstream_out)) = (client.try_clone(), upstream.try_clone())
    else {
        return;
    };
    let requests = spawn("test-http-relay-in", move || {
        let _ = io::copy(&mut client_in, &mut upstream_out);
        let _ = upstream_out.shutdown(Shutdown::Write);
    });
    let mut status_line = Vec::new();
    let mut byte = [0u8; 1];
    while !status_line.ends_with(b"\r\n") && status_line.len() < 1024 {
        match upstream.read(&mut byte) {
            Ok(1) => status_line.push(byte[0]),
            _ => break,
        }
    }
    let status = String::from_utf8_lossy(&status_line);
    let drop_it = status.split_ascii_whitespace().nth(1) == Some(&*DROP_MARKER.to_string());
    if status_line.is_empty() || drop_it {
        let _ = client.shutdown(Shutdown::Both);
        let _ = upstream.shutdown(Shutdown::Both);
    } else {
        let _ = client
            .write_all(&status_line)
            .and_then(|()| client.write_all(b"Connection: close\r\n"))
            .and_then(|_| io::copy(&mut upstream, &mut client).map(drop));
        let _ = client.shutdown(Shutdown::Write);
    }
    let _ = requests.join();
}
