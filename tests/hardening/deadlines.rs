//! Held connections and workers (issue 10, attacks 2 and 3): tiny bodies trickled into
//! tiny_http's read-ahead, `Connection: Upgrade` followed by silence, and bodies announced but
//! never sent (sized or chunked). One deadline per request (HEADER_TIMEOUT_SECS) cuts each,
//! however its body is framed and even while a read is blocked; an attacking address holds
//! at most MAX_CONNECTIONS_PER_IP connections; idle keep-alive ends at KEEPALIVE_IDLE_SECS.
//! Legitimate clients, from another address, are served throughout.

use super::raw::*;
use crate::support::fake_bedrock::{FakeBedrock, Fault};
use crate::support::server::Server;
use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::time::{Duration, Instant};

/// The attacker's address; legitimate clients use 127.0.0.1.
const ATTACKER: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);

/// The four kinds of held request, by name.
fn attacks() -> [(&'static str, &'static [u8]); 4] {
    [
        (
            "tiny body, trickled",
            b"POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{",
        ),
        (
            "Connection: Upgrade, then silence",
            b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
        ),
        (
            "sized body never sent",
            b"POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n",
        ),
        (
            "chunked body never sent",
            b"POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
        ),
    ]
}

/// One attacking connection and what became of it.
struct Held {
    kind: usize,
    conn: TcpStream,
    opened: Instant,
    answer: Option<(String, Duration)>,
}

