//! Knowledge bases: one trait, two backends (Bedrock, and a local BM25 index for trying the
//! server without AWS). Results are shaped like Bedrock's whichever backend answers.
//!
//! The caller's identity for access-list filtering arrives here already verified: a user id
//! the server may assert ([`Retrieve::user_id`]) and, for per-user AWS sessions, the validated
//! token wrapped in an opaque [`WebIdentity`] that only `aws` opens; this module never reads
//! tokens or headers.

pub mod agentic;
pub mod bedrock;
pub(crate) mod catalog;
pub(crate) mod extracted;
pub(crate) mod filter;
pub(crate) mod local;
// Shared with integration tests and the fuzz crate, which cannot see `cfg(test)` items.
#[doc(hidden)]
pub mod testing;

pub use crate::aws::WebIdentity;
use serde::Serialize;
use serde_json::{Map, Value};
use std::fmt;

/// The longest query accepted, in characters: Bedrock's limit (KnowledgeBaseQueryTextString),
/// applied to every backend and advertised in the tool schema.
pub const MAX_QUERY_CHARS: usize = 20_000;
/// The most passages one retrieve may ask for: Bedrock's numberOfResults limit, applied to every
/// backend and advertised in the tool schema.
pub const MAX_RESULTS: u32 = 100;

/// A searchable knowledge base. Implementations are shared by all worker threads.
pub trait KnowledgeBase: Send + Sync {
    /// Retrieves at most `max_results` (1..=[`MAX_RESULTS`]) passages for `query`, as nobody in particular.
    fn retrieve(&self, query: &str, max_results: u32) -> Result<Retrieval, KbError>;

    /// Retrieves on behalf of a (verified) user, with the request's options; backends
    /// without access lists ignore the user, and refuse options they cannot honour.
    fn retrieve_as(&self, request: &Retrieve<'_>) -> Result<Retrieval, KbError> {
        if request.filter.is_some() || request.search_type.is_some() {
            return Err(KbError::InvalidRequest(
                "this knowledge base backend supports neither filter nor search_type: leave them out"
                    .into(),
            ));
        }
        self.retrieve(request.query, request.max_results)
    }

    /// Whether [`KnowledgeBase::document_link`] is served (the tool is offered only then).
    fn has_document_links(&self) -> bool {
        false
    }

    /// Whether signed-in users' calls are signed with their own AWS session
    /// (AWS_USER_CREDENTIALS=web-identity), so the server need not name them itself.
    fn signs_as_user(&self) -> bool {
        false
    }

    /// A short-lived link to the original of a retrieved document, as `who` may see it.
    fn document_link(&self, document: &DocumentRef, who: Who<'_>) -> Result<DocumentLink, KbError> {
        let _ = (document, who);
        Err(KbError::InvalidRequest(
            "this knowledge base backend cannot link to original documents".into(),
        ))
    }

    /// Whether [`KnowledgeBase::read_document`] is served (read_document is offered only then).
    fn can_read_documents(&self) -> bool {
        false
    }

    /// The whole extracted text of a retrieved document, as `who` may read it.
    fn read_document(&self, document: &DocumentRef, who: Who<'_>) -> Result<DocumentText, KbError> {
        let _ = (document, who);
        Err(KbError::InvalidRequest(
            "this knowledge base backend cannot read whole documents".into(),
        ))
    }

    /// An embedded image (`document.media_id`), fetched through the server, as `who` may
    /// see it.
    fn fetch_image(&self, document: &DocumentRef, who: Who<'_>) -> Result<Image, KbError> {
        let _ = (document, who);
        Err(KbError::InvalidRequest(
            "this knowledge base backend has no images to fetch".into(),
        ))
    }

    /// Whether [`KnowledgeBase::agentic`] is served (agentic_search is offered only then).
    fn has_agentic(&self) -> bool {
        false
    }

    /// One agentic retrieval over `request.kb_ids`, reporting to `control` as it goes.
    fn agentic(
        &self,
        request: &agentic::Request<'_>,
        control: &mut dyn agentic::Control,
    ) -> Result<agentic::Answer, KbError> {
        let _ = (request, control);
        Err(KbError::InvalidRequest(
            "this knowledge base backend does not offer agentic retrieval: use \
             search_knowledge_base"
                .into(),
        ))
    }

    /// Describes the knowledge base. Never fails: what could not be read goes in `note`.
    fn info(&self) -> KbInfo;
}

