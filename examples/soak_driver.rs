//! The load for `scripts/soak.sh`: mixed, partly hostile traffic against a running
//! bedrock-mcp for a set time, watching the server process for growth.
//!
//! Threads: MCP callers (initialize, tools/list, tools/call over keep-alive), legacy SSE
//! sessions that open, call a tool and close, and one abuser (bad bearer tokens, garbage
//! JSON, oversized bodies and heads, a huge declared Content-Length, garbage request lines,
//! abandoned heads). Every `--report-secs` it prints the counters and the server's RSS,
//! threads and open fds from /proc; at the end a verdict on growth, exit 0 when it holds.
//! It must only observe the server: no restarts, no signals.
//!
//! Usage: `soak_driver --url http://127.0.0.1:PORT --pid PID [--seconds N] [--callers N]
//! [--sse N] [--pause-ms N] [--report-secs N] [--warmup-secs N] [--settle-secs N]
//! [--workers N] [--max-body N]`.

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// Settings from the command line.
#[derive(Clone)]
struct Args {
    url: String,
    pid: u32,
    seconds: u64,
    callers: usize,
    sse: usize,
    pause: Duration,
    report_secs: u64,
    warmup_secs: u64,
    settle_secs: u64,
    workers: u64,
    max_body: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        url: String::new(),
        pid: 0,
        seconds: 300,
        callers: 4,
        sse: 2,
        pause: Duration::from_millis(10),
        report_secs: 30,
        warmup_secs: 10,
        settle_secs: 20,
        workers: 512,
        max_body: 1 << 20,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let num = || -> Result<u64, String> {
            value
                .parse()
                .map_err(|_| format!("{flag} takes a number, not {value:?}"))
        };
        match flag.as_str() {
            "--url" => a.url = value.trim_end_matches('/').to_string(),
            "--pid" => a.pid = num()? as u32,
            "--seconds" => a.seconds = num()?,
            "--callers" => a.callers = num()? as usize,
            "--sse" => a.sse = num()? as usize,
            "--pause-ms" => a.pause = Duration::from_millis(num()?),
            "--report-secs" => a.report_secs = num()?.max(1),
            "--warmup-secs" => a.warmup_secs = num()?,
            "--settle-secs" => a.settle_secs = num()?,
            "--workers" => a.workers = num()?,
            "--max-body" => a.max_body = num()? as usize,
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    if a.url.is_empty() || a.pid == 0 {
        return Err("--url and --pid are required".into());
    }
    Ok(a)
}

/// Outcome counters by kind, shared by every thread.
#[derive(Default)]
struct Counters(Mutex<BTreeMap<String, u64>>);

impl Counters {
    fn add(&self, kind: &str) {
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *m.entry(kind.to_string()).or_default() += 1;
    }

    fn snapshot(&self) -> BTreeMap<String, u64> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// What /proc says about the server.
#[derive(Clone, Copy, Debug)]
struct Usage {
    rss_kb: u64,
    threads: u64,
    fds: u64,
}

fn usage(pid: u32) -> Option<Usage> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |key: &str| -> Option<u64> {
        let line = status.lines().find(|l| l.starts_with(key))?;
        line.split_whitespace().nth(1)?.parse().ok()
    };
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count() as u64;
    Some(Usage {
        rss_kb: field("VmRSS:")?,
        threads: field("Threads:")?,
        fds,
    })
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .max_redirects(0)
        .build()
        .into()
}

/// POSTs `body`; returns the status and body, or the transport error's kind.
fn post(
    agent: &ureq::Agent,
    url: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Result<(u16, String), String> {
    let mut b = ureq::http::Request::builder()
        .method("POST")
        .uri(url)
        .header("Content-Type", "application/json")
        .header("Accept", "application/json, text/event-stream");
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let req = b.body(body.to_string()).map_err(|e| e.to_string())?;
    let mut resp = agent.run(req).map_err(|e| match e {
        ureq::Error::Timeout(_) => "timeout".to_string(),
        _ => "transport".to_string(),
    })?;
    let mut text = String::new();
    let _ = resp.body_mut().as_reader().read_to_string(&mut text);
    Ok((resp.status().as_u16(), text))
}

fn search(id: u64) -> Value {
    const QUERIES: [&str; 4] = [
        "Lambda functions",
        "IAM permissions",
        "deploy on EC2",
        "troubleshooting",
    ];
    let query = QUERIES[id as usize % QUERIES.len()];
    json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":{"name":"search_knowledge_base",
        "arguments":{"query":query,"max_results":3}}})
}

/// Sorts a tool call's outcome into a counter kind.
fn tool_outcome(r: Result<(u16, String), String>) -> String {
    match r {
        Ok((200, body)) if body.contains("\"isError\":false") => "ok".into(),
        Ok((200, _)) => "error:tool_error".into(),
        Ok((status, _)) => format!("error:status_{status}"),
        Err(kind) => format!("error:{kind}"),
    }
}

