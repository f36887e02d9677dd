//! Which protocol revision a Streamable HTTP message is handled under, and the header checks
//! that decide it.
//!
//! `initialize` negotiates a legacy revision (recorded in the session id we mint); a request
//! carrying `_meta["io.modelcontextprotocol/protocolVersion"]` is modern and its headers must
//! match its body; anything else uses the session's revision, then the `MCP-Protocol-Version`
//! header, then 2025-03-26 (a header naming a revision we do not speak is a 400 even inside a
//! session). Pure functions of the request: no state is kept, so replicas need no stickiness.

use super::error_reply::HttpError;
use super::request::HttpRequest;
use crate::mcp::jsonrpc::{self, Message, RpcError};
use crate::mcp::protocol::{self, Version, META_CLIENT_CAPABILITIES, META_PROTOCOL_VERSION};
use serde_json::{json, Value};

/// Decides the revision of a single (non-batch) message.
pub(super) fn message_version(
    req: &HttpRequest,
    message: &Message,
    session: Option<Version>,
) -> Result<Version, HttpError> {
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
                HttpError::Rpc(
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
        // Requests declare their client's capabilities; notifications have no such field
        // (NotificationMetaObject in the 2026-07-28 schema).
        if id.is_some() && !capabilities.is_some_and(Value::is_object) {
            return Err(HttpError::Rpc(400, RpcError::new(id, jsonrpc::INVALID_PARAMS, format!(
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
            (Some(_), None) => Err(HttpError::Rpc(400, RpcError::new(id, jsonrpc::INVALID_PARAMS, format!(
                "Invalid params: MCP-Protocol-Version is {h} but the request has no _meta[\"{META_PROTOCOL_VERSION}\"]; \
                 put the protocol version in the request's _meta, or send initialize to use an earlier revision"
            )))),
            (None, _) => Err(HttpError::Rpc(400, unsupported_header(id, h))),
        },
    }
}

/// The answer to an `MCP-Protocol-Version` this server does not speak, session or not.
pub(super) fn unsupported_header(id: Option<jsonrpc::RequestId>, h: &str) -> RpcError {
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
) -> Result<(), HttpError> {
    let mismatch = |msg: String| {
        HttpError::Rpc(
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
pub(super) fn session_version(req: &HttpRequest) -> Result<Option<Version>, HttpError> {
    match req.header("mcp-session-id") {
        None => Ok(None),
        Some(id) => match protocol::session_version(id.trim()) {
            Some(v) => Ok(Some(v)),
            // An initialize needs no session; let it through and mint a new one.
            None if is_initialize(&req.body) => Ok(None),
            None => Err(HttpError::Rpc(404, RpcError::new(None, jsonrpc::INVALID_REQUEST,
                "Session not found: this Mcp-Session-Id was not issued by this server; send initialize to start a new session"))),
        },
    }
}

fn is_initialize(body: &[u8]) -> bool {
    serde_json::from_slice::<Value>(body)
        .ok()
        .is_some_and(|v| v.get("method").and_then(Value::as_str) == Some("initialize"))
}
