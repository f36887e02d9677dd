//! HTTP helpers shared by the AWS callers: the short-timeout agent for credential
//! endpoints, capped body reads, transport-error classification, and the credentials JSON
//! that both the container endpoint and IMDS return.
//!
//! Must not keep state, retry, or put response bodies (which hold secrets) in errors or logs.

use aws_credential_types::Credentials;
use serde_json::Value;
use std::io;
use std::time::{Duration, SystemTime};
use ureq::http::Response;
use ureq::{Agent, Body};

/// The most we read from a credential endpoint: real answers are well under 4 KiB.
const METADATA_BODY_LIMIT: u64 = 64 * 1024;

/// How a request failed before an HTTP status came back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    /// No connection within the connect timeout.
    ConnectTimeout,
    /// Connected, but no (complete) answer in time.
    Timeout,
    /// Refused, reset, DNS failure or similar: worth retrying.
    Connect,
    /// Anything else (TLS, protocol, oversized body): retrying will not help.
    Other,
}

/// Classifies a ureq error for retry decisions and messages.
pub(crate) fn classify(error: &ureq::Error) -> Transport {
    use io::ErrorKind as K;
    match error {
        ureq::Error::Timeout(ureq::Timeout::Connect | ureq::Timeout::Resolve) => {
            Transport::ConnectTimeout
        }
        ureq::Error::Timeout(_) => Transport::Timeout,
        ureq::Error::Io(e) => match e.kind() {
            K::TimedOut | K::WouldBlock => Transport::Timeout,
            K::ConnectionRefused
            | K::ConnectionReset
            | K::ConnectionAborted
            | K::NotConnected
            | K::BrokenPipe
            | K::UnexpectedEof
            | K::AddrNotAvailable
            | K::HostUnreachable
            | K::NetworkUnreachable => Transport::Connect,
            _ => Transport::Other,
        },
        ureq::Error::HostNotFound | ureq::Error::ConnectionFailed => Transport::Connect,
        _ => Transport::Other,
    }
}

/// Reads a response body, refusing more than `limit` bytes.
pub(crate) fn read_capped(
    response: &mut Response<Body>,
    limit: u64,
) -> Result<Vec<u8>, ureq::Error> {
    response.body_mut().with_config().limit(limit).read_to_vec()
}

/// The agent for credential endpoints: link-local, so short timeouts and never a proxy.
pub(crate) fn metadata_agent() -> Agent {
    let config = Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(1)))
        .timeout_recv_response(Some(Duration::from_secs(3)))
        .timeout_global(Some(Duration::from_secs(5)))
        .http_status_as_error(false)
        .max_redirects(0)
        .proxy(None)
        .build();
    crate::dns::agent(config)
}

/// The agent for EC2 instance metadata: `timeout` (AWS_METADATA_SERVICE_TIMEOUT) bounds the
/// connect and the wait for each answer, as in the AWS SDKs; three of them bound a whole call,
/// body included, so a trickling answer cannot hold a fetch for long either.
pub(crate) fn imds_agent(timeout: Duration) -> Agent {
    let config = Agent::config_builder()
        .timeout_connect(Some(timeout))
        .timeout_recv_response(Some(timeout))
        .timeout_global(Some(timeout * 3))
        .http_status_as_error(false)
        .max_redirects(0)
        .proxy(None)
        .build();
    crate::dns::agent(config)
}

/// Reads a credential endpoint's body (small, capped), as text.
pub(crate) fn read_metadata(response: &mut Response<Body>) -> Result<String, ureq::Error> {
    let bytes = read_capped(response, METADATA_BODY_LIMIT)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Describes a transport failure in a few words, without any response content.
pub(crate) fn transport_message(error: &ureq::Error) -> String {
    match classify(error) {
        Transport::ConnectTimeout => "could not connect in time".to_string(),
        Transport::Timeout => "no answer in time".to_string(),
        Transport::Connect => format!("connection failed ({error})"),
        Transport::Other => error.to_string(),
    }
}

/// Parses `{"AccessKeyId", "SecretAccessKey", "Token", "Expiration"}` (plus IMDS's `Code`).
/// Errors name the missing field, never a value.
pub(crate) fn parse_credentials(
    body: &str,
    provider: &'static str,
) -> Result<(Credentials, Option<SystemTime>), String> {
    let v: Value =
        serde_json::from_str(body).map_err(|_| "the answer is not JSON credentials".to_string())?;
    if let Some(code) = v.get("Code").and_then(Value::as_str) {
        if code != "Success" {
            let msg = v.get("Message").and_then(Value::as_str).unwrap_or("");
            return Err(format!("the endpoint reported Code {code:?} {msg}"));
        }
    }
    let field = |name: &str| {
        v.get(name)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let key = field("AccessKeyId").ok_or("the answer has no AccessKeyId")?;
    let secret = field("SecretAccessKey").ok_or("the answer has no SecretAccessKey")?;
    let token = field("Token");
    let expires = match field("Expiration") {
        None => None,
        Some(text) => Some(
            crate::rfc3339::parse(&text)
                .ok_or_else(|| format!("the Expiration {text:?} is not an RFC 3339 time"))?,
        ),
    };
    Ok((
        Credentials::new(key, secret, token, expires, provider),
        expires,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_imds_style_credentials() {
        let body = r#"{"Code":"Success","LastUpdated":"2026-01-01T00:00:00Z","Type":"AWS-HMAC",
            "AccessKeyId":"ASIA1","SecretAccessKey":"sek","Token":"tok",
            "Expiration":"2026-01-01T06:00:00Z"}"#;
        let (creds, expires) = parse_credentials(body, "imds").unwrap();
        assert_eq!(creds.access_key_id(), "ASIA1");
        assert_eq!(creds.secret_access_key(), "sek");
        assert_eq!(creds.session_token(), Some("tok"));
        assert_eq!(expires, crate::rfc3339::parse("2026-01-01T06:00:00Z"));
        assert_eq!(creds.expiry(), expires);
    }

    #[test]
    fn refuses_incomplete_or_failed_answers_without_echoing_secrets() {
        let e = parse_credentials(r#"{"AccessKeyId":"A","Token":"t0psecret"}"#, "x").unwrap_err();
        assert!(
            e.contains("SecretAccessKey") && !e.contains("t0psecret"),
            "{e}"
        );
        let e = parse_credentials(r#"{"Code":"AssumeRoleUnauthorizedAccess"}"#, "x").unwrap_err();
        assert!(e.contains("AssumeRoleUnauthorizedAccess"), "{e}");
        let e = parse_credentials(
            r#"{"AccessKeyId":"A","SecretAccessKey":"hunter2","Expiration":"soon"}"#,
            "x",
        )
        .unwrap_err();
        assert!(e.contains("Expiration") && !e.contains("hunter2"), "{e}");
        assert!(parse_credentials("<html>", "x").is_err());
    }
}
