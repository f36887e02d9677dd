//! Memory before auth (issue 10, attack 1): connections each sending a body of nearly
//! MAX_BODY_BYTES and never its last byte. With auth on, no token means no body is read at
//! all; with auth off, bodies in memory never exceed MAX_BODY_BYTES_IN_FLIGHT (the rest get
//! 503 with Retry-After). Either way the server's RSS stays bounded and real clients are
//! served meanwhile. (Before the fix, 80 such connections grew the RSS by 86 MiB.)

use super::raw::*;
use crate::support::auth;
use crate::support::fake_entra::FakeEntra;
use crate::support::server::Server;
use crate::support::wait::within;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Attacking connections: 64 MiB of bodies if they were all read.
const ATTACKERS: usize = 64;
/// MAX_BODY_BYTES at its default.
const BODY: usize = 1 << 20;
/// MAX_BODY_BYTES_IN_FLIGHT at its default.
const BUDGET: usize = 16 << 20;

/// Settings for both servers: a deadline far beyond the test, so only the budget (or the
/// auth check) can be what bounds memory.
const ENV: [(&str, &str); 1] = [("HEADER_TIMEOUT_SECS", "60")];

/// Opens the attacking connections and sends their heads; returns them with the answers
/// that arrived once `expected` had (or 10 s passed). A refusal comes right after the head:
/// reading it before any body byte is sent means no reset can discard it.
fn open(s: &Server, expected: usize) -> Vec<(TcpStream, Option<String>)> {
    let head = format!(
        "POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         Accept: application/json, text/event-stream\r\nContent-Length: {BODY}\r\n\r\n"
    );
    let mut conns: Vec<(TcpStream, Option<String>)> = (0..ATTACKERS)
        .map(|_| {
            let mut c = TcpStream::connect(addr(s)).unwrap();
            c.write_all(head.as_bytes()).unwrap();
            c.set_nonblocking(true).unwrap();
            (c, None)
        })
        .collect();
    // The caller asserts on the answers; this only stops waiting once enough came.
    let _ = within(Duration::from_secs(10), || {
        for (c, answer) in conns.iter_mut().filter(|(_, a)| a.is_none()) {
            let mut buf = [0u8; 2048];
            if let Ok(n) = c.read(&mut buf) {
                *answer = Some(String::from_utf8_lossy(&buf[..n]).into_owned());
            }
        }
        (conns.iter().filter(|(_, a)| a.is_some()).count() >= expected).then_some(())
    });
    conns
}

/// Sends all but the last byte of each unanswered connection's body, then returns the most
/// the server's RSS grew over `base_kb` in the next second, in MiB.
fn send_bodies(s: &Server, conns: &mut [(TcpStream, Option<String>)], base_kb: u64) -> f64 {
    let body = vec![b' '; BODY - 1];
    for (c, _) in conns.iter_mut() {
        c.set_nonblocking(false).unwrap();
        c.set_write_timeout(Some(Duration::from_secs(20))).unwrap();
        // A refused request's connection closes soon after its answer: writes may fail.
        let _ = c.write_all(&body);
    }
    let mut peak = 0;
    for _ in 0..10 {
        peak = peak.max(proc_status(s.pid(), "VmRSS:"));
        std::thread::sleep(Duration::from_millis(100));
    }
    peak.saturating_sub(base_kb) as f64 / 1024.0
}

#[test]
fn without_auth_bodies_in_memory_stay_within_the_budget() {
    let s = Server::local(&ENV);
    assert_tool_call_works(&s);
    let base = proc_status(s.pid(), "VmRSS:");
    // Each head declares 1 MiB, leased whole before a byte is read: 16 fit the budget.
    let fit = BUDGET / BODY;
    let mut conns = open(&s, ATTACKERS - fit);
    let refused: Vec<&String> = conns.iter().filter_map(|(_, a)| a.as_ref()).collect();
    for answer in &refused {
        assert_eq!(status(answer), Some(503), "{answer}");
        assert!(head_of(answer).contains("retry-after: 1"), "{answer}");
        assert!(answer.contains("MAX_BODY_BYTES_IN_FLIGHT"), "{answer}");
    }
    assert_eq!(
        refused.len(),
        ATTACKERS - fit,
        "bodies beyond the budget get 503"
    );
    let grown = send_bodies(&s, &mut conns, base);
    // Small requests (within the 1 KiB tiny_http reads ahead) need no room in the budget.
    assert_tool_call_works(&s);
    eprintln!("auth off: {fit} bodies of 1 MiB held, the rest 503; RSS +{grown:.1} MiB");
    // The 16 MiB budget plus 12 MiB for threads, buffers and allocator slack; all 64 bodies
    // would be 64 MiB.
    assert!(grown < 28.0, "RSS grew by {grown:.1} MiB");
    drop(conns);
    assert_healthy(&s);
}

#[test]
fn with_auth_no_body_is_read_before_the_token_is_checked() {
    let fake = FakeEntra::start();
    let s = auth::start(&fake, &ENV);
    let token = auth::bearer(&fake.token());
    auth::assert_search_ok(&auth::call(&s, Some(&token), "warm-up"));
    let base = proc_status(s.pid(), "VmRSS:");
    let mut conns = open(&s, ATTACKERS);
    for (_, answer) in &conns {
        let answer = answer.as_deref().unwrap_or("(nothing)");
        assert_eq!(status(answer), Some(401), "{answer}");
    }
    let grown = send_bodies(&s, &mut conns, base);
    auth::assert_search_ok(&auth::call(&s, Some(&token), "during"));
    eprintln!("auth on: all {ATTACKERS} refused with 401; RSS +{grown:.1} MiB");
    // Threads and buffers only: not one body.
    assert!(grown < 12.0, "RSS grew by {grown:.1} MiB");
}

#[test]
fn bodies_that_would_parse_into_too_much_memory_are_refused_before_parsing() {
    // 1 MiB of `[0,0,…]` parses into ~17 MiB of JSON values: 16 at once grew the RSS by
    // 230 MiB before parse costs were leased from the budget.
    let s = Server::local(&[]);
    assert_tool_call_works(&s);
    let base = proc_status(s.pid(), "VmHWM:");
    let send = |body: Vec<u8>| {
        let head = format!(
            "POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
             Accept: application/json, text/event-stream\r\nConnection: close\r\n\
             Content-Length: {}\r\n\r\n",
            body.len()
        );
        raw(&s, &[head.into_bytes(), body].concat())
    };
    let wide = |len: usize| [b"[".as_slice(), &b"0,".repeat((len - 3) / 2), b"0]"].concat();
    let answers: Vec<String> = std::thread::scope(|scope| {
        let calls: Vec<_> = (0..16).map(|_| scope.spawn(|| send(wide(BODY)))).collect();
        calls.into_iter().map(|c| c.join().unwrap()).collect()
    });
    for answer in &answers {
        assert_eq!(status(answer), Some(413), "{answer:.300}");
        assert!(answer.contains("too many JSON values"), "{answer:.300}");
    }
    let grown = proc_status(s.pid(), "VmHWM:").saturating_sub(base) as f64 / 1024.0;
    eprintln!("16 wide 1 MiB bodies: all 413; peak RSS +{grown:.1} MiB");
    assert!(grown < 28.0, "peak RSS grew by {grown:.1} MiB");
    // A wide body whose parse fits the budget is parsed (and refused as JSON-RPC, not 413).
    let fits = send(wide(64 * 1024));
    assert!(!matches!(status(&fits), Some(413 | 503)), "{fits:.300}");
    assert_healthy(&s);
}
