//! Scale-out: two replicas of the real binary behind a real nginx (Debian's, default
//! round-robin) serve one client's MCP conversation whose requests alternate between them,
//! proving that `/mcp` needs no sticky sessions.
//!
//! Each request carries its own `X-Request-Id`; the replica whose access log holds that id
//! is the one that served it. nginx runs from `/usr/sbin/nginx` in a temporary prefix
//! directory (config, pid, logs and temp paths all inside it), on 127.0.0.1 only.
//!
//! The test is `#[ignore]`d, so the README's `cargo test --locked` lists it as ignored instead
//! of failing, or passing it unseen, on a machine without nginx. CI (`.ci/run`) installs nginx
//! and adds `--include-ignored`; then a missing nginx fails the test with what to install. This file
//! must not start anything that outlives the test: nginx and the replicas are killed on drop.

use crate::support;

use serde_json::{json, Value};
use std::fmt::Write as _;
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use support::server::{request, Resp, Server};
use support::wait::within;

const NGINX: &str = "/usr/sbin/nginx";
const VERSION: &str = "2025-11-25";

/// A running nginx balancing over the given upstream addresses; killed on drop.
struct Nginx {
    child: Child,
    dir: PathBuf,
    /// `http://127.0.0.1:PORT`.
    url: String,
}

