//! The tools (search, info, the document link when the backend has links, read_document and
//! agentic_search when it can): their definitions per protocol revision (in
//! `tools/definitions.rs`), argument checks, and calls. read_document's and agentic_search's
//! arguments and results live in `tools/read.rs` and `tools/agentic.rs`; the search's
//! `next_page` token in `tools/next_page.rs`.
//!
//! Tool failures (bad arguments on 2025-11-25+, knowledge-base errors) become results with
//! `isError: true` so the model can read and correct them; an unknown tool is a protocol
//! error; AWS refusing the caller's sign-in token itself is handed up (`reauthenticate`) for
//! the transport's 401. A signed-in caller without a verified identity never gets a
//! GetDocumentContent sent on their behalf unless their own AWS session names them. Rendering of results for the model lives in `render.rs`.

use super::caller::Caller;
use super::protocol::Version;
use super::render;
use super::render::SearchResult;
use crate::config::reading::ImageResults;
use crate::kb::agentic::Control;
use crate::kb::catalog::Catalog;
use crate::kb::{filter, DocumentRef, Retrieve, MAX_QUERY_CHARS, MAX_RESULTS};
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

mod agentic;
mod definitions;
pub mod next_page;
mod read;
pub use definitions::definitions;

/// Name of the search tool: the Python FastMCP server's name, so connectors set up against it
/// keep working.
pub const SEARCH: &str = "search_knowledge_base";
/// Name of the info tool, as the Python FastMCP server named it.
pub const INFO: &str = "get_knowledge_base_info";
/// Name of the document-link tool.
pub const LINK: &str = "get_document_link";
/// Name of the whole-document tool (issue 20).
pub const READ: &str = "read_document";
/// Name of the agentic retrieval tool (issue 20).
pub const AGENTIC: &str = "agentic_search";
/// Default number of results, as the Python FastMCP server had it.
pub const DEFAULT_MAX_RESULTS: u64 = 5;

/// What a call needs besides its arguments.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// Who the call runs for.
    pub caller: &'a Caller,
    /// Whether `get_document_link` is offered.
    pub links: bool,
    /// Whether several knowledge bases are offered (tools take `knowledge_base_id`).
    pub multi: bool,
    /// What read_document, agentic_search and image results need.
    pub reading: Reading,
}

/// Which reading tools are offered, and how they shape results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reading {
    /// read_document is offered.
    pub read: bool,
    /// agentic_search is offered.
    pub agentic: bool,
    /// Characters per read_document page.
    pub page_chars: usize,
    /// IMAGE_RESULTS.
    pub images: ImageResults,
}

impl Default for Reading {
    fn default() -> Reading {
        Reading {
            read: false,
            agentic: false,
            page_chars: 20_000,
            images: ImageResults::Inline,
        }
    }
}

impl Reading {
    /// The names of the tools offered, for "unknown tool" errors.
    fn tool_names(&self, links: bool) -> String {
        let mut names = vec![SEARCH, INFO];
        if links {
            names.push(LINK);
        }
        if self.read {
            names.push(READ);
        }
        if self.agentic {
            names.push(AGENTIC);
        }
        names.join(", ")
    }
}

/// The knowledge bases to choose from, when there are several.
#[derive(Debug, Clone)]
pub struct Choice<'a> {
    /// The ids, default first.
    pub ids: Vec<&'a str>,
    /// One sentence per knowledge base: id, name and description.
    pub summary: &'a str,
}

/// Why a call could not even start: an unknown tool, or (before 2025-11-25) bad arguments.
#[derive(Debug, PartialEq)]
pub struct ProtocolError(pub String);

impl std::fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ProtocolError {}

