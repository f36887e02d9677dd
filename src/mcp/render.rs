//! Turning knowledge-base answers into CallToolResults: readable text for the model, plus
//! `structuredContent` matching the declared `outputSchema` (in `render/schema.rs`) on revisions
//! that have one.
//!
//! Text is capped well under claude.ai's ~150,000-character limit on tool results. IMAGE
//! results become MCP `image` content blocks (in every revision since 2024-11-05), each
//! introduced by a text block naming its source; images past the size caps are described
//! instead, with the ids `get_document_link` needs to open them.

use super::tool_outcome::ToolOutcome;
use crate::kb::{DocumentLink, DocumentRef, KbInfo, Passage, Retrieval};
use serde_json::{json, Value};

mod schema;
pub use schema::{info_output_schema, link_output_schema, search_output_schema};

/// Total characters of passage text we put in one result; the rest is cut with a note.
const MAX_TEXT_CHARS: usize = 100_000;
/// The largest image (decoded bytes) sent inline as an image block.
pub const MAX_IMAGE_BYTES: usize = 1024 * 1024;
/// The most image bytes (decoded) in one result.
pub const MAX_IMAGES_TOTAL_BYTES: usize = 4 * 1024 * 1024;

/// How a search result is shaped.
#[derive(Debug, Clone, Copy, Default)]
pub struct Shape<'a> {
    /// Add `structuredContent` (2025-06-18 and later).
    pub structured: bool,
    /// `get_document_link` is offered, so point at it.
    pub links: bool,
    /// A note to add (e.g. documents hidden for want of an email claim).
    pub note: Option<&'a str>,
}

/// A tool error the model can read and act on.
pub fn tool_error(message: impl Into<String>) -> ToolOutcome {
    ToolOutcome {
        result: json!({ "content": [{ "type": "text", "text": message.into() }], "isError": true }),
        is_error: true,
        ..ToolOutcome::default()
    }
}

/// The search result: one readable text block, an image block (after a text line naming
/// its source) per IMAGE result that fits the caps, and the passages as structured content.
pub fn search_result(query: &str, retrieval: &Retrieval, shape: Shape<'_>) -> ToolOutcome {
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
    let mut image_budget = MAX_IMAGES_TOTAL_BYTES;
    let mut kept = Vec::with_capacity(passages.len());
    let mut images = Vec::new();
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
        let n = i + 1;
        text.push_str(&format!("\n[{n}] {}\n", heading(p)));
        if let Some(uri) = &p.media_uri {
            text.push_str(&format!("media: {uri}\n"));
        }
        if shape.links {
            if let (Some(doc), Some(ds)) = (&p.document_id, &p.data_source_id) {
                text.push_str(&format!("document_id: {doc} | data_source_id: {ds}"));
                if let Some(media) = &p.media_id {
                    text.push_str(&format!(" | media_id: {media}"));
                }
                text.push('\n');
            }
        }
        let mut shown = false;
        if let Some(image) = &p.image {
            let size = image.size();
            let what = format!("{}, {}", image.mime_type, human_bytes(size));
            if size <= MAX_IMAGE_BYTES && size <= image_budget {
                image_budget -= size;
                shown = true;
                text.push_str(&format!("(image, {what}: shown below)\n"));
                images.push(json!({ "type": "text", "text": format!("Image of result [{n}] from {}:", source(p)) }));
                images.push(
                    json!({ "type": "image", "data": image.base64, "mimeType": image.mime_type }),
                );
            } else {
                let limit = if size > MAX_IMAGE_BYTES {
                    format!(
                        "larger than the {} inline limit",
                        human_bytes(MAX_IMAGE_BYTES)
                    )
                } else {
                    format!(
                        "past the {} of images one answer may carry",
                        human_bytes(MAX_IMAGES_TOTAL_BYTES)
                    )
                };
                let open = if shape.links && p.document_id.is_some() && p.data_source_id.is_some() {
                    "; call get_document_link with its document_id and data_source_id to open it"
                } else {
                    ""
                };
                text.push_str(&format!("(image, {what}: not shown, {limit}{open})\n"));
            }
        }
        text.push_str(&p.text);
        text.push('\n');
        kept.push(passage_json(p, shown));
    }
    let guardrail = retrieval.guardrail_intervened.then_some(
        "Note: a Bedrock guardrail intervened in this search, so some content may have been \
         blocked or masked.",
    );
    for note in [guardrail, shape.note].into_iter().flatten() {
        text.push_str(&format!("\n{note}\n"));
    }
    let mut content = vec![json!({ "type": "text", "text": text })];
    content.extend(images);
    let mut result = json!({ "content": content, "isError": false });
    if shape.structured {
        let mut structured = json!({ "query": query, "count": kept.len(), "results": kept });
        if let Some(note) = shape.note {
            structured["note"] = json!(note);
        }
        if retrieval.guardrail_intervened {
            structured["guardrailAction"] = json!("INTERVENED");
        }
        result["structuredContent"] = structured;
    }
    ToolOutcome {
        result,
        results: Some(kept.len()),
        upstream_ms: Some(retrieval.upstream_ms),
        is_error: false,
    }
}

