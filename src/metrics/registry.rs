//! The counters and histograms, as fixed arrays of atomics indexed by label: no map, no
//! lock and no allocation when a request records, and a bounded number of series whatever
//! clients send (unknown paths and tools fold into `other`).
//!
//! Owns the label sets and the metric names; `mod.rs` owns the process-wide instance.

use super::histogram::Histogram;
use super::text::Exposition;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Route labels; any other path is `other`.
pub const ROUTES: [&str; 9] = [
    "/mcp",
    "/sse",
    "/messages",
    "/health",
    "/.well-known",
    "/authorize",
    "/token",
    "/register",
    "other",
];
/// Tool labels; a name the server does not offer is `other`.
pub const TOOLS: [&str; 6] = [
    "search_knowledge_base",
    "get_knowledge_base_info",
    "get_document_link",
    "read_document",
    "agentic_search",
    "other",
];
/// How a tool call ended: a result, a tool error (`isError: true`), or refused arguments.
pub const TOOL_OUTCOMES: [&str; 3] = ["ok", "tool_error", "invalid_arguments"];
/// Bedrock operation labels.
pub const OPS: [&str; 5] = [
    "Retrieve",
    "GetKnowledgeBase",
    "GetDocumentContent",
    "AgenticRetrieveStream",
    "other",
];
/// How a Bedrock call ended, after retries: success or the kind of failure.
pub const BEDROCK_OUTCOMES: [&str; 8] = [
    "ok",
    "invalid_request",
    "access_denied",
    "not_found",
    "throttled",
    "timeout",
    "credentials",
    "unavailable",
];
/// Success or failure, for credential refreshes and JWKS fetches.
pub const RESULTS: [&str; 2] = ["ok", "error"];
/// Who asked STS: a signed-in user's own session, or the server's web identity.
pub const STS_CALLERS: [&str; 2] = ["user", "server"];
/// How one STS attempt ended: `ok`, a known STS error code, or the kind of failure.
pub const STS_OUTCOMES: [&str; 14] = [
    "ok",
    "ExpiredTokenException",
    "IDPRejectedClaim",
    "InvalidIdentityToken",
    "AccessDenied",
    "IDPCommunicationError",
    "Throttling",
    "RegionDisabledException",
    "PackedPolicyTooLarge",
    "MalformedPolicyDocument",
    "ValidationError",
    "http_5xx",
    "transport",
    "other",
];
/// How a per-user credentials lookup was served.
pub const USER_CREDENTIAL_RESULTS: [&str; 3] = ["hit", "miss", "coalesced"];

/// HTTP statuses counted: 100 to 599, one slot each.
const STATUS_MIN: u16 = 100;
const STATUSES: usize = 500;

/// What the server and its gate know at scrape time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Live {
    /// Connections whose requests are being read (tiny_http's count).
    pub connections: usize,
    /// Requests being handled (each on its connection's thread).
    pub workers_busy: usize,
    /// Slots free for more (`WORKER_THREADS` − busy).
    pub workers_idle: usize,
    /// Requests waiting for a slot.
    pub queued: usize,
    /// Open legacy SSE streams.
    pub sse_sessions: usize,
}

/// Memory and threads of this process, from /proc.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Process {
    /// Resident set size in bytes.
    pub rss_bytes: u64,
    /// Threads.
    pub threads: u64,
}

/// Every counter and histogram the server keeps.
pub struct Registry {
    requests: [[AtomicU64; STATUSES]; ROUTES.len()],
    request_seconds: [Histogram; ROUTES.len()],
    tool_calls: [[AtomicU64; TOOL_OUTCOMES.len()]; TOOLS.len()],
    bedrock_calls: [[AtomicU64; BEDROCK_OUTCOMES.len()]; OPS.len()],
    bedrock_seconds: [Histogram; OPS.len()],
    bedrock_retries: [AtomicU64; OPS.len()],
    bedrock_throttles: [AtomicU64; OPS.len()],
    credential_refreshes: [AtomicU64; RESULTS.len()],
    jwks_fetches: [AtomicU64; RESULTS.len()],
    sts_requests: [[AtomicU64; STS_OUTCOMES.len()]; STS_CALLERS.len()],
    user_credentials: [AtomicU64; USER_CREDENTIAL_RESULTS.len()],
}

