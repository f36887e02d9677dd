//! Bedrock knowledge base: Retrieve (agent runtime) and GetKnowledgeBase (agent control
//! plane), signed with SigV4, over one shared pooled HTTP agent.
//!
//! Owns configuration (endpoints, timeouts, attempts) and input checks; `call` sends and
//! retries, `errors` words failures, `parse` reads answers. Must not log queries' results,
//! credentials or signatures.

mod call;
mod errors;
mod parse;

use super::{KbError, KbInfo, KnowledgeBase, Retrieval};
use crate::aws::{sigv4, CredentialChain, CredentialsError};
use crate::config::{ConfigError, Vars};
use call::{Call, Client, Op};
use serde_json::json;
use std::fmt;
use std::time::Duration;
use ureq::http::Uri;

/// Bedrock's limit on query text (KnowledgeBaseQueryTextString).
const MAX_QUERY_CHARS: usize = 20_000;

/// A Bedrock knowledge base. Shared by all worker threads.
pub struct BedrockKb {
    client: Client,
    runtime: Endpoint,
    agent: Endpoint,
}

/// A base URL and the Host header it implies.
struct Endpoint {
    base: String,
    host: String,
}

impl fmt::Debug for BedrockKb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BedrockKb")
            .field("kb_id", &self.client.kb_id)
            .field("region", &self.client.region)
            .field("runtime", &self.runtime.base)
            .field("agent", &self.agent.base)
            .field("credentials", &self.client.chain)
            .finish_non_exhaustive()
    }
}

impl BedrockKb {
    /// Reads endpoints, BEDROCK_TIMEOUT_SECS, BEDROCK_MAX_ATTEMPTS and the credentials chain.
    pub fn from_vars(vars: &Vars, kb_id: &str, region: &str) -> Result<BedrockKb, ConfigError> {
        if kb_id.is_empty() || kb_id.len() > 10 || !kb_id.chars().all(|c| c.is_ascii_alphanumeric())
        {
            return Err(ConfigError::new(
                "BEDROCK_KB_ID",
                format!(
                    "must be the knowledge base ID from the Bedrock console: 1 to 10 letters \
                     and digits, e.g. ABCDE12345; got {kb_id:?}"
                ),
            ));
        }
        let region_ok = !region.is_empty()
            && region.len() <= 32
            && region
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !region_ok {
            return Err(ConfigError::new(
                "AWS_REGION",
                format!("must be an AWS region such as eu-west-1, got {region:?}"),
            ));
        }
        let runtime = endpoint(
            vars,
            "AWS_ENDPOINT_URL_BEDROCK_AGENT_RUNTIME",
            format!("https://bedrock-agent-runtime.{region}.amazonaws.com"),
        )?;
        let agent = endpoint(
            vars,
            "AWS_ENDPOINT_URL_BEDROCK_AGENT",
            format!("https://bedrock-agent.{region}.amazonaws.com"),
        )?;
        let timeout = Duration::from_secs(vars.number("BEDROCK_TIMEOUT_SECS", 30, 1, 300)?);
        let max_attempts = vars.number("BEDROCK_MAX_ATTEMPTS", 3, 1, 10)? as u32;
        let chain = CredentialChain::from_vars(vars).map_err(|e| match e {
            CredentialsError::Config { var, message } => ConfigError::new(&var, message),
            other => ConfigError::plain(other.to_string()),
        })?;
        Ok(BedrockKb {
            client: Client {
                agent: Client::agent(timeout),
                chain,
                kb_id: kb_id.to_string(),
                region: region.to_string(),
                timeout,
                max_attempts,
            },
            runtime,
            agent,
        })
    }

    /// Resolves credentials now and says where they came from (for `bedrock-mcp check`).
    pub fn credentials_source(&self) -> Result<String, KbError> {
        self.client
            .chain
            .credentials()
            .map_err(|e| KbError::Credentials(e.to_string()))?;
        Ok(self.client.chain.describe())
    }

