//! Configuration: raw variables (environment plus an optional `.env`) → validated settings.
//!
//! Each module parses its own settings from [`Vars`] (`auth::AuthSettings::from_vars`,
//! `aws::credentials::CredentialChain::from_vars`, …); this module only gathers them.

mod vars;

pub use vars::{ConfigError, Vars};
