//! Every way an HTTP request can fail, and the one mapping from each failure to its reply.
//!
//! Handlers return `Result<_, HttpError>`; the router and the server turn the error into a
//! [`Reply`] here and nowhere else, so a status code, error code or header for a failure is
//! decided in one place (rouille's `try_or_400`). Messages say what to do; they never carry
//! tokens, secrets or upstream bodies.

use super::request::BodyError;
use super::response::Reply;
use super::sse::SseError;
use crate::auth::{AuthError, OAuthError};
use crate::mcp::jsonrpc::{self, RpcError};
use serde_json::json;
use std::fmt;

/// Why a request was not served.
#[derive(Debug)]
#[non_exhaustive]
pub enum HttpError {
    /// A JSON-RPC error, answered with this HTTP status (transport and protocol-revision checks).
    Rpc(u16, RpcError),
    /// The request body could not be read; the connection closes after the answer.
    Body(BodyError),
    /// The auth gate refused the token; the challenge names the metadata URL and scopes.
    Auth {
        /// Why the token was refused.
        error: AuthError,
        /// The protected-resource metadata URL for `WWW-Authenticate`.
        metadata: String,
        /// The scopes to ask for, space-separated.
        scope: String,
    },
    /// An OAuth endpoint refused the request (RFC 6749 §5.2 / RFC 7591 §3.2.2 body).
    OAuth(OAuthError),
    /// An OAuth endpoint got the wrong method; OAuth clients expect `invalid_request`.
    OAuthMethod {
        /// The methods allowed.
        allow: &'static str,
        /// What to send instead.
        message: &'static str,
    },
    /// The origin is not in CORS_ALLOWED_ORIGINS.
    OriginDenied(String),
    /// The method is not served on this path.
    MethodNotAllowed {
        /// The methods allowed.
        allow: &'static str,
        /// What to send instead.
        message: String,
    },
    /// No such path, document or session; the text says where to go instead.
    NotFound(String),
    /// A required parameter is missing or malformed.
    BadRequest(String),
    /// The caller may not do this; the text says what would be allowed.
    Forbidden(&'static str),
    /// No legacy SSE stream could be opened.
    Sse(SseError),
    /// No worker or connection slot is free.
    Overloaded(String),
    /// A handler panicked; the server logged it.
    Internal,
}

impl HttpError {
    /// A 405 from an MCP or health path, naming the methods allowed.
    pub fn method_not_allowed(allow: &'static str) -> HttpError {
        HttpError::MethodNotAllowed {
            allow,
            message: format!("Method not allowed here; use {allow}"),
        }
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::Rpc(_, e) => f.write_str(&e.message),
            HttpError::Body(e) => e.fmt(f),
            HttpError::Auth { error, .. } => error.fmt(f),
            HttpError::OAuth(e) => f.write_str(&e.description),
            HttpError::OAuthMethod { message, .. } => f.write_str(message),
            HttpError::OriginDenied(o) => write!(
                f,
                "Forbidden: origin {o} is not allowed; add it to CORS_ALLOWED_ORIGINS if it should be"
            ),
            HttpError::MethodNotAllowed { message, .. } => f.write_str(message),
            HttpError::NotFound(m) | HttpError::BadRequest(m) | HttpError::Overloaded(m) => {
                f.write_str(m)
            }
            HttpError::Forbidden(m) => f.write_str(m),
            HttpError::Sse(e) => e.fmt(f),
            HttpError::Internal => f.write_str("internal error; the server logged it"),
        }
    }
}

impl std::error::Error for HttpError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            HttpError::Body(e) => Some(e),
            HttpError::Auth { error, .. } => Some(error),
            HttpError::OAuth(e) => Some(e),
            HttpError::Sse(e) => Some(e),
            _ => None,
        }
    }
}

impl From<BodyError> for HttpError {
    fn from(e: BodyError) -> HttpError {
        HttpError::Body(e)
    }
}

impl From<OAuthError> for HttpError {
    fn from(e: OAuthError) -> HttpError {
        HttpError::OAuth(e)
    }
}

impl From<SseError> for HttpError {
    fn from(e: SseError) -> HttpError {
        HttpError::Sse(e)
    }
}