    fn info_note(&self, error: &KbError) -> String {
        let (kb, region) = (&self.client.kb_id, &self.client.region);
        match error {
            KbError::AccessDenied(_) => format!(
                "the AWS role may not call bedrock:GetKnowledgeBase, so name and status are \
                 unknown; retrieval may still work. To show them, grant bedrock:GetKnowledgeBase \
                 on arn:aws:bedrock:{region}:<account-id>:knowledge-base/{kb}"
            ),
            KbError::NotFound(_) => format!(
                "knowledge base {kb} was not found in region {region}: check BEDROCK_KB_ID and AWS_REGION"
            ),
            other => format!("could not read the knowledge base: {other}"),
        }
    }
}

impl KnowledgeBase for BedrockKb {
    fn retrieve(&self, query: &str, max_results: u32) -> Result<Retrieval, KbError> {
        if query.trim().is_empty() {
            return Err(KbError::InvalidRequest(
                "the query is empty: give some words to search for".into(),
            ));
        }
        let chars = query.chars().count();
        if chars > MAX_QUERY_CHARS {
            return Err(KbError::InvalidRequest(format!(
                "the query is {chars} characters long; Bedrock allows at most 20,000"
            )));
        }
        if !(1..=100).contains(&max_results) {
            return Err(KbError::InvalidRequest(format!(
                "max_results must be from 1 to 100, got {max_results}"
            )));
        }
        let body = json!({
            "retrievalQuery": {"text": query},
            "retrievalConfiguration": {"vectorSearchConfiguration": {"numberOfResults": max_results}}
        })
        .to_string();
        let url = format!(
            "{}/knowledgebases/{}/retrieve",
            self.runtime.base, self.client.kb_id
        );
        let reply = self.client.send(&Call {
            op: Op::Retrieve,
            url: &url,
            host: &self.runtime.host,
            body: Some(body.as_bytes()),
        })?;
        let results = parse::retrieval(&reply.body).map_err(|why| {
            KbError::Unavailable(format!(
                "Bedrock returned an unreadable Retrieve answer: {why}"
            ))
        })?;
        Ok(Retrieval {
            results,
            upstream_ms: reply.upstream_ms,
        })
    }

    fn info(&self) -> KbInfo {
        let mut info = KbInfo {
            backend: "bedrock".into(),
            kb_id: self.client.kb_id.clone(),
            region: self.client.region.clone(),
            status: "UNKNOWN".into(),
            ..KbInfo::default()
        };
        let url = format!("{}/knowledgebases/{}", self.agent.base, self.client.kb_id);
        let call = Call {
            op: Op::GetKnowledgeBase,
            url: &url,
            host: &self.agent.host,
            body: None,
        };
        let parsed = self.client.send(&call).and_then(|reply| {
            parse::knowledge_base(&reply.body).map_err(|why| {
                KbError::Unavailable(format!(
                    "Bedrock returned an unreadable GetKnowledgeBase answer: {why}"
                ))
            })
        });
        match parsed {
            Ok(summary) => {
                info.status = summary.status;
                info.name = summary.name;
                info.description = summary.description;
            }
            Err(e) => {
                log::warn!("GetKnowledgeBase failed: {e}");
                info.note = Some(self.info_note(&e));
            }
        }
        info
    }
}

