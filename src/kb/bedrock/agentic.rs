//! AgenticRetrieveStream: the request body (retrievers, the user's message, reranking,
//! iterations, the user's context and the guardrail), and the answer read as it streams:
//! a reader thread decodes event-stream messages (`eventstream.rs`) and hands them over a
//! small channel, while the caller's thread reports progress at least every
//! [`PROGRESS_EVERY`], watches for cancellation and the deadline, and gathers steps,
//! results and the generated answer within a memory cap.
//!
//! On cancellation or the deadline the caller returns at once and drops the channel; the
//! caller (`mod.rs`) then shuts the call's HTTP agent down, which closes the connection to
//! Bedrock and ends the reader thread's blocked read.

use super::eventstream::{Frame, FrameError, Frames, Kind};
use crate::config::bedrock::{Rerank, RetrieveSettings};
use crate::kb::agentic::{Answer, Citation, Control, Request, Step, PROGRESS_EVERY};
use crate::kb::{Location, Passage};
use serde_json::{json, Map, Value};
use std::io::Read;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

/// The largest message accepted from the stream.
pub(super) const MAX_MESSAGE: usize = 2 << 20;
/// The most payload bytes one call keeps (steps, results, answer); past it, steps and
/// results are dropped (and the answer says so).
pub(super) const MAX_KEPT: usize = 2 << 20;
/// Messages waiting between the reader thread and the caller.
const CHANNEL: usize = 8;
/// Stack of the reader thread: it decodes messages and parses their JSON.
const READER_STACK: usize = 256 << 10;

/// Metadata keys that may name a result's source, document and data source.
const SOURCE_KEYS: [&str; 5] = [
    "x-amz-bedrock-kb-source-uri",
    "_source_uri",
    "sourceUri",
    "uri",
    "url",
];
const DOCUMENT_KEYS: [&str; 3] = ["x-amz-bedrock-kb-document-id", "_document_id", "documentId"];
const DATA_SOURCE_KEYS: [&str; 2] = ["_data_source_id", "x-amz-bedrock-kb-data-source-id"];

/// The request body. `kb_ids` are the ids to search (already checked).
pub(super) fn body(settings: &RetrieveSettings, r: &Request<'_>, kb_ids: &[&str]) -> Value {
    let retrievers: Vec<Value> = kb_ids
        .iter()
        .map(|id| json!({ "configuration": { "knowledgeBase": { "knowledgeBaseId": id } } }))
        .collect();
    let mut config = json!({});
    match (&settings.rerank, settings.rerank_model()) {
        (_, Some(arn)) => {
            config["rerankingModelType"] = json!("CUSTOM");
            config["rerankingConfiguration"] = json!({
                "type": "BEDROCK_RERANKING_MODEL",
                "bedrockRerankingConfiguration": { "modelConfiguration": { "modelArn": arn } }
            });
        }
        (Rerank::Off, None) => config["rerankingModelType"] = json!("NONE"),
        (Rerank::Managed, None) => config["rerankingModelType"] = json!("MANAGED"),
        _ => {}
    }
    if let Some(n) = r.max_iterations {
        config["maxAgentIteration"] = json!(n);
    }
    let mut body = json!({
        "retrievers": retrievers,
        "messages": [{ "role": "user", "content": { "text": r.query } }],
        "agenticRetrieveConfiguration": config,
        "generateResponse": r.generate_response,
    });
    super::request::add_user_context(&mut body, r.user_id);
    if let Some((id, version)) = &settings.guardrail {
        body["policyConfiguration"] = json!({
            "bedrockGuardrailConfiguration": { "guardrailId": id, "guardrailVersion": version }
        });
    }
    body
}

/// What the reader thread hands over.
type Item = Result<Option<Frame>, FrameError>;

/// Why a stream ended without an answer, before it is worded as a [`KbError`].
pub(super) enum Stop {
    /// The caller cancelled.
    Cancelled,
    /// AGENTIC_TIMEOUT_SECS passed.
    Deadline,
    /// The stream broke (cut, corrupted, unreadable).
    Broken(String),
    /// Bedrock sent an exception or error event: (exception type, payload).
    Exception(String, Vec<u8>),
    /// The stream ended without a result event.
    NoResult,
}

