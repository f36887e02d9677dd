//! Why AWS credentials could not be had, worded so the operator knows what to do next.
//!
//! Owns only the error type; must never carry a secret (messages name variables and
//! endpoints, never values read from them).

use crate::config::aws::HOW_TO_GIVE_CREDENTIALS as HOW_TO;
use std::fmt;

/// Why no credentials could be had. `Display` says what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CredentialsError {
    /// No source is configured (no keys, no container endpoint, IMDS disabled).
    NotFound,
    /// A credentials variable is set but unusable.
    Config {
        /// The variable at fault.
        var: String,
        /// What is wrong with it.
        message: String,
    },
    /// STS AssumeRoleWithWebIdentity with AWS_WEB_IDENTITY_TOKEN_FILE failed.
    WebIdentity {
        /// AWS_ROLE_ARN.
        role_arn: String,
        /// What went wrong (no token content).
        message: String,
    },
    /// The ECS/EKS container endpoint failed.
    Container {
        /// The endpoint URL.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// The EC2 instance metadata service failed.
    Imds {
        /// The IMDS endpoint.
        endpoint: String,
        /// What went wrong.
        message: String,
    },
    /// The IMDSv2 token request timed out (typically Docker on EC2 with hop limit 1).
    ImdsTokenTimeout {
        /// The IMDS endpoint.
        endpoint: String,
    },
}

impl fmt::Display for CredentialsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CredentialsError::NotFound => write!(
                f,
                "no AWS credentials found: {HOW_TO} (and leave AWS_EC2_METADATA_DISABLED unset)"
            ),
            CredentialsError::Config { var, message } => write!(f, "{var}: {message}"),
            CredentialsError::WebIdentity { role_arn, message } => write!(
                f,
                "could not get AWS credentials by web identity for AWS_ROLE_ARN={role_arn}: \
                 {message}; check AWS_WEB_IDENTITY_TOKEN_FILE, the role's trust policy (the \
                 cluster's OIDC provider and the service account) and AWS_ENDPOINT_URL_STS"
            ),
            CredentialsError::Container { url, message } => write!(
                f,
                "could not get AWS credentials from the container endpoint {url}: {message}; \
                 check the task role and the AWS_CONTAINER_* variables"
            ),
            CredentialsError::Imds { endpoint, message } => write!(
                f,
                "could not get AWS credentials from EC2 instance metadata at {endpoint}: \
                 {message}. If this is not EC2, {HOW_TO} (AWS_EC2_METADATA_DISABLED=true skips IMDS)"
            ),
            CredentialsError::ImdsTokenTimeout { endpoint } => write!(
                f,
                "no answer from EC2 instance metadata at {endpoint} to the IMDSv2 token request \
                 (PUT /latest/api/token). Inside Docker on EC2 the instance metadata hop limit \
                 must be 2: aws ec2 modify-instance-metadata-options --instance-id <id> \
                 --http-put-response-hop-limit 2 --http-endpoint enabled. If this is not EC2, \
                 {HOW_TO} (AWS_EC2_METADATA_DISABLED=true skips IMDS)"
            ),
        }
    }
}

impl std::error::Error for CredentialsError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_actionable() {
        let s = CredentialsError::NotFound.to_string();
        assert!(
            s.contains("AWS_ACCESS_KEY_ID") && s.contains("instance profile"),
            "{s}"
        );
        let s = CredentialsError::ImdsTokenTimeout {
            endpoint: "http://169.254.169.254".into(),
        }
        .to_string();
        assert!(s.contains("hop limit must be 2"), "{s}");
        assert!(s.contains("--http-put-response-hop-limit 2"), "{s}");
    }
}
