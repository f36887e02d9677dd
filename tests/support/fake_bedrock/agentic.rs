//! The fake's `AgenticRetrieveStream` (`POST /agenticRetrieveStream`, botocore 1.44.18):
//! the request body is checked member by member against the service model (unknown
//! members, wrong types, patterns and ranges are a 400 ValidationException, as the service
//! answers), then the answer is a real `application/vnd.amazon.eventstream` body written
//! frame by frame with chunked transfer encoding and a flush per frame.
//!
//! A normal stream: `traceEvent`s (Planning, one Retrieval per iteration, FullDocumentExpansion),
//! `responseEvent`s with the answer text, then one `result` event with `results`,
//! `generatedResponse {answer, citations}` (unless `generateResponse: false`) and `nextToken`
//! when more results exist (bound to the same messages and retrievers). Results carry no
//! location: the fake puts `x-amz-bedrock-kb-source-uri`, `x-amz-bedrock-kb-document-id` and
//! the data source id in their metadata. Scripts (a FIFO, then a default) make a stream
//! slow, held (silent, or with a trace event every interval), cut mid-frame, corrupt, or end
//! in a modelled exception event.
//!
//! Knowledge bases whose type is not in the supported set (default: MANAGED only) are
//! refused before the stream with a ValidationException: the service model does not say
//! which types support agentic retrieval, and every peer documents it for managed
//! knowledge bases; the wording is ours.

use super::super::fake_server::{reply, Incoming, Reply};
use super::answers::error;
use super::corpus::{self, FakeDoc};
use super::eventstream;
use super::socket::Conn;
use super::{FakeBedrock, KbView, Shared, KB_ID};
use serde_json::{json, Map, Value};
use std::collections::VecDeque;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The eight exception members of the stream union, as `:exception-type` names them.
pub const EXCEPTIONS: [&str; 8] = [
    "accessDeniedException",
    "badGatewayException",
    "conflictException",
    "dependencyFailedException",
    "internalServerException",
    "resourceNotFoundException",
    "serviceQuotaExceededException",
    "throttlingException",
];
// validationException is the ninth; kept apart so EXCEPTIONS lists the failures a client
// cannot cause by what it sent.
/// The validation exception member.
pub const VALIDATION_EXCEPTION: &str = "validationException";

/// The message the full-document step fails with when no user is given (bedrock-2026.md).
pub const ACL_EXPANSION_FAILURE: &str = "UserContext is required for ACL-aware data sources";

/// How one stream behaves.
#[derive(Clone, Debug, PartialEq)]
pub enum Script {
    /// Every event at once.
    Normal,
    /// `gap` between consecutive events (the client must keep its own client informed).
    Slow(Duration),
    /// The first trace event, then nothing until `release_agentic` (or the client leaves).
    Hold,
    /// Like `Hold`, but a `Retrieval IN_PROGRESS` trace event every interval meanwhile, as
    /// a working service sends.
    HoldBeating(Duration),
    /// The first trace events, then this exception event (a member of the stream union,
    /// e.g. "throttlingException"), then the end of the stream.
    Exception(String),
    /// The first trace events, then an `:message-type: error` message.
    ErrorMessage,
    /// The first trace event, then half of the next frame, then the connection is shut.
    Cut,
    /// The first trace event, then a frame whose message CRC is wrong, then the rest.
    BadCrc,
    /// The first trace event, then a frame whose prelude CRC is wrong.
    BadPreludeCrc,
}

/// The agentic side of the fake's state.
pub struct Agentic {
    queue: Mutex<VecDeque<Script>>,
    default: Mutex<Script>,
    supported: Mutex<Vec<String>>,
    /// Bumped by every `release_agentic`; a held stream waits for a bump.
    releases: Mutex<u64>,
    gate: Condvar,
    local: OnceLock<SocketAddr>,
    started: AtomicUsize,
    open: AtomicUsize,
    finished: AtomicUsize,
    client_closed: AtomicUsize,
    refused: AtomicUsize,
}

impl Default for Agentic {
    fn default() -> Agentic {
        Agentic {
            queue: Mutex::new(VecDeque::new()),
            default: Mutex::new(Script::Normal),
            supported: Mutex::new(vec!["MANAGED".into()]),
            releases: Mutex::new(0),
            gate: Condvar::new(),
            local: OnceLock::new(),
            started: AtomicUsize::new(0),
            open: AtomicUsize::new(0),
            finished: AtomicUsize::new(0),
            client_closed: AtomicUsize::new(0),
            refused: AtomicUsize::new(0),
        }
    }
}

