//! The OAuth endpoints on the MCP origin: discovery metadata, `/authorize` and `/token`
//! (a proxy to Entra ID), and stateless client registration at `/register`. All are 404 when
//! auth is off; none is behind the auth gate.

use super::app::App;
use super::request::HttpRequest;
use super::response::Reply;
use crate::auth::{oauth, register};

/// Answers a `/.well-known/*`, `/authorize`, `/token` or `/register` request.
pub fn handle(app: &App, req: &HttpRequest) -> Reply {
    let Some(auth) = &app.auth else {
        return Reply::error(
            404,
            "not_found",
            "Authentication is disabled on this server (ENABLE_AUTH=false)",
        );
    };
    let settings = auth.settings();
    let base = app.base_url(req);
    let get_only = |reply: Reply| match req.method.as_str() {
        "GET" | "HEAD" => reply,
        _ => Reply::error(405, "method_not_allowed", "use GET").with_header("Allow", "GET"),
    };
    match req.path.trim_end_matches('/') {
        "/.well-known/oauth-protected-resource" | "/.well-known/oauth-protected-resource/mcp" => {
            get_only(Reply::json(
                200,
                &oauth::protected_resource_metadata(settings, &base),
            ))
        }
        "/.well-known/oauth-authorization-server" | "/.well-known/openid-configuration" => {
            get_only(Reply::json(
                200,
                &oauth::authorization_server_metadata(settings, &base),
            ))
        }
        "/authorize" => get_only(match oauth::authorize(settings, &req.query) {
            Ok(location) => Reply::empty(302).with_header("Location", location),
            Err(e) => Reply::json(e.status, &e.body()),
        }),
        "/token" if req.method == "POST" => {
            let reply = oauth::token(
                settings,
                req.header("content-type"),
                req.header("authorization"),
                &req.body,
            );
            Reply {
                status: reply.status,
                headers: vec![
                    ("Content-Type".into(), "application/json".into()),
                    ("Pragma".into(), "no-cache".into()),
                ],
                body: reply.body,
            }
        }
        "/token" => Reply::error(405, "invalid_request", "use POST with a form body")
            .with_header("Allow", "POST"),
        "/register" if req.method == "POST" => {
            match register::register(settings, req.header("content-type"), &req.body) {
                Ok(answer) => Reply::json(201, &answer),
                Err(e) => Reply::json(e.status, &e.body()),
            }
        }
        "/register" => Reply::error(
            405,
            "invalid_request",
            "use POST with a JSON body (RFC 7591)",
        )
        .with_header("Allow", "POST"),
        _ => Reply::error(404, "not_found", "No such discovery document"),
    }
}
