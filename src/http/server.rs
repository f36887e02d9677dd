//! The server: bind, accept through tiny_http, handle each request on its connection's
//! thread once the [`Gate`] lets it in, answer, log, and drain on SIGTERM.
//!
//! Each request is copied into an [`HttpRequest`] and routed inside `catch_unwind`, so a
//! panic answers 500 and touches nothing else. Every response gets the common headers here,
//! in one place: request id, nosniff, no-store, and CORS for an allowed origin.

use super::app::App;
use super::budget::BodyBudget;
use super::error_reply::HttpError;
use super::gate::Gate;
use super::request::HttpRequest;
use super::response::{Action, Reply};
use super::router::LogInfo;
use super::router::{self, Routed, Verdict};
use super::{cors, limits, notify, signal};
use crate::log::{fields, Field};
use std::net::TcpListener;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Why the server could not run.
#[derive(Debug)]
pub enum ServerError {
    /// The address could not be bound.
    Bind(String, std::io::Error),
    /// tiny_http refused the listener.
    Start(String),
}

impl std::fmt::Display for ServerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServerError::Bind(addr, e) => write!(
                f,
                "cannot listen on {addr}: {e} (is another process using the port? set SERVER_PORT or SERVER_HOST)"
            ),
            ServerError::Start(e) => write!(f, "cannot start the HTTP server: {e}"),
        }
    }
}

impl std::error::Error for ServerError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ServerError::Bind(_, e) => Some(e),
            ServerError::Start(_) => None,
        }
    }
}

/// Serves until SIGTERM/SIGINT, then drains in-flight requests and returns.
pub fn serve(app: Arc<App>) -> Result<(), ServerError> {
    crate::alloc::limit_arenas();
    let s = &app.settings;
    let addr = format!("{}:{}", s.host, s.port);
    let listener = TcpListener::bind(&addr).map_err(|e| ServerError::Bind(addr.clone(), e))?;
    crate::socket::set_timeouts(&listener, s.io_timeout);
    crate::socket::set_nodelay(&listener);
    let local = listener.local_addr().map_or(addr, |a| a.to_string());
    limits::apply(s);
    let gate = Gate::new(s.workers);
    let handler: tiny_http::Handler = {
        let app = app.clone();
        let gate = gate.clone();
        let bodies = BodyBudget::new(s.max_body_in_flight);
        Arc::new(move |rq| admit(&app, &gate, &bodies, rq))
    };
    let server = Arc::new(
        tiny_http::Server::from_listener_with_handler(listener, handler)
            .map_err(|e| ServerError::Start(e.to_string()))?,
    );
    signal::install();
    log::info!(
        "{}",
        fields(
            "listening",
            &[
                ("addr", Some(Field::Str(&local))),
                ("backend", Some(Field::Str(&app.identity.backend))),
                ("kb_id", Some(Field::Str(&app.identity.kb_id))),
                ("auth_enabled", Some(Field::Bool(app.auth.is_some()))),
                ("workers", Some(Field::Num(s.workers as u64))),
                (
                    "behind_proxy",
                    s.behind_proxy.map(|p| Field::Str(p.as_str()))
                ),
            ]
        )
    );
    crate::metrics::set_live(live_numbers(&gate, &server, &app));
    // Bound and accepting: a `Type=notify` unit (deployment/systemd) counts us as started now.
    notify::notify(&format!("READY=1\nSTATUS=serving on {local}"));
    let keepalive = {
        let app = app.clone();
        std::thread::Builder::new()
            .name("sse-keepalive".into())
            .spawn(move || app.hub.keepalive_loop(app.settings.sse_keepalive))
            .ok()
    };
    while !signal::stop_requested() {
        std::thread::sleep(TICK);
        if gate.burst_over(Instant::now()) {
            // Threads, buffers and pooled upstream connections of the burst are gone or idle.
            crate::alloc::release_free_memory();
        }
    }
    log::info!("stop signal received: no longer accepting; draining in-flight requests");
    notify::notify("STOPPING=1\nSTATUS=draining in-flight requests");
    drop(server);
    let drained = gate.wait_idle(app.settings.shutdown_timeout);
    app.hub.close_all();
    if let Some(k) = keepalive {
        let _ = k.join();
    }
    if drained {
        log::info!("shutdown complete");
    } else {
        log::warn!("shutdown timeout reached with requests still running");
    }
    Ok(())
}

