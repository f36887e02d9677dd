//! The fake Bedrock's answers: Bedrock-shaped bodies for Retrieve and GetKnowledgeBase,
//! validation errors, and the replies scripted faults produce.

use super::corpus;
use super::serve::Reply;
use super::{Fault, Shared, KB_ID};
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
            let action = if op == "Retrieve" {
                "bedrock:Retrieve"
            } else {
                "bedrock:GetKnowledgeBase"
            };
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

pub(super) fn retrieve(shared: &Shared, body: &[u8]) -> Reply {
    let v: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(_) => return error(400, "SerializationException", "body is not JSON"),
    };
    let text = v
        .pointer("/retrievalQuery/text")
        .and_then(Value::as_str)
        .unwrap_or("");
    let n = v
        .pointer("/retrievalConfiguration/vectorSearchConfiguration/numberOfResults")
        .map_or(Some(5), Value::as_u64);
    let chars = text.chars().count();
    let n = match n {
        Some(n @ 1..=100) if (1..=20_000).contains(&chars) => n as usize,
        _ => {
            return error(
                400,
                "ValidationException",
                "retrievalQuery.text must be 1-20000 chars, numberOfResults 1-100",
            )
        }
    };
    let state = shared.state.lock().unwrap();
    let hits = corpus::search(&state.corpus, text, n);
    Reply::json(200, &corpus::retrieve_body(&hits))
}

pub(super) fn info(shared: &Shared) -> Reply {
    let s = shared.state.lock().unwrap();
    let (name, description, status) = &s.kb;
    Reply::json(
        200,
        &json!({"knowledgeBase": {
            "knowledgeBaseId": KB_ID,
            "name": name,
            "description": description,
            "status": status,
            "knowledgeBaseArn": format!("arn:aws:bedrock:{}:123456789012:knowledge-base/{KB_ID}", shared.region),
            "roleArn": "arn:aws:iam::123456789012:role/kb",
            "createdAt": "2026-01-01T00:00:00Z",
            "updatedAt": "2026-01-02T00:00:00Z"
        }}),
    )
}
