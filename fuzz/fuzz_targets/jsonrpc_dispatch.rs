//! Fuzz target: arbitrary bytes as a POST /mcp body, through the whole Streamable HTTP
//! handling (`http::streamable::post`: headers, body parsing, batches, revision rules, tools).
//!
//! The first two input bytes pick the headers (MCP-Protocol-Version, Accept, Content-Type,
//! Mcp-Session-Id, and Mcp-Method/Mcp-Name copied from the body so the 2026-07-28 header
//! checks can pass); the rest is the body. Checks: no panic, only the documented statuses,
//! and every JSON or SSE body is well-formed JSON-RPC. Must not touch network or disk.
#![no_main]

use std::sync::{Arc, OnceLock};

use bedrock_mcp::http::request::HttpRequest;
use bedrock_mcp::http::streamable;
use bedrock_mcp::kb::testing::FakeKb;
use bedrock_mcp::kb::KbError;
use bedrock_mcp::mcp::{protocol, Mcp};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

const VERSIONS: [Option<&str>; 8] = [
    None,
    Some("2024-11-05"),
    Some("2025-03-26"),
    Some("2025-06-18"),
    Some("2025-11-25"),
    Some("2026-07-28"),
    Some(" 2026-07-28 "),
    Some("1999-01-01"),
];
const ACCEPTS: [Option<&str>; 4] = [
    None,
    Some("application/json, text/event-stream"),
    Some("text/event-stream"),
    Some("image/png"),
];
const CONTENT_TYPES: [Option<&str>; 4] = [
    None,
    Some("application/json"),
    Some("Application/JSON; charset=utf-8"),
    Some("text/plain"),
];
const SESSIONS: [Option<&str>; 4] = [
    None,
    Some("20250618-0123456789abcdef0123456789abcdef"),
    Some("20241105-0123456789abcdef0123456789abcdef"),
    Some("not-a-session-we-minted"),
];

fn mcp() -> &'static Mcp {
    static MCP: OnceLock<Mcp> = OnceLock::new();
    // Queries starting with "!" fail, so the error paths are fuzzed too.
    MCP.get_or_init(|| {
        Mcp::new(Arc::new(FakeKb::failing_on(
            "!",
            KbError::Unavailable("canned failure".into()),
        )))
    })
}

/// Standard padded base64, for the `=?base64?…?=` form of Mcp-Name.
fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Mcp-Method and Mcp-Name as an honest client would send them for this body.
fn routing_headers(body: &[u8], encode_name: bool) -> Vec<(String, String)> {
    let Ok(Value::Object(msg)) = serde_json::from_slice::<Value>(body) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if let Some(method) = msg.get("method").and_then(Value::as_str) {
        out.push(("mcp-method".to_string(), method.to_string()));
    }
    let params = msg.get("params");
    let name = params
        .and_then(|p| p.get("name").or_else(|| p.get("uri")))
        .and_then(Value::as_str);
    if let Some(name) = name {
        let value = if encode_name {
            format!("=?base64?{}?=", base64(name.as_bytes()))
        } else {
            name.to_string()
        };
        out.push(("mcp-name".to_string(), value));
    }
    out
}

fn request(data: &[u8]) -> Option<HttpRequest> {
    let (&[a, b], body) = data.split_first_chunk::<2>()?;
    let mut headers = Vec::new();
    let mut add = |name: &str, value: Option<&str>| {
        if let Some(v) = value {
            headers.push((name.to_string(), v.to_string()));
        }
    };
    add("mcp-protocol-version", VERSIONS[usize::from(a & 7)]);
    add("accept", ACCEPTS[usize::from(a >> 3 & 3)]);
    add("content-type", CONTENT_TYPES[usize::from(b & 3)]);
    add("mcp-session-id", SESSIONS[usize::from(b >> 2 & 3)]);
    if a & 0x20 != 0 {
        headers.extend(routing_headers(body, a & 0x40 != 0));
    }
    Some(HttpRequest {
        method: "POST".into(),
        path: "/mcp".into(),
        headers,
        body: body.to_vec(),
        request_id: "fuzz".into(),
        ..HttpRequest::default()
    })
}

/// A JSON-RPC response object: version 2.0 and exactly one of result and error.
fn check_response(v: &Value) {
    assert_eq!(v.get("jsonrpc"), Some(&Value::from("2.0")), "{v}");
    assert!(
        v.get("result").is_some() != v.get("error").is_some(),
        "not exactly one of result/error: {v}"
    );
}

fn check_json(body: &[u8]) {
    let v: Value = serde_json::from_slice(body).expect("a JSON reply body must parse as JSON");
    match &v {
        Value::Array(items) => items.iter().for_each(check_response),
        one => check_response(one),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some(req) = request(data) else { return };
    let reply = streamable::post(&req, mcp()).reply;
    assert!(
        matches!(reply.status, 200 | 202 | 400 | 404 | 406 | 415),
        "unexpected status {}",
        reply.status
    );
    if reply.status == 202 {
        assert!(reply.body.is_empty(), "202 with a body");
    }
    match reply.header("content-type") {
        Some("application/json") => check_json(&reply.body),
        Some("text/event-stream") => {
            let text = std::str::from_utf8(&reply.body).expect("SSE body must be UTF-8");
            for line in text.lines().filter(|l| !l.is_empty()) {
                if let Some(data) = line.strip_prefix("data: ") {
                    check_json(data.as_bytes());
                } else {
                    assert_eq!(line, "event: message", "unexpected SSE line");
                }
            }
        }
        None => assert!(reply.body.is_empty(), "body without a content type"),
        Some(other) => panic!("unexpected content type {other}"),
    }
    if let Some(id) = reply.header("mcp-session-id") {
        assert!(
            protocol::session_version(id).is_some(),
            "minted session id {id:?} does not read back"
        );
    }
});
