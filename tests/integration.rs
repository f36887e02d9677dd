//! The integration tests: one test binary (as ripgrep has), one module per capability, each
//! reading as a specification. They start the real binary on port 0 against fakes on
//! 127.0.0.1 (`support/`). To add a capability, add `tests/<name>.rs` with a `//!` line and
//! `use crate::support;`, and list it below (see CONTRIBUTING.md).

mod support;

mod acl_content;
mod agentic;
mod auth_connect;
mod auth_http;
mod auth_jwt;
mod auth_oauth_http;
mod aws_bedrock;
mod bedrock_http;
mod cli;
mod clients;
mod fake_bedrock_reading;
mod fuzz_regressions;
mod hardening;
mod identity;
mod identity_fakes;
mod kb_types;
mod knowledge_bases;
mod layout;
mod mcp_http;
mod metrics_flood;
mod metrics_http;
mod reading;
mod scale_out;
mod search_controls;
mod settings;
mod systemd_notify;
