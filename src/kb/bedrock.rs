//! Bedrock knowledge base: `Retrieve` (bedrock-agent-runtime) and `GetKnowledgeBase`
//! (bedrock-agent), signed with SigV4 and sent over one pooled ureq agent with the AWS SDK
//! "standard" retry mode.
//!
//! `call.rs` sends and retries, `errors.rs` turns error answers into [`KbError`]s,
//! `parse.rs` reads Bedrock's JSON into our passage and info types.

mod call;
mod errors;
mod parse;

use crate::aws::CredentialChain;
use crate::config::{ConfigError, Vars};
use crate::kb::{KbError, KbInfo, KnowledgeBase, Retrieval};
use call::{Client, Op};
use serde_json::json;
use std::time::Duration;

/// Bedrock's limit on query text, in characters.
const MAX_QUERY_CHARS: usize = 20_000;

/// A Bedrock knowledge base, shared by all worker threads.
pub struct BedrockKb {
    client: Client,
    kb_id: String,
    region: String,
    runtime_url: String,
    agent_url: String,
}

impl BedrockKb {
    /// Reads endpoints, timeouts, attempts and the credentials source from `vars`.
    pub fn from_vars(vars: &Vars, kb_id: &str, region: &str) -> Result<BedrockKb, ConfigError> {
        let runtime_url = endpoint(
            vars,
            "AWS_ENDPOINT_URL_BEDROCK_AGENT_RUNTIME",
            "bedrock-agent-runtime",
            region,
        )?;
        let agent_url = endpoint(
            vars,
            "AWS_ENDPOINT_URL_BEDROCK_AGENT",
            "bedrock-agent",
            region,
        )?;
        let timeout = Duration::from_secs(vars.number("BEDROCK_TIMEOUT_SECS", 30, 1, 300)?);
        let attempts = vars.number("BEDROCK_MAX_ATTEMPTS", 3, 1, 10)? as u32;
        let credentials =
            CredentialChain::from_vars(vars).map_err(|e| ConfigError::plain(e.to_string()))?;
        Ok(BedrockKb {
            client: Client::new(credentials, region.to_string(), timeout, attempts),
            kb_id: kb_id.to_string(),
            region: region.to_string(),
            runtime_url,
            agent_url,
        })
    }

    /// Resolves credentials now and says where they came from (for `bedrock-mcp check`).
    pub fn credentials_source(&self) -> Result<String, KbError> {
        self.client.credentials_source()
    }

    fn target(&self, op: Op) -> errors::Target<'_> {
        errors::Target {
            op,
            kb_id: &self.kb_id,
            region: &self.region,
        }
    }
}

impl KnowledgeBase for BedrockKb {
    fn retrieve(&self, query: &str, max_results: u32) -> Result<Retrieval, KbError> {
        let chars = query.chars().count();
        if query.trim().is_empty() || chars > MAX_QUERY_CHARS {
            return Err(KbError::InvalidRequest(format!(
                "the query must be 1 to {MAX_QUERY_CHARS} characters (got {chars})"
            )));
        }
        if !(1..=100).contains(&max_results) {
            return Err(KbError::InvalidRequest(format!(
                "max_results must be from 1 to 100 (got {max_results})"
            )));
        }
        let body = json!({
            "retrievalQuery": { "text": query },
            "retrievalConfiguration": { "vectorSearchConfiguration": { "numberOfResults": max_results } },
        });
        let url = format!(
            "{}/knowledgebases/{}/retrieve",
            self.runtime_url, self.kb_id
        );
        let answer = self
            .client
            .send("POST", &url, Some(&body), &self.target(Op::Retrieve))?;
        let results = parse::retrieval(&answer.body)?;
        Ok(Retrieval {
            results,
            upstream_ms: answer.elapsed_ms,
        })
    }

