//! Issue 20, agentic retrieval: `agentic_search` over AgenticRetrieveStream streams MCP
//! progress notifications while Bedrock works, returns results, an answer and citations,
//! turns a cut or corrupted stream and every modelled exception event into a clear tool
//! error, closes the Bedrock stream when the call is cancelled, refuses knowledge bases that
//! do not support it, and never starves ordinary searches (ten long calls held open while
//! searches are served). Over /mcp (2025-06-18, 2026-07-28) and /sse, with auth on and off:
//! the real binary against the fake Bedrock's binary event stream. Interface: docs/reading.md.
//!
//! The only clocks here are hang guards: held streams are released by the test, and
//! progress is shown by notifications that arrive while the fake sends nothing.

use crate::support;

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};
use support::fake_bedrock::agentic::{Script, EXCEPTIONS, VALIDATION_EXCEPTION};
use support::fake_bedrock::corpus::ALICE;
use support::fake_bedrock::reading_corpus as rc;
use support::fake_bedrock::{FakeBedrock, KB_ID};
use support::fake_entra::FakeEntra;
use support::server::Server;
use support::sse::SseStream;
use support::tool_call::{self, Transport, ALL};

/// The longest any single wait may take before the test calls it a hang.
const HANG: Duration = Duration::from_secs(60);

fn start(bedrock: &FakeBedrock, entra: Option<&FakeEntra>, extra: &[(&str, &str)]) -> Server {
    Server::against(bedrock, entra, extra)
}

fn managed_fake() -> FakeBedrock {
    let bedrock = FakeBedrock::start();
    rc::install(&bedrock);
    bedrock
}

const QUERY: &str = "travel handbook booking rules and receipts";

fn is_error(r: &Value) -> bool {
    r["result"]["isError"] == true
}

// ---------------------------------------------------------------------------------------
// A tools/call whose answer streams: /mcp with an SSE response, or the /sse session.

/// A reader of an HTTP/1.1 chunked body (the rest of the stream after the head).
struct Chunked<R> {
    inner: R,
    left: usize,
    done: bool,
}

impl<R: BufRead> Read for Chunked<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.done {
            return Ok(0);
        }
        if self.left == 0 {
            let mut line = String::new();
            self.inner.read_line(&mut line)?;
            if line.trim().is_empty() {
                line.clear();
                self.inner.read_line(&mut line)?;
            }
            let size = line.trim().split(';').next().unwrap_or("");
            self.left = usize::from_str_radix(size, 16).map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::InvalidData, format!("chunk {line:?}"))
            })?;
            if self.left == 0 {
                self.done = true;
                return Ok(0);
            }
        }
        let n = buf.len().min(self.left);
        let n = self.inner.read(&mut buf[..n])?;
        if n == 0 {
            self.done = true;
        }
        self.left -= n;
        Ok(n)
    }
}

/// Every JSON-RPC message the server sent on one streamed answer, as they arrive.
struct Streamed {
    rx: Receiver<Value>,
    socket: Option<TcpStream>,
    /// The answer's status and content type.
    head: (u16, String),
}

impl Streamed {
    /// The next message, `None` when the stream ended; panics on a hang.
    fn next(&self) -> Option<Value> {
        match self.rx.recv_timeout(HANG) {
            Ok(v) => Some(v),
            Err(RecvTimeoutError::Disconnected) => None,
            Err(RecvTimeoutError::Timeout) => panic!("no message for {HANG:?}"),
        }
    }

    /// Reads up to the response to `id`: (progress notifications before it, the response).
    fn until_response(&self, id: u64) -> (Vec<Value>, Value) {
        let mut progress = Vec::new();
        loop {
            let m = self.next().unwrap_or_else(|| {
                panic!("stream ended before the response; progress {progress:?}")
            });
            if m["method"] == "notifications/progress" {
                progress.push(m);
            } else if m["id"] == id {
                return (progress, m);
            }
        }
    }