impl Nginx {
    /// Starts nginx in front of `upstreams` (`host:port`), retrying on a lost port race.
    fn start(upstreams: &[&str]) -> Nginx {
        let dir = std::env::temp_dir().join(format!("bedrock-mcp-nginx-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut last_error = String::new();
        for _ in 0..3 {
            let port = free_port();
            std::fs::write(dir.join("nginx.conf"), config(&dir, port, upstreams)).unwrap();
            // -e: nginx opens its error log before reading the config; keep even that inside.
            let mut child = Command::new(NGINX)
                .arg("-p")
                .arg(&dir)
                .args(["-c", "nginx.conf", "-e", "error.log"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot run {NGINX}: {e}"));
            match wait_listening(&mut child, port) {
                Ok(()) => {
                    return Nginx {
                        child,
                        dir,
                        url: format!("http://127.0.0.1:{port}"),
                    }
                }
                Err(e) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    let log = std::fs::read_to_string(dir.join("error.log")).unwrap_or_default();
                    last_error = format!("{e}; error.log:\n{log}");
                }
            }
        }
        panic!("nginx did not start: {last_error}");
    }

    fn errors(&self) -> String {
        std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default()
    }

    fn access_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("access.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The nginx configuration: one process (so `Child::kill` leaves no orphaned worker, and a
/// single round-robin counter makes the alternation deterministic), default round-robin,
/// HTTP/1.1 without buffering as recommended in front of Streamable HTTP.
fn config(dir: &Path, port: u16, upstreams: &[&str]) -> String {
    let d = dir.display();
    let mut c = String::new();
    // A root master would switch to `nobody`, who cannot write our temp paths.
    if std::fs::metadata(dir)
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
    {
        c.push_str("user root;\n");
    }
    writeln!(
        c,
        "daemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\n\
         error_log {d}/error.log info;\nevents {{ worker_connections 64; }}\nhttp {{"
    )
    .unwrap();
    writeln!(
        c,
        "  log_format up '$http_x_request_id $status $upstream_addr';"
    )
    .unwrap();
    writeln!(c, "  access_log {d}/access.log up;").unwrap();
    // Debian compiles absolute temp paths under /var/lib/nginx; move each one that exists.
    let built = nginx_build_flags();
    writeln!(
        c,
        "  client_body_temp_path {d}/client_body;\n  proxy_temp_path {d}/proxy;"
    )
    .unwrap();
    for module in ["fastcgi", "uwsgi", "scgi"] {
        if !built.contains(&format!("--without-http_{module}_module")) {
            writeln!(c, "  {module}_temp_path {d}/{module};").unwrap();
        }
    }
    c.push_str("  upstream replicas {\n");
    for u in upstreams {
        writeln!(c, "    server {u};").unwrap();
    }
    c.push_str("  }\n");
    writeln!(
        c,
        "  server {{\n    listen 127.0.0.1:{port};\n    location / {{\n      \
         proxy_pass http://replicas;\n      proxy_http_version 1.1;\n      \
         proxy_set_header Connection \"\";\n      proxy_set_header Host $http_host;\n      \
         proxy_buffering off;\n    }}\n  }}\n}}"
    )
    .unwrap();
    c
}

fn wait_listening(child: &mut Child, port: u16) -> Result<(), String> {
    let outcome = within(Duration::from_secs(15), || {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(Err(format!("exited with {status}")));
        }
        TcpStream::connect(("127.0.0.1", port))
            .is_ok()
            .then_some(Ok(()))
    });
    outcome.unwrap_or_else(|| Err("not listening after 15 s".to_string()))
}

fn nginx_build_flags() -> String {
    Command::new(NGINX)
        .arg("-V")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stderr).into_owned())
        .unwrap_or_default()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap()
}

/// Fails, saying what to install, when nginx is missing: this test only runs when asked for.
fn require_nginx() {
    assert!(
        Path::new(NGINX).exists(),
        "{NGINX} not found: install it (apt-get install nginx-light), or run plain `cargo test`, \
         which leaves this test ignored"
    );
}

/// One conversation step sent through the balancer.
struct Step {
    request_id: String,
    method: &'static str,
    resp: Resp,
}

/// Sends one step with a fresh `X-Request-Id`, records it and returns its status.
fn send(
    lb: &Nginx,
    steps: &mut Vec<Step>,
    method: &'static str,
    sid: Option<&str>,
    body: Value,
) -> u16 {
    let request_id = format!("scale-{}-{}", std::process::id(), steps.len());
    let resp = post(lb, &request_id, sid, &body);
    assert_eq!(
        resp.header("x-request-id"),
        Some(request_id.as_str()),
        "{method}: the replica must echo our request id"
    );
    let status = resp.status;
    steps.push(Step {
        request_id,
        method,
        resp,
    });
    status
}

fn post(lb: &Nginx, request_id: &str, sid: Option<&str>, body: &Value) -> Resp {
    let mut h = vec![
        ("Accept", "application/json, text/event-stream"),
        ("Content-Type", "application/json"),
        ("X-Request-Id", request_id),
    ];
    if let Some(sid) = sid {
        h.push(("Mcp-Session-Id", sid));
        h.push(("MCP-Protocol-Version", VERSION));
    }
    request(&format!("{}/mcp", lb.url), "POST", &h, &body.to_string())
}

/// Which replica (0 or 1) logged `request_id`, with its access-log line.
fn served_by(replicas: &[Server], request_id: &str, lb: &Nginx) -> (usize, Value) {
    let needle = format!("\"request_id\":\"{request_id}\"");
    let found = within(Duration::from_secs(10), || {
        let hits: Vec<(usize, String)> = replicas
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                let logs = s.logs();
                let line = logs.lines().find(|l| l.contains(&needle))?.to_string();
                Some((i, line))
            })
            .collect();
        match hits.as_slice() {
            [] => None,
            [(i, line)] => Some((*i, serde_json::from_str(line).unwrap())),
            _ => panic!("{request_id} was served twice: {hits:?}"),
        }
    });
    found.unwrap_or_else(|| {
        panic!(
            "no replica logged {request_id}; nginx access log:\n{}",
            lb.access_log()
        )
    })
}

fn call(id: u64, name: &str, arguments: Value) -> Value {
    json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":{"name":name,"arguments":arguments}})
}

