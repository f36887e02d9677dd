//! Handlers of the legacy HTTP+SSE transport: `GET /sse` (and `GET /` from a legacy
//! client) opens a stream; `POST /messages?session_id=…` delivers a message to it.
//!
//! With auth on, a session belongs to the `tid` + `oid` of the token that opened it, and
//! only a token with the same pair may post to it; a token without them gets 403.

use super::app::App;
use super::error_reply::HttpError;
use super::long::{LongCall, Via};
use super::request::HttpRequest;
use super::response::{Action, Reply};
use super::router::LogInfo;
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
pub fn open(app: &App, log: &mut LogInfo) -> Result<Action, HttpError> {
    app.hub.admit()?;
    let owner = caller(log)?;
    let session_id = crate::util::random_hex(16);
    log.session = Some(session_id.clone());
    Ok(Action::OpenSse { session_id, owner })
}

/// Whom a session belongs to with auth on: the token's tenant and object id, which Entra
/// assigns and never reuses. User names are not used: they live in another namespace and a
/// token whose `preferred_username` equals someone's oid could otherwise pass as them.
fn owner_of(p: &crate::auth::Principal) -> Option<String> {
    match (p.tid.as_deref(), p.oid.as_deref()) {
        (Some(tid), Some(oid)) if !tid.is_empty() && !oid.is_empty() => {
            Some(format!("{tid}/{oid}"))
        }
        _ => None,
    }
}

/// The owner key of the caller: `None` with auth off; 403 for a token without `tid`/`oid`.
fn caller(log: &LogInfo) -> Result<Option<String>, HttpError> {
    let Some(principal) = &log.principal else {
        return Ok(None);
    };
    match owner_of(principal) {
        Some(owner) => Ok(Some(owner)),
        None => Err(HttpError::Forbidden(
            "this token has no oid (object id) or tid (tenant id) claim, and a legacy SSE \
             session belongs to the tenant and object id of the user who opened it: sign in \
             as a user (a delegated token carries both), or use the stateless /mcp endpoint",
        )),
    }
}

/// Delivers one message to a stream; the JSON-RPC response goes out on the stream. A long
/// call (agentic_search) comes back as an action: answered 202 now, run on its own thread.
pub fn post(app: &App, req: &HttpRequest, log: &mut LogInfo) -> Result<Action, HttpError> {
    let Some(id) = req
        .query_param("session_id")
        .or_else(|| req.query_param("sessionId"))
    else {
        return Err(HttpError::BadRequest(
            "session_id is required: use the endpoint URL the SSE stream announced".into(),
        ));
    };
    log.session = Some(id.clone());
    let owner = caller(log)?;
    let session = match app.hub.get(&id) {
        // Another user's session is reported as missing, not as forbidden: ids are not a secret channel.
        Some(s) if s.owner == owner => s,
        _ => {
            return Err(HttpError::NotFound(
                "Could not find session: open a new stream with GET /sse".into(),
            ))
        }
    };
    let body: serde_json::Value = serde_json::from_slice(&req.body).map_err(|e| {
        HttpError::Rpc(
            400,
            RpcError::new(None, jsonrpc::PARSE_ERROR, format!("Parse error: {e}")),
        )
    })?;
    let message = jsonrpc::parse_message(body).map_err(|e| HttpError::Rpc(400, e))?;
    let version = session.version();
    log.version = Some(version);
    let caller = app.caller(log.principal.as_ref());
    let accepted = Reply {
        status: 202,
        headers: vec![("Content-Type".into(), "text/plain".into())],
        body: b"Accepted".to_vec(),
    };
    let scope = format!("sse:{id}");
    if app.mcp.is_long(&message) {
        let call = LongCall {
            message,
            version,
            caller,
            scope,
            via: Via::Legacy { session },
        };
        return Ok(Action::Long(Box::new(call), Some(accepted)));
    }
    let mut outcome = app.mcp.handle_scoped(version, message, &caller, &scope);
    if let Some(why) = outcome.reauthenticate.take() {
        // AWS refused the token itself: answer this POST with the usual challenge (nothing
        // goes out on the stream), so the client signs in again.
        log.outcome = outcome;
        return Err(app.challenge(req, crate::auth::AuthError::InvalidToken(why)));
    }
    if let Some(agreed) = outcome.negotiated {
        session.set_version(agreed);
    }
    if let Some(response) = outcome.response.take() {
        if !session.send("message", response.as_str()) {
            app.hub.remove(&id);
        }
    }
    log.outcome = outcome;
    Ok(Action::Reply(accepted))
}
