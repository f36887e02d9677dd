//! Transport rules of /mcp, exercised without sockets.

use super::*;
use crate::kb::testing::FakeKb;
use serde_json::json;
use std::sync::Arc;

fn mcp() -> Mcp {
    Mcp::new(Arc::new(FakeKb::default()))
}

fn post_json(headers: &[(&str, &str)], body: Value) -> Handled {
    let req = HttpRequest {
        method: "POST".into(),
        path: "/mcp".into(),
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
            .collect(),
        body: body.to_string().into_bytes(),
        ..HttpRequest::default()
    };
    post(&req, &mcp())
}

fn body(h: &Handled) -> Value {
    serde_json::from_slice(&h.reply.body).unwrap()
}

const BOTH: (&str, &str) = ("Accept", "application/json, text/event-stream");

#[test]
fn initialize_mints_a_session_that_carries_the_revision() {
    let h = post_json(
        &[BOTH],
        json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18"}}),
    );
    assert_eq!(h.reply.status, 200);
    let sid = h.reply.header("Mcp-Session-Id").unwrap().to_string();
    assert_eq!(protocol::session_version(&sid), Some(Version::V2025_06_18));
    // A follow-up with that session but no header is served as 2025-06-18 (structured output).
    let h = post_json(
        &[BOTH, ("Mcp-Session-Id", &sid)],
        json!({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"search_knowledge_base","arguments":{"query":"x"}}}),
    );
    assert_eq!(h.version, Some(Version::V2025_06_18));
    assert!(body(&h)["result"]["structuredContent"].is_object());
    // claude.ai has sent a newer header than it negotiated: the session wins.
    let h = post_json(
        &[
            BOTH,
            ("Mcp-Session-Id", &sid),
            ("MCP-Protocol-Version", "2026-07-28"),
        ],
        json!({"jsonrpc":"2.0","id":3,"method":"tools/list"}),
    );
    assert_eq!(h.version, Some(Version::V2025_06_18));
    // A revision this server does not speak is refused even inside a session, batch or not.
    let list = json!({"jsonrpc":"2.0","id":4,"method":"tools/list"});
    for message in [list.clone(), json!([list])] {
        let h = post_json(
            &[
                BOTH,
                ("Mcp-Session-Id", &sid),
                ("MCP-Protocol-Version", "2099-01-01"),
            ],
            message.clone(),
        );
        assert_eq!(h.reply.status, 400, "{message}");
        let v = body(&h);
        assert_eq!(
            v["error"]["code"].as_i64(),
            Some(jsonrpc::UNSUPPORTED_PROTOCOL_VERSION),
            "{v}"
        );
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap_or("")
                .contains("2025-06-18"),
            "{v}"
        );
    }
}

#[test]
fn unknown_sessions_get_404_and_notifications_202() {
    let h = post_json(
        &[BOTH, ("Mcp-Session-Id", "nope")],
        json!({"jsonrpc":"2.0","id":1,"method":"tools/list"}),
    );
    assert_eq!(h.reply.status, 404);
    let h = post_json(
        &[BOTH],
        json!({"jsonrpc":"2.0","method":"notifications/initialized"}),
    );
    assert_eq!((h.reply.status, h.reply.body.len()), (202, 0));
    let h = post_json(&[BOTH], json!({"jsonrpc":"2.0","id":1,"result":{}}));
    assert_eq!(h.reply.status, 202);
}

#[test]
fn accept_decides_json_or_sse_and_tolerates_star() {
    let list = json!({"jsonrpc":"2.0","id":1,"method":"tools/list"});
    let h = post_json(&[("Accept", "*/*")], list.clone());
    assert_eq!(h.reply.header("Content-Type"), Some("application/json"));
    let h = post_json(&[], list.clone());
    assert_eq!(h.reply.status, 200);
    let h = post_json(&[("Accept", "text/event-stream")], list.clone());
    assert_eq!(h.reply.header("Content-Type"), Some("text/event-stream"));
    let text = String::from_utf8(h.reply.body.clone()).unwrap();
    let data = text
        .strip_prefix("event: message\ndata: ")
        .unwrap()
        .trim_end();
    assert_eq!(serde_json::from_str::<Value>(data).unwrap()["id"], 1);
    let h = post_json(&[("Accept", "text/html")], list);
    assert_eq!(h.reply.status, 406);
}

