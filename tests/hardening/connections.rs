//! Connections: over MAX_CONNECTIONS they get 503 and cost no thread, closing frees slots,
//! and a listener without traffic keeps accepting.

use super::raw::*;
use crate::support::server::Server;
use crate::support::wait::until;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

#[test]
fn connections_over_the_cap_get_503_and_the_cap_frees_up() {
    let s = Server::local(&[("MAX_CONNECTIONS", "50"), ("HEADER_TIMEOUT_SECS", "60")]);
    assert_healthy(&s);
    let idle: Vec<TcpStream> = (0..60)
        .map(|_| TcpStream::connect(addr(&s)).unwrap())
        .collect();
    // Poll all of them until the ten over the cap have their answer (an event, not a read
    // timeout per connection); then one more pass shows the other fifty got nothing.
    let mut answers: Vec<Option<String>> = vec![None; idle.len()];
    let poll = |answers: &mut Vec<Option<String>>| {
        for (mut c, a) in idle
            .iter()
            .zip(answers.iter_mut())
            .filter(|(_, a)| a.is_none())
        {
            c.set_nonblocking(true).unwrap();
            let mut buf = [0u8; 256];
            match c.read(&mut buf) {
                Ok(n) => *a = Some(String::from_utf8_lossy(&buf[..n]).into_owned()),
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => *a = Some(format!("error: {e}")),
            }
        }
    };
    until("10 connections to be refused", || {
        poll(&mut answers);
        answers.iter().flatten().count() >= 10
    });
    poll(&mut answers);
    for text in answers.iter().flatten() {
        assert_eq!(status(text), Some(503), "{text:?}");
        assert!(text.contains("Connection: close"), "{text:?}");
    }
    let refused = answers.iter().flatten().count();
    assert_eq!(refused, 10, "exactly the connections over 50 are refused");
    drop(idle);
    // Closed connections free their slots as soon as their threads see EOF.
    until("the cap to free up", || {
        let health = b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        status(&raw(&s, health)) == Some(200)
    });
    assert_healthy(&s);
    assert_tool_call_works(&s);
}

#[test]
fn a_quiet_listener_keeps_accepting() {
    // Linux applies the listener's SO_RCVTIMEO (HTTP_READ_TIMEOUT_SECS) to accept() too:
    // upstream tiny_http took the timeout for a fatal error and stopped accepting for good.
    // The shortest timeout the setting allows, and long enough for it to fire at least once.
    let s = Server::local(&[("HTTP_READ_TIMEOUT_SECS", "1")]);
    std::thread::sleep(Duration::from_millis(1500));
    assert_healthy(&s);
    assert!(!s.logs().contains("accept failed"), "{}", s.logs());
}

#[test]
fn a_burst_of_kept_alive_connections_is_served_at_once() {
    // Upstream tiny_http queued a burst of new connections behind its few idle threads (a
    // thread woken for one still counted as idle for the next), and a queued connection
    // waited until a served one closed: with clients that keep theirs open, for good. The
    // long read timeout keeps the served ones open for the whole test.
    let s = Server::local(&[("HTTP_READ_TIMEOUT_SECS", "120")]);
    assert_healthy(&s);
    // Let the threads of the first request go back to waiting, as on a quiet server.
    std::thread::sleep(Duration::from_millis(300));
    let mut conns: Vec<TcpStream> = (0..64)
        .map(|_| TcpStream::connect(addr(&s)).unwrap())
        .collect();
    for c in conns.iter_mut() {
        c.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut answered = 0;
    for c in conns.iter_mut() {
        let left = deadline.saturating_duration_since(Instant::now());
        c.set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .unwrap();
        let mut buf = [0u8; 512];
        if let Ok(n) = c.read(&mut buf) {
            if status(&String::from_utf8_lossy(&buf[..n])) == Some(200) {
                answered += 1;
            }
        }
    }
    assert_eq!(
        answered, 64,
        "every kept-alive connection of the burst is served"
    );
}
