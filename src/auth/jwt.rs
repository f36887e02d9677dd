//! Bearer-token validation: Entra ID RS256 access tokens for this API, and who sent them.
//!
//! Owns the checks (size, alg, kid, signature, iss, aud, exp/nbf, Graph tokens, required
//! roles/scopes) and the [`Principal`] they yield. Must not fetch keys itself (jwks.rs does),
//! and must never put token contents into an error or a log line.

use std::collections::HashSet;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use serde_json::Value;

use super::jwks::{JwksCache, JwksError};
use super::{crypto, AuthError};
use crate::config::auth::{short_scope, AuthSettings, GRAPH_AUDIENCES};

/// Tokens longer than this are refused before any parsing (Entra's are 1–3 KiB).
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;
/// Clock skew tolerated on `exp` and `nbf`, in seconds.
pub const LEEWAY_SECS: u64 = 60;

/// The caller behind a valid token, for audit logs and access decisions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// preferred_username, upn, unique_name or email; else the oid; else "unknown".
    pub user: String,
    /// Object id of the user (or service principal) in the tenant.
    pub oid: Option<String>,
    /// Tenant id.
    pub tid: Option<String>,
    /// Display name.
    pub name: Option<String>,
    /// Client application id (`azp` in v2, `appid` in v1).
    pub app_id: Option<String>,
    /// Delegated scopes from `scp`.
    pub scopes: Vec<String>,
    /// App roles from `roles`.
    pub roles: Vec<String>,
    /// `"1.0"` or `"2.0"`.
    pub token_version: String,
    /// The email address sent to Bedrock as `userContext.userId`, from the first of
    /// ACL_USER_CLAIMS that passes the gates of `acl.rs`; `None` when none does.
    pub acl_user: Option<String>,
    /// Why `acl_user` is `None`: a sentence naming the claim to add (no claim values).
    pub acl_unverified: Option<String>,
    /// The exact bearer token (for STS AssumeRoleWithWebIdentity); `Debug` is redacted.
    pub token: BearerToken,
    /// `iss`, exactly as signed.
    pub issuer: String,
    /// `exp`, seconds since the epoch.
    pub expires_at: u64,
    /// `upn`, if present (part of the per-user session cache key).
    pub upn: Option<String>,
    /// `email`, if present (part of the per-user session cache key).
    pub email: Option<String>,
}

/// A validated bearer token, kept only to hand to AWS STS. Never printed.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct BearerToken(String);

impl BearerToken {
    /// The token text, for the STS request body only.
    pub fn reveal(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BearerToken(<redacted>)")
    }
}

/// Validates bearer tokens; one instance is shared by all worker threads.
pub struct Authenticator {
    settings: AuthSettings,
    jwks: JwksCache,
    validation: Validation,
}

impl Authenticator {
    /// Builds the validator (installing the ring crypto provider); fetches no keys yet.
    pub fn new(settings: AuthSettings) -> Authenticator {
        Authenticator::with_clock(settings, crate::clock::system())
    }

    /// Like `new`, with the JWKS cache reading time from `clock` (tests move it instead of
    /// sleeping). Token `exp`/`nbf` checks still use the system clock, inside jsonwebtoken.
    pub fn with_clock(settings: AuthSettings, clock: crate::clock::SharedClock) -> Authenticator {
        crypto::install();
        let mut validation = Validation::new(Algorithm::RS256);
        validation.leeway = LEEWAY_SECS;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.validate_aud = true;
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.set_issuer(&settings.issuers());
        validation.set_audience(&settings.audiences);
        let jwks = JwksCache::with_clock(
            settings.jwks_url(),
            settings.jwks_cache_ttl,
            settings.jwks_refetch_interval,
            clock,
        );
        Authenticator {
            settings,
            jwks,
            validation,
        }
    }

    /// The settings this authenticator was built from.
    pub fn settings(&self) -> &AuthSettings {
        &self.settings
    }

    /// JWKS fetch attempts so far (tests and benchmarks).
    pub fn fetch_count(&self) -> u64 {
        self.jwks.fetch_count()
    }

