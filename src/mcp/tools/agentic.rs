//! agentic_search: its arguments, and the call over the chosen knowledge bases.

use super::AGENTIC;
use crate::kb::agentic::{Control, Request};
use crate::kb::catalog::Catalog;
use crate::kb::{Who, MAX_QUERY_CHARS};
use crate::mcp::render;
use crate::mcp::tools::ToolOutcome;
use serde_json::{Map, Value};

/// The most planning rounds one call may ask for.
pub const MAX_ITERATIONS: u64 = 20;

/// agentic_search's checked arguments.
pub(super) struct Args {
    query: String,
    kb_ids: Vec<String>,
    generate_response: bool,
    max_iterations: Option<u32>,
}

/// Checks agentic_search's arguments against the configured knowledge bases.
pub(super) fn args(args: &Map<String, Value>, catalog: &Catalog) -> Result<Args, String> {
    let usage = format!(
        "{AGENTIC} takes \"query\" (string, required), \"knowledge_base_ids\" (list of \
         knowledge base ids, optional: default all), \"generate_response\" (boolean, default \
         false) and \"max_iterations\" (integer 1-{MAX_ITERATIONS}, optional)"
    );
    if let Some(unknown) = args.keys().find(|k| {
        !matches!(
            k.as_str(),
            "query" | "knowledge_base_ids" | "generate_response" | "max_iterations"
        )
    }) {
        return Err(format!("unknown argument {unknown:?}; {usage}"));
    }
    let query = match args.get("query") {
        Some(Value::String(q)) if !q.trim().is_empty() => q.trim().to_string(),
        Some(Value::String(_)) | None | Some(Value::Null) => {
            return Err(format!(
                "\"query\" is required: the question to research; {usage}"
            ))
        }
        Some(_) => return Err(format!("\"query\" must be a string; {usage}")),
    };
    let chars = query.chars().count();
    if chars > MAX_QUERY_CHARS {
        return Err(format!(
            "\"query\" is {chars} characters long; the limit is {MAX_QUERY_CHARS}: shorten it"
        ));
    }
    let kb_ids = match args.get("knowledge_base_ids") {
        None | Some(Value::Null) => catalog.ids().into_iter().map(str::to_string).collect(),
        Some(Value::Array(items)) if !items.is_empty() => {
            let mut ids: Vec<String> = Vec::with_capacity(items.len());
            for item in items {
                let Some(id) = item.as_str() else {
                    return Err(format!(
                        "\"knowledge_base_ids\" must list knowledge base ids as strings; {usage}"
                    ));
                };
                catalog.get(Some(id)).map_err(|e| {
                    e.to_string()
                        .trim_start_matches("Invalid request: ")
                        .replace("knowledge_base_id ", "knowledge_base_ids entry ")
                })?;
                if !ids.iter().any(|known| known == id) {
                    ids.push(id.to_string());
                }
            }
            ids
        }
        Some(_) => {
            return Err(format!(
                "\"knowledge_base_ids\" must be a non-empty list of knowledge base ids (or left \
                 out for all of them); {usage}"
            ))
        }
    };
    let generate_response = match args.get("generate_response") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Err(format!(
                "\"generate_response\" must be true or false; {usage}"
            ))
        }
    };
    let max_iterations = match args.get("max_iterations") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => match (n.as_u64(), n.as_f64()) {
            (Some(v), _) if (1..=MAX_ITERATIONS).contains(&v) => Some(v as u32),
            (None, Some(f)) if f.fract() == 0.0 && (1.0..=MAX_ITERATIONS as f64).contains(&f) => {
                Some(f as u32)
            }
            _ => {
                return Err(format!(
                    "\"max_iterations\" must be an integer from 1 to {MAX_ITERATIONS}; {usage}"
                ))
            }
        },
        Some(_) => {
            return Err(format!(
                "\"max_iterations\" must be an integer from 1 to {MAX_ITERATIONS}; {usage}"
            ))
        }
    };
    Ok(Args {
        query,
        kb_ids,
        generate_response,
        max_iterations,
    })
}

/// Runs the agentic retrieval for `who`, reporting to `control`.
pub(super) fn call(
    catalog: &Catalog,
    a: &Args,
    who: Who<'_>,
    note: Option<&str>,
    structured: bool,
    control: &mut dyn Control,
) -> ToolOutcome {
    let first = a
        .kb_ids
        .first()
        .map(String::as_str)
        .filter(|id| !id.is_empty());
    let kb = match catalog.get(first) {
        Ok(kb) => kb,
        Err(e) => return render::tool_error(format!("Agentic search failed. {e}")),
    };
    let request = Request {
        query: &a.query,
        kb_ids: &a.kb_ids,
        generate_response: a.generate_response,
        max_iterations: a.max_iterations,
        user_id: who.user_id,
        identity: who.identity,
    };
    match kb.agentic(&request, control) {
        Ok(answer) => {
            let notes: Vec<&str> = [answer.note.as_deref(), note]
                .into_iter()
                .flatten()
                .collect();
            let joined = (!notes.is_empty()).then(|| notes.join("\n"));
            render::agentic_result(&a.query, &a.kb_ids, &answer, joined.as_deref(), structured)
        }
        Err(e) => super::failed(e, "Agentic search failed.", note),
    }
}
