//! Whom tool calls run for, from the auth gate's principal: shared by both MCP transports.
//!
//! The only place that turns a validated token into what the knowledge base sees: the address
//! `auth::acl` verified (or why there is none) and the token wrapped for the user's own AWS
//! session.

use super::app::App;
use super::error_reply::HttpError;
use super::request::HttpRequest;
use crate::auth::{AuthError, Principal};
use crate::mcp::{Caller, SignedIn};
use std::sync::Arc;

/// Whom tool calls run for: the validated token's verified identity, if it has one.
pub fn caller(app: &App, principal: Option<&Principal>) -> Caller {
    let (Some(_), Some(p)) = (&app.auth, principal) else {
        return Caller::Anonymous;
    };
    let acl = match (&p.acl_user, &p.acl_unverified) {
        (Some(email), _) => Ok(email.clone()),
        (None, Some(why)) => Err(why.clone()),
        (None, None) => Err("it names no user".to_string()),
    };
    // Always present for a signed-in caller, so per-user sessions can never quietly fall back
    // to the server's role: a token without an oid fails in `aws::user_sessions` instead.
    let identity = p.web_identity().map(Arc::new);
    Caller::User(Box::new(SignedIn { acl, identity }))
}

/// The 401 (or 403/503) with the usual `WWW-Authenticate` challenge for `error`, so the
/// client signs in again; shared by the auth gate and by tool calls whose token AWS refused.
pub fn challenge(app: &App, req: &HttpRequest, error: AuthError) -> HttpError {
    let base = app.base_url(req);
    let metadata = format!("{base}/.well-known/oauth-protected-resource/mcp");
    let scope = app
        .auth
        .as_ref()
        .map(|a| a.settings().scopes.join(" "))
        .unwrap_or_default();
    HttpError::Auth {
        error,
        metadata,
        scope,
    }
}
