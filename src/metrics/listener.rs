//! The metrics listener: a tiny_http server of its own on METRICS_ADDR (checked in
//! `config::metrics`), one thread answering `GET /metrics`. Scrapes are rare and cheap to render, so one
//! thread answers them in turn; socket timeouts stop a stuck scraper from holding it.
//!
//! Must never share the public listener: the exposition names routes and outcomes that
//! anonymous clients have no business reading.

use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

/// How long a scraper may take to send its request or read the answer.
const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the metrics listener could not start.
#[derive(Debug)]
pub enum MetricsError {
    /// METRICS_ADDR could not be bound.
    Bind(SocketAddr, std::io::Error),
    /// tiny_http refused the listener.
    Start(String),
    /// The serving thread could not be started.
    Thread(std::io::Error),
}

impl std::fmt::Display for MetricsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MetricsError::Bind(addr, e) => write!(
                f,
                "cannot listen for metrics on {addr}: {e} (is another process using the port? \
                 change METRICS_ADDR, or unset it to turn metrics off)"
            ),
            MetricsError::Start(e) => write!(f, "cannot start the metrics listener: {e}"),
            MetricsError::Thread(e) => write!(f, "cannot start the metrics thread: {e}"),
        }
    }
}

impl std::error::Error for MetricsError {}

/// Binds `addr` and serves metrics on a new thread; returns the bound address.
pub fn start(addr: SocketAddr) -> Result<SocketAddr, MetricsError> {
    let listener = TcpListener::bind(addr).map_err(|e| MetricsError::Bind(addr, e))?;
    crate::http::socket::set_timeouts(&listener, IO_TIMEOUT);
    let local = listener.local_addr().unwrap_or(addr);
    let server = tiny_http::Server::from_listener(listener, None)
        .map_err(|e| MetricsError::Start(e.to_string()))?;
    std::thread::Builder::new()
        .name("metrics".into())
        .stack_size(256 * 1024)
        .spawn(move || {
            for rq in server.incoming_requests() {
                answer(rq);
            }
        })
        .map_err(MetricsError::Thread)?;
    Ok(local)
}

fn answer(rq: tiny_http::Request) {
    let path = rq.url().split('?').next().unwrap_or("");
    let get = matches!(
        rq.method(),
        tiny_http::Method::Get | tiny_http::Method::Head
    );
    let (status, content_type, body, allow) = match (path, get) {
        ("/metrics", true) => (200, super::CONTENT_TYPE, super::render(), false),
        ("/metrics", false) => (
            405,
            "text/plain; charset=utf-8",
            "use GET /metrics\n".to_string(),
            true,
        ),
        _ => (
            404,
            "text/plain; charset=utf-8",
            "metrics are served at /metrics\n".to_string(),
            false,
        ),
    };
    let mut response = tiny_http::Response::from_string(body).with_status_code(status);
    let mut headers = vec![
        ("Content-Type", content_type),
        ("Cache-Control", "no-store"),
    ];
    if allow {
        headers.push(("Allow", "GET, HEAD"));
    }
    for (k, v) in headers {
        if let Ok(h) = tiny_http::Header::from_bytes(k, v) {
            response.add_header(h);
        }
    }
    let _ = rq.respond(response);
}