impl Agentic {
    /// Tells the fake its own address (to find a stream's socket).
    pub fn set_local(&self, url: &str) {
        if let Ok(addr) = url.trim_start_matches("http://").parse() {
            let _ = self.local.set(addr);
        }
    }
}

/// Agentic controls and observations on the fake.
impl FakeBedrock {
    /// Scripts the next agentic stream (FIFO; then the default).
    pub fn push_agentic(&self, script: Script) {
        self.shared.agentic.queue.lock().unwrap().push_back(script);
    }
    /// The script of every stream once the FIFO is empty (default `Normal`).
    pub fn set_agentic_default(&self, script: Script) {
        *self.shared.agentic.default.lock().unwrap() = script;
    }
    /// The knowledge-base types that support agentic retrieval (default: MANAGED).
    pub fn set_agentic_types(&self, types: &[&str]) {
        *self.shared.agentic.supported.lock().unwrap() =
            types.iter().map(|t| t.to_string()).collect();
    }
    /// Lets held streams (`Script::Hold`) go on; later ones are held again.
    pub fn release_agentic(&self) {
        let a = &self.shared.agentic;
        *a.releases.lock().unwrap() += 1;
        a.gate.notify_all();
    }
    /// Streams begun (requests that passed validation).
    pub fn agentic_started(&self) -> usize {
        self.shared.agentic.started.load(SeqCst)
    }
    /// Streams being written right now.
    pub fn agentic_open(&self) -> usize {
        self.shared.agentic.open.load(SeqCst)
    }
    /// Streams written to their end (normal, exception, error or corrupt).
    pub fn agentic_finished(&self) -> usize {
        self.shared.agentic.finished.load(SeqCst)
    }
    /// Streams the client closed before their end.
    pub fn agentic_client_closed(&self) -> usize {
        self.shared.agentic.client_closed.load(SeqCst)
    }
    /// Agentic requests refused before any stream (validation, unknown or unsupported KB).
    pub fn agentic_refused(&self) -> usize {
        self.shared.agentic.refused.load(SeqCst)
    }
    /// The bodies of the authenticated AgenticRetrieveStream requests, parsed, in order.
    pub fn agentic_bodies(&self) -> Vec<Value> {
        self.calls()
            .iter()
            .filter(|(op, _)| op == "AgenticRetrieveStream")
            .map(|(_, b)| serde_json::from_str(b).unwrap_or_default())
            .collect()
    }
    /// Waits until `cond` holds on the fake (at most `limit`, a hang guard); returns it.
    pub fn wait_until(&self, limit: Duration, cond: impl Fn(&FakeBedrock) -> bool) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if cond(self) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        cond(self)
    }
}

/// The knowledge base `id` as the fake serves it, if it does.
pub(super) fn kb_view(shared: &Shared, id: &str) -> Option<KbView> {
    let s = shared.state.lock().unwrap();
    if id == KB_ID {
        let (name, description, status) = s.kb.clone();
        return Some(KbView {
            id: id.into(),
            kb_type: s.kb_type.clone(),
            corpus: s.corpus.clone(),
            name,
            description,
            status,
        });
    }
    s.others.iter().find(|k| k.id == id).cloned()
}

// ---------------------------------------------------------------------------------------
// Validation against the service model.

fn invalid(path: &str, constraint: &str) -> String {
    format!(
        "1 validation error detected: Value at '{path}' failed to satisfy constraint: {constraint}"
    )
}

fn object<'a>(
    v: &'a Value,
    path: &str,
    allowed: &[&str],
) -> Result<&'a Map<String, Value>, String> {
    let o = v
        .as_object()
        .ok_or_else(|| invalid(path, "Member must be a structure"))?;
    if let Some(k) = o.keys().find(|k| !allowed.contains(&k.as_str())) {
        let at = if path.is_empty() {
            k.clone()
        } else {
            format!("{path}.{k}")
        };
        return Err(format!(
            "1 validation error detected: Unknown member '{at}'"
        ));
    }
    Ok(o)
}

fn required<'a>(o: &'a Map<String, Value>, path: &str, key: &str) -> Result<&'a Value, String> {
    o.get(key)
        .ok_or_else(|| invalid(&join(path, key), "Member must not be null"))
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.into()
    } else {
        format!("{path}.{key}")
    }
}

fn string<'a>(v: &'a Value, path: &str) -> Result<&'a str, String> {
    v.as_str()
        .ok_or_else(|| invalid(path, "Member must be a string"))
}

