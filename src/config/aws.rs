//! AWS settings: the region (AWS_REGION, AWS_DEFAULT_REGION) and which credentials source the
//! chain uses, in SDK order: environment keys, then ECS/EKS container credentials
//! (AWS_CONTAINER_*), then EC2 instance metadata (AWS_EC2_METADATA_*, with the SDKs'
//! AWS_METADATA_SERVICE_TIMEOUT and _NUM_ATTEMPTS).
//!
//! Owns reading and checking those variables; `aws::credentials` consumes the result and
//! does the fetching. Must not do I/O, and `Debug` never shows a secret key or token.

use super::{ConfigError, Vars};
use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;
use ureq::http::Uri;

/// Where ECS serves task-role credentials for a relative URI.
const ECS_HOST: &str = "http://169.254.170.2";
/// The IMDS endpoint over IPv4 (the default) and IPv6.
const IMDS_ENDPOINT: &str = "http://169.254.169.254";
const IMDS_ENDPOINT_V6: &str = "http://[fd00:ec2::254]";

/// The ways to give this server AWS credentials, for messages that say what to do.
pub const HOW_TO_GIVE_CREDENTIALS: &str = "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY \
    (plus AWS_SESSION_TOKEN for temporary keys), run on ECS/EKS with a task role, or run on \
    EC2 with an instance profile";

/// The default region, as the server has always used.
const DEFAULT_REGION: &str = "eu-west-1";

/// Where the credentials chain gets its keys.
#[derive(Clone, PartialEq, Eq)]
pub enum CredentialSource {
    /// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and the optional AWS_SESSION_TOKEN.
    Environment {
        /// The access key id.
        access_key_id: String,
        /// The secret access key.
        secret_access_key: String,
        /// The session token of temporary keys.
        session_token: Option<String>,
    },
    /// The ECS/EKS container credentials endpoint.
    Container {
        /// The endpoint URL (no secrets in it).
        url: String,
        /// How to authorize against it, if at all.
        token: Option<ContainerToken>,
    },
    /// EC2 instance metadata (IMDSv2).
    Imds {
        /// The endpoint, e.g. `http://169.254.169.254`.
        endpoint: String,
        /// How long to wait to connect, and then for each answer (AWS_METADATA_SERVICE_TIMEOUT).
        timeout: Duration,
        /// How many times to try a fetch before giving up (AWS_METADATA_SERVICE_NUM_ATTEMPTS).
        attempts: u32,
    },
}

/// The container endpoint's Authorization token.
#[derive(Clone, PartialEq, Eq)]
pub enum ContainerToken {
    /// AWS_CONTAINER_AUTHORIZATION_TOKEN.
    Inline(String),
    /// AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE, re-read on every fetch because EKS rotates it.
    File(PathBuf),
}

// Keys and tokens must never be printed; endpoints and file paths help debugging.
impl fmt::Debug for CredentialSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CredentialSource::Environment { .. } => f.write_str("Environment(<redacted>)"),
            CredentialSource::Container { url, token } => f
                .debug_struct("Container")
                .field("url", url)
                .field("token", token)
                .finish(),
            CredentialSource::Imds {
                endpoint,
                timeout,
                attempts,
            } => f
                .debug_struct("Imds")
                .field("endpoint", endpoint)
                .field("timeout", timeout)
                .field("attempts", attempts)
                .finish(),
        }
    }
}

impl fmt::Debug for ContainerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ContainerToken::Inline(_) => f.write_str("inline (redacted)"),
            ContainerToken::File(p) => write!(f, "file {}", p.display()),
        }
    }
}

/// The credentials source; having none at all (IMDS disabled, nothing else set) is an error.
pub fn credentials(vars: &Vars) -> Result<CredentialSource, ConfigError> {
    credential_source(vars)?.ok_or_else(|| {
        ConfigError::plain(format!(
            "no AWS credentials found: {HOW_TO_GIVE_CREDENTIALS} (and leave \
             AWS_EC2_METADATA_DISABLED unset)"
        ))
    })
}

/// The region: AWS_REGION, else AWS_DEFAULT_REGION, else eu-west-1.
pub fn region(vars: &Vars) -> Result<String, ConfigError> {
    let (var, region) = match (vars.get("AWS_REGION"), vars.get("AWS_DEFAULT_REGION")) {
        (Some(r), _) => ("AWS_REGION", r),
        (None, Some(r)) => ("AWS_DEFAULT_REGION", r),
        (None, None) => return Ok(DEFAULT_REGION.to_string()),
    };
    let ok = region.len() <= 32
        && region.contains('-')
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(region.to_string())
    } else {
        Err(ConfigError::new(
            var,
            format!("{region:?} is not an AWS region name such as eu-west-1"),
        ))
    }
}

