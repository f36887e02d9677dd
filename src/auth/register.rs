//! Dynamic Client Registration (RFC 7591) without state: `POST /register`.
//!
//! Entra has no DCR, and this server keeps nothing: every registration whose redirect URIs are
//! all on the redirect allowlist is answered with the one Entra app's client id, as a public
//! client (`token_endpoint_auth_method: none`, no secret issued). The redirect allowlist and
//! PKCE keep codes on the allowed callbacks; the proxy adds the server's secret at `/token`
//! when the Entra app needs one. Must not store anything, and must not echo unchecked input
//! beyond the bounded `client_name`.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};

use super::error::OAuthError;
use crate::config::AuthSettings;

/// Largest registration body we read; claude.ai's is a few hundred bytes.
pub const MAX_REGISTRATION_BYTES: usize = 16 * 1024;
/// Most redirect URIs one registration may list.
const MAX_REDIRECT_URIS: usize = 16;
/// Longest `client_name` we echo back.
const MAX_CLIENT_NAME: usize = 200;
/// Grant types the proxy relays to Entra.
const GRANT_TYPES: [&str; 2] = ["authorization_code", "refresh_token"];

/// Checks a registration request and returns the RFC 7591 §3.2.1 answer (sent with 201).
pub fn register(
    settings: &AuthSettings,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<Value, OAuthError> {
    let mime = content_type.unwrap_or("").split(';').next().unwrap_or("");
    if !mime.trim().eq_ignore_ascii_case("application/json") {
        return Err(metadata(
            "send the registration as Content-Type: application/json",
        ));
    }
    if body.len() > MAX_REGISTRATION_BYTES {
        return Err(metadata(format!(
            "the registration is {} bytes; at most {MAX_REGISTRATION_BYTES} are accepted",
            body.len()
        )));
    }
    let request: Map<String, Value> = match serde_json::from_slice(body) {
        Ok(Value::Object(map)) => map,
        Ok(_) => return Err(metadata("the registration must be a JSON object")),
        Err(e) => {
            return Err(metadata(format!(
                "the registration is not valid JSON ({e})"
            )))
        }
    };
    let redirect_uris = redirect_uris(settings, request.get("redirect_uris"))?;
    let grant_types = string_list(&request, "grant_types")?
        .unwrap_or_else(|| GRANT_TYPES.iter().map(|g| g.to_string()).collect());
    if let Some(bad) = grant_types
        .iter()
        .find(|g| !GRANT_TYPES.contains(&g.as_str()))
    {
        return Err(metadata(format!(
            "grant type {bad:?} is not supported; use authorization_code and refresh_token"
        )));
    }
    if !grant_types.iter().any(|g| g == "authorization_code") {
        return Err(metadata("grant_types must include authorization_code"));
    }
    let response_types = string_list(&request, "response_types")?;
    if response_types.is_some_and(|r| r.iter().any(|t| t != "code")) {
        return Err(metadata("only the response type \"code\" is supported"));
    }
    if request
        .get("token_endpoint_auth_method")
        .is_some_and(|m| !m.is_string())
    {
        return Err(metadata("token_endpoint_auth_method must be a string"));
    }
    let mut answer = json!({
        "client_id": settings.client_id,
        "client_id_issued_at": SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()),
        "redirect_uris": redirect_uris,
        "grant_types": grant_types,
        "response_types": ["code"],
        // No secret is issued: whatever method was asked for, this client is public (RFC 7591
        // §3.2.1 lets the server replace requested values). The proxy holds the Entra secret.
        "token_endpoint_auth_method": "none",
    });
    match request.get("client_name") {
        None => {}
        Some(Value::String(name)) if name.chars().count() <= MAX_CLIENT_NAME => {
            answer["client_name"] = json!(name);
        }
        Some(_) => {
            return Err(metadata(format!(
                "client_name must be a string of at most {MAX_CLIENT_NAME} characters"
            )))
        }
    }
    log::info!(
        "oauth register: {} redirect URI(s) accepted, answered with client_id={}",
        redirect_uris.len(),
        settings.client_id
    );
    Ok(answer)
}

fn metadata(description: impl Into<String>) -> OAuthError {
    OAuthError::bad("invalid_client_metadata", description)
}

fn redirect(description: impl Into<String>) -> OAuthError {
    OAuthError::bad("invalid_redirect_uri", description)
}

