//! EC2 instance metadata (IMDSv2) credentials: PUT a session token, list the instance
//! profile's role, then GET that role's temporary credentials.
//!
//! Owns one fetch at a time, tried up to AWS_METADATA_SERVICE_NUM_ATTEMPTS times when IMDS
//! timed out, could not be reached or answered 5xx, each call bounded by
//! AWS_METADATA_SERVICE_TIMEOUT; caching belongs to `credentials`. Must never log the IMDS
//! token or the credentials.

use super::credentials::Fetched;
use super::error::CredentialsError;
use super::http::{self, Transport};
use std::time::Duration;
use ureq::Agent;

const TOKEN_PATH: &str = "/latest/api/token";
const ROLES_PATH: &str = "/latest/meta-data/iam/security-credentials/";

/// The instance metadata endpoint.
#[derive(Debug)]
pub(super) struct ImdsSource {
    endpoint: String,
    /// Its own agent: IMDS has its own timeout (AWS_METADATA_SERVICE_TIMEOUT).
    agent: Agent,
    attempts: u32,
}

/// A failed try, and whether another may go better.
struct Failure {
    error: CredentialsError,
    retry: bool,
}

impl ImdsSource {
    /// The endpoint, timeout and attempts `config::aws` chose.
    pub(super) fn new(endpoint: String, timeout: Duration, attempts: u32) -> ImdsSource {
        ImdsSource {
            endpoint,
            agent: http::imds_agent(timeout),
            attempts: attempts.max(1),
        }
    }

    /// The endpoint, e.g. `http://169.254.169.254`.
    pub(super) fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Fetches the instance role's credentials, trying again after a transient failure.
    /// The chain's shared agent is not used: IMDS calls keep to their own timeout.
    pub(super) fn fetch(&self, _shared: &Agent) -> Result<Fetched, CredentialsError> {
        let mut tries = 1;
        loop {
            match self.fetch_once(&self.agent) {
                Ok(fetched) => return Ok(fetched),
                Err(f) if f.retry && tries < self.attempts => tries += 1,
                Err(f) => return Err(f.error),
            }
        }
    }

    fn fetch_once(&self, agent: &Agent) -> Result<Fetched, Failure> {
        let token = self.session_token(agent)?;
        let roles = self.get(agent, ROLES_PATH, &token)?;
        let Some(role) = roles.lines().map(str::trim).find(|l| !l.is_empty()) else {
            return Err(self.fail(NO_ROLE.to_string()).into());
        };
        if role.contains(['/', '?', '#', '%']) {
            return Err(self
                .fail(format!("IMDS listed an odd role name {role:?}"))
                .into());
        }
        let body = self.get(agent, &format!("{ROLES_PATH}{role}"), &token)?;
        let (credentials, expires) =
            http::parse_credentials(&body, "imds").map_err(|m| Failure::from(self.fail(m)))?;
        Ok(Fetched {
            credentials,
            expires,
            detail: format!("role {role}"),
        })
    }

    fn session_token(&self, agent: &Agent) -> Result<String, Failure> {
        let url = format!("{}{TOKEN_PATH}", self.endpoint);
        let result = agent
            .put(&url)
            .header("x-aws-ec2-metadata-token-ttl-seconds", "21600")
            .send_empty();
        let mut response = match result {
            Ok(r) => r,
            Err(e) => {
                return Err(match http::classify(&e) {
                    Transport::ConnectTimeout | Transport::Timeout => Failure {
                        error: CredentialsError::ImdsTokenTimeout {
                            endpoint: self.endpoint.clone(),
                        },
                        retry: true,
                    },
                    _ => self.transport(&e),
                })
            }
        };
        let status = response.status().as_u16();
        let body = http::read_metadata(&mut response).map_err(|e| self.transport(&e))?;
        match status {
            200 if !body.trim().is_empty() => Ok(body.trim().to_string()),
            200 => Err(self.fail("IMDS returned an empty session token".into()).into()),
            403 => Err(self
                .fail(
                "IMDS refused a session token (HTTP 403): instance metadata may be disabled \
                 for this instance (aws ec2 modify-instance-metadata-options --http-endpoint enabled)"
                    .into(),
                )
                .into()),
            s => Err(self.status(s, format!("the IMDSv2 token request got HTTP {s}"))),
        }
    }

    fn get(&self, agent: &Agent, path: &str, token: &str) -> Result<String, Failure> {
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
            404 => Err(self.fail(NO_ROLE.to_string()).into()),
            s => Err(self.status(s, format!("GET {path} got HTTP {s}"))),
        }
    }

    /// A transport failure; worth another try unless retrying cannot help.
    fn transport(&self, e: &ureq::Error) -> Failure {
        Failure {
            error: self.fail(http::transport_message(e)),
            retry: http::classify(e) != Transport::Other,
        }
    }

    /// An unexpected status; a server error is worth another try, a client error is not.
    fn status(&self, status: u16, message: String) -> Failure {
        Failure {
            error: self.fail(message),
            retry: status >= 500,
        }
    }

    fn fail(&self, message: String) -> CredentialsError {
        CredentialsError::Imds {
            endpoint: self.endpoint.clone(),
            message,
        }
    }
}

impl From<CredentialsError> for Failure {
    fn from(error: CredentialsError) -> Failure {
        Failure {
            error,
            retry: false,
        }
    }
}

const NO_ROLE: &str = "no IAM role is attached to this instance: attach an instance profile \
                       whose role may call bedrock:Retrieve";
