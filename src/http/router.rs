//! Routing: origin check, CORS preflight, the auth gate, then the handler for each path.
//!
//! Open paths: `/health`, `/.well-known/*`, `/authorize`, `/token` and preflights. MCP paths
//! (`/mcp`, `/mcp/`, `/`, `/sse`, `/messages`) pass the auth gate first when auth is on.

use super::app::App;
use super::cors::{self, Origin};
use super::error_reply::HttpError;
use super::request::HttpRequest;
use super::response::{Action, Reply};
use super::{health, legacy, oauth_routes, streamable};
use crate::auth::{AuthError, Principal};
use crate::mcp::protocol::Version;
use crate::mcp::Outcome;

/// A routed request: what to do, the CORS origin to echo, and what to log.
pub struct Routed {
    /// The action.
    pub action: Action,
    /// The allowed origin to echo in CORS headers, if any.
    pub cors_origin: Option<String>,
    /// Access-log details.
    pub log: LogInfo,
}

/// What the access log says about a request beyond method, path and status; filled in by
/// the router and the handlers, written out by `server.rs`.
#[derive(Debug, Default)]
pub struct LogInfo {
    /// The authenticated user.
    pub principal: Option<Principal>,
    /// MCP method, tool and results.
    pub outcome: Outcome,
    /// Protocol revision used.
    pub version: Option<Version>,
    /// Legacy SSE session id.
    pub session: Option<String>,
}

/// The auth gate's verdict on a request: its principal (none with auth off), or the refusal.
pub type Verdict = Result<Option<Principal>, HttpError>;

/// True for the paths behind the auth gate (the MCP paths `dispatch` gates).
pub fn is_protected(path: &str) -> bool {
    matches!(
        path,
        "/mcp" | "/mcp/" | "/" | "/sse" | "/sse/" | "/messages" | "/messages/"
    )
}

/// The gate's verdict from the headers alone, so that a refused request's body is never
/// read: `None` when there is nothing to check yet (auth off, open path, or a preflight).
pub fn check_head(app: &App, req: &HttpRequest) -> Option<Verdict> {
    (app.auth.is_some() && req.method != "OPTIONS" && is_protected(&req.path))
        .then(|| gate(app, req))
}

/// Routes one request whose gate verdict may already be known (from [`check_head`]).
pub fn route_checked(app: &App, req: &HttpRequest, verdict: Option<Verdict>) -> Routed {
    let mut log = LogInfo::default();
    let cors_origin = match cors::check(req, &app.settings) {
        Origin::Absent => None,
        Origin::Allowed(o) => Some(o),
        Origin::Denied(o) if req.path != "/health" => {
            return Routed {
                action: Action::Reply(HttpError::OriginDenied(o).into()),
                cors_origin: None,
                log,
            };
        }
        Origin::Denied(_) => None,
    };
    let action = if req.method == "OPTIONS" {
        let mut reply = Reply::empty(204);
        reply.headers.extend(cors::preflight_headers(req));
        Action::Reply(reply)
    } else {
        Action::Reply(match dispatch(app, req, &mut log, verdict) {
            Ok(action) => {
                return Routed {
                    action,
                    cors_origin,
                    log,
                }
            }
            Err(e) => e.into(),
        })
    };
    Routed {
        action,
        cors_origin,
        log,
    }
}

fn dispatch(
    app: &App,
    req: &HttpRequest,
    log: &mut LogInfo,
    verdict: Option<Verdict>,
) -> Result<Action, HttpError> {
    let method = req.method.as_str();
    let path = req.path.as_str();
    match path {
        "/health" | "/health/" => match method {
            "GET" | "HEAD" => Ok(Action::Reply(health::reply(app))),
            _ => Err(HttpError::method_not_allowed("GET, HEAD")),
        },
        p if p.starts_with("/.well-known/") || matches!(p, "/authorize" | "/token" | "/register") => {
            oauth_routes::handle(app, req).map(Action::Reply)
        }
        "/mcp" | "/mcp/" | "/" => {
            log.principal = verdict.unwrap_or_else(|| gate(app, req))?;
            match method {
                "POST" => {
                    let caller = app.caller(log.principal.as_ref());
                    let scope = scope_of(log.principal.as_ref());
                    match streamable::post_routed(req, &app.mcp, &caller, &scope) {
                        streamable::Posted::Handled(mut handled) => {
                            let reauth = handled.outcome.reauthenticate.take();
                            log.outcome = handled.outcome;
                            log.version = handled.version;
                            if let Some(why) = reauth {
                                // AWS refused the token itself: the usual challenge, so the
                                // client signs in again, instead of a tool error it cannot act on.
                                return Err(app.challenge(req, AuthError::InvalidToken(why)));
                            }
                            Ok(Action::Reply(handled.reply))
                        }
                        streamable::Posted::Long(call) => {
                            log.version = Some(call.version);
                            Ok(Action::Long(call, None))
                        }
                    }
                }
                // A legacy (2024-11-05) client given the root URL opens its stream with GET.
                "GET" if path == "/" && legacy::is_legacy_open(req) => legacy::open(app, log),
                "HEAD" => Ok(Action::Reply(Reply::empty(200))),
                _ => Err(HttpError::method_not_allowed("POST, OPTIONS")),
            }
        }
        "/sse" | "/sse/" => {
            log.principal = verdict.unwrap_or_else(|| gate(app, req))?;
            match method {
                "GET" => legacy::open(app, log),
                // Streamable HTTP clients POST first and fall back to GET on 405.
                _ => Err(HttpError::method_not_allowed("GET")),
            }
        }
        "/messages" | "/messages/" => {
            log.principal = verdict.unwrap_or_else(|| gate(app, req))?;
            match method {
                "POST" => legacy::post(app, req, log),
                _ => Err(HttpError::method_not_allowed("POST")),
            }
        }
        _ => Err(HttpError::NotFound(format!(
            "No such endpoint {path}: MCP is served at /mcp (or /sse for the legacy transport), health at /health"
        ))),
    }
}

/// Whose long calls a `notifications/cancelled` on `/mcp` may cancel: the token's tenant and
/// object id (or user name), or everybody's with auth off.
fn scope_of(principal: Option<&Principal>) -> String {
    match principal {
        None => "mcp".into(),
        Some(p) => match (&p.tid, &p.oid) {
            (Some(tid), Some(oid)) => format!("mcp:{tid}/{oid}"),
            _ => format!("mcp:user:{}", p.user),
        },
    }
}

/// With auth on, a request needs a valid bearer token; otherwise 401/403 with a challenge.
fn gate(app: &App, req: &HttpRequest) -> Verdict {
    let Some(auth) = &app.auth else {
        return Ok(None);
    };
    match auth.authenticate(req.header("authorization")) {
        Ok(principal) => Ok(Some(principal)),
        Err(e) => {
            log::info!(
                "{}",
                crate::log::fields(
                    "request refused by auth",
                    &[
                        ("request_id", Some(crate::log::Field::Str(&req.request_id))),
                        (
                            "status",
                            Some(crate::log::Field::Num(u64::from(e.status())))
                        ),
                        ("reason", Some(crate::log::Field::Str(&e.to_string()))),
                    ]
                )
            );
            Err(app.challenge(req, e))
        }
    }
}
