//! Whom tool calls run for, from the auth gate's principal: shared by both MCP transports.

use super::app::App;
use crate::auth::Principal;
use crate::mcp::Caller;

/// Whom tool calls run for: the validated token's email for access lists, if it has one.
pub fn caller(app: &App, principal: Option<&Principal>) -> Caller {
    match (&app.auth, principal) {
        (Some(auth), Some(p)) => match &p.acl_user {
            Some(email) => Caller::User(email.clone()),
            None => Caller::NoEmail(auth.settings().acl_claims.clone()),
        },
        _ => Caller::Anonymous,
    }
}
