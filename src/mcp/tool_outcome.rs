//! What a tool call produced: the CallToolResult plus the counts the access log reports.
//!
//! Built by `render` and returned by `tools`; a plain value with no behaviour.

use serde_json::Value;

/// What a tool call produced, for the response and for the access log.
#[derive(Debug, Default)]
pub struct ToolOutcome {
    /// The CallToolResult (without protocol-revision extras such as `resultType`).
    pub result: Value,
    /// Number of passages returned (search only).
    pub results: Option<usize>,
    /// Time spent in the upstream knowledge base.
    pub upstream_ms: Option<u64>,
    /// Whether the result is a tool error.
    pub is_error: bool,
}
