//! `WORKER_THREADS` bounds the requests handled at once (src/http/gate.rs): a request past
//! it waits for a slot and is served when one frees up, or gets 503 with Retry-After once
//! the wait is over; `/health` needs no slot.

use crate::support::fake_bedrock::FakeBedrock;
use crate::support::server::{request, Resp, Server};
use crate::support::wait::until;
use serde_json::json;
use std::time::{Duration, Instant};

fn search(s: &Server) -> Resp {
    s.mcp(
        &[("MCP-Protocol-Version", "2025-11-25")],
        &json!({"jsonrpc":"2.0","id":1,"method":"tools/call",
            "params":{"name":"search_knowledge_base","arguments":{"query":"vpn"}}}),
    )
}

/// The binary against `bedrock` with one worker slot and `extra` set.
fn start(bedrock: &FakeBedrock, extra: (&str, &str)) -> Server {
    let env = bedrock.env();
    let mut pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    pairs.push(("WORKER_THREADS", "1"));
    pairs.push(extra);
    Server::start(&pairs)
}

#[test]
fn requests_past_worker_threads_wait_for_a_slot_then_are_refused_and_health_stays_up() {
    let bedrock = FakeBedrock::start();
    let s = start(&bedrock, ("METRICS_ADDR", "127.0.0.1:0"));
    let metrics = s.metrics_url();
    let gauge = |series: &str| {
        let r = request(&format!("{metrics}/metrics"), "GET", &[], "");
        r.body
            .lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .unwrap_or(-1.0)
    };
    let busy = || gauge(r#"bedrock_mcp_workers{state="busy"}"#);
    let queued = || gauge("bedrock_mcp_queued_requests");

    bedrock.hold();
    std::thread::scope(|scope| {
        // The one slot is taken by a call whose Bedrock answer is held.
        let first = scope.spawn(|| search(&s));
        until("the held call to take the slot", || busy() == 1.0);

        let health = s.request("GET", "/health", &[], "");
        assert_eq!(health.status, 200, "health needs no slot: {}", health.body);

        // A second call waits for the slot, then is refused.
        let started = Instant::now();
        let refused = search(&s);
        assert_eq!(refused.status, 503, "{}", refused.body);
        assert!(
            refused.header("retry-after").is_some(),
            "{:?}",
            refused.headers
        );
        assert!(
            refused.body.contains("all workers busy"),
            "{}",
            refused.body
        );
        assert!(
            started.elapsed() >= Duration::from_secs(4),
            "refused only after waiting for a slot ({:?})",
            started.elapsed()
        );
        assert_eq!(busy(), 1.0, "the refused call never took a slot");

        // A third call waits too, and gets the slot as soon as the first call gives it back.
        let third = scope.spawn(|| search(&s));
        until("the third call to wait for a slot", || queued() == 1.0);
        bedrock.release();
        let first = first.join().expect("first call");
        assert_eq!(first.status, 200, "{}", first.body);
        let third = third.join().expect("third call");
        assert_eq!(third.status, 200, "{}", third.body);
        assert_eq!(third.json()["result"]["isError"], false, "{}", third.body);
    });
    assert_eq!(queued(), 0.0);
}

/// An 8000-byte POST, whose lease does not fit beside a held 5000-byte one in an 8 KiB body
/// budget: 503 "bodies in flight" while the held request is reading its body, 413 (it is
/// too costly to parse within the budget) when nothing else is leased.
fn probe_body_budget(s: &Server) -> Resp {
    let body = format!("{{}}{}", " ".repeat(7998));
    s.request(
        "POST",
        "/mcp",
        &[
            ("Content-Type", "application/json"),
            ("Accept", "application/json, text/event-stream"),
        ],
        &body,
    )
}

#[test]
fn a_body_that_never_comes_holds_no_slot() {
    let bedrock = FakeBedrock::start();
    let env = bedrock.env();
    let mut pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    pairs.extend([
        ("WORKER_THREADS", "1"),
        ("HEADER_TIMEOUT_SECS", "30"),
        ("MAX_BODY_BYTES", "8192"),
        ("MAX_BODY_BYTES_IN_FLIGHT", "8192"),
    ]);
    let s = Server::start(&pairs);
    assert_eq!(
        probe_body_budget(&s).status,
        413,
        "the probe alone fits no lease conflict"
    );
    // A head that declares a body larger than tiny_http reads ahead (1 KiB), then silence:
    // the server waits for the body on this connection's thread until the 30 s deadline.
    let addr = s.url.trim_start_matches("http://");
    let mut held = std::net::TcpStream::connect(addr).expect("connect");
    use std::io::Write;
    held.write_all(
        b"POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
          Accept: application/json, text/event-stream\r\nContent-Length: 5000\r\n\r\n{",
    )
    .expect("write");
    // The held request is being handled (its body lease taken) before the call below, so
    // the call meets it rather than racing it.
    until("the held request to lease its body", || {
        let r = probe_body_budget(&s);
        r.status == 503 && r.body.contains("bodies in flight")
    });
    // The one slot is free: a call is served at once instead of waiting 5 s for a 503.
    let r = search(&s);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["result"]["isError"], false, "{}", r.body);
    drop(held);
}
