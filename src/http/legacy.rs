//! Handlers of the legacy HTTP+SSE transport: `GET /sse` (and `GET /` from a legacy
//! client) opens a stream; `POST /messages?session_id=…` delivers a message to it.

use super::app::App;
use super::request::HttpRequest;
use super::response::{Action, Reply};
use super::router::LogInfo;
use super::streamable::rpc_reply;
use crate::mcp::jsonrpc::{self, RpcError};

/// A GET that wants the legacy stream: accepts SSE and carries none of the newer
/// transport's headers (those clients open their optional GET stream with them).
pub fn is_legacy_open(req: &HttpRequest) -> bool {
    req.header("accept")
        .is_some_and(|a| a.contains("text/event-stream"))
        && req.header("mcp-session-id").is_none()
        && req.header("mcp-protocol-version").is_none()
}

/// Opens a stream, unless the hub is full or closing.
pub fn open(app: &App, log: &mut LogInfo) -> Result<Action, Reply> {
    if let Err(e) = app.hub.admit() {
        return Err(
            Reply::error(503, "unavailable", &e.to_string()).with_header("Retry-After", "5")
        );
    }
    let session_id = crate::util::random_hex(16);
    log.session = Some(session_id.clone());
    Ok(Action::OpenSse {
        session_id,
        owner: log.principal.as_ref().map(owner_of),
    })
}

/// Whom a session belongs to: the token's object id (stable), else its user name.
fn owner_of(p: &crate::auth::Principal) -> String {
    p.oid.clone().unwrap_or_else(|| p.user.clone())
}

/// Delivers one message to a stream; the JSON-RPC response goes out on the stream.
pub fn post(app: &App, req: &HttpRequest, log: &mut LogInfo) -> Reply {
    let Some(id) = req
        .query_param("session_id")
        .or_else(|| req.query_param("sessionId"))
    else {
        return Reply::error(
            400,
            "invalid_request",
            "session_id is required: use the endpoint URL the SSE stream announced",
        );
    };
    log.session = Some(id.clone());
    let session = match app.hub.get(&id) {
        // Another user's session is reported as missing, not as forbidden: ids are not a secret channel.
        Some(s) if s.owner == log.principal.as_ref().map(owner_of) => s,
        _ => {
            return Reply::error(
                404,
                "not_found",
                "Could not find session: open a new stream with GET /sse",
            )
        }
    };
    let body: serde_json::Value = match serde_json::from_slice(&req.body) {
        Ok(v) => v,
        Err(e) => {
            return rpc_reply(
                400,
                &RpcError::new(None, jsonrpc::PARSE_ERROR, format!("Parse error: {e}")),
            )
        }
    };
    let message = match jsonrpc::parse_message(body) {
        Ok(m) => m,
        Err(e) => return rpc_reply(400, &e),
    };
    let version = session.version();
    log.version = Some(version);
    let caller = super::router::caller(app, log.principal.as_ref());
    let mut outcome = app.mcp.handle_as(version, message, &caller);
    if let Some(agreed) = outcome.negotiated {
        session.set_version(agreed);
    }
    if let Some(response) = outcome.response.take() {
        if !session.send("message", &response.to_string()) {
            app.hub.remove(&id);
        }
    }
    log.outcome = outcome;
    Reply {
        status: 202,
        headers: vec![("Content-Type".into(), "text/plain".into())],
        body: b"Accepted".to_vec(),
    }
}