    /// Closes the connection (a client that goes away).
    fn close(&mut self) {
        if let Some(s) = self.socket.take() {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
    }
}

fn sse_messages(reader: impl BufRead, tx: std::sync::mpsc::Sender<Value>) {
    let mut data = String::new();
    for line in reader.lines() {
        let Ok(line) = line else { return };
        if line.is_empty() {
            if !data.is_empty() {
                if let Ok(v) = serde_json::from_str(&data) {
                    if tx.send(v).is_err() {
                        return;
                    }
                }
                data.clear();
            }
        } else if let Some(d) = line.strip_prefix("data:") {
            if !data.is_empty() {
                data.push('\n');
            }
            data.push_str(d.strip_prefix(' ').unwrap_or(d));
        }
    }
}

/// POSTs `body` to /mcp and streams what comes back.
fn post_streaming(s: &Server, headers: &[(&str, &str)], body: &Value) -> Streamed {
    let addr = s.url.trim_start_matches("http://").to_string();
    let mut socket = TcpStream::connect(&addr).expect("connect");
    let body = body.to_string();
    let mut req = format!(
        "POST /mcp HTTP/1.1\r\nHost: {addr}\r\nAccept: application/json, text/event-stream\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(&body);
    socket.write_all(req.as_bytes()).expect("send");
    let mut reader = BufReader::new(socket.try_clone().expect("clone"));
    let mut status_line = String::new();
    reader.read_line(&mut status_line).expect("status line");
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let (mut chunked, mut length, mut content_type) = (false, None, String::new());
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        let (k, v) = line.split_once(':').unwrap_or((&line, ""));
        let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().to_string());
        match k.as_str() {
            "transfer-encoding" => chunked = v.eq_ignore_ascii_case("chunked"),
            "content-length" => length = v.parse::<u64>().ok(),
            "content-type" => content_type = v,
            _ => {}
        }
    }
    let (tx, rx) = channel();
    let sse = content_type.starts_with("text/event-stream");
    std::thread::spawn(move || {
        let body: Box<dyn Read + Send> = if chunked {
            Box::new(Chunked {
                inner: reader,
                left: 0,
                done: false,
            })
        } else if let Some(n) = length {
            Box::new(reader.take(n))
        } else {
            Box::new(reader)
        };
        let body = BufReader::new(body);
        if sse {
            sse_messages(body, tx);
        } else if let Ok(v) = serde_json::from_reader::<_, Value>(body) {
            let _ = tx.send(v);
        }
    });
    Streamed {
        rx,
        socket: Some(socket),
        head: (status, content_type),
    }
}

fn mcp_headers<'a>(
    version: &'a str,
    bearer: &'a Option<String>,
    method: &'a str,
) -> Vec<(&'a str, &'a str)> {
    let mut h = vec![("MCP-Protocol-Version", version)];
    if let Some(b) = bearer {
        h.push(("Authorization", b.as_str()));
    }
    if version >= "2026-07-28" {
        h.push(("Mcp-Method", method));
    }
    h
}

/// An `agentic_search` tools/call with a progress token, streamed.
fn agentic_call(
    s: &Server,
    version: &'static str,
    token: Option<&str>,
    id: u64,
    args: Value,
) -> Streamed {
    let bearer = token.map(|t| format!("Bearer {t}"));
    let mut headers = mcp_headers(version, &bearer, "tools/call");
    if version >= "2026-07-28" {
        headers.push(("Mcp-Name", "agentic_search"));
    }
    let mut meta = json!({"progressToken": format!("p-{id}")});
    if version >= "2026-07-28" {
        meta["io.modelcontextprotocol/protocolVersion"] = json!(version);
        meta["io.modelcontextprotocol/clientCapabilities"] = json!({});
    }
    let body = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
        "params": {"name": "agentic_search", "arguments": args, "_meta": meta}});
    post_streaming(s, &headers, &body)
}

/// Any tools/call without a progress token, on any transport (/mcp may answer agentic_search
/// as an event stream); returns the JSON-RPC response.
fn call(s: &Server, t: Transport, token: Option<&str>, tool: &str, args: Value) -> Value {
    let Transport::Mcp(version) = t else {
        return tool_call::call(s, t, token, tool, args);
    };
    let bearer = token.map(|t| format!("Bearer {t}"));
    let mut headers = mcp_headers(version, &bearer, "tools/call");
    let mut params = json!({"name": tool, "arguments": args});
    if version >= "2026-07-28" {
        headers.push(("Mcp-Name", tool));
        params["_meta"] = json!({"io.modelcontextprotocol/protocolVersion": version,
            "io.modelcontextprotocol/clientCapabilities": {}});
    }
    let body = json!({"jsonrpc": "2.0", "id": 77, "method": "tools/call", "params": params});
    post_streaming(s, &headers, &body).until_response(77).1
}

/// `notifications/cancelled` for request `id` on /mcp.
fn cancel_on_mcp(s: &Server, version: &str, token: Option<&str>, id: u64) {
    let bearer = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![
        ("Accept", "application/json, text/event-stream"),
        ("Content-Type", "application/json"),
    ];
    headers.extend(mcp_headers(version, &bearer, "notifications/cancelled"));
    let mut params = json!({"requestId": id, "reason": "the user stopped it"});
    if version >= "2026-07-28" {
        params["_meta"] = json!({"io.modelcontextprotocol/protocolVersion": version,
            "io.modelcontextprotocol/clientCapabilities": {}});
    }
    let body = json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": params});
    let r = s.request("POST", "/mcp", &headers, &body.to_string());
    assert_eq!(r.status, 202, "{}", r.body);
}