fn caller(a: &Args, c: &Counters, stop: &AtomicBool) {
    let agent = agent();
    let url = format!("{}/mcp", a.url);
    let mut n: u64 = 0;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        if n % 20 == 1 {
            let init = json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18",
                "capabilities":{},"clientInfo":{"name":"soak","version":"1"}}});
            c.add(&match post(&agent, &url, &[], &init.to_string()) {
                Ok((200, _)) => "ok".to_string(),
                other => tool_outcome(other),
            });
        }
        c.add(&tool_outcome(post(
            &agent,
            &url,
            &[],
            &search(n).to_string(),
        )));
        thread::sleep(a.pause);
    }
}

/// One legacy SSE session: open, read the endpoint, call a tool, read its answer, close.
fn sse_session(a: &Args, agent: &ureq::Agent, n: u64) -> Result<(), String> {
    let addr = a.url.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).map_err(|_| "transport")?;
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|_| "transport")?;
    write!(
        s,
        "GET /sse HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n"
    )
    .map_err(|_| "transport")?;
    let mut lines = BufReader::new(s).lines();
    let mut next_data = || -> Result<String, String> {
        for line in lines.by_ref() {
            if let Some(d) = line.map_err(|_| "sse_read")?.strip_prefix("data: ") {
                return Ok(d.to_string());
            }
        }
        Err("sse_closed".into())
    };
    let endpoint = next_data()?;
    let url = format!("{}{endpoint}", a.url);
    let init = json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2024-11-05"}});
    for body in [init, search(n)] {
        match post(agent, &url, &[], &body.to_string()) {
            Ok((202, _)) => {}
            Ok((status, _)) => return Err(format!("status_{status}")),
            Err(kind) => return Err(kind),
        }
        let answer = next_data()?;
        if answer.contains("\"error\"") || answer.contains("\"isError\":true") {
            return Err("sse_error_answer".into());
        }
    }
    Ok(())
}

fn sse_user(a: &Args, c: &Counters, stop: &AtomicBool) {
    let agent = agent();
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        match sse_session(a, &agent, n) {
            Ok(()) => c.add("ok"),
            Err(kind) => c.add(&format!("error:sse_{kind}")),
        }
        thread::sleep(a.pause * 10);
    }
}

/// Sends raw bytes and returns the status code the server answered with (0: none).
fn raw(a: &Args, bytes: &[u8]) -> u16 {
    let Ok(mut s) = TcpStream::connect(a.url.trim_start_matches("http://")) else {
        return 0;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(15)));
    let _ = s.write_all(bytes);
    let mut head = [0u8; 12];
    match s.read_exact(&mut head) {
        Ok(()) => std::str::from_utf8(&head[9..12])
            .ok()
            .and_then(|t| t.parse().ok())
            .unwrap_or(0),
        Err(_) => 0,
    }
}

