//! EC2 instance metadata (IMDSv2) credentials: PUT a session token, list the instance
//! profile's role, then GET that role's temporary credentials.
//!
//! Owns one fetch at a time; caching belongs to `credentials`. Must never log the IMDS
//! token or the credentials.

use super::error::CredentialsError;
use super::fetched::Fetched;
use super::http::{self, Transport};
use ureq::Agent;

const TOKEN_PATH: &str = "/latest/api/token";
const ROLES_PATH: &str = "/latest/meta-data/iam/security-credentials/";

/// The instance metadata endpoint.
#[derive(Debug)]
pub(super) struct ImdsSource {
    endpoint: String,
}

impl ImdsSource {
    /// The endpoint `config::aws` chose (AWS_EC2_METADATA_SERVICE_ENDPOINT or the default).
    pub(super) fn new(endpoint: String) -> ImdsSource {
        ImdsSource { endpoint }
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
