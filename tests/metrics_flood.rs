//! The metrics listener under a flood (issue 22 item 5): 1,024 held request heads against
//! METRICS_ADDR cost at most the listener's own connection cap in threads, the rest are
//! refused with 503 and no thread, memory stays bounded, the public port keeps answering,
//! and once the flood is over the metrics port answers again and the memory is handed back.
//! Every bound is a count read from /proc, never a speed.

use crate::support;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};
use support::server::{request, Server};

/// Held heads, as in the reproduction.
const FLOOD: usize = 1024;
/// The metrics listener's connection cap (`metrics::listener::LIMITS`).
const CAP: usize = 16;

/// A field of /proc/<pid>/status as a number (kB for memory fields).
fn proc_status(pid: u32, key: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = text.lines().find(|l| l.starts_with(key)).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn threads(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .count()
}

/// Polls `f` until it is true or `limit` has passed; whether it became true.
fn until(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if f() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn metrics_addr(s: &Server) -> String {
    s.metrics_url().trim_start_matches("http://").to_string()
}

/// What a held connection has been told so far: a status code once an answer arrived,
/// `Some(0)` once it closed without one, `None` while it is still open and silent.
fn verdict(c: &mut TcpStream) -> Option<u16> {
    let mut buf = [0u8; 256];
    match c.read(&mut buf) {
        Ok(0) => Some(0),
        Ok(n) => {
            let text = String::from_utf8_lossy(&buf[..n]);
            Some(text.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0))
        }
        Err(e) if e.kind() == ErrorKind::WouldBlock => None,
        Err(_) => Some(0),
    }
}

#[test]
fn held_heads_on_the_metrics_port_cost_its_own_small_cap_and_are_handed_back() {
    let s = Server::local(&[("METRICS_ADDR", "127.0.0.1:0")]);
    let metrics = metrics_addr(&s);
    let scrape = || request(&format!("http://{metrics}/metrics"), "GET", &[], "");
    // One scrape and one public request first, so one-time allocations are in the baseline.
    assert_eq!(scrape().status, 200);
    assert_eq!(s.request("GET", "/health", &[], "").status, 200);
    let pid = s.pid();
    let base_threads = threads(pid);
    let base_rss = proc_status(pid, "VmRSS:");

    let mut held = Vec::with_capacity(FLOOD);
    for _ in 0..FLOOD {
        let mut c = TcpStream::connect(&metrics).unwrap();
        // A head that never ends: the slow-loris shape.
        let _ = c.write_all(b"GET /metrics HTTP/1.1\r\nHost: m\r\nX-Wait: ");
        c.set_nonblocking(true).unwrap();
        held.push((c, None));
    }
    // Every connection over the cap is answered 503 by the accept loop, without a thread.
    let mut peak_threads = 0;
    let mut peak_rss = 0;
    let refused = |held: &mut Vec<(TcpStream, Option<u16>)>| {
        for (c, v) in held.iter_mut().filter(|(_, v)| v.is_none()) {
            *v = verdict(c);
        }
        held.iter().filter(|(_, v)| *v == Some(503)).count()
    };
    let all_refused = until(Duration::from_secs(20), || {
        peak_threads = peak_threads.max(threads(pid));
        peak_rss = peak_rss.max(proc_status(pid, "VmRSS:"));
        refused(&mut held) >= FLOOD - CAP
    });
    let n503 = refused(&mut held);
    assert!(
        all_refused,
        "only {n503} of {FLOOD} held heads were refused with 503"
    );
    // While the flood holds its connections: the public port answers, the metrics port
    // refuses clearly instead of hanging.
    assert_eq!(s.request("GET", "/health", &[], "").status, 200);
    let during = scrape();
    assert!(
        matches!(during.status, 503 | 200),
        "metrics during the flood: {during:?}"
    );
    peak_threads = peak_threads.max(threads(pid));
    peak_rss = peak_rss.max(proc_status(pid, "VmRSS:"));
    assert!(
        peak_threads <= base_threads + CAP + 2,
        "threads went from {base_threads} to {peak_threads} under {FLOOD} held metrics heads \
         (cap {CAP})"
    );
    let grown_mb = peak_rss.saturating_sub(base_rss) as f64 / 1024.0;
    eprintln!(
        "flood: {n503} refused with 503; threads {base_threads} -> {peak_threads}; \
         RSS {base_rss} -> {peak_rss} kB"
    );
    assert!(
        grown_mb < 8.0,
        "RSS grew by {grown_mb:.1} MB under {FLOOD} held metrics heads"
    );

    drop(held);
    assert!(
        s.wait_for_log("metrics flood over; free memory handed back"),
        "{}",
        s.logs()
    );
    assert!(
        until(Duration::from_secs(10), || threads(pid) <= base_threads + 1),
        "threads stayed at {} after the flood (baseline {base_threads})",
        threads(pid)
    );
    assert_eq!(scrape().status, 200, "metrics answer again after the flood");
    let after = proc_status(pid, "VmRSS:");
    assert!(
        after <= base_rss + 2048,
        "RSS {after} kB after the flood, baseline {base_rss} kB (peak {peak_rss} kB)"
    );
}
