//! Entra ID sign-in: JWT validation against a cached JWKS, and the OAuth proxy for claude.ai.
//!
//! Settings are read and validated by `config::auth`. Owns reading the client secret
//! (secret.rs), the ring crypto provider (crypto.rs), token
//! validation (jwt.rs), the user's email for Bedrock access lists (acl.rs), the key cache
//! (jwks.rs) and the OAuth proxy (oauth.rs), with its stateless client registration
//! (register.rs), client ids (client_id.rs), redirect-URI matching (`config::auth::redirect`), sealed
//! refresh tokens and registered-client secrets (seal.rs); the errors they answer with are in
//! error.rs. Knows nothing of tiny_http: inputs are strings and bytes, outputs plain
//! data the HTTP layer renders.
//! Must never log tokens, codes or client secrets.

pub(crate) mod acl;
pub(crate) mod client_id;
pub(crate) mod crypto;
pub(crate) mod error;
pub mod jwks;
pub(crate) mod jwt;
pub mod oauth;
pub(crate) mod register;
pub(crate) mod seal;
pub(crate) mod secret;

use std::sync::OnceLock;
use std::time::Duration;

pub use crate::config::AuthSettings;
pub use error::{AuthError, OAuthError};
pub use jwt::{Authenticator, BearerToken, Principal};
pub use oauth::TokenReply;

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