/// Reads `reader` to the end, reporting to `control`; gives up at `deadline`.
pub(super) fn read<R: Read + Send + 'static>(
    reader: R,
    control: &mut dyn Control,
    deadline: Instant,
) -> Result<Answer, Stop> {
    let (tx, rx) = mpsc::sync_channel::<Item>(CHANNEL);
    let spawned = std::thread::Builder::new()
        .name("agentic-read".into())
        .stack_size(READER_STACK)
        .spawn(move || {
            let mut frames = Frames::new(reader, MAX_MESSAGE);
            loop {
                let item = frames.next_frame();
                let last = !matches!(item, Ok(Some(_)));
                // A closed channel means the caller is gone: dropping `frames` closes the stream.
                if tx.send(item).is_err() || last {
                    return;
                }
            }
        });
    if let Err(e) = spawned {
        return Err(Stop::Broken(format!("cannot start a reader thread ({e})")));
    }
    let mut gather = Gather::default();
    let mut last_report = Instant::now();
    control.progress("Agentic search started");
    loop {
        if control.cancelled() {
            return Err(Stop::Cancelled);
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(Stop::Deadline);
        }
        let wait = PROGRESS_EVERY
            .saturating_sub(now.duration_since(last_report))
            .min(deadline - now)
            .max(Duration::from_millis(10));
        match rx.recv_timeout(wait) {
            Ok(Ok(Some(frame))) => {
                let news = gather.take(frame)?;
                if let Some(message) = news {
                    control.progress(&message);
                    last_report = Instant::now();
                }
            }
            Ok(Ok(None)) => return gather.finish(),
            // The connection's own backstop timeout can fire as the deadline passes: that is
            // the deadline, and the caller should hear which setting to raise.
            Ok(Err(_)) if Instant::now() >= deadline => return Err(Stop::Deadline),
            Ok(Err(e)) => {
                return Err(Stop::Broken(match e {
                    FrameError::Truncated => {
                        "the stream was cut off in the middle of a message".to_string()
                    }
                    FrameError::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => {
                        format!("the stream went silent and was given up ({io})")
                    }
                    FrameError::Io(io) => format!("the stream was cut off ({io})"),
                    other => other.to_string(),
                }))
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                return Err(Stop::Broken("the stream reader stopped".into()))
            }
        }
        if last_report.elapsed() >= PROGRESS_EVERY {
            control.progress(&gather.latest);
            last_report = Instant::now();
        }
    }
}

/// What the stream has said so far.
#[derive(Default)]
struct Gather {
    answer: Answer,
    /// responseEvent texts, for an answer that arrives only that way.
    streamed: String,
    seen_result: bool,
    kept: usize,
    latest: String,
}

impl Gather {
    /// Takes one message; a progress message when it is news.
    fn take(&mut self, frame: Frame) -> Result<Option<String>, Stop> {
        let event = match frame.kind {
            Kind::Event(t) => t,
            Kind::Exception(t) => return Err(Stop::Exception(t, frame.payload)),
            Kind::Error(code, message) => {
                let payload = json!({ "message": message }).to_string().into_bytes();
                return Err(Stop::Exception(code, payload));
            }
        };
        let fits = self.kept + frame.payload.len() <= MAX_KEPT;
        if fits {
            self.kept += frame.payload.len();
        }
        let parse = || -> Result<Value, Stop> {
            serde_json::from_slice(&frame.payload)
                .map_err(|e| Stop::Broken(format!("a {event} event is not JSON ({e})")))
        };
        match event.as_str() {
            "traceEvent" => {
                let v = parse()?;
                let step = step(&v);
                let news = format!("{} {}: {}", step.step, step.status, step.message);
                if fits {
                    self.answer.steps.push(step);
                } else {
                    self.answer.truncated = true;
                }
                self.latest = news.clone();
                Ok(Some(news))
            }
            "result" => {
                let v = parse()?;
                self.seen_result = true;
                if fits {
                    self.result(&v);
                } else {
                    self.answer.truncated = true;
                }
                let news = format!("{} result(s) received", self.answer.results.len());
                self.latest = news.clone();
                Ok(Some(news))
            }
            "responseEvent" => {
                let v = parse()?;
                if let Some(t) = v.get("text").and_then(Value::as_str) {
                    if fits {
                        self.streamed.push_str(t);
                    } else {
                        self.answer.truncated = true;
                    }
                }
                Ok(None)
            }
            // Event types added after this server was written are skipped.
            _ => Ok(None),
        }
    }

