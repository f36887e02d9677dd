//! Bedrock error answers → retry decisions and `KbError`s, from the HTTP status, the
//! `x-amzn-ErrorType` header and the JSON body's `__type` / `message`.
//!
//! Owns the wording the model and the operator see; must not do I/O.

use super::call::Op;
use crate::kb::KbError;
use serde_json::Value;

/// Codes the SDKs' standard retry mode treats as throttling.
const THROTTLING: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "ThrottledException",
    "TooManyRequestsException",
    "RequestThrottled",
    "RequestThrottledException",
    "RequestLimitExceeded",
    "SlowDown",
    "ProvisionedThroughputExceededException",
    "BandwidthLimitExceeded",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
    "TransactionInProgressException",
];

/// Codes the SDKs treat as transient server-side failures.
const TRANSIENT: &[&str] = &[
    "RequestTimeout",
    "RequestTimeoutException",
    "InternalServerException",
    "InternalFailure",
    "InternalError",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "BadGatewayException",
];

/// Codes that mean AWS did not accept our credentials or signature.
const CREDENTIALS: &[&str] = &[
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
    "IncompleteSignature",
    "IncompleteSignatureException",
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidClientTokenId",
    "InvalidAccessKeyId",
    "MissingAuthenticationToken",
    "MissingAuthenticationTokenException",
    "AuthFailure",
];

/// What a retryable failure was, for the final message once attempts run out.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Transient {
    /// Throttled (429 or a throttling code).
    Throttled(String),
    /// 5xx or a transient server code.
    Server(String),
    /// No (complete) answer within the timeout.
    Timeout(String),
    /// Could not connect or the connection broke.
    Connection(String),
}

/// The verdict on one error answer.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Verdict {
    /// Worth another attempt.
    Retry(Transient),
    /// Final.
    Fail(KbError),
}

/// What the messages need to name the knowledge base.
pub(super) struct Target<'a> {
    pub(super) op: Op,
    pub(super) kb_id: &'a str,
    pub(super) region: &'a str,
}

/// Classifies a non-2xx answer.
pub(super) fn classify(
    status: u16,
    error_type: Option<&str>,
    body: &[u8],
    t: &Target<'_>,
) -> Verdict {
    let json: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let code = error_code(error_type, &json).unwrap_or_default();
    let message = error_message(&json);
    let said = if message.is_empty() {
        format!("HTTP {status} {code}")
    } else {
        format!("HTTP {status} {code}: {message}")
    };
    let said = said.trim_end().to_string();
    let (op, kb, region) = (t.op, t.kb_id, t.region);
    let arn = format!("arn:aws:bedrock:{region}:<account-id>:knowledge-base/{kb}");
    let code = code.as_str();
    if status == 429 || THROTTLING.contains(&code) {
        return Verdict::Retry(Transient::Throttled(said));
    }
    if TRANSIENT.contains(&code) || matches!(status, 500 | 502 | 503 | 504) {
        return Verdict::Retry(Transient::Server(said));
    }
    Verdict::Fail(match code {
        "ValidationException" => KbError::InvalidRequest(format!("Bedrock refused the {} request ({said})", op.name())),
        "AccessDeniedException" => access_denied(op, &arn, &said),
        "ResourceNotFoundException" => not_found(op, kb, region, &said),
        c if CREDENTIALS.contains(&c) => KbError::Credentials(format!(
            "AWS did not accept the credentials or signature ({said}); check the keys, the clock, \
             and that the session token matches the keys"
        )),
        "ConflictException" => KbError::Unavailable(format!(
            "knowledge base {kb} is busy (being created, updated or synced); try again shortly ({said})"
        )),
        "DependencyFailedException" => KbError::Unavailable(format!(
            "something knowledge base {kb} depends on failed, e.g. its vector store or embeddings \
             model; check the knowledge base in the Bedrock console ({said})"
        )),
        "ServiceQuotaExceededException" => KbError::Unavailable(format!(
            "a Bedrock service quota was exceeded; ask AWS for a higher quota ({said})"
        )),
        _ if status == 403 => access_denied(op, &arn, &said),
        _ if status == 404 => not_found(op, kb, region, &said),
        _ if (400..500).contains(&status) => {
            KbError::InvalidRequest(format!("Bedrock refused the {} request ({said})", op.name()))
        }
        _ => KbError::Unavailable(format!("Bedrock answered {} unexpectedly ({said})", op.name())),
    })
}

