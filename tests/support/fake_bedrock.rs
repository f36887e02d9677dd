//! A fake AWS Bedrock for tests: Retrieve (`POST /knowledgebases/{id}/retrieve`),
//! GetDocumentContent (`POST /knowledgebases/{id}/datasources/{ds}/documents/{doc}/content`)
//! and GetKnowledgeBase (`GET /knowledgebases/{id}`) on one 127.0.0.1 port, so it serves as
//! both the agent-runtime and the agent endpoint (point `AWS_ENDPOINT_URL` at `url()`).
//! The knowledge base is VECTOR by default or MANAGED (`set_kb_type`), with the request
//! shapes and refusals of each (see `answers`).
//!
//! Every request's SigV4 signature is recomputed independently (see `sigv4`) against a
//! runtime-settable `KeyRing`; answers come from a small corpus scored by word overlap
//! (`corpus`). Faults can be scripted: a FIFO queue consumed one per authenticated request,
//! then an every-other fault, then an always fault; plus a fixed latency. Counters and the
//! last request are kept for assertions.
//!
//! ```ignore
//! let bedrock = FakeBedrock::start();
//! bedrock.push_faults(Fault::Throttle, 2);
//! let vars = Vars::from_pairs(bedrock.env());   // endpoint + the default key pair
//! ```

pub mod agentic;
pub mod answers;
pub mod corpus;
pub mod eventstream;
pub mod extracted;
pub mod identity;
pub mod pages;
pub mod reading_corpus;
pub mod sigv4;
pub mod socket;

pub use corpus::{default_corpus, FakeDoc};
pub use sigv4::{KeyRing, Rejection};

use super::fake_server::{reply, FakeServer, Incoming};
use answers::{document_content, error, fault_reply, info, retrieve};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// The knowledge base id the fake serves.
pub const KB_ID: &str = "KBFAKE0001";
/// The region the fake expects in signatures (by default).
pub const REGION: &str = "eu-west-1";
/// The key pair accepted from the start (no session token).
pub const ACCESS_KEY: &str = "AKIDFAKEBEDROCK01";
/// The secret of `ACCESS_KEY`.
pub const SECRET_KEY: &str = "fake/secret+key/for/bedrock/tests";

/// A scripted misbehaviour, applied after the signature check.
#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    /// 429 ThrottlingException.
    Throttle,
    /// 500 InternalServerException, 502 BadGatewayException, 503 ServiceUnavailableException,
    /// or any other status with an HTML body and no error type.
    Status(u16),
    /// 403 AccessDeniedException (type in the body's `__type` only, as `ns#Name`).
    AccessDenied,
    /// 404 ResourceNotFoundException (type in the header, with a `:` suffix).
    NotFound,
    /// 400 ValidationException.
    Validation,
    /// 200 with a body that is not JSON.
    Garbage,
    /// Sleep, then answer normally (longer than the client's timeout = a hang).
    Delay(Duration),
    /// Any status with `x-amzn-ErrorType: code` and `{"message": …}`.
    Error {
        status: u16,
        code: String,
        message: String,
    },
}

/// One knowledge base as the answers see it.
#[derive(Clone, Debug)]
pub struct KbView {
    pub id: String,
    pub kb_type: String,
    pub corpus: Vec<FakeDoc>,
    pub name: String,
    pub description: String,
    pub status: String,
}

struct State {
    queue: VecDeque<Fault>,
    every_other: Option<Fault>,
    every_other_hit: bool,
    always: Option<Fault>,
    latency: Duration,
    /// While set, answers wait (after the latency) until `release`.
    held: bool,
    corpus: Vec<FakeDoc>,
    kb: (String, String, String),
    kb_type: String,
    denied: Vec<String>,
    rerank_models: Vec<String>,
    others: Vec<KbView>,
    calls: Vec<(String, String)>,
    targets: Vec<String>,
    last_body: Option<String>,
    last_headers: Vec<(String, String)>,
    keys_seen: Vec<String>,
    last_rejection: Option<Rejection>,
}

#[derive(Default)]
struct Counters {
    requests: AtomicUsize,
    accepted: AtomicUsize,
    retrieve: AtomicUsize,
    info: AtomicUsize,
    documents: AtomicUsize,
    bad_signatures: AtomicUsize,
    auth_failures: AtomicUsize,
}

struct Shared {
    state: Mutex<State>,
    /// Wakes answers waiting while `held`.
    gate: std::sync::Condvar,
    keys: KeyRing,
    region: String,
    counters: Counters,
    /// Knowledge-base modes and STS-issued sessions (identity.rs).
    identity: identity::Identity,
    /// AgenticRetrieveStream scripts and counters (`agentic`).
    agentic: agentic::Agentic,
    /// EXTRACTED documents and their download server (`extracted`).
    extracted: extracted::Extracted,
}

