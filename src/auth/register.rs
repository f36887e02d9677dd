//! Dynamic Client Registration (RFC 7591) without state: `POST /register`.
//!
//! Entra has no DCR, and this server keeps nothing: a registration is answered with a client id
//! that carries the accepted redirect URIs (those the server-wide allowlist matches; loopback
//! entries match any port) and the token authentication method (client_id.rs), mapped onto the
//! one Entra app at `/authorize` and `/token`. `none` (or no method) makes a public client.
//! `client_secret_post` / `client_secret_basic` are honoured when the server holds the Entra
//! secret: the client secret is derived from it (seal.rs), so `/token` can check it statelessly;
//! without a server secret they are refused with `invalid_client_metadata`, as is any other
//! method. Must not store anything, and must not echo unchecked input beyond the bounded
//! `client_name`.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Map, Value};

use super::client_id::{self, AUTH_METHODS};
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
    let method = match request.get("token_endpoint_auth_method") {
        None => "none",
        Some(Value::String(m)) if AUTH_METHODS.contains(&m.as_str()) => m.as_str(),
        Some(Value::String(m)) => {
            return Err(metadata(format!(
                "token_endpoint_auth_method {m:?} is not supported; use none (a public client with PKCE), \
                 or client_secret_post / client_secret_basic when the server holds ENTRA_CLIENT_SECRET"
            )))
        }
        Some(_) => return Err(metadata("token_endpoint_auth_method must be a string")),
    };
    let client_id = client_id::registered_id(&redirect_uris, method);
    if client_id.len() > client_id::MAX_REGISTERED_CHARS {
        return Err(redirect(format!(
            "the redirect URIs are too long together; list fewer (at most {} characters in all)",
            client_id::MAX_REGISTERED_CHARS / 2
        )));
    }
    let mut answer = json!({
        "client_id": client_id,
        "client_id_issued_at": SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()),
        "redirect_uris": redirect_uris,
        "grant_types": grant_types,
        "response_types": ["code"],
        "token_endpoint_auth_method": method,
    });
    if method != "none" {
        let keys = super::seal::for_settings(settings).map_err(|why| {
            log::error!("oauth register: {why}");
            OAuthError {
                status: 500,
                error: "server_error",
                description: "The server cannot read its Entra client secret; its administrator must fix ENTRA_CLIENT_SECRET or ENTRA_CLIENT_SECRET_FILE".into(),
            }
        })?;
        let Some(keys) = keys else {
            return Err(metadata(format!(
                "token_endpoint_auth_method {method} needs a client secret, and this server issues none \
                 (its Entra app is a public client); register with token_endpoint_auth_method none and use PKCE"
            )));
        };
        answer["client_secret"] = json!(keys.client_secret(&client_id));
        // RFC 7591 §3.2.1: 0 means the secret does not expire (it changes when the Entra secret does).
        answer["client_secret_expires_at"] = json!(0);
    }
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
    // OIDC Registration's application_type (the MCP 2026-07-28 revision has clients send it):
    // echoed when it is one of the two defined values, not enforced, since the MCP Inspector
    // omits it (meaning "web") yet uses loopback redirects.
    match request.get("application_type") {
        None => {}
        Some(Value::String(t)) if t == "native" || t == "web" => {
            answer["application_type"] = json!(t);
        }
        Some(_) => return Err(metadata("application_type must be \"native\" or \"web\"")),
    }
    log::info!(
        "oauth register: {} redirect URI(s) accepted, token_endpoint_auth_method={method}",
        redirect_uris.len(),
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
    let mut refused: Vec<&str> = Vec::new();
    for item in items {
        let Some(uri) = item.as_str() else {
            return Err(redirect("every redirect_uris entry must be a string"));
        };
        // Clients list several callbacks (VS Code: web and loopback); keep those we allow
        // (RFC 7591 §3.2.1 lets the server narrow the metadata) and say which we dropped.
        if !client_id::server_wide_allows(settings, uri) {
            refused.push(uri);
        } else if !out.iter().any(|u| u == uri) {
            out.push(uri.to_string());
        }
    }
    if out.is_empty() {
        // The URIs are the client's own input; quote them through Debug so they cannot break lines.
        return Err(redirect(format!(
            "no redirect URI is allowed ({refused:?}); this server accepts {} (loopback entries on any port; add others to OAUTH_REDIRECT_URIS)",
            settings.redirect_uris.join(", ")
        )));
    }
    if !refused.is_empty() {
        log::info!(
            "oauth register: dropped {} redirect URI(s) not on the allowlist",
            refused.len()
        );
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

    fn settings_with(extra: &[(&str, &str)]) -> AuthSettings {
        crate::config::auth::test_settings(extra)
    }

    #[test]
    fn a_public_registration_gets_an_id_carrying_its_redirects() {
        let s = settings();
        let v = reg(json!({
            "client_name": "Claude", "redirect_uris": [CALLBACK, CALLBACK],
            "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"],
            "token_endpoint_auth_method": "none", "scope": "x"
        }))
        .unwrap();
        let id = v["client_id"].as_str().unwrap();
        let client = client_id::resolve(&s, id).unwrap();
        assert_eq!(client.upstream, "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee");
        assert!(client.allows_redirect(&s, CALLBACK));
        assert!(!client.allows_redirect(&s, "https://claude.com/api/mcp/auth_callback"));
        assert_eq!(v["redirect_uris"], json!([CALLBACK]));
        assert_eq!(v["token_endpoint_auth_method"], "none");
        assert_eq!(v["client_name"], "Claude");
        assert!(v["client_id_issued_at"]
            .as_u64()
            .is_some_and(|t| t > 1_700_000_000));
        assert!(v.get("client_secret").is_none());
        let minimal = reg(json!({"redirect_uris": [CALLBACK]})).unwrap();
        assert_eq!(minimal["grant_types"], json!(GRANT_TYPES));
        assert_eq!(minimal["token_endpoint_auth_method"], "none");
    }

    #[test]
    fn vs_code_keeps_the_callbacks_the_server_allows() {
        // VS Code's registration (microsoft/vscode src/vs/base/common/oauth.ts).
        let body = json!({
            "client_name": "Visual Studio Code", "client_uri": "https://code.visualstudio.com",
            "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"],
            "redirect_uris": ["https://insiders.vscode.dev/redirect", "https://vscode.dev/redirect",
                "http://127.0.0.1/", "http://127.0.0.1:33418/"],
            "token_endpoint_auth_method": "none", "application_type": "native"
        });
        let s = settings_with(&[("OAUTH_REDIRECT_URIS", "http://127.0.0.1/")]);
        let v = register(&s, Some("application/json"), body.to_string().as_bytes()).unwrap();
        assert_eq!(
            v["redirect_uris"],
            json!(["http://127.0.0.1/", "http://127.0.0.1:33418/"])
        );
        assert_eq!(v["application_type"], "native");
        let client = client_id::resolve(&s, v["client_id"].as_str().unwrap()).unwrap();
        assert!(client.allows_redirect(&s, "http://127.0.0.1:51234/"));
        assert!(!client.allows_redirect(&s, "https://vscode.dev/redirect"));
        let again = register(&s, Some("application/json"), body.to_string().as_bytes()).unwrap();
        assert_ne!(
            again["client_id"], v["client_id"],
            "each registration is its own client"
        );
        let e = register(
            &settings(),
            Some("application/json"),
            body.to_string().as_bytes(),
        )
        .unwrap_err();
        assert_eq!(e.error, "invalid_redirect_uri");
        assert!(e.description.contains("OAUTH_REDIRECT_URIS"), "{e}");
    }

    #[test]
    fn a_registration_too_long_to_carry_is_refused() {
        let uris: Vec<String> = (0..16)
            .map(|i| format!("http://127.0.0.1/{i}/{}", "p".repeat(500)))
            .collect();
        let s = settings_with(&[("OAUTH_REDIRECT_URIS", &uris.join(","))]);
        let body = json!({"redirect_uris": uris});
        let e = register(&s, Some("application/json"), body.to_string().as_bytes()).unwrap_err();
        assert_eq!(e.error, "invalid_redirect_uri", "{e}");
        assert!(e.description.contains("too long"), "{e}");
    }

    #[test]
    fn client_secret_methods_are_honoured_only_with_a_server_secret() {
        for method in ["client_secret_post", "client_secret_basic"] {
            let body = json!({"redirect_uris": [CALLBACK], "token_endpoint_auth_method": method});
            let e = reg(body.clone()).unwrap_err();
            assert_eq!((e.status, e.error), (400, "invalid_client_metadata"), "{e}");
            assert!(e.description.contains("none"), "{e}");
            let s = settings_with(&[("ENTRA_CLIENT_SECRET", "server-secret")]);
            let v = register(&s, Some("application/json"), body.to_string().as_bytes()).unwrap();
            assert_eq!(v["token_endpoint_auth_method"], method);
            assert_eq!(v["client_secret_expires_at"], 0);
            let id = v["client_id"].as_str().unwrap();
            let secret = v["client_secret"].as_str().unwrap();
            assert_ne!(secret, "server-secret");
            let keys = crate::auth::seal::for_settings(&s).unwrap().unwrap();
            assert!(keys.verify_client_secret(id, secret));
            assert_eq!(
                client_id::resolve(&s, id).unwrap().kind,
                client_id::Kind::Registered { secret: true }
            );
        }
        for method in [
            "private_key_jwt",
            "tls_client_auth",
            "client_secret_jwt",
            "",
        ] {
            let e = reg(json!({"redirect_uris": [CALLBACK], "token_endpoint_auth_method": method}))
                .unwrap_err();
            assert_eq!(e.error, "invalid_client_metadata", "{method}");
        }
    }

    #[test]
    fn refusals_name_the_rfc_7591_error() {
        let cases = [
            (json!({}), "invalid_redirect_uri"),
            (json!({"redirect_uris": []}), "invalid_redirect_uri"),
            (json!({"redirect_uris": CALLBACK}), "invalid_redirect_uri"),
            (
                json!({"redirect_uris": ["https://evil.example/cb", "http://localhost:1/cb"]}),
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
            (
                json!({"redirect_uris": [CALLBACK], "application_type": "desktop"}),
                "invalid_client_metadata",
            ),
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