/// A legacy /sse session, initialized, with its message endpoint.
struct Session {
    stream: SseStream,
    endpoint: String,
    bearer: Option<String>,
}

impl Session {
    fn open(s: &Server, token: Option<&str>) -> Session {
        let bearer = token.map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> = bearer
            .iter()
            .map(|b| ("Authorization", b.as_str()))
            .collect();
        let mut stream = SseStream::open(&s.url, "/sse", &headers).expect("open /sse");
        assert_eq!(stream.status(), 200, "{}", stream.head);
        let endpoint = stream.wait_for("endpoint").expect("endpoint").data;
        let mut session = Session {
            stream,
            endpoint,
            bearer,
        };
        session.post(
            s,
            json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": "2024-11-05", "capabilities": {},
                "clientInfo": {"name": "agentic-test", "version": "1"}}}),
        );
        session
            .stream
            .wait_for("message")
            .expect("initialize answer");
        session.post(
            s,
            json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        );
        session
    }

    fn post(&mut self, s: &Server, body: Value) {
        let mut headers = vec![("Content-Type", "application/json")];
        if let Some(b) = &self.bearer {
            headers.push(("Authorization", b.as_str()));
        }
        let r = s.request("POST", &self.endpoint, &headers, &body.to_string());
        assert_eq!(r.status, 202, "{}", r.body);
    }

    /// The next JSON-RPC message on the stream (comments skipped); panics on a hang.
    fn next(&mut self) -> Value {
        let deadline = Instant::now() + HANG;
        loop {
            assert!(Instant::now() < deadline, "no message on /sse for {HANG:?}");
            // The stream's read timeout (10 s) is shorter than any progress gap allowed.
            let e = self.stream.next_event().expect("the /sse stream ended");
            if e.event == "message" {
                return serde_json::from_str(&e.data).expect("JSON-RPC message");
            }
        }
    }

    fn until_response(&mut self, id: u64) -> (Vec<Value>, Value) {
        let mut progress = Vec::new();
        loop {
            let m = self.next();
            if m["method"] == "notifications/progress" {
                progress.push(m);
            } else if m["id"] == id {
                return (progress, m);
            }
        }
    }

    fn agentic(&mut self, s: &Server, id: u64, args: Value) {
        self.post(
            s,
            json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
            "params": {"name": "agentic_search", "arguments": args,
                "_meta": {"progressToken": format!("p-{id}")}}}),
        );
    }
}

/// Progress notifications carry our token and strictly increasing progress.
fn check_progress(progress: &[Value], id: u64) {
    let mut last = f64::MIN;
    for p in progress {
        assert_eq!(p["params"]["progressToken"], format!("p-{id}"), "{p}");
        let n = p["params"]["progress"].as_f64().expect("progress number");
        assert!(n > last, "progress went from {last} to {n}");
        last = n;
    }
}

/// One agentic call on `t` with a progress token; (progress, response).
fn agentic_on(
    s: &Server,
    t: Transport,
    token: Option<&str>,
    id: u64,
    args: Value,
) -> (Vec<Value>, Value) {
    match t {
        Transport::Mcp(v) => agentic_call(s, v, token, id, args).until_response(id),
        Transport::Sse => {
            let mut session = Session::open(s, token);
            session.agentic(s, id, args);
            session.until_response(id)
        }
    }
}

// ---------------------------------------------------------------------------------------

