//! EC2 instance metadata (IMDSv2) credentials: PUT a session token, list the instance
//! profile's role, then GET that role's temporary credentials.
//!
//! Owns one fetch at a time; caching belongs to `credentials`. Must never log the IMDS
//! token or the credentials.

use super::error::CredentialsError;
use super::fetched::Fetched;
use super::http::{self, Transport};
use crate::config::Vars;
use ureq::Agent;

const DEFAULT_ENDPOINT: &str = "http://169.254.169.254";
const DEFAULT_ENDPOINT_V6: &str = "http://[fd00:ec2::254]";
const TOKEN_PATH: &str = "/latest/api/token";
const ROLES_PATH: &str = "/latest/meta-data/iam/security-credentials/";

/// The instance metadata endpoint.
#[derive(Debug)]
pub(super) struct ImdsSource {
    endpoint: String,
}

impl ImdsSource {
    /// Reads `AWS_EC2_METADATA_SERVICE_ENDPOINT` (and `_ENDPOINT_MODE=IPv6`).
    pub(super) fn from_vars(vars: &Vars) -> Result<ImdsSource, CredentialsError> {
        let var = "AWS_EC2_METADATA_SERVICE_ENDPOINT";
        let endpoint = match vars.get(var) {
            Some(url) if url.starts_with("http://") || url.starts_with("https://") => {
                url.trim_end_matches('/').to_string()
            }
            Some(url) => {
                return Err(CredentialsError::config(
                    var,
                    format!("must be an http:// or https:// URL, got {url:?}"),
                ))
            }
            None => match vars.get("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE") {
                Some(mode) if mode.eq_ignore_ascii_case("ipv6") => DEFAULT_ENDPOINT_V6.into(),
                Some(mode) if mode.eq_ignore_ascii_case("ipv4") => DEFAULT_ENDPOINT.into(),
                None => DEFAULT_ENDPOINT.into(),
                Some(mode) => {
                    return Err(CredentialsError::config(
                        "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE",
                        format!("must be IPv4 or IPv6, got {mode:?}"),
                    ))
                }
            },
        };
        Ok(ImdsSource { endpoint })
    }

    /// The endpoint, e.g. `http://169.254.169.254`.
    pub(super) fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Fetches the instance role's credentials once.
    pub(super) fn fetch(&self, agent: &Agent) -> Result<Fetched, CredentialsError> {
        let token = self.session_token(agent)?;
        let roles = self.get(agent, ROLES_PATH, &token)?;
        let Some(role) = roles.lines().map(str::trim).find(|l| !l.is_empty()) else {
            return Err(self.fail(NO_ROLE.to_string()));
        };
        if role.contains(['/', '?', '#', '%']) {
            return Err(self.fail(format!("IMDS listed an odd role name {role:?}")));
        }
        let body = self.get(agent, &format!("{ROLES_PATH}{role}"), &token)?;
        let (credentials, expires) =
            http::parse_credentials(&body, "imds").map_err(|m| self.fail(m))?;
        Ok(Fetched {
            credentials,
            expires,
            detail: format!("role {role}"),
        })
    }

    fn session_token(&self, agent: &Agent) -> Result<String, CredentialsError> {
        let url = format!("{}{TOKEN_PATH}", self.endpoint);
        let result = agent
            .put(&url)
            .header("x-aws-ec2-metadata-token-ttl-seconds", "21600")
            .send_empty();
        let mut response = match result {
            Ok(r) => r,
            Err(e) => {
                return Err(match http::classify(&e) {
                    Transport::ConnectTimeout | Transport::Timeout => {
                        CredentialsError::ImdsTokenTimeout {
                            endpoint: self.endpoint.clone(),
                        }
                    }
                    _ => self.fail(http::transport_message(&e)),
                })
            }
        };
        let status = response.status().as_u16();
        let body = http::read_metadata(&mut response).map_err(|e| self.transport(&e))?;
        match status {
            200 if !body.trim().is_empty() => Ok(body.trim().to_string()),
            200 => Err(self.fail("IMDS returned an empty session token".into())),
            403 => Err(self.fail(
                "IMDS refused a session token (HTTP 403): instance metadata may be disabled \
                 for this instance (aws ec2 modify-instance-metadata-options --http-endpoint enabled)"
                    .into(),
            )),
            s => Err(self.fail(format!("the IMDSv2 token request got HTTP {s}"))),
        }
    }

    fn get(&self, agent: &Agent, path: &str, token: &str) -> Result<String, CredentialsError> {
        let url = format!("{}{path}", self.endpoint);
        let mut response = agent
            .get(&url)
            .header("x-aws-ec2-metadata-token", token)
            .call()
            .map_err(|e| self.transport(&e))?;
        let status = response.status().as_u16();
        let body = http::read_metadata(&mut response).map_err(|e| self.transport(&e))?;
        match status {
            200 => Ok(body),
            404 => Err(self.fail(NO_ROLE.to_string())),
            s => Err(self.fail(format!("GET {path} got HTTP {s}"))),
        }
    }

    fn transport(&self, e: &ureq::Error) -> CredentialsError {
        self.fail(http::transport_message(e))
    }

    fn fail(&self, message: String) -> CredentialsError {
        CredentialsError::Imds {
            endpoint: self.endpoint.clone(),
            message,
        }
    }
}

const NO_ROLE: &str = "no IAM role is attached to this instance: attach an instance profile \
                       whose role may call bedrock:Retrieve";

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(pairs: &[(&str, &str)]) -> Result<String, CredentialsError> {
        ImdsSource::from_vars(&Vars::from_pairs(pairs.iter().copied())).map(|s| s.endpoint)
    }

    #[test]
    fn endpoint_defaults_and_overrides() {
        assert_eq!(endpoint(&[]).unwrap(), "http://169.254.169.254");
        assert_eq!(
            endpoint(&[("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "IPv6")]).unwrap(),
            "http://[fd00:ec2::254]"
        );
        assert_eq!(
            endpoint(&[(
                "AWS_EC2_METADATA_SERVICE_ENDPOINT",
                "http://127.0.0.1:1234/"
            )])
            .unwrap(),
            "http://127.0.0.1:1234"
        );
        assert!(endpoint(&[("AWS_EC2_METADATA_SERVICE_ENDPOINT", "169.254.169.254")]).is_err());
        assert!(endpoint(&[("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "v5")]).is_err());
    }
}
