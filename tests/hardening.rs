//! Hostile and broken clients against the real binary, over raw sockets: slow-loris heads,
//! oversized heads, a connection flood over MAX_CONNECTIONS, oversized chunked bodies and
//! garbage request lines. Each test checks the server answers (or closes) as specified, stays
//! healthy for legitimate clients, and keeps its threads and memory bounded.

mod support;

use serde_json::json;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};
use support::server::Server;

/// `host:port` of the server.
fn addr(s: &Server) -> String {
    s.url.trim_start_matches("http://").to_string()
}

/// A field of /proc/<pid>/status as a number (kB for memory fields).
fn proc_status(pid: u32, key: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = text.lines().find(|l| l.starts_with(key)).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Reads until EOF, error or timeout; returns what arrived.
fn read_all(stream: &mut TcpStream, timeout: Duration) -> String {
    stream.set_read_timeout(Some(timeout)).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = stream.read(&mut buf) {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The status code of a raw response, if one arrived.
fn status(response: &str) -> Option<u16> {
    response.strip_prefix("HTTP/1.")?.get(2..5)?.parse().ok()
}

/// Sends `bytes` on a fresh connection and returns the raw response.
fn raw(s: &Server, bytes: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr(s)).unwrap();
    // The server may close before taking everything; what it answered is still readable.
    let _ = stream.write_all(bytes);
    read_all(&mut stream, Duration::from_secs(10))
}

/// GET /health answers 200 within a generous bound.
fn assert_healthy(s: &Server) {
    let started = Instant::now();
    let r = s.request("GET", "/health", &[], "");
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "/health took {:?}",
        started.elapsed()
    );
}

/// A search tool call answers within a generous bound.
fn assert_tool_call_works(s: &Server) {
    let started = Instant::now();
    let r = s.mcp(
        &[],
        &json!({"jsonrpc":"2.0","id":1,"method":"tools/call",
        "params":{"name":"search_knowledge_base","arguments":{"query":"Lambda","max_results":2}}}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["result"]["isError"], false, "{}", r.body);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "tools/call took {:?}",
        started.elapsed()
    );
}

#[test]
fn slow_loris_heads_are_cut_at_the_header_timeout_while_real_clients_are_served() {
    // The socket timeout is far above the header timeout: only the head deadline can cut them.
    let s = Server::local(&[
        ("HEADER_TIMEOUT_SECS", "3"),
        ("HTTP_READ_TIMEOUT_SECS", "60"),
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
        if last_drip.elapsed() >= Duration::from_secs(2) {
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
    assert!(
        first_cut >= Duration::from_millis(2500),
        "cut before the header timeout: {first_cut:?}"
    );
    drop(slow);
    // tiny_http's idle connection threads exit after 5 s; ours after 30 s.
    let deadline = Instant::now() + Duration::from_secs(20);
    let threads = loop {
        let n = proc_status(s.pid(), "Threads:");
        if n < 150 || Instant::now() > deadline {
            break n;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        threads < 150,
        "threads stay at {threads} after the slow clients were cut"
    );
    assert_healthy(&s);
}

#[test]
fn ten_mib_of_headers_get_431_without_buffering_them() {
    let s = Server::local(&[]);
    assert_healthy(&s);
    let peak_before = proc_status(s.pid(), "VmHWM:");
    for one_line in [true, false] {
        let mut stream = TcpStream::connect(addr(&s)).unwrap();
        stream
            .set_write_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut writer = stream.try_clone().unwrap();
        let sender = std::thread::spawn(move || {
            let _ = writer.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ");
            let chunk = if one_line {
                vec![b'a'; 64 * 1024]
            } else {
                b"X-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n".repeat(1024)
            };
            let mut sent = 0;
            while sent < 10 << 20 && writer.write_all(&chunk).is_ok() {
                sent += chunk.len();
            }
            sent
        });
        let response = read_all(&mut stream, Duration::from_secs(15));
        let sent = sender.join().unwrap();
        assert!(
            status(&response) == Some(431) || response.is_empty(),
            "one_line={one_line}: {response:?}"
        );
        assert!(
            sent < 10 << 20,
            "the server kept reading: it took all {sent} bytes"
        );
        eprintln!(
            "one_line={one_line}: answered {:?} after {sent} bytes",
            status(&response)
        );
    }
    let grown_kb = proc_status(s.pid(), "VmHWM:").saturating_sub(peak_before);
    assert!(grown_kb < 4096, "peak RSS grew by {grown_kb} kB");
    assert_healthy(&s);
    assert_tool_call_works(&s);
}

#[test]
fn connections_over_the_cap_get_503_and_the_cap_frees_up() {
    let s = Server::local(&[("MAX_CONNECTIONS", "50"), ("HEADER_TIMEOUT_SECS", "60")]);
    assert_healthy(&s);
    let idle: Vec<TcpStream> = (0..60)
        .map(|_| TcpStream::connect(addr(&s)).unwrap())
        .collect();
    let mut refused = 0;
    for mut c in idle.iter() {
        c.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let mut buf = [0u8; 256];
        if let Ok(n) = c.read(&mut buf) {
            let text = String::from_utf8_lossy(&buf[..n]);
            assert_eq!(status(&text), Some(503), "{text:?}");
            assert!(text.contains("Connection: close"), "{text:?}");
            refused += 1;
        }
    }
    assert_eq!(refused, 10, "exactly the connections over 50 are refused");
    drop(idle);
    // Closed connections free their slots as soon as their threads see EOF.
    let deadline = Instant::now() + Duration::from_secs(10);
    while status(&raw(
        &s,
        b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )) != Some(200)
    {
        assert!(Instant::now() < deadline, "the cap never freed up");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_healthy(&s);
    assert_tool_call_works(&s);
}

#[test]
fn a_chunked_body_over_max_body_bytes_gets_413() {
    let s = Server::local(&[("MAX_BODY_BYTES", "2048")]);
    let body = json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search_knowledge_base",
        "arguments":{"query":"x".repeat(4096)}}})
    .to_string();
    let mut req = String::from(
        "POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         Accept: application/json, text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n",
    );
    for chunk in body.as_bytes().chunks(500) {
        req.push_str(&format!(
            "{:x}\r\n{}\r\n",
            chunk.len(),
            String::from_utf8_lossy(chunk)
        ));
    }
    req.push_str("0\r\n\r\n");
    let response = raw(&s, req.as_bytes());
    assert_eq!(status(&response), Some(413), "{response}");
    assert!(response.contains("MAX_BODY_BYTES"), "{response}");
    // The same body under the limit is served.
    let small = json!({"jsonrpc":"2.0","id":1,"method":"tools/list"}).to_string();
    let ok = raw(
        &s,
        format!(
            "POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: close\r\n\
             Accept: application/json, text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n\
             {:x}\r\n{small}\r\n0\r\n\r\n",
            small.len()
        )
        .as_bytes(),
    );
    assert_eq!(status(&ok), Some(200), "{ok}");
}

#[test]
fn an_unread_body_is_never_parsed_as_the_next_request() {
    let s = Server::local(&[("MAX_BODY_BYTES", "2048")]);
    // Over the limit, and the bytes right after the limit spell a request of their own.
    let data = format!(
        "{}\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
        "x".repeat(2047)
    );
    let req = format!(
        "POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\n\r\n{:x}\r\n{data}\r\n0\r\n\r\n",
        data.len()
    );
    let mut stream = TcpStream::connect(addr(&s)).unwrap();
    stream.write_all(req.as_bytes()).unwrap();
    stream.shutdown(Shutdown::Write).unwrap();
    let response = read_all(&mut stream, Duration::from_secs(10));
    assert_eq!(status(&response), Some(413), "{response}");
    assert_eq!(
        response.matches("HTTP/1.1 ").count(),
        1,
        "one request, one response: {response}"
    );
    assert_healthy(&s);
    assert!(
        !s.logs().contains("/smuggled"),
        "the body was served as a request"
    );
}

#[test]
fn a_huge_declared_content_length_gets_413_and_the_server_lives_on() {
    let mut s = Server::local(&[]);
    let head = b"POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000000000\r\n\r\n{}";
    assert_eq!(status(&raw(&s, head)), Some(413));
    // Upstream tiny_http allocated the undelivered rest of the body when dropping the request.
    assert_eq!(
        s.wait_exit(Duration::from_secs(1)),
        None,
        "the server died:\n{}",
        s.logs()
    );
    assert_healthy(&s);
}

#[test]
fn garbage_request_lines_get_400_505_or_a_close_and_never_a_crash() {
    let mut s = Server::local(&[]);
    let cases: [&[u8]; 5] = [
        b"\x00\x01 garbage\r\n\r\n",
        b"GET\r\n\r\n",
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        b"GET / HTTP/9.9\r\n\r\n",
        b"\r\n\r\n\r\n",
    ];
    for bytes in cases {
        let response = raw(&s, bytes);
        let code = status(&response);
        assert!(
            matches!(code, Some(400 | 505)) || response.is_empty(),
            "{:?} -> {response:?}",
            String::from_utf8_lossy(bytes)
        );
        assert_healthy(&s);
    }
    assert_eq!(
        s.wait_exit(Duration::from_millis(10)),
        None,
        "the server is still running"
    );
}

#[test]
fn odd_header_bytes_are_refused_or_closed_and_header_counts_meet_the_byte_limit() {
    let s = Server::local(&[]);
    for value in [&b"caf\xc3\xa9"[..], b"\xff\xfe\xfd", b"\x80"] {
        let mut req = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Name: ".to_vec();
        req.extend_from_slice(value);
        req.extend_from_slice(b"\r\nConnection: close\r\n\r\n");
        let response = raw(&s, &req);
        assert!(
            matches!(status(&response), Some(200 | 400)) || response.is_empty(),
            "{value:?} -> {response:?}"
        );
        assert_healthy(&s);
    }
    let head = |n: usize| {
        let mut req = String::from("GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n");
        for i in 0..n {
            // 60 bytes each, CRLF included.
            req.push_str(&format!("X-Pad-{i:05}: {}\r\n", "a".repeat(45)));
        }
        req.push_str("\r\n");
        req
    };
    assert_eq!(head(1).len() - head(0).len(), 60);
    let fits = raw(&s, head(1000).as_bytes());
    assert_eq!(
        status(&fits),
        Some(200),
        "60 kB of headers fit in 64 KiB: {fits:.200}"
    );
    let over = raw(&s, head(2000).as_bytes());
    assert_eq!(status(&over), Some(431), "120 kB of headers: {over:.200}");
    assert!(over.contains("Connection: close"), "{over}");
    assert_healthy(&s);
}
