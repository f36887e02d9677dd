//! AWS settings: the region (AWS_REGION, AWS_DEFAULT_REGION), the STS endpoint
//! (AWS_ENDPOINT_URL_STS) and which credentials source the chain uses, in SDK order:
//! environment keys, then web identity (AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN, EKS IRSA),
//! then ECS/EKS container credentials (AWS_CONTAINER_*), then EC2 instance metadata
//! (AWS_EC2_METADATA_*, with the SDKs' AWS_METADATA_SERVICE_TIMEOUT and _NUM_ATTEMPTS).
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
    /// AssumeRoleWithWebIdentity with a token file (EKS IRSA), re-read on every refresh.
    WebIdentity {
        /// AWS_WEB_IDENTITY_TOKEN_FILE.
        token_file: PathBuf,
        /// AWS_ROLE_ARN.
        role_arn: String,
        /// AWS_ROLE_SESSION_NAME, else `bedrock-mcp-{unix seconds}`.
        session_name: String,
        /// The STS base URL ([`sts_endpoint`]).
        sts_endpoint: String,
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
            CredentialSource::WebIdentity {
                token_file,
                role_arn,
                session_name,
                sts_endpoint,
            } => f
                .debug_struct("WebIdentity")
                .field("token_file", token_file)
                .field("role_arn", role_arn)
                .field("session_name", session_name)
                .field("sts_endpoint", sts_endpoint)
                .finish(),
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
        (None, None) => {
            if let Some(source) = web_identity(vars)? {
                return Ok(Some(source));
            }
            match container(vars)? {
                Some(source) => Ok(Some(source)),
                None if vars.flag("AWS_EC2_METADATA_DISABLED", false)? => Ok(None),
                None => imds(vars).map(Some),
            }
        }
    }
}

/// AWS_WEB_IDENTITY_TOKEN_FILE with AWS_ROLE_ARN (both or neither) and the optional
/// AWS_ROLE_SESSION_NAME; `Ok(None)` when neither is set.
fn web_identity(vars: &Vars) -> Result<Option<CredentialSource>, ConfigError> {
    let (file, role) = match (
        vars.get("AWS_WEB_IDENTITY_TOKEN_FILE"),
        vars.get("AWS_ROLE_ARN"),
    ) {
        (None, None) => return Ok(None),
        (Some(f), Some(r)) => (f, r),
        (Some(_), None) => {
            return Err(ConfigError::new(
                "AWS_ROLE_ARN",
                "is not set but AWS_WEB_IDENTITY_TOKEN_FILE is: set both (EKS IRSA sets both), or neither",
            ))
        }
        (None, Some(_)) => {
            return Err(ConfigError::new(
                "AWS_WEB_IDENTITY_TOKEN_FILE",
                "is not set but AWS_ROLE_ARN is: set both (EKS IRSA sets both), or neither",
            ))
        }
    };
    let role_arn = role_arn("AWS_ROLE_ARN", role)?;
    let session_name = match vars.get("AWS_ROLE_SESSION_NAME") {
        Some(name) => {
            if !session_name_ok(name) {
                return Err(ConfigError::new(
                    "AWS_ROLE_SESSION_NAME",
                    format!(
                        "must be 2 to 64 characters of letters, digits and _+=,.@-, got {name:?}"
                    ),
                ));
            }
            name.to_string()
        }
        None => format!(
            "bedrock-mcp-{}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0)
        ),
    };
    Ok(Some(CredentialSource::WebIdentity {
        token_file: PathBuf::from(file),
        role_arn,
        session_name,
        sts_endpoint: sts_endpoint(vars, &region(vars)?)?,
    }))
}

/// Whether `name` is a valid STS `RoleSessionName`: 2–64 of `[\w+=,.@-]`.
pub fn session_name_ok(name: &str) -> bool {
    (2..=64).contains(&name.len()) && name.bytes().all(session_name_byte)
}

/// A byte STS allows in a `RoleSessionName`.
pub fn session_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"_+=,.@-".contains(&b)
}

/// Checks an IAM role ARN: `arn:<partition>:iam::<12 digits>:role/<path and name>`.
pub fn role_arn(var: &str, raw: &str) -> Result<String, ConfigError> {
    let parts: Vec<&str> = raw.splitn(6, ':').collect();
    let ok = parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "iam"
        && parts[3].is_empty()
        && parts[4].len() == 12
        && parts[4].bytes().all(|b| b.is_ascii_digit())
        && parts[5].strip_prefix("role/").is_some_and(|name| {
            !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_+=,.@-/".contains(&b))
        })
        && raw.len() <= 2048;
    if ok {
        Ok(raw.to_string())
    } else {
        Err(ConfigError::new(
            var,
            format!("must be an IAM role ARN like arn:aws:iam::111122223333:role/bedrock-mcp-user, got {raw:?}"),
        ))
    }
}

/// The STS base URL: AWS_ENDPOINT_URL_STS, else AWS_ENDPOINT_URL (the SDKs' order), else the
/// regional endpoint. The web-identity token travels in the body, so plain http is allowed
/// only to this machine (tests, a local proxy).
pub fn sts_endpoint(vars: &Vars, region: &str) -> Result<String, ConfigError> {
    let (var, raw) = match (
        vars.get("AWS_ENDPOINT_URL_STS"),
        vars.get("AWS_ENDPOINT_URL"),
    ) {
        (Some(url), _) => ("AWS_ENDPOINT_URL_STS", url),
        (None, Some(url)) => ("AWS_ENDPOINT_URL", url),
        (None, None) => return Ok(format!("https://sts.{region}.amazonaws.com")),
    };
    let uri: Uri = raw.parse().map_err(|_| {
        ConfigError::new(
            var,
            format!("{raw:?} is not a valid URL, e.g. https://sts.{region}.amazonaws.com"),
        )
    })?;
    let host = uri
        .host()
        .unwrap_or("")
        .trim_start_matches('[')
        .trim_end_matches(']');
    let path_ok = uri.path() == "/" || uri.path().is_empty();
    let shape_ok = !host.is_empty() && uri.query().is_none() && !raw.contains('#') && path_ok;
    match uri.scheme_str() {
        Some("https") if shape_ok => Ok(raw.trim_end_matches('/').to_string()),
        Some("http") if shape_ok && is_loopback(host) => Ok(raw.trim_end_matches('/').to_string()),
        Some("http") if shape_ok => Err(ConfigError::new(
            var,
            format!("plain http sends users' sign-in tokens in clear: only a loopback host may use it (got {host:?}); use https"),
        )),
        _ => Err(ConfigError::new(
            var,
            format!("must be a base URL like https://sts.{region}.amazonaws.com (no path, query or fragment), got {raw:?}"),
        )),
    }
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
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
