//! What a tool call produced: the CallToolResult plus the counts the access log reports; and
//! [`ResultObject`], a method's result before it is serialized into the response.
//!
//! Built by `render` and returned by `tools`; plain values with no behaviour beyond
//! serializing themselves.

use crate::kb::Retrieval;
use serde::{Serialize, Serializer};
use serde_json::Value;

/// What a tool call produced, for the response and for the access log.
#[derive(Debug, Default)]
pub struct ToolOutcome {
    /// The CallToolResult (without protocol-revision extras such as `resultType`).
    pub result: ResultObject,
    /// Number of passages returned (search only).
    pub results: Option<usize>,
    /// Time spent in the upstream knowledge base.
    pub upstream_ms: Option<u64>,
    /// Whether the result is a tool error.
    pub is_error: bool,
}

/// A JSON-RPC result object: a small `Value`, or a search result that is serialized straight
/// from its passages (no `Value` copy of the passages is ever built).
#[derive(Debug)]
pub enum ResultObject {
    /// Any result built as a JSON object.
    Value(Value),
    /// A search result.
    Search(Box<SearchResult>),
}

impl Default for ResultObject {
    fn default() -> ResultObject {
        ResultObject::Value(Value::Null)
    }
}

impl From<Value> for ResultObject {
    fn from(v: Value) -> ResultObject {
        ResultObject::Value(v)
    }
}

impl ResultObject {
    /// Adds a member to the result object (protocol-revision extras such as `resultType`).
    pub fn insert(&mut self, key: &str, value: Value) {
        match self {
            ResultObject::Value(v) => v[key] = value,
            ResultObject::Search(s) => s.extra.push((key.to_string(), value)),
        }
    }

    /// About how many bytes the serialized result takes, to size the response buffer once.
    pub fn size_hint(&self) -> usize {
        match self {
            ResultObject::Value(_) => 256,
            ResultObject::Search(s) => s.size_hint(),
        }
    }
}

impl Serialize for ResultObject {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            ResultObject::Value(v) => v.serialize(s),
            ResultObject::Search(r) => r.serialize(s),
        }
    }
}

/// A rendered search, holding the passages it serializes (built and serialized by
/// `render::search`).
#[derive(Debug)]
pub struct SearchResult {
    pub(super) query: String,
    pub(super) retrieval: Retrieval,
    /// The readable text block.
    pub(super) text: String,
    /// Per passage kept within the text budget: whether its image is shown inline.
    pub(super) shown: Vec<bool>,
    /// Per kept passage: the caption of its image, if it has one.
    pub(super) captions: Vec<Option<String>>,
    /// The `next_page` token, when more results are available.
    pub(super) next_page: Option<String>,
    pub(super) structured: bool,
    pub(super) note: Option<String>,
    /// Members added after rendering (protocol-revision extras such as `resultType`).
    pub(super) extra: Vec<(String, Value)>,
}