#[test]
fn garbage_bodies_and_wrong_content_types_are_refused_clearly() {
    let req = HttpRequest {
        method: "POST".into(),
        body: b"{not json".to_vec(),
        ..HttpRequest::default()
    };
    let h = post(&req, &mcp());
    assert_eq!(h.reply.status, 400);
    assert_eq!(body(&h)["error"]["code"], jsonrpc::PARSE_ERROR);
    assert_eq!(body(&h)["id"], Value::Null);
    let h = post_json(&[("Content-Type", "text/plain")], json!({}));
    assert_eq!(h.reply.status, 415);
    let h = post_json(&[], json!({"jsonrpc":"2.0","id":null,"method":"x"}));
    assert_eq!(
        (h.reply.status, body(&h)["error"]["code"].as_i64()),
        (400, Some(jsonrpc::INVALID_REQUEST))
    );
    let h = post_json(&[], json!(42));
    assert_eq!(h.reply.status, 400);
}

#[test]
fn batches_only_on_2025_03_26() {
    let batch = json!([
        {"jsonrpc":"2.0","id":1,"method":"tools/list"},
        {"jsonrpc":"2.0","method":"notifications/initialized"},
        {"jsonrpc":"2.0","id":2,"method":"ping"},
        {"jsonrpc":"2.0","id":3,"method":"initialize","params":{}}
    ]);
    let h = post_json(&[("MCP-Protocol-Version", "2025-03-26")], batch.clone());
    let v = body(&h);
    let arr = v.as_array().unwrap();
    assert_eq!(
        arr.len(),
        3,
        "two answers plus the refused initialize; none for the notification"
    );
    assert_eq!(arr[2]["error"]["code"], jsonrpc::INVALID_REQUEST);
    let h = post_json(&[], batch.clone());
    assert_eq!(h.reply.status, 200, "no header means 2025-03-26");
    let h = post_json(&[("MCP-Protocol-Version", "2025-06-18")], batch);
    assert_eq!(h.reply.status, 400);
    let h = post_json(&[], json!([]));
    assert_eq!(h.reply.status, 400);
}

fn modern(method: &str, params: Value) -> Value {
    let mut p = params;
    p["_meta"] = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}});
    json!({"jsonrpc":"2.0","id":9,"method":method,"params":p})
}

#[test]
fn modern_requests_are_stateless_and_headers_must_match_the_body() {
    let ok = [
        BOTH,
        ("MCP-Protocol-Version", "2026-07-28"),
        ("Mcp-Method", "tools/call"),
        ("Mcp-Name", "search_knowledge_base"),
    ];
    let call = modern(
        "tools/call",
        json!({"name":"search_knowledge_base","arguments":{"query":"x"}}),
    );
    let h = post_json(&ok, call.clone());
    assert_eq!(h.reply.status, 200);
    assert_eq!(body(&h)["result"]["resultType"], "complete");
    assert!(h.reply.header("Mcp-Session-Id").is_none());
    // The base64 sentinel form of Mcp-Name is decoded before comparing.
    let mut b64 = ok;
    b64[3] = ("Mcp-Name", "=?base64?c2VhcmNoX2tub3dsZWRnZV9iYXNl?=");
    assert_eq!(post_json(&b64, call.clone()).reply.status, 200);
    for (i, bad) in [
        ("MCP-Protocol-Version", "2025-11-25"),
        ("Mcp-Method", "tools/list"),
        ("Mcp-Name", "other"),
    ]
    .into_iter()
    .enumerate()
    {
        let mut headers = ok.to_vec();
        headers[i + 1] = bad;
        let h = post_json(&headers, call.clone());
        assert_eq!(h.reply.status, 400, "{bad:?}");
        assert_eq!(body(&h)["error"]["code"], jsonrpc::HEADER_MISMATCH);
        let mut missing = ok.to_vec();
        missing.remove(i + 1);
        assert_eq!(
            body(&post_json(&missing, call.clone()))["error"]["code"],
            jsonrpc::HEADER_MISMATCH
        );
    }
}

