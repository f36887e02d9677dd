//! Tests for parsing Bedrock Retrieve answers into passages.

use super::*;
use serde_json::json;

/// The passages and guardrail flag, as the reference parser returns them.
fn retrieval(body: &[u8]) -> Result<(Vec<Passage>, bool), String> {
    super::retrieval(body).map(|r| (r.passages, r.guardrail_intervened))
}

#[test]
fn reads_the_next_token_and_drops_a_malformed_one() {
    let r = super::retrieval(br#"{"retrievalResults": [], "nextToken": "abc=="}"#).unwrap();
    assert_eq!(r.next_token.as_deref(), Some("abc=="));
    for bad in [r#""""#, r#""a b""#, "5", "null"] {
        let body = format!(r#"{{"retrievalResults": [], "nextToken": {bad}}}"#);
        let r = super::retrieval(body.as_bytes()).unwrap();
        assert_eq!(r.next_token, None, "{bad}");
    }
}

fn one(result: Value) -> Passage {
    let body = json!({ "retrievalResults": [result] }).to_string();
    retrieval(body.as_bytes()).unwrap().0.remove(0)
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
        ("ONEDRIVE", "oneDriveLocation", "url"),
        ("GOOGLEDRIVE", "googleDriveLocation", "url"),
    ] {
        let value = format!("{kind}-source");
        let p =
            one(json!({"content": {"text": "t"}, "location": {"type": kind, obj: {field: value}}}));
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
        .0
        .is_empty());
    let (_, intervened) =
        retrieval(br#"{"retrievalResults": [], "guardrailAction": "INTERVENED"}"#).unwrap();
    assert!(intervened);
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
            description: None,
            kb_type: None,
            user_context_mode: None,
            trusted_identity_sources: Vec::new(),
        }
    );
    let body = json!({"knowledgeBase": {"status": "ACTIVE",
        "userContextModeForRetrieval": "IDENTITY_ENHANCED_SESSION",
        "trustedIdentitySources": [
            {"identityProviderArn": "arn:aws:iam::111122223333:oidc-provider/login.microsoftonline.com/t/v2.0"},
            {"identityStoreArn": "arn:aws:identitystore::111122223333:identitystore/d-1234567890"}]}});
    let s = knowledge_base(body.to_string().as_bytes()).unwrap();
    assert_eq!(
        s.user_context_mode.as_deref(),
        Some("IDENTITY_ENHANCED_SESSION")
    );
    assert_eq!(s.trusted_identity_sources.len(), 2);
    assert!(s.trusted_identity_sources[1].contains("identitystore"));
    assert!(knowledge_base(b"[]").is_err());
    let body = json!({"knowledgeBase": {"status": "ACTIVE",
            "knowledgeBaseConfiguration": {"type": "MANAGED"}}});
    let s = knowledge_base(body.to_string().as_bytes()).unwrap();
    assert_eq!(s.kb_type.as_deref(), Some("MANAGED"));
}

#[test]
fn renders_every_content_type_readably() {
    let png = "iVBORw0KGgo=";
    let p = one(json!({
        "content": {"type": "IMAGE", "byteContent": format!("data:image/png;base64,{png}")},
        "documentId": "doc 1/é",
        "metadata": {"_data_source_id": "DS1", "_media_id": "m"}
    }));
    let image = p.image.clone().unwrap();
    assert_eq!(
        (image.mime_type.as_str(), image.base64.as_str()),
        ("image/png", png)
    );
    assert_eq!(image.size(), 8);
    assert_eq!(p.document_id.as_deref(), Some("doc 1/é"));
    assert_eq!(
        (p.data_source_id.as_deref(), p.media_id.as_deref()),
        (Some("DS1"), Some("m"))
    );
    let p = one(json!({"content": {"type": "ROW", "row": [
            {"columnName": "region", "columnValue": "EMEA", "type": "STRING"},
            {"columnName": "revenue", "columnValue": "4.2", "type": "DOUBLE"},
            {"columnName": "note", "type": "NULL"}
        ]}, "metadata": {"x-amz-bedrock-kb-data-source-id": "DS2"}}));
    assert_eq!(p.text, "region: EMEA\nrevenue: 4.2\nnote: null");
    assert_eq!(p.data_source_id.as_deref(), Some("DS2"));
    let p = one(
        json!({"content": {"type": "AUDIO", "audio": {"s3Uri": "s3://b/a.mp3", "transcription": "hello all"}}}),
    );
    assert_eq!(
        (p.text.as_str(), p.media_uri.as_deref()),
        ("hello all", Some("s3://b/a.mp3"))
    );
    let p = one(
        json!({"content": {"type": "VIDEO", "video": {"s3Uri": "s3://b/v.mp4", "summary": "a demo"}}}),
    );
    assert_eq!(
        (p.text.as_str(), p.media_uri.as_deref()),
        ("a demo", Some("s3://b/v.mp4"))
    );
}

