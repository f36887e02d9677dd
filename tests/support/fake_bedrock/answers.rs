//! The fake Bedrock's answers: Bedrock-shaped bodies for Retrieve, GetKnowledgeBase and
//! GetDocumentContent, validation errors, and the replies scripted faults produce.
//!
//! A MANAGED knowledge base refuses `vectorSearchConfiguration` with Bedrock's documented
//! message; documents behind access lists are returned only to a `userContext.userId` on
//! their list (none at all without one).

use super::super::fake_server::Reply;
use super::corpus::{self, FakeDoc};
use super::{Fault, KbView, Shared};
use serde_json::{json, Value};

/// The answer for a fault, or `None` after sleeping for a delay.
pub(super) fn fault_reply(fault: Fault, op: &str) -> Option<Reply> {
    const CORAL: &str = ":http://internal.amazon.com/coral/com.amazon.bedrock/";
    Some(match fault {
        Fault::Delay(d) => {
            std::thread::sleep(d);
            return None;
        }
        Fault::Throttle => error(429, &format!("ThrottlingException{CORAL}"), "Rate exceeded"),
        Fault::Status(500) => error(500, "InternalServerException", "Internal server error"),
        Fault::Status(502) => error(502, "BadGatewayException", "Bad gateway"),
        Fault::Status(503) => error(503, "ServiceUnavailableException", "Service unavailable"),
        Fault::Status(s) => {
            Reply::text(s, &format!("<html><body>{s} Gateway trouble</body></html>"))
                .with("Content-Type", "text/html")
        }
        Fault::AccessDenied => {
            let action = format!("bedrock:{op}");
            let msg = format!(
                "User: arn:aws:sts::123456789012:assumed-role/app/i-0abc is not authorized to perform: {action}"
            );
            Reply::json(
                403,
                &json!({"__type": "com.amazonaws.bedrock#AccessDeniedException", "Message": msg}),
            )
        }
        Fault::NotFound => error(
            404,
            &format!("ResourceNotFoundException{CORAL}"),
            "Knowledge base not found",
        ),
        Fault::Validation => error(
            400,
            &format!("ValidationException{CORAL}"),
            "1 validation error detected",
        ),
        Fault::Garbage => Reply::text(200, "<html>this is not JSON</html>"),
        Fault::Error {
            status,
            code,
            message,
        } => error(status, &code, &message),
    })
}

pub(super) fn error(status: u16, code: &str, message: &str) -> Reply {
    Reply::json(status, &json!({ "message": message })).with("x-amzn-ErrorType", code)
}

/// Bedrock's answer to vectorSearchConfiguration on a managed knowledge base (the notes).
pub const MANAGED_REFUSAL: &str = "Incompatible configuration: vectorSearchConfiguration is not \
supported for managed knowledge bases. Use managedSearchConfiguration instead.";
/// The converse; its wording is not documented, so this is modelled on MANAGED_REFUSAL.
pub const VECTOR_REFUSAL: &str = "Incompatible configuration: managedSearchConfiguration is \
supported only for managed knowledge bases. Use vectorSearchConfiguration instead.";

fn validation(message: &str) -> Reply {
    error(400, "ValidationException", message)
}

/// `userContext.userId`, if sent; a malformed userContext is a validation error.
fn user_id(v: &Value) -> Result<Option<String>, Reply> {
    match v.get("userContext") {
        None => Ok(None),
        Some(ctx) => match ctx.get("userId").and_then(Value::as_str) {
            Some(id) if !id.is_empty() => Ok(Some(id.to_string())),
            _ => Err(validation(
                "1 validation error detected: Value at 'userContext.userId' failed to satisfy constraint: Member must not be null",
            )),
        },
    }
}