/// A document's extracted text and what is known about it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DocumentText {
    /// The whole text.
    pub text: String,
    /// Its title, when the extracted content or the backend names one.
    pub title: Option<String>,
    /// Where it comes from (a URI or path), when known.
    pub source_uri: Option<String>,
}

/// Whether `c` is in Unicode's category C (Other) as far as can be told without tables:
/// control (Cc), format (Cf), private use (Co) and the noncharacters (part of Cn). The
/// service model refuses document ids with any of them (`^\P{C}*$`).
pub fn is_other_char(c: char) -> bool {
    let u = c as u32;
    c.is_control()
        || matches!(u,
            0x00AD | 0x0600..=0x0605 | 0x061C | 0x06DD | 0x070F | 0x0890..=0x0891 | 0x08E2
            | 0x180E | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2064 | 0x2066..=0x206F
            | 0xFEFF | 0xFFF9..=0xFFFB | 0x110BD | 0x110CD | 0x13430..=0x1343F
            | 0x1BCA0..=0x1BCA3 | 0x1D173..=0x1D17A | 0xE0001 | 0xE0020..=0xE007F)
        || matches!(u, 0xE000..=0xF8FF | 0xF0000..=0xFFFFD | 0x100000..=0x10FFFD)
        || matches!(u, 0xFDD0..=0xFDEF)
        || (u & 0xFFFE) == 0xFFFE
}

/// One retrieval on behalf of a caller.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Retrieve<'a> {
    /// The query text.
    pub query: &'a str,
    /// At most this many passages (1..=[`MAX_RESULTS`]).
    pub max_results: u32,
    /// The signed-in user's verified email, which the server may assert (Bedrock
    /// `userContext.userId`).
    pub user_id: Option<&'a str>,
    /// The signed-in user's validated token, for their own AWS session.
    pub identity: Option<&'a WebIdentity>,
    /// A metadata filter in Bedrock's `RetrievalFilter` shape, already checked by
    /// `filter::validate`.
    pub filter: Option<&'a Value>,
    /// `HYBRID` or `SEMANTIC` (vector knowledge bases only).
    pub search_type: Option<&'a str>,
    /// The backend's token for the next page of a previous search with the same arguments.
    pub next_token: Option<&'a str>,
}

/// Who a call runs for: the address the server may assert, and the token for the user's
/// own AWS session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Who<'a> {
    /// The verified email the server may send as `userContext.userId`.
    pub user_id: Option<&'a str>,
    /// The validated token, for the user's own AWS session.
    pub identity: Option<&'a WebIdentity>,
}

/// Which original document to link to: the ids a retrieval result carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentRef {
    /// The result's `documentId`.
    pub document_id: String,
    /// The data source the document belongs to.
    pub data_source_id: String,
    /// An embedded image's `_media_id`, to link to that image instead of the document.
    pub media_id: Option<String>,
}

/// A link to an original document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DocumentLink {
    /// A presigned URL (Bedrock's expire after 5 minutes).
    pub url: String,
    /// The document's MIME type.
    #[serde(rename = "mimeType")]
    pub mime_type: String,
    /// Its size in bytes, when known.
    #[serde(rename = "sizeBytes", skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<u64>,
}

/// What one retrieve call returned.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Retrieval {
    /// Passages, best first.
    pub results: Vec<Passage>,
    /// Time spent waiting for the upstream (Bedrock) across all attempts, in milliseconds.
    #[serde(skip)]
    pub upstream_ms: u64,
    /// A Bedrock guardrail intervened (`guardrailAction: INTERVENED`).
    #[serde(skip)]
    pub guardrail_intervened: bool,
    /// Something the reader should know about what they may see (e.g. the knowledge base
    /// needs per-user sessions that are off).
    #[serde(skip)]
    pub note: Option<String>,
    /// The backend's token for the next page, when more results are available.
    #[serde(skip)]
    pub next_token: Option<String>,
}