/// Picks the first configured source in SDK order; `Ok(None)` when there is none (no keys,
/// no container endpoint, IMDS disabled).
pub fn credential_source(vars: &Vars) -> Result<Option<CredentialSource>, ConfigError> {
    match (
        vars.get("AWS_ACCESS_KEY_ID"),
        vars.get("AWS_SECRET_ACCESS_KEY"),
    ) {
        (Some(key), Some(secret)) => Ok(Some(CredentialSource::Environment {
            access_key_id: key.to_string(),
            secret_access_key: secret.to_string(),
            session_token: vars.get("AWS_SESSION_TOKEN").map(str::to_string),
        })),
        (Some(_), None) => Err(ConfigError::new(
            "AWS_SECRET_ACCESS_KEY",
            "is not set but AWS_ACCESS_KEY_ID is: set both, or neither",
        )),
        (None, Some(_)) => Err(ConfigError::new(
            "AWS_ACCESS_KEY_ID",
            "is not set but AWS_SECRET_ACCESS_KEY is: set both, or neither",
        )),
        (None, None) => match container(vars)? {
            Some(source) => Ok(Some(source)),
            None if vars.flag("AWS_EC2_METADATA_DISABLED", false)? => Ok(None),
            None => imds(vars).map(Some),
        },
    }
}

/// AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or _FULL_URI with the optional token; `Ok(None)`
/// when neither URI variable is set.
fn container(vars: &Vars) -> Result<Option<CredentialSource>, ConfigError> {
    let url = if let Some(rel) = vars.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") {
        if !rel.starts_with('/') {
            return Err(ConfigError::new(
                "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                format!("must be a path starting with '/', got {rel:?}"),
            ));
        }
        format!("{ECS_HOST}{rel}")
    } else if let Some(full) = vars.get("AWS_CONTAINER_CREDENTIALS_FULL_URI") {
        check_full_uri(full)?;
        full.to_string()
    } else {
        return Ok(None);
    };
    let token = if let Some(path) = vars.get("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE") {
        Some(ContainerToken::File(PathBuf::from(path)))
    } else {
        vars.get("AWS_CONTAINER_AUTHORIZATION_TOKEN")
            .map(|t| ContainerToken::Inline(t.to_string()))
    };
    Ok(Some(CredentialSource::Container { url, token }))
}

/// Plain-http full URIs must point at the machine itself or at the ECS/EKS agent, as the SDKs
/// require: anything else would send the authorization token over the network in clear.
fn check_full_uri(full: &str) -> Result<(), ConfigError> {
    let var = "AWS_CONTAINER_CREDENTIALS_FULL_URI";
    let uri: Uri = full
        .parse()
        .map_err(|_| ConfigError::new(var, format!("{full:?} is not a valid URL")))?;
    let host = uri
        .host()
        .unwrap_or("")
        .trim_start_matches('[')
        .trim_end_matches(']');
    match uri.scheme_str() {
        Some("https") if !host.is_empty() => Ok(()),
        Some("http") if is_allowed_http_host(host) => Ok(()),
        Some("http") => Err(ConfigError::new(
            var,
            format!(
                "plain http is only allowed to loopback or the ECS/EKS agent \
                 (169.254.170.2, 169.254.170.23, fd00:ec2::23), got host {host:?}; use https"
            ),
        )),
        _ => Err(ConfigError::new(
            var,
            format!("must be an http:// or https:// URL, got {full:?}"),
        )),
    }
}

fn is_allowed_http_host(host: &str) -> bool {
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    match host.parse::<IpAddr>() {
        Ok(ip) if ip.is_loopback() => true,
        Ok(ip) => ["169.254.170.2", "169.254.170.23", "fd00:ec2::23"]
            .iter()
            .any(|allowed| allowed.parse::<IpAddr>().ok() == Some(ip)),
        Err(_) => false,
    }
}

/// AWS_EC2_METADATA_SERVICE_ENDPOINT, else the default for _ENDPOINT_MODE (IPv4 or IPv6).
fn imds(vars: &Vars) -> Result<CredentialSource, ConfigError> {
    let var = "AWS_EC2_METADATA_SERVICE_ENDPOINT";
    let endpoint = match vars.get(var) {
        Some(url) if url.starts_with("http://") || url.starts_with("https://") => {
            url.trim_end_matches('/').to_string()
        }
        Some(url) => {
            return Err(ConfigError::new(
                var,
                format!("must be an http:// or https:// URL, got {url:?}"),
            ))
        }
        None => match vars.get("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE") {
            Some(mode) if mode.eq_ignore_ascii_case("ipv6") => IMDS_ENDPOINT_V6.into(),
            Some(mode) if mode.eq_ignore_ascii_case("ipv4") => IMDS_ENDPOINT.into(),
            None => IMDS_ENDPOINT.into(),
            Some(mode) => {
                return Err(ConfigError::new(
                    "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE",
                    format!("must be IPv4 or IPv6, got {mode:?}"),
                ))
            }
        },
    };
    // The AWS SDKs' variables and defaults (1 s, one attempt), in whole seconds as they read them.
    let timeout = vars.number("AWS_METADATA_SERVICE_TIMEOUT", 1, 1, 60)?;
    let attempts = vars.number("AWS_METADATA_SERVICE_NUM_ATTEMPTS", 1, 1, 10)?;
    Ok(CredentialSource::Imds {
        endpoint,
        timeout: Duration::from_secs(timeout),
        attempts: attempts as u32,
    })
}

#[cfg(test)]
mod tests;
