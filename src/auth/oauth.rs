//! The OAuth proxy on the MCP origin: RFC 9728/8414 metadata, `/authorize` and `/token`.
//!
//! MCP clients talk OAuth to this server; we check their requests (each client's allowed
//! redirect URIs, loopback on any port; PKCE S256), map accepted client ids onto the Entra app
//! (client_id.rs), rewrite scopes to this API's fully-qualified ones, drop `resource` (Entra v2
//! refuses it, AADSTS9010010), check the secrets of registered confidential clients, add the
//! server's client secret when the client sent none, and relay to Entra. When the server adds
//! its secret, Entra's refresh tokens are handed out sealed to the client id and user
//! (seal.rs) and only redeemed for them. Must never log codes, tokens or secrets, must never
//! redirect to a redirect URI the client may not use, and must never hand Entra's refresh
//! token to a client when the server added its secret.

use crate::util::percent_encode;
use serde_json::{json, Value};

use super::client_id::{self, Client, Kind};
pub use super::error::OAuthError;
use super::seal::{Binding, Keys};
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
    let client = client_id::resolve(settings, require(get("client_id"), "client_id")?)?;
    check_redirect_uri(settings, &client, redirect_uri)?;
    let client_id = client.upstream;
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
        Ok(prepared) => {
            let reply = relay(settings, &prepared.form, prepared.basic);
            match &prepared.seal {
                Some(plan) if reply.status == 200 => reseal(plan, reply),
                _ => reply,
            }
        }
        Err(e) => e.into(),
    }
}

type Form = Vec<(String, String)>;

/// A checked token request, ready for Entra.
struct Prepared<'a> {
    form: Form,
    /// The client's own HTTP Basic header, relayed as it is (Advanced settings).
    basic: Option<&'a str>,
    /// Set when the server adds its secret: how to seal the refresh token Entra answers with.
    seal: Option<SealPlan>,
}

/// How to hand out Entra's answer when the server added its secret.
struct SealPlan {
    keys: Keys,
    /// The client id the client presented.
    client_id: String,
    /// On a refresh, the user the refresh token was sealed for.
    expected_user: Option<String>,
}

/// The server cannot read its own secret: the operator's problem, said without the value.
fn secret_unreadable(why: String) -> OAuthError {
    log::error!("oauth token: {why}");
    OAuthError {
        status: 500,
        error: "server_error",
        description: "The server cannot read its Entra client secret; its administrator must fix ENTRA_CLIENT_SECRET or ENTRA_CLIENT_SECRET_FILE"
            .into(),
    }
}

/// RFC 6749 §5.2: a failed client authentication is 401 `invalid_client`.
fn client_auth_failed(description: &str) -> OAuthError {
    OAuthError {
        status: 401,
        error: "invalid_client",
        description: description.into(),
    }
}