    fn info(&self) -> KbInfo {
        let url = format!("{}/knowledgebases/{}", self.agent_url, self.kb_id);
        let mut info = KbInfo {
            backend: "bedrock".into(),
            kb_id: self.kb_id.clone(),
            region: self.region.clone(),
            status: "UNKNOWN".into(),
            ..KbInfo::default()
        };
        match self
            .client
            .send("GET", &url, None, &self.target(Op::GetKnowledgeBase))
            .and_then(|answer| parse::knowledge_base(&answer.body))
        {
            Ok(details) => {
                info.status = details.status;
                info.name = details.name;
                info.description = details.description;
            }
            Err(KbError::AccessDenied(m)) => {
                info.note = Some(format!(
                    "name, description and status are unavailable because {m}. Searching works with bedrock:Retrieve alone."
                ));
            }
            Err(e) => {
                info.note = Some(format!("name, description and status are unavailable: {e}"))
            }
        }
        info
    }
}

/// The endpoint for a service: its own override, then AWS_ENDPOINT_URL, then AWS's.
fn endpoint(
    vars: &Vars,
    specific: &str,
    service: &str,
    region: &str,
) -> Result<String, ConfigError> {
    let (var, url) = match (vars.get(specific), vars.get("AWS_ENDPOINT_URL")) {
        (Some(u), _) => (specific, u.to_string()),
        (None, Some(u)) => ("AWS_ENDPOINT_URL", u.to_string()),
        (None, None) => return Ok(format!("https://{service}.{region}.amazonaws.com")),
    };
    if !(url.starts_with("https://") || url.starts_with("http://")) || url.len() < 10 {
        return Err(ConfigError::new(
            var,
            format!("{url:?} must be an http:// or https:// URL"),
        ));
    }
    Ok(url.trim_end_matches('/').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_follow_the_sdk_override_order() {
        let v = Vars::default();
        assert_eq!(
            endpoint(
                &v,
                "AWS_ENDPOINT_URL_BEDROCK_AGENT_RUNTIME",
                "bedrock-agent-runtime",
                "eu-west-1"
            )
            .unwrap(),
            "https://bedrock-agent-runtime.eu-west-1.amazonaws.com"
        );
        let v = Vars::from_pairs([("AWS_ENDPOINT_URL", "http://127.0.0.1:9/")]);
        assert_eq!(
            endpoint(&v, "AWS_ENDPOINT_URL_BEDROCK_AGENT", "bedrock-agent", "x").unwrap(),
            "http://127.0.0.1:9"
        );
        let v = Vars::from_pairs([
            ("AWS_ENDPOINT_URL", "http://a:1"),
            ("AWS_ENDPOINT_URL_BEDROCK_AGENT", "http://b:2"),
        ]);
        assert_eq!(
            endpoint(&v, "AWS_ENDPOINT_URL_BEDROCK_AGENT", "bedrock-agent", "x").unwrap(),
            "http://b:2"
        );
        let v = Vars::from_pairs([("AWS_ENDPOINT_URL", "ftp://x")]);
        assert_eq!(
            endpoint(&v, "AWS_ENDPOINT_URL_BEDROCK_AGENT", "bedrock-agent", "x")
                .unwrap_err()
                .var,
            "AWS_ENDPOINT_URL"
        );
    }

    #[test]
    fn bad_arguments_never_reach_the_network() {
        let v = Vars::from_pairs([
            ("AWS_ACCESS_KEY_ID", "AKID"),
            ("AWS_SECRET_ACCESS_KEY", "s"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
        ]);
        let kb = BedrockKb::from_vars(&v, "KB1", "eu-west-1").unwrap();
        assert!(matches!(
            kb.retrieve(" ", 5),
            Err(KbError::InvalidRequest(_))
        ));
        assert!(matches!(
            kb.retrieve("x", 0),
            Err(KbError::InvalidRequest(_))
        ));
        assert!(matches!(
            kb.retrieve("x", 101),
            Err(KbError::InvalidRequest(_))
        ));
        assert!(matches!(
            kb.retrieve(&"x".repeat(20_001), 5),
            Err(KbError::InvalidRequest(_))
        ));
    }
}
