//! MCP over JSON-RPC: method dispatch for every protocol revision we speak, and the tools.
//!
//! Transport-agnostic: the HTTP layer decides the revision of each message (see
//! `http::streamable`) and hands it here; nothing in this module reads headers or sockets.

mod caller;
pub(crate) mod jsonrpc;
pub(crate) mod long;
mod pages;
pub mod protocol;
mod render;
pub(crate) mod tools;

pub use caller::{Caller, SignedIn};

use crate::config::ReadingSettings;
use crate::kb::agentic::{Control, Silent};
use crate::kb::catalog::Catalog;
use crate::kb::KnowledgeBase;
use crate::slots::Slots;
use jsonrpc::{Message, RequestId, RpcError};
use long::{Notify, Registry, Reporter};
use protocol::{Version, META_SERVER_INFO};
use serde_json::{json, Map, Value};
use std::sync::{Arc, OnceLock};
use tools::ResultObject;

/// How long clients may cache the tool list and discovery result (2026-07-28 `ttlMs`).
const LIST_TTL_MS: u64 = 3_600_000;
const SERVER_NAME: &str = "bedrock-mcp";
const INSTRUCTIONS: &str = "Use search_knowledge_base to find passages in the organisation's \
knowledge base before answering questions it may cover; cite the source locations it returns. \
Use get_knowledge_base_info to see which knowledge base is connected.";
const LINK_INSTRUCTIONS: &str = " When the person wants to open a source, call \
get_document_link with the documentId and dataSourceId of that result.";
const READ_INSTRUCTIONS: &str = " When passages are not enough, read the whole document with \
read_document (documentId and dataSourceId of a result), page by page.";
const AGENTIC_INSTRUCTIONS: &str = " For questions that need several searches or whole \
documents (comparisons, summaries across documents), use agentic_search.";
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
    catalog: Catalog,
    /// Whether get_document_link is offered (DOCUMENT_LINKS and a backend that has links).
    links: bool,
    /// With several knowledge bases: one line per knowledge base for the tool descriptions,
    /// read (GetKnowledgeBase) on the first tools/list and kept.
    described: OnceLock<String>,
    /// read_document, agentic_search and image settings.
    reading: tools::Reading,
    /// agentic_search calls at once (AGENTIC_MAX_IN_FLIGHT).
    agentic_permits: Slots,
    /// Running long calls, for notifications/cancelled.
    running: Registry,
}

/// What handling one message produced.
#[derive(Debug, Default)]
pub struct Outcome {
    /// The JSON-RPC response, serialized, or `None` for notifications and client responses.
    pub response: Option<jsonrpc::Response>,
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
    /// The user id a tool call sent to the knowledge base for access lists (an email).
    pub acl_user: Option<String>,
    /// AWS refused the caller's sign-in token during a tool call: answer 401 with this
    /// description (the usual challenge) instead of the response, so the client signs in again.
    pub reauthenticate: Option<String>,
    /// Whose AWS credentials signed a tool's knowledge-base call (`user` or `server`).
    pub aws_session: Option<&'static str>,
}

impl Mcp {
    /// A handler over `kb`, offering get_document_link when the backend has links.
    pub fn new(kb: Arc<dyn KnowledgeBase>) -> Mcp {
        Mcp::with_catalog(Catalog::one(kb))
    }

    /// A handler over several knowledge bases (the first is the default).
    pub fn with_catalog(catalog: Catalog) -> Mcp {
        let links = catalog.iter().all(|(_, kb)| kb.has_document_links());
        Mcp {
            catalog,
            links,
            described: OnceLock::new(),
            // Both set from the reading settings, their defaults until the server applies its own.
            reading: tools::Reading::default(),
            agentic_permits: Slots::new(1),
            running: Registry::default(),
        }
        .with_reading(&ReadingSettings::default())
    }

    /// Applies the reading settings: read_document and agentic_search are offered when every
    /// knowledge base can serve them (and AGENTIC_SEARCH is on).
    pub fn with_reading(mut self, settings: &ReadingSettings) -> Mcp {
        let all = |f: fn(&dyn KnowledgeBase) -> bool| self.catalog.iter().all(|(_, kb)| f(kb));
        self.reading = tools::Reading {
            read: all(|kb| kb.can_read_documents()),
            agentic: settings.agentic && all(|kb| kb.has_agentic()),
            page_chars: settings.page_chars,
            images: settings.image_results,
        };
        self.agentic_permits = Slots::new(settings.agentic_max_in_flight);
        self
    }

