//! The shared state every worker reads: settings, the MCP handler, the SSE hub and auth.

use super::error_reply::HttpError;
use super::request::HttpRequest;
use super::sse::Hub;
use crate::auth::{AuthError, Authenticator, Principal};
use crate::config::ServerSettings;
use crate::kb::{KbIdentity, WebIdentity};
use crate::mcp::{Caller, Mcp, SignedIn};
use std::sync::Arc;
use std::time::Instant;

/// Everything a request handler needs; shared behind an `Arc`.
pub struct App {
    /// HTTP settings.
    pub settings: ServerSettings,
    /// The MCP handler over the knowledge base.
    pub mcp: Mcp,
    /// Open legacy SSE streams.
    pub hub: Hub,
    /// The token validator, when ENABLE_AUTH is on.
    pub auth: Option<Authenticator>,
    /// The knowledge base's id and region, for health and logs.
    pub identity: KbIdentity,
    /// When the process started serving.
    pub started: Instant,
}

impl App {
    /// Whom tool calls run for, from the auth gate's principal (both MCP transports). The only
    /// place that turns a validated token into what the knowledge base sees: the address
    /// `auth::acl` verified (or why there is none) and the token wrapped for the user's own
    /// AWS session.
    pub fn caller(&self, principal: Option<&Principal>) -> Caller {
        let (Some(_), Some(p)) = (&self.auth, principal) else {
            return Caller::Anonymous;
        };
        let acl = match (&p.acl_user, &p.acl_unverified) {
            (Some(email), _) => Ok(email.clone()),
            (None, Some(why)) => Err(why.clone()),
            (None, None) => Err("it names no user".to_string()),
        };
        // Always present for a signed-in caller, so per-user sessions can never quietly fall
        // back to the server's role: a token without an oid fails in `aws::user_sessions`.
        let identity = web_identity(p).map(Arc::new);
        Caller::User(Box::new(SignedIn { acl, identity }))
    }

    /// The 401 (or 403/503) with the usual `WWW-Authenticate` challenge for `error`, so the
    /// client signs in again; shared by the auth gate and by tool calls whose token AWS
    /// refused.
    pub fn challenge(&self, req: &HttpRequest, error: AuthError) -> HttpError {
        let base = self.base_url(req);
        let metadata = format!("{base}/.well-known/oauth-protected-resource/mcp");
        let scope = self
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

    /// Assembles the state.
    pub fn new(
        settings: ServerSettings,
        mcp: Mcp,
        identity: KbIdentity,
        auth: Option<Authenticator>,
    ) -> App {
        // A stream must take each write within one keep-alive period, or it is closed.
        let hub = Hub::new(settings.max_sse_sessions, settings.sse_keepalive);
        App {
            settings,
            mcp,
            hub,
            auth,
            identity,
            started: Instant::now(),
        }
    }

    /// The base URL clients reach us at: PUBLIC_BASE_URL, else derived from the request's
    /// Host, or from X-Forwarded-Proto/X-Forwarded-Host when TRUST_FORWARDED_HEADERS is on
    /// (a load balancer that terminates TLS sets them; anyone else could forge them).
    pub fn base_url(&self, req: &HttpRequest) -> String {
        if let Some(base) = &self.settings.public_base_url {
            return base.clone();
        }
        let first = |v: &str| v.split(',').next().unwrap_or("").trim().to_string();
        let forwarded = |name: &str| {
            self.settings
                .trust_forwarded
                .then(|| req.header(name))
                .flatten()
        };
        let proto = forwarded("x-forwarded-proto")
            .map(first)
            .filter(|p| p == "https" || p == "http")
            .unwrap_or_else(|| "http".to_string());
        let host = forwarded("x-forwarded-host")
            .or_else(|| req.header("host"))
            .map(first)
            .filter(|h| valid_host(h))
            .unwrap_or_else(|| format!("localhost:{}", self.settings.port));
        format!("{proto}://{host}")
    }
}

/// The start-up warning for auth without PUBLIC_BASE_URL, if it applies: the URLs in the
/// OAuth metadata and 401 challenges then come from each request's headers.
pub fn base_url_warning(settings: &super::ServerSettings, auth_on: bool) -> Option<String> {
    if !auth_on || settings.public_base_url.is_some() {
        return None;
    }
    let source = if settings.trust_forwarded {
        "the Host, X-Forwarded-Host and X-Forwarded-Proto headers (TRUST_FORWARDED_HEADERS=true)"
    } else {
        "the Host header, over http (X-Forwarded-* are ignored: TRUST_FORWARDED_HEADERS=false)"
    };
    Some(format!(
        "ENABLE_AUTH=true but PUBLIC_BASE_URL is not set: the OAuth metadata and WWW-Authenticate \
         challenges name a base URL taken from {source} of each request; \
         set PUBLIC_BASE_URL to the https URL claude.ai uses, e.g. https://mcp.example.com"
    ))
}

/// Host header values we are willing to put into URLs we hand out.
fn valid_host(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 255
        && h.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
}

/// The validated token and the claims that key a per-user AWS session; `None` only for a
/// principal not made from a token. A missing `oid` or `tid` stays empty, so the session
/// request fails (closed) rather than being skipped. Here, above both `auth` and `aws`, so
/// neither needs the other.
pub fn web_identity(p: &Principal) -> Option<WebIdentity> {
    (!p.token.reveal().is_empty()).then(|| {
        WebIdentity::new(
            p.token.reveal(),
            &p.issuer,
            p.tid.as_deref().unwrap_or(""),
            p.oid.as_deref().unwrap_or(""),
            p.upn.as_deref(),
            p.email.as_deref(),
            p.expires_at,
        )
    })
}