#[test]
fn an_agentic_call_returns_results_an_answer_and_citations_over_every_transport_with_auth_off_and_on(
) {
    for auth in [false, true] {
        let bedrock = managed_fake();
        let entra = auth.then(FakeEntra::start);
        let s = start(
            &bedrock,
            entra.as_ref(),
            &[
                ("BEDROCK_GUARDRAIL_ID", "gr0abc123"),
                ("BEDROCK_GUARDRAIL_VERSION", "2"),
                ("BEDROCK_RERANK_MODEL", "amazon.rerank-v1:0"),
            ],
        );
        let token = entra.as_ref().map(|e| e.verified_email_token(ALICE));
        for (n, t) in ALL.into_iter().enumerate() {
            let id = 100 + n as u64;
            let args = json!({"query": QUERY, "generate_response": true, "max_iterations": 3});
            let (progress, r) = agentic_on(&s, t, token.as_deref(), id, args);
            assert!(!progress.is_empty(), "{t:?}: no progress notification");
            check_progress(&progress, id);
            assert!(!is_error(&r), "{t:?}: {r}");
            // What every client reads: steps, the answer with citation markers, the results
            // with the ids read_document takes.
            let shown = tool_call::text(&r);
            for want in [
                "Retrieval SUCCEEDED",
                "FullDocumentExpansion",
                "Answer:",
                "[1]",
                "Travel handbook 2026",
                rc::HANDBOOK_ID,
                "read_document",
            ] {
                assert!(shown.contains(want), "{t:?}: no {want:?} in {shown}");
            }
            // structuredContent, where the revision has it, says the same.
            if let Transport::Mcp(_) = t {
                let sc = &r["result"]["structuredContent"];
                let results = sc["results"].as_array().expect("results");
                assert!(!results.is_empty(), "{t:?}: {sc}");
                assert_eq!(sc["count"], results.len(), "{t:?}");
                let first = &results[0];
                assert_eq!(first["documentId"], rc::HANDBOOK_ID, "{t:?}: {first}");
                assert_eq!(first["dataSourceId"], rc::POLICY_DS, "{t:?}: {first}");
                assert_eq!(first["knowledgeBaseId"], KB_ID, "{t:?}: {first}");
                let text = first["text"].as_str().unwrap_or("");
                assert!(text.contains("Travel handbook 2026"), "{t:?}: {first}");
                let answer = sc["answer"].as_str().expect("answer");
                assert!(answer.contains("Travel handbook 2026"), "{t:?}: {answer}");
                let citations = sc["citations"].as_array().expect("citations");
                assert!(!citations.is_empty(), "{t:?}: {sc}");
                for c in citations {
                    for i in c["results"].as_array().expect("citation results") {
                        let i = i.as_u64().unwrap() as usize;
                        assert!((1..=results.len()).contains(&i), "{t:?}: {c}");
                    }
                }
                let steps: Vec<&str> = sc["steps"]
                    .as_array()
                    .expect("steps")
                    .iter()
                    .filter_map(|s| s["step"].as_str())
                    .collect();
                assert!(steps.contains(&"Retrieval"), "{t:?}: {steps:?}");
                assert!(steps.contains(&"FullDocumentExpansion"), "{t:?}: {steps:?}");
                // The answer as shown carries citation markers [n]; without them it is the answer.
                let unmarked = (1..=results.len())
                    .fold(shown.clone(), |t, i| t.replace(&format!("[{i}]"), ""));
                assert!(unmarked.contains(answer), "{t:?}: {shown}");
            }

            // What went to Bedrock, per the service model (the fake also checks it).
            let sent = bedrock.agentic_bodies().pop().expect("an agentic request");
            assert_eq!(
                sent["retrievers"],
                json!([{"configuration": {"knowledgeBase": {"knowledgeBaseId": KB_ID}}}]),
                "{t:?}"
            );
            assert_eq!(
                sent["messages"],
                json!([{"role": "user", "content": {"text": QUERY}}]),
                "{t:?}"
            );
            assert_eq!(sent["generateResponse"], true);
            let config = &sent["agenticRetrieveConfiguration"];
            assert_eq!(config["maxAgentIteration"], 3, "{sent}");
            assert_eq!(config["rerankingModelType"], "CUSTOM", "{sent}");
            assert_eq!(
                config["rerankingConfiguration"]["bedrockRerankingConfiguration"]
                    ["modelConfiguration"]["modelArn"],
                "arn:aws:bedrock:eu-west-1::foundation-model/amazon.rerank-v1:0",
                "{sent}"
            );
            assert_eq!(
                sent["policyConfiguration"],
                json!({"bedrockGuardrailConfiguration": {"guardrailId": "gr0abc123", "guardrailVersion": "2"}})
            );
            match &token {
                Some(_) => assert_eq!(sent["userContext"], json!({"userId": ALICE})),
                None => assert!(sent.get("userContext").is_none(), "{sent}"),
            }
        }
        // Without generate_response: results, no answer, and Bedrock is told so.
        let r = call(
            &s,
            Transport::Mcp("2025-06-18"),
            token.as_deref(),
            "agentic_search",
            json!({"query": QUERY}),
        );
        assert!(!is_error(&r), "{r}");
        assert!(
            r["result"]["structuredContent"].get("answer").is_none(),
            "{r}"
        );
        let sent = bedrock.agentic_bodies().pop().unwrap();
        assert_eq!(sent["generateResponse"], false, "{sent}");
        assert!(sent["agenticRetrieveConfiguration"]
            .get("maxAgentIteration")
            .is_none());
        if let Some(token) = &token {
            support::auth::assert_not_logged(&s, &[token]);
        }
        assert_eq!(
            bedrock.agentic_refused(),
            0,
            "the fake refused a request the server sent"
        );
    }
}

