//! The Streamable HTTP transport (`/mcp`, `/mcp/` and `/`): one POST per JSON-RPC message,
//! answered with JSON or a one-shot SSE stream according to `Accept`.
//!
//! This is where each message's protocol revision is decided: `initialize` negotiates a
//! legacy revision (recorded in the session id we mint); a request carrying
//! `_meta["io.modelcontextprotocol/protocolVersion"]` is modern and its headers must match
//! its body; anything else uses the session's revision, then the `MCP-Protocol-Version`
//! header, then 2025-03-26 (a header naming a revision we do not speak is a 400 even inside a
//! session). No state is kept, so replicas need no stickiness.

use super::request::HttpRequest;
use super::response::Reply;
use crate::mcp::jsonrpc::{self, Message, RpcError};
use crate::mcp::protocol::{self, Version, META_CLIENT_CAPABILITIES, META_PROTOCOL_VERSION};
use crate::mcp::{Caller, Mcp, Outcome};
use serde_json::{json, Value};

/// Most messages one 2025-03-26 batch may carry.
const MAX_BATCH: usize = 32;

/// How the client wants the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Sse,
}

/// What a POST produced: the reply, and what to log about it.
pub struct Handled {
    /// The HTTP reply.
    pub reply: Reply,
    /// Method, tool and result counts, for the access log.
    pub outcome: Outcome,
    /// The revision the message was handled under.
    pub version: Option<Version>,
}

impl Handled {
    fn reply(reply: Reply) -> Handled {
        Handled {
            reply,
            outcome: Outcome::default(),
            version: None,
        }
    }
}

/// Handles a POST to the MCP endpoint as nobody in particular.
pub fn post(req: &HttpRequest, mcp: &Mcp) -> Handled {
    post_as(req, mcp, &Caller::Anonymous)
}

/// Handles a POST to the MCP endpoint; tool calls run for `caller`.
pub fn post_as(req: &HttpRequest, mcp: &Mcp, caller: &Caller) -> Handled {
    let format = match accepted_format(req) {
        Ok(f) => f,
        Err(reply) => return Handled::reply(reply),
    };
    if let Some(ct) = req.header("content-type") {
        if !ct
            .to_ascii_lowercase()
            .trim_start()
            .starts_with("application/json")
        {
            return Handled::reply(rpc_reply(
                415,
                &RpcError::new(
                    None,
                    jsonrpc::INVALID_REQUEST,
                    format!(
                    "Unsupported Content-Type {ct:?}: send the JSON-RPC message as application/json"
                ),
                ),
            ));
        }
    }
    let body: Value = match serde_json::from_slice(&req.body) {
        Ok(v) => v,
        Err(e) => {
            return Handled::reply(rpc_reply(
                400,
                &RpcError::new(
                    None,
                    jsonrpc::PARSE_ERROR,
                    format!("Parse error: the body is not valid JSON ({e})"),
                ),
            ))
        }
    };
    let session = match session_version(req) {
        Ok(s) => s,
        Err(reply) => return Handled::reply(reply),
    };
    match body {
        Value::Array(items) => batch(req, mcp, caller, items, session, format),
        single => one(req, mcp, caller, single, session, format),
    }
}

fn one(
    req: &HttpRequest,
    mcp: &Mcp,
    caller: &Caller,
    body: Value,
    session: Option<Version>,
    format: Format,
) -> Handled {
    let message = match jsonrpc::parse_message(body) {
        Ok(m) => m,
        Err(e) => return Handled::reply(rpc_reply(400, &e)),
    };
    let version = match message_version(req, &message, session) {
        Ok(v) => v,
        Err((status, e)) => return Handled::reply(rpc_reply(status, &e)),
    };
    let mut outcome = mcp.handle_as(version, message, caller);
    let mut reply = match outcome.response.take() {
        None => Reply::empty(202),
        Some(response) => {
            let status = status_for(version, &response);
            encode(status, &[response], format, false)
        }
    };
    if let Some(agreed) = outcome.negotiated {
        reply = reply.with_header("Mcp-Session-Id", protocol::new_session_id(agreed));
    }
    Handled {
        reply,
        outcome,
        version: Some(version),
    }
}