fn redirect_uris(
    settings: &AuthSettings,
    value: Option<&Value>,
) -> Result<Vec<String>, OAuthError> {
    let Some(Value::Array(items)) = value else {
        return Err(redirect(
            "redirect_uris is required: a JSON array of the client's callback URLs",
        ));
    };
    if items.is_empty() || items.len() > MAX_REDIRECT_URIS {
        return Err(redirect(format!(
            "redirect_uris must list 1 to {MAX_REDIRECT_URIS} URLs"
        )));
    }
    let mut out: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        let Some(uri) = item.as_str() else {
            return Err(redirect("every redirect_uris entry must be a string"));
        };
        if !settings.redirect_uris.iter().any(|allowed| allowed == uri) {
            // The URI is the client's own input; quote it through Debug so it cannot break lines.
            return Err(redirect(format!(
                "redirect URI {uri:?} is not allowed; this server accepts {} (add others to OAUTH_REDIRECT_URIS)",
                settings.redirect_uris.join(", ")
            )));
        }
        if !out.iter().any(|u| u == uri) {
            out.push(uri.to_string());
        }
    }
    Ok(out)
}

fn string_list(
    request: &Map<String, Value>,
    name: &str,
) -> Result<Option<Vec<String>>, OAuthError> {
    let Some(value) = request.get(name) else {
        return Ok(None);
    };
    let list = value.as_array().and_then(|items| {
        items
            .iter()
            .map(|i| i.as_str().map(str::to_string))
            .collect::<Option<Vec<String>>>()
    });
    match list {
        Some(l) if l.len() <= GRANT_TYPES.len() * 4 => Ok(Some(l)),
        _ => Err(metadata(format!(
            "{name} must be a short JSON array of strings"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Vars;

    const CALLBACK: &str = "https://claude.ai/api/mcp/auth_callback";

    fn settings() -> AuthSettings {
        AuthSettings::from_vars(&Vars::from_pairs([
            ("ENABLE_AUTH", "true"),
            ("ENTRA_TENANT_ID", "11111111-2222-3333-4444-555555555555"),
            ("ENTRA_CLIENT_ID", "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"),
        ]))
        .unwrap()
        .unwrap()
    }

    fn reg(body: Value) -> Result<Value, OAuthError> {
        register(
            &settings(),
            Some("application/json; charset=utf-8"),
            body.to_string().as_bytes(),
        )
    }

    #[test]
    fn claude_ai_registration_is_answered_with_the_entra_app() {
        let v = reg(json!({
            "client_name": "Claude", "redirect_uris": [CALLBACK, CALLBACK],
            "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"],
            "token_endpoint_auth_method": "client_secret_post", "scope": "x"
        }))
        .unwrap();
        assert_eq!(v["client_id"], "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee");
        assert_eq!(v["redirect_uris"], json!([CALLBACK]));
        assert_eq!(v["token_endpoint_auth_method"], "none");
        assert_eq!(v["client_name"], "Claude");
        assert!(v["client_id_issued_at"]
            .as_u64()
            .is_some_and(|t| t > 1_700_000_000));
        assert!(v.get("client_secret").is_none());
        let minimal = reg(json!({"redirect_uris": [CALLBACK]})).unwrap();
        assert_eq!(minimal["grant_types"], json!(GRANT_TYPES));
    }

    #[test]
    fn refusals_name_the_rfc_7591_error() {
        let cases = [
            (json!({}), "invalid_redirect_uri"),
            (json!({"redirect_uris": []}), "invalid_redirect_uri"),
            (json!({"redirect_uris": CALLBACK}), "invalid_redirect_uri"),
            (
                json!({"redirect_uris": [CALLBACK, "https://evil.example/cb"]}),
                "invalid_redirect_uri",
            ),
            (json!({"redirect_uris": [7]}), "invalid_redirect_uri"),
            (
                json!({"redirect_uris": [CALLBACK], "grant_types": ["client_credentials"]}),
                "invalid_client_metadata",
            ),
            (
                json!({"redirect_uris": [CALLBACK], "grant_types": ["refresh_token"]}),
                "invalid_client_metadata",
            ),
            (
                json!({"redirect_uris": [CALLBACK], "response_types": ["token"]}),
                "invalid_client_metadata",
            ),
            (
                json!({"redirect_uris": [CALLBACK], "client_name": "x".repeat(201)}),
                "invalid_client_metadata",
            ),
            (
                json!({"redirect_uris": [CALLBACK], "token_endpoint_auth_method": 1}),
                "invalid_client_metadata",
            ),
            (json!([CALLBACK]), "invalid_client_metadata"),
        ];
        for (body, error) in cases {
            let e = reg(body.clone()).unwrap_err();
            assert_eq!((e.status, e.error), (400, error), "{body}: {e}");
        }
        let s = settings();
        for (ct, body) in [
            (Some("text/plain"), b"{}".to_vec()),
            (None, b"{}".to_vec()),
            (Some("application/json"), b"{not json".to_vec()),
            (
                Some("application/json"),
                vec![b' '; MAX_REGISTRATION_BYTES + 1],
            ),
        ] {
            let e = register(&s, ct, &body).unwrap_err();
            assert_eq!(e.error, "invalid_client_metadata", "{ct:?}: {e}");
        }
    }
}