/// The running fake; stops on Drop.
pub struct FakeBedrock {
    shared: Arc<Shared>,
    server: FakeServer,
}

impl FakeBedrock {
    /// Starts in `REGION` with the default corpus and `ACCESS_KEY`/`SECRET_KEY` accepted.
    pub fn start() -> FakeBedrock {
        FakeBedrock::start_in(REGION)
    }

    /// Starts expecting signatures scoped to `region`.
    pub fn start_in(region: &str) -> FakeBedrock {
        let keys = KeyRing::default();
        keys.add(ACCESS_KEY, SECRET_KEY, None);
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                every_other: None,
                every_other_hit: false,
                always: None,
                latency: Duration::ZERO,
                held: false,
                corpus: default_corpus(),
                kb: (
                    "Fake KB".into(),
                    "A corpus for tests".into(),
                    "ACTIVE".into(),
                ),
                kb_type: "VECTOR".into(),
                denied: Vec::new(),
                others: Vec::new(),
                rerank_models: ["amazon.rerank-v1:0", "cohere.rerank-v3-5:0"]
                    .iter()
                    .map(|m| format!("arn:aws:bedrock:{region}::foundation-model/{m}"))
                    .collect(),
                calls: Vec::new(),
                targets: Vec::new(),
                last_body: None,
                last_headers: Vec::new(),
                keys_seen: Vec::new(),
                last_rejection: None,
            }),
            gate: std::sync::Condvar::new(),
            keys,
            region: region.into(),
            counters: Counters::default(),
            identity: identity::Identity::default(),
            agentic: Default::default(),
            extracted: Default::default(),
        });
        let handler_shared = shared.clone();
        let server = FakeServer::start(move |req| handle(&handler_shared, req));
        shared.agentic.set_local(server.url());
        FakeBedrock { shared, server }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        self.server.url().to_string()
    }
    /// The knowledge base id served (`KB_ID`).
    pub fn kb_id(&self) -> &str {
        KB_ID
    }
    /// The region signatures must be scoped to.
    pub fn region(&self) -> &str {
        &self.shared.region
    }
    /// The accepted keys (shared handle: changes apply at once).
    pub fn keys(&self) -> KeyRing {
        self.shared.keys.clone()
    }
    /// Knowledge-base identity modes, issued sessions and identity decisions (shared handle).
    pub fn identity(&self) -> identity::Identity {
        self.shared.identity.clone()
    }
    /// Variables pointing a client here with the default key pair: AWS_ENDPOINT_URL,
    /// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, BEDROCK_KB_ID.
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT_URL", self.url()),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY.into()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.into()),
            ("AWS_REGION", self.shared.region.clone()),
            ("BEDROCK_KB_ID", KB_ID.into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// Queues one fault for the next authenticated request.
    pub fn push_fault(&self, fault: Fault) {
        self.push_faults(fault, 1);
    }
    /// Queues `n` copies of `fault`.
    pub fn push_faults(&self, fault: Fault, n: usize) {
        let mut s = self.state();
        s.queue.extend(std::iter::repeat_n(fault, n));
    }
    /// When the queue is empty: apply `fault` to every other request (the 1st, 3rd, …).
    pub fn set_every_other(&self, fault: Option<Fault>) {
        let mut s = self.state();
        s.every_other = fault;
        s.every_other_hit = false;
    }
    /// When the queue is empty (and no every-other hit): apply `fault` to every request.
    pub fn set_always(&self, fault: Option<Fault>) {
        self.state().always = fault;
    }
    /// Holds every answer from now on until `release`: a call in flight for as long as a
    /// test needs, with no timing involved.
    pub fn hold(&self) {
        self.state().held = true;
    }

    /// Lets held answers (and later ones) go.
    pub fn release(&self) {
        self.state().held = false;
        self.shared.gate.notify_all();
    }

    /// Adds `latency` before every answer (including rejections).
    pub fn set_latency(&self, latency: Duration) {
        self.state().latency = latency;
    }
    /// Replaces the corpus.
    pub fn set_corpus(&self, docs: Vec<FakeDoc>) {
        self.state().corpus = docs;
    }
    /// Sets what GetKnowledgeBase returns.
    pub fn set_kb(&self, name: &str, description: &str, status: &str) {
        self.state().kb = (name.into(), description.into(), status.into());
    }

    /// VECTOR (default), MANAGED, KENDRA or SQL: what GetKnowledgeBase says and which
    /// retrieval configuration Retrieve accepts.
    pub fn set_kb_type(&self, kb_type: &str) {
        self.state().kb_type = kb_type.into();
    }
    /// The reranking model ARNs this region offers (default: amazon.rerank-v1:0 and
    /// cohere.rerank-v3-5:0 in the fake's region); others are refused with a ValidationException.
    pub fn set_rerank_models(&self, arns: &[&str]) {
        self.state().rerank_models = arns.iter().map(|a| a.to_string()).collect();
    }
    /// Serves another knowledge base next to `KB_ID` (ACTIVE).
    pub fn add_kb(
        &self,
        id: &str,
        kb_type: &str,
        name: &str,
        description: &str,
        corpus: Vec<FakeDoc>,
    ) {
        self.state().others.push(KbView {
            id: id.into(),
            kb_type: kb_type.into(),
            corpus,
            name: name.into(),
            description: description.into(),
            status: "ACTIVE".into(),
        });
    }
    /// Refuses every call of `op` ("GetKnowledgeBase", "Retrieve", "GetDocumentContent")
    /// with AccessDeniedException, as IAM does for a role without the action.
    pub fn deny(&self, op: &str) {
        self.state().denied.push(op.into());
    }
    /// (operation, body) of every authenticated request, in order.
    pub fn calls(&self) -> Vec<(String, String)> {
        self.state().calls.clone()
    }
    /// The knowledge base id each authenticated request named, in order (as `calls`).
    pub fn targets(&self) -> Vec<String> {
        self.state().targets.clone()
    }
    /// The bodies of the authenticated Retrieve requests, parsed, in order.
    pub fn retrieve_bodies(&self) -> Vec<serde_json::Value> {
        self.calls()
            .iter()
            .filter(|(op, _)| op == "Retrieve")
            .map(|(_, b)| serde_json::from_str(b).unwrap_or_default())
            .collect()
    }
    /// Authenticated GetDocumentContent requests.
    pub fn document_calls(&self) -> usize {
        self.shared.counters.documents.load(SeqCst)
    }

    /// All HTTP requests received.
    pub fn requests(&self) -> usize {
        self.shared.counters.requests.load(SeqCst)
    }
    /// Requests whose signature verified.
    pub fn accepted(&self) -> usize {
        self.shared.counters.accepted.load(SeqCst)
    }
    /// Authenticated Retrieve requests (faulted ones included).
    pub fn retrieve_calls(&self) -> usize {
        self.shared.counters.retrieve.load(SeqCst)
    }
    /// Authenticated GetKnowledgeBase requests (faulted ones included).
    pub fn info_calls(&self) -> usize {
        self.shared.counters.info.load(SeqCst)
    }
    /// Requests refused because the signature did not match.
    pub fn bad_signatures(&self) -> usize {
        self.shared.counters.bad_signatures.load(SeqCst)
    }
    /// Requests refused for any authentication reason (bad signature, unknown key, expired…).
    pub fn auth_failures(&self) -> usize {
        self.shared.counters.auth_failures.load(SeqCst)
    }
    /// The body of the last authenticated request.
    pub fn last_body(&self) -> Option<String> {
        self.state().last_body.clone()
    }
    /// The headers (lower-cased names) of the last authenticated request.
    pub fn last_headers(&self) -> Vec<(String, String)> {
        self.state().last_headers.clone()
    }
    /// Distinct access key ids that signed accepted requests, in order of first use.
    pub fn keys_seen(&self) -> Vec<String> {
        self.state().keys_seen.clone()
    }
    /// Why the last refused request was refused.
    pub fn last_rejection(&self) -> Option<Rejection> {
        self.state().last_rejection.clone()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.shared.state.lock().unwrap()
    }
}

