//! Turning knowledge-base answers into CallToolResults: readable text for the model, plus
//! `structuredContent` matching the declared `outputSchema` (in `render/schema.rs`) on revisions
//! that have one.
//!
//! Text is capped well under claude.ai's ~150,000-character limit on tool results. IMAGE
//! results become MCP `image` content blocks (in every revision since 2024-11-05), each
//! introduced by a text block naming its source; images past the size caps are described
//! instead, with the ids `get_document_link` needs to open them.

use super::tools::ToolOutcome;
use crate::config::reading::ImageResults;
use crate::kb::{DocumentLink, DocumentRef, KbInfo};
use serde_json::json;
use std::fmt;

mod agentic;
mod document;
mod schema;
mod search;
pub use agentic::agentic_result;
pub use document::{document_result, image_result, DocumentPage};
pub use schema::{
    agentic_output_schema, info_output_schema, link_output_schema, read_output_schema,
    search_output_schema,
};
pub use search::{search_result, SearchResult};

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
    /// `read_document` is offered, so point at it.
    pub read: bool,
    /// Image blocks, or captions only (IMAGE_RESULTS).
    pub images: ImageResults,
    /// A note to add (e.g. documents hidden for want of an email claim).
    pub note: Option<&'a str>,
    /// The `next_page` token for more results, when there are more.
    pub next_page: Option<&'a str>,
}

/// A tool error the model can read and act on.
pub fn tool_error(message: impl Into<String>) -> ToolOutcome {
    ToolOutcome {
        result: json!({ "content": [{ "type": "text", "text": message.into() }], "isError": true })
            .into(),
        is_error: true,
        ..ToolOutcome::default()
    }
}

/// A byte count for people: `12 KB`, `1.5 MB`.
struct HumanBytes(usize);

impl fmt::Display for HumanBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0;
        if n < 1024 * 1024 {
            write!(f, "{} KB", n.div_ceil(1024))
        } else {
            write!(f, "{:.1} MB", n as f64 / (1024.0 * 1024.0))
        }
    }
}

/// The link result: the URL with what it points at.
pub fn link_result(doc: &DocumentRef, link: &DocumentLink, structured: bool) -> ToolOutcome {
    let size = link
        .size_bytes
        .map(|n| format!(", {}", HumanBytes(usize::try_from(n).unwrap_or(usize::MAX))))
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
        result: result.into(),
        ..ToolOutcome::default()
    }
}

/// The info result: a readable summary and the fields as structured content.
pub fn info_result(info: &KbInfo, structured: bool) -> ToolOutcome {
    let text = info_text(info);
    let mut result = json!({ "content": [{ "type": "text", "text": text }], "isError": false });
    if structured {
        result["structuredContent"] = serde_json::to_value(info).unwrap_or_else(|_| json!({}));
    }
    ToolOutcome {
        result: result.into(),
        ..ToolOutcome::default()
    }
}

/// A readable summary of one knowledge base.
fn info_text(info: &KbInfo) -> String {
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
    if let Some(mode) = &info.user_context_mode {
        text.push_str(&format!("\nuserContextModeForRetrieval: {mode}"));
        if !info.trusted_identity_sources.is_empty() {
            text.push_str(&format!(
                " (trusted identity sources: {})",
                info.trusted_identity_sources.join(", ")
            ));
        }
    }
    if info.backend == "bedrock" {
        text.push_str(if info.per_user_sessions {
            "\nPer-user AWS sessions: on (AWS_USER_CREDENTIALS=web-identity)"
        } else {
            "\nPer-user AWS sessions: off (AWS_USER_CREDENTIALS=off)"
        });
    }
    if let Some(warning) = &info.warning {
        text.push_str(&format!("\nWarning: {warning}"));
    }
    if let Some(note) = &info.note {
        text.push_str(&format!("\nNote: {note}"));
    }
    text
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
            let text = info_text(info);
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
        result: result.into(),
        ..ToolOutcome::default()
    }
}

#[cfg(test)]
mod tests;
