//! Successful Bedrock answers → our types: Retrieve's `retrievalResults` into `Passage`s
//! (each content type made readable, the per-type location objects flattened),
//! GetKnowledgeBase into name/status/type, and GetDocumentContent into a link.
//!
//! Lenient about optional fields, strict about structure; errors say what was wrong and
//! never panic. Must not do I/O.

use crate::kb::{DocumentLink, Image, Location, Passage};
use serde_json::{Map, Value};

/// Location objects and the field that identifies the source, per Bedrock's model.
const LOCATION_FIELDS: &[(&str, &str)] = &[
    ("s3Location", "uri"),
    ("webLocation", "url"),
    ("confluenceLocation", "url"),
    ("salesforceLocation", "url"),
    ("sharePointLocation", "url"),
    ("customDocumentLocation", "id"),
    ("kendraDocumentLocation", "uri"),
    ("sqlLocation", "query"),
    ("oneDriveLocation", "url"),
    ("googleDriveLocation", "url"),
];

/// Metadata keys naming the data source: managed knowledge bases, then vector ones.
const DATA_SOURCE_KEYS: [&str; 2] = ["_data_source_id", "x-amz-bedrock-kb-data-source-id"];

/// Parses a Retrieve answer: the passages, and whether a guardrail intervened.
pub(super) fn retrieval(body: &[u8]) -> Result<(Vec<Passage>, bool), String> {
    let v: Value = serde_json::from_slice(body).map_err(|_| not_json(body))?;
    let results = v
        .get("retrievalResults")
        .and_then(Value::as_array)
        .ok_or("it has no retrievalResults list")?;
    let passages = results
        .iter()
        .enumerate()
        .map(|(i, r)| passage(r).map_err(|why| format!("result {i} {why}")))
        .collect::<Result<Vec<_>, _>>()?;
    let intervened = v.get("guardrailAction").and_then(Value::as_str) == Some("INTERVENED");
    Ok((passages, intervened))
}

fn passage(r: &Value) -> Result<Passage, String> {
    let r = r.as_object().ok_or("is not an object")?;
    let content = match r.get("content") {
        None | Some(Value::Null) => &Value::Null,
        Some(c @ Value::Object(_)) => c,
        Some(_) => return Err("has a content that is not an object".into()),
    };
    let metadata = r
        .get("metadata")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_else(Map::new);
    let text_of = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
    let mut p = Passage {
        text: text_of(content.get("text")).unwrap_or_default(),
        content_type: text_of(content.get("type")).unwrap_or_else(|| "TEXT".into()),
        score: r.get("score").and_then(Value::as_f64),
        location: r.get("location").and_then(location),
        document_id: text_of(r.get("documentId")),
        data_source_id: DATA_SOURCE_KEYS
            .iter()
            .find_map(|k| text_of(metadata.get(*k))),
        media_id: text_of(metadata.get("_media_id")),
        metadata,
        ..Passage::default()
    };
    match p.content_type.as_str() {
        "IMAGE" => {
            if let Some(uri) = content.get("byteContent").and_then(Value::as_str) {
                match data_uri(uri) {
                    Some(image) => p.image = Some(image),
                    None => {
                        p.text = join(
                            &p.text,
                            "(Bedrock sent an image this server could not read)",
                        )
                    }
                }
            }
        }
        "ROW" => {
            if let Some(row) = content.get("row").and_then(Value::as_array) {
                p.text = join(&p.text, &row_lines(row));
            }
        }
        "AUDIO" | "VIDEO" => {
            let (object, field) = if p.content_type == "AUDIO" {
                ("audio", "transcription")
            } else {
                ("video", "summary")
            };
            if let Some(segment) = content.get(object) {
                p.text = join(&p.text, &text_of(segment.get(field)).unwrap_or_default());
                p.media_uri = text_of(segment.get("s3Uri"));
            }
        }
        _ => {}
    }
    Ok(p)
}

fn join(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (true, _) => b.to_string(),
        (false, true) => a.to_string(),
        (false, false) => format!("{a}\n{b}"),
    }
}

