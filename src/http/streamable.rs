//! The Streamable HTTP transport (`/mcp`, `/mcp/` and `/`): one POST per JSON-RPC message,
//! answered with JSON or a one-shot SSE stream according to `Accept`.
//!
//! Owns the transport: content negotiation, batches, and encoding answers; which protocol
//! revision a message is handled under is decided in `revision.rs`. A long call
//! (agentic_search) is handed back as a `LongCall` for `long.rs` to stream. No state is
//! kept, so replicas need no stickiness.

use super::error_reply::HttpError;
use super::long::{LongCall, Via};
use super::request::HttpRequest;
use super::response::Reply;
use super::revision::{message_version, session_version, unsupported_header};
use crate::mcp::jsonrpc::{self, Message, Response, RpcError};
use crate::mcp::protocol::{self, Version};
use crate::mcp::{Caller, Mcp, Outcome};
use serde_json::Value;

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
    /// A refused message: the error's reply, nothing handled.
    fn error(e: HttpError) -> Handled {
        Handled {
            reply: e.into(),
            outcome: Outcome::default(),
            version: None,
        }
    }
}

/// Handles a POST to the MCP endpoint as nobody in particular.
pub fn post(req: &HttpRequest, mcp: &Mcp) -> Handled {
    post_as(req, mcp, &Caller::Anonymous)
}

/// What a POST turned into: an answer, or a long call to stream.
#[allow(clippy::large_enum_variant)] // made once per POST and taken apart at once
pub enum Posted {
    /// Handled; the reply is ready.
    Handled(Handled),
    /// A long call (agentic_search), not started yet.
    Long(Box<LongCall>),
}

/// Handles a POST to the MCP endpoint; tool calls run for `caller`. A long call runs here
/// too, to the end, its notifications dropped (the server hands long calls to `long.rs`
/// through [`post_routed`] instead).
pub fn post_as(req: &HttpRequest, mcp: &Mcp, caller: &Caller) -> Handled {
    match post_routed(req, mcp, caller, "") {
        Posted::Handled(h) => h,
        Posted::Long(call) => {
            let LongCall {
                message,
                version,
                caller,
                scope,
                ..
            } = *call;
            let format = accepted_format(req).unwrap_or(Format::Json);
            let mut outcome =
                mcp.handle_long(version, message, &caller, &scope, &mut |_: &str| true);
            let reply = match outcome.response.take() {
                None => Reply::empty(202),
                Some(r) => encode(status_for(version, &r), vec![r], format, false),
            };
            Handled {
                reply,
                outcome,
                version: Some(version),
            }
        }
    }
}

/// Handles a POST to the MCP endpoint for `caller`, whose notifications (cancellations)
/// apply to long calls of `scope`; a long call comes back unstarted.
pub fn post_routed(req: &HttpRequest, mcp: &Mcp, caller: &Caller, scope: &str) -> Posted {
    let format = match accepted_format(req) {
        Ok(f) => f,
        Err(e) => return Posted::Handled(Handled::error(e)),
    };
    let accepts_sse = accept_types(req)
        .iter()
        .any(|t| t == "text/event-stream" || t == "text/*" || t == "*/*");
    Posted::Handled(match prepare(req) {
        Err(e) => Handled::error(e),
        Ok((Value::Array(items), session)) => batch(req, mcp, caller, items, session, format),
        Ok((single, session)) => {
            let message = match jsonrpc::parse_message(single) {
                Ok(m) => m,
                Err(e) => return Posted::Handled(Handled::error(HttpError::Rpc(400, e))),
            };
            let version = match message_version(req, &message, session) {
                Ok(v) => v,
                Err(e) => return Posted::Handled(Handled::error(e)),
            };
            if mcp.is_long(&message) {
                // An SSE response stream only carries something beyond the response when
                // the client asked for progress.
                let sse = accepts_sse && Mcp::progress_token(&message).is_some();
                return Posted::Long(Box::new(LongCall {
                    message,
                    version,
                    caller: caller.clone(),
                    scope: scope.to_string(),
                    via: Via::Streamable { sse },
                }));
            }
            one(mcp, caller, message, version, format, scope)
        }
    })
}

