//! The metrics listener: a tiny_http server of its own on METRICS_ADDR (checked in
//! `config::metrics`), answering `GET /metrics` on the same execution model as the public
//! server (each request on its connection's thread, tiny_http patch 18) but with caps of its
//! own ([`LIMITS`], tiny_http patch 19): a scraper needs one connection and a short head, so
//! a flood of held heads costs at most [`LIMITS`]`.max_connections` threads and is refused
//! beyond that without one. Renders run one at a time (the gate: a mutex), and once a flood
//! is over the memory it took is handed back (`alloc::release_free_memory`).
//!
//! Must never share the public listener: the exposition names routes and outcomes that
//! anonymous clients have no business reading.

use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How long a scraper may take to read the answer (SO_SNDTIMEO; reads have `LIMITS`).
const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// The metrics listener's own connection and head limits, apart from the public server's.
/// Prometheus holds one kept-alive connection per target and sends a head of a few hundred
/// bytes; everyone else is refused early.
pub const LIMITS: tiny_http::Limits = tiny_http::Limits {
    max_header_bytes: 8 * 1024,
    request_timeout: Duration::from_secs(5),
    max_connections: 16,
    // Every scrape comes from the few Prometheus servers: the total cap is the one that counts.
    max_connections_per_ip: usize::MAX,
    keepalive_idle: Duration::from_secs(15),
};

/// Connections at once that make a flood (more than a few scrapers taking turns).
const CALM: usize = 2;
/// How long connections must stay at or below [`CALM`] before a flood counts as over: idle
/// connection threads exit a second after their connection (tiny_http's task pool).
const QUIET: Duration = Duration::from_secs(3);
/// How often the watcher looks at the connection count.
const TICK: Duration = Duration::from_millis(500);

/// Why the metrics listener could not start.
#[derive(Debug)]
pub enum MetricsError {
    /// METRICS_ADDR could not be bound.
    Bind(SocketAddr, std::io::Error),
    /// tiny_http refused the listener.
    Start(String),
    /// The watching thread could not be started.
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

/// Binds `addr` and serves metrics from now on; returns the bound address.
pub fn start(addr: SocketAddr) -> Result<SocketAddr, MetricsError> {
    let listener = TcpListener::bind(addr).map_err(|e| MetricsError::Bind(addr, e))?;
    crate::socket::set_timeouts(&listener, IO_TIMEOUT);
    let local = listener.local_addr().unwrap_or(addr);
    let render = Arc::new(Mutex::new(()));
    let handler: tiny_http::Handler = Arc::new(move |rq| answer(&render, rq));
    let server =
        tiny_http::Server::from_listener_with_handler_and_limits(listener, handler, LIMITS)
            .map_err(|e| MetricsError::Start(e.to_string()))?;
    // The watcher owns the server: it lives as long as the process, like the listener.
    std::thread::Builder::new()
        .name("metrics-watch".into())
        .stack_size(64 * 1024)
        .spawn(move || watch(&server))
        .map_err(MetricsError::Thread)?;
    Ok(local)
}

/// Hands memory back once a flood of connections is over.
fn watch(server: &tiny_http::Server) {
    let mut flood = Flood::default();
    loop {
        std::thread::sleep(TICK);
        // The peak since the last tick: a flood shorter than a tick is seen too.
        let peak = server.take_peak_connections();
        if let Some(peak) = flood.tick(peak, server.num_connections(), Instant::now()) {
            crate::alloc::release_free_memory();
            log::info!(
                "{}",
                crate::log::fields(
                    "metrics flood over; free memory handed back",
                    &[(
                        "peak_connections",
                        Some(crate::log::Field::Num(peak as u64))
                    )]
                )
            );
        }
    }
}

/// Tells when a flood on the metrics listener is over.
#[derive(Debug, Default)]
struct Flood {
    /// Most connections seen since the last flood ended, once above [`CALM`].
    peak: Option<usize>,
    /// When the count last fell to [`CALM`] or below, during a flood.
    calm_since: Option<Instant>,
}

impl Flood {
    /// Feeds the most connections since the last tick and those open at `now`; the flood's
    /// peak once, when it is over.
    fn tick(&mut self, peak: usize, connections: usize, now: Instant) -> Option<usize> {
        if peak > CALM {
            self.peak = Some(self.peak.unwrap_or(0).max(peak));
        }
        if connections > CALM {
            self.calm_since = None;
            return None;
        }
        let peak = self.peak?;
        let since = *self.calm_since.get_or_insert(now);
        if now.duration_since(since) < QUIET {
            return None;
        }
        *self = Flood::default();
        Some(peak)
    }
}

fn answer(render: &Mutex<()>, rq: tiny_http::Request) {
    let path = rq.url().split('?').next().unwrap_or("");
    let get = matches!(
        rq.method(),
        tiny_http::Method::Get | tiny_http::Method::Head
    );
    let (status, content_type, body, allow) = match (path, get) {
        ("/metrics", true) => {
            // One exposition in memory at a time, however many scrapers are connected.
            let _turn = render.lock().unwrap_or_else(PoisonError::into_inner);
            (200, super::CONTENT_TYPE, super::render(), false)
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_is_over_once_the_count_stays_calm_for_the_quiet_time() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let quiet = QUIET.as_millis() as u64;
        let mut f = Flood::default();
        // (peak since the last tick, open now, when)
        assert_eq!(f.tick(1, 1, at(0)), None, "a scraper is no flood");
        assert_eq!(f.tick(CALM, 0, at(10_000)), None, "nor a few taking turns");
        assert_eq!(f.tick(16, 16, at(10_500)), None);
        assert_eq!(f.tick(40, 40, at(11_000)), None, "the peak is remembered");
        assert_eq!(f.tick(40, 0, at(11_500)), None, "calm, but not for long");
        assert_eq!(
            f.tick(5, 5, at(12_000)),
            None,
            "a second wave restarts the wait"
        );
        assert_eq!(f.tick(5, 0, at(12_500)), None);
        assert_eq!(f.tick(1, 1, at(12_500 + quiet - 1)), None);
        assert_eq!(f.tick(0, 0, at(12_500 + quiet)), Some(40), "reported once");
        assert_eq!(f.tick(0, 0, at(30_000)), None, "and not again");
    }

    #[test]
    fn a_flood_shorter_than_a_tick_still_counts() {
        let t0 = Instant::now();
        let quiet = QUIET.as_millis() as u64;
        let mut f = Flood::default();
        // 900 connections came and went between two looks: only the peak saw them.
        assert_eq!(f.tick(900, 0, t0), None);
        assert_eq!(f.tick(0, 0, t0 + Duration::from_millis(quiet)), Some(900));
    }
}