/// A table row as `column: value` lines; NULL cells read `null`.
fn row_lines(row: &[Value]) -> String {
    row.iter()
        .filter_map(|cell| {
            let name = cell.get("columnName").and_then(Value::as_str)?;
            let value = match cell.get("columnValue") {
                Some(Value::String(s)) => s.clone(),
                None | Some(Value::Null) => "null".to_string(),
                Some(other) => other.to_string(),
            };
            Some(format!("{name}: {value}"))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `data:image/png;base64,AAAA` → the image, if the URI is a well-formed base64 image.
fn data_uri(uri: &str) -> Option<Image> {
    let (head, data) = uri.strip_prefix("data:")?.split_once(',')?;
    let mime = head.strip_suffix(";base64")?.trim();
    let ok_mime = mime.starts_with("image/")
        && mime.len() <= 100
        && mime[6..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'+' | b'-'));
    // MCP clients decode `data` as standard base64 with padding; anything else would fail
    // there, so it is refused here.
    let body = data.trim_end_matches('=');
    let well_formed = !data.is_empty()
        && data.len() % 4 == 0
        && data.len() - body.len() <= 2
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/');
    (ok_mime && well_formed).then(|| Image {
        mime_type: mime.to_ascii_lowercase(),
        base64: data.to_string(),
    })
}

/// Flattens `{"type": "S3", "s3Location": {"uri": …}}` and friends; unknown types keep
/// their type and the first uri/url/id/query found in any `…Location` object.
fn location(loc: &Value) -> Option<Location> {
    let loc = loc.as_object()?;
    let known = LOCATION_FIELDS.iter().find_map(|(obj, field)| {
        let uri = loc.get(*obj)?.get(*field)?.as_str()?;
        Some((*obj, uri.to_string()))
    });
    let (object, uri) = match known {
        Some((obj, uri)) => (Some(obj.to_string()), Some(uri)),
        None => loc
            .iter()
            .filter(|(k, v)| k.ends_with("Location") && v.is_object())
            .find_map(|(k, v)| {
                ["uri", "url", "id", "query"]
                    .iter()
                    .find_map(|f| v.get(*f).and_then(Value::as_str))
                    .map(|u| (Some(k.clone()), Some(u.to_string())))
            })
            .unwrap_or((None, None)),
    };
    let kind = match loc.get("type").and_then(Value::as_str) {
        Some(t) => t.to_string(),
        // No type: derive it from the object's name ("webLocation" → "WEB").
        None => object?
            .trim_end_matches("Location")
            .trim_end_matches("Document")
            .to_ascii_uppercase(),
    };
    Some(Location { kind, uri })
}

/// The parts of a GetKnowledgeBase answer we use.
#[derive(Debug, PartialEq)]
pub(super) struct KbSummary {
    pub(super) status: String,
    pub(super) name: Option<String>,
    pub(super) description: Option<String>,
    /// `knowledgeBaseConfiguration.type`: VECTOR, MANAGED, KENDRA, SQL.
    pub(super) kb_type: Option<String>,
}

/// Parses a GetKnowledgeBase answer.
pub(super) fn knowledge_base(body: &[u8]) -> Result<KbSummary, String> {
    let v: Value = serde_json::from_slice(body).map_err(|_| not_json(body))?;
    let kb = v
        .get("knowledgeBase")
        .and_then(Value::as_object)
        .ok_or("it has no knowledgeBase object")?;
    let text = |k: &str| kb.get(k).and_then(Value::as_str).map(str::to_string);
    Ok(KbSummary {
        status: text("status").unwrap_or_else(|| "UNKNOWN".to_string()),
        name: text("name"),
        description: text("description"),
        kb_type: kb
            .get("knowledgeBaseConfiguration")
            .and_then(|c| c.get("type"))
            .and_then(Value::as_str)
            .map(str::to_string),
    })
}

/// Parses a GetDocumentContent answer.
pub(super) fn document_link(body: &[u8]) -> Result<DocumentLink, String> {
    let v: Value = serde_json::from_slice(body).map_err(|_| not_json(body))?;
    let text = |k: &str| v.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
    let url = text("presignedUrl").ok_or("it has no presignedUrl")?;
    if !url.starts_with("https://") && !url.starts_with("http://") {
        return Err("its presignedUrl is not an http(s) URL".into());
    }
    Ok(DocumentLink {
        url: url.to_string(),
        mime_type: text("mimeType")
            .unwrap_or("application/octet-stream")
            .to_string(),
        size_bytes: v.get("documentContentLength").and_then(Value::as_u64),
    })
}

fn not_json(body: &[u8]) -> String {
    let start: String = String::from_utf8_lossy(&body[..body.len().min(60)])
        .chars()
        .filter(|c| !c.is_control())
        .collect();
    format!("it is not JSON (starts {start:?})")
}

#[cfg(test)]
mod tests;
