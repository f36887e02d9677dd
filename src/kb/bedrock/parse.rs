//! Successful Bedrock answers → our types: Retrieve's `retrievalResults` into `Passage`s
//! (flattening the per-type location objects) and GetKnowledgeBase into name/status.
//!
//! Lenient about optional fields, strict about structure; errors say what was wrong and
//! never panic. Must not do I/O.

use crate::kb::{Location, Passage};
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
];

/// Parses a Retrieve answer.
pub(super) fn retrieval(body: &[u8]) -> Result<Vec<Passage>, String> {
    let v: Value = serde_json::from_slice(body).map_err(|_| not_json(body))?;
    let results = v
        .get("retrievalResults")
        .and_then(Value::as_array)
        .ok_or("it has no retrievalResults list")?;
    results
        .iter()
        .enumerate()
        .map(|(i, r)| passage(r).map_err(|why| format!("result {i} {why}")))
        .collect()
}

fn passage(r: &Value) -> Result<Passage, String> {
    let r = r.as_object().ok_or("is not an object")?;
    let content = match r.get("content") {
        None | Some(Value::Null) => &Value::Null,
        Some(c @ Value::Object(_)) => c,
        Some(_) => return Err("has a content that is not an object".into()),
    };
    Ok(Passage {
        text: content
            .get("text")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        content_type: content
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("TEXT")
            .to_string(),
        score: r.get("score").and_then(Value::as_f64),
        location: r.get("location").and_then(location),
        metadata: r
            .get("metadata")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_else(Map::new),
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

/// The parts of a GetKnowledgeBase answer we show.
#[derive(Debug, PartialEq)]
pub(super) struct KbSummary {
    pub(super) status: String,
    pub(super) name: Option<String>,
    pub(super) description: Option<String>,
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
mod tests {
    use super::*;
    use serde_json::json;

    fn one(result: Value) -> Passage {
        let body = json!({ "retrievalResults": [result] }).to_string();
        retrieval(body.as_bytes()).unwrap().remove(0)
    }

    #[test]
    fn flattens_every_location_type() {
        for (kind, obj, field) in [
            ("S3", "s3Location", "uri"),
            ("WEB", "webLocation", "url"),
            ("CONFLUENCE", "confluenceLocation", "url"),
            ("SALESFORCE", "salesforceLocation", "url"),
            ("SHAREPOINT", "sharePointLocation", "url"),
            ("CUSTOM", "customDocumentLocation", "id"),
            ("KENDRA", "kendraDocumentLocation", "uri"),
            ("SQL", "sqlLocation", "query"),
        ] {
            let value = format!("{kind}-source");
            let p = one(
                json!({"content": {"text": "t"}, "location": {"type": kind, obj: {field: value}}}),
            );
            assert_eq!(
                p.location,
                Some(Location {
                    kind: kind.into(),
                    uri: Some(value)
                })
            );
        }
    }

    #[test]
    fn copes_with_unknown_and_missing_location_types() {
        let p = one(
            json!({"location": {"type": "GOOGLEDRIVE", "googleDriveLocation": {"url": "https://d/x"}}}),
        );
        assert_eq!(
            p.location,
            Some(Location {
                kind: "GOOGLEDRIVE".into(),
                uri: Some("https://d/x".into())
            })
        );
        let p = one(json!({"location": {"webLocation": {"url": "https://w"}}}));
        assert_eq!(
            p.location,
            Some(Location {
                kind: "WEB".into(),
                uri: Some("https://w".into())
            })
        );
        let p = one(json!({"location": {"type": "NEWTHING"}}));
        assert_eq!(
            p.location,
            Some(Location {
                kind: "NEWTHING".into(),
                uri: None
            })
        );
        assert_eq!(one(json!({"location": "s3://x"})).location, None);
        assert_eq!(one(json!({})).location, None);
    }

    #[test]
    fn reads_text_type_score_and_metadata() {
        let p = one(json!({
            "content": {"text": "hello", "type": "ROW"},
            "score": 0.75,
            "metadata": {"x-amz-bedrock-kb-chunk-id": "c1", "page": 3}
        }));
        assert_eq!(
            (p.text.as_str(), p.content_type.as_str(), p.score),
            ("hello", "ROW", Some(0.75))
        );
        assert_eq!(p.metadata.get("page"), Some(&json!(3)));
        let p = one(json!({"content": {"type": "IMAGE"}}));
        assert_eq!(
            (p.text.as_str(), p.content_type.as_str(), p.score),
            ("", "IMAGE", None)
        );
        assert!(p.metadata.is_empty());
    }

    #[test]
    fn refuses_garbage_with_a_reason() {
        for (body, why) in [
            (&b"<html>502 Bad Gateway</html>"[..], "not JSON"),
            (b"{}", "retrievalResults"),
            (br#"{"retrievalResults": {"a": 1}}"#, "retrievalResults"),
            (br#"{"retrievalResults": [1]}"#, "result 0 is not an object"),
            (br#"{"retrievalResults": [{"content": "x"}]}"#, "content"),
            (b"\xff\xfe", "not JSON"),
        ] {
            let e = retrieval(body).unwrap_err();
            assert!(e.contains(why), "{e}");
        }
        assert!(retrieval(br#"{"retrievalResults": []}"#)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn reads_a_knowledge_base() {
        let body =
            json!({"knowledgeBase": {"knowledgeBaseId": "K", "name": "Docs", "status": "ACTIVE"}});
        let s = knowledge_base(body.to_string().as_bytes()).unwrap();
        assert_eq!(
            s,
            KbSummary {
                status: "ACTIVE".into(),
                name: Some("Docs".into()),
                description: None
            }
        );
        assert!(knowledge_base(b"[]").is_err());
    }
}