/// Batches exist only in 2025-03-26; later revisions require one message per POST.
fn batch(
    req: &HttpRequest,
    mcp: &Mcp,
    caller: &Caller,
    items: Vec<Value>,
    session: Option<Version>,
    format: Format,
) -> Handled {
    let header = req.header("mcp-protocol-version").map(str::trim);
    let version = match (header.map(|h| (h, Version::parse(h))), session) {
        (Some((h, None)), _) => {
            return Handled::reply(rpc_reply(400, &unsupported_header(None, h)))
        }
        (_, Some(s)) => s,
        (Some((_, Some(v))), None) => v,
        (None, None) => Version::V2025_03_26,
    };
    if version != Version::V2025_03_26 {
        return Handled::reply(rpc_reply(400, &RpcError::new(None, jsonrpc::INVALID_REQUEST, format!(
            "Invalid Request: JSON-RPC batches are only allowed in protocol version 2025-03-26, not {}; send one message per POST",
            version.as_str()
        ))));
    }
    if items.len() > MAX_BATCH {
        // One POST must not fan out into thousands of Bedrock calls held on one worker.
        return Handled::reply(rpc_reply(400, &RpcError::new(None, jsonrpc::INVALID_REQUEST, format!(
            "Invalid Request: a batch may hold at most {MAX_BATCH} messages, this one has {}; split it",
            items.len()
        ))));
    }
    if items.is_empty() {
        return Handled::reply(rpc_reply(
            400,
            &RpcError::new(
                None,
                jsonrpc::INVALID_REQUEST,
                "Invalid Request: empty batch",
            ),
        ));
    }
    let mut responses = Vec::new();
    let mut last = Outcome::default();
    for item in items {
        let message = match jsonrpc::parse_message(item) {
            Ok(Message::Request { method, id, .. }) if method == "initialize" => {
                responses.push(
                    RpcError::new(
                        Some(id),
                        jsonrpc::INVALID_REQUEST,
                        "Invalid Request: initialize must not be part of a batch",
                    )
                    .to_json(),
                );
                continue;
            }
            Ok(m) => m,
            Err(e) => {
                responses.push(e.to_json());
                continue;
            }
        };
        last = mcp.handle_as(version, message, caller);
        responses.extend(last.response.take());
    }
    let reply = if responses.is_empty() {
        Reply::empty(202)
    } else {
        encode(200, &responses, format, true)
    };
    Handled {
        reply,
        outcome: last,
        version: Some(version),
    }
}

