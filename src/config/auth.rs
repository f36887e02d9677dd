//! Entra ID settings: parses and validates the auth variables from [`Vars`], including the
//! client secret's source (ENTRA_CLIENT_SECRET or _FILE), the accepted client metadata
//! documents (OAUTH_CLIENT_METADATA_URLS) and the access-list claims (ACL_USER_CLAIMS).
//!
//! Owns the defaults (audiences, scopes, redirect allowlist, cache lifetimes) and the URLs
//! derived from them. Must not do I/O: it only turns strings into a checked [`AuthSettings`]
//! (the client-secret file is read when used, by `auth::secret`). Checks of single values live in
//! `auth/values.rs`.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use super::{ConfigError, Vars};
use crate::util::split_list;

pub(crate) mod redirect;
mod values;
use values::{audiences, check_redirect_uri, guid, origin, qualify_scopes};

/// claude.ai's CIMD client id (the claude.com variant answered 404 in July 2026).
pub const DEFAULT_METADATA_URL: &str = "https://claude.ai/oauth/mcp-oauth-client-metadata";

/// Claude Code's CIMD client id (since 2.1.81; anthropics/claude-code#37747).
pub const CLAUDE_CODE_METADATA_URL: &str = "https://claude.ai/oauth/claude-code-client-metadata";

/// The first-party Claude clients accepted when OAUTH_CLIENT_METADATA_URLS is unset; the word
/// `default` in the list stands for them.
pub const DEFAULT_METADATA_URLS: [&str; 2] = [DEFAULT_METADATA_URL, CLAUDE_CODE_METADATA_URL];

/// The claims tried, in order, when ACL_USER_CLAIMS is unset: `upn` for members, then an
/// `email` Entra verified (`xms_edov`); `preferred_username` never by default (anyone who can
/// edit a user can set it). The gates are in `auth::acl`.
pub const DEFAULT_CLAIMS: [&str; 2] = ["upn", "email"];

/// The public-cloud authority; sovereign clouds set ENTRA_AUTHORITY_HOST.
pub const DEFAULT_AUTHORITY: &str = "https://login.microsoftonline.com";

/// claude.ai's OAuth callbacks (it may move to claude.com, so both are allowed).
pub const DEFAULT_REDIRECT_URIS: [&str; 2] = [
    "https://claude.ai/api/mcp/auth_callback",
    "https://claude.com/api/mcp/auth_callback",
];

/// The scopes every upstream authorize/token request carries besides the API's own.
pub const OIDC_SCOPES: &str = "openid profile offline_access";

/// Audiences of Microsoft Graph tokens, which this server must never accept.
pub const GRAPH_AUDIENCES: [&str; 2] = [
    "00000003-0000-0000-c000-000000000000",
    "https://graph.microsoft.com",
];

/// Validated Entra ID settings: ids and URLs, plus where the optional client secret lives
/// (its `Debug` is redacted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthSettings {
    /// Directory (tenant) GUID, lower-cased.
    pub tenant_id: String,
    /// Application (client) GUID of the API app registration, lower-cased.
    pub client_id: String,
    /// Accepted `aud` values.
    pub audiences: Vec<String>,
    /// Authority host without a trailing slash, e.g. `https://login.microsoftonline.com`.
    pub authority: String,
    /// Public origin of this server (no trailing slash), when configured.
    pub public_base_url: Option<String>,
    /// Fully-qualified API scopes requested from Entra and advertised in metadata.
    pub scopes: Vec<String>,
    /// Redirect URIs the OAuth proxy accepts from registered and typed-in clients (exact, or
    /// any port for loopback entries; see `config::auth::redirect`).
    pub redirect_uris: Vec<String>,
    /// Client ID Metadata Document URLs accepted as client ids (empty: CIMD off).
    pub client_metadata_urls: Vec<String>,
    /// The secret the proxy adds to token requests that carry none (Web-platform apps).
    pub client_secret: Option<ClientSecret>,
    /// App roles a token must all carry (`roles` claim).
    pub required_roles: Vec<String>,
    /// Delegated scopes a token must all carry (`scp` claim, short names).
    pub required_scopes: Vec<String>,
    /// How long fetched signing keys count as fresh (JWKS_CACHE_SECS).
    pub jwks_cache_ttl: Duration,
    /// Minimum spacing of unknown-`kid` refetches and of retries after a failed fetch.
    pub jwks_refetch_interval: Duration,
    /// Claims tried, in order, for the user's email sent to Bedrock (ACL_USER_CLAIMS).
    pub acl_claims: Vec<String>,
    /// Whether guest accounts may be named to Bedrock (ACL_ALLOW_GUESTS, default false).
    pub acl_allow_guests: bool,
    /// Domains an asserted address must belong to (ACL_EMAIL_DOMAINS; empty = any).
    pub acl_email_domains: Vec<String>,
}

