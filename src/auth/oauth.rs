//! The OAuth proxy on the MCP origin: RFC 9728/8414 metadata, `/authorize` and `/token`.
//!
//! claude.ai talks OAuth to this server; we check its requests (allowlisted redirect URIs,
//! PKCE S256), map allow-listed metadata-document client ids onto the Entra app (client_id.rs),
//! rewrite scopes to this API's fully-qualified ones, drop `resource` (Entra v2 refuses it,
//! AADSTS9010010), add the server's client secret when the client sent none, and relay to
//! Entra. Must never log codes, tokens or secrets, and must never redirect to a redirect URI
//! that is not on the allowlist.

use crate::util::percent_encode;
use serde_json::{json, Value};

use super::client_id;
pub use super::error::OAuthError;
use crate::config::AuthSettings;

/// Largest `/token` form body we accept.
const MAX_FORM_BYTES: usize = 64 * 1024;
/// Largest Entra token response we relay.
const MAX_REPLY_BYTES: u64 = 256 * 1024;
/// Client parameters relayed to Entra's authorize endpoint as they are.
const AUTHORIZE_PASSTHROUGH: [&str; 5] =
    ["state", "code_challenge", "nonce", "prompt", "login_hint"];

/// What `/token` answers: Entra's status and JSON, or our own OAuth error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenReply {
    /// HTTP status.
    pub status: u16,
    /// JSON body (`application/json`).
    pub body: Vec<u8>,
}

impl From<OAuthError> for TokenReply {
    fn from(e: OAuthError) -> TokenReply {
        TokenReply {
            status: e.status,
            body: e.body().to_string().into_bytes(),
        }
    }
}

/// RFC 9728 protected resource metadata for `{base}/mcp`.
pub fn protected_resource_metadata(settings: &AuthSettings, base_url: &str) -> Value {
    let base = base_url.trim_end_matches('/');
    json!({
        "resource": format!("{base}/mcp"),
        "authorization_servers": [base],
        "scopes_supported": settings.scopes,
        "bearer_methods_supported": ["header"],
        "resource_name": "Bedrock Knowledge Base (MCP)",
    })
}

/// RFC 8414 authorization server metadata: this origin, proxying to Entra.
pub fn authorization_server_metadata(settings: &AuthSettings, base_url: &str) -> Value {
    let base = base_url.trim_end_matches('/');
    json!({
        "issuer": base,
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"),
        "registration_endpoint": format!("{base}/register"),
        "client_id_metadata_document_supported": !settings.client_metadata_urls.is_empty(),
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic", "none"],
        "scopes_supported": settings.scopes,
    })
}

/// Checks an `/authorize` query and returns the Entra URL to 302 to.
pub fn authorize(settings: &AuthSettings, query: &str) -> Result<String, OAuthError> {
    let params = parse_form(query)?;
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let redirect_uri = require(get("redirect_uri"), "redirect_uri")?;
    check_redirect_uri(settings, redirect_uri)?;
    let client_id = client_id::upstream(
        &settings.client_metadata_urls,
        &settings.client_id,
        require(get("client_id"), "client_id")?,
    )?;
    match get("response_type") {
        Some("code") => {}
        Some(_) => {
            return Err(OAuthError::bad(
                "unsupported_response_type",
                "only response_type=code is supported",
            ))
        }
        None => {
            return Err(OAuthError::bad(
                "invalid_request",
                "response_type is required (use code)",
            ))
        }
    }
    check_pkce_value(
        require(get("code_challenge"), "code_challenge (PKCE is required)")?,
        "code_challenge",
    )?;
    if get("code_challenge_method") != Some("S256") {
        return Err(OAuthError::bad(
            "invalid_request",
            "code_challenge_method must be S256",
        ));
    }
    let scope = settings.upstream_scope();
    let mut out: Vec<(&str, &str)> = vec![
        ("client_id", client_id),
        ("response_type", "code"),
        ("redirect_uri", redirect_uri),
        ("scope", &scope),
        ("code_challenge_method", "S256"),
    ];
    out.extend(
        AUTHORIZE_PASSTHROUGH
            .iter()
            .filter_map(|&k| get(k).map(|v| (k, v))),
    );
    log::info!("oauth authorize: client_id={client_id} sent to Entra");
    Ok(format!(
        "{}?{}",
        settings.authorize_url(),
        encode_form(&out)
    ))
}

