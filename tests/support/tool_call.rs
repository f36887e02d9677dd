//! One tool call over any transport and revision the server speaks: Streamable HTTP (`/mcp`)
//! at a given revision (2026-07-28 with its `_meta` and `Mcp-*` headers), or the legacy
//! 2024-11-05 HTTP+SSE transport (`/sse` + `/messages`), optionally with a bearer token.

use super::server::Server;
use super::sse::SseStream;
use serde_json::{json, Value};

/// How to reach the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// POST /mcp speaking this revision.
    Mcp(&'static str),
    /// GET /sse + POST /messages (2024-11-05).
    Sse,
}

/// The transports every capability is checked over.
pub const ALL: [Transport; 3] = [
    Transport::Mcp("2025-06-18"),
    Transport::Mcp("2026-07-28"),
    Transport::Sse,
];

/// Calls `tool` with `args`; returns the JSON-RPC response (never a transport failure).
pub fn call(s: &Server, t: Transport, token: Option<&str>, tool: &str, args: Value) -> Value {
    let bearer = token.map(|t| format!("Bearer {t}"));
    let mut headers: Vec<(&str, &str)> = bearer
        .iter()
        .map(|b| ("Authorization", b.as_str()))
        .collect();
    match t {
        Transport::Mcp(version) => {
            let mut params = json!({"name": tool, "arguments": args});
            headers.push(("MCP-Protocol-Version", version));
            if version >= "2026-07-28" {
                params["_meta"] = json!({
                    "io.modelcontextprotocol/protocolVersion": version,
                    "io.modelcontextprotocol/clientCapabilities": {}
                });
                headers.push(("Mcp-Method", "tools/call"));
                headers.push(("Mcp-Name", tool));
            }
            let body = json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": params});
            let r = s.mcp(&headers, &body);
            assert_eq!(r.status, 200, "{}", r.body);
            r.json()
        }
        Transport::Sse => {
            let mut stream = SseStream::open(&s.url, "/sse", &headers).expect("open /sse");
            assert_eq!(stream.status(), 200, "{}", stream.head);
            let endpoint = stream.wait_for("endpoint").expect("endpoint event").data;
            let mut post_headers = headers.clone();
            post_headers.push(("Content-Type", "application/json"));
            let post = |body: Value| {
                let r = s.request("POST", &endpoint, &post_headers, &body.to_string());
                assert_eq!(r.status, 202, "{}", r.body);
            };
            post(json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                "params": {"protocolVersion": "2024-11-05", "capabilities": {},
                    "clientInfo": {"name": "test", "version": "1"}}}));
            stream.wait_for("message").expect("initialize answer");
            post(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
            post(json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
                "params": {"name": tool, "arguments": args}}));
            let answer = stream.wait_for("message").expect("tools/call answer");
            serde_json::from_str(&answer.data).expect("JSON-RPC answer")
        }
    }
}

/// The result's text blocks joined.
pub fn text(response: &Value) -> String {
    response["result"]["content"]
        .as_array()
        .map(|blocks| {
            blocks
                .iter()
                .filter_map(|b| b["text"].as_str())
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}