#[test]
fn progress_notifications_keep_coming_while_bedrock_is_silent() {
    let bedrock = managed_fake();
    let s = std::sync::Arc::new(start(&bedrock, None, &[("AGENTIC_MAX_IN_FLIGHT", "4")]));
    // A slow stream (events 2.5 s apart) completes, with progress all along; it runs beside
    // the held calls below, started first so that it takes the first script.
    bedrock.push_agentic(Script::Slow(Duration::from_millis(2_500)));
    let slow = {
        let s = s.clone();
        std::thread::spawn(move || {
            agentic_on(
                &s,
                Transport::Mcp("2026-07-28"),
                None,
                299,
                json!({"query": QUERY}),
            )
        })
    };
    assert!(bedrock.wait_until(HANG, |b| b.agentic_started() == 1));
    // Every transport at once, each stream held after its first trace event: four progress
    // notifications before the release can only come from the server's own clock.
    let (held_tx, held) = std::sync::mpsc::channel();
    let calls: Vec<_> = ALL
        .into_iter()
        .enumerate()
        .map(|(n, t)| {
            bedrock.push_agentic(Script::Hold);
            let (s, held_tx) = (s.clone(), held_tx.clone());
            let id = 200 + n as u64;
            let args = json!({"query": QUERY, "generate_response": true});
            let call = std::thread::spawn(move || match t {
                Transport::Mcp(v) => {
                    let call = agentic_call(&s, v, None, id, args);
                    assert_eq!(call.head.0, 200);
                    assert!(
                        call.head.1.starts_with("text/event-stream"),
                        "{:?}",
                        call.head
                    );
                    let mut progress = Vec::new();
                    while progress.len() < 4 {
                        let m = call.next().expect("stream ended while held");
                        assert!(m["id"] != id, "{t:?}: answered while held: {m}");
                        if m["method"] == "notifications/progress" {
                            progress.push(m);
                        }
                    }
                    let _ = held_tx.send(());
                    let (more, r) = call.until_response(id);
                    progress.extend(more);
                    (progress, r)
                }
                Transport::Sse => {
                    let mut session = Session::open(&s, None);
                    session.agentic(&s, id, args);
                    let mut progress = Vec::new();
                    while progress.len() < 4 {
                        let m = session.next();
                        assert!(m["id"] != id, "{t:?}: answered while held: {m}");
                        if m["method"] == "notifications/progress" {
                            progress.push(m);
                        }
                    }
                    let _ = held_tx.send(());
                    let (more, r) = session.until_response(id);
                    progress.extend(more);
                    (progress, r)
                }
            });
            (t, id, call)
        })
        .collect();
    for _ in &calls {
        held.recv_timeout(HANG)
            .expect("a held call never got four progress notifications");
    }
    assert_eq!(bedrock.agentic_started(), 1 + ALL.len());
    assert_eq!(
        bedrock.agentic_finished(),
        0,
        "a held stream ran to its end"
    );
    bedrock.release_agentic();
    for (t, id, call) in calls {
        let (progress, r) = call.join().expect("agentic thread");
        check_progress(&progress, id);
        assert!(!is_error(&r), "{t:?}: {r}");
        assert!(tool_call::text(&r).contains("Answer:"), "{t:?}: {r}");
    }
    let (progress, r) = slow.join().expect("slow agentic thread");
    assert!(!is_error(&r), "{r}");
    assert!(
        progress.len() >= 4,
        "{} progress notifications",
        progress.len()
    );
    check_progress(&progress, 299);
}

