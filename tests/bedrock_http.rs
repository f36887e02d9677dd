//! The real binary against the fake Bedrock (which checks every SigV4 signature) and the
//! fake IMDS: tool calls over both transports, credential rotation under load, and every
//! Bedrock failure turned into a tool error that says what to do — never a 500 or a hang.

use crate::support;

use serde_json::{json, Value};
use std::time::{Duration, Instant};
use support::fake_bedrock::{FakeBedrock, Fault};
use support::fake_imds::FakeImds;
use support::server::Server;
use support::sse::SseStream;

fn start(bedrock: &FakeBedrock, extra: &[(&str, &str)]) -> Server {
    let env = bedrock.env();
    let mut all: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    all.extend_from_slice(extra);
    Server::start(&all)
}

fn call(s: &Server, tool: &str, args: Value) -> Value {
    let r = s.mcp(
        &[("MCP-Protocol-Version", "2025-11-25")],
        &json!({"jsonrpc":"2.0","id":1,"method":"tools/call",
        "params":{"name":tool,"arguments":args}}),
    );
    assert_eq!(r.status, 200, "never a 500: {}", r.body);
    r.json()["result"].clone()
}

fn text(result: &Value) -> String {
    result["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn search_goes_to_bedrock_signed_and_returns_sources() {
    let bedrock = FakeBedrock::start();
    let s = start(&bedrock, &[]);
    let r = call(
        &s,
        "search_knowledge_base",
        json!({"query": "leave policy for employees", "max_results": 2}),
    );
    assert_eq!(r["isError"], false, "{r}");
    assert!(
        text(&r).contains("s3://kb-docs/hr/leave-policy.md"),
        "{}",
        text(&r)
    );
    assert_eq!(
        r["structuredContent"]["results"][0]["location"]["type"],
        "S3"
    );
    let sent: Value = serde_json::from_str(&bedrock.last_body().unwrap()).unwrap();
    assert_eq!(sent["retrievalQuery"]["text"], "leave policy for employees");
    assert_eq!(
        sent["retrievalConfiguration"]["vectorSearchConfiguration"]["numberOfResults"],
        2
    );
    assert_eq!(bedrock.bad_signatures(), 0);
    let info = call(&s, "get_knowledge_base_info", json!({}));
    assert!(
        text(&info).contains("Fake KB") && text(&info).contains("ACTIVE"),
        "{info}"
    );
    // Health never calls Bedrock.
    let before = bedrock.requests();
    assert_eq!(
        s.request("GET", "/health", &[], "").json()["kb_id"],
        bedrock.kb_id()
    );
    assert_eq!(bedrock.requests(), before);
    assert!(s.wait_for_log("\"bedrock_ms\""));
}

#[test]
fn the_legacy_sse_transport_reaches_bedrock_too() {
    let bedrock = FakeBedrock::start();
    let s = start(&bedrock, &[]);
    let mut stream = SseStream::open(&s.url, "/sse", &[]).unwrap();
    let endpoint = stream.wait_for("endpoint").unwrap().data;
    let post = |b: Value| {
        s.request(
            "POST",
            &endpoint,
            &[("Content-Type", "application/json")],
            &b.to_string(),
        )
    };
    post(
        json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2024-11-05"}}),
    );
    stream.wait_for("message").unwrap();
    post(
        json!({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"search_knowledge_base","arguments":{"query":"VPN"}}}),
    );
    let answer: Value = serde_json::from_str(&stream.wait_for("message").unwrap().data).unwrap();
    assert!(
        answer["result"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("intranet.example.com/it/vpn"),
        "{answer}"
    );
}

#[test]
fn rotating_imds_credentials_under_load_never_fail_a_call() {
    let bedrock = FakeBedrock::start();
    bedrock.keys().remove(support::fake_bedrock::ACCESS_KEY);
    let imds = FakeImds::start();
    imds.register_with(bedrock.keys());
    // A new key every second, each valid 3 s: refreshed at half its remaining life, a
    // signed request has at least a second to reach the fake.
    imds.rotate_every(Duration::from_secs(1), Duration::from_secs(3));
    let s = Server::start(&[
        ("AWS_ENDPOINT_URL", &bedrock.url()),
        ("AWS_REGION", bedrock.region()),
        ("BEDROCK_KB_ID", bedrock.kb_id()),
        ("AWS_EC2_METADATA_DISABLED", "false"),
        ("AWS_EC2_METADATA_SERVICE_ENDPOINT", &imds.url()),
    ]);
    // Callers run until the fake has seen a rotated key (an event, not a duration); the
    // guard only turns a hang into a failure.
    let guard = Instant::now() + Duration::from_secs(30);
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                let mut calls = 0;
                while calls < 3 || bedrock.keys_seen().len() < 2 {
                    assert!(Instant::now() < guard, "no rotation seen within 30 s");
                    calls += 1;
                    let r = call(
                        &s,
                        "search_knowledge_base",
                        json!({"query": "travel expenses"}),
                    );
                    assert_eq!(r["isError"], false, "a call failed during rotation: {r}");
                }
            });
        }
    });
    assert!(
        imds.issued().len() >= 2,
        "credentials rotated during the run"
    );
    assert!(
        bedrock.keys_seen().len() >= 2,
        "requests were signed with more than one key"
    );
    assert_eq!(bedrock.bad_signatures(), 0);
}

