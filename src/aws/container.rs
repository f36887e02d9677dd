//! ECS/EKS container credentials: `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` or `_FULL_URI`,
//! with an optional Authorization token (inline or from a file, re-read on every fetch
//! because EKS rotates it).
//!
//! The variables are read and checked by `config::aws`. Owns one fetch at a time; caching
//! belongs to `credentials`. Must never log the token.

use super::credentials::Fetched;
use super::error::CredentialsError;
use super::http;
use crate::config::aws::ContainerToken as Token;
use std::fmt;
use ureq::Agent;

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
    /// The endpoint `config::aws` validated, and its token.
    pub(super) fn new(url: String, token: Option<Token>) -> ContainerSource {
        ContainerSource { url, token }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_an_inline_token() {
        let s = ContainerSource::new(
            "http://169.254.170.2/x".into(),
            Some(Token::Inline("very-secret-token".into())),
        );
        let dbg = format!("{s:?}");
        assert!(
            !dbg.contains("very-secret-token") && dbg.contains("redacted"),
            "{dbg}"
        );
    }
}
