//! MCP over HTTP against the real binary serving the sample knowledge base: every protocol
//! revision on /mcp, the legacy SSE transport, endpoints, CORS and the access log.

use crate::support;

use serde_json::{json, Value};
use support::server::Server;
use support::sse::SseStream;

fn init(s: &Server, version: &str) -> String {
    let r = s.mcp(&[], &json!({"jsonrpc":"2.0","id":1,"method":"initialize",
        "params":{"protocolVersion":version,"capabilities":{},"clientInfo":{"name":"t","version":"1"}}}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["result"]["protocolVersion"], version);
    let sid = r.header("mcp-session-id").expect("session id").to_string();
    let n = s.mcp(
        &[("Mcp-Session-Id", &sid), ("MCP-Protocol-Version", version)],
        &json!({"jsonrpc":"2.0","method":"notifications/initialized"}),
    );
    assert_eq!((n.status, n.body.as_str()), (202, ""));
    sid
}

fn search(query: &str, id: u64) -> Value {
    json!({"jsonrpc":"2.0","id":id,"method":"tools/call",
        "params":{"name":"search_knowledge_base","arguments":{"query":query,"max_results":3}}})
}

#[test]
fn health_reports_identity_without_secrets_and_carries_safety_headers() {
    let s = Server::local(&[]);
    let r = s.request("GET", "/health", &[], "");
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["status"], "healthy");
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(v["auth_enabled"], false);
    assert_eq!(v["region"], "local");
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert!(r.header("x-request-id").is_some_and(|id| !id.is_empty()));
}

