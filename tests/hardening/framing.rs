//! Framing (RFC 9112 §5, §6.3): a request whose length or field bytes a proxy in front could
//! read differently from us gets 400 and a close, so what follows it (here a request hidden
//! in its body) is never served.

use super::raw::*;
use crate::support::server::Server;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// A request hidden in the body: served as a request only if the framing was misread.
const SMUGGLED: &str = "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n";

/// Sends `bytes`, then returns the response and whether the server closed the connection.
fn exchange(s: &Server, bytes: &[u8]) -> (String, bool) {
    let mut stream = TcpStream::connect(addr(s)).unwrap();
    let _ = stream.write_all(bytes);
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let (mut out, mut buf) = (Vec::new(), [0u8; 4096]);
    let closed = loop {
        match stream.read(&mut buf) {
            Ok(0) => break true,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            // A reset after the answer is a close too.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break true,
            Err(_) => break false,
        }
    };
    (String::from_utf8_lossy(&out).into_owned(), closed)
}

/// Every malformed framing of the issue, each with the smuggled request after its head.
fn bad_requests() -> Vec<(&'static str, String)> {
    let n = SMUGGLED.len();
    let post = |headers: &str| format!("POST /mcp HTTP/1.1\r\nHost: x\r\n{headers}\r\n{SMUGGLED}");
    let get = |head: &str| format!("{head}\r\n{SMUGGLED}");
    vec![
        (
            "Content-Length 0 then n",
            post(&format!("Content-Length: 0\r\nContent-Length: {n}\r\n")),
        ),
        (
            "Content-Length n, n",
            post(&format!("Content-Length: {n}, {n}\r\n")),
        ),
        ("Content-Length 5x", post("Content-Length: 5x\r\n")),
        ("Content-Length -1", post("Content-Length: -1\r\n")),
        (
            "Content-Length +n",
            post(&format!("Content-Length: +{n}\r\n")),
        ),
        (
            "Content-Length 2^70",
            post("Content-Length: 1180591620717411303424\r\n"),
        ),
        (
            "Content-Length and Transfer-Encoding",
            post(&format!(
                "Content-Length: {n}\r\nTransfer-Encoding: chunked\r\n"
            )),
        ),
        (
            "Transfer-Encoding gzip, chunked",
            post("Transfer-Encoding: gzip, chunked\r\n"),
        ),
        (
            "Transfer-Encoding twice",
            post("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"),
        ),
        (
            "Transfer-Encoding identity",
            post("Transfer-Encoding: identity\r\n"),
        ),
        (
            "Transfer-Encoding in HTTP/1.0",
            get("POST /mcp HTTP/1.0\r\nTransfer-Encoding: chunked\r\n"),
        ),
        (
            "NUL in a value",
            get("GET /health HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n"),
        ),
        (
            "bare CR in a value",
            get("GET /health HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n"),
        ),
        (
            "bare LF in a value",
            get("GET /health HTTP/1.1\r\nHost: x\r\nX-A: a\nb\r\n"),
        ),
        ("bare LF line ends", get("GET /health HTTP/1.1\nHost: x\n")),
        (
            "folded header line",
            get("GET /health HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n"),
        ),
        ("HTTP/1.1 without Host", get("GET /health HTTP/1.1\r\n")),
        (
            "two Hosts",
            get("GET /health HTTP/1.1\r\nHost: x\r\nHost: y\r\n"),
        ),
    ]
}

#[test]
fn each_bad_framing_gets_400_and_a_close_and_its_body_is_never_served() {
    let s = Server::local(&[]);
    // Control: with sound framing, what follows a request is read as the next one (so this
    // test would see a smuggled request if the framing were misread).
    let (control, _) = exchange(
        &s,
        b"POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n\
          GET /pipelined HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(control.matches("HTTP/1.1 ").count(), 2, "{control}");
    assert!(control.contains("/pipelined"), "{control}");
    for (case, bytes) in bad_requests() {
        let (response, closed) = exchange(&s, bytes.as_bytes());
        assert_eq!(status(&response), Some(400), "{case}: {response:?}");
        assert!(
            head_of(&response).contains("connection: close"),
            "{case}: {response:?}"
        );
        assert_eq!(
            response
                .lines()
                .filter(|l| l.starts_with("HTTP/1."))
                .count(),
            1,
            "{case}: one answer only: {response:?}"
        );
        assert!(closed, "{case}: the connection stayed open");
        eprintln!("{case}: {}", response.lines().last().unwrap_or(""));
    }
    assert!(
        !s.logs().contains("/smuggled"),
        "a body was served as a request:\n{}",
        s.logs()
    );
    assert_healthy(&s);
}

#[test]
fn sound_framings_are_still_served() {
    let s = Server::local(&[]);
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;
    let mcp = "POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
               Accept: application/json, text/event-stream\r\nConnection: close\r\n";
    for (case, bytes) in [
        (
            "Content-Length with leading zeros",
            format!("{mcp}Content-Length: 0{}\r\n\r\n{body}", body.len()),
        ),
        (
            "Transfer-Encoding Chunked, any case",
            format!(
                "{mcp}Transfer-Encoding: Chunked\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
                body.len()
            ),
        ),
        (
            "HTTP/1.0 without Host",
            "GET /health HTTP/1.0\r\n\r\n".to_string(),
        ),
        (
            "a tab inside a value",
            "GET /health HTTP/1.1\r\nHost: x\r\nX-A: a\tb\r\nConnection: close\r\n\r\n".to_string(),
        ),
    ] {
        let (response, _) = exchange(&s, bytes.as_bytes());
        assert_eq!(status(&response), Some(200), "{case}: {response:?}");
    }
}