/// What the metrics gauges read at scrape time; weak references, so that dropping the
/// server at shutdown still closes the listener.
fn live_numbers(
    gate: &Gate,
    server: &Arc<tiny_http::Server>,
    app: &Arc<App>,
) -> Box<dyn Fn() -> crate::metrics::Live + Send + Sync> {
    let gate = gate.clone();
    let server = Arc::downgrade(server);
    let app = Arc::downgrade(app);
    Box::new(move || {
        let p = gate.stats();
        crate::metrics::Live {
            connections: server.upgrade().map_or(0, |s| s.num_connections()),
            workers_busy: p.busy,
            workers_idle: p.idle,
            queued: p.queued,
            sse_sessions: app.upgrade().map_or(0, |a| a.hub.len()),
        }
    })
}

/// How often the server loop looks for a stop signal and for the end of a burst.
const TICK: Duration = Duration::from_millis(200);
/// How long a request waits for a slot when `WORKER_THREADS` are in flight.
const SLOT_WAIT: Duration = Duration::from_secs(5);

fn overloaded(rq: tiny_http::Request, why: &str) {
    crate::metrics::request(
        rq.url().split('?').next().unwrap_or(""),
        503,
        Duration::ZERO,
    );
    let reply = HttpError::Overloaded(format!("server busy ({why}); retry shortly")).into();
    let _ = rq.respond(to_response(reply));
}

/// Handles a request on its connection's thread: refused with 503 once the server is
/// stopping.
fn admit(app: &Arc<App>, gate: &Gate, bodies: &BodyBudget, rq: tiny_http::Request) {
    if signal::stop_requested() {
        return overloaded(rq, "shutting down");
    }
    // `handle` answers 500 for a panic while routing; this keeps the connection's thread
    // (and its other requests) alive if anything else panics, and tiny_http answers 500 for
    // the request dropped in the unwind.
    let _ = catch_unwind(AssertUnwindSafe(|| handle(app, gate, bodies, rq)));
}

/// Handles one request. With auth on, a protected path's token is checked from the headers
/// before any body is read, and a refused request's body never is; every body read is
/// leased from `bodies` until the response is out. Only then does the request take a slot
/// in the gate (waiting at most [`SLOT_WAIT`], then 503): a client trickling a body, or
/// declaring one it never sends, holds its connection's thread and its lease, never a slot.
/// `/health` needs no slot: it calls nothing, and a load balancer must not take a busy
/// server for a dead one.
fn handle(app: &Arc<App>, gate: &Gate, bodies: &BodyBudget, mut rq: tiny_http::Request) {
    let started = Instant::now();
    let mut req = HttpRequest::head(&rq);
    let verdict = router::check_head(app, &req);
    let mut _lease = None;
    let mut _slot = None;
    let routed = if let Some(Err(_)) = verdict {
        route_catching(app, &req, verdict)
    } else {
        match req.read_body(&mut rq, app.settings.max_body, bodies) {
            Err(e) => refused(HttpError::Body(e)),
            Ok(lease) => {
                _lease = Some(lease);
                let health = matches!(req.path.as_str(), "/health" | "/health/");
                _slot = if health { None } else { gate.enter(SLOT_WAIT) };
                if _slot.is_none() && !health {
                    refused(HttpError::Overloaded(
                        "server busy (all workers busy); retry shortly".into(),
                    ))
                } else {
                    route_catching(app, &req, verdict)
                }
            }
        }
    };
    let common = common_headers(&req, routed.cors_origin.as_deref());
    let mut log = routed.log;
    let status = match routed.action {
        Action::Reply(mut reply) => {
            reply.headers.extend(common);
            let status = reply.status;
            // Counted before the answer leaves, so a client that reads it sees itself counted.
            crate::metrics::request(&req.path, status, started.elapsed());
            let _ = rq.respond(to_response(reply));
            status
        }
        Action::OpenSse { session_id, owner } => {
            crate::metrics::request(&req.path, 200, started.elapsed());
            open_stream(app, rq, &common, session_id, owner);
            200
        }
        Action::Long(call, reply) => {
            // A long call has its own limit (AGENTIC_MAX_IN_FLIGHT): its slot goes back now.
            // Its body stays leased while it runs, so the body budget still counts it.
            drop(_slot.take());
            long_call(app, rq, &req, &common, *call, reply, &mut log, started)
        }
    };
    // With per-user sessions the user's name equals the subject AWS attaches to their session
    // (identity context, never logged): name them by oid, as their session name does.
    let by_oid = app.mcp.kb().signs_as_user();
    access_log(&req, status, started, &log, by_oid);
}

