//! Prometheus metrics for operators: counters and histograms kept in process-wide atomics,
//! served as text exposition on a listener of their own (METRICS_ADDR, off when unset),
//! never on the public port.
//!
//! The rest of the server records through the one-line hooks below; they cost a few
//! relaxed atomic adds and never fail. Must not record anything a client chooses freely
//! (paths, tool names) except through the fixed label sets in `registry.rs`.

mod histogram;
mod listener;
mod process;
mod registry;
mod text;

pub use listener::start;
pub use registry::{Live, Registry, BEDROCK_OUTCOMES, STS_OUTCOMES as STS_CODES};
pub use text::CONTENT_TYPE;

use std::sync::Mutex;
use std::time::Duration;

/// The process-wide registry every hook records into.
static REGISTRY: Registry = Registry::new();

/// Reads the request loop's live numbers at scrape time; set once the server runs.
type Sampler = Box<dyn Fn() -> Live + Send + Sync>;
static LIVE: Mutex<Option<Sampler>> = Mutex::new(None);

/// Records an answered HTTP request.
pub fn request(path: &str, status: u16, took: Duration) {
    REGISTRY.request(path, status, took);
}

/// Records a tools/call: `Ok(is_error)` when the tool ran, `Err(())` when its name or
/// arguments were refused.
pub fn tool_call(tool: &str, ran: Result<bool, ()>) {
    let outcome = match ran {
        Ok(false) => 0,
        Ok(true) => 1,
        Err(()) => 2,
    };
    REGISTRY.tool_call(tool, outcome);
}

/// Records a finished Bedrock call (after retries) and its latency; `outcome` is "ok" or the
/// failure's kind, one of [`BEDROCK_OUTCOMES`] (anything else counts as "unavailable").
pub fn bedrock_call(op: &str, outcome: &str, took: Duration) {
    let last = BEDROCK_OUTCOMES.len() - 1;
    let outcome = BEDROCK_OUTCOMES
        .iter()
        .position(|o| *o == outcome)
        .unwrap_or(last);
    REGISTRY.bedrock_call(op, outcome, took);
}

/// True when `tool` is counted under its own label rather than "other".
#[cfg(test)]
pub(crate) fn counts_tool(tool: &str) -> bool {
    registry::TOOLS.contains(&tool)
}

/// Records a Bedrock attempt that failed transiently; `throttled` when Bedrock said so,
/// `retrying` when another attempt follows.
pub fn bedrock_attempt_failed(op: &str, throttled: bool, retrying: bool) {
    if throttled {
        REGISTRY.bedrock_throttle(op);
    }
    if retrying {
        REGISTRY.bedrock_retry(op);
    }
}

/// Records an AWS credentials fetch.
pub fn credential_refresh(ok: bool) {
    REGISTRY.credential_refresh(ok);
}

/// Records one AWS STS attempt: `caller` is `user` or `server`, `outcome` one of
/// [`STS_CODES`] (anything else counts as `other`).
pub fn sts_request(caller: &str, outcome: &str) {
    REGISTRY.sts_request(caller, outcome);
}

/// Records how a per-user credentials lookup was served: `hit`, `miss` or `coalesced`.
pub fn user_credentials(result: &str) {
    REGISTRY.user_credentials(result);
}

/// Records a JWKS fetch.
pub fn jwks_fetch(ok: bool) {
    REGISTRY.jwks_fetch(ok);
}

/// Installs the function that reads connections, workers and SSE sessions at scrape time.
pub fn set_live(sampler: Sampler) {
    *LIVE.lock().unwrap_or_else(|p| p.into_inner()) = Some(sampler);
}

/// The current exposition of the process-wide registry.
pub fn render() -> String {
    let live = LIVE
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .as_ref()
        .map(|f| f());
    REGISTRY.render(env!("CARGO_PKG_VERSION"), live, process::read())
}