/// Calls tool `name` with `arguments` (an object, or absent) for `ctx.caller`; a long call
/// (agentic_search) reports to `control` while it runs.
pub fn call(
    catalog: &Catalog,
    version: Version,
    name: &str,
    arguments: Option<&Value>,
    ctx: Context<'_>,
    control: &mut dyn Control,
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
    // With several knowledge bases every tool takes knowledge_base_id; it is checked against
    // the configured list here, before any knowledge base is called.
    let mut rest;
    let mut chosen = None;
    let mut args = args;
    if ctx.multi && args.contains_key("knowledge_base_id") {
        rest = args.clone();
        chosen = match rest.remove("knowledge_base_id") {
            Some(Value::String(id)) => Some(id),
            None | Some(Value::Null) => None,
            Some(_) => Some(String::new()),
        };
        args = &rest;
    }
    let kb = catalog.get(chosen.as_deref()).map_err(|e| e.to_string());
    let checked = match name {
        SEARCH => search_args(args).map(Call::Search),
        INFO => no_args(args).map(|()| Call::Info),
        LINK if ctx.links => link_args(args).map(Call::Link),
        READ if ctx.reading.read => read::args(args).map(Call::Read),
        AGENTIC if ctx.reading.agentic => agentic::args(args, catalog).map(Call::Agentic),
        other => {
            return Err(ProtocolError(format!(
                "Unknown tool: {other:?}. Available tools: {}",
                ctx.reading.tool_names(ctx.links)
            )));
        }
    };
    let (call, kb) = match (checked, kb) {
        (Ok(call), Ok(kb)) => (call, kb),
        // 2025-11-25 asks for input validation errors as tool errors the model can correct;
        // earlier revisions report them as -32602.
        (Err(msg), _) | (Ok(_), Err(msg)) => {
            let msg = msg.trim_start_matches("Invalid request: ").to_string();
            if version >= Version::V2025_11_25 {
                return Ok(render::tool_error(msg));
            }
            return Err(ProtocolError(format!(
                "Invalid arguments for {name}: {msg}"
            )));
        }
    };
    let structured = version >= Version::V2025_06_18;
    // With per-user sessions the user's own AWS session names them, not a claim.
    let note = if kb.signs_as_user() {
        None
    } else {
        ctx.caller.hidden_documents_note()
    };
    let who = ctx.caller.who();
    let session = if kb.signs_as_user() && who.identity.is_some() {
        "user"
    } else {
        "server"
    };
    let data_call = matches!(
        call,
        Call::Search(_) | Call::Link(_) | Call::Read(_) | Call::Agentic(_)
    );
    let kb_id = catalog.id_of(chosen.as_deref());
    let mut outcome = match call {
        Call::Search(a) => {
            let binding = next_page::Binding {
                kb_id,
                query: &a.query,
                filter: a.filter.as_ref(),
                search_type: a.search_type,
                max_results: a.max_results,
            };
            let next_token = match a.next_page.as_deref().map(|p| binding.decode(p)) {
                None => None,
                Some(Ok(token)) => Some(token),
                Some(Err(msg)) if version >= Version::V2025_11_25 => {
                    return Ok(render::tool_error(msg))
                }
                Some(Err(msg)) => {
                    return Err(ProtocolError(format!(
                        "Invalid arguments for {name}: {msg}"
                    )))
                }
            };
            let request = Retrieve {
                query: &a.query,
                max_results: a.max_results,
                user_id: who.user_id,
                identity: who.identity,
                filter: a.filter.as_ref(),
                search_type: a.search_type,
                next_token: next_token.as_deref(),
            };
            match kb.retrieve_as(&request) {
                Ok(retrieval) => {
                    let next_page = retrieval.next_token.as_deref().map(|t| binding.encode(t));
                    let notes: Vec<&str> = [retrieval.note.as_deref(), note.as_deref()]
                        .into_iter()
                        .flatten()
                        .collect();
                    let joined = (!notes.is_empty()).then(|| notes.join("\n"));
                    let shape = render::Shape {
                        structured,
                        links: ctx.links,
                        read: ctx.reading.read,
                        images: ctx.reading.images,
                        note: joined.as_deref(),
                        next_page: next_page.as_deref(),
                    };
                    render::search_result(a.query, retrieval, shape)
                }
                Err(e) => failed(e, "Search failed.", None),
            }
        }
        // Like a link: never read a document for a signed-in user the server cannot name
        // (Bedrock would answer for nobody in particular).
        Call::Read(_) if ctx.caller.is_unverified() && !kb.signs_as_user() => {
            let mut msg = "Could not read the document: no request was sent.".to_string();
            if let Some(note) = note {
                msg.push('\n');
                msg.push_str(&note);
            }
            render::tool_error(msg)
        }
        Call::Read(r) => read::call(kb, kb_id, &r, who, note.as_deref(), ctx.reading, structured),
        Call::Agentic(a) => agentic::call(catalog, &a, who, note.as_deref(), structured, control),
        Call::Info if ctx.multi && chosen.is_none() => {
            let infos: Vec<_> = catalog.iter().map(|(id, kb)| (id, kb.info())).collect();
            render::infos_result(&infos, structured)
        }
        Call::Info => render::info_result(&kb.info(), structured),
        // Never ask for a document without a user: Bedrock would answer for nobody in
        // particular, and the reader should learn what is missing instead.
        Call::Link(_) if ctx.caller.is_unverified() && !kb.signs_as_user() => {
            let mut msg = "Could not get a link to the document: no request was sent.".to_string();
            if let Some(note) = note {
                msg.push('\n');
                msg.push_str(&note);
            }
            render::tool_error(msg)
        }
        Call::Link(doc) => match kb.document_link(&doc, who) {
            Ok(link) => render::link_result(&doc, &link, structured),
            Err(e) => failed(e, "Could not get a link to the document.", note.as_deref()),
        },
    };
    if data_call {
        outcome.aws_session = Some(session);
    }
    Ok(outcome)
}