/// The index of `label` in `set`, or of the last entry (`other`).
fn index(set: &[&str], label: &str) -> usize {
    set.iter()
        .position(|&l| l == label)
        .unwrap_or(set.len() - 1)
}

/// The route label for a request path.
pub fn route_of(path: &str) -> usize {
    match path.trim_end_matches('/') {
        "" | "/mcp" => 0,
        "/sse" => 1,
        "/messages" => 2,
        "/health" => 3,
        p if p.starts_with("/.well-known/") => 4,
        "/authorize" => 5,
        "/token" => 6,
        "/register" => 7,
        _ => 8,
    }
}

fn result_index(ok: bool) -> usize {
    usize::from(!ok)
}

impl Registry {
    /// All zero (const, so the process-wide registry is a plain static).
    pub const fn new() -> Registry {
        Registry {
            requests: [const { [const { AtomicU64::new(0) }; STATUSES] }; ROUTES.len()],
            request_seconds: [const { Histogram::new() }; ROUTES.len()],
            tool_calls: [const { [const { AtomicU64::new(0) }; TOOL_OUTCOMES.len()] }; TOOLS.len()],
            bedrock_calls: [const { [const { AtomicU64::new(0) }; BEDROCK_OUTCOMES.len()] };
                OPS.len()],
            bedrock_seconds: [const { Histogram::new() }; OPS.len()],
            bedrock_retries: [const { AtomicU64::new(0) }; OPS.len()],
            bedrock_throttles: [const { AtomicU64::new(0) }; OPS.len()],
            credential_refreshes: [const { AtomicU64::new(0) }; RESULTS.len()],
            jwks_fetches: [const { AtomicU64::new(0) }; RESULTS.len()],
            sts_requests: [const { [const { AtomicU64::new(0) }; STS_OUTCOMES.len()] };
                STS_CALLERS.len()],
            user_credentials: [const { AtomicU64::new(0) }; USER_CREDENTIAL_RESULTS.len()],
        }
    }

    /// One answered HTTP request.
    pub fn request(&self, path: &str, status: u16, took: Duration) {
        let route = route_of(path);
        if let Some(slot) = status
            .checked_sub(STATUS_MIN)
            .and_then(|i| self.requests[route].get(usize::from(i)))
        {
            slot.fetch_add(1, Relaxed);
        }
        self.request_seconds[route].observe(took);
    }

    /// One tool call; `outcome` is an index into `TOOL_OUTCOMES`.
    pub fn tool_call(&self, tool: &str, outcome: usize) {
        if let Some(slot) = self.tool_calls[index(&TOOLS, tool)].get(outcome) {
            slot.fetch_add(1, Relaxed);
        }
    }

    /// One Bedrock call, retries included; `outcome` is an index into `BEDROCK_OUTCOMES`.
    pub fn bedrock_call(&self, op: &str, outcome: usize, took: Duration) {
        let op = index(&OPS, op);
        if let Some(slot) = self.bedrock_calls[op].get(outcome) {
            slot.fetch_add(1, Relaxed);
        }
        self.bedrock_seconds[op].observe(took);
    }

    /// One Bedrock attempt that is about to be retried.
    pub fn bedrock_retry(&self, op: &str) {
        self.bedrock_retries[index(&OPS, op)].fetch_add(1, Relaxed);
    }

    /// One throttled Bedrock answer (each attempt counts).
    pub fn bedrock_throttle(&self, op: &str) {
        self.bedrock_throttles[index(&OPS, op)].fetch_add(1, Relaxed);
    }

    /// One AWS credentials fetch.
    pub fn credential_refresh(&self, ok: bool) {
        self.credential_refreshes[result_index(ok)].fetch_add(1, Relaxed);
    }

