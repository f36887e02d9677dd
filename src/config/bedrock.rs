//! Bedrock settings: which knowledge bases (BEDROCK_KB_ID), the endpoints
//! (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_BEDROCK_AGENT and _AGENT_RUNTIME), BEDROCK_TIMEOUT_SECS,
//! BEDROCK_MAX_ATTEMPTS, BEDROCK_KB_TYPE, reranking (BEDROCK_RERANK_MODEL,
//! BEDROCK_RERANK_RESULTS) and the guardrail (BEDROCK_GUARDRAIL_ID, BEDROCK_GUARDRAIL_VERSION),
//! plus the region and credentials source from `aws.rs`.
//!
//! Owns reading and checking them; `kb::bedrock` consumes [`BedrockSettings`] and reads no
//! variables itself. Must not do I/O.

use super::aws::{self, CredentialSource};
use super::{ConfigError, Vars};
use std::time::Duration;
use ureq::http::Uri;

/// The most knowledge bases one server offers (each is described in every tool list).
const MAX_KNOWLEDGE_BASES: usize = 10;

/// Validated settings for the Bedrock backend, shared by every knowledge base it serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BedrockSettings {
    /// The knowledge base ids (BEDROCK_KB_ID, comma-separated); the first is the default.
    pub kb_ids: Vec<String>,
    /// The AWS region.
    pub region: String,
    /// Where the credentials come from.
    pub credentials: CredentialSource,
    /// The agent runtime endpoint (Retrieve, GetDocumentContent).
    pub runtime: Endpoint,
    /// The agent control-plane endpoint (GetKnowledgeBase).
    pub agent: Endpoint,
    /// Per-attempt timeout (BEDROCK_TIMEOUT_SECS).
    pub timeout: Duration,
    /// Attempts per call, first included (BEDROCK_MAX_ATTEMPTS).
    pub max_attempts: u32,
    /// BEDROCK_KB_TYPE.
    pub kb_type: KbType,
    /// What shapes every Retrieve: reranking and the guardrail.
    pub retrieve: RetrieveSettings,
    /// Per-user AWS sessions (AWS_USER_CREDENTIALS=web-identity); `None` when off.
    pub user_sessions: Option<super::sessions::UserSessionSettings>,
    /// read_document, agentic_search and GetKnowledgeBase cache bounds.
    pub reading: super::ReadingSettings,
}

/// A base URL (no trailing slash) and the Host header it implies (SigV4 signs it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// E.g. `https://bedrock-agent-runtime.eu-west-1.amazonaws.com`.
    pub base: String,
    /// E.g. `bedrock-agent-runtime.eu-west-1.amazonaws.com`; the port only when not the default.
    pub host: String,
}

/// BEDROCK_KB_TYPE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KbType {
    /// Learn the type from GetKnowledgeBase, else from Bedrock's refusal of a configuration.
    Auto,
    /// Always `vectorSearchConfiguration` (VECTOR, KENDRA and SQL knowledge bases).
    Vector,
    /// Always `managedSearchConfiguration`.
    Managed,
}

/// Reranking, from BEDROCK_RERANK_MODEL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rerank {
    /// Unset: vector knowledge bases do not rerank; managed ones use Bedrock's default (MANAGED).
    Default,
    /// `none`: managed knowledge bases are told NONE; vector ones do not rerank.
    Off,
    /// `managed`: managed knowledge bases are told MANAGED explicitly.
    Managed,
    /// A reranking model (its ARN): CUSTOM on managed knowledge bases.
    Model(String),
}

/// Settings that shape every Retrieve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrieveSettings {
    /// Reranking.
    pub rerank: Rerank,
    /// numberOfRerankedResults.
    pub rerank_results: Option<u64>,
    /// (guardrailId, guardrailVersion).
    pub guardrail: Option<(String, String)>,
}

impl RetrieveSettings {
    /// The reranking model's ARN, if one is set.
    pub fn rerank_model(&self) -> Option<&str> {
        match &self.rerank {
            Rerank::Model(arn) => Some(arn),
            _ => None,
        }
    }
}

impl BedrockSettings {
    /// Reads every Bedrock setting for `kb_ids` in `region` (both already checked by
    /// `kb_ids` and `aws::region`, or given by a test).
    pub fn from_vars(
        vars: &Vars,
        kb_ids: Vec<String>,
        region: &str,
    ) -> Result<BedrockSettings, ConfigError> {
        for id in &kb_ids {
            check_kb_id(id)?;
        }
        check_region(region)?;
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
        let kb_type = kb_type(vars)?;
        let retrieve = retrieve_settings(vars, region)?;
        let credentials = aws::credentials(vars)?;
        let user_sessions = super::sessions::user_sessions(vars, region)?;
        let reading = super::ReadingSettings::from_vars(vars)?;
        Ok(BedrockSettings {
            user_sessions,
            kb_ids,
            region: region.to_string(),
            credentials,
            runtime,
            agent,
            timeout,
            max_attempts,
            kb_type,
            retrieve,
            reading,
        })
    }
}