/// Relays a `/token` request to Entra after checking and rewriting it.
pub fn token(
    settings: &AuthSettings,
    content_type: Option<&str>,
    authorization_header: Option<&str>,
    body: &[u8],
) -> TokenReply {
    match prepare_token(settings, content_type, authorization_header, body) {
        Ok((form, basic)) => relay(settings, &form, basic),
        Err(e) => e.into(),
    }
}

type Form = Vec<(String, String)>;

fn prepare_token<'a>(
    settings: &AuthSettings,
    content_type: Option<&str>,
    authorization_header: Option<&'a str>,
    body: &[u8],
) -> Result<(Form, Option<&'a str>), OAuthError> {
    let mime = content_type
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim();
    if !mime.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        return Err(OAuthError::bad(
            "invalid_request",
            "send the token request as application/x-www-form-urlencoded",
        ));
    }
    if body.len() > MAX_FORM_BYTES {
        return Err(OAuthError::bad(
            "invalid_request",
            "token request body is too large",
        ));
    }
    let text = std::str::from_utf8(body)
        .map_err(|_| OAuthError::bad("invalid_request", "body is not UTF-8"))?;
    let params = parse_form(text)?;
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let basic = match authorization_header
        .map(str::trim)
        .filter(|h| !h.is_empty())
    {
        None => None,
        Some(h) if h.get(..6).is_some_and(|s| s.eq_ignore_ascii_case("basic ")) => Some(h),
        Some(_) => {
            return Err(OAuthError::bad(
                "invalid_request",
                "client authentication must use HTTP Basic",
            ))
        }
    };
    if basic.is_some() && get("client_secret").is_some() {
        return Err(OAuthError::bad(
            "invalid_request",
            "use HTTP Basic or client_secret in the form, not both",
        ));
    }
    if basic.is_none() && get("client_id").is_none() {
        return Err(OAuthError::bad("invalid_request", "client_id is required"));
    }
    if basic
        .and_then(basic_user)
        .is_some_and(|id| client_id::is_url_shaped(&id))
    {
        return Err(OAuthError::bad(
            "invalid_client",
            "a client metadata document client has no secret: send client_id in the form, without HTTP Basic",
        ));
    }
    let upstream_id = get("client_id")
        .map(|id| client_id::upstream(&settings.client_metadata_urls, &settings.client_id, id))
        .transpose()?;
    let grant = require(get("grant_type"), "grant_type")?;
    let mut keep = vec!["grant_type", "client_id", "client_secret"];
    match grant {
        "authorization_code" => {
            require(get("code"), "code")?;
            check_redirect_uri(settings, require(get("redirect_uri"), "redirect_uri")?)?;
            check_pkce_value(
                require(get("code_verifier"), "code_verifier (PKCE is required)")?,
                "code_verifier",
            )?;
            keep.extend(["code", "redirect_uri", "code_verifier"]);
        }
        "refresh_token" => {
            require(get("refresh_token"), "refresh_token")?;
            keep.push("refresh_token");
        }
        _ => {
            return Err(OAuthError::bad(
                "unsupported_grant_type",
                "only authorization_code and refresh_token grants are supported",
            ))
        }
    }
    let mut form: Form = keep
        .iter()
        .filter_map(|&k| match (k, upstream_id) {
            ("client_id", Some(id)) => Some((k.to_string(), id.to_string())),
            _ => get(k).map(|v| (k.to_string(), v.to_string())),
        })
        .collect();
    form.push(("scope".into(), settings.upstream_scope()));
    // A registered or metadata-document client is public; a Web-platform Entra app still
    // wants a secret (AADSTS7000218), so the server supplies its own, for its own app only.
    let secretless = basic.is_none() && get("client_secret").is_none();
    if let (true, Some(secret), Some(id)) = (secretless, &settings.client_secret, upstream_id) {
        if id == settings.client_id {
            let value = super::secret::reveal(secret).map_err(|why| {
                log::error!("oauth token: {why}");
                OAuthError {
                    status: 500,
                    error: "server_error",
                    description: "The server cannot read its Entra client secret; its administrator must fix ENTRA_CLIENT_SECRET or ENTRA_CLIENT_SECRET_FILE"
                        .into(),
                }
            })?;
            form.push(("client_secret".into(), value));
        }
    }
    log::info!("oauth token: grant_type={grant} relayed to Entra");
    Ok((form, basic))
}

