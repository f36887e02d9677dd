//! ECS/EKS container credentials: `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` or `_FULL_URI`,
//! with an optional Authorization token (inline or from a file, re-read on every fetch
//! because EKS rotates it).
//!
//! Owns one fetch at a time; caching belongs to `credentials`. Must never log the token.

use super::error::CredentialsError;
use super::fetched::Fetched;
use super::http;
use crate::config::Vars;
use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use ureq::http::Uri;
use ureq::Agent;

/// Where ECS serves task-role credentials for a relative URI.
const ECS_HOST: &str = "http://169.254.170.2";

enum Token {
    Inline(String),
    File(PathBuf),
}

/// The container credentials endpoint and how to authorize against it.
pub(super) struct ContainerSource {
    url: String,
    token: Option<Token>,
}

impl fmt::Debug for ContainerSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let token = match &self.token {
            None => "none".to_string(),
            Some(Token::Inline(_)) => "inline (redacted)".to_string(),
            Some(Token::File(p)) => format!("file {}", p.display()),
        };
        f.debug_struct("ContainerSource")
            .field("url", &self.url)
            .field("token", &token)
            .finish()
    }
}

impl ContainerSource {
    /// Reads the container variables; `Ok(None)` when neither URI variable is set.
    pub(super) fn from_vars(vars: &Vars) -> Result<Option<ContainerSource>, CredentialsError> {
        let url = if let Some(rel) = vars.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") {
            if !rel.starts_with('/') {
                return Err(CredentialsError::config(
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
            Some(Token::File(PathBuf::from(path)))
        } else {
            vars.get("AWS_CONTAINER_AUTHORIZATION_TOKEN")
                .map(|t| Token::Inline(t.to_string()))
        };
        Ok(Some(ContainerSource { url, token }))
    }

    /// The endpoint URL (no secrets in it).
    pub(super) fn url(&self) -> &str {
        &self.url
    }

    /// Fetches credentials once.
    pub(super) fn fetch(&self, agent: &Agent) -> Result<Fetched, CredentialsError> {
        let fail = |message: String| CredentialsError::Container {
            url: self.url.clone(),
            message,
        };
        let mut request = agent.get(&self.url).header("accept", "application/json");
        if let Some(token) = self.read_token().map_err(fail)? {
            request = request.header("authorization", token);
        }
        let mut response = request
            .call()
            .map_err(|e| fail(http::transport_message(&e)))?;
        let status = response.status().as_u16();
        let body =
            http::read_metadata(&mut response).map_err(|e| fail(http::transport_message(&e)))?;
        if status != 200 {
            let hint = if status == 401 || status == 403 {
                ": the authorization token was refused (check AWS_CONTAINER_AUTHORIZATION_TOKEN or _TOKEN_FILE)"
            } else {
                ""
            };
            return Err(fail(format!("HTTP {status}{hint}")));
        }
        let (credentials, expires) = http::parse_credentials(&body, "container").map_err(fail)?;
        Ok(Fetched {
            credentials,
            expires,
            detail: String::new(),
        })
    }

    fn read_token(&self) -> Result<Option<String>, String> {
        let token = match &self.token {
            None => return Ok(None),
            Some(Token::Inline(t)) => t.clone(),
            Some(Token::File(path)) => std::fs::read_to_string(path)
                .map_err(|e| {
                    format!(
                        "cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE {}: {e}",
                        path.display()
                    )
                })?
                .trim()
                .to_string(),
        };
        if token.is_empty() || token.contains(['\r', '\n']) {
            return Err("the container authorization token is empty or spans several lines".into());
        }
        Ok(Some(token))
    }
}

/// Plain-http full URIs must point at the machine itself or at the ECS/EKS agent, as the SDKs
/// require: anything else would send the authorization token over the network in clear.
fn check_full_uri(full: &str) -> Result<(), CredentialsError> {
    let var = "AWS_CONTAINER_CREDENTIALS_FULL_URI";
    let uri: Uri = full
        .parse()
        .map_err(|_| CredentialsError::config(var, format!("{full:?} is not a valid URL")))?;
    let host = uri
        .host()
        .unwrap_or("")
        .trim_start_matches('[')
        .trim_end_matches(']');
    match uri.scheme_str() {
        Some("https") if !host.is_empty() => Ok(()),
        Some("http") if is_allowed_http_host(host) => Ok(()),
        Some("http") => Err(CredentialsError::config(
            var,
            format!(
                "plain http is only allowed to loopback or the ECS/EKS agent \
                 (169.254.170.2, 169.254.170.23, fd00:ec2::23), got host {host:?}; use https"
            ),
        )),
        _ => Err(CredentialsError::config(
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

#[cfg(test)]
mod tests {
    use super::*;

    fn source(pairs: &[(&str, &str)]) -> Result<Option<ContainerSource>, CredentialsError> {
        ContainerSource::from_vars(&Vars::from_pairs(pairs.iter().copied()))
    }

    #[test]
    fn relative_uri_goes_to_the_ecs_agent() {
        let s = source(&[(
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
            "/v2/credentials/abc",
        )])
        .unwrap()
        .unwrap();
        assert_eq!(s.url(), "http://169.254.170.2/v2/credentials/abc");
        assert!(source(&[("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "v2/x")]).is_err());
        assert!(source(&[]).unwrap().is_none());
    }

    #[test]
    fn full_uri_over_http_must_stay_local() {
        for ok in [
            "http://127.0.0.1:9911/creds",
            "http://localhost/creds",
            "http://169.254.170.23/v1/credentials",
            "http://[fd00:ec2::23]/v1/credentials",
            "http://[::1]:80/x",
            "https://creds.example.com/x",
        ] {
            assert!(
                source(&[("AWS_CONTAINER_CREDENTIALS_FULL_URI", ok)]).is_ok(),
                "{ok}"
            );
        }
        for bad in [
            "http://10.0.0.5/creds",
            "http://evil.example.com/",
            "ftp://127.0.0.1/",
            "nope",
        ] {
            let e = source(&[("AWS_CONTAINER_CREDENTIALS_FULL_URI", bad)]).unwrap_err();
            assert!(
                e.to_string().contains("AWS_CONTAINER_CREDENTIALS_FULL_URI"),
                "{e}"
            );
        }
    }

    #[test]
    fn debug_redacts_an_inline_token() {
        let s = source(&[
            ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/x"),
            ("AWS_CONTAINER_AUTHORIZATION_TOKEN", "very-secret-token"),
        ])
        .unwrap()
        .unwrap();
        let dbg = format!("{s:?}");
        assert!(
            !dbg.contains("very-secret-token") && dbg.contains("redacted"),
            "{dbg}"
        );
    }
}