    /// Checks an `Authorization` header value and returns who sent it.
    pub fn authenticate(&self, authorization_header: Option<&str>) -> Result<Principal, AuthError> {
        let token = bearer_token(authorization_header)?;
        if token.len() > MAX_TOKEN_BYTES {
            return Err(failed(&format!(
                "token is larger than {MAX_TOKEN_BYTES} bytes"
            )));
        }
        let (header, payload) = peek(token)?;
        if header.get("nonce").is_some() || is_graph(&payload) {
            return Err(failed(&format!(
                "this is a Microsoft Graph token; request a token for this API (scope {})",
                self.settings.scopes.join(" ")
            )));
        }
        match header.get("alg").and_then(Value::as_str) {
            Some("RS256") => {}
            Some(alg) if alg.eq_ignore_ascii_case("none") => {
                return Err(failed("unsigned tokens (alg none) are not accepted"))
            }
            Some(alg) if alg.len() <= 10 && alg.bytes().all(|b| b.is_ascii_alphanumeric()) => {
                return Err(failed(&format!(
                    "algorithm {alg} is not accepted; only RS256"
                )))
            }
            _ => return Err(failed("algorithm missing or not accepted; only RS256")),
        }
        let kid = match header.get("kid").and_then(Value::as_str) {
            Some(kid) if !kid.is_empty() => kid,
            _ => return Err(failed("the token header has no key ID (kid)")),
        };
        let key = self.jwks.key(kid).map_err(|e| match e {
            JwksError::UnknownKid => {
                AuthError::InvalidToken("Token signed with unknown key ID".into())
            }
            JwksError::Unavailable(why) => {
                log::warn!("refusing a token: {why}");
                AuthError::KeysUnavailable
            }
        })?;
        let data =
            jsonwebtoken::decode::<Value>(token, &key, &self.validation).map_err(|e| {
                match e.kind() {
                    ErrorKind::InvalidAudience => AuthError::InvalidToken(format!(
                    "Invalid token claims: audience (this token is for another resource: request \
                     an access token for this API, scope {})",
                    self.settings.scopes.join(" ")
                )),
                    kind => claim_error(kind),
                }
            })?;
        let mut principal = principal(&data.claims);
        self.check_token_kind(&data.claims, &principal)?;
        match super::acl::verified_user(&data.claims, &self.settings) {
            Ok(user) => principal.acl_user = Some(user),
            Err(why) => principal.acl_unverified = Some(why),
        }
        principal.token = BearerToken(token.to_string());
        self.check_access(&principal)?;
        Ok(principal)
    }

    /// Access tokens for this API only: an ID token (or anything without a delegated scope or
    /// an app role) is refused, whatever AUTH_REQUIRED_SCOPES / _ROLES say.
    fn check_token_kind(&self, claims: &Value, p: &Principal) -> Result<(), AuthError> {
        let has = |name: &str| claims.get(name).is_some_and(|v| !v.is_null());
        let bare_client_aud = claims
            .get("aud")
            .and_then(Value::as_str)
            .is_some_and(|a| a.eq_ignore_ascii_case(&self.settings.client_id));
        // ID tokens carry these; access tokens never do. An ID token may carry `roles` (app
        // roles assigned to the user) but never the calling app's `azp`/`appid`.
        let id_markers = has("nonce") || has("at_hash") || has("c_hash");
        let no_app = !has("azp") && !has("appid") && !has("idtyp");
        let scopeless = p.scopes.is_empty() && p.roles.is_empty();
        let scope = self.settings.scopes.join(" ");
        if id_markers || (no_app && (scopeless || p.scopes.is_empty()) && bare_client_aud) {
            return Err(failed(&format!(
                "this is an ID token; send the access token (the one issued for scope {scope})"
            )));
        }
        if scopeless {
            return Err(failed(&format!(
                "the token carries neither a delegated scope (scp) nor an app role (roles): \
                 send an access token for this API (scope {scope})"
            )));
        }
        Ok(())
    }

    fn check_access(&self, p: &Principal) -> Result<(), AuthError> {
        let missing_roles: Vec<&str> = missing(&self.settings.required_roles, &p.roles);
        let missing_scopes: Vec<&str> = missing(&self.settings.required_scopes, &p.scopes);
        let mut parts = Vec::new();
        if !missing_roles.is_empty() {
            parts.push(format!("missing role(s) {}", missing_roles.join(", ")));
        }
        if !missing_scopes.is_empty() {
            parts.push(format!("missing scope(s) {}", missing_scopes.join(", ")));
        }
        if parts.is_empty() {
            return Ok(());
        }
        Err(AuthError::InsufficientScope(format!(
            "Insufficient permissions: {}",
            parts.join("; ")
        )))
    }
}

fn failed(why: &str) -> AuthError {
    AuthError::InvalidToken(format!("Token validation failed: {why}"))
}

