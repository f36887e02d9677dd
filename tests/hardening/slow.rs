//! Time: a request head must arrive within HEADER_TIMEOUT_SECS (from accept, or from its
//! first byte on a kept-alive connection) however slowly each byte comes.

use super::raw::*;
use crate::support::server::Server;
use crate::support::wait::{within, GUARD};
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

#[test]
fn slow_loris_heads_are_cut_at_the_header_timeout_while_real_clients_are_served() {
    // The socket timeout is far above the header timeout: only the head deadline can cut them.
    // All 300 come from 127.0.0.1, like the legitimate requests: no per-address cap here.
    let s = Server::local(&[
        ("HEADER_TIMEOUT_SECS", "1"),
        ("HTTP_READ_TIMEOUT_SECS", "60"),
        ("MAX_CONNECTIONS_PER_IP", "0"),
    ]);
    assert_healthy(&s);
    let baseline = proc_status(s.pid(), "Threads:");
    let started = Instant::now();
    let mut slow: Vec<TcpStream> = (0..300)
        .map(|_| {
            let mut c = TcpStream::connect(addr(&s)).unwrap();
            c.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n").unwrap();
            c.set_nonblocking(true).unwrap();
            c
        })
        .collect();
    let mut done: Vec<Option<String>> = vec![None; slow.len()];
    let mut last_drip = Instant::now();
    let mut peak = 0;
    let mut first_cut = None;
    while done.iter().any(Option::is_none) {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{} slow clients still connected after 30 s",
            done.iter().filter(|d| d.is_none()).count()
        );
        if last_drip.elapsed() >= Duration::from_millis(300) {
            // One more header byte each: every read succeeds well within the socket timeout.
            for c in &mut slow {
                let _ = c.write_all(b"x");
            }
            last_drip = Instant::now();
        }
        for (c, d) in slow
            .iter_mut()
            .zip(done.iter_mut())
            .filter(|(_, d)| d.is_none())
        {
            let mut buf = [0u8; 256];
            match c.read(&mut buf) {
                Ok(n) => *d = Some(String::from_utf8_lossy(&buf[..n]).into_owned()),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) => *d = Some(format!("error: {e}")),
            }
            if d.is_some() && first_cut.is_none() {
                first_cut = Some(started.elapsed());
            }
        }
        peak = peak.max(proc_status(s.pid(), "Threads:"));
        // Legitimate clients keep being served promptly meanwhile.
        assert_healthy(&s);
        assert_tool_call_works(&s);
        std::thread::sleep(Duration::from_millis(50));
    }
    let cut_after = started.elapsed();
    let timed_out = done
        .iter()
        .flatten()
        .filter(|r| status(r) == Some(408))
        .count();
    let closed = done
        .iter()
        .flatten()
        .filter(|r| status(r).is_none())
        .count();
    let first_cut = first_cut.unwrap_or_default();
    eprintln!(
        "slow clients cut between {first_cut:?} and {cut_after:?}: {timed_out} answered 408, \
         {closed} closed; threads baseline {baseline}, peak {peak}"
    );
    assert_eq!(
        timed_out + closed,
        slow.len(),
        "only 408 or a close: {done:?}"
    );
    assert!(timed_out > 0, "a head past its deadline is answered 408");
    // A lower bound only: the clock started before the first connect, the deadline after.
    assert!(
        first_cut >= Duration::from_secs(1),
        "cut before the header timeout: {first_cut:?}"
    );
    drop(slow);
    // tiny_http's idle connection threads exit after 1 s (vendor/tiny_http/FORK.md, point 17).
    let threads = within(GUARD, || {
        let n = proc_status(s.pid(), "Threads:");
        (n < 150).then_some(n)
    })
    .unwrap_or_else(|| proc_status(s.pid(), "Threads:"));
    assert!(
        threads < 150,
        "threads stay at {threads} after the slow clients were cut"
    );
    assert_healthy(&s);
}

#[test]
fn keep_alive_idles_past_the_header_timeout_but_each_head_keeps_to_it() {
    let s = Server::local(&[
        ("HEADER_TIMEOUT_SECS", "1"),
        ("HTTP_READ_TIMEOUT_SECS", "30"),
    ]);
    let mut c = TcpStream::connect(addr(&s)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    let get = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
    c.write_all(get).unwrap();
    assert_eq!(read_one(&mut c), Some(200));
    // Idle between requests is bounded by the socket timeout, not by the head's.
    std::thread::sleep(Duration::from_millis(1500));
    c.write_all(get).unwrap();
    assert_eq!(read_one(&mut c), Some(200));
    // The next head's clock starts at its first byte. A byte every 300 ms keeps each read
    // well within the socket timeout, so only the head deadline can answer 408; drip until
    // it does (the guard turns a missing deadline into a failure, not a hang).
    c.write_all(b"GET /health HTTP/1.1\r\n").unwrap();
    c.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let guard = Instant::now() + Duration::from_secs(20);
    let answer = loop {
        assert!(Instant::now() < guard, "the head was never cut");
        let _ = c.write_all(b"x");
        let mut buf = [0u8; 512];
        match c.read(&mut buf) {
            Ok(n) => break String::from_utf8_lossy(&buf[..n]).into_owned(),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => panic!("{e}"),
        }
    };
    assert_eq!(status(&answer), Some(408), "{answer:?}");
}