/// Splits and checks BEDROCK_KB_ID: one to ten entries, each exactly 10 letters and digits
/// or a knowledge-base ARN (the service model's KnowledgeBaseIdentifier), named once; an
/// ARN stands for its id part.
pub fn kb_ids(list: &str) -> Result<Vec<String>, ConfigError> {
    let mut kb_ids = Vec::new();
    for entry in list.split(',').map(str::trim) {
        match kb_id_of(entry) {
            Some(id) => kb_ids.push(id.to_string()),
            None => {
                return Err(ConfigError::new(
                    "BEDROCK_KB_ID",
                    format!(
                        "{entry:?} is not a Bedrock knowledge base id: each entry must be exactly \
                         10 letters and digits (e.g. ABCDEF1234) or a knowledge-base ARN \
                         (arn:aws:bedrock:<region>:<account>:knowledge-base/ABCDEF1234), \
                         several separated by commas; see `aws bedrock-agent list-knowledge-bases`"
                    ),
                ))
            }
        }
    }
    let mut seen = std::collections::HashSet::new();
    if let Some(dup) = kb_ids.iter().find(|id| !seen.insert(id.as_str())) {
        return Err(ConfigError::new(
            "BEDROCK_KB_ID",
            format!("lists {dup} twice: name each knowledge base once"),
        ));
    }
    if kb_ids.len() > MAX_KNOWLEDGE_BASES {
        return Err(ConfigError::new(
            "BEDROCK_KB_ID",
            format!(
                "lists {} knowledge bases; at most {MAX_KNOWLEDGE_BASES} are served",
                kb_ids.len()
            ),
        ));
    }
    Ok(kb_ids)
}

/// The id an entry names: `^[0-9a-zA-Z]{10}$` itself, or the id part of
/// `^arn:aws(-[^:]+)?:bedrock:[a-z0-9-]{1,20}:[0-9]{12}:knowledge-base/[0-9a-zA-Z]{10}$`.
pub fn kb_id_of(entry: &str) -> Option<&str> {
    let is_id = |s: &str| s.len() == 10 && s.bytes().all(|b| b.is_ascii_alphanumeric());
    if is_id(entry) {
        return Some(entry);
    }
    let (account, rest) = after_bedrock_region(entry)?.split_once(':')?;
    let account_ok = account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit());
    let id = rest.strip_prefix("knowledge-base/")?;
    (account_ok && is_id(id)).then_some(id)
}

/// What follows `^arn:aws(-[^:]+)?:bedrock:[a-z0-9-]{1,20}:` in `arn`, if it starts so.
fn after_bedrock_region(arn: &str) -> Option<&str> {
    let rest = arn.strip_prefix("arn:aws")?;
    let (partition_tail, rest) = rest.split_once(':')?;
    let partition_ok =
        partition_tail.is_empty() || (partition_tail.len() >= 2 && partition_tail.starts_with('-'));
    let rest = rest.strip_prefix("bedrock:")?;
    let (region, rest) = rest.split_once(':')?;
    let region_ok = (1..=20).contains(&region.len())
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    (partition_ok && region_ok).then_some(rest)
}

fn check_kb_id(kb_id: &str) -> Result<(), ConfigError> {
    if kb_id_of(kb_id) != Some(kb_id) {
        return Err(ConfigError::new(
            "BEDROCK_KB_ID",
            format!(
                "must be the knowledge base ID from the Bedrock console: exactly 10 letters \
                 and digits, e.g. ABCDE12345; got {kb_id:?}"
            ),
        ));
    }
    Ok(())
}

fn check_region(region: &str) -> Result<(), ConfigError> {
    let ok = !region.is_empty()
        && region.len() <= 32
        && region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(ConfigError::new(
            "AWS_REGION",
            format!("must be an AWS region such as eu-west-1, got {region:?}"),
        ))
    }
}

/// Reads BEDROCK_KB_TYPE (default auto).
pub fn kb_type(vars: &Vars) -> Result<KbType, ConfigError> {
    match vars
        .get("BEDROCK_KB_TYPE")
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("" | "auto") => Ok(KbType::Auto),
        Some("vector" | "kendra" | "sql") => Ok(KbType::Vector),
        Some("managed") => Ok(KbType::Managed),
        Some(other) => Err(ConfigError::new(
            "BEDROCK_KB_TYPE",
            format!(
                "{other:?} is not a knowledge base type: use auto (learn it from Bedrock), \
                     vector or managed"
            ),
        )),
    }
}

/// The ARN partition of `region`.
fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else if region.starts_with("us-iso") {
        "aws-iso"
    } else {
        "aws"
    }
}