fn relay(settings: &AuthSettings, form: &Form, basic: Option<&str>) -> TokenReply {
    let unreachable = |why: String| -> TokenReply {
        log::warn!("oauth token: Entra token endpoint failed: {why}");
        OAuthError {
            status: 502,
            error: "temporarily_unavailable",
            description: format!(
                "Could not get an answer from Entra ID's token endpoint ({why}); try again"
            ),
        }
        .into()
    };
    let mut request = super::http_agent()
        .post(settings.token_url())
        .header("Accept", "application/json");
    if let Some(h) = basic {
        request = request.header("Authorization", h);
    }
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut response = match request.send_form(pairs) {
        Ok(r) => r,
        Err(e) => return unreachable(e.to_string()),
    };
    let status = response.status().as_u16();
    let body = match response
        .body_mut()
        .with_config()
        .limit(MAX_REPLY_BYTES)
        .read_to_vec()
    {
        Ok(b) => b,
        Err(e) => return unreachable(e.to_string()),
    };
    let json_object = serde_json::from_slice::<Value>(&body).is_ok_and(|v| v.is_object());
    if !json_object || (300..400).contains(&status) {
        return unreachable(format!("HTTP {status}, not an OAuth JSON answer"));
    }
    log::info!("oauth token: Entra answered {status}");
    TokenReply { status, body }
}

/// The client id in an HTTP Basic header (RFC 6749 §2.3.1: form-encoded, then base64).
fn basic_user(header: &str) -> Option<String> {
    let decoded = crate::util::base64_decode(header.get(6..)?.trim())?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, _) = text.split_once(':')?;
    crate::util::percent_decode(user)
}

fn require<'a>(value: Option<&'a str>, name: &str) -> Result<&'a str, OAuthError> {
    value
        .filter(|v| !v.is_empty())
        .ok_or_else(|| OAuthError::bad("invalid_request", format!("{name} is required")))
}

fn check_redirect_uri(settings: &AuthSettings, uri: &str) -> Result<(), OAuthError> {
    if settings.redirect_uris.iter().any(|allowed| allowed == uri) {
        return Ok(());
    }
    Err(OAuthError::bad(
        "invalid_request",
        "redirect_uri is not allowed; add it to OAUTH_REDIRECT_URIS on the server",
    ))
}

/// RFC 7636 §4.1/§4.2: 43–128 characters of `[A-Za-z0-9-._~]`.
fn check_pkce_value(value: &str, name: &str) -> Result<(), OAuthError> {
    let ok = (43..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(OAuthError::bad(
            "invalid_request",
            format!("{name} must be 43-128 characters of [A-Za-z0-9-._~]"),
        ))
    }
}

/// An OAuth request needs about a dozen parameters; anything far beyond is an attack.
const MAX_FORM_PARAMS: usize = 64;

/// Parses `application/x-www-form-urlencoded` (also query strings); duplicates and more than
/// `MAX_FORM_PARAMS` parameters are refused, in linear time.
pub fn parse_form(input: &str) -> Result<Form, OAuthError> {
    let pairs = crate::util::form_pairs(input)
        .ok_or_else(|| OAuthError::bad("invalid_request", "malformed percent-encoding"))?;
    if pairs.len() > MAX_FORM_PARAMS {
        return Err(OAuthError::bad(
            "invalid_request",
            format!(
                "too many parameters ({}; at most {MAX_FORM_PARAMS})",
                pairs.len()
            ),
        ));
    }
    let mut seen = std::collections::HashSet::with_capacity(pairs.len());
    for (k, _) in &pairs {
        if !seen.insert(k.as_str()) {
            return Err(OAuthError::bad(
                "invalid_request",
                format!("parameter {k} appears more than once"),
            ));
        }
    }
    Ok(pairs)
}

fn encode_form(pairs: &[(&str, &str)]) -> String {
    let encoded: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
        .collect();
    encoded.join("&")
}

#[cfg(test)]
mod tests;