/// A knowledge-base failure as a tool error, or, when AWS refused the sign-in token itself,
/// an outcome that makes the transport answer 401 so the client signs in again.
fn failed(e: crate::kb::KbError, what: &str, note: Option<&str>) -> ToolOutcome {
    match e {
        crate::kb::KbError::Reauthenticate(why) => {
            let mut outcome = render::tool_error(format!("{what} {why}"));
            outcome.reauthenticate = Some(why);
            outcome
        }
        other => {
            let mut msg = format!("{what} {other}");
            if let Some(note) = note {
                msg.push('\n');
                msg.push_str(note);
            }
            render::tool_error(msg)
        }
    }
}

enum Call {
    Search(SearchArgs),
    Info,
    Link(DocumentRef),
    Read(read::Args),
    Agentic(agentic::Args),
}

fn link_args(args: &Map<String, Value>) -> Result<DocumentRef, String> {
    const USAGE: &str = "get_document_link takes \"document_id\" and \"data_source_id\" \
        (strings, required: copy them from a search result) and \"media_id\" (string, optional)";
    if let Some(unknown) = args
        .keys()
        .find(|k| !matches!(k.as_str(), "document_id" | "data_source_id" | "media_id"))
    {
        return Err(format!("unknown argument {unknown:?}; {USAGE}"));
    }
    let text = |k: &str, required: bool| -> Result<Option<String>, String> {
        match args.get(k) {
            Some(Value::String(v)) if !v.trim().is_empty() => Ok(Some(v.clone())),
            None | Some(Value::Null) if !required => Ok(None),
            Some(Value::String(_)) if !required => Ok(None),
            Some(Value::String(_)) | None | Some(Value::Null) => {
                Err(format!("\"{k}\" is required; {USAGE}"))
            }
            Some(_) => Err(format!("\"{k}\" must be a string; {USAGE}")),
        }
    };
    Ok(DocumentRef {
        document_id: text("document_id", true)?.unwrap_or_default(),
        data_source_id: text("data_source_id", true)?.unwrap_or_default(),
        media_id: text("media_id", false)?,
    })
}

/// A search call's checked arguments.
struct SearchArgs {
    query: String,
    max_results: u32,
    filter: Option<Value>,
    search_type: Option<&'static str>,
    next_page: Option<String>,
}

fn search_args(args: &Map<String, Value>) -> Result<SearchArgs, String> {
    const KNOWN: [&str; 5] = ["query", "max_results", "filter", "search_type", "next_page"];
    if let Some(unknown) = args.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(format!(
            "unknown argument {unknown:?}; {SEARCH} takes \"query\" (string, required), \"max_results\" (integer 1-{MAX_RESULTS}, default {DEFAULT_MAX_RESULTS}), \"filter\" (a metadata filter object), \"search_type\" (HYBRID or SEMANTIC) and \"next_page\" (the nextPage of the previous result)"
        ));
    }
    let next_page = match args.get("next_page") {
        None | Some(Value::Null) => None,
        Some(Value::String(p)) if p.is_empty() => None,
        Some(Value::String(p)) => Some(p.clone()),
        Some(_) => {
            return Err(
                "\"next_page\" must be a string: the nextPage of the previous result".into(),
            )
        }
    };
    let filter = match args.get("filter") {
        None | Some(Value::Null) => None,
        Some(f) => {
            filter::validate(f).map_err(|e| format!("\"filter\" is not valid: {e}"))?;
            Some(f.clone())
        }
    };
    let search_type = match args.get("search_type") {
        None | Some(Value::Null) => None,
        Some(Value::String(t)) if t.eq_ignore_ascii_case("HYBRID") => Some("HYBRID"),
        Some(Value::String(t)) if t.eq_ignore_ascii_case("SEMANTIC") => Some("SEMANTIC"),
        Some(_) => {
            return Err(
                "\"search_type\" must be HYBRID (keywords and meaning) or SEMANTIC (meaning only), or left out".into(),
            )
        }
    };
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
            (None, Some(f)) if f.fract() == 0.0 && (1.0..=f64::from(MAX_RESULTS)).contains(&f) => {
                f as u64
            }
            _ => u64::MAX,
        },
        Some(_) => {
            return Err(format!(
                "\"max_results\" must be an integer from 1 to {MAX_RESULTS}"
            ))
        }
    };
    if !(1..=u64::from(MAX_RESULTS)).contains(&max_results) {
        return Err(format!(
            "\"max_results\" must be an integer from 1 to {MAX_RESULTS} (default {DEFAULT_MAX_RESULTS})"
        ));
    }
    Ok(SearchArgs {
        query,
        max_results: max_results as u32,
        filter,
        search_type,
        next_page,
    })
}

fn no_args(args: &Map<String, Value>) -> Result<(), String> {
    match args.keys().next() {
        Some(k) => Err(format!("unknown argument {k:?}; {INFO} takes no arguments")),
        None => Ok(()),
    }
}

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
    /// AWS refused the caller's sign-in token: the transport answers 401 with this text so
    /// the client signs in again, instead of sending the result.
    pub reauthenticate: Option<String>,
    /// Whose AWS credentials signed the knowledge-base call: `user` (their own session) or
    /// `server`; `None` when no knowledge-base data call was made.
    pub aws_session: Option<&'static str>,
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