    /// Whether `message` is a call that may run for minutes (agentic_search): the transport
    /// then frees its request slot and streams progress.
    pub fn is_long(&self, message: &Message) -> bool {
        let Message::Request { method, params, .. } = message else {
            return false;
        };
        self.reading.agentic
            && method == "tools/call"
            && params.get("name").and_then(Value::as_str) == Some(tools::AGENTIC)
    }

    /// The progress token a request carries (`_meta.progressToken`: a string or integer).
    pub fn progress_token(message: &Message) -> Option<Value> {
        match message {
            Message::Request { params, .. } => progress_token_of(params),
            _ => None,
        }
    }

    /// Handles a long call: its notifications go to `notify` (false: the client is gone,
    /// which cancels the call); a `notifications/cancelled` in `scope` cancels it too. A
    /// cancelled call has no response.
    pub fn handle_long(
        &self,
        version: Version,
        message: Message,
        caller: &Caller,
        scope: &str,
        notify: Notify<'_>,
    ) -> Outcome {
        let Message::Request { id, method, params } = message else {
            return self.handle_scoped(version, message, caller, scope);
        };
        let token = progress_token_of(&params);
        let key = serde_json::to_value(&id).unwrap_or(Value::Null);
        let entry = self.running.enter(scope, &key);
        let mut reporter = Reporter::new(token, notify, entry.flag.clone());
        let mut outcome = self.respond(version, id, method, params, caller, &mut reporter);
        if reporter.cancelled() {
            // The client cancelled or went away: no response may follow.
            outcome.response = None;
        }
        outcome
    }

    /// Turns get_document_link off (DOCUMENT_LINKS=false), or back on if the backend has links.
    pub fn with_document_links(mut self, on: bool) -> Mcp {
        self.links = on && self.catalog.iter().all(|(_, kb)| kb.has_document_links());
        self
    }

