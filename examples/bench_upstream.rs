//! The fake Bedrock for `scripts/bench.sh`: Retrieve and GetKnowledgeBase on 127.0.0.1, every
//! request's SigV4 signature checked by the tests' independent verifier
//! (tests/support/fake_bedrock/sigv4.rs), answers from the tests' corpus, after a fixed
//! latency. Prints where it is and the credentials it accepts as one JSON line on stdout,
//! serves until stdin closes, then prints its counters as a second line.
//!
//! Lean on purpose: it shares the machine's cores with the server it feeds, so every
//! microsecond it spends is taken from the server's measurement. One thread per
//! connection (kept alive, as the server's pooled agent expects), a minimal HTTP/1.1 reader,
//! TCP_NODELAY, each answer in one write, and each distinct Retrieve body answered from a
//! per-connection cache after the first search. The test fake (tiny_http, a thread per
//! request, scripted faults) costs about as much CPU per call as the server under test.
//!
//! Usage: `bench_upstream [--latency-ms N]`. Test keys only; loopback only.

// An inline module with a path, so fake_bedrock.rs finds its submodules in
// tests/support/fake_bedrock/ as it does under tests/. This program uses its verifier and
// corpus, not its server.
#[allow(dead_code)]
#[path = "../tests/support"]
mod support {
    pub mod fake_bedrock;
    pub mod fake_server;
}

use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use support::fake_bedrock::corpus::{default_corpus, retrieve_body, search, FakeDoc};
use support::fake_bedrock::sigv4::{verify, KeyRing, Received};
use support::fake_bedrock::{ACCESS_KEY, KB_ID, REGION, SECRET_KEY};

/// The largest request head or body we read; the server's are far smaller.
const MAX_BYTES: usize = 1 << 20;

/// What every connection shares.
struct Shared {
    keys: KeyRing,
    corpus: Vec<FakeDoc>,
    latency: Duration,
    requests: AtomicUsize,
    accepted: AtomicUsize,
    retrieve_calls: AtomicUsize,
    auth_failures: AtomicUsize,
}

/// One request off the wire.
struct Incoming {
    method: String,
    target: String,
    /// Lower-cased names.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    close: bool,
}

fn parse_args() -> Result<u64, String> {
    let mut latency_ms = 0;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--latency-ms" => {
                latency_ms = value
                    .parse()
                    .map_err(|_| format!("--latency-ms takes a number, not {value:?}"))?
            }
            _ => return Err(format!("unknown flag {flag}: use --latency-ms N")),
        }
    }
    Ok(latency_ms)
}

/// Reads one request; `None` at a clean end of the connection or on anything malformed.
fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Incoming> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next()?.to_string(), parts.next()?.to_string());
    let mut headers = Vec::new();
    let mut head_bytes = line.len();
    loop {
        line.clear();
        head_bytes += reader.read_line(&mut line).ok()?;
        if head_bytes > MAX_BYTES {
            return None;
        }
        let l = line.trim_end_matches(['\r', '\n']);
        if l.is_empty() {
            break;
        }
        let (name, value) = l.split_once(':')?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    let header = |n: &str| {
        headers
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.as_str())
    };
    let length: usize = header("content-length").map_or(Some(0), |v| v.parse().ok())?;
    let close = header("connection").is_some_and(|v| v.eq_ignore_ascii_case("close"));
    if length > MAX_BYTES {
        return None;
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Incoming {
        method,
        target,
        headers,
        body,
        close,
    })
}

/// The whole response, head and body, for one write.
fn response(status: u16, error_type: Option<&str>, body: &[u8]) -> Vec<u8> {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        _ => "Not Found",
    };
    let mut out = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(t) = error_type {
        out.push_str(&format!("x-amzn-ErrorType: {t}\r\n"));
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

fn error(status: u16, code: &str, message: &str) -> Vec<u8> {
    response(
        status,
        Some(code),
        json!({ "message": message }).to_string().as_bytes(),
    )
}

/// The Retrieve answer for a request body, as Bedrock shapes it.
fn retrieve(corpus: &[FakeDoc], body: &[u8]) -> Vec<u8> {
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return error(400, "ValidationException", "the body is not JSON");
    };
    let Some(query) = request["retrievalQuery"]["text"].as_str() else {
        return error(
            400,
            "ValidationException",
            "retrievalQuery.text is required",
        );
    };
    let n = request["retrievalConfiguration"]["vectorSearchConfiguration"]["numberOfResults"]
        .as_u64()
        .unwrap_or(5) as usize;
    let hits = search(corpus, query, n);
    response(
        200,
        None,
        retrieve_body(&hits, "x-amz-bedrock-kb-data-source-id")
            .to_string()
            .as_bytes(),
    )
}