    fn result(&mut self, v: &Value) {
        let offset = self.answer.results.len();
        for item in v
            .get("results")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            self.answer.results.push(result_item(item));
        }
        if let Some(g) = v.get("generatedResponse") {
            if let Some(a) = g.get("answer").and_then(Value::as_str) {
                let answer = self.answer.answer.get_or_insert_with(String::new);
                answer.push_str(a);
            }
            for c in g
                .get("citations")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let int = |k: &str| c.get(k).and_then(Value::as_i64).unwrap_or(0);
                let results = c
                    .get("references")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|r| r.get("resultIndex").and_then(Value::as_u64))
                    .map(|i| offset + i as usize)
                    .filter(|&i| i < self.answer.results.len())
                    .collect();
                self.answer.citations.push(Citation {
                    start: int("startIndex"),
                    end: int("endIndex"),
                    results,
                });
            }
        }
    }

    fn finish(mut self) -> Result<Answer, Stop> {
        if !self.seen_result {
            return Err(Stop::NoResult);
        }
        if self.answer.answer.is_none() && !self.streamed.is_empty() {
            self.answer.answer = Some(self.streamed);
        }
        Ok(self.answer)
    }
}

/// A trace event's step: the message with its failures and warnings.
fn step(v: &Value) -> Step {
    let a = v.get("attributes").unwrap_or(&Value::Null);
    let text = |k: &str| {
        a.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let mut message = text("message");
    for f in a
        .get("failures")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(m) = f.get("message").and_then(Value::as_str) {
            message.push_str(&format!(" (failed: {m})"));
        }
    }
    for w in a
        .get("warnings")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(g) = w.get("guardrail") {
            let action = g.get("action").and_then(Value::as_str).unwrap_or("?");
            message.push_str(&format!(" (guardrail {action})"));
        } else if let Some(m) = w.pointer("/message/message").and_then(Value::as_str) {
            message.push_str(&format!(" (warning: {m})"));
        }
    }
    for action in a
        .get("actions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(d) = action
            .pointer("/fullDocumentExpansion/documentId")
            .and_then(Value::as_str)
        {
            message.push_str(&format!(" (read whole document {d})"));
        }
        if let Some(q) = action
            .pointer("/retrieve/inputQuery/text")
            .and_then(Value::as_str)
        {
            message.push_str(&format!(" (searched for {q:?})"));
        }
    }
    let mut step = text("step");
    if step.is_empty() {
        step = "Step".into();
    }
    Step {
        step,
        status: text("status"),
        message: message.trim().to_string(),
    }
}

/// One result item as a passage, and the knowledge base that found it.
fn result_item(item: &Value) -> (Passage, Option<String>) {
    let content = item.get("content").unwrap_or(&Value::Null);
    let metadata: Map<String, Value> = item
        .get("metadata")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let first = |keys: &[&str]| {
        keys.iter()
            .find_map(|k| metadata.get(*k).and_then(Value::as_str))
            .map(str::to_string)
    };
    let uri = first(&SOURCE_KEYS);
    let location = uri.map(|u| Location {
        kind: if u.starts_with("s3://") {
            "S3".into()
        } else if u.starts_with("http://") || u.starts_with("https://") {
            "WEB".into()
        } else {
            "SOURCE".into()
        },
        uri: Some(u),
    });
    let passage = Passage {
        text: content
            .get("text")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        content_type: content
            .get("mimeType")
            .and_then(Value::as_str)
            .unwrap_or("text/plain")
            .to_string(),
        location,
        document_id: first(&DOCUMENT_KEYS),
        data_source_id: first(&DATA_SOURCE_KEYS),
        media_id: first(&["_media_id"]),
        metadata,
        ..Passage::default()
    };
    let kb = item
        .pointer("/sourceRetriever/identifier")
        .and_then(Value::as_str)
        .map(str::to_string);
    (passage, kb)
}

