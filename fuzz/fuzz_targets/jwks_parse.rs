//! Fuzz target: arbitrary bytes as a JWKS document → `auth::jwks::parse_jwks`.
//!
//! The JWKS comes from Entra over TLS, but a proxy or a misconfigured authority could serve
//! anything. Checks: no panic, and success always means at least one key, each with a kid.
#![no_main]

use bedrock_mcp::auth::jwks::parse_jwks;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(keys) = parse_jwks(data) {
        assert!(!keys.is_empty(), "an empty key set was accepted");
        assert!(
            keys.keys().all(|kid| !kid.is_empty()),
            "a key without a kid"
        );
    }
});