impl AuthSettings {
    /// Reads the auth variables; `Ok(None)` when ENABLE_AUTH is off.
    pub fn from_vars(vars: &Vars) -> Result<Option<AuthSettings>, ConfigError> {
        let enabled = vars.flag("ENABLE_AUTH", false)?;
        if let Some(provider) = vars.get("AUTH_PROVIDER") {
            if !provider.eq_ignore_ascii_case("entra") {
                return Err(ConfigError::new(
                    "AUTH_PROVIDER",
                    format!("only \"entra\" is supported, got {provider:?}"),
                ));
            }
        }
        if !enabled {
            return Ok(None);
        }
        let (Some(tenant), Some(client)) =
            (vars.get("ENTRA_TENANT_ID"), vars.get("ENTRA_CLIENT_ID"))
        else {
            return Err(ConfigError::plain(
                "ENTRA_TENANT_ID and ENTRA_CLIENT_ID are required when ENABLE_AUTH=true",
            ));
        };
        let tenant_id = guid("ENTRA_TENANT_ID", tenant, "directory (tenant) ID")?;
        let client_id = guid("ENTRA_CLIENT_ID", client, "application (client) ID")?;
        let audiences = match vars.get("ENTRA_AUDIENCE") {
            None => vec![client_id.clone(), format!("api://{client_id}")],
            Some(raw) => audiences(raw)?,
        };
        let scopes = match vars.get("OAUTH_SCOPES") {
            None => vec![format!("api://{client_id}/.default")],
            Some(raw) => qualify_scopes(raw, &client_id)?,
        };
        let mut redirect_uris: Vec<String> = DEFAULT_REDIRECT_URIS
            .iter()
            .map(|s| s.to_string())
            .collect();
        for uri in split_list(vars.get("OAUTH_REDIRECT_URIS").unwrap_or("")) {
            check_redirect_uri(&uri)?;
            if !redirect_uris.contains(&uri) {
                redirect_uris.push(uri);
            }
        }
        let authority = match vars.get("ENTRA_AUTHORITY_HOST") {
            None => DEFAULT_AUTHORITY.to_string(),
            Some(raw) => origin("ENTRA_AUTHORITY_HOST", raw, false)?,
        };
        let public_base_url = match vars.get("PUBLIC_BASE_URL") {
            None => None,
            Some(raw) => Some(origin("PUBLIC_BASE_URL", raw, true)?),
        };
        let required_scopes = split_list(vars.get("AUTH_REQUIRED_SCOPES").unwrap_or(""))
            .iter()
            .map(|s| short_scope(s).to_string())
            .collect();
        Ok(Some(AuthSettings {
            tenant_id,
            client_id,
            audiences,
            authority,
            public_base_url,
            scopes,
            redirect_uris,
            client_metadata_urls: metadata_urls(vars)?,
            client_secret: client_secret(vars)?,
            required_roles: split_list(vars.get("AUTH_REQUIRED_ROLES").unwrap_or("")),
            required_scopes,
            jwks_cache_ttl: Duration::from_secs(vars.number(
                "JWKS_CACHE_SECS",
                3600,
                60,
                86_400,
            )?),
            jwks_refetch_interval: Duration::from_secs(60),
            acl_claims: acl_claims(vars)?,
            acl_allow_guests: vars.flag("ACL_ALLOW_GUESTS", false)?,
            acl_email_domains: email_domains(vars)?,
        }))
    }