fn handle(shared: &Shared, req: Incoming) {
    let c = &shared.counters;
    c.requests.fetch_add(1, SeqCst);
    let latency = shared.state.lock().unwrap().latency;
    std::thread::sleep(latency);
    let mut st = shared.state.lock().unwrap();
    while st.held {
        st = shared.gate.wait(st).unwrap();
    }
    drop(st);
    let received = sigv4::Received {
        method: &req.method,
        target: &req.target,
        headers: &req.headers,
        body: &req.body,
    };
    let key = match sigv4::verify(
        &received,
        &shared.keys,
        &shared.region,
        "bedrock",
        SystemTime::now(),
    ) {
        Ok(key) => key,
        Err(rejection) => {
            c.auth_failures.fetch_add(1, SeqCst);
            if rejection.bad_signature {
                c.bad_signatures.fetch_add(1, SeqCst);
            }
            let answer = error(403, rejection.code, &rejection.message);
            shared.state.lock().unwrap().last_rejection = Some(rejection);
            return reply(req.request, answer);
        }
    };
    c.accepted.fetch_add(1, SeqCst);
    let path = req.target.split('?').next().unwrap_or("");
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let mut document = None;
    let op = match (req.method.as_str(), parts.as_slice()) {
        ("POST", ["knowledgebases", id, "retrieve"]) => Some(("Retrieve", id.to_string())),
        ("GET", ["knowledgebases", id]) => Some(("GetKnowledgeBase", id.to_string())),
        ("POST", ["agenticRetrieveStream"]) => Some(("AgenticRetrieveStream", String::new())),
        ("POST", ["knowledgebases", id, "datasources", ds, "documents", doc, "content"]) => {
            document = Some((ds.to_string(), doc.to_string()));
            Some(("GetDocumentContent", id.to_string()))
        }
        _ => None,
    };
    let (fault, denied) = {
        let mut s = shared.state.lock().unwrap();
        let body = String::from_utf8_lossy(&req.body).into_owned();
        if let Some((op, id)) = &op {
            s.calls.push((op.to_string(), body.clone()));
            s.targets.push(id.clone());
        }
        s.last_body = Some(body);
        s.last_headers = req.headers.clone();
        if !s.keys_seen.contains(&key) {
            s.keys_seen.push(key.clone());
        }
        let denied = op
            .as_ref()
            .is_some_and(|(op, _)| s.denied.iter().any(|d| d == op));
        (next_fault(&mut s), denied)
    };
    let Some((op, id)) = op else {
        return reply(
            req.request,
            error(404, "UnknownOperationException", "no such operation"),
        );
    };
    match op {
        "Retrieve" => c.retrieve.fetch_add(1, SeqCst),
        "GetDocumentContent" => c.documents.fetch_add(1, SeqCst),
        "AgenticRetrieveStream" => 0,
        _ => c.info.fetch_add(1, SeqCst),
    };
    if denied {
        return reply(req.request, fault_reply(Fault::AccessDenied, op).unwrap());
    }
    // A delay yields no answer of its own: the normal answer follows.
    if let Some(answer) = fault.and_then(|f| fault_reply(f, op)) {
        return reply(req.request, answer);
    }
    if op == "AgenticRetrieveStream" {
        // The same identity decision as Retrieve, by the mode of the first retriever's
        // knowledge base (the fake's modes are set per knowledge base; one userContext
        // then filters every retriever's results).
        let first_kb = serde_json::from_slice::<serde_json::Value>(&req.body)
            .ok()
            .and_then(|v| {
                v.pointer("/retrievers/0/configuration/knowledgeBase/knowledgeBaseId")
                    .and_then(serde_json::Value::as_str)
                    .map(str::to_string)
            });
        let Some(first_kb) = first_kb else {
            return agentic::serve(shared, req); // refused there, as Bedrock refuses it
        };
        return match identity::decide(&shared.identity, op, &first_kb, &key, &req.body) {
            Ok(body) => agentic::serve(shared, Incoming { body, ..req }),
            Err(refusal) => reply(req.request, refusal),
        };
    }
    let view = {
        let s = shared.state.lock().unwrap();
        if id == KB_ID {
            let (name, description, status) = s.kb.clone();
            Some(KbView {
                id: id.clone(),
                kb_type: s.kb_type.clone(),
                corpus: s.corpus.clone(),
                name,
                description,
                status,
            })
        } else {
            s.others.iter().find(|k| k.id == id).cloned()
        }
    };
    let Some(kb) = view else {
        let msg = format!("Knowledge base {id} does not exist");
        return reply(req.request, error(404, "ResourceNotFoundException", &msg));
    };
    // Who the caller is, by the knowledge base's mode: the body then carries that identity.
    let body = match op {
        "GetKnowledgeBase" => req.body.clone(),
        _ => match identity::decide(&shared.identity, op, &id, &key, &req.body) {
            Ok(body) => body,
            Err(refusal) => return reply(req.request, refusal),
        },
    };
    let answer = match (op, document) {
        ("Retrieve", _) => retrieve(shared, &kb, &body),
        ("GetDocumentContent", Some((ds, doc))) => document_content(shared, &kb, &ds, &doc, &body),
        _ => identity::decorate_info(&shared.identity, &id, &key, info(shared, &kb)),
    };
    reply(req.request, answer)
}

fn next_fault(s: &mut State) -> Option<Fault> {
    if let Some(f) = s.queue.pop_front() {
        return Some(f);
    }
    if let Some(f) = s.every_other.clone() {
        s.every_other_hit = !s.every_other_hit;
        if s.every_other_hit {
            return Some(f);
        }
        return None;
    }
    s.always.clone()
}
