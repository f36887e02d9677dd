//! The one AWS STS client: `AssumeRoleWithWebIdentity`, unsigned, over the regional (or
//! configured) endpoint, for both the signed-in users' own sessions (`user_sessions`) and the
//! server's web-identity credentials (EKS IRSA, `credentials`).
//!
//! Owns the form body, reading the XML answer by element name (`xml`), the typed errors and
//! the retries: only `IDPCommunicationError`, `Throttling`, HTTP 5xx and connection failures
//! are retried (3 attempts in all, jittered backoff); every other refusal is final. Must never
//! log or put in an error the web-identity token, the secret key, the session token or the
//! identity context (their `Debug` is redacted; STS's own messages are kept only when they
//! hold no token).

use super::http::{self as awshttp, Transport};
use super::xml::{self, Element};
use crate::util::percent_encode;
use aws_credential_types::Credentials;
use ring::rand::{SecureRandom, SystemRandom};
use std::fmt;
use std::time::{Duration, SystemTime};
use ureq::Agent;

/// Attempts per call, first included.
pub const MAX_ATTEMPTS: u32 = 3;
/// The most we read of an STS answer (a TIP session token is a few KiB).
const MAX_BODY: u64 = 256 * 1024;
const BACKOFF_BASE: Duration = Duration::from_millis(100);
const BACKOFF_CAP: Duration = Duration::from_secs(2);

/// Who asks, for the metrics label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A signed-in user's own session.
    User,
    /// The server's own credentials (web identity / IRSA).
    Server,
}

impl Purpose {
    fn label(self) -> &'static str {
        match self {
            Purpose::User => "user",
            Purpose::Server => "server",
        }
    }
}

/// One `AssumeRoleWithWebIdentity` request.
pub struct AssumeRequest<'a> {
    /// `RoleArn`.
    pub role_arn: &'a str,
    /// `RoleSessionName`.
    pub session_name: &'a str,
    /// `DurationSeconds`; `None` leaves STS's default (1 hour).
    pub duration_seconds: Option<u64>,
    /// `WebIdentityToken`: the exact token (never logged).
    pub token: &'a str,
}

impl fmt::Debug for AssumeRequest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AssumeRequest")
            .field("role_arn", &self.role_arn)
            .field("session_name", &self.session_name)
            .field("duration_seconds", &self.duration_seconds)
            .field("token", &"<redacted>")
            .finish()
    }
}

impl AssumeRequest<'_> {
    /// The `application/x-www-form-urlencoded` body.
    pub fn form(&self) -> String {
        let mut pairs = vec![
            ("Action", "AssumeRoleWithWebIdentity".to_string()),
            ("Version", "2011-06-15".to_string()),
            ("RoleArn", self.role_arn.to_string()),
            ("RoleSessionName", self.session_name.to_string()),
        ];
        if let Some(d) = self.duration_seconds {
            pairs.push(("DurationSeconds", d.to_string()));
        }
        pairs.push(("WebIdentityToken", self.token.to_string()));
        pairs
            .iter()
            .map(|(k, v)| format!("{k}={}", percent_encode(v)))
            .collect::<Vec<_>>()
            .join("&")
    }
}

/// The identity context STS attached to the session (`TrustedIdentityPropagationContext`).
/// Information about the end user: never logged (redacted `Debug`).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct IdentityContext {
    /// `OriginIdentity/Subject`: the claim the provider's context provider maps.
    pub subject: Option<String>,
    /// `OriginIdentity/SubjectType`.
    pub subject_type: Option<String>,
    /// `OriginIdentity/Issuer`: the token's `iss` without `https://`.
    pub issuer: Option<String>,
    /// `OriginIdentity/FederatedProviderArn`.
    pub federated_provider_arn: Option<String>,
    /// `TransactionContext/IdentityProvider` entries (key, value).
    pub identity_provider: Vec<(String, String)>,
}

impl fmt::Debug for IdentityContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IdentityContext(<redacted>)")
    }
}

/// What STS answered: credentials and who AWS thinks the session is.
#[derive(Clone)]
pub struct Assumed {
    /// The session's keys (with their expiry).
    pub credentials: Credentials,
    /// `Credentials/Expiration`.
    pub expires: SystemTime,
    /// `AssumedRoleUser/Arn` (role and session name: no user data beyond the session name).
    pub assumed_role_arn: String,
    /// `SubjectFromWebIdentityToken` (the token's `sub`).
    pub subject_from_token: Option<String>,
    /// Present only when the provider has a context provider.
    pub context: Option<IdentityContext>,
}