#[test]
fn legacy_streamable_revisions_list_and_call_both_tools() {
    let s = Server::local(&[]);
    for version in ["2025-03-26", "2025-06-18", "2025-11-25"] {
        let sid = init(&s, version);
        let h = [
            ("Mcp-Session-Id", sid.as_str()),
            ("MCP-Protocol-Version", version),
        ];
        let list = s
            .mcp(&h, &json!({"jsonrpc":"2.0","id":2,"method":"tools/list"}))
            .json();
        let names: Vec<&str> = list["result"]["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "search_knowledge_base",
                "get_knowledge_base_info",
                "read_document"
            ],
            "{version}"
        );
        let r = s.mcp(&h, &search("AWS Lambda functions", 3)).json();
        assert_eq!(r["result"]["isError"], false, "{version}: {r}");
        let text = r["result"]["content"][0]["text"].as_str().unwrap();
        assert!(text.to_lowercase().contains("lambda"), "{version}: {text}");
        assert_eq!(
            r["result"].get("structuredContent").is_some(),
            version != "2025-03-26",
            "{version}"
        );
        let info = s.mcp(&h, &json!({"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"get_knowledge_base_info","arguments":{}}})).json();
        assert!(
            info["result"]["content"][0]["text"]
                .as_str()
                .unwrap()
                .contains("ACTIVE"),
            "{info}"
        );
        let ping = s
            .mcp(&h, &json!({"jsonrpc":"2.0","id":5,"method":"ping"}))
            .json();
        assert_eq!(ping["result"], json!({}));
    }
}

#[test]
fn modern_revision_needs_no_initialize_and_checks_headers() {
    let s = Server::local(&[]);
    let meta = json!({"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}});
    let discover = s
        .mcp(
            &[
                ("MCP-Protocol-Version", "2026-07-28"),
                ("Mcp-Method", "server/discover"),
            ],
            &json!({"jsonrpc":"2.0","id":1,"method":"server/discover","params":{"_meta":meta}}),
        )
        .json();
    assert_eq!(discover["result"]["supportedVersions"][0], "2026-07-28");
    let call = json!({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"search_knowledge_base","arguments":{"query":"IAM permissions"},"_meta":meta}});
    let ok = s.mcp(
        &[
            ("MCP-Protocol-Version", "2026-07-28"),
            ("Mcp-Method", "tools/call"),
            ("Mcp-Name", "search_knowledge_base"),
        ],
        &call,
    );
    assert_eq!(ok.status, 200);
    assert_eq!(ok.json()["result"]["resultType"], "complete");
    assert!(
        ok.header("mcp-session-id").is_none(),
        "modern requests mint no session"
    );
    let bad = s.mcp(
        &[
            ("MCP-Protocol-Version", "2026-07-28"),
            ("Mcp-Method", "tools/call"),
            ("Mcp-Name", "get_knowledge_base_info"),
        ],
        &call,
    );
    assert_eq!(
        (bad.status, bad.json()["error"]["code"].as_i64()),
        (400, Some(-32020))
    );
}

#[test]
fn batches_answer_as_arrays_on_2025_03_26_only() {
    let s = Server::local(&[]);
    let sid = init(&s, "2025-03-26");
    let batch = json!([{"jsonrpc":"2.0","id":1,"method":"tools/list"}, search("deploy on EC2", 2)]);
    let r = s.mcp(&[("Mcp-Session-Id", &sid)], &batch);
    assert_eq!(r.json().as_array().map(Vec::len), Some(2));
    let sid = init(&s, "2025-06-18");
    let r = s.mcp(
        &[
            ("Mcp-Session-Id", &sid),
            ("MCP-Protocol-Version", "2025-06-18"),
        ],
        &batch,
    );
    assert_eq!(r.status, 400);
}

#[test]
fn every_mcp_path_is_served_without_redirects_and_other_methods_are_refused() {
    let s = Server::local(&[]);
    for path in ["/mcp", "/mcp/", "/"] {
        let r = s.request("POST", path, &[("Accept", "*/*"), ("Content-Type", "application/json")],
            &json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25"}}).to_string());
        assert_eq!(r.status, 200, "{path}");
    }
    assert_eq!(
        s.request(
            "GET",
            "/mcp",
            &[
                ("Accept", "text/event-stream"),
                ("MCP-Protocol-Version", "2025-11-25")
            ],
            ""
        )
        .status,
        405
    );
    assert_eq!(s.request("DELETE", "/mcp", &[], "").status, 405);
    assert_eq!(s.request("HEAD", "/mcp", &[], "").status, 200);
    assert_eq!(
        s.request(
            "POST",
            "/sse",
            &[("Content-Type", "application/json")],
            "{}"
        )
        .status,
        405
    );
    assert_eq!(s.request("GET", "/nope", &[], "").status, 404);
}

#[test]
fn sse_only_clients_get_an_event_stream_answer() {
    let s = Server::local(&[]);
    let r = s.request(
        "POST",
        "/mcp",
        &[
            ("Accept", "text/event-stream"),
            ("Content-Type", "application/json"),
        ],
        &json!({"jsonrpc":"2.0","id":7,"method":"tools/list"}).to_string(),
    );
    assert_eq!(r.header("content-type"), Some("text/event-stream"));
    let data = r
        .body
        .lines()
        .find_map(|l| l.strip_prefix("data: "))
        .unwrap();
    assert_eq!(serde_json::from_str::<Value>(data).unwrap()["id"], 7);
}

#[test]
fn legacy_sse_transport_delivers_responses_on_the_stream_with_keepalives() {
    let s = Server::local(&[("SSE_KEEPALIVE_SECS", "1")]);
    for path in ["/sse", "/"] {
        let mut stream = SseStream::open(&s.url, path, &[]).unwrap();
        assert_eq!(stream.status(), 200, "{path}: {}", stream.head);
        let endpoint = stream.wait_for("endpoint").unwrap().data;
        assert!(endpoint.starts_with("/messages?session_id="), "{endpoint}");
        let post = |body: Value| {
            s.request(
                "POST",
                &endpoint,
                &[("Content-Type", "application/json")],
                &body.to_string(),
            )
        };
        let r = post(
            json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2024-11-05"}}),
        );
        assert_eq!(r.status, 202);
        let init = stream.wait_for("message").unwrap();
        assert_eq!(
            serde_json::from_str::<Value>(&init.data).unwrap()["result"]["protocolVersion"],
            "2024-11-05"
        );
        assert_eq!(
            post(json!({"jsonrpc":"2.0","method":"notifications/initialized"})).status,
            202
        );
        post(search("troubleshooting", 2));
        let answer: Value =
            serde_json::from_str(&stream.wait_for("message").unwrap().data).unwrap();
        assert_eq!(answer["id"], 2);
        assert_eq!(answer["result"]["isError"], false);
        assert!(
            answer["result"].get("structuredContent").is_none(),
            "2024-11-05 has no structured output"
        );
        let keepalive = stream.wait_for(":").unwrap();
        assert_eq!(keepalive.data, "keep-alive");
    }
    let r = s.request(
        "POST",
        "/messages?session_id=ffff",
        &[("Content-Type", "application/json")],
        "{}",
    );
    assert_eq!(r.status, 404);
    assert_eq!(s.request("POST", "/messages", &[], "{}").status, 400);
}

#[test]
fn origins_are_checked_and_cors_echoes_only_allowed_ones() {
    let s = Server::local(&[]);
    let body = json!({"jsonrpc":"2.0","id":1,"method":"tools/list"}).to_string();
    let evil = s.request(
        "POST",
        "/mcp",
        &[
            ("Origin", "https://evil.example"),
            ("Content-Type", "application/json"),
        ],
        &body,
    );
    assert_eq!(evil.status, 403);
    assert!(evil.header("access-control-allow-origin").is_none());
    let ok = s.request(
        "POST",
        "/mcp",
        &[
            ("Origin", "https://claude.ai"),
            ("Content-Type", "application/json"),
        ],
        &body,
    );
    assert_eq!(ok.status, 200);
    assert_eq!(
        ok.header("access-control-allow-origin"),
        Some("https://claude.ai")
    );
    assert!(ok
        .header("access-control-expose-headers")
        .unwrap()
        .contains("Mcp-Session-Id"));
    let pre = s.request(
        "OPTIONS",
        "/mcp",
        &[
            ("Origin", "https://claude.com"),
            ("Access-Control-Request-Method", "POST"),
        ],
        "",
    );
    assert_eq!(pre.status, 204);
    assert!(pre
        .header("access-control-allow-headers")
        .unwrap()
        .contains("MCP-Protocol-Version"));
    assert_eq!(
        s.request("OPTIONS", "/mcp", &[("Origin", "https://evil.example")], "")
            .status,
        403
    );
}

#[test]
fn each_request_logs_one_json_line_with_its_tool_and_results() {
    let s = Server::local(&[]);
    let r = s.mcp(&[("X-Request-Id", "req-abc-123")], &search("Entra ID", 9));
    assert_eq!(r.header("x-request-id"), Some("req-abc-123"));
    assert!(s.wait_for_log("req-abc-123"));
    let line = s
        .logs()
        .lines()
        .find(|l| l.contains("req-abc-123"))
        .unwrap()
        .to_string();
    let v: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["msg"], "request");
    assert_eq!(v["status"], 200);
    assert_eq!(v["tool"], "search_knowledge_base");
    assert!(v["results"].as_u64().is_some());
    assert!(v["duration_ms"].as_u64().is_some());
    assert!(v["ts"].as_str().unwrap().ends_with('Z'));
}

#[test]
fn oversized_bodies_get_413() {
    let s = Server::local(&[("MAX_BODY_BYTES", "2048")]);
    let big = json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"search_knowledge_base","arguments":{"query":"x".repeat(4096)}}});
    let r = s.mcp(&[], &big);
    assert_eq!(r.status, 413);
    assert!(r.body.contains("MAX_BODY_BYTES"));
}
