//! Dispatch tests over an in-memory knowledge base.

use super::*;
use crate::kb::testing::FakeKb;
use crate::kb::KbError;

fn mcp(fail: Option<KbError>) -> (Mcp, Arc<FakeKb>) {
    let kb = Arc::new(FakeKb {
        fail,
        ..FakeKb::default()
    });
    (Mcp::new(kb.clone()), kb)
}

fn request(method: &str, params: Value) -> Message {
    jsonrpc::parse_message(json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}))
        .unwrap()
}

fn call(m: &Mcp, v: Version, method: &str, params: Value) -> (Value, Outcome) {
    let mut out = m.handle(v, request(method, params));
    (out.response.take().expect("a response").to_value(), out)
}

#[test]
fn initialize_negotiates_and_reports_identity_per_revision() {
    let (m, _) = mcp(None);
    let (r, out) = call(
        &m,
        Version::V2025_03_26,
        "initialize",
        json!({"protocolVersion": "2025-06-18"}),
    );
    assert_eq!(r["result"]["protocolVersion"], "2025-06-18");
    assert_eq!(out.negotiated, Some(Version::V2025_06_18));
    assert_eq!(r["result"]["serverInfo"]["title"], "Bedrock Knowledge Base");
    assert!(r["result"]["capabilities"]["tools"].is_object());
    let (r, _) = call(
        &m,
        Version::V2025_03_26,
        "initialize",
        json!({"protocolVersion": "2024-11-05"}),
    );
    assert!(r["result"].get("instructions").is_none());
    assert!(r["result"]["serverInfo"].get("title").is_none());
    let (r, _) = call(
        &m,
        Version::V2025_03_26,
        "initialize",
        json!({"protocolVersion": "3000-01-01"}),
    );
    assert_eq!(r["result"]["protocolVersion"], "2025-11-25");
}