/// Decides the revision of a single (non-batch) message.
fn message_version(
    req: &HttpRequest,
    message: &Message,
    session: Option<Version>,
) -> Result<Version, (u16, RpcError)> {
    let (id, method, params) = match message {
        Message::Request { id, method, params } => {
            (Some(id.clone()), method.as_str(), Some(params))
        }
        Message::Notification { method, params } => (None, method.as_str(), Some(params)),
        Message::Response => (None, "", None),
    };
    if method == "initialize" {
        // The revision comes from the handshake itself; a stale session id is irrelevant.
        return Ok(Version::V2025_03_26);
    }
    let header = req.header("mcp-protocol-version").map(str::trim);
    let meta = params
        .and_then(|p| p.get("_meta"))
        .and_then(|m| m.get(META_PROTOCOL_VERSION));
    if let Some(meta) = meta {
        let requested = meta.as_str().unwrap_or_default();
        // Header and body must agree before anything else (HeaderMismatch), then the version
        // must be one we speak (UnsupportedProtocolVersion).
        check_modern_headers(req, header, requested, method, params, id.clone())?;
        let version = Version::parse(requested)
            .filter(|v| v.is_modern())
            .ok_or_else(|| {
                (
                    400,
                    RpcError::new(
                        id.clone(),
                        jsonrpc::UNSUPPORTED_PROTOCOL_VERSION,
                        format!(
                            "Unsupported protocol version {requested:?}: this server supports {}",
                            Version::all().join(", ")
                        ),
                    )
                    .with_data(json!({ "supported": Version::all(), "requested": requested })),
                )
            })?;
        let capabilities = params
            .and_then(|p| p.get("_meta"))
            .and_then(|m| m.get(META_CLIENT_CAPABILITIES));
        if !method.is_empty() && !capabilities.is_some_and(Value::is_object) {
            return Err((400, RpcError::new(id, jsonrpc::INVALID_PARAMS, format!(
                "Invalid params: _meta[\"{META_CLIENT_CAPABILITIES}\"] must be an object (use {{}} for none)"
            ))));
        }
        return Ok(version);
    }
    match header {
        None => Ok(session.unwrap_or(Version::V2025_03_26)),
        Some(h) => match (Version::parse(h), session) {
            // A session's revision wins over another one we speak: claude.ai has been seen
            // sending a newer header than it negotiated. A revision we do not speak is refused below.
            (Some(_), Some(s)) => Ok(s),
            (Some(v), None) if !v.is_modern() => Ok(v),
            // A modern header needs the modern _meta (required field → Invalid params).
            (Some(_), None) => Err((400, RpcError::new(id, jsonrpc::INVALID_PARAMS, format!(
                "Invalid params: MCP-Protocol-Version is {h} but the request has no _meta[\"{META_PROTOCOL_VERSION}\"]; \
                 put the protocol version in the request's _meta, or send initialize to use an earlier revision"
            )))),
            (None, _) => Err((400, unsupported_header(id, h))),
        },
    }
}

/// The answer to an `MCP-Protocol-Version` this server does not speak, session or not.
fn unsupported_header(id: Option<jsonrpc::RequestId>, h: &str) -> RpcError {
    RpcError::new(
        id,
        jsonrpc::UNSUPPORTED_PROTOCOL_VERSION,
        format!(
            "Unsupported MCP-Protocol-Version {h:?}: this server supports {}",
            Version::all().join(", ")
        ),
    )
    .with_data(json!({ "supported": Version::all(), "requested": h }))
}

/// 2026-07-28: `MCP-Protocol-Version`, `Mcp-Method` and (for tools/call) `Mcp-Name` must be
/// present and equal to the body, so that intermediaries routing on headers cannot be fooled.
fn check_modern_headers(
    req: &HttpRequest,
    header: Option<&str>,
    requested: &str,
    method: &str,
    params: Option<&serde_json::Map<String, Value>>,
    id: Option<jsonrpc::RequestId>,
) -> Result<(), (u16, RpcError)> {
    let mismatch = |msg: String| {
        (
            400,
            RpcError::new(
                id.clone(),
                jsonrpc::HEADER_MISMATCH,
                format!("Header mismatch: {msg}"),
            ),
        )
    };
    match header {
        Some(h) if h == requested => {}
        Some(h) => {
            return Err(mismatch(format!(
                "MCP-Protocol-Version header {h:?} does not match body value {requested:?}"
            )))
        }
        None => {
            return Err(mismatch(
                "the MCP-Protocol-Version header is required".into(),
            ))
        }
    }
    if method.is_empty() {
        return Ok(());
    }
    match req.header("mcp-method") {
        Some(m) if m == method => {}
        Some(m) => {
            return Err(mismatch(format!(
                "Mcp-Method header {m:?} does not match body value {method:?}"
            )))
        }
        None => {
            return Err(mismatch(format!(
                "the Mcp-Method header is required (expected {method:?})"
            )))
        }
    }
    if matches!(method, "tools/call" | "resources/read" | "prompts/get") {
        let body_name = params
            .and_then(|p| p.get("name").or_else(|| p.get("uri")))
            .and_then(Value::as_str)
            .unwrap_or_default();
        match req.header("mcp-name").map(decode_header_value) {
            Some(Some(n)) if n == body_name => {}
            Some(Some(n)) => {
                return Err(mismatch(format!(
                    "Mcp-Name header value {n:?} does not match body value {body_name:?}"
                )))
            }
            Some(None) => {
                return Err(mismatch(
                    "the Mcp-Name header is not valid (bad =?base64?…?= value)".into(),
                ))
            }
            None => {
                return Err(mismatch(format!(
                    "the Mcp-Name header is required (expected {body_name:?})"
                )))
            }
        }
    }
    Ok(())
}

