//! AWS plumbing: SigV4 signing and the credentials chain (env → container → IMDSv2).
//!
//! Owns talking to AWS credential endpoints and signing requests. It must not know about
//! Bedrock's API shapes (that is `kb::bedrock`) nor ever log a secret key or session token.

mod container;
pub(crate) mod credentials;
mod error;
pub(crate) mod http;
mod imds;
pub mod sigv4;

pub use credentials::{CredentialChain, CredentialsError};