fn one_of(v: &Value, path: &str, allowed: &[&str]) -> Result<(), String> {
    let s = string(v, path)?;
    if allowed.contains(&s) {
        return Ok(());
    }
    Err(invalid(
        path,
        &format!(
            "Member must satisfy enum value set: [{}]",
            allowed.join(", ")
        ),
    ))
}

fn matches(
    v: &Value,
    path: &str,
    min: usize,
    max: usize,
    ok: impl Fn(&str) -> bool,
    pattern: &str,
) -> Result<(), String> {
    let s = string(v, path)?;
    let n = s.chars().count();
    if n < min || n > max {
        return Err(invalid(
            path,
            &format!("Member must have length between {min} and {max}"),
        ));
    }
    if !ok(s) {
        return Err(invalid(
            path,
            &format!("Member must satisfy regular expression pattern: {pattern}"),
        ));
    }
    Ok(())
}

fn lower_alnum(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

fn guardrail_version(s: &str) -> bool {
    s == "DRAFT" || (s.len() <= 8 && s.bytes().all(|b| b.is_ascii_digit()) && !s.starts_with('0'))
}

fn model_arn(v: &Value, path: &str) -> Result<(), String> {
    // The model's BedrockModelArn pattern is long; what matters here: ARNs and model ids
    // in lower case, no spaces.
    matches(
        v,
        path,
        1,
        2048,
        |s| !s.chars().any(|c| c.is_whitespace() || c.is_ascii_uppercase()),
        "^(arn:aws(-[^:]+)?:(bedrock|sagemaker):[a-z0-9-]{1,20}:([0-9]{12})?:([a-z-]+/)?)?([a-z0-9.-]{1,63}){0,2}(([:][a-z0-9-]{1,63}){0,2})?(/[a-z0-9]{1,12})?$",
    )
}

/// What the fake needs of a valid request.
struct Ask {
    query: String,
    kb_ids: Vec<String>,
    max_results: usize,
    filter: Option<Value>,
    generate: bool,
    user: Option<String>,
    guardrail: Option<(String, String)>,
    iterations: u64,
    rerank_arn: Option<String>,
    next_token: Option<String>,
}

fn validate(v: &Value) -> Result<Ask, String> {
    let top = object(
        v,
        "",
        &[
            "agenticRetrieveConfiguration",
            "generateResponse",
            "memoryConfiguration",
            "messages",
            "nextToken",
            "policyConfiguration",
            "retrievalInstructionConfiguration",
            "retrievers",
            "userContext",
        ],
    )?;
    let config = required(top, "", "agenticRetrieveConfiguration")?;
    let config = object(
        config,
        "agenticRetrieveConfiguration",
        &[
            "foundationModelConfiguration",
            "foundationModelType",
            "maxAgentIteration",
            "rerankingConfiguration",
            "rerankingModelType",
        ],
    )?;
    let p = "agenticRetrieveConfiguration";
    if let Some(t) = config.get("foundationModelType") {
        one_of(t, &join(p, "foundationModelType"), &["CUSTOM", "MANAGED"])?;
        if t == "CUSTOM" && !config.contains_key("foundationModelConfiguration") {
            return Err(format!(
                "foundationModelConfiguration is required when {p}.foundationModelType is CUSTOM"
            ));
        }
    }
    if let Some(fm) = config.get("foundationModelConfiguration") {
        let q = join(p, "foundationModelConfiguration");
        let fm = object(
            fm,
            &q,
            &[
                "bedrockFoundationModelConfiguration",
                "mantleFoundationModelConfiguration",
                "type",
            ],
        )?;
        one_of(
            required(fm, &q, "type")?,
            &join(&q, "type"),
            &["BEDROCK_FOUNDATION_MODEL", "MANTLE_FOUNDATION_MODEL"],
        )?;
    }
    let iterations = match config.get("maxAgentIteration") {
        None => 3,
        Some(n) => match n.as_i64() {
            Some(n) if n >= 0 => n as u64,
            Some(_) => {
                return Err(invalid(
                    &join(p, "maxAgentIteration"),
                    "Member must have value greater than or equal to 0",
                ))
            }
            None => {
                return Err(invalid(
                    &join(p, "maxAgentIteration"),
                    "Member must be an integer",
                ))
            }
        },
    };
    let rerank_type = match config.get("rerankingModelType") {
        Some(t) => {
            one_of(
                t,
                &join(p, "rerankingModelType"),
                &["CUSTOM", "MANAGED", "NONE"],
            )?;
            t.as_str().unwrap_or("")
        }
        None => "MANAGED",
    };
    let mut rerank_arn = None;
    match (rerank_type, config.get("rerankingConfiguration")) {
        ("CUSTOM", None) => {
            return Err(format!(
                "rerankingConfiguration is required when {p}.rerankingModelType is CUSTOM"
            ))
        }
        ("CUSTOM", Some(rc)) => {
            let q = join(p, "rerankingConfiguration");
            let rc = object(rc, &q, &["bedrockRerankingConfiguration", "type"])?;
            one_of(
                required(rc, &q, "type")?,
                &join(&q, "type"),
                &["BEDROCK_RERANKING_MODEL"],
            )?;
            let q = join(&q, "bedrockRerankingConfiguration");
            let brc = object(
                required(
                    rc,
                    &join(p, "rerankingConfiguration"),
                    "bedrockRerankingConfiguration",
                )?,
                &q,
                &["modelConfiguration"],
            )?;
            let q = join(&q, "modelConfiguration");
            let mc = object(required(brc, &q, "modelConfiguration")?, &q, &["modelArn"])?;
            let arn = required(mc, &q, "modelArn")?;
            model_arn(arn, &join(&q, "modelArn"))?;
            rerank_arn = arn.as_str().map(str::to_string);
        }
        (_, Some(_)) => {
            return Err(format!(
                "rerankingConfiguration is allowed only when {p}.rerankingModelType is CUSTOM"
            ))
        }
        _ => {}
    }

    let messages = required(top, "", "messages")?
        .as_array()
        .ok_or_else(|| invalid("messages", "Member must be a list"))?;
    if messages.is_empty() {
        return Err(invalid(
            "messages",
            "Member must have length greater than or equal to 1",
        ));
    }
    let mut query = None;
    for (i, m) in messages.iter().enumerate() {
        let q = format!("messages.{}.member", i + 1);
        let m = object(m, &q, &["content", "role"])?;
        one_of(
            required(m, &q, "role")?,
            &join(&q, "role"),
            &["user", "assistant"],
        )?;
        let c = object(required(m, &q, "content")?, &join(&q, "content"), &["text"])?;
        if let Some(t) = c.get("text") {
            let t = string(t, &join(&q, "content.text"))?;
            if m["role"] == "user" {
                query = Some(t.to_string());
            }
        }
    }
    let query = query.ok_or("messages must include a user message with content.text")?;
    if query.trim().is_empty() {
        return Err(invalid("messages.content.text", "Member must not be blank"));
    }

    let retrievers = required(top, "", "retrievers")?
        .as_array()
        .ok_or_else(|| invalid("retrievers", "Member must be a list"))?;
    if retrievers.is_empty() {
        return Err(invalid(
            "retrievers",
            "Member must have length greater than or equal to 1",
        ));
    }
    let mut kb_ids = Vec::new();
    let mut max_results = 5;
    let mut filter = None;
    for (i, r) in retrievers.iter().enumerate() {
        let q = format!("retrievers.{}.member", i + 1);
        let r = object(r, &q, &["configuration", "description"])?;
        if let Some(d) = r.get("description") {
            string(d, &join(&q, "description"))?;
        }
        let q = join(&q, "configuration");
        let c = object(required(r, &q, "configuration")?, &q, &["knowledgeBase"])?;
        let q = join(&q, "knowledgeBase");
        let kb = object(
            required(c, &q, "knowledgeBase")?,
            &q,
            &["knowledgeBaseId", "retrievalOverrides"],
        )?;
        let id = required(kb, &q, "knowledgeBaseId")?;
        matches(
            id,
            &join(&q, "knowledgeBaseId"),
            0,
            10,
            |s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric()),
            "^[0-9a-zA-Z]+$",
        )?;
        kb_ids.push(id.as_str().unwrap_or("").to_string());
        if let Some(o) = kb.get("retrievalOverrides") {
            let q = join(&q, "retrievalOverrides");
            let o = object(o, &q, &["filter", "maxNumberOfResults"])?;
            if let Some(n) = o.get("maxNumberOfResults") {
                match n.as_i64() {
                    Some(n) if n >= 1 => max_results = n as usize,
                    _ => {
                        return Err(invalid(
                            &join(&q, "maxNumberOfResults"),
                            "Member must have value greater than or equal to 1",
                        ))
                    }
                }
            }
            if let Some(f) = o.get("filter") {
                if !f.is_object() {
                    return Err(invalid(&join(&q, "filter"), "Member must be a structure"));
                }
                filter = Some(f.clone());
            }
        }
    }

    let generate = match top.get("generateResponse") {
        None => true,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(invalid("generateResponse", "Member must be a boolean")),
    };
    let user = match top.get("userContext") {
        None => None,
        Some(u) => {
            let u = object(u, "userContext", &["userId"])?;
            Some(string(required(u, "userContext", "userId")?, "userContext.userId")?.to_string())
        }
    };
    let guardrail = match top.get("policyConfiguration") {
        None => None,
        Some(pc) => {
            let pc = object(
                pc,
                "policyConfiguration",
                &["bedrockGuardrailConfiguration"],
            )?;
            match pc.get("bedrockGuardrailConfiguration") {
                None => None,
                Some(g) => {
                    let q = "policyConfiguration.bedrockGuardrailConfiguration";
                    let g = object(g, q, &["guardrailId", "guardrailVersion"])?;
                    let id = required(g, q, "guardrailId")?;
                    matches(
                        id,
                        &join(q, "guardrailId"),
                        0,
                        64,
                        lower_alnum,
                        "^[a-z0-9]+$",
                    )?;
                    let version = required(g, q, "guardrailVersion")?;
                    matches(
                        version,
                        &join(q, "guardrailVersion"),
                        1,
                        5,
                        guardrail_version,
                        "^(([1-9][0-9]{0,7})|(DRAFT))$",
                    )?;
                    Some((
                        id.as_str().unwrap_or("").into(),
                        version.as_str().unwrap_or("").into(),
                    ))
                }
            }
        }
    };
    let next_token = match top.get("nextToken") {
        None => None,
        Some(t) => {
            matches(
                t,
                "nextToken",
                1,
                2048,
                |s| !s.chars().any(char::is_whitespace),
                "^\\S*$",
            )?;
            t.as_str().map(str::to_string)
        }
    };
    if let Some(m) = top.get("memoryConfiguration") {
        let m = object(
            m,
            "memoryConfiguration",
            &[
                "memoryId",
                "persistenceMode",
                "retrievalConfigs",
                "sessionBinding",
            ],
        )?;
        required(m, "memoryConfiguration", "memoryId")?;
    }
    if let Some(r) = top.get("retrievalInstructionConfiguration") {
        let r = object(
            r,
            "retrievalInstructionConfiguration",
            &["retrievalInstructionId", "version"],
        )?;
        required(
            r,
            "retrievalInstructionConfiguration",
            "retrievalInstructionId",
        )?;
    }
    Ok(Ask {
        query,
        kb_ids,
        max_results,
        filter,
        generate,
        user,
        guardrail,
        iterations,
        rerank_arn,
        next_token,
    })
}