#[test]
fn a_cut_corrupted_or_failed_stream_is_a_clear_tool_error() {
    for auth in [false, true] {
        let bedrock = managed_fake();
        let entra = auth.then(FakeEntra::start);
        let s = start(&bedrock, entra.as_ref(), &[]);
        let token = entra.as_ref().map(|e| e.verified_email_token(ALICE));
        let token = token.as_deref();
        let mut cases: Vec<(Script, String)> = vec![
            (Script::Cut, "off".into()),
            (Script::BadCrc, "corrupted".into()),
            (Script::BadPreludeCrc, "corrupted".into()),
        ];
        for e in EXCEPTIONS.iter().chain([&VALIDATION_EXCEPTION]) {
            cases.push((Script::Exception(e.to_string()), e.to_string()));
        }
        for (i, (script, want)) in cases.into_iter().enumerate() {
            let t = ALL[i % ALL.len()];
            bedrock.push_agentic(script.clone());
            let (_, r) = agentic_on(&s, t, token, 300 + i as u64, json!({"query": QUERY}));
            assert!(is_error(&r), "{script:?} {t:?}: {r}");
            let shown = tool_call::text(&r);
            assert!(
                shown.contains(&want),
                "{script:?} {t:?}: want {want:?} in {shown}"
            );
            assert!(
                r["result"]["structuredContent"].get("results").is_none(),
                "{script:?} {t:?}: results after a failure: {r}"
            );
            if let Script::Exception(_) = script {
                assert!(
                    shown.contains("Bedrock stopped the agentic search"),
                    "{t:?}: {shown}"
                );
            }
            if script == Script::Cut {
                // "was cut off" (docs/reading.md) or "broke off": the stream ended early.
                assert!(
                    shown.contains("cut off") || shown.contains("broke off"),
                    "{t:?}: {shown}"
                );
            }
        }
        // An `error` message (outside the modelled exceptions) fails the call too.
        bedrock.push_agentic(Script::ErrorMessage);
        let (_, r) = agentic_on(
            &s,
            Transport::Mcp("2025-06-18"),
            token,
            399,
            json!({"query": QUERY}),
        );
        assert!(is_error(&r), "{r}");
        // And the server is none the worse: the next call succeeds.
        let (_, r) = agentic_on(&s, Transport::Sse, token, 398, json!({"query": QUERY}));
        assert!(!is_error(&r), "{r}");
        assert_eq!(bedrock.agentic_open(), 0);
    }
}

#[test]
fn cancelling_the_call_closes_the_bedrock_stream() {
    for auth in [false, true] {
        let bedrock = managed_fake();
        // A working stream: a trace event every 300 ms until released (never, here).
        bedrock.set_agentic_default(Script::HoldBeating(Duration::from_millis(300)));
        let entra = auth.then(FakeEntra::start);
        let s = start(&bedrock, entra.as_ref(), &[]);
        let token = entra.as_ref().map(|e| e.verified_email_token(ALICE));
        let token = token.as_deref();
        let mut closed = 0;
        let wait_closed = |closed: usize, how: &str| {
            assert!(
                bedrock.wait_until(HANG, |b| b.agentic_client_closed() == closed),
                "{how}: the Bedrock stream was not closed ({} open)",
                bedrock.agentic_open()
            );
            assert!(bedrock.wait_until(HANG, |b| b.agentic_open() == 0), "{how}");
        };
        // /mcp: notifications/cancelled from the same user.
        for (n, v) in ["2025-06-18", "2026-07-28"].into_iter().enumerate() {
            let id = 400 + n as u64;
            let call = agentic_call(&s, v, token, id, json!({"query": QUERY}));
            assert!(
                bedrock.wait_until(HANG, |b| b.agentic_open() == 1),
                "{v}: never started"
            );
            cancel_on_mcp(&s, v, token, id);
            closed += 1;
            wait_closed(closed, v);
            // No result follows a cancellation.
            while let Some(m) = call.next() {
                assert!(m.get("result").is_none(), "{v}: a result after cancel: {m}");
            }
        }
        // 2026-07-28: closing the response stream cancels too.
        let mut call = agentic_call(&s, "2026-07-28", token, 410, json!({"query": QUERY}));
        assert!(bedrock.wait_until(HANG, |b| b.agentic_open() == 1));
        call.close();
        closed += 1;
        wait_closed(closed, "closed response stream");
        // /sse: notifications/cancelled on the session.
        let mut session = Session::open(&s, token);
        session.agentic(&s, 420, json!({"query": QUERY}));
        assert!(
            bedrock.wait_until(HANG, |b| b.agentic_open() == 1),
            "/sse: never started"
        );
        session.post(
            &s,
            json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
            "params": {"requestId": 420, "reason": "stop"}}),
        );
        closed += 1;
        wait_closed(closed, "/sse");
        assert_eq!(
            bedrock.agentic_finished(),
            0,
            "a held stream ran to its end"
        );
    }
}