/// Answers one request: latency, signature, route.
fn answer(shared: &Shared, req: &Incoming, cache: &mut HashMap<Vec<u8>, Vec<u8>>) -> Vec<u8> {
    shared.requests.fetch_add(1, Relaxed);
    if !shared.latency.is_zero() {
        std::thread::sleep(shared.latency);
    }
    let received = Received {
        method: &req.method,
        target: &req.target,
        headers: &req.headers,
        body: &req.body,
    };
    if let Err(rejection) = verify(
        &received,
        &shared.keys,
        REGION,
        "bedrock",
        SystemTime::now(),
    ) {
        shared.auth_failures.fetch_add(1, Relaxed);
        return error(403, rejection.code, &rejection.message);
    }
    shared.accepted.fetch_add(1, Relaxed);
    // The target names the knowledge base: "/knowledgebases/{id}" or ".../{id}/retrieve".
    let op = req
        .target
        .strip_prefix("/knowledgebases/")
        .and_then(|rest| rest.strip_prefix(KB_ID));
    match (req.method.as_str(), op) {
        ("POST", Some("/retrieve")) => {
            shared.retrieve_calls.fetch_add(1, Relaxed);
            if let Some(cached) = cache.get(&req.body) {
                return cached.clone();
            }
            let out = retrieve(&shared.corpus, &req.body);
            cache.insert(req.body.clone(), out.clone());
            out
        }
        ("GET", Some("")) => {
            let kb = json!({"knowledgeBase": {
                "knowledgeBaseId": KB_ID, "name": "Fake KB", "description": "A corpus for tests",
                "status": "ACTIVE", "updatedAt": "2026-01-01T00:00:00Z",
            }});
            response(200, None, kb.to_string().as_bytes())
        }
        _ => error(404, "UnknownOperationException", "no such operation"),
    }
}

/// Serves one kept-alive connection until the client closes it.
fn connection(shared: &Shared, stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::with_capacity(16 * 1024, stream);
    let mut cache = HashMap::new();
    while let Some(req) = read_request(&mut reader) {
        let out = answer(shared, &req, &mut cache);
        if writer.write_all(&out).is_err() || req.close {
            return;
        }
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench_upstream: {e}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<(), String> {
    let latency_ms = parse_args()?;
    let listener =
        TcpListener::bind("127.0.0.1:0").map_err(|e| format!("cannot bind 127.0.0.1:0: {e}"))?;
    let url = format!(
        "http://{}",
        listener.local_addr().map_err(|e| e.to_string())?
    );
    let keys = KeyRing::default();
    keys.add(ACCESS_KEY, SECRET_KEY, None);
    let shared = Arc::new(Shared {
        keys,
        corpus: default_corpus(),
        latency: Duration::from_millis(latency_ms),
        requests: AtomicUsize::new(0),
        accepted: AtomicUsize::new(0),
        retrieve_calls: AtomicUsize::new(0),
        auth_failures: AtomicUsize::new(0),
    });
    let accepting = shared.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let shared = accepting.clone();
            std::thread::spawn(move || connection(&shared, stream));
        }
    });
    let hello = json!({
        "url": url,
        "access_key_id": ACCESS_KEY,
        "secret_access_key": SECRET_KEY,
        "session_token": null,
        "region": REGION,
        "kb_id": KB_ID,
        "latency_ms": latency_ms,
    });
    println!("{hello}");
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    let counters = json!({
        "requests": shared.requests.load(Relaxed),
        "accepted": shared.accepted.load(Relaxed),
        "retrieve_calls": shared.retrieve_calls.load(Relaxed),
        "auth_failures": shared.auth_failures.load(Relaxed),
    });
    println!("{counters}");
    Ok(())
}
