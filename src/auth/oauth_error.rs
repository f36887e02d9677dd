//! An OAuth error this server answers itself, shaped as RFC 6749 §5.2 (and RFC 7591 §3.2.2
//! for registration).
//!
//! Its own file because the proxy (oauth.rs), client registration (register.rs) and the
//! client-id mapping (client_id.rs) all produce it, and none of them should import another
//! just for the type. Descriptions say what to do; they never carry codes, tokens or secrets.

use std::fmt;

use serde_json::{json, Value};

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
