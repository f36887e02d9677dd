//! Starts the real `bedrock-mcp` binary on 127.0.0.1 port 0 and talks HTTP to it.
//!
//! The child runs in an empty temporary directory with a cleared environment (so no `.env`
//! or AWS settings of the host leak in); its stderr and stdout are captured for log
//! assertions and its address read from the "listening" log line. Dropping the handle kills the process.

use super::wait::within;
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A running server.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    logs: Arc<Mutex<String>>,
    dir: PathBuf,
}

/// An HTTP response as the tests see it.
#[derive(Debug)]
pub struct Resp {
    /// Status code.
    pub status: u16,
    /// Headers, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// Body text.
    pub body: String,
}

impl Resp {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON (panics with the body when it is not).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }
}

/// Path of the sample corpus shipped in the repo.
pub fn sample_kb() -> String {
    format!("{}/examples/kb", env!("CARGO_MANIFEST_DIR"))
}

impl Server {
    /// Starts the binary with `env` (on top of test defaults) and the extra `args`.
    pub fn start_with_args(env: &[(&str, &str)], args: &[&str]) -> Server {
        Self::try_start(env, args)
            .unwrap_or_else(|logs| panic!("server did not start; stderr:\n{logs}"))
    }

    /// Starts the binary with `env`.
    pub fn start(env: &[(&str, &str)]) -> Server {
        Self::start_with_args(env, &[])
    }

    /// The metrics listener's base URL (`http://ADDR`), once the log has named it (a server
    /// started with `METRICS_ADDR=127.0.0.1:0`).
    pub fn metrics_url(&self) -> String {
        assert!(self.wait_for_log("metrics listening"), "{}", self.logs());
        let addr = self
            .logs()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|v| v["msg"] == "metrics listening")
            .and_then(|v| v["addr"].as_str().map(str::to_string))
            .expect("metrics address in the log");
        format!("http://{addr}")
    }

    /// Starts the binary against `bedrock` (and `entra`, signing in), `extra` on top.
    pub fn against(
        bedrock: &super::fake_bedrock::FakeBedrock,
        entra: Option<&super::fake_entra::FakeEntra>,
        extra: &[(&str, &str)],
    ) -> Server {
        let mut env = bedrock.env();
        if let Some(entra) = entra {
            env.extend(entra.vars(&[]));
        }
        let mut all: Vec<(&str, &str)> =
            env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        all.extend_from_slice(extra);
        Server::start(&all)
    }

    /// Starts the binary serving the sample knowledge base.
    pub fn local(env: &[(&str, &str)]) -> Server {
        let kb = sample_kb();
        let mut all = vec![("KB_LOCAL_DIR", kb.as_str())];
        all.extend_from_slice(env);
        Self::start(&all)
    }

    /// Starts the binary; on failure returns its stderr.
    pub fn try_start(env: &[(&str, &str)], args: &[&str]) -> Result<Server, String> {
        let dir = std::env::temp_dir().join(format!(
            "bedrock-mcp-test-{}-{}",
            std::process::id(),
            unique()
        ));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_bedrock-mcp"));
        cmd.env_clear()
            .current_dir(&dir)
            .env("SERVER_HOST", "127.0.0.1")
            .env("SERVER_PORT", "0")
            .env("LOG_LEVEL", "INFO")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().map_err(|e| e.to_string())?;
        let stderr = child.stderr.take().ok_or("no stderr")?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let logs = Arc::new(Mutex::new(String::new()));
        // The server logs to stderr only; whatever reaches stdout is kept too, so searches of
        // the logs (for secrets, say) cover both.
        let sink = logs.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let mut l = sink.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = logs.clone();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(addr) = listening_addr(&line) {
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(addr);
                    }
                }
                let mut l = sink.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
        match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(addr) => Ok(Server {
                child,
                url: format!("http://{addr}"),
                logs,
                dir,
            }),
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                std::thread::sleep(Duration::from_millis(100));
                let out = logs.lock().unwrap().clone();
                Err(out)
            }
        }
    }

    /// Everything the server logged so far.
    pub fn logs(&self) -> String {
        self.logs.lock().unwrap().clone()
    }

    /// Waits until the logs contain `needle` (at most 10 s).
    pub fn wait_for_log(&self, needle: &str) -> bool {
        within(Duration::from_secs(10), || {
            self.logs().contains(needle).then_some(())
        })
        .is_some()
    }

    /// The child's pid (signals).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the process to exit (at most `timeout`) and returns its exit code.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        within(timeout, || self.child.try_wait().ok().flatten()).and_then(|s| s.code())
    }

    /// Sends a request.
    pub fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Resp {
        request(&format!("{}{}", self.url, path), method, headers, body)
    }

    /// POSTs a JSON-RPC message to /mcp with both Accept types.
    pub fn mcp(&self, headers: &[(&str, &str)], body: &serde_json::Value) -> Resp {
        let mut h = vec![
            ("Accept", "application/json, text/event-stream"),
            ("Content-Type", "application/json"),
        ];
        h.extend_from_slice(headers);
        self.request("POST", "/mcp", &h, &body.to_string())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::SeqCst)
}

fn listening_addr(line: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    (v["msg"] == "listening").then(|| v["addr"].as_str().map(str::to_string))?
}

/// One HTTP request with ureq (no retries, statuses are data).
pub fn request(url: &str, method: &str, headers: &[(&str, &str)], body: &str) -> Resp {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .max_redirects(0)
        .allow_non_standard_methods(true)
        .build()
        .into();
    let mut builder = ureq::http::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    let req = builder.body(body.to_string()).expect("request");
    let mut resp = agent
        .run(req)
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let mut text = String::new();
    let _ = resp.body_mut().as_reader().read_to_string(&mut text);
    Resp {
        status,
        headers,
        body: text,
    }
}
