//! Prometheus metrics (METRICS_ADDR): served on a listener of their own and never on the
//! public port, accepted by the reference exposition parser, and counting exactly what a
//! known sequence of requests did, cross-checked against the fake Bedrock's own counts.
//! The tests that read through the reference parser need python3 with venv and PyPI, so the
//! README's `cargo test --locked` reports them as ignored; CI runs them (`--include-ignored`).

use crate::support;

use serde_json::{json, Value};
use support::fake_bedrock::{FakeBedrock, Fault};
use support::fake_entra::FakeEntra;
use support::fake_imds::FakeImds;
use support::prometheus::{self, Family};
use support::server::{request, Resp, Server};

fn start(bedrock: &FakeBedrock, extra: &[(&str, &str)]) -> (Server, String) {
    let env = bedrock.env();
    let mut all: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    all.extend_from_slice(extra);
    start_with(&all)
}

/// The binary with metrics on a free port; returns it and the metrics base URL.
fn start_with(env: &[(&str, &str)]) -> (Server, String) {
    let mut all = env.to_vec();
    all.push(("METRICS_ADDR", "127.0.0.1:0"));
    let s = Server::start(&all);
    let base = s.metrics_url();
    (s, base)
}

fn call(s: &Server, version: &str, tool: &str, args: Value) -> Value {
    let r = s.mcp(
        &[("MCP-Protocol-Version", version)],
        &json!({"jsonrpc":"2.0","id":1,"method":"tools/call",
        "params":{"name":tool,"arguments":args}}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

fn scrape(metrics: &str) -> (Resp, Vec<Family>) {
    let r = request(&format!("{metrics}/metrics"), "GET", &[], "");
    assert_eq!(r.status, 200, "{}", r.body);
    let families = prometheus::parse(&r.body);
    (r, families)
}

fn family<'a>(families: &'a [Family], name: &str) -> &'a Family {
    families
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("no family {name}"))
}

/// A counter's value, 0 when the series is absent (statuses appear once seen).
fn count(families: &[Family], name: &str, labels: &[(&str, &str)]) -> f64 {
    family(families, name)
        .value(&format!("{name}_total"), labels)
        .unwrap_or(0.0)
}

