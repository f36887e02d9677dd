//! The two tools: their definitions per protocol revision, argument checks, and calls.
//!
//! Tool failures (bad arguments on 2025-11-25+, knowledge-base errors) become results with
//! `isError: true` so the model can read and correct them; an unknown tool is a protocol
//! error. Rendering of results for the model lives in `render.rs`.

use super::protocol::Version;
use super::render;
use crate::kb::KnowledgeBase;
use serde_json::{json, Map, Value};

/// Name of the search tool (as in the seed server).
pub const SEARCH: &str = "search_knowledge_base";
/// Name of the info tool (as in the seed server).
pub const INFO: &str = "get_knowledge_base_info";
/// Default number of results, as in the seed.
pub const DEFAULT_MAX_RESULTS: u64 = 5;
/// Bedrock's limit on query text.
pub const MAX_QUERY_CHARS: usize = 20_000;

/// What a tool call produced, for the response and for the access log.
#[derive(Debug, Default)]
pub struct ToolOutcome {
    /// The CallToolResult (without protocol-revision extras such as `resultType`).
    pub result: Value,
    /// Number of passages returned (search only).
    pub results: Option<usize>,
    /// Time spent in the upstream knowledge base.
    pub upstream_ms: Option<u64>,
    /// Whether the result is a tool error.
    pub is_error: bool,
}

/// Why a call could not even start: an unknown tool, or (before 2025-11-25) bad arguments.
#[derive(Debug, PartialEq)]
pub struct ProtocolError(pub String);

/// The tool definitions shaped for `version`, in a stable order.
pub fn definitions(version: Version) -> Vec<Value> {
    let mut search = json!({
        "name": SEARCH,
        "description": "Search the AWS Bedrock Knowledge Base and return the most relevant passages, \
            each with its relevance score, source location and metadata.",
        "inputSchema": {
            "type": "object",
            "properties": {
                "query": {
                    "type": "string",
                    "description": "Search query text (natural language works best).",
                    "minLength": 1,
                    "maxLength": MAX_QUERY_CHARS
                },
                "max_results": {
                    "type": "integer",
                    "description": "Maximum number of results to return (1-100).",
                    "minimum": 1,
                    "maximum": 100,
                    "default": DEFAULT_MAX_RESULTS
                }
            },
            "required": ["query"],
            "additionalProperties": false
        }
    });
    let mut info = json!({
        "name": INFO,
        "description": "Get information about the configured Knowledge Base: its ID, region and \
            status, plus its name and description when the server may read them.",
        "inputSchema": { "type": "object", "properties": {}, "additionalProperties": false }
    });
    if version >= Version::V2025_03_26 {
        for (tool, title) in [
            (&mut search, "Search knowledge base"),
            (&mut info, "Knowledge base info"),
        ] {
            tool["annotations"] = json!({
                "title": title,
                "readOnlyHint": true,
                "destructiveHint": false,
                "idempotentHint": true,
                "openWorldHint": false
            });
        }
    }
    if version >= Version::V2025_06_18 {
        search["title"] = json!("Search knowledge base");
        info["title"] = json!("Knowledge base info");
        search["outputSchema"] = render::search_output_schema();
        info["outputSchema"] = render::info_output_schema();
    }
    vec![search, info]
}

/// Calls tool `name` with `arguments` (an object, or absent).
pub fn call(
    kb: &dyn KnowledgeBase,
    version: Version,
    name: &str,
    arguments: Option<&Value>,
) -> Result<ToolOutcome, ProtocolError> {
    let empty = Map::new();
    let args = match arguments {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(map)) => map,
        Some(_) => {
            return Err(ProtocolError(
                "Invalid params: \"arguments\" must be an object".into(),
            ))
        }
    };
    let checked = match name {
        SEARCH => search_args(args).map(|(query, max_results)| Call::Search { query, max_results }),
        INFO => no_args(args).map(|()| Call::Info),
        other => {
            return Err(ProtocolError(format!(
                "Unknown tool: {other:?}. Available tools: {SEARCH}, {INFO}"
            )))
        }
    };
    let call = match checked {
        Ok(call) => call,
        // 2025-11-25 asks for input validation errors as tool errors the model can correct;
        // earlier revisions report them as -32602.
        Err(msg) if version >= Version::V2025_11_25 => return Ok(render::tool_error(msg)),
        Err(msg) => {
            return Err(ProtocolError(format!(
                "Invalid arguments for {name}: {msg}"
            )))
        }
    };
    let structured = version >= Version::V2025_06_18;
    Ok(match call {
        Call::Search { query, max_results } => match kb.retrieve(&query, max_results) {
            Ok(retrieval) => render::search_result(&query, &retrieval, structured),
            Err(e) => render::tool_error(format!("Search failed. {e}")),
        },
        Call::Info => render::info_result(&kb.info(), structured),
    })
}

enum Call {
    Search { query: String, max_results: u32 },
    Info,
}

fn search_args(args: &Map<String, Value>) -> Result<(String, u32), String> {
    if let Some(unknown) = args.keys().find(|k| *k != "query" && *k != "max_results") {
        return Err(format!(
            "unknown argument {unknown:?}; {SEARCH} takes \"query\" (string, required) and \"max_results\" (integer 1-100, default 5)"
        ));
    }
    let query = match args.get("query") {
        Some(Value::String(q)) if !q.trim().is_empty() => q.trim().to_string(),
        Some(Value::String(_)) => {
            return Err("\"query\" must not be empty: pass the text to search for".into())
        }
        Some(_) => return Err("\"query\" must be a string".into()),
        None => return Err("\"query\" is required: pass the text to search for".into()),
    };
    let chars = query.chars().count();
    if chars > MAX_QUERY_CHARS {
        return Err(format!(
            "\"query\" is {chars} characters long; the limit is {MAX_QUERY_CHARS}: shorten it"
        ));
    }
    let max_results = match args.get("max_results") {
        None | Some(Value::Null) => DEFAULT_MAX_RESULTS,
        Some(Value::Number(n)) => match (n.as_u64(), n.as_f64()) {
            (Some(v), _) => v,
            // Accept 5.0 but not 5.5: some clients send every number as a float.
            (None, Some(f)) if f.fract() == 0.0 && (1.0..=100.0).contains(&f) => f as u64,
            _ => u64::MAX,
        },
        Some(_) => return Err("\"max_results\" must be an integer from 1 to 100".into()),
    };
    if !(1..=100).contains(&max_results) {
        return Err(format!(
            "\"max_results\" must be an integer from 1 to 100 (default {DEFAULT_MAX_RESULTS})"
        ));
    }
    Ok((query, max_results as u32))
}

fn no_args(args: &Map<String, Value>) -> Result<(), String> {
    match args.keys().next() {
        Some(k) => Err(format!("unknown argument {k:?}; {INFO} takes no arguments")),
        None => Ok(()),
    }
}
