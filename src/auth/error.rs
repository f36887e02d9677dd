//! The errors `auth` answers with, as data the HTTP layer renders: why a request's bearer
//! token was refused ([`AuthError`], RFC 6750), and an OAuth error this server answers itself
//! ([`OAuthError`], RFC 6749 §5.2 and RFC 7591 §3.2.2), which the proxy (oauth.rs), client
//! registration (register.rs) and the client-id mapping (client_id.rs) all produce.
//!
//! Owns the status codes, error codes, `WWW-Authenticate` values and JSON bodies. Must not
//! carry token contents, codes or secrets: descriptions are fixed texts, name claims, or say
//! what to do, never values.

use serde_json::{json, Value};
use std::fmt;

/// A refused bearer token (or a missing one).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthError {
    /// No `Authorization` header, or `Bearer` with nothing after it.
    MissingToken,
    /// The header is not a `Bearer` credential (e.g. `Basic …`): 400.
    InvalidRequest(String),
    /// Signature, claims or format wrong: 401; the text is the whole description.
    InvalidToken(String),
    /// A valid token lacking a required role or scope: 403.
    InsufficientScope(String),
    /// No signing keys could ever be fetched from Entra ID: 503, retry later.
    KeysUnavailable,
}

impl AuthError {
    /// The HTTP status to answer with.
    pub fn status(&self) -> u16 {
        match self {
            AuthError::MissingToken | AuthError::InvalidToken(_) => 401,
            AuthError::InvalidRequest(_) => 400,
            AuthError::InsufficientScope(_) => 403,
            AuthError::KeysUnavailable => 503,
        }
    }

    /// The RFC 6750 error code (`temporarily_unavailable` for a key outage).
    pub fn error_code(&self) -> &'static str {
        match self {
            AuthError::MissingToken | AuthError::InvalidToken(_) => "invalid_token",
            AuthError::InvalidRequest(_) => "invalid_request",
            AuthError::InsufficientScope(_) => "insufficient_scope",
            AuthError::KeysUnavailable => "temporarily_unavailable",
        }
    }

    /// The `WWW-Authenticate` value; a missing token gets no `error` (RFC 6750 §3.1).
    pub fn www_authenticate(&self, resource_metadata_url: &str, scope: &str) -> String {
        let mut out = format!(
            "Bearer resource_metadata=\"{}\", scope=\"{}\"",
            quote(resource_metadata_url),
            quote(scope)
        );
        if *self != AuthError::MissingToken {
            out.push_str(&format!(
                ", error=\"{}\", error_description=\"{}\"",
                self.error_code(),
                quote(&self.to_string())
            ));
        }
        out
    }

    /// The JSON body: `{"error": …, "error_description": …}`.
    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({ "error": self.error_code(), "error_description": self.to_string() })
    }
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthError::MissingToken => f.write_str("Missing bearer token"),
            AuthError::InvalidRequest(m)
            | AuthError::InvalidToken(m)
            | AuthError::InsufficientScope(m) => f.write_str(m),
            AuthError::KeysUnavailable => f.write_str("Failed to fetch signing keys from Azure AD"),
        }
    }
}

impl std::error::Error for AuthError {}

/// Escapes a value for an HTTP quoted-string and drops characters a header cannot hold.
fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_ascii_graphic() || c == ' ' => out.push(c),
            _ => out.push('?'),
        }
    }
    out
}

/// An OAuth error we answer ourselves, shaped as RFC 6749 §5.2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    /// HTTP status (400 for request errors, 502 when Entra is unreachable).
    pub status: u16,
    /// RFC 6749 error code.
    pub error: &'static str,
    /// What is wrong and what to do.
    pub description: String,
}

impl OAuthError {
    /// A 400 with this RFC 6749 (or RFC 7591) error code.
    pub(crate) fn bad(error: &'static str, description: impl Into<String>) -> OAuthError {
        OAuthError {
            status: 400,
            error,
            description: description.into(),
        }
    }

    /// The JSON body `{"error": …, "error_description": …}`.
    pub fn body(&self) -> Value {
        json!({ "error": self.error, "error_description": self.description })
    }
}

impl fmt::Display for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.error, self.status, self.description)
    }
}

impl std::error::Error for OAuthError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_codes() {
        let cases = [
            (AuthError::MissingToken, 401, "invalid_token"),
            (
                AuthError::InvalidRequest("x".into()),
                400,
                "invalid_request",
            ),
            (AuthError::InvalidToken("x".into()), 401, "invalid_token"),
            (
                AuthError::InsufficientScope("x".into()),
                403,
                "insufficient_scope",
            ),
            (AuthError::KeysUnavailable, 503, "temporarily_unavailable"),
        ];
        for (err, status, code) in cases {
            assert_eq!((err.status(), err.error_code()), (status, code), "{err}");
        }
    }

    #[test]
    fn challenge_omits_error_for_missing_token() {
        let h = AuthError::MissingToken.www_authenticate(
            "https://h/.well-known/oauth-protected-resource/mcp",
            "api://c/.default",
        );
        assert_eq!(
            h,
            "Bearer resource_metadata=\"https://h/.well-known/oauth-protected-resource/mcp\", scope=\"api://c/.default\""
        );
    }

    #[test]
    fn challenge_quotes_description() {
        let h = AuthError::InvalidToken("bad \"x\"\n".into()).www_authenticate("u", "s");
        assert!(
            h.ends_with(", error=\"invalid_token\", error_description=\"bad \\\"x\\\"?\""),
            "{h}"
        );
        let body = AuthError::InsufficientScope("Missing role: A".into()).body();
        assert_eq!(body["error"], "insufficient_scope");
        assert_eq!(body["error_description"], "Missing role: A");
    }
}