/// The service-specific override, then AWS_ENDPOINT_URL, then the default.
fn endpoint(vars: &Vars, specific: &str, default: String) -> Result<Endpoint, ConfigError> {
    let (var, raw) = match (vars.get(specific), vars.get("AWS_ENDPOINT_URL")) {
        (Some(url), _) => (specific, url.to_string()),
        (None, Some(url)) => ("AWS_ENDPOINT_URL", url.to_string()),
        (None, None) => ("", default),
    };
    let bad = |why: &str| {
        ConfigError::new(
            var,
            format!(
                "{why}, e.g. https://bedrock-agent-runtime.eu-west-1.amazonaws.com; got {raw:?}"
            ),
        )
    };
    let uri: Uri = raw
        .parse()
        .map_err(|_| bad("must be an http:// or https:// URL"))?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) {
        return Err(bad("must be an http:// or https:// URL"));
    }
    if uri.query().is_some() || raw.contains('#') {
        return Err(bad("must not have a query or fragment"));
    }
    let host = sigv4::host_header(&raw).map_err(|e| bad(&e.to_string()))?;
    Ok(Endpoint {
        base: raw.trim_end_matches('/').to_string(),
        host,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(extra: &[(&str, &str)]) -> Vars {
        let mut pairs = vec![
            ("AWS_ACCESS_KEY_ID", "AKIA1"),
            ("AWS_SECRET_ACCESS_KEY", "s"),
        ];
        pairs.extend_from_slice(extra);
        Vars::from_pairs(pairs)
    }

    #[test]
    fn endpoints_follow_sdk_precedence() {
        let kb = BedrockKb::from_vars(&env(&[]), "KB12345678", "eu-west-1").unwrap();
        assert_eq!(
            kb.runtime.base,
            "https://bedrock-agent-runtime.eu-west-1.amazonaws.com"
        );
        assert_eq!(kb.agent.host, "bedrock-agent.eu-west-1.amazonaws.com");
        let vars = env(&[
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:9000/"),
            (
                "AWS_ENDPOINT_URL_BEDROCK_AGENT_RUNTIME",
                "http://localhost:9001",
            ),
        ]);
        let kb = BedrockKb::from_vars(&vars, "KB1", "us-east-1").unwrap();
        assert_eq!(
            (kb.runtime.base.as_str(), kb.runtime.host.as_str()),
            ("http://localhost:9001", "localhost:9001")
        );
        assert_eq!(
            (kb.agent.base.as_str(), kb.agent.host.as_str()),
            ("http://127.0.0.1:9000", "127.0.0.1:9000")
        );
    }

    #[test]
    fn refuses_bad_settings_naming_the_variable() {
        // (extra settings, kb id, region, the variable the error must name)
        type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str, &'a str);
        let cases: [Case<'_>; 7] = [
            (&[], "kb-1", "eu-west-1", "BEDROCK_KB_ID"),
            (&[], "KB12345678901", "eu-west-1", "BEDROCK_KB_ID"),
            (&[], "KB1", "EU WEST", "AWS_REGION"),
            (
                &[("AWS_ENDPOINT_URL", "ftp://x")],
                "KB1",
                "eu-west-1",
                "AWS_ENDPOINT_URL",
            ),
            (
                &[("AWS_ENDPOINT_URL_BEDROCK_AGENT", "http://h/?a=1")],
                "KB1",
                "eu-west-1",
                "AWS_ENDPOINT_URL_BEDROCK_AGENT",
            ),
            (
                &[("BEDROCK_TIMEOUT_SECS", "0")],
                "KB1",
                "eu-west-1",
                "BEDROCK_TIMEOUT_SECS",
            ),
            (
                &[("BEDROCK_MAX_ATTEMPTS", "11")],
                "KB1",
                "eu-west-1",
                "BEDROCK_MAX_ATTEMPTS",
            ),
        ];
        for (extra, kb, region, var) in cases {
            let e = BedrockKb::from_vars(&env(extra), kb, region).unwrap_err();
            assert_eq!(e.var, var, "{e}");
        }
        let e = BedrockKb::from_vars(
            &Vars::from_pairs([("AWS_EC2_METADATA_DISABLED", "true")]),
            "KB1",
            "eu-west-1",
        )
        .unwrap_err();
        assert!(e.to_string().contains("no AWS credentials found"), "{e}");
    }

    #[test]
    fn checks_input_before_sending() {
        // Port 9 on loopback is never served here; a sent request would fail differently.
        let vars = env(&[("AWS_ENDPOINT_URL", "http://127.0.0.1:9")]);
        let kb = BedrockKb::from_vars(&vars, "KB1", "eu-west-1").unwrap();
        for (q, n) in [("  ", 5), ("ok", 0), ("ok", 101)] {
            assert!(
                matches!(kb.retrieve(q, n), Err(KbError::InvalidRequest(_))),
                "{q:?} {n}"
            );
        }
        let long = "é".repeat(MAX_QUERY_CHARS + 1);
        let e = kb.retrieve(&long, 5).unwrap_err();
        assert!(
            matches!(&e, KbError::InvalidRequest(m) if m.contains("20,000")),
            "{e}"
        );
        let dbg = format!("{kb:?}");
        assert!(dbg.contains("KB1") && !dbg.contains("\"s\""), "{dbg}");
    }
}