#[test]
fn ten_long_agentic_calls_leave_ordinary_searches_served() {
    let bedrock = managed_fake();
    bedrock.set_agentic_default(Script::Hold);
    // Few worker slots (an /sse stream holds one; 4 of these calls use /sse): if the seven
    // held /mcp agentic calls held slots too, searches would find none.
    let s = std::sync::Arc::new(start(
        &bedrock,
        None,
        &[("AGENTIC_MAX_IN_FLIGHT", "10"), ("WORKER_THREADS", "8")],
    ));
    let mut calls = Vec::new();
    for i in 0..10u64 {
        let t = ALL[i as usize % ALL.len()];
        let s = s.clone();
        calls.push(std::thread::spawn(move || {
            agentic_on(
                &s,
                t,
                None,
                500 + i,
                json!({"query": QUERY, "generate_response": true}),
            )
        }));
    }
    assert!(
        bedrock.wait_until(HANG, |b| b.agentic_open() == 10),
        "{} of 10 agentic streams open",
        bedrock.agentic_open()
    );
    // An eleventh is refused at once, with what to do.
    let r = call(
        &s,
        Transport::Mcp("2025-06-18"),
        None,
        "agentic_search",
        json!({"query": QUERY}),
    );
    assert!(is_error(&r), "{r}");
    assert!(tool_call::text(&r).contains("AGENTIC_MAX_IN_FLIGHT"), "{r}");
    // Ordinary searches are served while all ten stay held.
    let before = bedrock.retrieve_calls();
    for round in 0..4 {
        let searches: Vec<_> = ALL
            .into_iter()
            .map(|t| {
                let s = s.clone();
                std::thread::spawn(move || {
                    tool_call::call(
                        &s,
                        t,
                        None,
                        "search_knowledge_base",
                        json!({"query": "travel handbook booking rules", "max_results": 3}),
                    )
                })
            })
            .collect();
        for h in searches {
            let r = h.join().expect("search thread");
            assert!(!is_error(&r), "round {round}: {r}");
            assert!(tool_call::text(&r).contains(rc::HANDBOOK_ID), "{r}");
        }
    }
    // Every search reached Bedrock (a retried one may have reached it twice).
    assert!(
        bedrock.retrieve_calls() >= before + 12,
        "{:?}",
        bedrock.calls()
    );
    assert_eq!(
        bedrock.agentic_open(),
        10,
        "the agentic calls were not held throughout"
    );
    assert_eq!(bedrock.agentic_finished(), 0);
    bedrock.release_agentic();
    for (i, h) in calls.into_iter().enumerate() {
        let (progress, r) = h.join().expect("agentic thread");
        assert!(!is_error(&r), "call {i}: {r}");
        assert!(!progress.is_empty(), "call {i}: no progress");
        assert!(tool_call::text(&r).contains("Answer:"), "call {i}: {r}");
    }
    assert_eq!(bedrock.agentic_finished(), 10);
}

#[test]
fn knowledge_bases_without_agentic_retrieval_are_named_and_searches_still_work() {
    let bedrock = FakeBedrock::start(); // VECTOR
    let s = start(&bedrock, None, &[]);
    for t in ALL {
        let r = call(
            &s,
            t,
            None,
            "agentic_search",
            json!({"query": "vacation policy"}),
        );
        assert!(is_error(&r), "{t:?}: {r}");
        let shown = tool_call::text(&r);
        assert!(
            shown.contains("does not support agentic retrieval"),
            "{t:?}: {shown}"
        );
        assert!(shown.contains(KB_ID), "{t:?}: {shown}");
        assert!(shown.contains("search_knowledge_base"), "{t:?}: {shown}");
    }
    let r = tool_call::call(
        &s,
        Transport::Sse,
        None,
        "search_knowledge_base",
        json!({"query": "vacation policy"}),
    );
    assert!(!is_error(&r), "{r}");
    // Bad arguments never reach Bedrock.
    let sent = bedrock.agentic_bodies().len();
    for args in [
        json!({"query": ""}),
        json!({"query": QUERY, "max_iterations": 0}),
        json!({"query": QUERY, "max_iterations": 21}),
        json!({"query": QUERY, "knowledge_base_ids": ["KBNOTOURS1"]}),
        json!({"query": QUERY, "generate_response": "yes"}),
    ] {
        let r = call(
            &s,
            Transport::Mcp("2026-07-28"),
            None,
            "agentic_search",
            args.clone(),
        );
        assert!(is_error(&r) || r.get("error").is_some(), "{args}: {r}");
    }
    assert_eq!(
        bedrock.agentic_bodies().len(),
        sent,
        "a bad call reached Bedrock"
    );
}

#[test]
fn the_acl_aware_expansion_needs_the_user_and_gets_it_when_signed_in() {
    let bedrock = managed_fake();
    let entra = FakeEntra::start();
    let s = start(&bedrock, Some(&entra), &[]);
    let alice = entra.verified_email_token(ALICE);
    let (_, r) = agentic_on(
        &s,
        Transport::Mcp("2026-07-28"),
        Some(&alice),
        600,
        json!({"query": "salary review engineering budget", "generate_response": true}),
    );
    assert!(!is_error(&r), "{r}");
    assert!(tool_call::text(&r).contains("4.5 percent"), "{r}");
    let steps = r["result"]["structuredContent"]["steps"].to_string();
    assert!(!steps.contains("FAILED"), "{steps}");
    // With auth off nobody is named: the access-listed document stays out.
    let open = start(&bedrock, None, &[]);
    let (_, r) = agentic_on(
        &open,
        Transport::Mcp("2025-06-18"),
        None,
        601,
        json!({"query": "salary review engineering budget"}),
    );
    assert!(!is_error(&r), "{r}");
    assert!(!tool_call::text(&r).contains("4.5 percent"), "{r}");
}