pub(super) fn retrieve(shared: &Shared, kb: &KbView, body: &[u8]) -> Reply {
    let v: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(_) => return error(400, "SerializationException", "body is not JSON"),
    };
    let text = v
        .pointer("/retrievalQuery/text")
        .and_then(Value::as_str)
        .unwrap_or("");
    let state = shared.state.lock().unwrap();
    let managed = kb.kb_type == "MANAGED";
    let config = v.get("retrievalConfiguration");
    let vector = config.and_then(|c| c.get("vectorSearchConfiguration"));
    let managed_config = config.and_then(|c| c.get("managedSearchConfiguration"));
    let n = match (vector, managed_config) {
        (Some(_), _) if managed => return validation(MANAGED_REFUSAL),
        (_, Some(_)) if !managed => return validation(VECTOR_REFUSAL),
        (Some(c), None) | (None, Some(c)) => {
            c.get("numberOfResults").map_or(Some(5), Value::as_u64)
        }
        (None, None) => Some(5),
        (Some(_), Some(_)) => return validation("Specify only one search configuration"),
    };
    let chars = text.chars().count();
    let n = match n {
        Some(n @ 1..=100) if (1..=20_000).contains(&chars) => n as usize,
        _ => return validation("retrievalQuery.text must be 1-20000 chars, numberOfResults 1-100"),
    };
    let user = match user_id(&v) {
        Ok(u) => u,
        Err(reply) => return reply,
    };
    let search = vector.or(managed_config).cloned().unwrap_or_default();
    if let Some(arn) = search
        .pointer(
            "/rerankingConfiguration/bedrockRerankingConfiguration/modelConfiguration/modelArn",
        )
        .and_then(Value::as_str)
    {
        if !state.rerank_models.iter().any(|m| m == arn) {
            return validation(&format!(
                "The reranking model {arn} is not supported in this region or account"
            ));
        }
    }
    let filter = search.get("filter");
    let visible: Vec<FakeDoc> = kb
        .corpus
        .iter()
        .filter(|d| corpus::visible(d, user.as_deref()))
        .filter(|d| filter.is_none_or(|f| corpus::filter_matches(f, &d.metadata)))
        .cloned()
        .collect();
    let all = corpus::search(&visible, text, usize::MAX);
    let (offset, next) = match super::pages::page(&kb.id, &v, user.as_deref(), all.len(), n) {
        Ok(p) => p,
        Err(reply) => return reply,
    };
    let hits: Vec<_> = all.into_iter().skip(offset).take(n).collect();
    let key = if managed {
        "_data_source_id"
    } else {
        "x-amz-bedrock-kb-data-source-id"
    };
    let mut body = corpus::retrieve_body(&hits, key);
    if let Some(token) = next {
        body["nextToken"] = json!(token);
    }
    // The fake's guardrail intervenes on queries about passwords.
    if v.get("guardrailConfiguration").is_some() && text.to_lowercase().contains("password") {
        body["guardrailAction"] = json!("INTERVENED");
    }
    Reply::json(200, &body)
}

/// Decodes a percent-encoded path segment as AWS does (UTF-8); `None` if malformed.
fn decode_segment(raw: &str) -> Option<String> {
    let b = raw.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// GetDocumentContent for `data_source`/`raw_document_id` (still percent-encoded).
pub(super) fn document_content(
    shared: &Shared,
    kb: &KbView,
    data_source: &str,
    raw_document_id: &str,
    body: &[u8],
) -> Reply {
    let v: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(_) => return error(400, "SerializationException", "body is not JSON"),
    };
    match v.get("outputFormat").and_then(Value::as_str) {
        None | Some("RAW") => {}
        Some("EXTRACTED") if v.get("mediaId").is_none() => {}
        Some(_) => return validation("outputFormat must be RAW (or EXTRACTED without mediaId)"),
    }
    let user = match user_id(&v) {
        Ok(u) => u,
        Err(reply) => return reply,
    };
    let Some(document_id) = decode_segment(raw_document_id) else {
        return validation("documentId is not a valid percent-encoded UTF-8 path segment");
    };
    let doc = kb.corpus.iter().find(|d| {
        d.document_id.as_deref() == Some(document_id.as_str())
            && d.data_source_id.as_deref() == Some(data_source)
    });
    let Some(doc) = doc else {
        return error(
            404,
            "ResourceNotFoundException",
            &format!("Document {document_id} was not found in data source {data_source}"),
        );
    };
    if !corpus::visible(doc, user.as_deref()) {
        return error(
            403,
            "AccessDeniedException",
            "The user in userContext is not authorized to access this document",
        );
    }
    if v.get("outputFormat").and_then(Value::as_str) == Some("EXTRACTED") {
        return super::extracted::answer(shared, &kb.id, data_source, raw_document_id, doc);
    }
    if let Some(media) = v.get("mediaId").and_then(Value::as_str) {
        return super::extracted::media_answer(shared, &kb.id, data_source, raw_document_id, media);
    }
    let (mime, length) = match v.get("mediaId") {
        Some(_) => ("image/png", corpus::TINY_PNG.len()),
        None => (doc.mime_type.as_str(), doc.text.len()),
    };
    let url = format!(
        "https://fake-kb-originals.s3.{}.amazonaws.com/{data_source}/{raw_document_id}?X-Amz-Expires=300&X-Amz-Signature=fake",
        shared.region
    );
    Reply::json(
        200,
        &json!({"presignedUrl": url, "mimeType": mime, "documentContentLength": length}),
    )
}

pub(super) fn info(shared: &Shared, kb: &KbView) -> Reply {
    let (name, description, status) = (&kb.name, &kb.description, &kb.status);
    let id = &kb.id;
    Reply::json(
        200,
        &json!({"knowledgeBase": {
            "knowledgeBaseId": id,
            "name": name,
            "description": description,
            "status": status,
            "knowledgeBaseConfiguration": {"type": kb.kb_type},
            "knowledgeBaseArn": format!("arn:aws:bedrock:{}:123456789012:knowledge-base/{id}", shared.region),
            "roleArn": "arn:aws:iam::123456789012:role/kb",
            "createdAt": "2026-01-01T00:00:00Z",
            "updatedAt": "2026-01-02T00:00:00Z"
        }}),
    )
}
