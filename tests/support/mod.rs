//! Shared test support: start the real binary on port 0, and fake upstreams on 127.0.0.1.
// Each test file uses only some of these helpers; the rest would warn as dead code.
#![allow(dead_code)]

pub mod auth;
pub mod fake_bedrock;
pub mod fake_entra;
pub mod fake_imds;
pub mod fake_server;
pub mod fake_sts;
pub mod prometheus;
pub mod server;
pub mod sse;
pub mod tool_call;
pub mod wait;
