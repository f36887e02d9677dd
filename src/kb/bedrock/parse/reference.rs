//! The Value-tree Retrieve parser this module used before the typed one, kept only as the
//! oracle for the differential test in `tests.rs`: both must agree on every input.

use super::{DATA_SOURCE_KEYS, LOCATION_FIELDS};
use crate::kb::{Location, Passage};
use serde_json::{Map, Value};

/// Parses a Retrieve answer: the passages, and whether a guardrail intervened.
pub(super) fn retrieval(body: &[u8]) -> Result<(Vec<Passage>, bool), String> {
    let v: Value = serde_json::from_slice(body).map_err(|_| super::not_json(body))?;
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
                match super::data_uri(uri) {
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
