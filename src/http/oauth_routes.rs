//! The OAuth endpoints on the MCP origin: discovery metadata, `/authorize` and `/token`
//! (a proxy to Entra ID), and stateless client registration at `/register`. All are 404 when
//! auth is off; none is behind the auth gate.

use super::app::App;
use super::error_reply::HttpError;
use super::request::HttpRequest;
use super::response::Reply;
use crate::auth::{oauth, register};

/// Answers a `/.well-known/*`, `/authorize`, `/token` or `/register` request.
pub fn handle(app: &App, req: &HttpRequest) -> Result<Reply, HttpError> {
    let Some(auth) = &app.auth else {
        return Err(HttpError::NotFound(
            "Authentication is disabled on this server (ENABLE_AUTH=false)".into(),
        ));
    };
    let settings = auth.settings();
    let base = app.base_url(req);
    let get_only = |reply: Result<Reply, HttpError>| match req.method.as_str() {
        "GET" | "HEAD" => reply,
        _ => Err(HttpError::MethodNotAllowed {
            allow: "GET",
            message: "use GET".into(),
        }),
    };
    match req.path.trim_end_matches('/') {
        "/.well-known/oauth-protected-resource" | "/.well-known/oauth-protected-resource/mcp" => {
            get_only(Ok(Reply::json(
                200,
                &oauth::protected_resource_metadata(settings, &base),
            )))
        }
        "/.well-known/oauth-authorization-server" | "/.well-known/openid-configuration" => {
            get_only(Ok(Reply::json(
                200,
                &oauth::authorization_server_metadata(settings, &base),
            )))
        }
        "/authorize" => get_only(
            oauth::authorize(settings, &req.query)
                .map(|location| Reply::empty(302).with_header("Location", location))
                .map_err(HttpError::from),
        ),
        "/token" if req.method == "POST" => {
            let reply = oauth::token(
                settings,
                req.header("content-type"),
                req.header("authorization"),
                &req.body,
            );
            // Entra's own answer, error or not, passes through with its status.
            let mut headers = vec![
                ("Content-Type".into(), "application/json".into()),
                ("Pragma".into(), "no-cache".into()),
            ];
            // RFC 6749 §5.2: a 401 to a client that used HTTP Basic names the scheme.
            if reply.status == 401 && req.header("authorization").is_some() {
                headers.push(("WWW-Authenticate".into(), "Basic realm=\"token\"".into()));
            }
            Ok(Reply {
                status: reply.status,
                headers,
                body: reply.body,
            })
        }
        "/token" => Err(HttpError::OAuthMethod {
            allow: "POST",
            message: "use POST with a form body",
        }),
        "/register" if req.method == "POST" => {
            let answer = register::register(settings, req.header("content-type"), &req.body)?;
            Ok(Reply::json(201, &answer))
        }
        "/register" => Err(HttpError::OAuthMethod {
            allow: "POST",
            message: "use POST with a JSON body (RFC 7591)",
        }),
        _ => Err(HttpError::NotFound("No such discovery document".into())),
    }
}
