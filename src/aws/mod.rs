//! AWS plumbing: SigV4 signing, the server's credentials chain (env → web identity →
//! container → IMDSv2), the one STS client, and each signed-in user's own AWS session.
//!
//! Owns talking to AWS credential endpoints and STS and signing requests. It must not know
//! about Bedrock's API shapes (that is `kb::bedrock`) nor ever log a secret key, session
//! token, web-identity token or identity context.

mod container;
pub(crate) mod credentials;
mod error;
pub(crate) mod http;
mod imds;
pub mod sigv4;
pub mod sts;
pub mod user_sessions;
pub mod web_identity;
mod web_identity_file;
pub mod xml;

pub use credentials::{CredentialChain, CredentialsError};
pub use user_sessions::{SessionError, UserSession, UserSessions};
pub use web_identity::WebIdentity;

/// A byte STS allows in a `RoleSessionName` (`[\w+=,.@-]`).
fn sts_name_byte(b: u8) -> bool {
    crate::config::aws::session_name_byte(b)
}