    /// The knowledge-base choice offered in tool definitions, when there is one.
    fn choice(&self) -> Option<tools::Choice<'_>> {
        if !self.catalog.is_multi() {
            return None;
        }
        let summary = self.described.get_or_init(|| {
            self.catalog
                .iter()
                .enumerate()
                .map(|(i, (id, kb))| render::kb_line(id, i == 0, &kb.info()))
                .collect::<Vec<_>>()
                .join(" ")
        });
        Some(tools::Choice {
            ids: self.catalog.ids(),
            summary,
        })
    }

    fn instructions(&self) -> String {
        let mut text = INSTRUCTIONS.to_string();
        if self.links {
            text.push_str(LINK_INSTRUCTIONS);
        }
        if self.reading.read {
            text.push_str(READ_INSTRUCTIONS);
        }
        if self.reading.agentic {
            text.push_str(AGENTIC_INSTRUCTIONS);
        }
        text
    }

    /// The default knowledge base (for health and `check`).
    pub fn kb(&self) -> &dyn KnowledgeBase {
        self.catalog.default_kb()
    }

    /// Handles one message spoken in `version`, as nobody in particular.
    pub fn handle(&self, version: Version, message: Message) -> Outcome {
        self.handle_as(version, message, &Caller::Anonymous)
    }

    /// Handles one message spoken in `version` for `caller` (from the validated token).
    pub fn handle_as(&self, version: Version, message: Message, caller: &Caller) -> Outcome {
        self.handle_scoped(version, message, caller, "")
    }

    /// Handles one message for `caller`; a `notifications/cancelled` cancels a long call of
    /// the same `scope` (the transport's name for the user or session).
    pub fn handle_scoped(
        &self,
        version: Version,
        message: Message,
        caller: &Caller,
        scope: &str,
    ) -> Outcome {
        match message {
            Message::Request { id, method, params } => {
                self.respond(version, id, method, params, caller, &mut Silent)
            }
            Message::Notification { method, params } => {
                // Notifications need no answer. A cancellation stops a running long call;
                // an ordinary call is too short to interrupt, and its response is dropped
                // by the client anyway.
                if method == "notifications/cancelled" {
                    if let Some(id) = params.get("requestId") {
                        self.running.cancel(scope, id);
                    }
                }
                Outcome {
                    method: Some(method),
                    ..Outcome::default()
                }
            }
            Message::Response => Outcome::default(),
        }
    }

    fn respond(
        &self,
        version: Version,
        id: RequestId,
        method: String,
        params: Map<String, Value>,
        caller: &Caller,
        control: &mut dyn Control,
    ) -> Outcome {
        let mut outcome = Outcome {
            method: Some(method.clone()),
            ..Outcome::default()
        };
        let result = self.dispatch(
            version,
            &method,
            &params,
            &id,
            caller,
            &mut outcome,
            control,
        );
        outcome.response = Some(match result {
            Ok(mut result) => {
                if version.is_modern() || method == "server/discover" {
                    result.insert("resultType", json!("complete"));
                    result.insert("_meta", json!({ META_SERVER_INFO: server_info(version) }));
                }
                jsonrpc::success(&id, &result, result.size_hint())
            }
            Err(e) => e.to_response(),
        });
        outcome
    }

    // The request's parts, who asks, what to log and where a long call reports: grouping
    // them in a struct would only rename them.
    #[allow(clippy::too_many_arguments)]
    fn dispatch(
        &self,
        version: Version,
        method: &str,
        params: &Map<String, Value>,
        id: &RequestId,
        caller: &Caller,
        outcome: &mut Outcome,
        control: &mut dyn Control,
    ) -> Result<ResultObject, RpcError> {
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
                    result["instructions"] = json!(self.instructions());
                }
                Ok(result.into())
            }
            ("ping", false) => Ok(json!({}).into()),
            ("logging/setLevel", false) => match params.get("level").and_then(Value::as_str) {
                Some(level) if LOG_LEVELS.contains(&level) => Ok(json!({}).into()),
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
                "instructions": self.instructions(),
                "ttlMs": LIST_TTL_MS,
                "cacheScope": "public",
            })
            .into()),
            ("tools/list", modern) => {
                if params.get("cursor").is_some_and(|c| !c.is_null()) {
                    return Err(err(
                        jsonrpc::INVALID_PARAMS,
                        "Invalid params: unknown cursor (this server returns every tool in one page)".into(),
                    ));
                }
                let mut result = json!({ "tools": tools::definitions(version, self.links, self.reading, self.choice().as_ref()) });
                if modern {
                    result["ttlMs"] = json!(LIST_TTL_MS);
                    result["cacheScope"] = json!("public");
                }
                Ok(result.into())
            }
            ("tools/call", _) => {
                let Some(name) = params.get("name").and_then(Value::as_str) else {
                    return Err(err(
                        jsonrpc::INVALID_PARAMS,
                        "Invalid params: \"name\" (the tool to call) is required".into(),
                    ));
                };
                outcome.tool = Some(name.to_string());
                let ctx = tools::Context {
                    caller,
                    links: self.links,
                    multi: self.catalog.is_multi(),
                    reading: self.reading,
                };
                let _permit = if name == tools::AGENTIC && self.reading.agentic {
                    // Refused at once: a long call should not hold a request thread waiting.
                    match self.agentic_permits.take(std::time::Duration::ZERO) {
                        Some(p) => Some(p),
                        None => {
                            let busy = render::tool_error(format!(
                                "Agentic search failed. {} agentic searches are already running \
                                 (AGENTIC_MAX_IN_FLIGHT); try again in a minute, or use \
                                 search_knowledge_base",
                                self.agentic_permits.max()
                            ));
                            crate::metrics::tool_call(name, Ok(true));
                            outcome.tool_error = true;
                            return Ok(busy.result);
                        }
                    }
                } else {
                    None
                };
                let called = tools::call(
                    &self.catalog,
                    version,
                    name,
                    params.get("arguments"),
                    ctx,
                    control,
                );
                crate::metrics::tool_call(
                    name,
                    called.as_ref().map(|c| c.is_error).map_err(|_| ()),
                );
                let called = called.map_err(|e| err(jsonrpc::INVALID_PARAMS, e.0))?;
                // The address the server asserted; with the user's own session the session
                // names them (and the subject AWS verified is identity context: never logged).
                if name != tools::INFO && called.aws_session != Some("user") {
                    outcome.acl_user = caller.acl_user().map(str::to_string);
                }
                outcome.reauthenticate = called.reauthenticate;
                outcome.aws_session = called.aws_session;
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

fn progress_token_of(params: &Map<String, Value>) -> Option<Value> {
    params
        .get("_meta")
        .and_then(|m| m.get("progressToken"))
        .filter(|t| t.is_string() || t.is_i64() || t.is_u64())
        .cloned()
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