/// Checks the POST's content type and parses its body and session header.
fn prepare(req: &HttpRequest) -> Result<(Value, Option<Version>), HttpError> {
    if let Some(ct) = req.header("content-type") {
        if !ct
            .to_ascii_lowercase()
            .trim_start()
            .starts_with("application/json")
        {
            return Err(HttpError::Rpc(
                415,
                RpcError::new(
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
            return Err(HttpError::Rpc(
                400,
                RpcError::new(
                    None,
                    jsonrpc::PARSE_ERROR,
                    format!("Parse error: the body is not valid JSON ({e})"),
                ),
            ))
        }
    };
    Ok((body, session_version(req)?))
}

fn one(
    mcp: &Mcp,
    caller: &Caller,
    message: Message,
    version: Version,
    format: Format,
    scope: &str,
) -> Handled {
    let mut outcome = mcp.handle_scoped(version, message, caller, scope);
    let mut reply = match outcome.response.take() {
        None => Reply::empty(202),
        Some(response) => {
            let status = status_for(version, &response);
            encode(status, vec![response], format, false)
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
            return Handled::error(HttpError::Rpc(400, unsupported_header(None, h)))
        }
        (_, Some(s)) => s,
        (Some((_, Some(v))), None) => v,
        (None, None) => Version::V2025_03_26,
    };
    if version != Version::V2025_03_26 {
        return Handled::error(HttpError::Rpc(400, RpcError::new(None, jsonrpc::INVALID_REQUEST, format!(
            "Invalid Request: JSON-RPC batches are only allowed in protocol version 2025-03-26, not {}; send one message per POST",
            version.as_str()
        ))));
    }
    if items.len() > MAX_BATCH {
        // One POST must not fan out into thousands of Bedrock calls held on one worker.
        return Handled::error(HttpError::Rpc(400, RpcError::new(None, jsonrpc::INVALID_REQUEST, format!(
            "Invalid Request: a batch may hold at most {MAX_BATCH} messages, this one has {}; split it",
            items.len()
        ))));
    }
    if items.is_empty() {
        return Handled::error(HttpError::Rpc(
            400,
            RpcError::new(
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
                    .to_response(),
                );
                continue;
            }
            Ok(m) => m,
            Err(e) => {
                responses.push(e.to_response());
                continue;
            }
        };
        let reauth = last.reauthenticate.take();
        last = mcp.handle_as(version, message, caller);
        // A refused sign-in anywhere in the batch makes the whole POST a 401.
        last.reauthenticate = last.reauthenticate.take().or(reauth);
        responses.extend(last.response.take());
    }
    let reply = if responses.is_empty() {
        Reply::empty(202)
    } else {
        encode(200, responses, format, true)
    };
    Handled {
        reply,
        outcome: last,
        version: Some(version),
    }
}

/// JSON unless the client accepts only SSE; 406 when it accepts neither.
fn accepted_format(req: &HttpRequest) -> Result<Format, HttpError> {
    let Some(accept) = req.header("accept") else {
        return Ok(Format::Json);
    };
    let types = accept_types(req);
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
        Err(HttpError::Rpc(
            406,
            RpcError::new(
                None,
                jsonrpc::INVALID_REQUEST,
                format!(
            "Not Acceptable: Accept is {accept:?}; send Accept: application/json, text/event-stream"
        ),
            ),
        ))
    }
}

/// The media types `Accept` lists, lower case, without parameters (none without the header).
fn accept_types(req: &HttpRequest) -> Vec<String> {
    req.header("accept").map_or_else(Vec::new, |accept| {
        accept
            .split(',')
            .map(|t| {
                t.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            })
            .collect()
    })
}

/// HTTP status for a response: modern errors have their own statuses, the rest ride on 200.
fn status_for(version: Version, response: &Response) -> u16 {
    match response.error_code() {
        Some(jsonrpc::UNSUPPORTED_PROTOCOL_VERSION | jsonrpc::HEADER_MISMATCH) => 400,
        Some(jsonrpc::METHOD_NOT_FOUND) if version.is_modern() => 404,
        _ => 200,
    }
}

/// Encodes responses (already serialized) as JSON, an array for a batch, or as SSE `message`
/// events.
fn encode(status: u16, responses: Vec<Response>, format: Format, batch: bool) -> Reply {
    let (content_type, body) = match format {
        Format::Json if batch => {
            let texts: Vec<&str> = responses.iter().map(Response::as_str).collect();
            ("application/json", format!("[{}]", texts.join(",")))
        }
        Format::Json => {
            let one = responses.into_iter().next();
            (
                "application/json",
                one.map_or_else(|| "null".into(), Response::into_string),
            )
        }
        Format::Sse => {
            let size = responses.iter().map(|r| r.as_str().len() + 24).sum();
            let mut body = String::with_capacity(size);
            for r in &responses {
                body.push_str("event: message\ndata: ");
                body.push_str(r.as_str());
                body.push_str("\n\n");
            }
            ("text/event-stream", body)
        }
    };
    let mut headers = vec![("Content-Type".into(), content_type.into())];
    if format == Format::Sse {
        headers.push(("X-Accel-Buffering".into(), "no".into()));
    }
    Reply {
        status,
        headers,
        body: body.into_bytes(),
    }
}

#[cfg(test)]
mod tests;