/// Reads and checks the reranking and guardrail settings.
pub fn retrieve_settings(vars: &Vars, region: &str) -> Result<RetrieveSettings, ConfigError> {
    let rerank = match vars.get("BEDROCK_RERANK_MODEL") {
        None => Rerank::Default,
        Some(raw) if raw.eq_ignore_ascii_case("none") => Rerank::Off,
        Some(raw) if raw.eq_ignore_ascii_case("managed") => Rerank::Managed,
        Some(raw) if raw.starts_with("arn:") => {
            if !is_rerank_arn(raw) {
                return Err(ConfigError::new(
                    "BEDROCK_RERANK_MODEL",
                    format!("{raw:?} is not a foundation-model ARN: it must match \
                        arn:aws(-<partition>)?:bedrock:<region, lower case>::foundation-model/<model id>, \
                        e.g. arn:aws:bedrock:{region}::foundation-model/amazon.rerank-v1:0 (at most 2048 characters)"),
                ));
            }
            Rerank::Model(raw.to_string())
        }
        Some(raw) => {
            let ok = raw.len() <= 200
                && raw
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'_'));
            if !ok {
                return Err(ConfigError::new(
                    "BEDROCK_RERANK_MODEL",
                    format!("{raw:?} is not a model id: use e.g. amazon.rerank-v1:0 or cohere.rerank-v3-5:0, a model ARN, managed or none"),
                ));
            }
            Rerank::Model(format!(
                "arn:{}:bedrock:{region}::foundation-model/{raw}",
                partition(region)
            ))
        }
    };
    let rerank_results = match vars.get("BEDROCK_RERANK_RESULTS") {
        None => None,
        Some(_) if !matches!(rerank, Rerank::Model(_)) => {
            return Err(ConfigError::new(
                "BEDROCK_RERANK_RESULTS",
                "applies only to a reranking model: set BEDROCK_RERANK_MODEL too, or unset it",
            ))
        }
        Some(_) => Some(vars.number("BEDROCK_RERANK_RESULTS", 0, 1, 100)?),
    };
    let guardrail = match (
        vars.get("BEDROCK_GUARDRAIL_ID"),
        vars.get("BEDROCK_GUARDRAIL_VERSION"),
    ) {
        (None, None) => None,
        (Some(id), Some(version)) => {
            if id.is_empty()
                || id.len() > 64
                || !id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            {
                return Err(ConfigError::new(
                    "BEDROCK_GUARDRAIL_ID",
                    format!("{id:?} is not a guardrail id (lower-case letters and digits, e.g. abc123def456)"),
                ));
            }
            if !is_guardrail_version(version) {
                return Err(ConfigError::new(
                    "BEDROCK_GUARDRAIL_VERSION",
                    format!(
                        "{version:?} is not a guardrail version: use DRAFT or a number from 1 \
                         to 99999 without leading zeros (1 to 5 characters)"
                    ),
                ));
            }
            Some((id.to_string(), version.to_string()))
        }
        (Some(_), None) | (None, Some(_)) => return Err(ConfigError::plain(
            "BEDROCK_GUARDRAIL_ID and BEDROCK_GUARDRAIL_VERSION go together: set both, or neither",
        )),
    };
    Ok(RetrieveSettings {
        rerank,
        rerank_results,
        guardrail,
    })
}

/// The service model's GuardrailVersion: 1 to 5 characters, `^(([1-9][0-9]{0,7})|(DRAFT))$`.
pub fn is_guardrail_version(v: &str) -> bool {
    let numbered = !v.starts_with('0') && !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit());
    (1..=5).contains(&v.len()) && (v == "DRAFT" || numbered)
}

/// The service model's BedrockRerankingModelArn (non-empty):
/// `^arn:aws(-[^:]+)?:bedrock:[a-z0-9-]{1,20}::foundation-model/(.*)$`, at most 2048 characters.
pub fn is_rerank_arn(arn: &str) -> bool {
    let check = || -> Option<bool> {
        let model = after_bedrock_region(arn)?.strip_prefix(":foundation-model/")?;
        // `(.*)` matches no line terminator.
        Some(!model.contains(['\n', '\r', '\u{85}', '\u{2028}', '\u{2029}']))
    };
    arn.len() <= 2048 && check() == Some(true)
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
    let Some(host) = uri.host().filter(|h| !h.is_empty()) else {
        return Err(bad("must name a host"));
    };
    // The Host header SigV4 signs: the port only when it is not the scheme's default.
    let default_port = if uri.scheme_str() == Some("https") {
        443
    } else {
        80
    };
    let host = match uri.port_u16() {
        Some(port) if port != default_port => format!("{host}:{port}"),
        _ => host.to_string(),
    };
    Ok(Endpoint {
        base: raw.trim_end_matches('/').to_string(),
        host,
    })
}

#[cfg(test)]
mod tests;
