//! A signed-in user's validated Entra access token, as the per-user session cache needs it:
//! the exact token for STS and the claims that key the cache.
//!
//! Built only by the HTTP layer from a token `auth` has validated. Holds the raw token:
//! `Debug` is redacted and nothing here is ever logged.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The token and who it names.
#[derive(Clone, PartialEq, Eq)]
pub struct WebIdentity {
    token: String,
    /// `iss`.
    pub issuer: String,
    /// `tid`.
    pub tenant: String,
    /// `oid`: the user's immutable object id (the `RoleSessionName` suffix).
    pub object_id: String,
    /// `upn`, if any: a rename starts a new session.
    pub upn: Option<String>,
    /// `email`, if any: a change starts a new session.
    pub email: Option<String>,
    /// `exp`: no session outlives the token.
    pub expires: SystemTime,
}

impl WebIdentity {
    /// A validated token and its claims (`exp` in seconds since the epoch).
    pub fn new(
        token: &str,
        issuer: &str,
        tenant: &str,
        object_id: &str,
        upn: Option<&str>,
        email: Option<&str>,
        exp: u64,
    ) -> WebIdentity {
        WebIdentity {
            token: token.to_string(),
            issuer: issuer.to_string(),
            tenant: tenant.to_string(),
            object_id: object_id.to_string(),
            upn: upn.map(str::to_string),
            email: email.map(str::to_string),
            expires: UNIX_EPOCH + Duration::from_secs(exp),
        }
    }

    /// The token, for the STS request body only.
    pub fn token(&self) -> &str {
        &self.token
    }
}

impl fmt::Debug for WebIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebIdentity(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_nothing_of_the_token_or_the_user() {
        let w = WebIdentity::new("eyJsecret", "iss", "tid", "oid-1", Some("a@b.c"), None, 10);
        let d = format!("{w:?}");
        assert!(
            !d.contains("eyJ") && !d.contains("a@b.c") && !d.contains("oid-1"),
            "{d}"
        );
        assert_eq!(w.token(), "eyJsecret");
        assert_eq!(w.expires, UNIX_EPOCH + Duration::from_secs(10));
    }
}
