//! Successful Bedrock answers → our types: Retrieve's `retrievalResults` into `Passage`s
//! (each content type made readable, the per-type location objects flattened),
//! GetKnowledgeBase into name/status/type, and GetDocumentContent into a link.
//!
//! Lenient about optional fields, strict about structure; errors say what was wrong and
//! never panic. Must not do I/O. Retrieve answers, the hot path, are read by `wire.rs` into
//! typed structs without a `serde_json::Value` tree; the two small answers use `Value`.

use crate::kb::{DocumentLink, Image, Location, Passage};
use lenient::Slot;
use serde_json::Value;
use std::borrow::Cow;
use wire::{Cell, Content, RawLocation, RawResult};

mod lenient;
mod wire;

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

/// A parsed Retrieve answer.
pub(super) struct Retrieved {
    pub(super) passages: Vec<Passage>,
    pub(super) guardrail_intervened: bool,
    /// The token for the next page (the model's NextToken: 1 to 2048 non-space characters).
    pub(super) next_token: Option<String>,
}

/// Parses a Retrieve answer: the passages, whether a guardrail intervened, the next page.
pub(super) fn retrieval(body: &[u8]) -> Result<Retrieved, String> {
    let answer = wire::answer(body).map_err(|_| not_json(body))?;
    let results = answer.results.ok_or("it has no retrievalResults list")?;
    let passages = results
        .into_iter()
        .enumerate()
        .map(|(i, r)| passage(r).map_err(|why| format!("result {i} {why}")))
        .collect::<Result<Vec<_>, _>>()?;
    let intervened = answer.guardrail_action.as_deref() == Some("INTERVENED");
    // Like any other field, a nextToken that is not what the model says (1 to 2048
    // characters without whitespace) counts as absent: no next page rather than a bad one.
    let next_token = answer
        .next_token
        .filter(|t| !t.is_empty() && t.len() <= 2048 && !t.chars().any(char::is_whitespace));
    Ok(Retrieved {
        passages,
        guardrail_intervened: intervened,
        next_token,
    })
}

fn passage(r: Option<RawResult>) -> Result<Passage, String> {
    let r = r.ok_or("is not an object")?;
    let content = match r.content {
        Slot::Absent => Content::default(),
        Slot::Object(c) => c,
        Slot::Other => return Err("has a content that is not an object".into()),
    };
    let text_of = |k: &str| {
        r.metadata
            .get(k)
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    let mut p = Passage {
        text: content.text.unwrap_or_default(),
        content_type: content.kind.unwrap_or_else(|| "TEXT".into()),
        score: r.score,
        location: r.location.and_then(location),
        document_id: r.document_id,
        data_source_id: DATA_SOURCE_KEYS.iter().find_map(|k| text_of(k)),
        media_id: text_of("_media_id"),
        ..Passage::default()
    };
    p.metadata = r.metadata;
    match p.content_type.as_str() {
        "IMAGE" => {
            if let Some(uri) = content.byte_content {
                match data_uri(&uri) {
                    Some(image) => p.image = Some(image),
                    None => {
                        p.text = join(
                            p.text,
                            "(Bedrock sent an image this server could not read)".into(),
                        )
                    }
                }
            }
        }
        "ROW" => {
            if let Some(row) = content.row {
                p.text = join(p.text, row_lines(row));
            }
        }
        "AUDIO" => {
            if let Some(segment) = content.audio {
                p.text = join(p.text, segment.transcription.unwrap_or_default());
                p.media_uri = segment.s3_uri;
            }
        }
        "VIDEO" => {
            if let Some(segment) = content.video {
                p.text = join(p.text, segment.summary.unwrap_or_default());
                p.media_uri = segment.s3_uri;
            }
        }
        _ => {}
    }
    Ok(p)
}

/// `a` and `b` on separate lines, either alone when the other is empty.
fn join(mut a: String, b: String) -> String {
    if a.is_empty() {
        return b;
    }
    if !b.is_empty() {
        a.push('\n');
        a.push_str(&b);
    }
    a
}

/// A table row as `column: value` lines; NULL cells read `null`.
fn row_lines(row: Vec<Option<Cell>>) -> String {
    let mut out = String::new();
    for cell in row.into_iter().flatten() {
        let Some(name) = cell.name else { continue };
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&name);
        out.push_str(": ");
        match cell.value {
            Some(Value::String(s)) => out.push_str(&s),
            None | Some(Value::Null) => out.push_str("null"),
            Some(other) => out.push_str(&other.to_string()),
        }
    }
    out
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
/// their type and the first uri/url/id/query found in any `…Location` object (by name order).
fn location(mut loc: RawLocation) -> Option<Location> {
    let known = LOCATION_FIELDS.iter().find_map(|(obj, field)| {
        let (_, source) = loc.objects.iter().find(|(name, _)| name == obj)?;
        Some((Cow::Borrowed(*obj), source.get(field)?.to_string()))
    });
    let (object, uri) = match known {
        Some((obj, uri)) => (Some(obj), Some(uri)),
        None => {
            loc.objects.sort_by(|a, b| a.0.cmp(&b.0));
            loc.objects
                .into_iter()
                .find_map(|(name, mut source)| {
                    let uri = source.0.iter_mut().find_map(Option::take)?;
                    Some((Some(name), Some(uri)))
                })
                .unwrap_or((None, None))
        }
    };
    let kind = match loc.kind {
        Some(t) => t,
        // No type: derive it from the object's name ("webLocation" → "WEB").
        None => object?
            .trim_end_matches("Location")
            .trim_end_matches("Document")
            .to_ascii_uppercase(),
    };
    Some(Location { kind, uri })
}

/// The parts of a GetKnowledgeBase answer we use.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct KbSummary {
    pub(super) status: String,
    pub(super) name: Option<String>,
    pub(super) description: Option<String>,
    /// `knowledgeBaseConfiguration.type`: VECTOR, MANAGED, KENDRA, SQL.
    pub(super) kb_type: Option<String>,
    /// `userContextModeForRetrieval`; absent means `API_INPUT_ONLY` (AWS's default).
    pub(super) user_context_mode: Option<String>,
    /// `trustedIdentitySources[]`: each `identityStoreArn` or `identityProviderArn`.
    pub(super) trusted_identity_sources: Vec<String>,
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
        user_context_mode: text("userContextModeForRetrieval").filter(|m| {
            !m.is_empty() && m.len() <= 64 && m.bytes().all(|b| b.is_ascii_uppercase() || b == b'_')
        }),
        trusted_identity_sources: kb
            .get("trustedIdentitySources")
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .filter_map(|s| {
                        s.get("identityProviderArn")
                            .or_else(|| s.get("identityStoreArn"))
                            .and_then(Value::as_str)
                            .map(str::to_string)
                    })
                    .collect()
            })
            .unwrap_or_default(),
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