/// The HTTP status the service model gives each exception event, and the error code our
/// error wording knows it by.
pub(super) fn exception_status(exception: &str) -> (u16, String) {
    let status = match exception {
        "accessDeniedException" => 403,
        "badGatewayException" => 502,
        "conflictException" => 409,
        "dependencyFailedException" => 424,
        "internalServerException" => 500,
        "resourceNotFoundException" => 404,
        "serviceQuotaExceededException" | "validationException" => 400,
        "throttlingException" => 429,
        _ => 500,
    };
    let mut code = exception.to_string();
    if let Some(first) = code.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    (status, code)
}

#[cfg(test)]
mod tests {
    use super::super::eventstream::tests::{encode, event};
    use super::*;
    use crate::config::bedrock::retrieve_settings;
    use crate::config::Vars;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    struct Recorder {
        seen: Vec<String>,
        cancel: Arc<AtomicBool>,
    }

    impl Control for Recorder {
        fn progress(&mut self, message: &str) {
            self.seen.push(message.to_string());
        }
        fn cancelled(&self) -> bool {
            self.cancel.load(Ordering::Acquire)
        }
    }

    fn recorder() -> Recorder {
        Recorder {
            seen: Vec::new(),
            cancel: Arc::new(AtomicBool::new(false)),
        }
    }

    fn run(bytes: Vec<u8>) -> (Result<Answer, Stop>, Vec<String>) {
        let mut r = recorder();
        let out = read(
            std::io::Cursor::new(bytes),
            &mut r,
            Instant::now() + Duration::from_secs(30),
        );
        (out, r.seen)
    }

