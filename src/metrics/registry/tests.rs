//! Unit tests of the registry: label folding, counts and the exposition of each family.

use super::*;

#[test]
fn unknown_paths_tools_and_operations_fold_into_other() {
    assert_eq!(ROUTES[route_of("/mcp/")], "/mcp");
    assert_eq!(ROUTES[route_of("/")], "/mcp");
    assert_eq!(
        ROUTES[route_of("/.well-known/oauth-protected-resource/mcp")],
        "/.well-known"
    );
    assert_eq!(ROUTES[route_of("/etc/passwd")], "other");
    let r = Registry::new();
    r.tool_call("rm -rf", 0);
    r.tool_call("search_knowledge_base", 1);
    r.bedrock_call("DeleteKnowledgeBase", 0, Duration::from_millis(1));
    r.request("/x", 404, Duration::ZERO);
    r.request("/x", 404, Duration::ZERO);
    r.request("/mcp", 999, Duration::ZERO); // not a status: timed, not counted
    let text = r.render("9.9.9", None, None);
    assert!(text.contains("bedrock_mcp_tool_calls_total{tool=\"other\",outcome=\"ok\"} 1\n"));
    assert!(text.contains(
        "bedrock_mcp_tool_calls_total{tool=\"search_knowledge_base\",outcome=\"tool_error\"} 1\n"
    ));
    assert!(
        text.contains("bedrock_mcp_bedrock_calls_total{operation=\"other\",outcome=\"ok\"} 1\n")
    );
    assert!(text.contains("bedrock_mcp_http_requests_total{route=\"other\",status=\"404\"} 2\n"));
    assert!(!text.contains("status=\"999\""));
    assert!(text.contains("bedrock_mcp_http_request_duration_seconds_count{route=\"/mcp\"} 1\n"));
    assert!(text.contains("bedrock_mcp_build_info{version=\"9.9.9\"} 1\n"));
    assert!(
        !text.contains("bedrock_mcp_workers"),
        "no live gauges without a server"
    );
}

#[test]
fn live_gauges_and_process_numbers_are_rendered_when_known() {
    let live = Live {
        connections: 3,
        workers_busy: 2,
        workers_idle: 5,
        queued: 1,
        sse_sessions: 4,
    };
    let p = Process {
        rss_bytes: 4096,
        threads: 9,
    };
    let text = Registry::new().render("1", Some(live), Some(p));
    for line in [
        "bedrock_mcp_open_connections 3\n",
        "bedrock_mcp_workers{state=\"busy\"} 2\n",
        "bedrock_mcp_workers{state=\"idle\"} 5\n",
        "bedrock_mcp_queued_requests 1\n",
        "bedrock_mcp_sse_sessions 4\n",
        "process_resident_memory_bytes 4096\n",
        "bedrock_mcp_process_threads 9\n",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
}

#[test]
fn sts_and_user_credential_counters_have_fixed_labels() {
    let r = Registry::new();
    r.sts_request("user", "ok");
    r.sts_request("user", "AccessDenied");
    r.sts_request("server", "SomethingNew");
    r.sts_request("someone@example.com", "ok"); // a label nobody should pass folds away
    r.user_credentials("hit");
    r.user_credentials("hit");
    r.user_credentials("miss");
    let text = r.render("1", None, None);
    assert!(text.contains("bedrock_mcp_sts_requests_total{caller=\"user\",outcome=\"ok\"} 1\n"));
    assert!(text
        .contains("bedrock_mcp_sts_requests_total{caller=\"user\",outcome=\"AccessDenied\"} 1\n"));
    assert!(
        text.contains("bedrock_mcp_sts_requests_total{caller=\"server\",outcome=\"other\"} 1\n")
    );
    assert!(text.contains("bedrock_mcp_sts_requests_total{caller=\"server\",outcome=\"ok\"} 1\n"));
    assert!(text.contains("bedrock_mcp_user_credentials_total{result=\"hit\"} 2\n"));
    assert!(text.contains("bedrock_mcp_user_credentials_total{result=\"miss\"} 1\n"));
    assert!(!text.contains("example.com"));
}