#[test]
#[ignore = "needs python3 with venv and PyPI (the prometheus_client parser); .ci/run sets it up and runs this with --include-ignored"]
fn counters_match_a_known_sequence_of_requests() {
    let bedrock = FakeBedrock::start();
    let (s, metrics) = start(&bedrock, &[]);
    // Before any request: the families exist, every counter at zero.
    let (first, before) = scrape(&metrics);
    assert_eq!(
        first.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    assert_eq!(
        count(
            &before,
            "bedrock_mcp_tool_calls",
            &[("tool", "search_knowledge_base"), ("outcome", "ok")]
        ),
        0.0
    );

    for _ in 0..2 {
        assert_eq!(s.request("GET", "/health", &[], "").status, 200);
    }
    assert_eq!(s.request("GET", "/no-such-page", &[], "").status, 404);
    let v = "2025-11-25";
    for _ in 0..3 {
        let r = call(
            &s,
            v,
            "search_knowledge_base",
            json!({"query": "leave policy"}),
        );
        assert_eq!(r["result"]["isError"], false, "{r}");
    }
    // Throttled once, then answered: one retry, one throttle, still a success.
    bedrock.push_fault(Fault::Throttle);
    let r = call(
        &s,
        v,
        "search_knowledge_base",
        json!({"query": "leave policy"}),
    );
    assert_eq!(r["result"]["isError"], false, "{r}");
    // Access denied: not retried, a tool error.
    bedrock.push_fault(Fault::AccessDenied);
    let r = call(
        &s,
        v,
        "search_knowledge_base",
        json!({"query": "leave policy"}),
    );
    assert_eq!(r["result"]["isError"], true, "{r}");
    // Bad arguments under 2025-06-18 are a JSON-RPC error; an unknown tool is one in any revision.
    let r = call(
        &s,
        "2025-06-18",
        "search_knowledge_base",
        json!({"query": ""}),
    );
    assert!(r["error"].is_object(), "{r}");
    let r = call(&s, v, "drop_tables", json!({}));
    assert!(r["error"].is_object(), "{r}");
    let r = call(&s, v, "get_knowledge_base_info", json!({}));
    assert_eq!(r["result"]["isError"], false, "{r}");

    let (_, after) = scrape(&metrics);
    let req = |route: &str, status: &str| {
        count(
            &after,
            "bedrock_mcp_http_requests",
            &[("route", route), ("status", status)],
        )
    };
    assert_eq!(req("/health", "200"), 2.0);
    assert_eq!(req("other", "404"), 1.0);
    assert_eq!(req("/mcp", "200"), 8.0);
    let durations = family(&after, "bedrock_mcp_http_request_duration_seconds");
    assert_eq!(durations.kind, "histogram");
    assert_eq!(
        durations.value(
            "bedrock_mcp_http_request_duration_seconds_count",
            &[("route", "/mcp")]
        ),
        Some(8.0)
    );
    assert_eq!(
        durations.value(
            "bedrock_mcp_http_request_duration_seconds_bucket",
            &[("route", "/mcp"), ("le", "+Inf")]
        ),
        Some(8.0)
    );

    let tool = |name: &str, outcome: &str| {
        count(
            &after,
            "bedrock_mcp_tool_calls",
            &[("tool", name), ("outcome", outcome)],
        )
    };
    assert_eq!(tool("search_knowledge_base", "ok"), 4.0);
    assert_eq!(tool("search_knowledge_base", "tool_error"), 1.0);
    assert_eq!(tool("search_knowledge_base", "invalid_arguments"), 1.0);
    assert_eq!(
        tool("other", "invalid_arguments"),
        1.0,
        "unknown names are folded"
    );
    assert_eq!(tool("get_knowledge_base_info", "ok"), 1.0);

    let bedrock_calls = |op: &str, outcome: &str| {
        count(
            &after,
            "bedrock_mcp_bedrock_calls",
            &[("operation", op), ("outcome", outcome)],
        )
    };
    assert_eq!(bedrock_calls("Retrieve", "ok"), 4.0);
    assert_eq!(bedrock_calls("Retrieve", "access_denied"), 1.0);
    assert_eq!(
        count(
            &after,
            "bedrock_mcp_bedrock_retries",
            &[("operation", "Retrieve")]
        ),
        1.0
    );
    assert_eq!(
        count(
            &after,
            "bedrock_mcp_bedrock_throttles",
            &[("operation", "Retrieve")]
        ),
        1.0
    );
    // Every Retrieve the fake saw is one attempt: 4 answered, 1 throttled, 1 denied.
    assert_eq!(bedrock.retrieve_calls(), 6);
    assert_eq!(
        bedrock_calls("GetKnowledgeBase", "ok"),
        bedrock.info_calls() as f64,
        "one counted call per GetKnowledgeBase the fake answered"
    );
    let latency = family(&after, "bedrock_mcp_bedrock_call_duration_seconds");
    assert_eq!(
        latency.value(
            "bedrock_mcp_bedrock_call_duration_seconds_count",
            &[("operation", "Retrieve")]
        ),
        Some(5.0)
    );
    // Keys from the environment are never fetched.
    assert_eq!(
        count(
            &after,
            "bedrock_mcp_credential_refreshes",
            &[("result", "ok")]
        ),
        0.0
    );
    assert_eq!(
        count(
            &after,
            "bedrock_mcp_credential_refreshes",
            &[("result", "error")]
        ),
        0.0
    );
    assert_eq!(
        count(&after, "bedrock_mcp_jwks_fetches", &[("result", "ok")]),
        0.0
    );

    // Scrapes are not requests to the public server.
    assert_eq!(req("other", "200"), 0.0);
    let gauge = |name: &str, labels: &[(&str, &str)]| {
        let f = family(&after, name);
        assert_eq!(f.kind, "gauge", "{name}");
        f.value(name, labels)
            .unwrap_or_else(|| panic!("{name} {labels:?}"))
    };
    assert_eq!(gauge("bedrock_mcp_sse_sessions", &[]), 0.0);
    assert!(gauge("bedrock_mcp_workers", &[("state", "idle")]) >= 1.0);
    assert_eq!(gauge("bedrock_mcp_workers", &[("state", "busy")]), 0.0);
    assert_eq!(gauge("bedrock_mcp_queued_requests", &[]), 0.0);
    assert_eq!(
        gauge(
            "bedrock_mcp_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        1.0
    );
    assert!(gauge("process_resident_memory_bytes", &[]) > 1e6);
    assert!(gauge("bedrock_mcp_process_threads", &[]) >= 3.0);
}

#[test]
#[ignore = "needs python3 with venv and PyPI (the prometheus_client parser); .ci/run sets it up and runs this with --include-ignored"]
fn credential_refreshes_and_jwks_fetches_match_the_fakes() {
    let bedrock = FakeBedrock::start();
    bedrock.keys().remove(support::fake_bedrock::ACCESS_KEY);
    let imds = FakeImds::start();
    imds.register_with(bedrock.keys());
    let (s, metrics) = start_with(&[
        ("AWS_ENDPOINT_URL", &bedrock.url()),
        ("AWS_REGION", bedrock.region()),
        ("BEDROCK_KB_ID", bedrock.kb_id()),
        ("AWS_EC2_METADATA_DISABLED", "false"),
        ("AWS_EC2_METADATA_SERVICE_ENDPOINT", &imds.url()),
    ]);
    for _ in 0..2 {
        let r = call(
            &s,
            "2025-11-25",
            "search_knowledge_base",
            json!({"query": "q"}),
        );
        assert_eq!(r["result"]["isError"], false, "{r}");
    }
    let (_, families) = scrape(&metrics);
    let fetched = imds.calls().credential_gets;
    assert_eq!(fetched, 1, "cached after the first fetch");
    assert_eq!(
        count(
            &families,
            "bedrock_mcp_credential_refreshes",
            &[("result", "ok")]
        ),
        fetched as f64
    );

    let entra = FakeEntra::start();
    let vars = entra.vars(&[("KB_LOCAL_DIR", &support::server::sample_kb())]);
    let pairs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (a, metrics) = start_with(&pairs);
    let token = support::auth::bearer(&entra.token());
    support::auth::assert_search_ok(&support::auth::call(&a, Some(&token), "m1"));
    support::auth::assert_search_ok(&support::auth::call(&a, Some(&token), "m2"));
    assert_eq!(support::auth::call(&a, None, "m3").status, 401);
    let (_, families) = scrape(&metrics);
    assert_eq!(entra.jwks_fetches(), 1);
    assert_eq!(
        count(&families, "bedrock_mcp_jwks_fetches", &[("result", "ok")]),
        1.0
    );
    assert_eq!(
        count(
            &families,
            "bedrock_mcp_jwks_fetches",
            &[("result", "error")]
        ),
        0.0
    );
    let req = |status: &str| {
        count(
            &families,
            "bedrock_mcp_http_requests",
            &[("route", "/mcp"), ("status", status)],
        )
    };
    assert_eq!((req("200"), req("401")), (2.0, 1.0));
}

#[test]
#[ignore = "needs python3 with venv and PyPI (the prometheus_client parser); .ci/run sets it up and runs this with --include-ignored"]
fn open_connections_and_sse_sessions_are_live_gauges() {
    let bedrock = FakeBedrock::start();
    let (s, metrics) = start(&bedrock, &[]);
    let addr = s.url.trim_start_matches("http://").to_string();
    let mut stream = support::sse::SseStream::open(&s.url, "/sse", &[]).expect("open /sse");
    assert!(
        stream.wait_for("endpoint").is_some(),
        "the session is registered"
    );
    // A kept-alive connection with nothing in flight, held open by the test.
    let mut idle = std::net::TcpStream::connect(&addr).expect("connect");
    use std::io::{Read, Write};
    idle.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("write");
    let mut buf = [0u8; 512];
    assert!(idle.read(&mut buf).expect("read") > 0);
    let (_, families) = scrape(&metrics);
    let f = family(&families, "bedrock_mcp_sse_sessions");
    assert_eq!(f.value("bedrock_mcp_sse_sessions", &[]), Some(1.0));
    let f = family(&families, "bedrock_mcp_open_connections");
    assert!(
        f.value("bedrock_mcp_open_connections", &[]) >= Some(1.0),
        "{:?}",
        f.samples
    );
    drop(stream);

    // A call in flight (the fake holds its answer until released) shows as a busy worker.
    bedrock.hold();
    std::thread::scope(|scope| {
        let call = scope.spawn(|| {
            call(
                &s,
                "2025-11-25",
                "search_knowledge_base",
                json!({"query": "q"}),
            )
        });
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let mut busy = 0.0;
        while busy < 1.0 && std::time::Instant::now() < deadline {
            let (_, families) = scrape(&metrics);
            busy = family(&families, "bedrock_mcp_workers")
                .value("bedrock_mcp_workers", &[("state", "busy")])
                .unwrap_or(0.0);
        }
        bedrock.release();
        assert_eq!(busy, 1.0, "the call in flight holds one worker");
        let r = call.join().expect("call");
        assert_eq!(r["result"]["isError"], false, "{r}");
    });
    // Once answered, the worker is free again (it may still be finishing for a moment).
    support::wait::until("the worker to be idle again", || {
        let (_, families) = scrape(&metrics);
        let busy = family(&families, "bedrock_mcp_workers")
            .value("bedrock_mcp_workers", &[("state", "busy")]);
        busy == Some(0.0)
    });
}

#[test]
fn metrics_stay_off_the_public_port_and_answer_only_get_metrics() {
    let bedrock = FakeBedrock::start();
    let (s, metrics) = start(&bedrock, &[]);
    let public = s.request("GET", "/metrics", &[], "");
    assert_eq!(public.status, 404, "never on the public port");
    assert!(!public.body.contains("bedrock_mcp_"));
    let r = request(&format!("{metrics}/mcp"), "GET", &[], "");
    assert_eq!(r.status, 404);
    assert!(
        r.body.contains("/metrics"),
        "says where to look: {}",
        r.body
    );
    let r = request(&format!("{metrics}/metrics"), "POST", &[], "x");
    assert_eq!((r.status, r.header("allow")), (405, Some("GET, HEAD")));
    // Without METRICS_ADDR nothing listens and nothing is logged about it.
    let plain = Server::start(
        &bedrock
            .env()
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect::<Vec<_>>(),
    );
    assert!(plain.wait_for_log("listening"));
    assert!(!plain.logs().contains("metrics listening"));
}

#[test]
fn a_bad_or_clashing_metrics_addr_stops_start_up_with_a_clear_line() {
    for (value, says) in [
        ("localhost:9464", "not an IP:PORT"),
        ("127.0.0.1:18000", "public SERVER_PORT"),
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_bedrock-mcp"))
            .env_clear()
            .env("KB_LOCAL_DIR", support::server::sample_kb())
            .env("SERVER_PORT", "18000")
            .env("METRICS_ADDR", value)
            .output()
            .expect("run");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains("METRICS_ADDR") && err.contains(says), "{err}");
    }
}