#[test]
fn tool_shapes_follow_the_revision() {
    let (m, _) = mcp(None);
    let (r, _) = call(&m, Version::V2024_11_05, "tools/list", json!({}));
    let tools = r["result"]["tools"].as_array().unwrap();
    assert_eq!(tools.len(), 2);
    assert!(tools[0].get("annotations").is_none());
    let (r, _) = call(&m, Version::V2025_03_26, "tools/list", json!({}));
    assert_eq!(r["result"]["tools"][0]["annotations"]["readOnlyHint"], true);
    assert!(r["result"]["tools"][0].get("outputSchema").is_none());
    let (r, _) = call(&m, Version::V2025_06_18, "tools/list", json!({}));
    assert_eq!(r["result"]["tools"][0]["outputSchema"]["type"], "object");
    assert!(r["result"].get("ttlMs").is_none());
    let (r, _) = call(&m, Version::V2026_07_28, "tools/list", json!({}));
    assert_eq!(r["result"]["resultType"], "complete");
    assert_eq!(r["result"]["cacheScope"], "public");
    assert!(r["result"]["ttlMs"].as_u64().unwrap() > 0);
    assert_eq!(
        r["result"]["_meta"][META_SERVER_INFO]["name"],
        "bedrock-mcp"
    );
    let names: Vec<_> = r["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].clone())
        .collect();
    assert_eq!(names, vec![json!(tools::SEARCH), json!(tools::INFO)]);
}

#[test]
fn search_returns_text_and_structured_content_and_passes_arguments() {
    let (m, kb) = mcp(None);
    let (r, out) = call(
        &m,
        Version::V2025_06_18,
        "tools/call",
        json!({"name": "search_knowledge_base", "arguments": {"query": " lambda ", "max_results": 2}}),
    );
    assert_eq!(kb.calls.lock().unwrap()[0], ("lambda".to_string(), 2));
    let res = &r["result"];
    assert_eq!(res["isError"], false);
    assert!(res["content"][0]["text"]
        .as_str()
        .unwrap()
        .contains("s3://b/1.md"));
    assert_eq!(res["structuredContent"]["count"], 2);
    assert_eq!(
        res["structuredContent"]["results"][0]["location"]["type"],
        "S3"
    );
    assert_eq!(
        (out.results, out.upstream_ms, out.tool.as_deref()),
        (Some(2), Some(12), Some("search_knowledge_base"))
    );
    // Defaults to 5 (the fake caps at 3) and omits structured content before 2025-06-18.
    let (r, _) = call(
        &m,
        Version::V2025_03_26,
        "tools/call",
        json!({"name": "search_knowledge_base", "arguments": {"query": "x"}}),
    );
    assert_eq!(kb.calls.lock().unwrap()[1].1, 5);
    assert!(r["result"].get("structuredContent").is_none());
    let (_, _) = call(
        &m,
        Version::V2025_03_26,
        "tools/call",
        json!({"name": "search_knowledge_base", "arguments": {"query": "x", "max_results": 7.0}}),
    );
    assert_eq!(kb.calls.lock().unwrap()[2].1, 7);
}

#[test]
fn bad_arguments_are_tool_errors_from_2025_11_25_and_invalid_params_before() {
    let (m, kb) = mcp(None);
    let bad = [
        json!({}),
        json!({"query": ""}),
        json!({"query": 5}),
        json!({"query": "x", "max_results": 0}),
        json!({"query": "x", "max_results": 101}),
        json!({"query": "x", "max_results": 2.5}),
        json!({"query": "x", "max_results": "5"}),
        json!({"query": "x", "extra": 1}),
        json!({"query": "q".repeat(20_001)}),
    ];
    for args in bad {
        let p = json!({"name": "search_knowledge_base", "arguments": args});
        let (r, out) = call(&m, Version::V2025_11_25, "tools/call", p.clone());
        assert_eq!(r["result"]["isError"], true, "{args}");
        assert!(out.tool_error);
        let (r, _) = call(&m, Version::V2025_06_18, "tools/call", p);
        assert_eq!(r["error"]["code"], jsonrpc::INVALID_PARAMS, "{args}");
    }
    assert!(
        kb.calls.lock().unwrap().is_empty(),
        "bad arguments must not reach the knowledge base"
    );
}

#[test]
fn unknown_tools_and_methods_are_protocol_errors() {
    let (m, _) = mcp(None);
    let (r, _) = call(
        &m,
        Version::V2025_11_25,
        "tools/call",
        json!({"name": "nope"}),
    );
    assert_eq!(r["error"]["code"], jsonrpc::INVALID_PARAMS);
    assert!(r["error"]["message"]
        .as_str()
        .unwrap()
        .contains("search_knowledge_base"));
    let (r, _) = call(&m, Version::V2025_11_25, "tools/call", json!({}));
    assert_eq!(r["error"]["code"], jsonrpc::INVALID_PARAMS);
    let (r, _) = call(&m, Version::V2025_11_25, "resources/list", json!({}));
    assert_eq!(r["error"]["code"], jsonrpc::METHOD_NOT_FOUND);
    // 2026-07-28 removed initialize and ping.
    let (r, _) = call(&m, Version::V2026_07_28, "ping", json!({}));
    assert_eq!(r["error"]["code"], jsonrpc::METHOD_NOT_FOUND);
    let (r, _) = call(&m, Version::V2026_07_28, "initialize", json!({}));
    assert_eq!(r["error"]["code"], jsonrpc::METHOD_NOT_FOUND);
    let (r, _) = call(
        &m,
        Version::V2025_11_25,
        "tools/list",
        json!({"cursor": "abc"}),
    );
    assert_eq!(r["error"]["code"], jsonrpc::INVALID_PARAMS);
    let (r, _) = call(
        &m,
        Version::V2025_11_25,
        "logging/setLevel",
        json!({"level": "loud"}),
    );
    assert_eq!(r["error"]["code"], jsonrpc::INVALID_PARAMS);
    let (r, _) = call(
        &m,
        Version::V2025_11_25,
        "logging/setLevel",
        json!({"level": "info"}),
    );
    assert_eq!(r["result"], json!({}));
}

#[test]
fn knowledge_base_failures_become_actionable_tool_errors() {
    let (m, _) = mcp(Some(KbError::AccessDenied("grant bedrock:Retrieve".into())));
    let (r, out) = call(
        &m,
        Version::V2025_06_18,
        "tools/call",
        json!({"name": "search_knowledge_base", "arguments": {"query": "x"}}),
    );
    assert_eq!(r["result"]["isError"], true);
    assert!(r["result"]["content"][0]["text"]
        .as_str()
        .unwrap()
        .contains("grant bedrock:Retrieve"));
    assert!(out.tool_error);
}

#[test]
fn discover_lists_every_revision_and_notifications_get_no_response() {
    let (m, _) = mcp(None);
    let (r, _) = call(&m, Version::V2026_07_28, "server/discover", json!({}));
    assert_eq!(r["result"]["supportedVersions"][0], "2026-07-28");
    assert!(r["result"]["supportedVersions"]
        .as_array()
        .unwrap()
        .contains(&json!("2024-11-05")));
    assert_eq!(r["result"]["resultType"], "complete");
    let n =
        jsonrpc::parse_message(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .unwrap();
    assert!(m.handle(Version::V2025_06_18, n).response.is_none());
}

#[test]
fn info_tool_reports_the_knowledge_base() {
    let (m, _) = mcp(None);
    let (r, _) = call(
        &m,
        Version::V2025_06_18,
        "tools/call",
        json!({"name": "get_knowledge_base_info"}),
    );
    assert!(r["result"]["content"][0]["text"]
        .as_str()
        .unwrap()
        .contains("KB12345678"));
    assert_eq!(r["result"]["structuredContent"]["status"], "ACTIVE");
    let (r, _) = call(
        &m,
        Version::V2025_11_25,
        "tools/call",
        json!({"name": "get_knowledge_base_info", "arguments": {"x": 1}}),
    );
    assert_eq!(r["result"]["isError"], true);
}

#[test]
fn every_tool_the_server_offers_has_its_own_metrics_label() {
    for v in Version::all().into_iter().filter_map(Version::parse) {
        let all = tools::Reading {
            read: true,
            agentic: true,
            ..Default::default()
        };
        for def in tools::definitions(v, true, all, None) {
            let name = def["name"].as_str().unwrap_or_default();
            assert!(
                crate::metrics::counts_tool(name),
                "tool {name} would be counted as \"other\": add it to metrics' registry::TOOLS"
            );
        }
    }
}