fn prepare_token<'a>(
    settings: &AuthSettings,
    content_type: Option<&str>,
    authorization_header: Option<&'a str>,
    body: &[u8],
) -> Result<Prepared<'a>, OAuthError> {
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
    let credentials = basic.and_then(basic_credentials);
    let basic_id = credentials.as_ref().map(|(user, _)| user.as_str());
    if basic_id.is_some_and(client_id::is_url_shaped) {
        return Err(OAuthError::bad(
            "invalid_client",
            "a client metadata document client has no secret: send client_id in the form, without HTTP Basic",
        ));
    }
    let presented_id = match (get("client_id"), basic_id) {
        (Some(form), Some(basic)) if form != basic => {
            return Err(OAuthError::bad(
                "invalid_request",
                "client_id in the form differs from the HTTP Basic user",
            ))
        }
        (Some(id), _) | (None, Some(id)) => Some(id),
        (None, None) if basic.is_some() => None,
        (None, None) => return Err(OAuthError::bad("invalid_request", "client_id is required")),
    };
    let client = presented_id
        .map(|id| client_id::resolve(settings, id))
        .transpose()?;
    // The client's own secret, relayed to Entra (Advanced settings); registered clients' secrets
    // are ours to check and never reach Entra.
    let mut own_secret = get("client_secret");
    let mut relay_basic = basic;
    if let Some(Kind::Registered { secret }) = client.as_ref().map(|c| &c.kind) {
        let presented = own_secret.or(credentials.as_ref().map(|(_, p)| p.as_str()));
        check_registered_secret(settings, client.as_ref(), *secret, presented)?;
        own_secret = None;
        relay_basic = None;
    }
    let grant = require(get("grant_type"), "grant_type")?;
    let mut keep = vec!["grant_type", "client_id", "client_secret"];
    match grant {
        "authorization_code" => {
            require(get("code"), "code")?;
            let redirect_uri = require(get("redirect_uri"), "redirect_uri")?;
            if let Some(c) = &client {
                check_redirect_uri(settings, c, redirect_uri)?;
            }
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
    // A client authenticating with its own HTTP Basic header names itself there only.
    let upstream_id = client
        .as_ref()
        .map(|c| c.upstream)
        .filter(|_| relay_basic.is_none() || get("client_id").is_some());
    let mut form: Form = keep
        .iter()
        .filter_map(|&k| match k {
            "client_id" => upstream_id.map(|id| (k.to_string(), id.to_string())),
            "client_secret" => own_secret.map(|v| (k.to_string(), v.to_string())),
            _ => get(k).map(|v| (k.to_string(), v.to_string())),
        })
        .collect();
    form.push(("scope".into(), settings.upstream_scope()));
    // A registered or metadata-document client is public; a Web-platform Entra app still
    // wants a secret (AADSTS7000218), so the server supplies its own, for its own app only.
    let mut seal = None;
    let secretless = relay_basic.is_none() && own_secret.is_none();
    if let (true, Some(secret), Some(c)) = (secretless, &settings.client_secret, &client) {
        if c.upstream == settings.client_id {
            let value = super::secret::reveal(secret).map_err(secret_unreadable)?;
            let keys = Keys::derive(&value, &settings.tenant_id, &settings.client_id)
                .map_err(secret_unreadable)?;
            form.push(("client_secret".into(), value));
            let mut expected_user = None;
            if grant == "refresh_token" {
                let (binding, entra_token) = open_refresh_token(&keys, c, get("refresh_token"))?;
                expected_user = Some(binding.user);
                for (k, v) in form.iter_mut() {
                    if k == "refresh_token" {
                        *v = entra_token.clone();
                    }
                }
            }
            seal = Some(SealPlan {
                keys,
                client_id: c.id.to_string(),
                expected_user,
            });
        }
    }
    log::info!("oauth token: grant_type={grant} relayed to Entra");
    Ok(Prepared {
        form,
        basic: relay_basic,
        seal,
    })
}

/// A registered client authenticates the way it registered: no secret for `none`, the secret
/// `/register` derived for it otherwise.
fn check_registered_secret(
    settings: &AuthSettings,
    client: Option<&Client<'_>>,
    needs_secret: bool,
    presented: Option<&str>,
) -> Result<(), OAuthError> {
    let Some(client) = client else {
        return Ok(());
    };
    match (needs_secret, presented) {
        (false, None) => Ok(()),
        (false, Some(_)) => Err(client_auth_failed(
            "this client registered as a public client (token_endpoint_auth_method none): send no client secret",
        )),
        (true, None) => Err(client_auth_failed(
            "this client registered with a client secret: send the client_secret /register issued",
        )),
        (true, Some(secret)) => {
            let keys = super::seal::for_settings(settings).map_err(secret_unreadable)?;
            match keys {
                Some(k) if k.verify_client_secret(client.id, secret) => Ok(()),
                _ => Err(client_auth_failed(
                    "client authentication failed: the client secret is wrong or the server's secret changed; register again",
                )),
            }
        }
    }
}

/// Opens a sealed refresh token for `client`; refuses Entra's own tokens, other clients' and
/// anything tampered with (RFC 6749 §5.2 `invalid_grant`).
fn open_refresh_token(
    keys: &Keys,
    client: &Client<'_>,
    presented: Option<&str>,
) -> Result<(Binding, String), OAuthError> {
    let Some((binding, entra_token)) = presented.and_then(|t| keys.open(t)) else {
        return Err(OAuthError::bad(
            "invalid_grant",
            "the refresh token was not issued by this server, or the server's Entra secret has changed since; sign in again",
        ));
    };
    if binding.client_id != client.id {
        log::warn!("oauth token: a refresh token issued to another client was refused");
        return Err(OAuthError::bad(
            "invalid_grant",
            "the refresh token was issued to another client; sign in again",
        ));
    }
    Ok((binding, entra_token))
}

/// Replaces Entra's refresh token in a successful answer with a sealed one, after checking a
/// refresh still names the same user. Without a user to bind, the refresh token is withheld.
fn reseal(plan: &SealPlan, reply: TokenReply) -> TokenReply {
    let Ok(Value::Object(mut answer)) = serde_json::from_slice::<Value>(&reply.body) else {
        return reply;
    };
    let user = answer
        .get("access_token")
        .and_then(Value::as_str)
        .and_then(user_of);
    if let Some(expected) = &plan.expected_user {
        if user.as_ref() != Some(expected) {
            log::error!("oauth token: a refreshed token names another user than the refresh token was issued for; refused");
            return OAuthError::bad(
                "invalid_grant",
                "the refresh token does not belong to the signed-in user; sign in again",
            )
            .into();
        }
    }
    match (answer.remove("refresh_token"), user) {
        (Some(Value::String(entra_token)), Some(user)) => {
            let binding = Binding {
                client_id: plan.client_id.clone(),
                user,
            };
            match plan.keys.seal(&binding, &entra_token) {
                Ok(sealed) => {
                    answer.insert("refresh_token".into(), Value::String(sealed));
                }
                Err(why) => log::error!("oauth token: {why}; the refresh token is withheld"),
            }
        }
        (Some(_), _) => {
            log::warn!(
                "oauth token: Entra's access token names no user; the refresh token is withheld"
            )
        }
        (None, _) => {}
    }
    TokenReply {
        status: reply.status,
        body: Value::Object(answer).to_string().into_bytes(),
    }
}

/// The user an Entra access token names: `tid/oid`, else `sub`. Read without checking the
/// signature: the token came straight from Entra's token endpoint over TLS (OIDC Core
/// §3.1.3.7), and it is only compared, never trusted for access.
fn user_of(jwt: &str) -> Option<String> {
    let payload = crate::util::base64_decode(jwt.split('.').nth(1)?)?;
    let claims: Value = serde_json::from_slice(&payload).ok()?;
    let text = |k: &str| {
        claims
            .get(k)
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
    };
    match (text("tid"), text("oid")) {
        (Some(tid), Some(oid)) => Some(format!("{tid}/{oid}")),
        _ => text("sub").map(str::to_string),
    }
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

/// The client id and secret in an HTTP Basic header (RFC 6749 §2.3.1: form-encoded, then
/// base64).
fn basic_credentials(header: &str) -> Option<(String, String)> {
    let decoded = crate::util::base64_decode(header.get(6..)?.trim())?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((
        crate::util::percent_decode(user)?,
        crate::util::percent_decode(password)?,
    ))
}

fn require<'a>(value: Option<&'a str>, name: &str) -> Result<&'a str, OAuthError> {
    value
        .filter(|v| !v.is_empty())
        .ok_or_else(|| OAuthError::bad("invalid_request", format!("{name} is required")))
}

fn check_redirect_uri(
    settings: &AuthSettings,
    client: &Client<'_>,
    uri: &str,
) -> Result<(), OAuthError> {
    if client.allows_redirect(settings, uri) {
        return Ok(());
    }
    Err(OAuthError::bad(
        "invalid_request",
        format!(
            "redirect_uri is not allowed for this client; {}",
            client.redirect_hint()
        ),
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
