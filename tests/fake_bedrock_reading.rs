//! The fake Bedrock's issue-20 additions checked on their own (no server binary), so a
//! failing server test can be trusted to point at the server: requests signed here with
//! aws-sigv4, answers read with ureq and decoded with the fake's own event-stream reader.
//! AgenticRetrieveStream frames and CRCs, its refusals per the service model, cut, corrupt
//! and held streams; Retrieve's nextToken; GetDocumentContent EXTRACTED and its presigned
//! loopback download.

use crate::support;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{self, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use serde_json::{json, Value};
use std::io::Read;
use std::time::{Duration, SystemTime};
use support::fake_bedrock::agentic::Script;
use support::fake_bedrock::corpus::{ALICE, BOB};
use support::fake_bedrock::eventstream::decode;
use support::fake_bedrock::reading_corpus as rc;
use support::fake_bedrock::{FakeBedrock, ACCESS_KEY, KB_ID, SECRET_KEY};

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

/// A signed POST to the fake; the response (body unread).
fn post(bedrock: &FakeBedrock, path: &str, body: &Value) -> ureq::http::Response<ureq::Body> {
    let url = format!("{}{path}", bedrock.url());
    let body = body.to_string();
    let host = url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let creds = Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "test");
    let identity = creds.into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(bedrock.region())
        .name("bedrock")
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let headers = [
        ("content-type", "application/json"),
        ("host", host.as_str()),
    ];
    let signable = SignableRequest::new(
        "POST",
        &url,
        headers.iter().copied(),
        SignableBody::Bytes(body.as_bytes()),
    )
    .unwrap();
    let (instructions, _) = http_request::sign(signable, &params).unwrap().into_parts();
    let (added, _) = instructions.into_parts();
    let mut req = ureq::http::Request::builder()
        .method("POST")
        .uri(&url)
        .header("content-type", "application/json");
    for h in added {
        req = req.header(h.name(), h.value());
    }
    agent().run(req.body(body).unwrap()).expect("request")
}

fn json_of(mut r: ureq::http::Response<ureq::Body>) -> (u16, Value, String) {
    let status = r.status().as_u16();
    let kind = r
        .headers()
        .get("x-amzn-errortype")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let text = r.body_mut().read_to_string().unwrap_or_default();
    let v = serde_json::from_str(&text).unwrap_or_default();
    (status, v, kind)
}

fn agentic_body(query: &str) -> Value {
    json!({
        "retrievers": [{"configuration": {"knowledgeBase": {"knowledgeBaseId": KB_ID}}}],
        "messages": [{"role": "user", "content": {"text": query}}],
        "agenticRetrieveConfiguration": {"maxAgentIteration": 2},
        "generateResponse": true
    })
}

/// Reads a stream's bytes until its end or an error (a cut); (bytes, ended cleanly).
fn stream_bytes(mut r: ureq::http::Response<ureq::Body>) -> (Vec<u8>, bool) {
    let mut reader = r.body_mut().as_reader();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => return (out, true),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(_) => return (out, false),
        }
    }
}

/// Every complete frame at the start of `bytes`: (event or exception type, payload JSON),
/// then why the rest did not decode (if there is a rest).
fn frames(bytes: &[u8]) -> (Vec<(String, Value)>, Option<String>) {
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        match decode(&bytes[at..]) {
            Ok((headers, payload, used)) => {
                let get = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
                let kind = get(":event-type")
                    .or_else(|| get(":exception-type"))
                    .unwrap_or_default();
                out.push((kind, serde_json::from_slice(&payload).unwrap_or_default()));
                at += used;
            }
            Err(why) => return (out, Some(why)),
        }
    }
    (out, None)
}