/// One retrieved passage.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Passage {
    /// The readable text: TEXT's text, ROW's `column: value` lines, AUDIO's transcription,
    /// VIDEO's summary, IMAGE's text if any (often empty).
    pub text: String,
    /// Bedrock's content type: TEXT, IMAGE, ROW, AUDIO or VIDEO.
    #[serde(rename = "contentType")]
    pub content_type: String,
    /// An IMAGE result's picture.
    #[serde(skip)]
    pub image: Option<Image>,
    /// Where an AUDIO or VIDEO segment is stored (its `s3Uri`).
    #[serde(rename = "mediaUri", skip_serializing_if = "Option::is_none")]
    pub media_uri: Option<String>,
    /// The document the passage belongs to (for `get_document_link`).
    #[serde(rename = "documentId", skip_serializing_if = "Option::is_none")]
    pub document_id: Option<String>,
    /// The data source the document belongs to.
    #[serde(rename = "dataSourceId", skip_serializing_if = "Option::is_none")]
    pub data_source_id: Option<String>,
    /// An embedded image's id (metadata `_media_id`).
    #[serde(rename = "mediaId", skip_serializing_if = "Option::is_none")]
    pub media_id: Option<String>,
    /// Relevance score as the backend reports it (higher is better), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// Where the passage came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    /// Source metadata as returned by the backend.
    pub metadata: Map<String, Value>,
}

/// An image as Bedrock sends it: a MIME type and standard base64 data (checked well formed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Image {
    /// e.g. `image/png`.
    pub mime_type: String,
    /// Standard base64 with padding.
    pub base64: String,
}

impl Image {
    /// The decoded size in bytes.
    pub fn size(&self) -> usize {
        let pad = self.base64.bytes().rev().take_while(|&b| b == b'=').count();
        (self.base64.len() / 4 * 3).saturating_sub(pad)
    }
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
    /// VECTOR, MANAGED, KENDRA or SQL (Bedrock), LOCAL, or UNKNOWN; how it was learnt is in
    /// `type_source`.
    pub kb_type: String,
    /// Where `kb_type` comes from (GetKnowledgeBase, BEDROCK_KB_TYPE, a refused Retrieve, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub type_source: Option<String>,
    /// The knowledge base's name, when readable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The knowledge base's description, when readable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Why some fields are missing (e.g. the role may not call bedrock:GetKnowledgeBase).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// How the knowledge base takes the user for access lists, as AWS spells it
    /// (`API_INPUT_ONLY`, `IDENTITY_ENHANCED_SESSION_ELSE_API_INPUT`, `IDENTITY_ENHANCED_SESSION`).
    #[serde(
        rename = "userContextModeForRetrieval",
        skip_serializing_if = "Option::is_none"
    )]
    pub user_context_mode: Option<String>,
    /// The identity store / provider ARNs it trusts besides its own account's.
    #[serde(
        rename = "trustedIdentitySources",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub trusted_identity_sources: Vec<String>,
    /// Whether signed-in users' calls use their own AWS session (AWS_USER_CREDENTIALS).
    pub per_user_sessions: bool,
    /// A set-up problem to fix (e.g. the knowledge base needs per-user sessions that are off).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
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
    /// AWS STS refused the user's sign-in token as such: the client must sign in again (401).
    Reauthenticate(String),
    /// The user's own AWS session could not be had; nothing was sent to Bedrock.
    UserSession(String),
}

impl KbError {
    /// The failure's kind as a metrics label (one of `metrics::BEDROCK_OUTCOMES`).
    pub fn kind(&self) -> &'static str {
        match self {
            KbError::InvalidRequest(_) => "invalid_request",
            KbError::AccessDenied(_) => "access_denied",
            KbError::NotFound(_) => "not_found",
            KbError::Throttled(_) => "throttled",
            KbError::Timeout(_) => "timeout",
            // The caller's own AWS session failed: a credentials problem, as identity counted it.
            KbError::Credentials(_) | KbError::Reauthenticate(_) | KbError::UserSession(_) => {
                "credentials"
            }
            KbError::Unavailable(_) => "unavailable",
        }
    }
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
            KbError::Reauthenticate(m) => f.write_str(m),
            KbError::UserSession(m) => write!(
                f,
                "Your own AWS session could not be created: {m}. Nothing was sent to Bedrock."
            ),
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

#[cfg(test)]
mod kind_tests {
    use super::KbError;

    #[test]
    fn every_error_kind_is_a_metrics_label() {
        let m = String::new;
        for e in [
            KbError::InvalidRequest(m()),
            KbError::AccessDenied(m()),
            KbError::NotFound(m()),
            KbError::Throttled(m()),
            KbError::Timeout(m()),
            KbError::Credentials(m()),
            KbError::Unavailable(m()),
        ] {
            assert!(
                crate::metrics::BEDROCK_OUTCOMES.contains(&e.kind()),
                "{e:?}"
            );
        }
    }
}