/// Runs a long call ([`super::long`]): a legacy one after answering its POST with `reply`,
/// a streamable one on this connection (an SSE stream when the client accepts it).
#[allow(clippy::too_many_arguments)] // the request, its connection and what to log about it
fn long_call(
    app: &Arc<App>,
    rq: tiny_http::Request,
    req: &HttpRequest,
    common: &[(String, String)],
    call: super::long::LongCall,
    reply: Option<Reply>,
    log: &mut LogInfo,
    started: Instant,
) -> u16 {
    use super::long::{self, Via};
    if let Some(mut reply) = reply {
        reply.headers.extend(common.iter().cloned());
        let status = reply.status;
        crate::metrics::request(&req.path, status, started.elapsed());
        let _ = rq.respond(to_response(reply));
        long::spawn_legacy(app.clone(), call);
        return status;
    }
    match call.via {
        Via::Streamable { sse: true } => {
            // The stream said `Connection: close`: end the socket as soon as the call is over,
            // so a client whose call was cancelled (no response follows) sees the end at once
            // instead of when the connection's keep-alive wait runs out.
            let closer = rq.socket_closer();
            let mut writer = rq.into_writer();
            log.outcome = long::stream(app, &mut writer, common, call);
            drop(writer);
            if let Some(closer) = closer {
                closer.close();
            }
            crate::metrics::request(&req.path, 200, started.elapsed());
            200
        }
        _ => {
            let version = call.version;
            let mut outcome = long::plain(app, call);
            let reauth = outcome.reauthenticate.take();
            let mut reply = match outcome.response.take() {
                // AWS refused the token itself: the usual challenge, so the client signs in
                // again (on an SSE stream or a legacy session the tool error says so instead).
                _ if reauth.is_some() => app
                    .challenge(
                        req,
                        crate::auth::AuthError::InvalidToken(reauth.unwrap_or_default()),
                    )
                    .into(),
                Some(r) => Reply {
                    status: 200,
                    headers: vec![("Content-Type".into(), "application/json".into())],
                    body: r.into_string().into_bytes(),
                },
                None => Reply::empty(202),
            };
            log.outcome = outcome;
            log.version = Some(version);
            reply.headers.extend(common.iter().cloned());
            let status = reply.status;
            crate::metrics::request(&req.path, status, started.elapsed());
            let _ = rq.respond(to_response(reply));
            status
        }
    }
}

/// An answer given without routing: a body that could not be read (the connection closes
/// after it), or no slot.
fn refused(e: HttpError) -> Routed {
    Routed {
        action: Action::Reply(e.into()),
        cors_origin: None,
        log: LogInfo::default(),
    }
}

/// Routes `req`, turning a panic anywhere below into a 500 for this request only.
fn route_catching(app: &App, req: &HttpRequest, verdict: Option<Verdict>) -> Routed {
    match catch_unwind(AssertUnwindSafe(|| {
        router::route_checked(app, req, verdict)
    })) {
        Ok(routed) => routed,
        Err(_) => {
            log::error!(
                "handler panicked; answered 500 (request_id {})",
                req.request_id
            );
            Routed {
                action: Action::Reply(HttpError::Internal.into()),
                cors_origin: None,
                log: LogInfo::default(),
            }
        }
    }
}

/// Writes the SSE head on the raw socket and gives the writer to the hub.
fn open_stream(
    app: &App,
    rq: tiny_http::Request,
    common: &[(String, String)],
    id: String,
    owner: Option<String>,
) {
    // Taken before the writer: closing the stream ends the socket at once (tiny_http patch 17).
    let closer = rq
        .socket_closer()
        .map(|c| Box::new(move || c.close()) as super::sse::Closer);
    let mut writer = rq.into_writer();
    if !super::sse::write_head(&mut writer, common) {
        return;
    }
    let endpoint = format!("/messages?session_id={id}");
    app.hub.open(id, owner, writer, closer, &endpoint);
}