    /// `{authority}/{tenant}`: the prefix of every Entra endpoint for this tenant.
    pub fn tenant_url(&self) -> String {
        format!("{}/{}", self.authority, self.tenant_id)
    }

    /// The tenant's JWKS endpoint.
    pub fn jwks_url(&self) -> String {
        format!("{}/discovery/v2.0/keys", self.tenant_url())
    }

    /// Entra's authorize endpoint for this tenant.
    pub fn authorize_url(&self) -> String {
        format!("{}/oauth2/v2.0/authorize", self.tenant_url())
    }

    /// Entra's token endpoint for this tenant.
    pub fn token_url(&self) -> String {
        format!("{}/oauth2/v2.0/token", self.tenant_url())
    }

    /// Accepted `iss` values: the v2 issuer under our authority and the v1 issuer.
    pub fn issuers(&self) -> [String; 2] {
        [
            format!("{}/v2.0", self.tenant_url()),
            format!("https://sts.windows.net/{}/", self.tenant_id),
        ]
    }

    /// The `scope` sent upstream: the API scopes plus OpenID Connect and refresh tokens.
    pub fn upstream_scope(&self) -> String {
        format!("{} {OIDC_SCOPES}", self.scopes.join(" "))
    }
}

/// Where the Entra app's client secret lives. The file is read on each use (by
/// `auth::secret::reveal`), so a mounted secret can rotate.
#[derive(Clone, PartialEq, Eq)]
pub enum ClientSecret {
    /// The value of ENTRA_CLIENT_SECRET.
    Inline(String),
    /// The path in ENTRA_CLIENT_SECRET_FILE.
    File(PathBuf),
}

// The value must never be printed; the file path is not secret and helps debugging.
impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientSecret::Inline(_) => f.write_str("ClientSecret::Inline(<redacted>)"),
            ClientSecret::File(p) => write!(f, "ClientSecret::File({})", p.display()),
        }
    }
}

/// Reads ENTRA_CLIENT_SECRET and _FILE; `Ok(None)` when neither is set (a public-client app).
fn client_secret(vars: &Vars) -> Result<Option<ClientSecret>, ConfigError> {
    match (
        vars.get("ENTRA_CLIENT_SECRET"),
        vars.get("ENTRA_CLIENT_SECRET_FILE"),
    ) {
        (Some(_), Some(_)) => Err(ConfigError::new(
            "ENTRA_CLIENT_SECRET_FILE",
            "set either ENTRA_CLIENT_SECRET or ENTRA_CLIENT_SECRET_FILE, not both",
        )),
        (Some(value), None) => Ok(Some(ClientSecret::Inline(value.to_string()))),
        (None, Some(path)) => Ok(Some(ClientSecret::File(PathBuf::from(path)))),
        (None, None) => Ok(None),
    }
}

