//! Fuzz target: arbitrary bytes as an AWS STS answer → `aws::sts::parse_success` and
//! `aws::sts::parse_error` (which run the hand-written XML reader, `aws::xml`).
//!
//! STS answers over TLS, but `AWS_ENDPOINT_URL_STS` may point at a proxy. Checks: no panic,
//! and a success always carries keys, a session token and the assumed-role ARN.
#![no_main]

use bedrock_mcp::aws::sts::{parse_error, parse_success};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(a) = parse_success(&text) {
        assert!(!a.credentials.access_key_id().is_empty(), "no key id");
        assert!(a.credentials.session_token().is_some(), "no session token");
        assert!(!a.assumed_role_arn.is_empty(), "no assumed-role ARN");
    }
    let e = parse_error(400, &text);
    assert!(e.code().is_some_and(|c| !c.is_empty()), "an error without a code");
});
