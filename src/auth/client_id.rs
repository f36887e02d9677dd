//! Which client ids the proxy accepts, what each stands for at Entra, and where each may be
//! redirected: allow-listed Client ID Metadata Document (CIMD) URLs, the ids `/register` mints,
//! and anything else (the Entra app's own id, typed into a client's settings).
//!
//! Entra knows one client, the app registration in ENTRA_CLIENT_ID; every accepted client id is
//! mapped onto it. A metadata-document id is accepted only if allow-listed in
//! OAUTH_CLIENT_METADATA_URLS; it may then use the redirect URIs its document lists when the
//! document is one we know (`KNOWN_DOCUMENTS`, never fetched), else the server-wide allowlist.
//! A registered id carries the redirect URIs and token authentication method it registered
//! and a random part (unsigned: it can only narrow the server-wide allowlist, never widen it). Must never
//! forward a URL-shaped or registered client id to Entra.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};

use super::error::OAuthError;
use crate::config::auth::redirect;
use crate::config::auth::{CLAUDE_CODE_METADATA_URL, DEFAULT_METADATA_URL, DEFAULT_REDIRECT_URIS};
use crate::config::AuthSettings;

/// What the client ids `/register` mints start with.
pub const REGISTERED_PREFIX: &str = "mcp-dcr.";
/// Longest registered client id we decode.
pub const MAX_REGISTERED_CHARS: usize = 8 * 1024;

/// VS Code's metadata document (docs/clients.md has the source).
pub const VSCODE_METADATA_URL: &str = "https://vscode.dev/oauth/client-metadata.json";

/// Metadata documents we know, with the redirect URIs each lists (sources in docs/clients.md).
/// Loopback entries match any port (RFC 8252 §7.3).
const KNOWN_DOCUMENTS: [(&str, &[&str]); 3] = [
    (DEFAULT_METADATA_URL, &DEFAULT_REDIRECT_URIS),
    (
        CLAUDE_CODE_METADATA_URL,
        &["http://localhost/callback", "http://127.0.0.1/callback"],
    ),
    (
        VSCODE_METADATA_URL,
        &["http://127.0.0.1:33418/", "https://vscode.dev/redirect"],
    ),
];

/// How a client id came to be accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// An allow-listed metadata-document URL: a public client.
    Document,
    /// Minted by `/register`; `secret` when it registered a client-secret method.
    Registered { secret: bool },
    /// Anything else, passed to Entra as it is (normally ENTRA_CLIENT_ID itself).
    Entra,
}

/// Where a client may be redirected.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Redirects {
    /// The server-wide allowlist (DEFAULT_REDIRECT_URIS plus OAUTH_REDIRECT_URIS).
    ServerWide,
    /// A known document's own list.
    Document(&'static [&'static str]),
    /// What the client registered, each entry still bound by the server-wide allowlist.
    Registered(Vec<String>),
}

/// An accepted client id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client<'a> {
    /// The id as the client presented it (what refresh tokens are bound to).
    pub id: &'a str,
    /// The id sent to Entra.
    pub upstream: &'a str,
    /// How it was accepted.
    pub kind: Kind,
    redirects: Redirects,
}

/// What a registered client id encodes.
#[derive(Debug, Serialize, Deserialize)]
struct Registration {
    /// Redirect URIs.
    r: Vec<String>,
    /// `token_endpoint_auth_method`.
    m: String,
    /// Random: two registrations never share an id, so neither shares a client secret or the
    /// refresh tokens bound to the id.
    n: String,
}

/// A client id with a scheme is a metadata-document URL (Entra's ids are GUIDs).
pub fn is_url_shaped(client_id: &str) -> bool {
    client_id.contains("://")
}

/// The redirect URIs a known metadata document lists.
pub fn known_document(url: &str) -> Option<&'static [&'static str]> {
    KNOWN_DOCUMENTS
        .iter()
        .find(|(u, _)| *u == url)
        .map(|(_, r)| *r)
}

/// A fresh client id for `/register` to answer with these redirect URIs and authentication
/// method.
pub fn registered_id(redirect_uris: &[String], auth_method: &str) -> String {
    let registration = Registration {
        r: redirect_uris.to_vec(),
        m: auth_method.to_string(),
        n: crate::util::random_hex(12),
    };
    // Serialising strings into JSON cannot fail.
    let json = serde_json::to_vec(&registration).unwrap_or_default();
    format!("{REGISTERED_PREFIX}{}", URL_SAFE_NO_PAD.encode(json))
}