    /// One JWKS fetch from Entra.
    pub fn jwks_fetch(&self, ok: bool) {
        self.jwks_fetches[result_index(ok)].fetch_add(1, Relaxed);
    }

    /// One STS attempt by `caller` (`STS_CALLERS`) that ended in `outcome` (`STS_OUTCOMES`).
    pub fn sts_request(&self, caller: &str, outcome: &str) {
        let caller = index(&STS_CALLERS, caller);
        self.sts_requests[caller][index(&STS_OUTCOMES, outcome)].fetch_add(1, Relaxed);
    }

    /// One per-user credentials lookup served as `result` (`USER_CREDENTIAL_RESULTS`).
    pub fn user_credentials(&self, result: &str) {
        // An unknown result folds into the last label rather than being lost.
        self.user_credentials[index(&USER_CREDENTIAL_RESULTS, result)].fetch_add(1, Relaxed);
    }

    /// The whole exposition; `live` and `process` are left out when unknown.
    pub fn render(&self, version: &str, live: Option<Live>, process: Option<Process>) -> String {
        let mut e = Exposition::default();
        e.family(
            "bedrock_mcp_build_info",
            "gauge",
            "Always 1; the labels say which build is running.",
        );
        e.sample("bedrock_mcp_build_info", &[("version", version)], 1);
        self.render_http(&mut e);
        self.render_bedrock(&mut e);
        counter_pairs(
            &mut e,
            "bedrock_mcp_credential_refreshes_total",
            "AWS credentials fetches (environment, ECS container endpoint or IMDS) by result.",
            &self.credential_refreshes,
        );
        counter_pairs(
            &mut e,
            "bedrock_mcp_jwks_fetches_total",
            "Fetches of Entra's signing keys (JWKS) by result.",
            &self.jwks_fetches,
        );
        self.render_sts(&mut e);
        if let Some(l) = live {
            render_live(&mut e, l);
        }
        if let Some(p) = process {
            e.family(
                "process_resident_memory_bytes",
                "gauge",
                "Resident memory size in bytes.",
            );
            e.sample("process_resident_memory_bytes", &[], p.rss_bytes);
            e.family(
                "bedrock_mcp_process_threads",
                "gauge",
                "Threads of this process.",
            );
            e.sample("bedrock_mcp_process_threads", &[], p.threads);
        }
        e.finish()
    }

    fn render_http(&self, e: &mut Exposition) {
        e.family(
            "bedrock_mcp_http_requests_total",
            "counter",
            "HTTP requests answered by the server, by route and status.",
        );
        for (route, statuses) in ROUTES.iter().zip(&self.requests) {
            for (i, n) in statuses.iter().enumerate() {
                let n = n.load(Relaxed);
                if n > 0 {
                    let status = (STATUS_MIN as usize + i).to_string();
                    let labels = [("route", *route), ("status", status.as_str())];
                    e.sample("bedrock_mcp_http_requests_total", &labels, n);
                }
            }
        }
        e.family(
            "bedrock_mcp_http_request_duration_seconds",
            "histogram",
            "Time from a request's dispatch to its answer, by route.",
        );
        for (route, h) in ROUTES.iter().zip(&self.request_seconds) {
            if !h.is_empty() {
                e.histogram(
                    "bedrock_mcp_http_request_duration_seconds",
                    &[("route", route)],
                    &h.snapshot(),
                );
            }
        }
        e.family(
            "bedrock_mcp_tool_calls_total",
            "counter",
            "MCP tools/call requests by tool and outcome (ok, tool_error, invalid_arguments).",
        );
        for (tool, outcomes) in TOOLS.iter().zip(&self.tool_calls) {
            for (outcome, n) in TOOL_OUTCOMES.iter().zip(outcomes) {
                let labels = [("tool", *tool), ("outcome", *outcome)];
                e.sample("bedrock_mcp_tool_calls_total", &labels, n.load(Relaxed));
            }
        }
    }