    const TRACE: &str = r#"{"id":"t1","timestamp":1,"attributes":{"step":"Retrieval","status":"SUCCEEDED","message":"searched","actions":[{"retrieve":{"inputQuery":{"text":"travel 2024"},"sourceRetrievers":[{"identifier":"KBFAKE0001"}]}}]}}"#;
    const RESULT: &str = r#"{"results":[
        {"content":{"text":"Trains under 4 hours.","mimeType":"text/plain"},
         "metadata":{"x-amz-bedrock-kb-source-uri":"s3://b/t.pdf","x-amz-bedrock-kb-document-id":"t.pdf","x-amz-bedrock-kb-data-source-id":"DS1"},
         "sourceRetriever":{"identifier":"KBFAKE0001"}}],
        "generatedResponse":{"answer":"Take the train.","citations":[{"startIndex":0,"endIndex":15,"references":[{"resultIndex":0},{"resultIndex":7}]}]}}"#;

    #[test]
    fn builds_the_request_per_the_service_model() {
        let s = retrieve_settings(
            &Vars::from_pairs([
                ("BEDROCK_RERANK_MODEL", "amazon.rerank-v1:0"),
                ("BEDROCK_GUARDRAIL_ID", "gr1"),
                ("BEDROCK_GUARDRAIL_VERSION", "2"),
            ]),
            "eu-west-1",
        )
        .unwrap();
        let ids = ["KBFAKE0001".to_string(), "KBFAKE0002".to_string()];
        let r = Request {
            query: "compare travel policies",
            kb_ids: &ids,
            generate_response: true,
            max_iterations: Some(4),
            user_id: Some("a@example.com"),
            identity: None,
        };
        assert_eq!(
            body(&s, &r, &["KBFAKE0001", "KBFAKE0002"]),
            json!({
                "retrievers": [
                    {"configuration": {"knowledgeBase": {"knowledgeBaseId": "KBFAKE0001"}}},
                    {"configuration": {"knowledgeBase": {"knowledgeBaseId": "KBFAKE0002"}}}
                ],
                "messages": [{"role": "user", "content": {"text": "compare travel policies"}}],
                "agenticRetrieveConfiguration": {
                    "rerankingModelType": "CUSTOM",
                    "rerankingConfiguration": {"type": "BEDROCK_RERANKING_MODEL",
                        "bedrockRerankingConfiguration": {"modelConfiguration": {
                            "modelArn": "arn:aws:bedrock:eu-west-1::foundation-model/amazon.rerank-v1:0"}}},
                    "maxAgentIteration": 4
                },
                "generateResponse": true,
                "userContext": {"userId": "a@example.com"},
                "policyConfiguration": {"bedrockGuardrailConfiguration": {"guardrailId": "gr1", "guardrailVersion": "2"}}
            })
        );
        let plain = retrieve_settings(&Vars::default(), "eu-west-1").unwrap();
        let r = Request {
            generate_response: false,
            max_iterations: None,
            user_id: None,
            ..r
        };
        assert_eq!(
            body(&plain, &r, &["KBFAKE0001"]),
            json!({
                "retrievers": [{"configuration": {"knowledgeBase": {"knowledgeBaseId": "KBFAKE0001"}}}],
                "messages": [{"role": "user", "content": {"text": "compare travel policies"}}],
                "agenticRetrieveConfiguration": {},
                "generateResponse": false
            })
        );
    }

    #[test]
    fn gathers_steps_results_answer_and_citations() {
        let mut bytes = event("traceEvent", TRACE);
        bytes.extend(event("someFutureEvent", "{}"));
        bytes.extend(event("result", RESULT));
        let (out, seen) = run(bytes);
        let Ok(a) = out else { panic!("an answer") };
        assert_eq!(a.steps.len(), 1);
        assert!(
            a.steps[0].message.contains("searched for \"travel 2024\""),
            "{:?}",
            a.steps
        );
        assert_eq!(a.results.len(), 1);
        let (p, kb) = &a.results[0];
        assert_eq!(kb.as_deref(), Some("KBFAKE0001"));
        assert_eq!(p.document_id.as_deref(), Some("t.pdf"));
        assert_eq!(p.data_source_id.as_deref(), Some("DS1"));
        assert_eq!(p.location.as_ref().unwrap().kind, "S3");
        assert_eq!(a.answer.as_deref(), Some("Take the train."));
        assert_eq!(
            a.citations[0].results,
            vec![0],
            "an index past the results is dropped"
        );
        assert!(
            seen.iter().any(|s| s.starts_with("Retrieval SUCCEEDED")),
            "{seen:?}"
        );
    }

    #[test]
    fn exceptions_cuts_corruption_and_a_missing_result_stop_the_call() {
        let mut bytes = event("traceEvent", TRACE);
        bytes.extend(encode(
            &[
                (":message-type", "exception"),
                (":exception-type", "throttlingException"),
            ],
            Vec::new(),
            br#"{"message":"Rate exceeded"}"#,
        ));
        assert!(matches!(run(bytes).0, Err(Stop::Exception(t, _)) if t == "throttlingException"));
        let whole = event("result", RESULT);
        assert!(
            matches!(run(whole[..whole.len() - 3].to_vec()).0, Err(Stop::Broken(m)) if m.contains("cut off"))
        );
        let mut bad = whole.clone();
        let at = bad.len() - 10;
        bad[at] ^= 1;
        assert!(matches!(run(bad).0, Err(Stop::Broken(m)) if m.contains("corrupted")));
        assert!(matches!(
            run(event("traceEvent", TRACE)).0,
            Err(Stop::NoResult)
        ));
        assert!(
            matches!(run(event("result", "not json")).0, Err(Stop::Broken(m)) if m.contains("not JSON"))
        );
        assert_eq!(
            exception_status("validationException"),
            (400, "ValidationException".into())
        );
        assert_eq!(exception_status("accessDeniedException").0, 403);
    }

    #[test]
    fn a_silent_stream_still_reports_progress_and_honours_cancel_and_deadline() {
        /// A stream that never sends anything (until dropped).
        struct Silent(std::sync::mpsc::Receiver<()>);
        impl Read for Silent {
            fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
                let _ = self.0.recv();
                Ok(0)
            }
        }
        let (_keep, rx) = std::sync::mpsc::channel::<()>();
        let mut r = recorder();
        let start = Instant::now();
        let out = read(Silent(rx), &mut r, start + Duration::from_millis(3_400));
        assert!(matches!(out, Err(Stop::Deadline)));
        assert!(
            r.seen.len() >= 3,
            "a report at the start and every 1.5 s: {:?}",
            r.seen
        );
        let (_keep, rx) = std::sync::mpsc::channel::<()>();
        let mut r = recorder();
        r.cancel.store(true, Ordering::Release);
        let start = Instant::now();
        let out = read(Silent(rx), &mut r, start + Duration::from_secs(60));
        assert!(matches!(out, Err(Stop::Cancelled)));
        assert!(start.elapsed() < Duration::from_secs(5));
    }
}