/// Accepts or refuses a client id. Refusals are 400 `invalid_client` saying what to change.
pub fn resolve<'a>(
    settings: &'a AuthSettings,
    client_id: &'a str,
) -> Result<Client<'a>, OAuthError> {
    if let Some(encoded) = client_id.strip_prefix(REGISTERED_PREFIX) {
        let registration = (client_id.len() <= MAX_REGISTERED_CHARS)
            .then(|| URL_SAFE_NO_PAD.decode(encoded).ok())
            .flatten()
            .and_then(|json| serde_json::from_slice::<Registration>(&json).ok())
            .filter(|r| !r.r.is_empty() && AUTH_METHODS.contains(&r.m.as_str()));
        let Some(registration) = registration else {
            return Err(OAuthError::bad(
                "invalid_client",
                "client_id is not one this server's /register issued; register again",
            ));
        };
        return Ok(Client {
            id: client_id,
            upstream: &settings.client_id,
            kind: Kind::Registered {
                secret: registration.m != "none",
            },
            redirects: Redirects::Registered(registration.r),
        });
    }
    if !is_url_shaped(client_id) {
        return Ok(Client {
            id: client_id,
            upstream: client_id,
            kind: Kind::Entra,
            redirects: Redirects::ServerWide,
        });
    }
    if settings.client_metadata_urls.iter().any(|u| u == client_id) {
        let redirects =
            known_document(client_id).map_or(Redirects::ServerWide, Redirects::Document);
        return Ok(Client {
            id: client_id,
            upstream: &settings.client_id,
            kind: Kind::Document,
            redirects,
        });
    }
    let hint = if settings.client_metadata_urls.is_empty() {
        "client metadata documents are turned off (OAUTH_CLIENT_METADATA_URLS=none)".to_string()
    } else {
        "add it to OAUTH_CLIENT_METADATA_URLS on the server if this client should sign in".into()
    };
    Err(OAuthError::bad(
        "invalid_client",
        format!("client_id {client_id:?} is not an accepted client metadata document URL; {hint}"),
    ))
}

/// The `token_endpoint_auth_method` values a registration may carry.
pub const AUTH_METHODS: [&str; 3] = ["none", "client_secret_post", "client_secret_basic"];

/// True when the server-wide allowlist accepts `uri`.
pub fn server_wide_allows(settings: &AuthSettings, uri: &str) -> bool {
    settings
        .redirect_uris
        .iter()
        .any(|allowed| redirect::matches(allowed, uri))
}

