//! Entra ID sign-in: JWT validation against a cached JWKS, and the OAuth proxy for claude.ai.
//!
//! Settings are read and validated by `config::auth`. Owns reading the client secret
//! (secret.rs), the ring crypto provider (crypto.rs), token
//! validation (jwt.rs), the user's email for Bedrock access lists (acl.rs), the key cache
//! (jwks.rs) and the OAuth proxy (oauth.rs), with its stateless client registration
//! (register.rs), metadata-document ids (client_id.rs) and the OAuth error they share
//! (oauth_error.rs). Knows nothing of tiny_http: inputs are strings and bytes, outputs plain
//! data the HTTP layer renders.
//! Must never log tokens, codes or client secrets.

pub mod acl;
pub mod client_id;
pub mod crypto;
pub mod error;
pub mod jwks;
pub mod jwt;
pub mod oauth;
pub mod oauth_error;
pub mod register;
pub mod secret;

use std::sync::OnceLock;
use std::time::Duration;

pub use crate::config::AuthSettings;
pub use error::AuthError;
pub use jwt::{Authenticator, BearerToken, Principal};
pub use oauth::TokenReply;
pub use oauth_error::OAuthError;

/// The HTTP client for Entra (JWKS and token endpoints), shared so connections are reused.
fn http_agent() -> &'static ureq::Agent {
    static AGENT: OnceLock<ureq::Agent> = OnceLock::new();
    AGENT.get_or_init(|| {
        let config = ureq::Agent::config_builder()
            // Entra's answers (including 4xx OAuth errors) are data to pass on, not Rust errors.
            .http_status_as_error(false)
            // Entra does not redirect these endpoints; following one would be an SSRF door.
            .max_redirects(0)
            .timeout_connect(Some(Duration::from_secs(5)))
            .timeout_global(Some(Duration::from_secs(15)))
            .user_agent(concat!("bedrock-mcp/", env!("CARGO_PKG_VERSION")))
            .build();
        crate::dns::agent(config)
    })
}