    fn render_bedrock(&self, e: &mut Exposition) {
        e.family(
            "bedrock_mcp_bedrock_calls_total",
            "counter",
            "Bedrock API calls by operation and final outcome, after retries.",
        );
        for (op, outcomes) in OPS.iter().zip(&self.bedrock_calls) {
            for (outcome, n) in BEDROCK_OUTCOMES.iter().zip(outcomes) {
                let labels = [("operation", *op), ("outcome", *outcome)];
                e.sample("bedrock_mcp_bedrock_calls_total", &labels, n.load(Relaxed));
            }
        }
        e.family(
            "bedrock_mcp_bedrock_call_duration_seconds",
            "histogram",
            "Bedrock call latency by operation, retries and backoff included.",
        );
        for (op, h) in OPS.iter().zip(&self.bedrock_seconds) {
            if !h.is_empty() {
                let labels = [("operation", *op)];
                e.histogram(
                    "bedrock_mcp_bedrock_call_duration_seconds",
                    &labels,
                    &h.snapshot(),
                );
            }
        }
        for (name, help, counts) in [
            (
                "bedrock_mcp_bedrock_retries_total",
                "Bedrock attempts that failed transiently and were retried.",
                &self.bedrock_retries,
            ),
            (
                "bedrock_mcp_bedrock_throttles_total",
                "Throttled Bedrock answers (429 or a throttling error code), each attempt counted.",
                &self.bedrock_throttles,
            ),
        ] {
            e.family(name, "counter", help);
            for (op, n) in OPS.iter().zip(counts) {
                e.sample(name, &[("operation", op)], n.load(Relaxed));
            }
        }
    }
}

impl Registry {
    fn render_sts(&self, e: &mut Exposition) {
        let name = "bedrock_mcp_sts_requests_total";
        e.family(
            name,
            "counter",
            "AWS STS AssumeRoleWithWebIdentity attempts by caller (user sessions or the server's web identity) and outcome (ok, the STS error code, http_5xx, transport, other). Never labelled by user.",
        );
        for (caller, row) in STS_CALLERS.iter().zip(&self.sts_requests) {
            for (outcome, n) in STS_OUTCOMES.iter().zip(row) {
                e.sample(
                    name,
                    &[("caller", caller), ("outcome", outcome)],
                    n.load(Relaxed),
                );
            }
        }
        let name = "bedrock_mcp_user_credentials_total";
        e.family(
            name,
            "counter",
            "Per-user AWS credentials lookups: hit (cached), miss (an STS call) or coalesced (waited for another request's STS call). Never labelled by user.",
        );
        for (result, n) in USER_CREDENTIAL_RESULTS.iter().zip(&self.user_credentials) {
            e.sample(name, &[("result", result)], n.load(Relaxed));
        }
    }
}

impl Default for Registry {
    fn default() -> Self {
        Registry::new()
    }
}

fn counter_pairs(e: &mut Exposition, name: &str, help: &str, counts: &[AtomicU64]) {
    e.family(name, "counter", help);
    for (result, n) in RESULTS.iter().zip(counts) {
        e.sample(name, &[("result", result)], n.load(Relaxed));
    }
}

fn render_live(e: &mut Exposition, l: Live) {
    for (name, help, value) in [
        (
            "bedrock_mcp_open_connections",
            "Client connections being read (kept-alive ones included; SSE streams are counted apart).",
            l.connections,
        ),
        (
            "bedrock_mcp_sse_sessions",
            "Open legacy SSE streams.",
            l.sse_sessions,
        ),
        (
            "bedrock_mcp_queued_requests",
            "Requests waiting for a worker slot (WORKER_THREADS in flight).",
            l.queued,
        ),
    ] {
        e.family(name, "gauge", help);
        e.sample(name, &[], value);
    }
    e.family(
        "bedrock_mcp_workers",
        "gauge",
        "Worker slots (WORKER_THREADS) by state: busy with a request, or idle.",
    );
    e.sample("bedrock_mcp_workers", &[("state", "busy")], l.workers_busy);
    e.sample("bedrock_mcp_workers", &[("state", "idle")], l.workers_idle);
}

#[cfg(test)]
mod tests;