impl Client<'_> {
    /// May this client be redirected to `uri`?
    pub fn allows_redirect(&self, settings: &AuthSettings, uri: &str) -> bool {
        match &self.redirects {
            Redirects::ServerWide => server_wide_allows(settings, uri),
            Redirects::Document(list) => list.iter().any(|e| redirect::matches(e, uri)),
            Redirects::Registered(list) => list
                .iter()
                .any(|e| redirect::matches(e, uri) && server_wide_allows(settings, e)),
        }
    }

    /// The setting an operator changes to allow another redirect URI for this client.
    pub fn redirect_hint(&self) -> &'static str {
        match self.redirects {
            Redirects::ServerWide => "add it to OAUTH_REDIRECT_URIS on the server",
            Redirects::Document(_) => "this client's metadata document does not list it",
            Redirects::Registered(_) => {
                "it is not among the redirect URIs this client registered at /register (or no longer in OAUTH_REDIRECT_URIS)"
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(extra: &[(&str, &str)]) -> AuthSettings {
        crate::config::auth::test_settings(extra)
    }

    #[test]
    fn default_accepts_the_claude_clients_and_maps_them() {
        let s = settings(&[]);
        assert_eq!(
            s.client_metadata_urls,
            [DEFAULT_METADATA_URL, CLAUDE_CODE_METADATA_URL]
        );
        for url in [DEFAULT_METADATA_URL, CLAUDE_CODE_METADATA_URL] {
            let c = resolve(&s, url).unwrap();
            assert_eq!((c.upstream, c.kind), (s.client_id.as_str(), Kind::Document));
        }
        let entra = resolve(&s, &s.client_id).unwrap();
        assert_eq!(
            (entra.upstream, entra.kind),
            (s.client_id.as_str(), Kind::Entra)
        );
        for other in [
            "https://claude.com/oauth/mcp-oauth-client-metadata",
            "https://claude.ai/oauth/mcp-oauth-client-metadata/",
            "https://evil.example/oauth/mcp-oauth-client-metadata",
            "http://claude.ai/oauth/mcp-oauth-client-metadata",
            VSCODE_METADATA_URL,
        ] {
            let e = resolve(&s, other).unwrap_err();
            assert_eq!((e.status, e.error), (400, "invalid_client"), "{other}");
            assert!(e.description.contains("OAUTH_CLIENT_METADATA_URLS"), "{e}");
        }
    }

    #[test]
    fn each_document_keeps_to_its_own_redirects() {
        let s = settings(&[(
            "OAUTH_REDIRECT_URIS",
            "https://chatgpt.com/connector_platform_oauth_redirect",
        )]);
        let claude = resolve(&s, DEFAULT_METADATA_URL).unwrap();
        let code = resolve(&s, CLAUDE_CODE_METADATA_URL).unwrap();
        assert!(claude.allows_redirect(&s, "https://claude.ai/api/mcp/auth_callback"));
        assert!(!claude.allows_redirect(&s, "http://localhost:5000/callback"));
        assert!(
            !claude.allows_redirect(&s, "https://chatgpt.com/connector_platform_oauth_redirect")
        );
        for ok in [
            "http://localhost:53682/callback",
            "http://127.0.0.1:1234/callback",
            "http://localhost/callback",
        ] {
            assert!(code.allows_redirect(&s, ok), "{ok}");
        }
        for bad in [
            "http://localhost:53682/other",
            "http://[::1]:53682/callback",
            "https://localhost:53682/callback",
            "https://claude.ai/api/mcp/auth_callback",
        ] {
            assert!(!code.allows_redirect(&s, bad), "{bad}");
        }
        let entra = resolve(&s, &s.client_id).unwrap();
        assert!(entra.allows_redirect(&s, "https://chatgpt.com/connector_platform_oauth_redirect"));
        assert!(!entra.allows_redirect(&s, "http://localhost:53682/callback"));
    }

    #[test]
    fn lists_replace_the_default_and_none_turns_it_off() {
        let s = settings(&[(
            "OAUTH_CLIENT_METADATA_URLS",
            "https://a.example/cimd.json, https://b.example/x/y",
        )]);
        assert_eq!(s.client_metadata_urls.len(), 2);
        let b = resolve(&s, "https://b.example/x/y").unwrap();
        assert_eq!(b.redirects, Redirects::ServerWide);
        assert!(resolve(&s, DEFAULT_METADATA_URL).is_err());
        let with_default = settings(&[(
            "OAUTH_CLIENT_METADATA_URLS",
            "default, https://vscode.dev/oauth/client-metadata.json",
        )]);
        assert_eq!(with_default.client_metadata_urls.len(), 3);
        let vscode = resolve(&with_default, VSCODE_METADATA_URL).unwrap();
        assert!(vscode.allows_redirect(&with_default, "http://127.0.0.1:50001/"));
        assert!(vscode.allows_redirect(&with_default, "https://vscode.dev/redirect"));
        assert!(!vscode.allows_redirect(&with_default, "https://insiders.vscode.dev/redirect"));
        let off = settings(&[("OAUTH_CLIENT_METADATA_URLS", "None")]);
        assert!(off.client_metadata_urls.is_empty());
        assert!(resolve(&off, DEFAULT_METADATA_URL).is_err());
    }

    #[test]
    fn registered_ids_carry_their_redirects_within_the_server_allowlist() {
        let s = settings(&[("OAUTH_REDIRECT_URIS", "http://127.0.0.1/")]);
        let uris = vec![
            "http://127.0.0.1:33418/".to_string(),
            "https://claude.ai/api/mcp/auth_callback".into(),
        ];
        let id = registered_id(&uris, "none");
        assert!(id.starts_with(REGISTERED_PREFIX) && !is_url_shaped(&id));
        assert_ne!(
            id,
            registered_id(&uris, "none"),
            "every registration is its own client"
        );
        let c = resolve(&s, &id).unwrap();
        assert_eq!(
            (c.upstream, c.kind.clone()),
            (s.client_id.as_str(), Kind::Registered { secret: false })
        );
        assert!(c.allows_redirect(&s, "http://127.0.0.1:40000/"));
        assert!(c.allows_redirect(&s, "https://claude.ai/api/mcp/auth_callback"));
        assert!(
            !c.allows_redirect(&s, "https://claude.com/api/mcp/auth_callback"),
            "not registered"
        );
        let secret_id = registered_id(&uris, "client_secret_basic");
        let secret = resolve(&s, &secret_id).unwrap();
        assert_eq!(secret.kind, Kind::Registered { secret: true });
        // A forged id naming a URI the server does not allow gains nothing.
        let forged = registered_id(&["https://evil.example/cb".into()], "none");
        let f = resolve(&s, &forged).unwrap();
        assert!(!f.allows_redirect(&s, "https://evil.example/cb"));
        // Once the operator removes the loopback entry, the registration no longer reaches it.
        let tightened = settings(&[]);
        assert!(!resolve(&tightened, &id)
            .unwrap()
            .allows_redirect(&tightened, "http://127.0.0.1:40000/"));
        for junk in [
            REGISTERED_PREFIX.to_string(),
            format!("{REGISTERED_PREFIX}!!"),
            format!(
                "{REGISTERED_PREFIX}{}",
                URL_SAFE_NO_PAD.encode(b"{\"r\":[],\"m\":\"none\"}")
            ),
            format!(
                "{REGISTERED_PREFIX}{}",
                URL_SAFE_NO_PAD.encode(b"{\"r\":[\"x\"],\"m\":\"tls_client_auth\"}")
            ),
            format!("{REGISTERED_PREFIX}{}", "A".repeat(MAX_REGISTERED_CHARS)),
        ] {
            let e = resolve(&s, &junk).unwrap_err();
            assert_eq!(e.error, "invalid_client", "{junk:.30}");
        }
    }
}