#[test]
#[ignore = "needs /usr/sbin/nginx (apt-get install nginx-light); .ci/run installs it and runs this with --include-ignored"]
fn one_conversation_alternates_between_two_replicas_behind_round_robin_nginx() {
    require_nginx();
    let replicas = [Server::local(&[]), Server::local(&[])];
    let addrs: Vec<&str> = replicas
        .iter()
        .map(|s| s.url.trim_start_matches("http://"))
        .collect();
    let lb = Nginx::start(&addrs);
    let health = request(&format!("{}/health", lb.url), "GET", &[], "");
    assert_eq!(health.status, 200, "{}\n{}", health.body, lb.errors());

    let mut steps: Vec<Step> = Vec::new();

    let init = json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{
        "protocolVersion":VERSION,"capabilities":{},"clientInfo":{"name":"scale-out","version":"1"}}});
    assert_eq!(send(&lb, &mut steps, "initialize", None, init), 200);
    assert_eq!(steps[0].resp.json()["result"]["protocolVersion"], VERSION);
    let sid = steps[0]
        .resp
        .header("mcp-session-id")
        .expect("initialize mints a session id")
        .to_string();
    let sid = Some(sid.as_str());

    let initialized = json!({"jsonrpc":"2.0","method":"notifications/initialized"});
    assert_eq!(
        send(
            &lb,
            &mut steps,
            "notifications/initialized",
            sid,
            initialized
        ),
        202
    );
    let list = json!({"jsonrpc":"2.0","id":2,"method":"tools/list"});
    assert_eq!(send(&lb, &mut steps, "tools/list", sid, list), 200);
    let queries = [
        ("AWS Lambda functions", "lambda"),
        ("IAM permissions for Retrieve", "iam"),
        ("Entra ID single sign-on", "entra"),
        ("troubleshooting", "troubleshoot"),
    ];
    for (i, (query, _)) in queries.iter().enumerate() {
        let args = json!({"query": query, "max_results": 2});
        let body = call(3 + i as u64, "search_knowledge_base", args);
        assert_eq!(send(&lb, &mut steps, "tools/call", sid, body), 200);
    }
    let info = call(7, "get_knowledge_base_info", json!({}));
    assert_eq!(send(&lb, &mut steps, "tools/call", sid, info), 200);

    // Every step succeeded with the answer it should have.
    let tools = steps[2].resp.json();
    let names: Vec<&str> = tools["result"]["tools"]
        .as_array()
        .expect("tools/list result")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(
        names,
        [
            "search_knowledge_base",
            "get_knowledge_base_info",
            "read_document"
        ]
    );
    for (step, (query, word)) in steps[3..7].iter().zip(queries) {
        let v = step.resp.json();
        assert_eq!(v["result"]["isError"], false, "{query}: {v}");
        let text = v["result"]["content"][0]["text"].as_str().unwrap_or("");
        assert!(text.to_lowercase().contains(word), "{query}: {text}");
    }
    let v = steps[7].resp.json();
    let text = v["result"]["content"][0]["text"].as_str().unwrap_or("");
    assert!(text.contains("ACTIVE"), "{v}");

    // Who served what: strict alternation, and each replica accepted the session as its own.
    let served: Vec<usize> = steps
        .iter()
        .map(|step| {
            let (replica, line) = served_by(&replicas, &step.request_id, &lb);
            assert_eq!(line["rpc_method"], step.method, "{line}");
            assert_eq!(line["status"], step.resp.status, "{line}");
            replica
        })
        .collect();
    let trace = format!("replicas per step {served:?}; nginx:\n{}", lb.access_log());
    assert!(
        served.windows(2).all(|w| w[0] != w[1]),
        "requests did not alternate: {trace}"
    );
    let calls_elsewhere = steps
        .iter()
        .zip(&served)
        .filter(|(step, &r)| step.method == "tools/call" && r != served[0])
        .count();
    assert!(
        calls_elsewhere >= 2,
        "the replica that did not see initialize must serve tools/call too: {trace}"
    );
}
