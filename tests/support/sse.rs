//! A minimal SSE client over a raw TCP socket, for the legacy `/sse` transport.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

/// One server-sent event (or a comment line, with `event` = ":").
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The event type (`message` when absent; `:` for a comment).
    pub event: String,
    /// The data lines joined with `\n`.
    pub data: String,
}

/// An open stream.
pub struct SseStream {
    reader: BufReader<TcpStream>,
    /// Status line and headers of the response.
    pub head: String,
}

impl SseStream {
    /// Opens `GET path` on `url` (http://host:port) with extra headers.
    pub fn open(url: &str, path: &str, headers: &[(&str, &str)]) -> std::io::Result<SseStream> {
        let addr = url.trim_start_matches("http://");
        let mut stream = TcpStream::connect(addr)?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        let mut req =
            format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n");
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        stream.write_all(req.as_bytes())?;
        let mut reader = BufReader::new(stream);
        let mut head = String::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line)? == 0 || line == "\r\n" {
                break;
            }
            head.push_str(&line);
        }
        Ok(SseStream { reader, head })
    }

    /// The status code of the response.
    pub fn status(&self) -> u16 {
        self.head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    }

    /// Reads the next event or comment; `None` at end of stream or timeout.
    pub fn next_event(&mut self) -> Option<Event> {
        let mut event = String::from("message");
        let mut data: Vec<String> = Vec::new();
        loop {
            let mut line = String::new();
            match self.reader.read_line(&mut line) {
                Ok(0) | Err(_) => return None,
                Ok(_) => {}
            }
            let line = line.trim_end_matches(['\r', '\n']);
            if line.is_empty() {
                if data.is_empty() && event == "message" {
                    continue;
                }
                return Some(Event {
                    event,
                    data: data.join("\n"),
                });
            }
            if let Some(comment) = line.strip_prefix(':') {
                return Some(Event {
                    event: ":".into(),
                    data: comment.trim().to_string(),
                });
            }
            if let Some(v) = line.strip_prefix("event:") {
                event = v.trim().to_string();
            } else if let Some(v) = line.strip_prefix("data:") {
                data.push(v.strip_prefix(' ').unwrap_or(v).to_string());
            }
        }
    }

    /// Reads until an event of type `kind` arrives (skipping comments and others).
    pub fn wait_for(&mut self, kind: &str) -> Option<Event> {
        for _ in 0..100 {
            let e = self.next_event()?;
            if e.event == kind {
                return Some(e);
            }
        }
        None
    }
}
