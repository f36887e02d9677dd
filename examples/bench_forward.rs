//! The second ceiling for `scripts/bench.sh`: our HTTP stack plus one upstream exchange, and
//! nothing of our own. A bare tiny_http server whose every request is forwarded with ureq to
//! the same fake Bedrock the server talks to (a Retrieve for the bench's query), and whose
//! answer is Bedrock's body, passed through as bytes.
//!
//! No JSON is parsed or written per request, no routing, no logging, and no signing per
//! request: the Retrieve is signed once at start-up (and again each minute, inside the
//! fake's five-minute clock-skew window), so the fake checks a valid SigV4 signature on
//! every call exactly as it does for the server. The server's req/s divided by this one's
//! is the share left after our own work (MCP, JSON, signing, routing); the bare tiny_http
//! ceiling (`bench_ceiling`) adds the upstream exchange to that.
//!
//! Usage: `bench_forward --upstream URL --key ID --secret KEY [--token T] --kb ID --region R
//! --query TEXT [--results N] [--threads N]`; prints `{"url": …}` on stdout and serves
//! until stdin closes. Loopback and test keys only.

#[path = "support/nodelay.rs"]
mod nodelay;
use aws_credential_types::Credentials;
use bedrock_mcp::aws::sigv4::{self, Signable};
use nodelay::set_nodelay;
use std::io::Read;
use std::net::TcpListener;
use std::process::ExitCode;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime};

/// Settings from the command line.
#[derive(Default)]
struct Args {
    upstream: String,
    key: String,
    secret: String,
    token: Option<String>,
    kb: String,
    region: String,
    query: String,
    results: u32,
    threads: usize,
}

/// A signed Retrieve: the URL, the headers to send and the body.
struct Signed {
    url: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    at: Instant,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        results: 5,
        threads: 512,
        ..Args::default()
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let v = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = |v: &str| {
            v.parse::<usize>()
                .map_err(|_| format!("{flag}: not a number: {v:?}"))
        };
        match flag.as_str() {
            "--upstream" => a.upstream = v.trim_end_matches('/').to_string(),
            "--key" => a.key = v,
            "--secret" => a.secret = v,
            "--token" => a.token = Some(v).filter(|t| !t.is_empty()),
            "--kb" => a.kb = v,
            "--region" => a.region = v,
            "--query" => a.query = v,
            "--results" => a.results = number(&v)? as u32,
            "--threads" => a.threads = number(&v)?.max(1),
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    if a.upstream.is_empty() || a.key.is_empty() || a.secret.is_empty() || a.kb.is_empty() {
        return Err("--upstream, --key, --secret and --kb are required".into());
    }
    Ok(a)
}

/// Signs the one Retrieve this program sends, with the server's own signing code.
fn sign(a: &Args) -> Result<Signed, String> {
    let url = format!("{}/knowledgebases/{}/retrieve", a.upstream, a.kb);
    let host = url
        .split("//")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .ok_or("--upstream must be http://HOST:PORT")?
        .to_string();
    let body = serde_json::json!({
        "retrievalQuery": {"text": a.query},
        "retrievalConfiguration": {"vectorSearchConfiguration": {"numberOfResults": a.results}}
    })
    .to_string()
    .into_bytes();
    let base: Vec<(&str, &str)> = vec![("host", &host), ("content-type", "application/json")];
    let creds = Credentials::new(&a.key, &a.secret, a.token.clone(), None, "bench");
    let request = Signable {
        method: "POST",
        url: &url,
        headers: &base,
        body: &body,
    };
    let signed = sigv4::sign(&request, &creds, &a.region, "bedrock", SystemTime::now())
        .map_err(|e| e.to_string())?;
    let headers = base
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .chain(signed.into_iter().map(|(k, v)| (k.to_string(), v)))
        .collect();
    Ok(Signed {
        url,
        headers,
        body,
        at: Instant::now(),
    })
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench_forward: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let args = Arc::new(parse_args()?);
    let signed = Arc::new(RwLock::new(sign(&args)?));
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("cannot listen: {e}"))?;
    set_nodelay(&listener).map_err(|e| format!("cannot set TCP_NODELAY: {e}"))?;
    let server =
        Arc::new(tiny_http::Server::from_listener(listener, None).map_err(|e| e.to_string())?);
    let port = server
        .server_addr()
        .to_ip()
        .map(|a| a.port())
        .ok_or("not an IP listener")?;
    // As the server's Bedrock agent: pooled, kept-alive connections, statuses as data.
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .max_idle_connections(256)
        .max_idle_connections_per_host(256)
        .http_status_as_error(false)
        .build()
        .into();
    let content_type = tiny_http::Header::from_bytes("Content-Type", "application/json")
        .map_err(|()| "bad header")?;
    for _ in 0..args.threads {
        let (server, agent, signed, args, ct) = (
            server.clone(),
            agent.clone(),
            signed.clone(),
            args.clone(),
            content_type.clone(),
        );
        std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(move || {
                while let Ok(mut rq) = server.recv() {
                    let _ = std::io::copy(&mut rq.as_reader(), &mut std::io::sink());
                    let stale = signed
                        .read()
                        .map(|s| s.at.elapsed() > Duration::from_secs(60))
                        .unwrap_or(true);
                    if stale {
                        if let (Ok(fresh), Ok(mut slot)) = (sign(&args), signed.write()) {
                            *slot = fresh;
                        }
                    }
                    let answer = signed.read().ok().and_then(|s| {
                        let mut req = agent.post(&s.url);
                        for (k, v) in &s.headers {
                            req = req.header(k, v);
                        }
                        let mut resp = req.send(&s.body[..]).ok()?;
                        let status = resp.status().as_u16();
                        let body = resp.body_mut().read_to_vec().ok()?;
                        Some((status, body))
                    });
                    let (status, body) = answer.unwrap_or((502, b"{}".to_vec()));
                    let response = tiny_http::Response::from_data(body)
                        .with_status_code(status)
                        .with_header(ct.clone());
                    let _ = rq.respond(response);
                }
            })
            .map_err(|e| format!("cannot start a thread: {e}"))?;
    }
    println!("{{\"url\":\"http://127.0.0.1:{port}\"}}");
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    Ok(())
}
