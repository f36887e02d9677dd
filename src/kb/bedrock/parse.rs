//! Reading Bedrock's JSON answers: Retrieve results into passages (flattening the
//! per-type location objects), and GetKnowledgeBase into name, description and status.
//! Unexpected shapes are errors with a clear message, never panics.

use crate::kb::{KbError, Location, Passage};
use serde_json::{Map, Value};

/// Location types and the field of their object that identifies the source.
const LOCATIONS: &[(&str, &str, &str)] = &[
    ("S3", "s3Location", "uri"),
    ("WEB", "webLocation", "url"),
    ("CONFLUENCE", "confluenceLocation", "url"),
    ("SALESFORCE", "salesforceLocation", "url"),
    ("SHAREPOINT", "sharePointLocation", "url"),
    ("CUSTOM", "customDocumentLocation", "id"),
    ("KENDRA", "kendraDocumentLocation", "uri"),
    ("SQL", "sqlLocation", "query"),
];

/// Parses a Retrieve answer.
pub(super) fn retrieval(body: &[u8]) -> Result<Vec<Passage>, KbError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| bad("Retrieve", &e.to_string()))?;
    let Some(results) = v.get("retrievalResults").and_then(Value::as_array) else {
        return Err(bad("Retrieve", "no retrievalResults array"));
    };
    Ok(results
        .iter()
        .filter_map(Value::as_object)
        .map(passage)
        .collect())
}

fn passage(r: &Map<String, Value>) -> Passage {
    let content = r.get("content");
    let text = content
        .and_then(|c| c.get("text"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    let content_type = content
        .and_then(|c| c.get("type"))
        .and_then(Value::as_str)
        .unwrap_or("TEXT");
    Passage {
        text: text.to_string(),
        content_type: content_type.to_string(),
        score: r.get("score").and_then(Value::as_f64),
        location: r.get("location").and_then(location),
        metadata: r
            .get("metadata")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default(),
    }
}

fn location(loc: &Value) -> Option<Location> {
    let kind = loc.get("type").and_then(Value::as_str)?;
    let known = LOCATIONS.iter().find(|(k, _, _)| *k == kind);
    let uri = match known {
        Some((_, object, field)) => loc
            .get(*object)
            .and_then(|o| o.get(*field))
            .and_then(Value::as_str),
        // A location type newer than this code: take the first string field of its object.
        None => loc
            .as_object()?
            .iter()
            .filter(|(k, _)| *k != "type")
            .find_map(|(_, o)| o.as_object()?.values().find_map(Value::as_str)),
    };
    Some(Location {
        kind: kind.to_string(),
        uri: uri.map(str::to_string),
    })
}

/// What GetKnowledgeBase tells us.
pub(super) struct Details {
    pub(super) status: String,
    pub(super) name: Option<String>,
    pub(super) description: Option<String>,
}

/// Parses a GetKnowledgeBase answer.
pub(super) fn knowledge_base(body: &[u8]) -> Result<Details, KbError> {
    let v: Value =
        serde_json::from_slice(body).map_err(|e| bad("GetKnowledgeBase", &e.to_string()))?;
    let kb = v
        .get("knowledgeBase")
        .ok_or_else(|| bad("GetKnowledgeBase", "no knowledgeBase object"))?;
    let field = |k: &str| kb.get(k).and_then(Value::as_str).map(str::to_string);
    Ok(Details {
        status: field("status").unwrap_or_else(|| "UNKNOWN".into()),
        name: field("name"),
        description: field("description"),
    })
}

fn bad(op: &str, why: &str) -> KbError {
    KbError::Unavailable(format!(
        "Bedrock's {op} answer could not be read ({why}); try again, and report it if it persists"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_location_type_is_flattened() {
        let body = json!({"retrievalResults": [
            {"content": {"text": "a", "type": "TEXT"}, "score": 0.9, "location": {"type": "S3", "s3Location": {"uri": "s3://b/a.pdf"}}, "metadata": {"k": 1}},
            {"content": {"text": "b"}, "location": {"type": "WEB", "webLocation": {"url": "https://x"}}},
            {"content": {"text": "c"}, "location": {"type": "SHAREPOINT", "sharePointLocation": {"url": "https://sp"}}},
            {"content": {"text": "d"}, "location": {"type": "CUSTOM", "customDocumentLocation": {"id": "doc-7"}}},
            {"content": {"text": "e"}, "location": {"type": "NEWTYPE", "newLocation": {"path": "/p"}}},
            {"content": {"type": "IMAGE"}},
            "not an object"
        ]});
        let p = retrieval(body.to_string().as_bytes()).unwrap();
        assert_eq!(p.len(), 6);
        assert_eq!(
            (p[0].score, p[0].metadata["k"].clone()),
            (Some(0.9), json!(1))
        );
        let uris: Vec<_> = p
            .iter()
            .map(|x| x.location.as_ref().and_then(|l| l.uri.clone()))
            .collect();
        assert_eq!(
            uris[..5],
            [
                Some("s3://b/a.pdf".into()),
                Some("https://x".into()),
                Some("https://sp".into()),
                Some("doc-7".into()),
                Some("/p".into())
            ]
        );
        assert_eq!(p[5].content_type, "IMAGE");
        assert!(p[5].text.is_empty() && p[5].location.is_none());
    }

    #[test]
    fn garbage_answers_are_clear_errors() {
        assert!(matches!(retrieval(b"<html>"), Err(KbError::Unavailable(_))));
        assert!(matches!(retrieval(b"{}"), Err(KbError::Unavailable(_))));
        assert!(matches!(
            knowledge_base(b"[]"),
            Err(KbError::Unavailable(_))
        ));
        let d = knowledge_base(br#"{"knowledgeBase":{"name":"N","status":"ACTIVE"}}"#).unwrap();
        assert_eq!(
            (d.status.as_str(), d.name.as_deref(), d.description),
            ("ACTIVE", Some("N"), None)
        );
    }
}
