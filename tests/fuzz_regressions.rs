//! Regressions from fuzzing (fuzz/, scripts/fuzz.sh) and from reading the code while writing
//! the fuzz targets: each input that made the library panic, hang, or do unbounded work,
//! replayed through the public API with the clean answer it must get instead.
//!
//! Library-level only (no sockets, no binary). Inputs that could hang run on a helper
//! thread with a generous deadline, so a regression fails the test instead of stalling it.

use std::sync::{mpsc, Arc};
use std::time::Duration;

use bedrock_mcp::auth::{oauth, AuthSettings};
use bedrock_mcp::config::Vars;
use bedrock_mcp::http::request::HttpRequest;
use bedrock_mcp::http::streamable;
use bedrock_mcp::kb::testing::FakeKb;
use bedrock_mcp::mcp::Mcp;
use serde_json::{json, Value};

/// A hang guard, not a speed check: the fixed code needs milliseconds on any machine, the
/// quadratic bug minutes (about 20 s of optimized code for the input below, ten times that
/// unoptimized).
const DEADLINE: Duration = Duration::from_secs(30);

/// Runs `f` on a helper thread; `None` if it did not finish within [`DEADLINE`].
fn within_deadline<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(DEADLINE).ok()
}

fn auth_settings() -> AuthSettings {
    AuthSettings::from_vars(&Vars::from_pairs([
        ("ENABLE_AUTH", "true"),
        ("ENTRA_TENANT_ID", "4c7f2a2e-9a63-4b5e-8d4f-0c1e2a3b4c5d"),
        ("ENTRA_CLIENT_ID", "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9"),
        ("ENTRA_AUTHORITY_HOST", "http://127.0.0.1:9"),
    ]))
    .unwrap()
    .unwrap()
}

/// A query of `n` distinct short keys (`k0&k1&…`), as an unauthenticated client may send.
fn distinct_keys(n: usize) -> String {
    (0..n)
        .map(|i| format!("k{i:x}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// Found by reading `streamable::batch` while writing the jsonrpc_dispatch target: a
/// 2025-03-26 batch (the default revision, so no header is needed) runs every item, so one
/// 1 MiB POST fans out into ~9,000 knowledge-base calls (Bedrock requests, each billed and
/// each holding the worker) and buffers all their results. Such a batch must be refused, or
/// cut off, well before that.
#[test]
fn one_post_cannot_fan_out_into_thousands_of_searches() {
    let item = |i: usize| {
        json!({"jsonrpc":"2.0","id":i,"method":"tools/call",
               "params":{"name":"search_knowledge_base","arguments":{"query":"a"}}})
    };
    let batch = Value::Array((0..2_000).map(item).collect());
    let kb = Arc::new(FakeKb::default());
    let mcp = Mcp::new(kb.clone());
    let req = HttpRequest {
        method: "POST".into(),
        path: "/mcp".into(),
        headers: vec![("content-type".into(), "application/json".into())],
        body: batch.to_string().into_bytes(),
        ..HttpRequest::default()
    };
    let reply = streamable::post(&req, &mcp).reply;
    let calls = kb.call_count();
    assert!(
        calls <= 100,
        "a single POST made {calls} knowledge-base calls (reply status {})",
        reply.status
    );
    if reply.status == 400 {
        let body: Value = serde_json::from_slice(&reply.body).unwrap();
        assert_eq!(body["error"]["code"], -32600, "{body}");
    }
}

/// Found by reading `oauth::parse_form` while writing the oauth_authorize target: the
/// duplicate check compares every key with every earlier one, so an `/authorize` query (or
/// a `/token` body) of many distinct keys costs quadratic CPU before any check refuses it:
/// about 1 s of optimized code for the default 64 KiB head, about 47 s for 1 MiB
/// (MAX_HEADER_BYTES' maximum), unauthenticated. A ~300 KiB query must be refused in
/// linear time.
#[test]
fn many_distinct_form_keys_are_parsed_in_linear_time() {
    let query = distinct_keys(50_000);
    assert!(query.len() < 512 * 1024);
    let settings = auth_settings();
    let outcome = within_deadline(move || oauth::authorize(&settings, &query));
    let refused = outcome.expect("oauth::authorize did not finish: quadratic form parsing");
    let e = refused.expect_err("no redirect_uri: must be refused");
    assert_eq!((e.status, e.error), (400, "invalid_request"));
}
