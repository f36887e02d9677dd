//! bedrock-mcp: an MCP server over a Bedrock Knowledge Base.
//!
//! Data flows `http` (server, routing, SSE, CORS) → `mcp` (JSON-RPC, tools) → `kb`
//! (Bedrock or a local BM25 index); `aws` (SigV4, credentials) and `auth` (JWT, JWKS,
//! OAuth proxy) sit beside them. `config` and `main` stay thin.
#![deny(unsafe_code)]
#![deny(unused_must_use)]
// Public items (what tests, fuzz targets and examples use) say what they are; CI denies warnings.
#![warn(missing_docs)]

mod alloc;
pub mod auth;
pub mod aws;
pub mod cli;
pub mod clock;
pub mod config;
mod dns;
#[cfg(test)]
mod golden;
pub mod http;
pub mod kb;
mod log;
pub mod mcp;
mod metrics;
mod rfc3339;
mod slots;
mod socket;
pub mod util;
