//! Turning knowledge-base answers into CallToolResults: readable text for the model, plus
//! `structuredContent` matching the declared `outputSchema` on revisions that have one.
//!
//! Text is capped well under claude.ai's ~150,000-character limit on tool results.

use super::tools::ToolOutcome;
use crate::kb::{KbInfo, Passage, Retrieval};
use serde_json::{json, Value};

/// Total characters of passage text we put in one result; the rest is cut with a note.
const MAX_TEXT_CHARS: usize = 100_000;

/// A tool error the model can read and act on.
pub fn tool_error(message: impl Into<String>) -> ToolOutcome {
    ToolOutcome {
        result: json!({ "content": [{ "type": "text", "text": message.into() }], "isError": true }),
        is_error: true,
        ..ToolOutcome::default()
    }
}

/// The search result: one readable text block, and the passages as structured content.
pub fn search_result(query: &str, retrieval: &Retrieval, structured: bool) -> ToolOutcome {
    let passages = &retrieval.results;
    let mut text = if passages.is_empty() {
        format!("No results found in the knowledge base for {query:?}. Try other words or a broader query.")
    } else {
        format!(
            "Found {} result{} for {query:?}:\n",
            passages.len(),
            if passages.len() == 1 { "" } else { "s" }
        )
    };
    let mut budget = MAX_TEXT_CHARS;
    let mut kept = Vec::with_capacity(passages.len());
    for (i, p) in passages.iter().enumerate() {
        let chars = p.text.chars().count();
        if chars > budget {
            text.push_str(&format!(
                "\n[{} more result(s) omitted: the answer reached {MAX_TEXT_CHARS} characters; ask for fewer max_results]\n",
                passages.len() - i
            ));
            break;
        }
        budget -= chars;
        text.push_str(&format!("\n[{}] {}\n{}\n", i + 1, heading(p), p.text));
        kept.push(passage_json(p));
    }
    let mut result = json!({ "content": [{ "type": "text", "text": text }], "isError": false });
    if structured {
        result["structuredContent"] =
            json!({ "query": query, "count": kept.len(), "results": kept });
    }
    ToolOutcome {
        result,
        results: Some(kept.len()),
        upstream_ms: Some(retrieval.upstream_ms),
        is_error: false,
    }
}

/// One line naming a passage: score, source and content type.
fn heading(p: &Passage) -> String {
    let mut parts = Vec::new();
    if let Some(score) = p.score {
        parts.push(format!("score {score:.3}"));
    }
    match &p.location {
        Some(loc) => parts.push(match &loc.uri {
            Some(uri) => format!("source {} ({})", uri, loc.kind),
            None => format!("source type {}", loc.kind),
        }),
        None => parts.push("source unknown".to_string()),
    }
    if !p.content_type.is_empty() && p.content_type != "TEXT" {
        parts.push(format!("content {}", p.content_type));
    }
    parts.join(" | ")
}

fn passage_json(p: &Passage) -> Value {
    json!({
        "text": p.text,
        "contentType": p.content_type,
        "score": p.score,
        "location": p.location.as_ref().map(|l| json!({ "type": l.kind, "uri": l.uri })),
        "metadata": p.metadata,
    })
}

/// The info result: a readable summary and the fields as structured content.
pub fn info_result(info: &KbInfo, structured: bool) -> ToolOutcome {
    let mut text = format!(
        "Knowledge base {} ({} backend, region {}): status {}",
        info.kb_id, info.backend, info.region, info.status
    );
    if let Some(name) = &info.name {
        text.push_str(&format!("\nName: {name}"));
    }
    if let Some(desc) = &info.description {
        text.push_str(&format!("\nDescription: {desc}"));
    }
    if let Some(note) = &info.note {
        text.push_str(&format!("\nNote: {note}"));
    }
    let mut result = json!({ "content": [{ "type": "text", "text": text }], "isError": false });
    if structured {
        result["structuredContent"] = serde_json::to_value(info).unwrap_or_else(|_| json!({}));
    }
    ToolOutcome {
        result,
        ..ToolOutcome::default()
    }
}

/// The `outputSchema` of the search tool.
pub fn search_output_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "query": { "type": "string" },
            "count": { "type": "integer" },
            "results": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "text": { "type": "string" },
                        "contentType": { "type": "string" },
                        "score": { "type": ["number", "null"] },
                        "location": {
                            "type": ["object", "null"],
                            "properties": {
                                "type": { "type": "string" },
                                "uri": { "type": ["string", "null"] }
                            }
                        },
                        "metadata": { "type": "object" }
                    },
                    "required": ["text", "metadata"]
                }
            }
        },
        "required": ["query", "count", "results"]
    })
}

/// The `outputSchema` of the info tool.
pub fn info_output_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "backend": { "type": "string" },
            "kb_id": { "type": "string" },
            "region": { "type": "string" },
            "status": { "type": "string" },
            "name": { "type": "string" },
            "description": { "type": "string" },
            "note": { "type": "string" }
        },
        "required": ["backend", "kb_id", "region", "status"]
    })
}
