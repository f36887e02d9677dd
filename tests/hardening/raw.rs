//! Raw-socket helpers shared by the hardening tests, and /proc readings of the server.

use crate::support::server::Server;
use serde_json::json;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// `host:port` of the server.
pub fn addr(s: &Server) -> String {
    s.url.trim_start_matches("http://").to_string()
}

/// A field of /proc/<pid>/status as a number (kB for memory fields).
pub fn proc_status(pid: u32, key: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = text.lines().find(|l| l.starts_with(key)).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Reads until EOF, error or timeout; returns what arrived.
pub fn read_all(stream: &mut TcpStream, timeout: Duration) -> String {
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
pub fn status(response: &str) -> Option<u16> {
    response.strip_prefix("HTTP/1.")?.get(2..5)?.parse().ok()
}

/// Sends `bytes` on a fresh connection and returns the raw response.
pub fn raw(s: &Server, bytes: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr(s)).unwrap();
    // The server may close before taking everything; what it answered is still readable.
    let _ = stream.write_all(bytes);
    read_all(&mut stream, Duration::from_secs(10))
}

/// GET /health answers 200 within a generous bound.
pub fn assert_healthy(s: &Server) {
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
pub fn assert_tool_call_works(s: &Server) {
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

/// Reads one keep-alive response (head and Content-Length body) and returns its status.
pub fn read_one(stream: &mut TcpStream) -> Option<u16> {
    let mut text = Vec::new();
    let mut byte = [0u8; 1];
    while !text.ends_with(b"\r\n\r\n") {
        (stream.read(&mut byte).ok()? == 1).then_some(())?;
        text.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&text).to_ascii_lowercase();
    let length = head
        .split("content-length: ")
        .nth(1)?
        .split('\r')
        .next()?
        .parse()
        .ok()?;
    stream.read_exact(&mut vec![0; length]).ok()?;
    status(&head.replacen("http/", "HTTP/", 1))
}