#[test]
fn an_agentic_stream_is_a_valid_event_stream_with_trace_response_and_result_events() {
    let bedrock = FakeBedrock::start();
    rc::install(&bedrock);
    let r = post(
        &bedrock,
        "/agenticRetrieveStream",
        &agentic_body("travel handbook rules"),
    );
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"],
        "application/vnd.amazon.eventstream"
    );
    let (bytes, clean) = stream_bytes(r);
    assert!(clean);
    let (events, rest) = frames(&bytes);
    assert_eq!(rest, None);
    let kinds: Vec<&str> = events.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(kinds.first(), Some(&"traceEvent"));
    assert_eq!(kinds.last(), Some(&"result"));
    assert!(kinds.contains(&"responseEvent"), "{kinds:?}");
    let steps: Vec<&str> = events
        .iter()
        .filter_map(|(_, v)| v["attributes"]["step"].as_str())
        .collect();
    assert!(steps.contains(&"FullDocumentExpansion"), "{steps:?}");
    assert_eq!(steps.iter().filter(|s| **s == "Retrieval").count(), 2);
    let result = &events.last().unwrap().1;
    assert_eq!(result["results"][0]["sourceRetriever"]["identifier"], KB_ID);
    assert_eq!(
        result["results"][0]["metadata"]["x-amz-bedrock-kb-document-id"],
        rc::HANDBOOK_ID
    );
    let answer = result["generatedResponse"]["answer"].as_str().unwrap();
    let streamed: String = events
        .iter()
        .filter(|(k, _)| k == "responseEvent")
        .map(|(_, v)| v["text"].as_str().unwrap())
        .collect();
    assert_eq!(streamed, answer);
    assert!(!result["generatedResponse"]["citations"]
        .as_array()
        .unwrap()
        .is_empty());
    // The ACL-aware expansion fails without a user, as the service does.
    assert!(bytes.windows(14).any(|w| w == b"UserContext is"));

    // Twelve notes, five a page: a nextToken bound to the request.
    let mut body = agentic_body("itinerary");
    let (bytes, _) = stream_bytes(post(&bedrock, "/agenticRetrieveStream", &body));
    let token = frames(&bytes).0.last().unwrap().1["nextToken"].clone();
    assert!(token.is_string());
    body["nextToken"] = token.clone();
    let (bytes, _) = stream_bytes(post(&bedrock, "/agenticRetrieveStream", &body));
    assert_eq!(
        frames(&bytes).0.last().unwrap().1["results"]
            .as_array()
            .unwrap()
            .len(),
        5
    );
    let mut other = agentic_body("travel handbook");
    other["nextToken"] = token;
    let (status, v, kind) = json_of(post(&bedrock, "/agenticRetrieveStream", &other));
    assert_eq!((status, kind.as_str()), (400, "ValidationException"), "{v}");
}

#[test]
fn agentic_requests_outside_the_service_model_are_refused_like_the_service() {
    let bedrock = FakeBedrock::start();
    rc::install(&bedrock);
    let mut cases = Vec::new();
    let base = agentic_body("travel");
    let with = |path: &str, value: Value| {
        let mut b = base.clone();
        *b.pointer_mut(path).unwrap() = value;
        b
    };
    cases.push(with("/generateResponse", json!("yes")));
    cases.push(with(
        "/agenticRetrieveConfiguration/maxAgentIteration",
        json!(-1),
    ));
    cases.push(with(
        "/agenticRetrieveConfiguration",
        json!({"rerankingModelType": "CUSTOM"}),
    ));
    cases.push(with(
        "/agenticRetrieveConfiguration",
        json!({"foundationModelType": "BIG"}),
    ));
    cases.push(with("/messages", json!([])));
    cases.push(with("/messages/0/role", json!("system")));
    cases.push(with("/retrievers", json!([])));
    cases.push(with(
        "/retrievers/0/configuration/knowledgeBase/knowledgeBaseId",
        json!("KB-FAKE-0001"),
    ));
    let mut unknown = base.clone();
    unknown["maxResults"] = json!(5);
    cases.push(unknown);
    let mut missing = base.clone();
    missing
        .as_object_mut()
        .unwrap()
        .remove("agenticRetrieveConfiguration");
    cases.push(missing);
    let mut guard = base.clone();
    guard["policyConfiguration"] =
        json!({"bedrockGuardrailConfiguration": {"guardrailId": "abc", "guardrailVersion": "01"}});
    cases.push(guard);
    for body in cases {
        let (status, v, kind) = json_of(post(&bedrock, "/agenticRetrieveStream", &body));
        assert_eq!(
            (status, kind.as_str()),
            (400, "ValidationException"),
            "{body}: {v}"
        );
    }
    assert_eq!(bedrock.agentic_started(), 0);
    // A vector knowledge base does not support it; an unknown one does not exist.
    bedrock.set_kb_type("VECTOR");
    let (status, v, _) = json_of(post(&bedrock, "/agenticRetrieveStream", &base));
    assert_eq!(status, 400);
    assert!(v["message"]
        .as_str()
        .unwrap()
        .contains("does not support agentic retrieval"));
    let unknown_kb = with(
        "/retrievers/0/configuration/knowledgeBase/knowledgeBaseId",
        json!("KBNOTHERE1"),
    );
    let (status, _, kind) = json_of(post(&bedrock, "/agenticRetrieveStream", &unknown_kb));
    assert_eq!((status, kind.as_str()), (404, "ResourceNotFoundException"));
}