fn missing<'a>(required: &'a [String], held: &[String]) -> Vec<&'a str> {
    let held: HashSet<&str> = held.iter().map(String::as_str).collect();
    required
        .iter()
        .map(String::as_str)
        .filter(|r| !held.contains(r))
        .collect()
}

/// Extracts the token from `Bearer <token>`. Another scheme (`Basic …`) carries no bearer
/// token, so it is answered like a missing one: 401 with the challenge that starts OAuth.
fn bearer_token(header: Option<&str>) -> Result<&str, AuthError> {
    let value = header.map(str::trim).unwrap_or("");
    if value.is_empty() {
        return Err(AuthError::MissingToken);
    }
    let (scheme, rest) = value.split_once([' ', '\t']).unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthError::MissingToken);
    }
    let token = rest.trim();
    if token.is_empty() {
        return Err(AuthError::MissingToken);
    }
    if token.contains(|c: char| c.is_whitespace()) {
        return Err(AuthError::InvalidRequest(
            "Authorization header has more than one credential".into(),
        ));
    }
    Ok(token)
}

/// Decodes header and payload without trusting them: only to pick a key or refuse early.
fn peek(token: &str) -> Result<(Value, Value), AuthError> {
    let malformed = || failed("malformed token (expected three base64url parts)");
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(_sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed());
    };
    let json = |part: &str| -> Option<Value> {
        let value: Value = serde_json::from_slice(&b64url_decode(part)?).ok()?;
        value.is_object().then_some(value)
    };
    match (json(h), json(p)) {
        (Some(header), Some(payload)) => Ok((header, payload)),
        _ => Err(malformed()),
    }
}

fn is_graph(payload: &Value) -> bool {
    let is = |v: &Value| v.as_str().is_some_and(|a| GRAPH_AUDIENCES.contains(&a));
    match payload.get("aud") {
        Some(Value::Array(list)) => list.iter().any(is),
        Some(aud) => is(aud),
        None => false,
    }
}

fn claim_error(kind: &ErrorKind) -> AuthError {
    let text = match kind {
        ErrorKind::ExpiredSignature => "Token has expired".to_string(),
        ErrorKind::ImmatureSignature => "Token is not yet valid".to_string(),
        ErrorKind::InvalidAudience => "Invalid token claims: audience".to_string(),
        ErrorKind::InvalidIssuer => "Invalid token claims: issuer".to_string(),
        ErrorKind::InvalidSignature => "Token validation failed: invalid signature".to_string(),
        ErrorKind::MissingRequiredClaim(c) => {
            format!("Token validation failed: missing required claim {c}")
        }
        ErrorKind::InvalidClaimFormat(c) => {
            format!("Token validation failed: claim {c} is malformed")
        }
        ErrorKind::InvalidAlgorithm | ErrorKind::UnsupportedAlgorithm => {
            "Token validation failed: algorithm not accepted; only RS256".to_string()
        }
        _ => "Token validation failed: malformed token".to_string(),
    };
    AuthError::InvalidToken(text)
}