fn common_headers(req: &HttpRequest, cors_origin: Option<&str>) -> Vec<(String, String)> {
    let mut h = vec![
        ("X-Request-Id".to_string(), req.request_id.clone()),
        ("X-Content-Type-Options".to_string(), "nosniff".to_string()),
        ("Cache-Control".to_string(), "no-store".to_string()),
    ];
    if let Some(origin) = cors_origin {
        h.extend(cors::response_headers(origin));
    }
    h
}

fn to_response(reply: Reply) -> tiny_http::Response<std::io::Cursor<Vec<u8>>> {
    let mut response = tiny_http::Response::from_data(reply.body).with_status_code(reply.status);
    for (k, v) in reply.headers {
        if let Ok(h) = tiny_http::Header::from_bytes(k.as_bytes(), v.as_bytes()) {
            response.add_header(h);
        }
    }
    response
}

fn access_log(req: &HttpRequest, status: u16, started: Instant, info: &LogInfo, by_oid: bool) {
    // Formatting the line costs a few allocations per request: skip it when it would be dropped.
    if !log::log_enabled!(target: "access", log::Level::Info) {
        return;
    }
    let p = info.principal.as_ref();
    let o = &info.outcome;
    let msg = fields(
        "request",
        &[
            ("request_id", Some(Field::Str(&req.request_id))),
            ("method", Some(Field::Str(&req.method))),
            ("path", Some(Field::Str(&req.path))),
            ("status", Some(Field::Num(u64::from(status)))),
            (
                "duration_ms",
                Some(Field::Num(started.elapsed().as_millis() as u64)),
            ),
            ("rpc_method", o.method.as_deref().map(Field::Str)),
            ("tool", o.tool.as_deref().map(Field::Str)),
            ("results", o.results.map(|n| Field::Num(n as u64))),
            ("bedrock_ms", o.upstream_ms.map(Field::Num)),
            (
                "tool_error",
                o.tool.as_ref().map(|_| Field::Bool(o.tool_error)),
            ),
            ("protocol", info.version.map(|v| Field::Str(v.as_str()))),
            ("session", info.session.as_deref().map(Field::Str)),
            (
                "user",
                p.map(|p| match (by_oid, p.oid.as_deref()) {
                    (true, Some(oid)) => Field::Str(oid),
                    _ => Field::Str(&p.user),
                }),
            ),
            ("acl_user", o.acl_user.as_deref().map(Field::Str)),
            ("aws_session", o.aws_session.map(Field::Str)),
            ("oid", p.and_then(|p| p.oid.as_deref()).map(Field::Str)),
            ("tid", p.and_then(|p| p.tid.as_deref()).map(Field::Str)),
        ],
    );
    log::info!(target: "access", "{msg}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Vars;
    use crate::http::ServerSettings;
    use crate::kb::testing::FakeKb;
    use crate::kb::KbIdentity;
    use crate::mcp::Mcp;

    #[test]
    fn a_panicking_request_gets_500_and_the_next_one_is_served() {
        let settings = ServerSettings::from_vars(&Vars::default()).unwrap();
        let app = App::new(
            settings,
            Mcp::new(Arc::new(FakeKb::panicking())),
            KbIdentity::default(),
            None,
        );
        let call = |method: &str| {
            HttpRequest {
            method: "POST".into(),
            path: "/mcp".into(),
            body: format!(
                r#"{{"jsonrpc":"2.0","id":1,"method":"{method}","params":{{"name":"search_knowledge_base","arguments":{{"query":"x"}}}}}}"#
            )
            .into_bytes(),
            ..HttpRequest::default()
        }
        };
        match route_catching(&app, &call("tools/call"), None).action {
            Action::Reply(r) => assert_eq!(r.status, 500),
            other => panic!("expected a reply, got {other:?}"),
        }
        match route_catching(&app, &call("tools/list"), None).action {
            Action::Reply(r) => assert_eq!(r.status, 200, "the same app keeps serving"),
            other => panic!("expected a reply, got {other:?}"),
        }
    }
}