#[test]
fn cut_corrupt_exception_and_held_streams_behave_as_scripted() {
    let bedrock = FakeBedrock::start();
    rc::install(&bedrock);
    let body = agentic_body("travel handbook rules");

    bedrock.push_agentic(Script::Cut);
    let (bytes, _) = stream_bytes(post(&bedrock, "/agenticRetrieveStream", &body));
    let (got, rest) = frames(&bytes);
    assert_eq!(got.len(), 1, "only the first trace event is whole");
    assert_eq!(rest.as_deref(), Some("truncated"));

    bedrock.push_agentic(Script::BadCrc);
    let (bytes, _) = stream_bytes(post(&bedrock, "/agenticRetrieveStream", &body));
    assert_eq!(frames(&bytes).1.as_deref(), Some("message CRC mismatch"));
    bedrock.push_agentic(Script::BadPreludeCrc);
    let (bytes, _) = stream_bytes(post(&bedrock, "/agenticRetrieveStream", &body));
    assert_eq!(frames(&bytes).1.as_deref(), Some("prelude CRC mismatch"));

    bedrock.push_agentic(Script::Exception("throttlingException".into()));
    let (bytes, clean) = stream_bytes(post(&bedrock, "/agenticRetrieveStream", &body));
    assert!(clean);
    let (got, rest) = frames(&bytes);
    assert_eq!(rest, None);
    assert_eq!(got.last().unwrap().0, "throttlingException");
    assert_eq!(got.last().unwrap().1["message"], "Rate exceeded");

    // Held: the client leaves, and the fake sees its stream closed.
    bedrock.push_agentic(Script::Hold);
    let mut r = post(&bedrock, "/agenticRetrieveStream", &body);
    let mut first = [0u8; 16];
    r.body_mut().as_reader().read_exact(&mut first).unwrap();
    assert_eq!(bedrock.agentic_open(), 1);
    drop(r);
    assert!(bedrock.wait_until(Duration::from_secs(30), |b| b.agentic_client_closed() == 1));
    assert_eq!(bedrock.agentic_open(), 0);

    // Held, then released: the stream completes.
    bedrock.push_agentic(Script::Hold);
    let r = post(&bedrock, "/agenticRetrieveStream", &body);
    assert!(bedrock.wait_until(Duration::from_secs(30), |b| b.agentic_open() == 1));
    bedrock.release_agentic();
    let (bytes, clean) = stream_bytes(r);
    assert!(clean);
    assert_eq!(frames(&bytes).0.last().unwrap().0, "result");
}

#[test]
fn retrieve_pages_with_a_next_token_bound_to_its_query() {
    let bedrock = FakeBedrock::start();
    rc::install(&bedrock);
    let path = format!("/knowledgebases/{KB_ID}/retrieve");
    let ask = |token: Option<&Value>, query: &str| {
        let mut body = json!({"retrievalQuery": {"text": query},
            "retrievalConfiguration": {"managedSearchConfiguration": {"numberOfResults": 5}}});
        if let Some(t) = token {
            body["nextToken"] = t.clone();
        }
        json_of(post(&bedrock, &path, &body))
    };
    let mut seen = Vec::new();
    let mut token = None;
    for page in 0..3 {
        let (status, v, _) = ask(token.as_ref(), rc::NOTES_WORD);
        assert_eq!(status, 200, "{v}");
        for r in v["retrievalResults"].as_array().unwrap() {
            seen.push(r["content"]["text"].as_str().unwrap().to_string());
        }
        token = v.get("nextToken").cloned();
        assert_eq!(token.is_some(), page < 2, "page {page}: {v}");
        if page == 0 {
            let (status, _, kind) = ask(token.as_ref(), "travel handbook");
            assert_eq!((status, kind.as_str()), (400, "ValidationException"));
        }
    }
    assert_eq!(seen.len(), rc::NOTES);
    for i in 1..=rc::NOTES {
        assert_eq!(
            seen.iter()
                .filter(|t| t.contains(&rc::note_marker(i)))
                .count(),
            1
        );
    }
}