#[test]
fn refuses_images_an_mcp_client_could_not_decode() {
    for uri in [
        "data:image/png;base64,abc",
        "data:image/png;base64,ab!c",
        "data:text/html;base64,iVBORw0KGgo=",
        "data:image/png,iVBORw0KGgo=",
        "http://x/y.png",
        "data:image/png;base64,",
        "data:image/png;base64,a===",
    ] {
        let p = one(json!({"content": {"type": "IMAGE", "byteContent": uri}}));
        assert!(p.image.is_none(), "{uri}");
        assert!(p.text.contains("could not read"), "{uri}: {}", p.text);
    }
}

#[test]
fn reads_a_document_link() {
    let body = json!({"presignedUrl": "https://b.s3.amazonaws.com/x?sig=1",
            "mimeType": "application/pdf", "documentContentLength": 1234});
    let l = document_link(body.to_string().as_bytes()).unwrap();
    assert_eq!(
        (l.url.as_str(), l.mime_type.as_str(), l.size_bytes),
        (
            "https://b.s3.amazonaws.com/x?sig=1",
            "application/pdf",
            Some(1234)
        )
    );
    assert!(document_link(b"{}").unwrap_err().contains("presignedUrl"));
    assert!(document_link(br#"{"presignedUrl": "javascript:alert(1)"}"#).is_err());
}

/// Every value in `v`, by path, replaced in turn by each of a set of wrong-typed values:
/// (path, replacement, mutated value).
fn mutations(v: &Value) -> Vec<(String, Value, Value)> {
    let replacements = [
        json!(null),
        json!(true),
        json!(-2),
        json!(1.5),
        json!(18446744073709551615u64),
        json!("s"),
        json!("a\"b\\u00e9\n"),
        json!([]),
        json!([1, {"a": [null]}]),
        json!({}),
        json!({"uri": "u", "url": 2}),
    ];
    let mut out = Vec::new();
    let mut paths = Vec::new();
    collect_paths(v, String::new(), &mut paths);
    for path in paths {
        for r in &replacements {
            let mut m = v.clone();
            *m.pointer_mut(&path).unwrap() = r.clone();
            out.push((path.clone(), r.clone(), m));
        }
    }
    out
}

fn collect_paths(v: &Value, here: String, out: &mut Vec<String>) {
    out.push(here.clone());
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                collect_paths(child, format!("{here}/{k}"), out);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                collect_paths(child, format!("{here}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// A parse result as golden JSON: the passages (images included) and the guardrail flag, or
/// the error text.
fn parsed(body: &str) -> Value {
    match retrieval(body.as_bytes()) {
        Err(e) => json!({ "error": e }),
        Ok((passages, intervened)) => {
            let passages: Vec<Value> = passages
                .iter()
                .map(|p| {
                    let mut v = serde_json::to_value(p).unwrap();
                    if let Some(image) = &p.image {
                        v["image"] = json!({"mimeType": image.mime_type, "base64": image.base64});
                    }
                    v
                })
                .collect();
            json!({ "intervened": intervened, "passages": passages })
        }
    }
}

/// `v` against the answer it mutates: passages equal to the base's at the same index read
/// `"="`, so each golden line shows only what the mutation changed.
fn against(base: &Value, v: Value) -> Value {
    match (&base["passages"], v) {
        (Value::Array(old), Value::Object(mut new)) if new.contains_key("passages") => {
            if let Some(Value::Array(items)) = new.get_mut("passages") {
                for (i, item) in items.iter_mut().enumerate() {
                    if old.get(i) == Some(item) {
                        *item = json!("=");
                    }
                }
            }
            Value::Object(new)
        }
        (_, v) => v,
    }
}

/// Every answer shape, each field replaced in turn by each wrong-typed value, and shapes a
/// Value tree cannot show, read as `parse_retrieval.golden.json` records.
#[test]
fn retrieval_parses_every_shape_as_the_golden_file_records() {
    let answers = [
        json!({"retrievalResults": [
            {"content": {"text": "t", "type": "TEXT"}, "score": 0.5, "documentId": "d",
             "location": {"type": "S3", "s3Location": {"uri": "s3://b/k"}},
             "metadata": {"_data_source_id": "DS", "_media_id": "m", "n": [1, {"x": null}]}},
            {"content": {"type": "ROW", "text": "pre", "row": [
                {"columnName": "a", "columnValue": "x"}, {"columnName": "b", "columnValue": 4.25},
                {"columnName": "c"}, {"columnName": "d", "columnValue": {"k": [true]}}, 7]},
             "location": {"zLocation": {"id": "z"}, "aLocation": {"query": "q", "id": "i"}},
             "metadata": {"x-amz-bedrock-kb-data-source-id": "DS2"}},
            {"content": {"type": "AUDIO", "audio": {"s3Uri": "s3://a", "transcription": "hi"}},
             "location": {"webLocation": {"url": "https://w"}, "type": "WEB"}},
            {"content": {"type": "VIDEO", "text": "v", "video": {"s3Uri": "s3://v", "summary": "s"}},
             "location": {"s3Location": {"url": "not-uri"}, "Location": {"uri": "x"}}},
            {"content": {"type": "IMAGE", "byteContent": "data:image/PNG;base64,iVBORw0KGgo="}},
            {"content": {"type": "IMAGE", "text": "cap", "byteContent": "data:image/png;base64,!!"}}
        ], "guardrailAction": "INTERVENED", "nextToken": "n"}),
        json!({"retrievalResults": [{}], "guardrailAction": "NONE"}),
    ];
    let mut cases = Vec::new();
    for (n, answer) in answers.iter().enumerate() {
        let base = parsed(&answer.to_string());
        for (path, with, v) in mutations(answer) {
            cases.push((
                format!(
                    "answer {n}: {} = {with}",
                    if path.is_empty() { "/" } else { &path }
                ),
                against(&base, parsed(&v.to_string())),
            ));
        }
        cases.push((format!("answer {n}"), base));
    }
    assert!(cases.len() > 900, "{}", cases.len());
    // Shapes a Value tree cannot show: repeated keys (the last wins), escaped keys and
    // strings, and bytes that are not JSON at all.
    for body in [
        r#"{"retrievalResults": [{"content": {"text": "a"}}], "retrievalResults": [{"content": {"text": "b"}}]}"#,
        r#"{"retrievalResults": [{"content": "x", "content": {"text": "ok"}}]}"#,
        r#"{"retrievalResults": [{"content": {"text": "ok"}, "content": 5}]}"#,
        r#"{"retrievalResults": [{"location": {"webLocation": {"url": "a"}, "webLocation": 1, "xLocation": {"id": "x"}}}]}"#,
        r#"{"retrievalResults": [{"location": {"s3Location": 1, "s3Location": {"uri": "u"}, "type": "S3", "type": 2}}]}"#,
        r#"{"retrievalResults": [{"metadata": {"k": 1}, "metadata": {"_media_id": "m2"}}]}"#,
        r#"{"retrieval\u0052esults": [{"cont\u0065nt": {"text": "esc\u00e9\"q\"", "ty\u0070e": "ROW", "row": [{"column\u004eame": "c\u0031", "columnValue": "v\u0032"}]}}]}"#,
        r#"{"retrievalResults": [{"location": {"fooLoc\u0061tion": {"url": "f"}}}]}"#,
        r#"{"retrievalResults": [{"location": {"zLocation": {"id": "z"}, "aLocation": {"query": "q"}}}]}"#,
        r#"{"retrievalResults": [], "guardrailAction": "INTERVENED", "guardrailAction": "NONE"}"#,
        r#"{"retrievalResults": [{"content": {"text": "a"}}]} trailing"#,
        r#"{"retrievalResults": [{"content": {"text": "a"}}"#,
        r#"{"retrievalResults": [{"content": {"text": "a\ud800"}}]}"#,
        r#"[{"retrievalResults": []}]"#,
        r#""retrievalResults""#,
        "",
        "null",
    ] {
        cases.push((format!("body {body}"), parsed(body)));
    }
    crate::golden::check("src/kb/bedrock/parse/parse_retrieval.golden.json", cases);
}