impl From<HttpError> for Reply {
    fn from(e: HttpError) -> Reply {
        let text = e.to_string();
        match e {
            HttpError::Rpc(status, error) => Reply::json(status, &error.to_json()),
            HttpError::Body(body) => {
                let (status, code) = match body {
                    BodyError::TooLarge(_) | BodyError::TooComplex(_) => (413, "invalid_request"),
                    BodyError::TooSlow => (408, "invalid_request"),
                    BodyError::Busy => (503, "unavailable"),
                    BodyError::Io(_) => (400, "invalid_request"),
                };
                let reply = Reply::error(status, code, &text).with_header("Connection", "close");
                if status == 503 {
                    reply.with_header("Retry-After", "1")
                } else {
                    reply
                }
            }
            HttpError::Auth {
                error,
                metadata,
                scope,
            } => Reply::json(error.status(), &error.body()).with_header(
                "WWW-Authenticate",
                error.www_authenticate(&metadata, &scope),
            ),
            HttpError::OAuth(e) => Reply::json(e.status, &e.body()),
            HttpError::OAuthMethod { allow, .. } => {
                Reply::error(405, "invalid_request", &text).with_header("Allow", allow)
            }
            // A JSON-RPC shape, because the browser-side MCP client that sent it reads one.
            HttpError::OriginDenied(_) => Reply::json(
                403,
                &json!({
                    "jsonrpc": "2.0",
                    "error": { "code": jsonrpc::INVALID_REQUEST, "message": text },
                }),
            ),
            HttpError::MethodNotAllowed { allow, .. } => {
                Reply::error(405, "method_not_allowed", &text).with_header("Allow", allow)
            }
            HttpError::NotFound(_) => Reply::error(404, "not_found", &text),
            HttpError::BadRequest(_) => Reply::error(400, "invalid_request", &text),
            HttpError::Forbidden(_) => Reply::error(403, "forbidden", &text),
            HttpError::Sse(_) => {
                Reply::error(503, "unavailable", &text).with_header("Retry-After", "5")
            }
            HttpError::Overloaded(_) => Reply::error(503, "unavailable", &text)
                .with_header("Retry-After", "1")
                .with_header("Connection", "close"),
            HttpError::Internal => Reply::error(500, "internal_error", &text),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn body(r: &Reply) -> Value {
        serde_json::from_slice(&r.body).unwrap()
    }

    #[test]
    fn body_errors_close_the_connection_and_busy_ones_say_when_to_retry() {
        let r = Reply::from(HttpError::from(BodyError::TooLarge(10)));
        assert_eq!((r.status, r.header("Connection")), (413, Some("close")));
        assert_eq!(r.header("Retry-After"), None);
        assert!(body(&r)["error_description"]
            .as_str()
            .unwrap()
            .contains("MAX_BODY_BYTES"));
        let r = Reply::from(HttpError::from(BodyError::Busy));
        assert_eq!((r.status, r.header("Retry-After")), (503, Some("1")));
        assert_eq!(Reply::from(HttpError::Body(BodyError::TooSlow)).status, 408);
    }

    #[test]
    fn auth_refusals_carry_their_status_and_challenge() {
        let r = Reply::from(HttpError::Auth {
            error: AuthError::InsufficientScope("needs role X".into()),
            metadata: "https://h/.well-known/oauth-protected-resource/mcp".into(),
            scope: "api://c/.default".into(),
        });
        assert_eq!(r.status, 403);
        assert_eq!(body(&r)["error"], "insufficient_scope");
        let challenge = r.header("WWW-Authenticate").unwrap();
        assert!(
            challenge.contains("resource_metadata=\"https://h/"),
            "{challenge}"
        );
        assert!(
            challenge.contains("error=\"insufficient_scope\""),
            "{challenge}"
        );
    }

    #[test]
    fn rpc_errors_keep_their_status_and_json_rpc_body() {
        let e = RpcError::new(None, jsonrpc::PARSE_ERROR, "Parse error: x");
        let r = Reply::from(HttpError::Rpc(415, e));
        assert_eq!(r.status, 415);
        assert_eq!(body(&r)["error"]["code"], jsonrpc::PARSE_ERROR);
        assert_eq!(body(&r)["id"], Value::Null);
    }

    #[test]
    fn method_errors_name_the_allowed_methods() {
        let r = Reply::from(HttpError::method_not_allowed("GET, HEAD"));
        assert_eq!((r.status, r.header("Allow")), (405, Some("GET, HEAD")));
        assert_eq!(body(&r)["error"], "method_not_allowed");
        let r = Reply::from(HttpError::OAuthMethod {
            allow: "POST",
            message: "use POST",
        });
        assert_eq!((r.status, r.header("Allow")), (405, Some("POST")));
        assert_eq!(body(&r)["error"], "invalid_request");
    }

    #[test]
    fn origin_denials_are_json_rpc_shaped_and_name_the_setting() {
        let r = Reply::from(HttpError::OriginDenied("https://evil.example".into()));
        assert_eq!(r.status, 403);
        assert_eq!(body(&r)["error"]["code"], jsonrpc::INVALID_REQUEST);
        let msg = body(&r)["error"]["message"].as_str().unwrap().to_string();
        assert!(msg.contains("https://evil.example") && msg.contains("CORS_ALLOWED_ORIGINS"));
    }

    #[test]
    fn wrapped_errors_are_reachable_through_source() {
        use std::error::Error;
        let io = std::io::Error::new(std::io::ErrorKind::BrokenPipe, "gone");
        let e = HttpError::from(BodyError::Io(io));
        let body = e.source().expect("the body error");
        assert!(body.source().is_some(), "and the I/O error under it");
        assert!(HttpError::Internal.source().is_none());
        assert!(HttpError::from(SseError::Closing).source().is_some());
    }
}
