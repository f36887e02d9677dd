//! The server's own credentials from web identity (EKS IRSA): the token in
//! AWS_WEB_IDENTITY_TOKEN_FILE, exchanged with STS `AssumeRoleWithWebIdentity` for
//! AWS_ROLE_ARN. The file is re-read on every fetch, because the kubelet rotates it.
//!
//! The variables are read and checked by `config::aws`. Owns one fetch at a time; caching
//! belongs to `credentials`. Must never log the token.

use super::credentials::Fetched;
use super::error::CredentialsError;
use super::sts::{AssumeRequest, Purpose, Sts};
use std::path::PathBuf;

/// The token file, the role and STS.
#[derive(Debug)]
pub(super) struct WebIdentitySource {
    token_file: PathBuf,
    role_arn: String,
    session_name: String,
    sts: Sts,
}

impl WebIdentitySource {
    /// The settings `config::aws` validated.
    pub(super) fn new(
        token_file: PathBuf,
        role_arn: String,
        session_name: String,
        sts_endpoint: &str,
    ) -> WebIdentitySource {
        WebIdentitySource {
            token_file,
            role_arn,
            session_name,
            sts: Sts::new(sts_endpoint),
        }
    }

    /// Where it gets credentials, for `describe` (no secrets).
    pub(super) fn describe(&self) -> String {
        format!(
            "{}, token file {}",
            self.sts.endpoint(),
            self.token_file.display()
        )
    }

    /// Reads the token file and asks STS once (with STS's own bounded retries).
    pub(super) fn fetch(&self) -> Result<Fetched, CredentialsError> {
        let fail = |message: String| CredentialsError::WebIdentity {
            role_arn: self.role_arn.clone(),
            message,
        };
        let token = std::fs::read_to_string(&self.token_file).map_err(|e| {
            fail(format!(
                "cannot read AWS_WEB_IDENTITY_TOKEN_FILE {}: {e}",
                self.token_file.display()
            ))
        })?;
        let token = token.trim();
        if token.len() < 4 || token.contains(char::is_whitespace) {
            return Err(fail(format!(
                "AWS_WEB_IDENTITY_TOKEN_FILE {} holds no token",
                self.token_file.display()
            )));
        }
        let request = AssumeRequest {
            role_arn: &self.role_arn,
            session_name: &self.session_name,
            duration_seconds: None,
            token,
        };
        let assumed = self
            .sts
            .assume_role_with_web_identity(&request, Purpose::Server)
            .map_err(|e| fail(e.to_string()))?;
        Ok(Fetched {
            expires: Some(assumed.expires),
            credentials: assumed.credentials,
            detail: format!("role {}", self.role_arn),
        })
    }
}