#[test]
fn modern_version_errors_and_unknown_methods_use_their_statuses() {
    let mut req = modern("tools/list", json!({}));
    req["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"] = json!("2099-01-01");
    let h = post_json(
        &[
            ("MCP-Protocol-Version", "2099-01-01"),
            ("Mcp-Method", "tools/list"),
        ],
        req,
    );
    assert_eq!(h.reply.status, 400);
    let v = body(&h);
    assert_eq!(v["error"]["code"], jsonrpc::UNSUPPORTED_PROTOCOL_VERSION);
    assert_eq!(v["error"]["data"]["requested"], "2099-01-01");
    assert!(v["error"]["data"]["supported"]
        .as_array()
        .unwrap()
        .contains(&json!("2026-07-28")));
    let h = post_json(
        &[
            ("MCP-Protocol-Version", "2026-07-28"),
            ("Mcp-Method", "resources/list"),
        ],
        modern("resources/list", json!({})),
    );
    assert_eq!(
        (h.reply.status, body(&h)["error"]["code"].as_i64()),
        (404, Some(jsonrpc::METHOD_NOT_FOUND))
    );
    let h = post_json(
        &[
            ("MCP-Protocol-Version", "2026-07-28"),
            ("Mcp-Method", "server/discover"),
        ],
        modern("server/discover", json!({})),
    );
    assert_eq!(body(&h)["result"]["supportedVersions"][0], "2026-07-28");
    // A modern header without modern _meta is Invalid params (a modern error: dual-era clients do not fall back).
    let h = post_json(
        &[("MCP-Protocol-Version", "2026-07-28")],
        json!({"jsonrpc":"2.0","id":1,"method":"tools/list"}),
    );
    assert_eq!(
        (h.reply.status, body(&h)["error"]["code"].as_i64()),
        (400, Some(jsonrpc::INVALID_PARAMS))
    );
    // An unknown legacy header value is refused with the list of what we speak.
    let h = post_json(
        &[("MCP-Protocol-Version", "1999-01-01")],
        json!({"jsonrpc":"2.0","id":1,"method":"tools/list"}),
    );
    assert_eq!(h.reply.status, 400);
    // Legacy unknown methods stay on 200 with a JSON-RPC error.
    let h = post_json(
        &[("MCP-Protocol-Version", "2025-11-25")],
        json!({"jsonrpc":"2.0","id":1,"method":"prompts/list"}),
    );
    assert_eq!(
        (h.reply.status, body(&h)["error"]["code"].as_i64()),
        (200, Some(jsonrpc::METHOD_NOT_FOUND))
    );
}

#[test]
fn modern_requests_need_client_capabilities_and_mismatches_win_over_unknown_versions() {
    let mut req = modern("tools/list", json!({}));
    req["params"]["_meta"]
        .as_object_mut()
        .unwrap()
        .remove("io.modelcontextprotocol/clientCapabilities");
    let h = post_json(
        &[
            ("MCP-Protocol-Version", "2026-07-28"),
            ("Mcp-Method", "tools/list"),
        ],
        req,
    );
    assert_eq!(
        (h.reply.status, body(&h)["error"]["code"].as_i64()),
        (400, Some(jsonrpc::INVALID_PARAMS))
    );
    let mut req = modern("tools/list", json!({}));
    req["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"] = json!("v999.0.0");
    let h = post_json(
        &[
            ("MCP-Protocol-Version", "2026-07-28"),
            ("Mcp-Method", "tools/list"),
        ],
        req,
    );
    assert_eq!(
        (h.reply.status, body(&h)["error"]["code"].as_i64()),
        (400, Some(jsonrpc::HEADER_MISMATCH))
    );
}