fn principal(claims: &Value) -> Principal {
    let text = |name: &str| {
        claims
            .get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let user = ["preferred_username", "upn", "unique_name", "email"]
        .iter()
        .find_map(|c| text(c))
        .or_else(|| text("oid"))
        .unwrap_or_else(|| "unknown".into());
    let scopes = text("scp")
        .map(|s| {
            s.split_whitespace()
                .map(|x| short_scope(x).to_string())
                .collect()
        })
        .unwrap_or_default();
    let roles = claims
        .get("roles")
        .and_then(Value::as_array)
        .map(|r| {
            r.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let token_version = text("ver").unwrap_or_else(|| {
        let v1 = text("iss").is_some_and(|i| i.starts_with("https://sts.windows.net/"));
        if v1 { "1.0" } else { "2.0" }.to_string()
    });
    Principal {
        user,
        issuer: text("iss").unwrap_or_default(),
        expires_at: claims.get("exp").and_then(Value::as_u64).unwrap_or(0),
        upn: text("upn"),
        email: text("email"),
        acl_unverified: None,
        token: BearerToken::default(),
        oid: text("oid"),
        tid: text("tid"),
        name: text("name"),
        app_id: text("azp").or_else(|| text("appid")),
        scopes,
        roles,
        token_version,
        acl_user: None,
    }
}

/// Strict unpadded base64url (RFC 4648 §5), as JWS compact serialization (RFC 7515 §2)
/// requires and jsonwebtoken itself decodes: padding, `+`, `/` or stray bits are refused.
pub fn b64url_decode(input: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(input)
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authenticator_is_shareable_across_workers() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Authenticator>();
    }

    #[test]
    fn base64url_decoding() {
        assert_eq!(b64url_decode("").unwrap(), b"");
        assert_eq!(b64url_decode("Zg").unwrap(), b"f");
        assert_eq!(b64url_decode("Zm8").unwrap(), b"fo");
        assert_eq!(b64url_decode("Zm9v").unwrap(), b"foo");
        assert_eq!(b64url_decode("-_-_").unwrap(), [0xfb, 0xff, 0xbf]);
        assert_eq!(b64url_decode("Zm9vYg"), Some(b"foob".to_vec()));
        for bad in ["Zm9vY", "Zm9v=", "Zg==", "Zh", "Zm+v", "Zm/v", "Zm 9"] {
            assert_eq!(b64url_decode(bad), None, "{bad}");
        }
    }

    #[test]
    fn bearer_header_parsing() {
        assert_eq!(bearer_token(None), Err(AuthError::MissingToken));
        assert_eq!(bearer_token(Some("  ")), Err(AuthError::MissingToken));
        assert_eq!(bearer_token(Some("Bearer")), Err(AuthError::MissingToken));
        assert_eq!(bearer_token(Some("bearer  abc ")), Ok("abc"));
        for other in [
            "Basic dXNlcjpwdw==",
            "Digest x=1",
            "Negotiate",
            "bearerx abc",
        ] {
            assert_eq!(
                bearer_token(Some(other)),
                Err(AuthError::MissingToken),
                "{other}"
            );
        }
        assert_eq!(bearer_token(Some("Bearer a b")).unwrap_err().status(), 400);
    }

    #[test]
    fn only_access_tokens_for_this_api_pass() {
        let vars = crate::config::Vars::from_pairs([
            ("ENABLE_AUTH", "true"),
            ("ENTRA_TENANT_ID", "72f988bf-86f1-41af-91ab-2d7cd011db47"),
            ("ENTRA_CLIENT_ID", "6e74172b-be56-4843-9ff4-e66a39bb12e3"),
        ]);
        let auth = Authenticator::new(AuthSettings::from_vars(&vars).unwrap().unwrap());
        let client = "6e74172b-be56-4843-9ff4-e66a39bb12e3";
        let kind = |claims: Value| auth.check_token_kind(&claims, &principal(&claims));
        // Delegated and app-only access tokens.
        assert!(
            kind(serde_json::json!({"aud": client, "scp": "access_as_user", "azp": "c"})).is_ok()
        );
        assert!(kind(serde_json::json!({"aud": client, "roles": ["KB.Read"], "azp": "c"})).is_ok());
        assert!(kind(
            serde_json::json!({"aud": format!("api://{client}"), "scp": "x", "appid": "c"})
        )
        .is_ok());
        // ID tokens: a nonce, or the bare client id without scp or a calling app, even with roles.
        for id_token in [
            serde_json::json!({"aud": client, "nonce": "n", "scp": "x", "azp": "c"}),
            serde_json::json!({"aud": client, "at_hash": "h"}),
            serde_json::json!({"aud": client, "roles": ["KB.Read"]}),
            serde_json::json!({"aud": client}),
        ] {
            let e = kind(id_token.clone()).unwrap_err();
            assert!(
                e.to_string()
                    .contains("this is an ID token; send the access token"),
                "{id_token}: {e}"
            );
            assert_eq!(e.status(), 401);
        }
        let e =
            kind(serde_json::json!({"aud": format!("api://{client}"), "appid": "c"})).unwrap_err();
        assert!(
            e.to_string()
                .contains("neither a delegated scope (scp) nor an app role (roles)"),
            "{e}"
        );
    }

    #[test]
    fn principal_prefers_username_claims() {
        let p = principal(&serde_json::json!({
            "upn": "u@x", "email": "e@x", "oid": "o", "scp": "read api://c/write", "roles": ["R", 3],
            "iss": "https://sts.windows.net/t/"
        }));
        assert_eq!(p.user, "u@x");
        assert_eq!(p.scopes, ["read", "write"]);
        assert_eq!(p.roles, ["R"]);
        assert_eq!(p.token_version, "1.0");
        assert_eq!(principal(&serde_json::json!({"oid": "o"})).user, "o");
    }
}