/// Reads OAUTH_CLIENT_METADATA_URLS: unset → the Claude clients; `none` → CIMD off; a list
/// replaces the default, and `default` in it stands for the Claude clients.
fn metadata_urls(vars: &Vars) -> Result<Vec<String>, ConfigError> {
    let defaults = || DEFAULT_METADATA_URLS.iter().map(|u| u.to_string());
    let Some(raw) = vars.get("OAUTH_CLIENT_METADATA_URLS") else {
        return Ok(defaults().collect());
    };
    if raw.eq_ignore_ascii_case("none") {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for url in split_list(raw) {
        if url.eq_ignore_ascii_case("default") {
            out.extend(defaults().filter(|d| !out.contains(d)).collect::<Vec<_>>());
            continue;
        }
        if !is_document_url(&url) {
            return Err(ConfigError::new(
                "OAUTH_CLIENT_METADATA_URLS",
                format!(
                    "{url:?} must be an https:// URL with a path and no query, fragment or \
                     dot segments (like {DEFAULT_METADATA_URL}), \"default\" for the Claude \
                     clients, or \"none\" to turn CIMD off"
                ),
            ));
        }
        if !out.contains(&url) {
            out.push(url);
        }
    }
    Ok(out)
}

/// What the CIMD draft allows as a client id: https, a host, a path, nothing else.
fn is_document_url(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("https://") else {
        return false;
    };
    let Some((host, path)) = rest.split_once('/') else {
        return false;
    };
    !host.is_empty()
        && !path.is_empty()
        && !url.contains(['?', '#', '@', '\\'])
        && !url.chars().any(|c| c.is_whitespace() || c.is_control())
        && path.split('/').all(|seg| seg != "." && seg != "..")
}

/// Reads ACL_USER_CLAIMS: a comma-separated list of claim names.
fn acl_claims(vars: &Vars) -> Result<Vec<String>, ConfigError> {
    let Some(raw) = vars.get("ACL_USER_CLAIMS") else {
        return Ok(DEFAULT_CLAIMS.iter().map(|c| c.to_string()).collect());
    };
    let claims = split_list(raw);
    let bad = claims.iter().find(|c| {
        c.len() > 64
            || !c
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    });
    if claims.iter().any(|c| c == "preferred_username") {
        log::warn!(
            "ACL_USER_CLAIMS lists preferred_username: Entra does not verify it (anyone who can \
             edit a user can set it), so Bedrock may be told a user is someone else; prefer upn \
             and email (with xms_edov)"
        );
    }
    if claims.is_empty() || bad.is_some() {
        return Err(ConfigError::new(
            "ACL_USER_CLAIMS",
            format!(
                "must list token claim names, e.g. {}; got {raw:?}",
                DEFAULT_CLAIMS.join(",")
            ),
        ));
    }
    Ok(claims)
}

/// Reads ACL_EMAIL_DOMAINS: domain names, lower-cased.
fn email_domains(vars: &Vars) -> Result<Vec<String>, ConfigError> {
    let mut out = Vec::new();
    for raw in split_list(vars.get("ACL_EMAIL_DOMAINS").unwrap_or("")) {
        let d = raw.trim_start_matches('@').to_ascii_lowercase();
        let ok = d.contains('.')
            && !d.starts_with(['.', '-'])
            && !d.ends_with(['.', '-'])
            && d.len() <= 253
            && d.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
        if !ok {
            return Err(ConfigError::new(
                "ACL_EMAIL_DOMAINS",
                format!("must list domain names such as contoso.com,contoso.co.uk; got {raw:?}"),
            ));
        }
        if !out.contains(&d) {
            out.push(d);
        }
    }
    Ok(out)
}

/// The last path segment of a fully-qualified scope (`api://x/read` → `read`), as `scp` holds it.
pub fn short_scope(scope: &str) -> &str {
    if scope.contains("://") {
        scope.rsplit('/').next().unwrap_or(scope)
    } else {
        scope
    }
}

/// Settings with auth on for a fixed test tenant and app, plus `extra` variables.
#[cfg(test)]
pub(crate) fn test_settings(extra: &[(&str, &str)]) -> AuthSettings {
    let mut pairs = vec![
        ("ENABLE_AUTH", "true"),
        ("ENTRA_TENANT_ID", "11111111-2222-3333-4444-555555555555"),
        ("ENTRA_CLIENT_ID", "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"),
    ];
    pairs.extend_from_slice(extra);
    AuthSettings::from_vars(&super::Vars::from_pairs(pairs))
        .expect("valid test settings")
        .expect("auth is on")
}

#[cfg(test)]
mod tests;