fn access_denied(op: Op, arn: &str, said: &str) -> KbError {
    let action = op.action();
    if op == Op::GetDocumentContent {
        // The same error covers a role without the permission and a user whose access list
        // does not include the document; Bedrock's own words tell them apart.
        return KbError::AccessDenied(format!(
            "Bedrock will not hand out this document: either the signed-in user may not read \
             it (its access list does not include them), or the AWS role lacks {action} on \
             {arn} ({said})"
        ));
    }
    KbError::AccessDenied(format!(
        "the AWS role may not call {action} on this knowledge base: grant {action} on {arn} to the \
         role ({said})"
    ))
}

fn not_found(op: Op, kb: &str, region: &str, said: &str) -> KbError {
    if op == Op::GetDocumentContent {
        return KbError::NotFound(format!(
            "no such document in knowledge base {kb}: pass the documentId and dataSourceId \
             exactly as a search result gave them ({said})"
        ));
    }
    KbError::NotFound(format!(
        "knowledge base {kb} was not found in region {region}: check BEDROCK_KB_ID and AWS_REGION ({said})"
    ))
}

/// Whether `e` is Bedrock refusing the retrieval configuration for this kind of knowledge
/// base ("Incompatible configuration: vectorSearchConfiguration is not supported for managed
/// knowledge bases. Use managedSearchConfiguration instead."), so the other one may work.
pub(super) fn is_incompatible_configuration(e: &KbError) -> bool {
    matches!(e, KbError::InvalidRequest(m)
        if m.contains("ValidationException") && m.contains("Incompatible configuration"))
}

/// The error code from the header (`Name:suffix`) or the body (`__type`, maybe `ns#Name`).
fn error_code(header: Option<&str>, body: &Value) -> Option<String> {
    let clean = |raw: &str| {
        let name = raw.rsplit('#').next().unwrap_or(raw);
        let name = name.split(':').next().unwrap_or(name).trim();
        (!name.is_empty()).then(|| name.to_string())
    };
    header.and_then(clean).or_else(|| {
        ["__type", "code", "Code"]
            .iter()
            .find_map(|k| body.get(k).and_then(Value::as_str))
            .and_then(clean)
    })
}

/// The human message, at most 500 characters.
fn error_message(body: &Value) -> String {
    let raw = ["message", "Message", "errorMessage"]
        .iter()
        .find_map(|k| body.get(k).and_then(Value::as_str))
        .unwrap_or("");
    raw.chars().take(500).collect::<String>().trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Target<'static> = Target {
        op: Op::Retrieve,
        kb_id: "KB12345678",
        region: "eu-west-1",
    };

    fn fail(status: u16, header: Option<&str>, body: &str) -> KbError {
        match classify(status, header, body.as_bytes(), &T) {
            Verdict::Fail(e) => e,
            other => panic!("expected a final error, got {other:?}"),
        }
    }

    #[test]
    fn reads_the_code_from_header_or_body() {
        let e = fail(
            400,
            Some("ValidationException:http://internal.amazon.com/coral/"),
            "{}",
        );
        assert!(matches!(e, KbError::InvalidRequest(_)), "{e:?}");
        let e = fail(
            400,
            None,
            r#"{"__type":"com.amazonaws.bedrock#AccessDeniedException","Message":"nope"}"#,
        );
        assert!(
            matches!(&e, KbError::AccessDenied(m) if m.contains("bedrock:Retrieve") && m.contains("nope")),
            "{e:?}"
        );
        let e = fail(400, None, r#"{"code":"ResourceNotFoundException"}"#);
        assert!(
            matches!(&e, KbError::NotFound(m) if m.contains("BEDROCK_KB_ID") && m.contains("eu-west-1")),
            "{e:?}"
        );
    }

    #[test]
    fn retries_only_transient_answers() {
        assert!(matches!(
            classify(429, None, b"", &T),
            Verdict::Retry(Transient::Throttled(_))
        ));
        let throttled = classify(400, Some("ThrottlingException"), b"{}", &T);
        assert!(matches!(throttled, Verdict::Retry(Transient::Throttled(_))));
        for status in [500, 502, 503, 504] {
            assert!(matches!(
                classify(status, None, b"<html>", &T),
                Verdict::Retry(Transient::Server(_))
            ));
        }
        assert!(matches!(fail(501, None, ""), KbError::Unavailable(_)));
        assert!(matches!(
            fail(424, Some("DependencyFailedException"), ""),
            KbError::Unavailable(_)
        ));
        assert!(matches!(
            fail(403, Some("InvalidSignatureException"), ""),
            KbError::Credentials(_)
        ));
        assert!(matches!(fail(403, None, ""), KbError::AccessDenied(_)));
        assert!(matches!(fail(413, None, ""), KbError::InvalidRequest(_)));
    }
}