impl fmt::Debug for Assumed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Assumed")
            .field("access_key_id", &self.credentials.access_key_id())
            .field("expires", &crate::rfc3339::format(self.expires))
            .field("assumed_role_arn", &self.assumed_role_arn)
            .field("context", &self.context.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

/// The STS error codes this server tells apart (`<Error><Code>`); any other is `Other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StsCode {
    /// `ExpiredTokenException`: the web-identity token has expired.
    ExpiredToken,
    /// `IDPRejectedClaim`: the identity provider refused the token (expired, revoked).
    IdpRejectedClaim,
    /// `InvalidIdentityToken`: signature, issuer or audience did not validate.
    InvalidIdentityToken,
    /// `AccessDenied`: the role's trust policy does not allow this.
    AccessDenied,
    /// `IDPCommunicationError`: AWS could not reach the identity provider (retryable).
    IdpCommunication,
    /// `Throttling` (and its variants): rate exceeded (retryable).
    Throttling,
    /// `RegionDisabledException`: STS is not activated in the region.
    RegionDisabled,
    /// `PackedPolicyTooLarge`: the session (policies, tags, context) is too large.
    PackedPolicyTooLarge,
    /// `MalformedPolicyDocument`.
    MalformedPolicyDocument,
    /// `ValidationError`: a parameter broke a constraint (duration, session name).
    Validation,
    /// Any other code.
    Other,
}

impl StsCode {
    /// Reads a code as STS spells it.
    pub fn parse(code: &str) -> StsCode {
        match code {
            "ExpiredTokenException" => StsCode::ExpiredToken,
            "IDPRejectedClaim" => StsCode::IdpRejectedClaim,
            "InvalidIdentityToken" => StsCode::InvalidIdentityToken,
            "AccessDenied" | "AccessDeniedException" => StsCode::AccessDenied,
            "IDPCommunicationError" => StsCode::IdpCommunication,
            "Throttling" | "ThrottlingException" | "RequestLimitExceeded" => StsCode::Throttling,
            "RegionDisabledException" => StsCode::RegionDisabled,
            "PackedPolicyTooLarge" => StsCode::PackedPolicyTooLarge,
            "MalformedPolicyDocument" => StsCode::MalformedPolicyDocument,
            "ValidationError" => StsCode::Validation,
            _ => StsCode::Other,
        }
    }

    /// Whether STS says another try may succeed.
    pub fn is_retryable(self) -> bool {
        matches!(self, StsCode::IdpCommunication | StsCode::Throttling)
    }
}

/// How a refusal should be handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// The token itself was refused (expired, revoked): the user should sign in again.
    Reauthenticate,
    /// A set-up problem an administrator must fix (trust policy, provider, region).
    Configuration,
    /// Passing trouble: try again later.
    Transient,
}

/// Why STS gave no credentials. `Display` says what happened; callers add what to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StsError {
    /// STS answered with an error document.
    Refused {
        /// HTTP status.
        status: u16,
        /// `<Error><Code>`, e.g. `AccessDenied`.
        code: String,
        /// `<Error><Message>` (dropped if it looked like it held a token).
        message: String,
    },
    /// No usable answer after all attempts (connection, timeout, 5xx or throttling).
    Unavailable {
        /// What the last attempt met.
        what: String,
        /// Attempts made.
        attempts: u32,
    },
    /// A 200 answer we could not read.
    BadAnswer(String),
    /// The request could not even be built (e.g. the token file is unreadable).
    Local(String),
}

