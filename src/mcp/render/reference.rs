//! The `json!`-tree search rendering this module used before `search.rs`, kept only as the
//! oracle for the differential test in `tests.rs`: both must produce the same JSON.

use super::search::image_caption;
use super::{Shape, MAX_IMAGES_TOTAL_BYTES, MAX_IMAGE_BYTES, MAX_TEXT_CHARS};
use crate::config::reading::ImageResults;
use crate::kb::{Passage, Retrieval};
use serde_json::{json, Value};

/// The search result: one readable text block, an image block (after a text line naming
/// its source) per IMAGE result that fits the caps, and the passages as structured content.
pub(super) fn search_result(query: &str, retrieval: &Retrieval, shape: Shape<'_>) -> Value {
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
    let mut readable = false;
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
        if shape.links || shape.read {
            if let (Some(doc), Some(ds)) = (&p.document_id, &p.data_source_id) {
                readable = true;
                text.push_str(&format!("document_id: {doc} | data_source_id: {ds}"));
                if let Some(media) = &p.media_id {
                    text.push_str(&format!(" | media_id: {media}"));
                }
                text.push('\n');
            }
        }
        let mut shown = false;
        let mut caption = None;
        if let Some(image) = &p.image {
            let size = image.size();
            let what = format!("{}, {}", image.mime_type, human_bytes(size));
            let c = image_caption(n, p);
            let wanted = shape.images == ImageResults::Inline;
            if wanted && size <= MAX_IMAGE_BYTES && size <= image_budget {
                image_budget -= size;
                shown = true;
                text.push_str(&format!("(image, {what}: shown below)\n"));
                images.push(json!({ "type": "text", "text": c }));
                images.push(
                    json!({ "type": "image", "data": image.base64, "mimeType": image.mime_type }),
                );
            } else {
                let limit = if !wanted {
                    "images come as captions only (IMAGE_RESULTS=caption)".to_string()
                } else if size > MAX_IMAGE_BYTES {
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
                let ids = p.document_id.is_some() && p.data_source_id.is_some();
                let open = if shape.read && ids && p.media_id.is_some() {
                    "; call read_document with its document_id, data_source_id and media_id to see it"
                } else if shape.links && ids {
                    "; call get_document_link with its document_id and data_source_id to open it"
                } else {
                    ""
                };
                text.push_str(&format!("(image, {what}: not shown, {limit}{open})\n"));
            }
            text.push_str(&format!("caption: {c}\n"));
            caption = Some(c);
        }
        text.push_str(&p.text);
        text.push('\n');
        kept.push(passage_json(p, shown, caption));
    }
    if shape.read && readable {
        text.push_str("\nTo read a whole document, call read_document with the document_id and data_source_id of its result.\n");
    }
    if !passages.is_empty() {
        match shape.next_page {
            Some(page) => text.push_str(&format!("\nMore results are available: call search_knowledge_base again with the same arguments and next_page={page:?}.\n")),
            None => text.push_str("\nNo more results.\n"),
        }
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
        structured["moreAvailable"] = json!(shape.next_page.is_some());
        structured["nextPage"] = json!(shape.next_page);
        result["structuredContent"] = structured;
    }
    result
}

/// `12 KB`, `1.5 MB`.
fn human_bytes(n: usize) -> String {
    if n < 1024 * 1024 {
        format!("{} KB", n.div_ceil(1024))
    } else {
        format!("{:.1} MB", n as f64 / (1024.0 * 1024.0))
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

fn passage_json(p: &Passage, image_shown: bool, caption: Option<String>) -> Value {
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
            "caption": caption.unwrap_or_default(),
        });
    }
    v
}
