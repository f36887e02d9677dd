//! MCP over JSON-RPC: method dispatch for every protocol revision we speak, and the tools.
//!
//! Transport-agnostic: the HTTP layer decides the revision of each message (see
//! `http::streamable`) and hands it here; nothing in this module reads headers or sockets.

pub mod jsonrpc;
pub mod protocol;
mod render;
pub mod tools;

use crate::kb::KnowledgeBase;
use jsonrpc::{Message, RequestId, RpcError};
use protocol::{Version, META_SERVER_INFO};
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// How long clients may cache the tool list and discovery result (2026-07-28 `ttlMs`).
const LIST_TTL_MS: u64 = 3_600_000;
const SERVER_NAME: &str = "bedrock-mcp";
const INSTRUCTIONS: &str = "Use search_knowledge_base to find passages in the organisation's \
knowledge base before answering questions it may cover; cite the source locations it returns. \
Use get_knowledge_base_info to see which knowledge base is connected.";
const LOG_LEVELS: [&str; 8] = [
    "debug",
    "info",
    "notice",
    "warning",
    "error",
    "critical",
    "alert",
    "emergency",
];

/// The MCP request handler, shared by all worker threads.
pub struct Mcp {
    kb: Arc<dyn KnowledgeBase>,
}

/// What handling one message produced.
#[derive(Debug, Default)]
pub struct Outcome {
    /// The JSON-RPC response, or `None` for notifications and client responses.
    pub response: Option<Value>,
    /// The revision agreed by an `initialize`, so the transport can mint a session id.
    pub negotiated: Option<Version>,
    /// The method, for the access log.
    pub method: Option<String>,
    /// The tool called, for the access log.
    pub tool: Option<String>,
    /// Passages returned by a search, for the access log.
    pub results: Option<usize>,
    /// Upstream latency of a tool call, for the access log.
    pub upstream_ms: Option<u64>,
    /// Whether a tool call ended in a tool error.
    pub tool_error: bool,
}

impl Mcp {
    /// A handler over `kb`.
    pub fn new(kb: Arc<dyn KnowledgeBase>) -> Mcp {
        Mcp { kb }
    }

    /// The knowledge base (for health and `check`).
    pub fn kb(&self) -> &dyn KnowledgeBase {
        self.kb.as_ref()
    }

    /// Handles one message spoken in `version`.
    pub fn handle(&self, version: Version, message: Message) -> Outcome {
        let (id, method, params) = match message {
            Message::Request { id, method, params } => (id, method, params),
            Message::Notification { method, .. } => {
                // Notifications need no answer; cancellation of a synchronous call cannot
                // interrupt it, and the response is dropped by the client anyway.
                return Outcome {
                    method: Some(method),
                    ..Outcome::default()
                };
            }
            Message::Response => return Outcome::default(),
        };
        let mut outcome = Outcome {
            method: Some(method.clone()),
            ..Outcome::default()
        };
        let result = self.dispatch(version, &method, &params, &id, &mut outcome);
        outcome.response = Some(match result {
            Ok(mut value) => {
                if version.is_modern() || method == "server/discover" {
                    value["resultType"] = json!("complete");
                    value["_meta"] = json!({ META_SERVER_INFO: server_info(version) });
                }
                jsonrpc::success(&id, value)
            }
            Err(e) => e.to_json(),
        });
        outcome
    }

    fn dispatch(
        &self,
        version: Version,
        method: &str,
        params: &Map<String, Value>,
        id: &RequestId,
        outcome: &mut Outcome,
    ) -> Result<Value, RpcError> {
        let err = |code, msg: String| RpcError::new(Some(id.clone()), code, msg);
        match (method, version.is_modern()) {
            ("initialize", false) => {
                let requested = params.get("protocolVersion").and_then(Value::as_str);
                let agreed = protocol::negotiate(requested);
                outcome.negotiated = Some(agreed);
                let mut result = json!({
                    "protocolVersion": agreed.as_str(),
                    "capabilities": { "tools": { "listChanged": false }, "logging": {} },
                    "serverInfo": server_info(agreed),
                });
                if agreed >= Version::V2025_03_26 {
                    result["instructions"] = json!(INSTRUCTIONS);
                }
                Ok(result)
            }
            ("ping", false) => Ok(json!({})),
            ("logging/setLevel", false) => match params.get("level").and_then(Value::as_str) {
                Some(level) if LOG_LEVELS.contains(&level) => Ok(json!({})),
                _ => Err(err(
                    jsonrpc::INVALID_PARAMS,
                    format!(
                        "Invalid params: \"level\" must be one of {}",
                        LOG_LEVELS.join(", ")
                    ),
                )),
            },
            ("server/discover", _) => Ok(json!({
                "supportedVersions": Version::all(),
                "capabilities": { "tools": { "listChanged": false } },
                "instructions": INSTRUCTIONS,
                "ttlMs": LIST_TTL_MS,
                "cacheScope": "public",
            })),
            ("tools/list", modern) => {
                if params.get("cursor").is_some_and(|c| !c.is_null()) {
                    return Err(err(
                        jsonrpc::INVALID_PARAMS,
                        "Invalid params: unknown cursor (this server returns every tool in one page)".into(),
                    ));
                }
                let mut result = json!({ "tools": tools::definitions(version) });
                if modern {
                    result["ttlMs"] = json!(LIST_TTL_MS);
                    result["cacheScope"] = json!("public");
                }
                Ok(result)
            }
            ("tools/call", _) => {
                let Some(name) = params.get("name").and_then(Value::as_str) else {
                    return Err(err(
                        jsonrpc::INVALID_PARAMS,
                        "Invalid params: \"name\" (the tool to call) is required".into(),
                    ));
                };
                outcome.tool = Some(name.to_string());
                let called = tools::call(self.kb.as_ref(), version, name, params.get("arguments"));
                crate::metrics::tool_call(
                    name,
                    called.as_ref().map(|c| c.is_error).map_err(|_| ()),
                );
                let called = called.map_err(|e| err(jsonrpc::INVALID_PARAMS, e.0))?;
                outcome.results = called.results;
                outcome.upstream_ms = called.upstream_ms;
                outcome.tool_error = called.is_error;
                Ok(called.result)
            }
            (other, modern) => Err(err(
                jsonrpc::METHOD_NOT_FOUND,
                format!(
                    "Method not found: {other:?} is not supported in protocol version {}{}",
                    version.as_str(),
                    if modern {
                        ""
                    } else {
                        " (this server offers tools only)"
                    }
                ),
            )),
        }
    }
}

/// Our identity, with the fields `version` knows about.
fn server_info(version: Version) -> Value {
    let mut info = json!({ "name": SERVER_NAME, "version": env!("CARGO_PKG_VERSION") });
    if version >= Version::V2025_06_18 {
        info["title"] = json!("Bedrock Knowledge Base");
    }
    info
}

#[cfg(test)]
mod tests;