/// Decodes the `=?base64?…?=` sentinel form of a header value; plain values pass through.
fn decode_header_value(v: &str) -> Option<String> {
    match v
        .strip_prefix("=?base64?")
        .and_then(|r| r.strip_suffix("?="))
    {
        Some(b64) => crate::util::base64_decode(b64).and_then(|b| String::from_utf8(b).ok()),
        None => Some(v.to_string()),
    }
}

/// Reads `Mcp-Session-Id`: a session we minted names its revision; any other id is unknown (404).
fn session_version(req: &HttpRequest) -> Result<Option<Version>, Reply> {
    match req.header("mcp-session-id") {
        None => Ok(None),
        Some(id) => match protocol::session_version(id.trim()) {
            Some(v) => Ok(Some(v)),
            // An initialize needs no session; let it through and mint a new one.
            None if is_initialize(&req.body) => Ok(None),
            None => Err(rpc_reply(404, &RpcError::new(None, jsonrpc::INVALID_REQUEST,
                "Session not found: this Mcp-Session-Id was not issued by this server; send initialize to start a new session"))),
        },
    }
}

fn is_initialize(body: &[u8]) -> bool {
    serde_json::from_slice::<Value>(body)
        .ok()
        .is_some_and(|v| v.get("method").and_then(Value::as_str) == Some("initialize"))
}

/// JSON unless the client accepts only SSE; 406 when it accepts neither.
fn accepted_format(req: &HttpRequest) -> Result<Format, Reply> {
    let Some(accept) = req.header("accept") else {
        return Ok(Format::Json);
    };
    let types: Vec<String> = accept
        .split(',')
        .map(|t| {
            t.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .collect();
    if types
        .iter()
        .any(|t| t == "application/json" || t == "*/*" || t == "application/*" || t.is_empty())
    {
        Ok(Format::Json)
    } else if types
        .iter()
        .any(|t| t == "text/event-stream" || t == "text/*")
    {
        Ok(Format::Sse)
    } else {
        Err(rpc_reply(
            406,
            &RpcError::new(
                None,
                jsonrpc::INVALID_REQUEST,
                format!(
            "Not Acceptable: Accept is {accept:?}; send Accept: application/json, text/event-stream"
        ),
            ),
        ))
    }
}

/// HTTP status for a response: modern errors have their own statuses, the rest ride on 200.
fn status_for(version: Version, response: &Value) -> u16 {
    let code = response.pointer("/error/code").and_then(Value::as_i64);
    match code {
        Some(jsonrpc::UNSUPPORTED_PROTOCOL_VERSION | jsonrpc::HEADER_MISMATCH) => 400,
        Some(jsonrpc::METHOD_NOT_FOUND) if version.is_modern() => 404,
        _ => 200,
    }
}

/// Encodes responses as JSON (an array for a batch) or as SSE `message` events.
fn encode(status: u16, responses: &[Value], format: Format, batch: bool) -> Reply {
    match format {
        Format::Json if batch => Reply::json(status, &Value::Array(responses.to_vec())),
        Format::Json => Reply::json(status, responses.first().unwrap_or(&Value::Null)),
        Format::Sse => {
            let mut body = String::new();
            for r in responses {
                body.push_str("event: message\ndata: ");
                body.push_str(&r.to_string());
                body.push_str("\n\n");
            }
            Reply {
                status,
                headers: vec![
                    ("Content-Type".into(), "text/event-stream".into()),
                    ("X-Accel-Buffering".into(), "no".into()),
                ],
                body: body.into_bytes(),
            }
        }
    }
}

/// A JSON-RPC error as an HTTP reply.
pub fn rpc_reply(status: u16, error: &RpcError) -> Reply {
    Reply::json(status, &error.to_json())
}

#[cfg(test)]
mod tests;
