//! Helpers for the auth tests (auth_http.rs, auth_oauth_http.rs, auth_connect.rs, hardening):
//! Entra, a search call with or without a token, and checks on the access log.

use super::fake_entra::{enc, FakeEntra};
use super::server::{Resp, Server};
use serde_json::{json, Value};
use std::time::Duration;

/// claude.ai's OAuth redirect URI.
pub const CALLBACK: &str = "https://claude.ai/api/mcp/auth_callback";
/// RFC 7636 appendix B's verifier and challenge.
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
/// The challenge for `VERIFIER`.
pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
/// The Content-Type header of a form body.
pub const FORM: (&str, &str) = ("Content-Type", "application/x-www-form-urlencoded");

/// A query string or form body from pairs, percent-encoded independently of the server.
pub fn form(pairs: &[(&str, &str)]) -> String {
    let encoded: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", enc(v)))
        .collect();
    encoded.join("&")
}

/// The binary with ENABLE_AUTH=true against `fake`, plus `extra` variables.
pub fn start(fake: &FakeEntra, extra: &[(&str, &str)]) -> Server {
    let vars = fake.vars(extra);
    let pairs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    Server::local(&pairs)
}

/// An Authorization header value.
pub fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// A search tools/call with JSON-RPC id `id`.
pub fn search(id: u64) -> Value {
    json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":{"name":"search_knowledge_base",
        "arguments":{"query":"AWS Lambda functions","max_results":3}}})
}

/// A search on /mcp sent with this Authorization value (if any) and request id.
pub fn call(s: &Server, auth: Option<&str>, rid: &str) -> Resp {
    let mut h = vec![("X-Request-Id", rid)];
    h.extend(auth.map(|a| ("Authorization", a)));
    s.mcp(&h, &search(1))
}

/// The search ran and found the Lambda passage.
pub fn assert_search_ok(r: &Resp) {
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(v["result"]["isError"], false, "{v}");
    let text = v["result"]["content"][0]["text"].as_str().unwrap_or("");
    assert!(text.to_lowercase().contains("lambda"), "{text}");
}

/// The access-log line of request `rid` (waits up to 10 s for it).
pub fn access_line(s: &Server, rid: &str) -> Value {
    let found = super::wait::within(Duration::from_secs(10), || {
        s.logs()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|v| v["msg"] == "request" && v["request_id"] == rid)
    });
    found.unwrap_or_else(|| panic!("no access log for {rid}:\n{}", s.logs()))
}

/// Asserts no secret, nor a JWT's payload or signature part, appears in the server's logs.
pub fn assert_not_logged(s: &Server, secrets: &[&str]) {
    let logs = s.logs();
    for secret in secrets.iter().filter(|x| !x.is_empty()) {
        let parts = secret.split('.').filter(|p| p.len() >= 16);
        for needle in std::iter::once(*secret).chain(parts) {
            let shown = &needle[..needle.len().min(12)];
            assert!(!logs.contains(needle), "secret {shown}… is in the logs");
        }
    }
}