impl StsError {
    /// The `<Error><Code>` as STS spelt it, if it sent one.
    pub fn code(&self) -> Option<&str> {
        match self {
            StsError::Refused { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The code, typed; `None` when STS sent no error document.
    pub fn kind(&self) -> Option<StsCode> {
        self.code().map(StsCode::parse)
    }

    /// What to do about it. `InvalidIdentityToken` counts as configuration (wrong issuer URL
    /// or audience in the provider): the caller turns it into re-authentication when the
    /// token's `exp` has passed.
    pub fn disposition(&self) -> Disposition {
        match self {
            StsError::Refused { code, .. } => match StsCode::parse(code) {
                StsCode::ExpiredToken | StsCode::IdpRejectedClaim => Disposition::Reauthenticate,
                c if c.is_retryable() => Disposition::Transient,
                _ => Disposition::Configuration,
            },
            StsError::Unavailable { .. } => Disposition::Transient,
            StsError::BadAnswer(_) | StsError::Local(_) => Disposition::Configuration,
        }
    }
}

impl fmt::Display for StsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StsError::Refused {
                status,
                code,
                message,
            } if message.is_empty() => write!(f, "{code} (HTTP {status})"),
            StsError::Refused {
                status,
                code,
                message,
            } => write!(f, "{code}: {message} (HTTP {status})"),
            StsError::Unavailable { what, attempts } => {
                write!(f, "{what} (after {attempts} attempt(s))")
            }
            StsError::BadAnswer(why) => write!(f, "unreadable answer: {why}"),
            StsError::Local(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for StsError {}

/// The STS endpoint and the agent that reaches it. Shared by all threads.
pub struct Sts {
    endpoint: String,
    agent: Agent,
}

impl fmt::Debug for Sts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sts")
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

impl Sts {
    /// A client for `endpoint` (a base URL, no trailing slash; checked by `config::aws`).
    pub fn new(endpoint: &str) -> Sts {
        let config = Agent::config_builder()
            .timeout_connect(Some(Duration::from_secs(5)))
            .timeout_global(Some(Duration::from_secs(10)))
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent(concat!("bedrock-mcp/", env!("CARGO_PKG_VERSION")))
            .build();
        Sts {
            endpoint: endpoint.trim_end_matches('/').to_string(),
            agent: crate::dns::agent(config),
        }
    }

    /// The base URL.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// `AssumeRoleWithWebIdentity`, retrying only what may pass.
    pub fn assume_role_with_web_identity(
        &self,
        request: &AssumeRequest<'_>,
        purpose: Purpose,
    ) -> Result<Assumed, StsError> {
        let body = request.form();
        let mut attempt = 1;
        loop {
            let result = self.attempt(&body);
            crate::metrics::sts_request(purpose.label(), outcome_label(&result));
            let retry = match &result {
                Ok(_) => false,
                Err(Attempt::Final(_)) => false,
                Err(Attempt::Again(_)) => attempt < MAX_ATTEMPTS,
            };
            if !retry {
                return result.map_err(|e| match e {
                    Attempt::Final(e) => e,
                    Attempt::Again(e) => match e {
                        StsError::Unavailable { what, .. } => StsError::Unavailable {
                            what,
                            attempts: attempt,
                        },
                        StsError::Refused {
                            status,
                            code,
                            message,
                        } => StsError::Unavailable {
                            what: if message.is_empty() {
                                format!("{code} (HTTP {status})")
                            } else {
                                format!("{code}: {message} (HTTP {status})")
                            },
                            attempts: attempt,
                        },
                        other => other,
                    },
                });
            }
            let pause = backoff(attempt);
            log::warn!(
                "AWS STS AssumeRoleWithWebIdentity attempt {attempt}/{MAX_ATTEMPTS} failed \
                 ({}); retrying in {} ms",
                match &result {
                    Err(Attempt::Again(e)) => e.to_string(),
                    _ => String::new(),
                },
                pause.as_millis()
            );
            std::thread::sleep(pause);
            attempt += 1;
        }
    }

    fn attempt(&self, body: &str) -> Result<Assumed, Attempt> {
        let url = format!("{}/", self.endpoint);
        let sent = self
            .agent
            .post(&url)
            .header(
                "content-type",
                "application/x-www-form-urlencoded; charset=utf-8",
            )
            .send(body.as_bytes());
        let mut response = match sent {
            Ok(r) => r,
            Err(e) => return Err(transport(&self.endpoint, &e)),
        };
        let status = response.status().as_u16();
        let bytes = match awshttp::read_capped(&mut response, MAX_BODY) {
            Ok(b) => b,
            Err(ureq::Error::BodyExceedsLimit(_)) => {
                return Err(Attempt::Final(StsError::BadAnswer(format!(
                    "larger than {} KiB",
                    MAX_BODY >> 10
                ))))
            }
            Err(e) => return Err(transport(&self.endpoint, &e)),
        };
        let text = String::from_utf8_lossy(&bytes);
        if status == 200 {
            return parse_success(&text).map_err(|why| Attempt::Final(StsError::BadAnswer(why)));
        }
        let error = parse_error(status, &text);
        let again = status >= 500 || error.kind().is_some_and(StsCode::is_retryable);
        Err(if again {
            Attempt::Again(error)
        } else {
            Attempt::Final(error)
        })
    }
}

/// One attempt's failure: worth another try, or final.
enum Attempt {
    Again(StsError),
    Final(StsError),
}

fn transport(endpoint: &str, e: &ureq::Error) -> Attempt {
    let what = format!(
        "AWS STS at {endpoint} could not be reached: {}",
        awshttp::transport_message(e)
    );
    match awshttp::classify(e) {
        Transport::Other => Attempt::Final(StsError::Unavailable { what, attempts: 1 }),
        _ => Attempt::Again(StsError::Unavailable { what, attempts: 1 }),
    }
}

/// The metrics label of one attempt: `ok`, a known STS code, `http_5xx`, `transport` or `other`.
fn outcome_label(result: &Result<Assumed, Attempt>) -> &'static str {
    let e = match result {
        Ok(_) => return "ok",
        Err(Attempt::Again(e) | Attempt::Final(e)) => e,
    };
    match e {
        StsError::Refused { code, status, .. } => crate::metrics::STS_CODES
            .iter()
            .find(|c| **c == code)
            .copied()
            .unwrap_or(if *status >= 500 { "http_5xx" } else { "other" }),
        StsError::Unavailable { .. } => "transport",
        _ => "other",
    }
}

/// Reads `AssumeRoleWithWebIdentityResponse`; elements may come in any order.
pub fn parse_success(body: &str) -> Result<Assumed, String> {
    let root = xml::parse(body)?;
    if root.name != "AssumeRoleWithWebIdentityResponse" {
        return Err(format!(
            "expected AssumeRoleWithWebIdentityResponse, got {}",
            root.name
        ));
    }
    let result = root
        .child("AssumeRoleWithWebIdentityResult")
        .ok_or("it has no AssumeRoleWithWebIdentityResult")?;
    let field = |path: &[&str]| result.text_at(path).map(str::to_string);
    let need = |path: &[&str]| field(path).ok_or_else(|| format!("it has no {}", path.join("/")));
    let key = need(&["Credentials", "AccessKeyId"])?;
    let secret = need(&["Credentials", "SecretAccessKey"])?;
    let token = need(&["Credentials", "SessionToken"])?;
    let expiration = need(&["Credentials", "Expiration"])?;
    let expires = crate::rfc3339::parse(&expiration)
        .ok_or("its Credentials/Expiration is not an ISO 8601 time")?;
    let arn = need(&["AssumedRoleUser", "Arn"])?;
    Ok(Assumed {
        credentials: Credentials::new(key, secret, Some(token), Some(expires), "sts"),
        expires,
        assumed_role_arn: arn,
        subject_from_token: field(&["SubjectFromWebIdentityToken"]),
        context: result
            .child("TrustedIdentityPropagationContext")
            .map(identity_context),
    })
}

fn identity_context(tip: &Element) -> IdentityContext {
    let text = |path: &[&str]| tip.text_at(path).map(str::to_string);
    let identity_provider = tip
        .find(&["TransactionContext", "IdentityProvider"])
        .map(|map| {
            map.children
                .iter()
                .filter(|e| e.name == "entry")
                .filter_map(|e| {
                    let key = e.text_at(&["key"])?.to_string();
                    let value = e.find(&["value"]).map(|v| v.text.trim().to_string())?;
                    Some((key, value))
                })
                .collect()
        })
        .unwrap_or_default();
    IdentityContext {
        subject: text(&["OriginIdentity", "Subject"]),
        subject_type: text(&["OriginIdentity", "SubjectType"]),
        issuer: text(&["OriginIdentity", "Issuer"]),
        federated_provider_arn: text(&["OriginIdentity", "FederatedProviderArn"]),
        identity_provider,
    }
}

/// Reads `<ErrorResponse><Error><Code>…` (or a bare `<Error>`); anything else is named by
/// its HTTP status.
pub fn parse_error(status: u16, body: &str) -> StsError {
    let parsed = xml::parse(body).ok();
    let error = parsed.as_ref().and_then(|root| {
        if root.name == "Error" {
            Some(root)
        } else {
            root.child("Error")
        }
    });
    let code = error
        .and_then(|e| e.text_at(&["Code"]))
        .filter(|c| c.len() <= 64 && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.'))
        .map(str::to_string);
    let message = error
        .and_then(|e| e.text_at(&["Message"]))
        .map(clean_message)
        .unwrap_or_default();
    match code {
        Some(code) => StsError::Refused {
            status,
            code,
            message,
        },
        None => StsError::Refused {
            status,
            code: format!("HTTP{status}"),
            message: String::new(),
        },
    }
}

/// STS's message, kept short and dropped if it might quote a token.
fn clean_message(m: &str) -> String {
    if m.contains("eyJ") || m.len() > 300 {
        return String::new();
    }
    m.chars().filter(|c| !c.is_control()).collect()
}

/// Full jitter: uniform in [0, min(cap, base · 2^(attempt-1))).
fn backoff(attempt: u32) -> Duration {
    let ceiling = BACKOFF_BASE
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(10))
        .min(BACKOFF_CAP);
    let mut bytes = [0u8; 4];
    let fraction = if SystemRandom::new().fill(&mut bytes).is_ok() {
        f64::from(u32::from_le_bytes(bytes)) / (f64::from(u32::MAX) + 1.0)
    } else {
        0.5
    };
    ceiling.mul_f64(fraction)
}

#[cfg(test)]
mod tests;
