//! The soak load: MCP callers, legacy SSE users and one abuser, each a loop until `stop`,
//! counting every outcome by kind. Expected rejections (413, 431, 400, 505) are counted
//! apart from errors. Must not measure the server: that is main.rs's job.

use super::Args;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::thread;
use std::time::Duration;

/// What a load thread runs.
pub type Role = fn(&Args, &Counters, &AtomicBool);

/// Outcome counters by kind, shared by every thread.
#[derive(Default)]
pub struct Counters(Mutex<BTreeMap<String, u64>>);

impl Counters {
    pub fn add(&self, kind: &str) {
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *m.entry(kind.to_string()).or_default() += 1;
    }

    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .max_redirects(0)
        .build()
        .into()
}

/// POSTs `body`; returns the status and body, or the transport error's kind.
fn post(
    agent: &ureq::Agent,
    url: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Result<(u16, String), String> {
    let mut b = ureq::http::Request::builder()
        .method("POST")
        .uri(url)
        .header("Content-Type", "application/json")
        .header("Accept", "application/json, text/event-stream");
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let req = b.body(body.to_string()).map_err(|e| e.to_string())?;
    let mut resp = agent.run(req).map_err(|e| match e {
        ureq::Error::Timeout(_) => "timeout".to_string(),
        _ => "transport".to_string(),
    })?;
    let mut text = String::new();
    let _ = resp.body_mut().as_reader().read_to_string(&mut text);
    Ok((resp.status().as_u16(), text))
}

fn search(id: u64) -> Value {
    const QUERIES: [&str; 4] = [
        "Lambda functions",
        "IAM permissions",
        "deploy on EC2",
        "troubleshooting",
    ];
    let query = QUERIES[id as usize % QUERIES.len()];
    json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":{"name":"search_knowledge_base",
        "arguments":{"query":query,"max_results":3}}})
}

/// Sorts a tool call's outcome into a counter kind.
fn tool_outcome(r: Result<(u16, String), String>) -> String {
    match r {
        Ok((200, body)) if body.contains("\"isError\":false") => "ok".into(),
        Ok((200, _)) => "error:tool_error".into(),
        Ok((status, _)) => format!("error:status_{status}"),
        Err(kind) => format!("error:{kind}"),
    }
}

pub fn caller(a: &Args, c: &Counters, stop: &AtomicBool) {
    let agent = agent();
    let url = format!("{}/mcp", a.url);
    let mut n: u64 = 0;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        if n % 20 == 1 {
            let init = json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18",
                "capabilities":{},"clientInfo":{"name":"soak","version":"1"}}});
            c.add(&match post(&agent, &url, &[], &init.to_string()) {
                Ok((200, _)) => "ok".to_string(),
                other => tool_outcome(other),
            });
        }
        c.add(&tool_outcome(post(
            &agent,
            &url,
            &[],
            &search(n).to_string(),
        )));
        thread::sleep(a.pause);
    }
}

/// One legacy SSE session: open, read the endpoint, call a tool, read its answer, close.
fn sse_session(a: &Args, agent: &ureq::Agent, n: u64) -> Result<(), String> {
    let addr = a.url.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).map_err(|_| "transport")?;
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|_| "transport")?;
    write!(
        s,
        "GET /sse HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n"
    )
    .map_err(|_| "transport")?;
    let mut lines = BufReader::new(s).lines();
    let mut next_data = || -> Result<String, String> {
        for line in lines.by_ref() {
            if let Some(d) = line.map_err(|_| "sse_read")?.strip_prefix("data: ") {
                return Ok(d.to_string());
            }
        }
        Err("sse_closed".into())
    };
    let endpoint = next_data()?;
    let url = format!("{}{endpoint}", a.url);
    let init = json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2024-11-05"}});
    for body in [init, search(n)] {
        match post(agent, &url, &[], &body.to_string()) {
            Ok((202, _)) => {}
            Ok((status, _)) => return Err(format!("status_{status}")),
            Err(kind) => return Err(kind),
        }
        let answer = next_data()?;
        if answer.contains("\"error\"") || answer.contains("\"isError\":true") {
            return Err("sse_error_answer".into());
        }
    }
    Ok(())
}

pub fn sse_user(a: &Args, c: &Counters, stop: &AtomicBool) {
    let agent = agent();
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        match sse_session(a, &agent, n) {
            Ok(()) => c.add("ok"),
            Err(kind) => c.add(&format!("error:sse_{kind}")),
        }
        thread::sleep(a.pause * 10);
    }
}

/// Sends raw bytes and returns the status code the server answered with (0: none).
fn raw(a: &Args, bytes: &[u8]) -> u16 {
    let Ok(mut s) = TcpStream::connect(a.url.trim_start_matches("http://")) else {
        return 0;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(15)));
    let _ = s.write_all(bytes);
    let mut head = [0u8; 12];
    match s.read_exact(&mut head) {
        Ok(()) => std::str::from_utf8(&head[9..12])
            .ok()
            .and_then(|t| t.parse().ok())
            .unwrap_or(0),
        Err(_) => 0,
    }
}

pub fn abuser(a: &Args, c: &Counters, stop: &AtomicBool) {
    let agent = agent();
    let url = format!("{}/mcp", a.url);
    let list = json!({"jsonrpc":"2.0","id":1,"method":"tools/list"}).to_string();
    let big = "x".repeat(a.max_body + 1);
    // Raw abuses and the statuses each may get (0: closed before the answer was read). Each
    // is well framed but for its one abuse (HTTP/1.1 needs Host), so it meets the check it names.
    let raws: [(&str, Vec<u8>, &[u16]); 5] = [
        (
            "oversized_body",
            format!(
                "POST /mcp HTTP/1.1\r\nHost: soak\r\nContent-Length: {}\r\n\r\n{big}",
                big.len()
            )
            .into(),
            &[413, 0],
        ),
        (
            "huge_head",
            format!("GET /health HTTP/1.1\r\nHost: soak\r\nX-Pad: {big}\r\n\r\n").into(),
            &[431, 0],
        ),
        (
            "huge_content_length",
            b"POST /mcp HTTP/1.1\r\nHost: soak\r\nContent-Length: 99999999999999\r\n\r\n{}"
                .to_vec(),
            &[413, 0],
        ),
        ("garbage_line", b"\x00\x01 garbage\r\n\r\n".to_vec(), &[400]),
        (
            "http2_preface",
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec(),
            &[505],
        ),
    ];
    let mut n: usize = 0;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let (kind, status, expected): (&str, u16, &[u16]) = match n % 8 {
            0 => {
                let bearer = [("Authorization", "Bearer not.a.jwt")];
                (
                    "bad_bearer",
                    post(&agent, &url, &bearer, &list).map_or(0, |r| r.0),
                    &[200, 401],
                )
            }
            1 => {
                let r = post(&agent, &url, &[], "{\"jsonrpc\": 2.0, oops");
                ("garbage_json", r.map_or(0, |r| r.0), &[200, 400])
            }
            2 => {
                let _ = TcpStream::connect(a.url.trim_start_matches("http://"))
                    .map(|mut s| s.write_all(b"GET /he"));
                ("abandoned_head", 0, &[0])
            }
            i => {
                let (kind, bytes, expected) = &raws[i - 3];
                (kind, raw(a, bytes), expected)
            }
        };
        if expected.contains(&status) {
            c.add(&format!("rejected_as_expected:{kind}"));
        } else {
            c.add(&format!("error:{kind}_got_{status}"));
        }
        thread::sleep(a.pause * 5);
    }
}