#[test]
fn bedrock_failures_become_actionable_tool_errors() {
    let bedrock = FakeBedrock::start();
    // The type is fixed so that each search is exactly one Retrieve and the scripted faults
    // land on it (learning the type is tested in kb_types.rs).
    let s = start(
        &bedrock,
        &[
            ("BEDROCK_TIMEOUT_SECS", "1"),
            ("BEDROCK_MAX_ATTEMPTS", "2"),
            ("BEDROCK_KB_TYPE", "vector"),
        ],
    );
    let search = || call(&s, "search_knowledge_base", json!({"query": "employees"}));
    for (fault, needle) in [
        (Fault::AccessDenied, "bedrock:Retrieve"),
        (Fault::NotFound, "BEDROCK_KB_ID"),
        (Fault::Validation, "Invalid request"),
        (Fault::Garbage, "unreadable"),
    ] {
        bedrock.push_fault(fault);
        let r = search();
        assert_eq!(r["isError"], true, "{needle}: {r}");
        assert!(text(&r).contains(needle), "{needle}: {}", text(&r));
    }
    // Throttled once, then fine: retried transparently.
    bedrock.push_fault(Fault::Throttle);
    assert_eq!(search()["isError"], false);
    // Throttled on every attempt: a clear error after the configured attempts.
    bedrock.set_always(Some(Fault::Throttle));
    let r = search();
    assert!(
        text(&r).contains("throttling") && r["isError"] == true,
        "{r}"
    );
    // Hanging past the timeout: the server's own timeout error (the fake would answer only
    // after 30 s), not a hung worker.
    bedrock.set_always(Some(Fault::Delay(Duration::from_secs(30))));
    let r = search();
    assert!(
        text(&r).contains("Timed out") && text(&r).contains("BEDROCK_TIMEOUT_SECS"),
        "{r}"
    );
    bedrock.set_always(None);
    assert_eq!(search()["isError"], false, "the server recovers");
    assert_eq!(s.request("GET", "/health", &[], "").status, 200);
}

#[test]
fn unreachable_bedrock_and_missing_permissions_are_explained() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let s = Server::start(&[
        ("AWS_ENDPOINT_URL", &url),
        ("AWS_ACCESS_KEY_ID", "AKID"),
        ("AWS_SECRET_ACCESS_KEY", "secret"),
        ("BEDROCK_KB_ID", "KBFAKE0001"),
        ("BEDROCK_MAX_ATTEMPTS", "1"),
    ]);
    let r = call(&s, "search_knowledge_base", json!({"query": "x"}));
    assert!(
        r["isError"] == true && text(&r).contains("cannot reach"),
        "{r}"
    );
    let info = call(&s, "get_knowledge_base_info", json!({}));
    assert_eq!(info["isError"], false, "info always answers: {info}");
    assert!(
        text(&info).contains("UNKNOWN") && text(&info).contains("Note:"),
        "{info}"
    );
    // No credential source at all (IMDS disabled): refuse to start, saying what to set.
    let bedrock = FakeBedrock::start();
    let err = Server::try_start(
        &[
            ("AWS_ENDPOINT_URL", &bedrock.url()),
            ("BEDROCK_KB_ID", bedrock.kb_id()),
        ],
        &[],
    )
    .err()
    .expect("must not start without credentials");
    assert!(
        err.contains("no AWS credentials found") && err.contains("AWS_ACCESS_KEY_ID"),
        "{err}"
    );
}

#[test]
fn check_command_reports_credentials_and_the_knowledge_base() {
    let bedrock = FakeBedrock::start();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_bedrock-mcp"));
    cmd.env_clear()
        .arg("check")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .current_dir(std::env::temp_dir());
    for (k, v) in bedrock.env() {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("credentials:  OK (environment)") && stdout.contains("status ACTIVE"),
        "{stdout}"
    );
    assert!(
        !stdout.contains(support::fake_bedrock::SECRET_KEY),
        "no secret in the report"
    );
    bedrock.set_always(Some(Fault::AccessDenied));
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("bedrock:GetKnowledgeBase"));
}