// ---------------------------------------------------------------------------------------
// The stream.

fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn trace(n: usize, step: &str, status: &str, message: &str, extra: Value) -> Vec<u8> {
    let mut attributes = json!({"step": step, "status": status, "message": message});
    if let (Some(a), Some(e)) = (attributes.as_object_mut(), extra.as_object()) {
        a.extend(e.clone());
    }
    eventstream::event(
        "traceEvent",
        &json!({"id": format!("trace-{n}"), "timestamp": now_millis(), "attributes": attributes}),
    )
}

/// Where a document lives, as one string (uri or url of its location).
fn source_uri(location: &Value) -> Option<String> {
    let inner = location
        .as_object()?
        .iter()
        .find(|(k, _)| k.as_str() != "type")?
        .1;
    ["uri", "url", "id", "query"]
        .iter()
        .find_map(|k| inner.get(*k).and_then(Value::as_str))
        .map(str::to_string)
}

fn result_item(doc: &FakeDoc, kb: &KbView) -> Value {
    let mut metadata = doc.metadata.clone();
    if let Some(uri) = source_uri(&doc.location) {
        metadata["x-amz-bedrock-kb-source-uri"] = json!(uri);
    }
    if let Some(id) = &doc.document_id {
        metadata["x-amz-bedrock-kb-document-id"] = json!(id);
    }
    if let Some(ds) = &doc.data_source_id {
        let key = if kb.kb_type == "MANAGED" {
            "_data_source_id"
        } else {
            "x-amz-bedrock-kb-data-source-id"
        };
        metadata[key] = json!(ds);
    }
    let content = match doc.content_type.as_str() {
        "IMAGE" => {
            let data = doc
                .content
                .as_ref()
                .and_then(|c| c["byteContent"].as_str())
                .unwrap_or("");
            let (mime, b64) = data
                .strip_prefix("data:")
                .and_then(|d| d.split_once(";base64,"))
                .unwrap_or(("image/png", corpus::TINY_PNG));
            json!({"mimeType": mime, "byteContent": b64})
        }
        _ => json!({"mimeType": "text/plain", "text": doc.text}),
    };
    json!({"content": content, "metadata": metadata, "sourceRetriever": {"identifier": kb.id}})
}