#[test]
fn held_requests_are_cut_at_the_deadline_and_real_clients_are_served() {
    // The socket timeout (60 s) is far beyond the deadline (1 s): only the deadline can cut
    // a blocked read. Few workers, so that held workers would show at once.
    let s = Server::local(&[
        ("HEADER_TIMEOUT_SECS", "1"),
        ("HTTP_READ_TIMEOUT_SECS", "60"),
        ("WORKER_THREADS", "24"),
        ("MAX_CONNECTIONS_PER_IP", "16"),
    ]);
    assert_healthy(&s);
    let started = Instant::now();
    let mut held: Vec<Held> = Vec::new();
    let mut capped = 0;
    let mut last_drip = Instant::now();
    // At least three seconds of attack (three deadlines), and on until every kind of attack
    // has had its answer: an event, so a slow machine runs longer instead of failing. Every
    // half second the attacker tops up to 24 open connections, more than its cap and as
    // many as the workers.
    let mut first = true;
    let every_kind_answered = |held: &[Held]| {
        (0..4).all(|k| {
            held.iter().any(|h| {
                h.kind == k
                    && h.answer
                        .as_ref()
                        .is_some_and(|(a, _)| status(a) != Some(429))
            })
        })
    };
    while started.elapsed() < Duration::from_secs(3) || !every_kind_answered(&held) {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "some kind of attack was never answered or cut"
        );
        if first || last_drip.elapsed() >= Duration::from_millis(500) {
            // The trickled bodies get one more byte: each read succeeds.
            for h in held
                .iter_mut()
                .filter(|h| h.kind == 0 && h.answer.is_none())
            {
                let _ = h.conn.write_all(b" ");
            }
            while held.iter().filter(|h| h.answer.is_none()).count() < 24 {
                let kind = held.len() % 4;
                let Ok(mut conn) = connect_from(ATTACKER, &s) else {
                    break;
                };
                let _ = conn.write_all(attacks()[kind].1);
                conn.set_nonblocking(true).unwrap();
                let opened = Instant::now();
                held.push(Held {
                    kind,
                    conn,
                    opened,
                    answer: None,
                });
            }
            (first, last_drip) = (false, Instant::now());
        }
        for h in held.iter_mut().filter(|h| h.answer.is_none()) {
            let mut buf = [0u8; 1024];
            match h.conn.read(&mut buf) {
                Ok(n) => {
                    let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                    h.answer = Some((text, h.opened.elapsed()));
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => h.answer = Some((format!("error: {e}"), h.opened.elapsed())),
            }
        }
        // Legitimate clients keep being served meanwhile.
        assert_healthy(&s);
        assert_tool_call_works(&s);
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut cut = [0; 4];
    for h in held.iter().filter(|h| h.answer.is_some()) {
        let (answer, after) = h.answer.as_ref().unwrap();
        match status(answer) {
            Some(429) => {
                capped += 1;
                assert!(head_of(answer).contains("retry-after"), "{answer}");
            }
            // Upgrade is ignored: a plain, prompt answer, never a raw-socket body.
            Some(200) if h.kind == 1 => cut[1] += 1,
            Some(408) if h.kind != 1 => {
                cut[h.kind] += 1;
                // 1 s deadline; far below the 60 s socket timeout, with room for a slow box.
                assert!(*after < Duration::from_secs(30), "cut after {after:?}");
            }
            _ => panic!("{}: unexpected answer {answer:?}", attacks()[h.kind].0),
        }
    }
    eprintln!(
        "{} attacking connections: {capped} over the per-address cap (429); cut or answered \
         by kind {cut:?}",
        held.len()
    );
    assert!(capped > 0, "the per-address cap turned some away");
    for (kind, (name, _)) in attacks().iter().enumerate() {
        assert!(cut[kind] > 0, "no {name} request was answered or cut");
    }
    drop(held);
    assert_healthy(&s);
}

#[test]
fn an_idle_keep_alive_connection_is_closed_at_keepalive_idle_secs() {
    let s = Server::local(&[
        ("KEEPALIVE_IDLE_SECS", "1"),
        ("HTTP_READ_TIMEOUT_SECS", "60"),
    ]);
    let mut c = TcpStream::connect(addr(&s)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    c.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    assert_eq!(read_one(&mut c), Some(200));
    let idle_from = Instant::now();
    let mut buf = [0u8; 16];
    let end = c.read(&mut buf);
    let idle = idle_from.elapsed();
    assert!(
        matches!(end, Ok(0)) || end.is_err(),
        "closed silently: {end:?}"
    );
    assert!(
        idle >= Duration::from_millis(900) && idle < Duration::from_secs(20),
        "closed after {idle:?} idle (KEEPALIVE_IDLE_SECS=1, socket timeout 60 s)"
    );
}

#[test]
fn the_idle_wait_counts_from_the_answer_not_from_the_request() {
    // The first search takes 1.5 s upstream, longer than the 1 s keep-alive idle: the
    // connection must still be open for a second request right after its answer.
    let bedrock = FakeBedrock::start();
    let mut env: Vec<(String, String)> = bedrock.env();
    env.push(("KEEPALIVE_IDLE_SECS".into(), "1".into()));
    env.push(("HTTP_READ_TIMEOUT_SECS".into(), "60".into()));
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let s = Server::start(&pairs);
    // One Bedrock request is slow, so the first call's answer comes 1.5 s after the request
    // (a latency on every request would slow each Bedrock request the call makes).
    bedrock.push_fault(Fault::Delay(Duration::from_millis(1500)));
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search_knowledge_base","arguments":{"query":"Lambda"}}}"#;
    let call = format!(
        "POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         Accept: application/json, text/event-stream\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut c = TcpStream::connect(addr(&s)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    for round in 0..2 {
        let sent = Instant::now();
        c.write_all(call.as_bytes()).unwrap();
        assert_eq!(read_one(&mut c), Some(200), "call {round}");
        // A lower bound only: the delay was spent within the first call.
        assert!(round > 0 || sent.elapsed() >= Duration::from_millis(1500));
    }
    // Then idle: closed about a second after the last answer.
    let idle_from = Instant::now();
    let end = c.read(&mut [0u8; 16]);
    assert!(matches!(end, Ok(0)) || end.is_err(), "{end:?}");
    let idle = idle_from.elapsed();
    assert!(idle < Duration::from_secs(20), "closed after {idle:?}");
}