fn abuser(a: &Args, c: &Counters, stop: &AtomicBool) {
    let agent = agent();
    let url = format!("{}/mcp", a.url);
    let list = json!({"jsonrpc":"2.0","id":1,"method":"tools/list"}).to_string();
    let mut n: u64 = 0;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        // (kind, status) — which status each abuse expects is checked below.
        let (kind, status) = match n % 8 {
            0 => (
                "bad_bearer",
                post(
                    &agent,
                    &url,
                    &[("Authorization", "Bearer not.a.jwt")],
                    &list,
                )
                .map_or(0, |r| r.0),
            ),
            1 => (
                "garbage_json",
                post(&agent, &url, &[], "{\"jsonrpc\": 2.0, oops").map_or(0, |r| r.0),
            ),
            2 => ("oversized_body", {
                let body = "x".repeat(a.max_body + 1);
                raw(
                    a,
                    format!(
                        "POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    )
                    .as_bytes(),
                )
            }),
            3 => (
                "huge_head",
                raw(
                    a,
                    format!(
                        "GET /health HTTP/1.1\r\nX-Pad: {}\r\n\r\n",
                        "a".repeat(100_000)
                    )
                    .as_bytes(),
                ),
            ),
            4 => (
                "huge_content_length",
                raw(
                    a,
                    b"POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999\r\n\r\n{}",
                ),
            ),
            5 => ("garbage_line", raw(a, b"\x00\x01 garbage\r\n\r\n")),
            6 => ("http2_preface", raw(a, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")),
            _ => ("abandoned_head", {
                let _ = TcpStream::connect(a.url.trim_start_matches("http://"))
                    .map(|mut s| s.write_all(b"GET /he"));
                1
            }),
        };
        let expected: &[u16] = match kind {
            "bad_bearer" => &[200, 401],
            "garbage_json" => &[200, 400],
            "oversized_body" | "huge_content_length" => &[413, 0],
            "huge_head" => &[431, 0],
            "garbage_line" => &[400, 0],
            "http2_preface" => &[505, 400, 0],
            _ => &[1],
        };
        if expected.contains(&status) {
            c.add(&format!("rejected_as_expected:{kind}"));
        } else {
            c.add(&format!("error:{kind}_got_{status}"));
        }
        thread::sleep(a.pause * 5);
    }
}

fn report(label: &str, started: Instant, c: &Counters, u: Option<Usage>) {
    let counts = c.snapshot();
    let total: u64 = counts.values().sum();
    let errors: BTreeMap<_, _> = counts
        .iter()
        .filter(|(k, _)| k.starts_with("error:"))
        .collect();
    let rejected: u64 = counts
        .iter()
        .filter(|(k, _)| k.starts_with("rejected"))
        .map(|(_, v)| v)
        .sum();
    let u = u.map_or("server gone".to_string(), |u| {
        format!(
            "rss={:.1}MB threads={} fds={}",
            u.rss_kb as f64 / 1024.0,
            u.threads,
            u.fds
        )
    });
    println!(
        "[{label:>6} {:>4}s] requests={total} ok={} rejected_as_expected={rejected} errors={errors:?} {u}",
        started.elapsed().as_secs(),
        counts.get("ok").unwrap_or(&0)
    );
}

fn main() -> ExitCode {
    let a = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("soak_driver: {e}");
            return ExitCode::from(2);
        }
    };
    let Some(idle) = usage(a.pid) else {
        eprintln!("soak_driver: no process {} to watch", a.pid);
        return ExitCode::from(2);
    };
    let counters = Arc::new(Counters::default());
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    report("idle", started, &counters, Some(idle));
    let mut handles = Vec::new();
    let roles = [
        (a.callers, caller as fn(&Args, &Counters, &AtomicBool)),
        (a.sse, sse_user),
        (1, abuser),
    ];
    for (count, role) in roles {
        for _ in 0..count {
            let (a, c, s) = (a.clone(), counters.clone(), stop.clone());
            handles.push(thread::spawn(move || role(&a, &c, &s)));
        }
    }
    thread::sleep(Duration::from_secs(a.warmup_secs.min(a.seconds)));
    let warm = usage(a.pid);
    report("warm", started, &counters, warm);
    let end = started + Duration::from_secs(a.seconds);
    let mut next = started + Duration::from_secs(a.report_secs);
    while Instant::now() < end {
        thread::sleep(next.min(end).saturating_duration_since(Instant::now()));
        if Instant::now() >= next {
            report("load", started, &counters, usage(a.pid));
            next += Duration::from_secs(a.report_secs);
        }
    }
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        let _ = h.join();
    }
    report("stop", started, &counters, usage(a.pid));
    thread::sleep(Duration::from_secs(a.settle_secs));
    let last = usage(a.pid);
    report("settle", started, &counters, last);
    verdict(&a, &counters, idle, warm.unwrap_or(idle), last)
}

/// No growth beyond noise: RSS within 5 MB or 20 % of the warmed-up figure, fds back to the
/// idle count ±10, threads at most idle + workers, and no request error at all.
fn verdict(a: &Args, c: &Counters, idle: Usage, warm: Usage, last: Option<Usage>) -> ExitCode {
    let Some(last) = last else {
        println!("VERDICT: FAIL — the server process is gone");
        return ExitCode::FAILURE;
    };
    let errors: u64 = c
        .snapshot()
        .iter()
        .filter(|(k, _)| k.starts_with("error:"))
        .map(|(_, v)| v)
        .sum();
    let rss_cap = warm.rss_kb + (5 * 1024).max(warm.rss_kb / 5);
    let checks = [
        (
            "rss",
            last.rss_kb <= rss_cap,
            format!(
                "{} kB (warm {} kB, cap {rss_cap} kB)",
                last.rss_kb, warm.rss_kb
            ),
        ),
        (
            "fds",
            last.fds.abs_diff(idle.fds) <= 10,
            format!("{} (idle {})", last.fds, idle.fds),
        ),
        (
            "threads",
            last.threads <= idle.threads + a.workers,
            format!(
                "{} (idle {}, workers {})",
                last.threads, idle.threads, a.workers
            ),
        ),
        ("errors", errors == 0, format!("{errors}")),
    ];
    for (name, ok, detail) in &checks {
        println!("  {name:<8} {} {detail}", if *ok { "ok  " } else { "FAIL" });
    }
    if checks.iter().all(|(_, ok, _)| *ok) {
        println!("VERDICT: PASS — no growth beyond noise");
        ExitCode::SUCCESS
    } else {
        println!("VERDICT: FAIL");
        ExitCode::FAILURE
    }
}