/// `12 KB`, `1.5 MB`.
fn human_bytes(n: usize) -> String {
    if n < 1024 * 1024 {
        format!("{} KB", n.div_ceil(1024))
    } else {
        format!("{:.1} MB", n as f64 / (1024.0 * 1024.0))
    }
}

fn source(p: &Passage) -> String {
    match p.location.as_ref().and_then(|l| l.uri.as_deref()) {
        Some(uri) => uri.to_string(),
        None => p
            .document_id
            .clone()
            .unwrap_or_else(|| "an unknown source".into()),
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

fn passage_json(p: &Passage, image_shown: bool) -> Value {
    let mut v = json!({
        "text": p.text,
        "contentType": p.content_type,
        "score": p.score,
        "location": p.location.as_ref().map(|l| json!({ "type": l.kind, "uri": l.uri })),
        "metadata": p.metadata,
    });
    for (key, value) in [
        ("documentId", &p.document_id),
        ("dataSourceId", &p.data_source_id),
        ("mediaId", &p.media_id),
        ("mediaUri", &p.media_uri),
    ] {
        if let Some(value) = value {
            v[key] = json!(value);
        }
    }
    if let Some(image) = &p.image {
        v["image"] = json!({
            "mimeType": image.mime_type,
            "sizeBytes": image.size(),
            "shown": image_shown,
        });
    }
    v
}

/// The link result: the URL with what it points at.
pub fn link_result(doc: &DocumentRef, link: &DocumentLink, structured: bool) -> ToolOutcome {
    let size = link
        .size_bytes
        .map(|n| {
            format!(
                ", {}",
                human_bytes(usize::try_from(n).unwrap_or(usize::MAX))
            )
        })
        .unwrap_or_default();
    let text = format!(
        "Link to the original of document {:?} ({}{size}); it works for about 5 minutes, so \
         hand it to the person now:\n{}",
        doc.document_id, link.mime_type, link.url
    );
    let mut result = json!({ "content": [{ "type": "text", "text": text }], "isError": false });
    if structured {
        let mut v = json!({
            "url": link.url,
            "mimeType": link.mime_type,
            "documentId": doc.document_id,
            "dataSourceId": doc.data_source_id,
        });
        if let Some(n) = link.size_bytes {
            v["sizeBytes"] = json!(n);
        }
        if let Some(m) = &doc.media_id {
            v["mediaId"] = json!(m);
        }
        result["structuredContent"] = v;
    }
    ToolOutcome {
        result,
        ..ToolOutcome::default()
    }
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
    match &info.type_source {
        Some(source) => text.push_str(&format!("\nType: {} ({source})", info.kb_type)),
        None if !info.kb_type.is_empty() => text.push_str(&format!("\nType: {}", info.kb_type)),
        None => {}
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

/// One sentence naming a knowledge base for the tool descriptions: id, name, description.
pub fn kb_line(id: &str, default: bool, info: &KbInfo) -> String {
    let mut line = id.to_string();
    if default {
        line.push_str(" (default)");
    }
    if let Some(name) = &info.name {
        line.push_str(&format!(": {name}"));
    }
    if let Some(desc) = &info.description {
        line.push_str(&format!(" ({})", desc.trim_end_matches('.')));
    }
    line.push('.');
    line
}

/// The info result for several knowledge bases: each one's summary, and all of them as
/// structured content (the default's fields at the top, as for one knowledge base).
pub fn infos_result(infos: &[(&str, KbInfo)], structured: bool) -> ToolOutcome {
    let texts: Vec<String> = infos
        .iter()
        .enumerate()
        .map(|(i, (_, info))| {
            let one = info_result(info, false).result;
            let text = one["content"][0]["text"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            if i == 0 {
                format!("{text}\n(default)")
            } else {
                text
            }
        })
        .collect();
    let text = format!(
        "{} knowledge bases; choose one with knowledge_base_id.\n\n{}",
        infos.len(),
        texts.join("\n\n")
    );
    let mut result = json!({ "content": [{ "type": "text", "text": text }], "isError": false });
    if structured {
        let mut all = infos
            .first()
            .and_then(|(_, i)| serde_json::to_value(i).ok())
            .unwrap_or_else(|| json!({}));
        all["knowledge_bases"] = infos
            .iter()
            .filter_map(|(_, i)| serde_json::to_value(i).ok())
            .collect();
        result["structuredContent"] = all;
    }
    ToolOutcome {
        result,
        ..ToolOutcome::default()
    }
}

#[cfg(test)]
mod tests;
