//! Client ID Metadata Documents (CIMD): which URL-shaped client ids the proxy accepts, and
//! the Entra client id they stand for.
//!
//! Entra knows one client, the app registration in ENTRA_CLIENT_ID. A client that names itself
//! by a metadata-document URL (claude.ai does) is accepted only if that URL is allow-listed in
//! OAUTH_CLIENT_METADATA_URLS, and is then mapped onto the Entra app. The document is never
//! fetched: the allowlist is the trust decision, the redirect allowlist and PKCE do the rest.
//! Must never forward a URL-shaped client id to Entra.

use super::error::OAuthError;

/// A client id with a scheme is a metadata-document URL (Entra's ids are GUIDs).
pub fn is_url_shaped(client_id: &str) -> bool {
    client_id.contains("://")
}

/// The client id to send Entra: allow-listed document URLs become ENTRA_CLIENT_ID, other URLs
/// are refused, anything else (the Entra id itself, typed in Advanced settings) passes as is.
/// `accepted` is OAUTH_CLIENT_METADATA_URLS as read by `config::auth`, `entra` ENTRA_CLIENT_ID.
pub fn upstream<'a>(
    accepted: &[String],
    entra: &'a str,
    client_id: &'a str,
) -> Result<&'a str, OAuthError> {
    if !is_url_shaped(client_id) {
        return Ok(client_id);
    }
    if accepted.iter().any(|u| u == client_id) {
        return Ok(entra);
    }
    let hint = if accepted.is_empty() {
        "client metadata documents are turned off (OAUTH_CLIENT_METADATA_URLS=none)".to_string()
    } else {
        "add it to OAUTH_CLIENT_METADATA_URLS on the server if this client should sign in".into()
    };
    Err(OAuthError::bad(
        "invalid_client",
        format!("client_id {client_id:?} is not an accepted client metadata document URL; {hint}"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::auth::DEFAULT_METADATA_URL;
    use crate::config::{AuthSettings, Vars};

    fn upstream<'a>(s: &'a AuthSettings, client_id: &'a str) -> Result<&'a str, OAuthError> {
        super::upstream(&s.client_metadata_urls, &s.client_id, client_id)
    }

    fn settings(extra: &[(&str, &str)]) -> AuthSettings {
        let mut pairs = vec![
            ("ENABLE_AUTH", "true"),
            ("ENTRA_TENANT_ID", "11111111-2222-3333-4444-555555555555"),
            ("ENTRA_CLIENT_ID", "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"),
        ];
        pairs.extend_from_slice(extra);
        AuthSettings::from_vars(&Vars::from_pairs(pairs))
            .unwrap()
            .unwrap()
    }

    #[test]
    fn default_accepts_claude_ai_only_and_maps_it() {
        let s = settings(&[]);
        assert_eq!(s.client_metadata_urls, [DEFAULT_METADATA_URL]);
        assert_eq!(upstream(&s, DEFAULT_METADATA_URL), Ok(s.client_id.as_str()));
        assert_eq!(upstream(&s, &s.client_id), Ok(s.client_id.as_str()));
        for other in [
            "https://claude.com/oauth/mcp-oauth-client-metadata",
            "https://claude.ai/oauth/mcp-oauth-client-metadata/",
            "https://evil.example/oauth/mcp-oauth-client-metadata",
            "http://claude.ai/oauth/mcp-oauth-client-metadata",
        ] {
            let e = upstream(&s, other).unwrap_err();
            assert_eq!((e.status, e.error), (400, "invalid_client"), "{other}");
            assert!(e.description.contains("OAUTH_CLIENT_METADATA_URLS"), "{e}");
        }
    }

    #[test]
    fn list_replaces_default_and_none_turns_it_off() {
        let s = settings(&[(
            "OAUTH_CLIENT_METADATA_URLS",
            "https://a.example/cimd.json, https://b.example/x/y",
        )]);
        assert_eq!(s.client_metadata_urls.len(), 2);
        assert!(upstream(&s, "https://b.example/x/y").is_ok());
        assert!(upstream(&s, DEFAULT_METADATA_URL).is_err());
        let off = settings(&[("OAUTH_CLIENT_METADATA_URLS", "None")]);
        assert!(off.client_metadata_urls.is_empty());
        assert!(upstream(&off, DEFAULT_METADATA_URL).is_err());
    }
}
