//! What one credential fetch returns, shared by the providers (container.rs, imds.rs) that
//! produce it and the cache (credentials.rs) that keeps it.
//!
//! Its own file so the providers and the cache need not import each other. Holds secrets:
//! no Debug, never logged.

use aws_credential_types::Credentials;
use std::time::SystemTime;

/// What a provider returned from one fetch.
pub(super) struct Fetched {
    pub(super) credentials: Credentials,
    pub(super) expires: Option<SystemTime>,
    /// Non-secret detail for `describe`, e.g. "role MyRole".
    pub(super) detail: String,
}
