//! Knowledge bases: one trait, two backends (Bedrock, and a local BM25 index for trying the
//! server without AWS). Results are shaped like Bedrock's whichever backend answers.

pub mod bedrock;
pub mod local;
#[cfg(test)]
pub mod testing;

use serde::Serialize;
use serde_json::{Map, Value};
use std::fmt;

/// A searchable knowledge base. Implementations are shared by all worker threads.
pub trait KnowledgeBase: Send + Sync {
    /// Retrieves at most `max_results` (1..=100) passages for `query`.
    fn retrieve(&self, query: &str, max_results: u32) -> Result<Retrieval, KbError>;

    /// Describes the knowledge base. Never fails: what could not be read goes in `note`.
    fn info(&self) -> KbInfo;
}

/// What one retrieve call returned.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Retrieval {
    /// Passages, best first.
    pub results: Vec<Passage>,
    /// Time spent waiting for the upstream (Bedrock) across all attempts, in milliseconds.
    #[serde(skip)]
    pub upstream_ms: u64,
}

/// One retrieved passage.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Passage {
    /// The passage text (for IMAGE/ROW content, whatever text Bedrock gave, possibly empty).
    pub text: String,
    /// Bedrock's content type: TEXT, IMAGE or ROW.
    #[serde(rename = "contentType")]
    pub content_type: String,
    /// Relevance score as the backend reports it (higher is better), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// Where the passage came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    /// Source metadata as returned by the backend.
    pub metadata: Map<String, Value>,
}

/// The source of a passage, flattened from Bedrock's per-type location objects.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Location {
    /// Bedrock's location type: S3, WEB, CONFLUENCE, SALESFORCE, SHAREPOINT, CUSTOM, KENDRA, SQL, … or FILE (local).
    #[serde(rename = "type")]
    pub kind: String,
    /// The URI, URL, document id or query that identifies the source.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
}

/// A description of the configured knowledge base.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct KbInfo {
    /// "bedrock" or "local".
    pub backend: String,
    /// The knowledge base id (for the local backend, the directory).
    pub kb_id: String,
    /// The AWS region ("local" for the local backend).
    pub region: String,
    /// ACTIVE, CREATING, … as GetKnowledgeBase says, or UNKNOWN when it could not be read.
    pub status: String,
    /// The knowledge base's name, when readable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The knowledge base's description, when readable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Why some fields are missing (e.g. the role may not call bedrock:GetKnowledgeBase).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Why a knowledge-base call failed. `Display` is written for the model and the operator:
/// it says what happened and what to do.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum KbError {
    /// The request was refused as invalid (Bedrock ValidationException or our own checks).
    InvalidRequest(String),
    /// The role may not perform the action (AccessDeniedException).
    AccessDenied(String),
    /// The knowledge base (or a resource it needs) does not exist (ResourceNotFoundException).
    NotFound(String),
    /// Still throttled after all retries.
    Throttled(String),
    /// No answer within the timeout, after all retries.
    Timeout(String),
    /// No AWS credentials could be found or refreshed.
    Credentials(String),
    /// The service failed or could not be reached (5xx, connection refused, bad response).
    Unavailable(String),
}

impl fmt::Display for KbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KbError::InvalidRequest(m) => write!(f, "Invalid request: {m}"),
            KbError::AccessDenied(m) => write!(f, "Access denied: {m}"),
            KbError::NotFound(m) => write!(f, "Not found: {m}"),
            KbError::Throttled(m) => write!(f, "Throttled: {m}"),
            KbError::Timeout(m) => write!(f, "Timed out: {m}"),
            KbError::Credentials(m) => write!(f, "AWS credentials unavailable: {m}"),
            KbError::Unavailable(m) => write!(f, "Knowledge base unavailable: {m}"),
        }
    }
}

impl std::error::Error for KbError {}

/// What the server says about its knowledge base without calling it (health, logs).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KbIdentity {
    /// "bedrock" or "local".
    pub backend: String,
    /// The knowledge base id, or the local directory.
    pub kb_id: String,
    /// The AWS region, or "local".
    pub region: String,
}