/// The first sentence of a passage (what the fake's "model" says about it).
fn gist(text: &str) -> String {
    let end = text.find(". ").map_or(text.len(), |i| i + 1);
    text[..end].trim().to_string()
}

/// Token binding a continuation to its request (query and retrievers).
fn token_for(ask: &Ask, offset: usize) -> String {
    let binding = format!("{}|{}", ask.query, ask.kb_ids.join(","));
    let h = ring::digest::digest(&ring::digest::SHA256, binding.as_bytes());
    let hex: String = h.as_ref()[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("agentic-{offset}-{hex}")
}

/// The frames of a normal stream for a valid request; `Err` = a pre-stream refusal.
fn frames(shared: &Shared, ask: &Ask) -> Result<Vec<Vec<u8>>, Reply> {
    let supported = shared.agentic.supported.lock().unwrap().clone();
    let mut kbs = Vec::new();
    for id in &ask.kb_ids {
        let Some(kb) = kb_view(shared, id) else {
            return Err(error(
                404,
                "ResourceNotFoundException",
                &format!("Knowledge base {id} does not exist"),
            ));
        };
        if !supported.contains(&kb.kb_type) {
            return Err(error(
                400,
                "ValidationException",
                &format!(
                    "Knowledge base {id} is a {} knowledge base, which does not support agentic retrieval. Use a managed knowledge base.",
                    kb.kb_type
                ),
            ));
        }
        kbs.push(kb);
    }
    if let Some(arn) = &ask.rerank_arn {
        let models = shared.state.lock().unwrap().rerank_models.clone();
        if !models.contains(arn) {
            return Err(error(
                400,
                "ValidationException",
                &format!("The reranking model {arn} is not supported in this region or account"),
            ));
        }
    }
    let offset = match &ask.next_token {
        None => 0,
        Some(t) => {
            let offset = t
                .strip_prefix("agentic-")
                .and_then(|r| r.split_once('-'))
                .and_then(|(o, _)| o.parse::<usize>().ok());
            match offset {
                Some(o) if token_for(ask, o) == *t => o,
                _ => {
                    return Err(error(
                        400,
                        "ValidationException",
                        "The nextToken is not valid for this request",
                    ))
                }
            }
        }
    };

    let mut n = 0;
    let mut next = |step: &str, status: &str, message: &str, extra: Value| {
        n += 1;
        trace(n, step, status, message, extra)
    };
    let sources: Vec<Value> = kbs.iter().map(|k| json!({"identifier": k.id})).collect();
    let mut out = vec![next(
        "Planning",
        "IN_PROGRESS",
        "Planning the retrieval",
        json!({"retrievalMetadata": kbs.iter().map(|k| json!({"identifier": k.id, "retrievalType": "BedrockKnowledgeBase"})).collect::<Vec<_>>()}),
    )];
    out.push(next(
        "Planning",
        "SUCCEEDED",
        "Planned the retrieval",
        json!({}),
    ));
    // Every hit over every knowledge base, best first.
    let mut hits: Vec<(f64, FakeDoc, KbView)> = Vec::new();
    for kb in &kbs {
        let visible: Vec<FakeDoc> = kb
            .corpus
            .iter()
            .filter(|d| corpus::visible(d, ask.user.as_deref()))
            .filter(|d| {
                ask.filter
                    .as_ref()
                    .is_none_or(|f| corpus::filter_matches(f, &d.metadata))
            })
            .cloned()
            .collect();
        for (s, d) in corpus::search(&visible, &ask.query, usize::MAX) {
            hits.push((s, d.clone(), kb.clone()));
        }
    }
    hits.sort_by(|a, b| b.0.total_cmp(&a.0));
    for i in 0..ask.iterations.clamp(1, 3) {
        out.push(next(
            "Retrieval",
            "SUCCEEDED",
            &format!("Retrieval pass {}", i + 1),
            json!({"actions": [{"retrieve": {"inputQuery": {"text": ask.query}, "sourceRetrievers": sources}}]}),
        ));
    }
    let page: Vec<&(f64, FakeDoc, KbView)> =
        hits.iter().skip(offset).take(ask.max_results).collect();
    // Full-document expansion of the best hit; ACL-aware sources need the user.
    let acl_hidden =
        ask.user.is_none() && kbs.iter().any(|k| k.corpus.iter().any(|d| d.acl.is_some()));
    if let Some((_, d, kb)) = page.first() {
        let action = json!({"actions": [{"fullDocumentExpansion": {
            "documentId": d.document_id.clone().unwrap_or_default(),
            "sourceRetriever": {"identifier": kb.id}}}]});
        if acl_hidden {
            let mut extra = action;
            extra["failures"] = json!([{ "message": ACL_EXPANSION_FAILURE }]);
            out.push(next(
                "FullDocumentExpansion",
                "FAILED",
                ACL_EXPANSION_FAILURE,
                extra,
            ));
        } else {
            out.push(next(
                "FullDocumentExpansion",
                "SUCCEEDED",
                "Expanded the best document",
                action,
            ));
        }
    }
    let results: Vec<Value> = page.iter().map(|(_, d, kb)| result_item(d, kb)).collect();
    let mut result = json!({ "results": results });
    if ask.generate {
        let intervene = ask.guardrail.is_some() && ask.query.to_lowercase().contains("password");
        let (answer, citations) = if intervene {
            (
                "Sorry, the guardrail blocked this answer.".to_string(),
                Vec::new(),
            )
        } else if page.is_empty() {
            (
                "The knowledge base has nothing on this.".to_string(),
                Vec::new(),
            )
        } else {
            let mut answer = String::new();
            let mut citations = Vec::new();
            for (i, (_, d, _)) in page.iter().enumerate().take(2) {
                if !answer.is_empty() {
                    answer.push(' ');
                }
                let start = answer.chars().count();
                answer.push_str(&gist(&d.text));
                citations.push(
                    json!({"startIndex": start, "endIndex": answer.chars().count(),
                    "references": [{"resultIndex": i}]}),
                );
            }
            (answer, citations)
        };
        if let Some((id, version)) = &ask.guardrail {
            if intervene {
                out.push(next("Retrieval", "SUCCEEDED", "Guardrail applied",
                    json!({"warnings": [{"guardrail": {"action": "INTERVENED", "id": id, "version": version}}]})));
            }
        }
        let mid = answer.len() / 2;
        let mid = (mid..=answer.len())
            .find(|&i| answer.is_char_boundary(i))
            .unwrap_or(answer.len());
        for part in [&answer[..mid], &answer[mid..]] {
            if !part.is_empty() {
                out.push(eventstream::event(
                    "responseEvent",
                    &json!({ "text": part }),
                ));
            }
        }
        result["generatedResponse"] = json!({"answer": answer, "citations": citations});
    }
    if offset + ask.max_results < hits.len() {
        result["nextToken"] = json!(token_for(ask, offset + ask.max_results));
    }
    out.push(eventstream::event("result", &result));
    Ok(out)
}

/// Serves one authenticated AgenticRetrieveStream request.
pub(super) fn serve(shared: &Shared, req: Incoming) {
    let a = &shared.agentic;
    let v: Value = match serde_json::from_slice(&req.body) {
        Ok(v) => v,
        Err(_) => {
            a.refused.fetch_add(1, SeqCst);
            return reply(
                req.request,
                error(400, "SerializationException", "body is not JSON"),
            );
        }
    };
    let ask = match validate(&v) {
        Ok(ask) => ask,
        Err(message) => {
            a.refused.fetch_add(1, SeqCst);
            return reply(req.request, error(400, "ValidationException", &message));
        }
    };
    let frames = match frames(shared, &ask) {
        Ok(f) => f,
        Err(answer) => {
            a.refused.fetch_add(1, SeqCst);
            return reply(req.request, answer);
        }
    };
    let script = a
        .queue
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or_else(|| a.default.lock().unwrap().clone());
    let conn = match (a.local.get(), req.request.remote_addr()) {
        (Some(local), Some(peer)) => Conn::find(*local, *peer),
        _ => None,
    };
    // Taken before the stream counts as open: a release seen after `agentic_open` rose
    // always lets this stream go.
    let generation = *a.releases.lock().unwrap();
    a.started.fetch_add(1, SeqCst);
    a.open.fetch_add(1, SeqCst);
    let mut writer = req.request.into_writer();
    let end = stream(a, &mut *writer, conn, &frames, &script, generation);
    match end {
        End::Finished => a.finished.fetch_add(1, SeqCst),
        End::ClientGone => a.client_closed.fetch_add(1, SeqCst),
    };
    a.open.fetch_sub(1, SeqCst);
}

enum End {
    Finished,
    ClientGone,
}

fn chunk(w: &mut dyn Write, bytes: &[u8]) -> std::io::Result<()> {
    write!(w, "{:x}\r\n", bytes.len())?;
    w.write_all(bytes)?;
    w.write_all(b"\r\n")?;
    w.flush()
}

/// Waits `d` (or until released, when `d` is None), watching for the client leaving.
fn pause(a: &Agentic, conn: Option<Conn>, d: Option<Duration>, generation: u64) -> bool {
    let until = d.map(|d| Instant::now() + d);
    loop {
        if conn.is_some_and(|c| c.client_gone()) {
            return false;
        }
        match until {
            Some(t) if Instant::now() >= t => return true,
            Some(_) => std::thread::sleep(Duration::from_millis(20)),
            None => {
                let releases = a.releases.lock().unwrap();
                let (releases, _) = a
                    .gate
                    .wait_timeout(releases, Duration::from_millis(20))
                    .unwrap();
                if *releases != generation {
                    return true;
                }
            }
        }
    }
}

fn stream(
    a: &Agentic,
    w: &mut dyn Write,
    conn: Option<Conn>,
    frames: &[Vec<u8>],
    script: &Script,
    generation: u64,
) -> End {
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.amazon.eventstream\r\n\
         x-amzn-RequestId: fake-{}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        now_millis()
    );
    if w.write_all(head.as_bytes())
        .and_then(|_| w.flush())
        .is_err()
    {
        return End::ClientGone;
    }
    let send = |w: &mut dyn Write, f: &[u8]| chunk(w, f).is_ok();
    let finish = |w: &mut dyn Write| {
        let _ = w.write_all(b"0\r\n\r\n").and_then(|_| w.flush());
        End::Finished
    };
    // Every stream begins with the Planning trace.
    if !send(w, &frames[0]) {
        return End::ClientGone;
    }
    let rest = &frames[1..];
    match script {
        Script::Normal => {
            for f in rest {
                if !send(w, f) {
                    return End::ClientGone;
                }
            }
            finish(w)
        }
        Script::Slow(gap) => {
            for f in rest {
                if !pause(a, conn, Some(*gap), generation) || !send(w, f) {
                    return End::ClientGone;
                }
            }
            finish(w)
        }
        Script::Hold => {
            if !pause(a, conn, None, generation) {
                return End::ClientGone;
            }
            for f in rest {
                if !send(w, f) {
                    return End::ClientGone;
                }
            }
            finish(w)
        }
        Script::HoldBeating(every) => {
            let mut n = 0;
            while *a.releases.lock().unwrap() == generation {
                if !pause(a, conn, Some(*every), generation) {
                    return End::ClientGone;
                }
                n += 1;
                let beat = trace(
                    100 + n,
                    "Retrieval",
                    "IN_PROGRESS",
                    "Still retrieving",
                    json!({}),
                );
                if !send(w, &beat) {
                    return End::ClientGone;
                }
            }
            for f in rest {
                if !send(w, f) {
                    return End::ClientGone;
                }
            }
            finish(w)
        }
        Script::Exception(kind) => {
            let message = match kind.as_str() {
                "throttlingException" => "Rate exceeded",
                "accessDeniedException" => "You do not have access to the knowledge base",
                "resourceNotFoundException" => "The knowledge base was not found",
                "serviceQuotaExceededException" => "Agentic retrieval quota exceeded",
                "dependencyFailedException" => "The foundation model failed",
                "badGatewayException" => "Bad gateway",
                "conflictException" => "Conflict",
                "validationException" => "The request is not valid",
                _ => "Internal server error",
            };
            if !send(w, &rest[0]) || !send(w, &eventstream::exception(kind, message)) {
                return End::ClientGone;
            }
            finish(w)
        }
        Script::ErrorMessage => {
            let f = eventstream::error("InternalFailure", "The stream failed");
            if !send(w, &rest[0]) || !send(w, &f) {
                return End::ClientGone;
            }
            finish(w)
        }
        Script::Cut => {
            let f = &rest[0];
            let half = &f[..f.len() / 2];
            // The chunk promises the whole frame; half arrives, then the connection ends.
            let ok = write!(w, "{:x}\r\n", f.len())
                .and_then(|_| w.write_all(half))
                .and_then(|_| w.flush())
                .is_ok();
            if let Some(c) = conn {
                c.cut();
            }
            if ok {
                End::Finished
            } else {
                End::ClientGone
            }
        }
        Script::BadCrc | Script::BadPreludeCrc => {
            let bad = if *script == Script::BadCrc {
                eventstream::with_bad_message_crc(rest[0].clone())
            } else {
                eventstream::with_bad_prelude_crc(rest[0].clone())
            };
            if !send(w, &bad) {
                return End::ClientGone;
            }
            for f in &rest[1..] {
                if !send(w, f) {
                    return End::ClientGone;
                }
            }
            finish(w)
        }
    }
}
