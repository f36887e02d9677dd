//! Bodies: over MAX_BODY_BYTES (sized or chunked) gets 413; a trickling body gets 408; a body
//! left unread never becomes the next request; a huge declared length costs nothing.

use super::raw::*;
use crate::support::server::Server;
use serde_json::json;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

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
    // Read the answer, not until the close: the server drains a little of the body the
    // client never sends until the request's deadline, which would only make this test wait.
    let mut c = TcpStream::connect(addr(&s)).unwrap();
    c.write_all(head).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    assert_eq!(read_one(&mut c), Some(413));
    // Upstream tiny_http allocated the undelivered rest of the body when dropping the request,
    // which it does right after the answer.
    assert_eq!(
        s.wait_exit(Duration::from_secs(1)),
        None,
        "the server died:\n{}",
        s.logs()
    );
    assert_healthy(&s);
}

#[test]
fn a_trickling_body_gets_408_and_frees_its_worker() {
    let s = Server::local(&[("HEADER_TIMEOUT_SECS", "1")]);
    let mut stream = TcpStream::connect(addr(&s)).unwrap();
    stream
        .write_all(b"POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n")
        .unwrap();
    // Over 1 KiB, so tiny_http hands the body to our worker unread. A byte every 250 ms: each
    // read succeeds, but the whole body never arrives in time. Drip until the answer comes;
    // the guard turns a missing deadline into a failure, not a hang.
    let guard = Instant::now() + Duration::from_secs(30);
    stream
        .set_read_timeout(Some(Duration::from_millis(250)))
        .unwrap();
    let mut answer = None;
    while Instant::now() < guard {
        if stream.write_all(b" ").is_err() {
            break;
        }
        let mut buf = [0u8; 512];
        if let Ok(n) = stream.read(&mut buf) {
            if n > 0 {
                answer = Some(String::from_utf8_lossy(&buf[..n]).into_owned());
                break;
            }
        }
    }
    let answer = answer.expect("the server answered before the body was complete");
    assert_eq!(status(&answer), Some(408), "{answer}");
    assert_healthy(&s);
}