#[test]
fn extracted_content_is_a_presigned_loopback_json_that_expires() {
    let bedrock = FakeBedrock::start();
    rc::install(&bedrock);
    let doc = |id: &str, ds: &str, body: Value| {
        let id: String = id
            .bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect();
        json_of(post(
            &bedrock,
            &format!("/knowledgebases/{KB_ID}/datasources/{ds}/documents/{id}/content"),
            &body,
        ))
    };
    let (status, v, _) = doc(
        rc::HANDBOOK_ID,
        rc::POLICY_DS,
        json!({"outputFormat": "EXTRACTED"}),
    );
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["mimeType"], "application/json");
    let url = v["presignedUrl"].as_str().unwrap().to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let get = |url: &str, auth: Option<&str>| {
        let mut req = ureq::http::Request::builder().method("GET").uri(url);
        if let Some(a) = auth {
            req = req.header("Authorization", a);
        }
        let mut r = agent().run(req.body(()).unwrap()).unwrap();
        let status = r.status().as_u16();
        (status, r.body_mut().read_to_string().unwrap())
    };
    let (status, body) = get(&url, None);
    assert_eq!(status, 200);
    assert_eq!(
        body.len() as u64,
        v["documentContentLength"].as_u64().unwrap()
    );
    let parsed: Value = serde_json::from_str(&body).unwrap();
    let parts = parsed["nonPlainTextDocumentContent"].as_array().unwrap();
    let text: Vec<&str> = parts.iter().map(|p| p["text"].as_str().unwrap()).collect();
    assert_eq!(text.join("\n\n"), rc::handbook_text());
    // S3's refusals: no query signature, two auth mechanisms, a changed path, expiry.
    let bare = url.split('?').next().unwrap();
    let (status, body) = get(bare, None);
    assert_eq!(status, 403);
    assert!(body.contains("<Code>AccessDenied</Code>"), "{body}");
    let (status, body) = get(&url, Some("AWS4-HMAC-SHA256 Credential=x"));
    assert_eq!(status, 400);
    assert!(body.contains("InvalidArgument"), "{body}");
    let (status, body) = get(&url.replace(".json?", "x.json?"), None);
    assert_eq!(status, 403);
    assert!(body.contains("SignatureDoesNotMatch"), "{body}");
    bedrock.set_presign_ttl(Duration::ZERO);
    let (_, v, _) = doc(
        rc::GUIDE_ID,
        rc::POLICY_DS,
        json!({"outputFormat": "EXTRACTED"}),
    );
    let (status, body) = get(v["presignedUrl"].as_str().unwrap(), None);
    assert_eq!(status, 403);
    assert!(body.contains("Request has expired"), "{body}");
    bedrock.set_presign_ttl(Duration::from_secs(300));

    // ACLs decide; missing documents, media ids and video are refused as the model says.
    let salary = |user: &str| {
        doc(
            rc::SALARY_REVIEW_ID,
            "DSHRDOCS01",
            json!({"outputFormat": "EXTRACTED", "userContext": {"userId": user}}),
        )
    };
    assert_eq!(salary(ALICE).0, 200);
    assert_eq!(salary(BOB).0, 403);
    let (status, _, kind) = doc(
        "nope.pdf",
        rc::POLICY_DS,
        json!({"outputFormat": "EXTRACTED"}),
    );
    assert_eq!((status, kind.as_str()), (404, "ResourceNotFoundException"));
    let (status, _, kind) = doc(
        rc::FLOOR_PLAN_ID,
        "DSFACIL001",
        json!({"outputFormat": "EXTRACTED", "mediaId": rc::FLOOR_PLAN_MEDIA}),
    );
    assert_eq!((status, kind.as_str()), (400, "ValidationException"));
    let (status, v, _) = doc(
        rc::VIDEO_ID,
        "DSMEDIA001",
        json!({"outputFormat": "EXTRACTED"}),
    );
    assert_eq!(status, 400);
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("Use outputFormat RAW"),
        "{v}"
    );
    // The image itself (RAW + mediaId) also downloads from loopback.
    let (status, v, _) = doc(
        rc::FLOOR_PLAN_ID,
        "DSFACIL001",
        json!({"outputFormat": "RAW", "mediaId": rc::FLOOR_PLAN_MEDIA}),
    );
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["mimeType"], "image/png");
    let mut r = agent()
        .get(v["presignedUrl"].as_str().unwrap())
        .call()
        .unwrap();
    let png = r.body_mut().read_to_vec().unwrap();
    assert_eq!(&png[1..4], b"PNG");
    assert_eq!(bedrock.downloads_served(), 2);
}