#[test]
fn an_agentic_call_past_its_deadline_is_stopped_and_its_stream_closed() {
    let bedrock = managed_fake();
    bedrock.set_agentic_default(Script::HoldBeating(Duration::from_millis(300)));
    let s = std::sync::Arc::new(start(&bedrock, None, &[("AGENTIC_TIMEOUT_SECS", "10")]));
    // Both transports at once: the shortest deadline allowed is 10 s.
    let calls: Vec<_> = [Transport::Mcp("2026-07-28"), Transport::Sse]
        .into_iter()
        .enumerate()
        .map(|(n, t)| {
            let s = s.clone();
            let call = std::thread::spawn(move || {
                agentic_on(&s, t, None, 700 + n as u64, json!({"query": QUERY}))
            });
            (t, call)
        })
        .collect();
    for (t, call) in calls {
        let (progress, r) = call.join().expect("agentic thread");
        assert!(is_error(&r), "{t:?}: {r}");
        let shown = tool_call::text(&r);
        assert!(shown.contains("AGENTIC_TIMEOUT_SECS"), "{t:?}: {shown}");
        assert!(
            !progress.is_empty(),
            "{t:?}: no progress before the deadline"
        );
    }
    assert!(
        bedrock.wait_until(HANG, |b| b.agentic_client_closed() == 2),
        "the Bedrock streams stayed open past the deadline ({} closed)",
        bedrock.agentic_client_closed()
    );
    // Ordinary searches have their own deadline and are untouched.
    let r = call(
        &s,
        Transport::Mcp("2025-06-18"),
        None,
        "search_knowledge_base",
        json!({"query": "travel handbook booking rules"}),
    );
    assert!(!is_error(&r), "{r}");
}

#[test]
fn cancelling_closes_even_a_silent_bedrock_stream() {
    // Bedrock can be silent for a while (a model step writing a long answer); a cancelled
    // call must not keep its Bedrock connection open until the stream's idle timeout.
    let bedrock = managed_fake();
    bedrock.set_agentic_default(Script::Hold);
    let s = start(&bedrock, None, &[]);
    let call = agentic_call(&s, "2025-06-18", None, 800, json!({"query": QUERY}));
    assert!(bedrock.wait_until(HANG, |b| b.agentic_open() == 1));
    cancel_on_mcp(&s, "2025-06-18", None, 800);
    // A hang guard, not a latency target: well under the server's 60 s stream idle timeout.
    assert!(
        bedrock.wait_until(Duration::from_secs(20), |b| b.agentic_client_closed() == 1),
        "the cancelled call's Bedrock stream is still open ({} open)",
        bedrock.agentic_open()
    );
    while let Some(m) = call.next() {
        assert!(m.get("result").is_none(), "a result after cancel: {m}");
    }
}

#[test]
fn with_several_knowledge_bases_the_ones_without_agentic_retrieval_are_named() {
    let bedrock = managed_fake();
    bedrock.add_kb(
        "KBVECTOR01",
        "VECTOR",
        "Vectors",
        "A vector knowledge base",
        rc::reading_corpus(),
    );
    let s = start(
        &bedrock,
        None,
        &[("BEDROCK_KB_ID", "KBFAKE0001,KBVECTOR01")],
    );
    for t in ALL {
        let r = call(&s, t, None, "agentic_search", json!({"query": QUERY}));
        assert!(is_error(&r), "{t:?}: {r}");
        let shown = tool_call::text(&r);
        assert!(shown.contains("KBVECTOR01"), "{t:?}: {shown}");
        assert!(
            shown.contains("does not support agentic retrieval")
                || shown.contains("do not support agentic retrieval"),
            "{t:?}: {shown}"
        );
        let ok = call(
            &s,
            t,
            None,
            "agentic_search",
            json!({"query": QUERY, "knowledge_base_ids": ["KBFAKE0001"]}),
        );
        assert!(!is_error(&ok), "{t:?}: {ok}");
        let sent = bedrock.agentic_bodies().pop().unwrap();
        assert_eq!(
            sent["retrievers"],
            json!([{"configuration": {"knowledgeBase": {"knowledgeBaseId": KB_ID}}}]),
            "{t:?}"
        );
    }
}
