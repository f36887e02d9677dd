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

pub use listener::{start, MetricsError};
pub use registry::{Live, Process, Registry};
pub use text::CONTENT_TYPE;

use crate::kb::KbError;
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

/// Records a finished Bedrock call (after retries) and its latency.
pub fn bedrock_call(op: &str, result: Result<(), &KbError>, took: Duration) {
    let outcome = match result {
        Ok(()) => 0,
        Err(KbError::InvalidRequest(_)) => 1,
        Err(KbError::AccessDenied(_)) => 2,
        Err(KbError::NotFound(_)) => 3,
        Err(KbError::Throttled(_)) => 4,
        Err(KbError::Timeout(_)) => 5,
        Err(KbError::Credentials(_)) => 6,
        Err(KbError::Unavailable(_)) => 7,
    };
    REGISTRY.bedrock_call(op, outcome, took);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mcp::protocol::Version;

    #[test]
    fn every_tool_the_server_offers_has_its_own_label() {
        for v in Version::all().into_iter().filter_map(Version::parse) {
            for def in crate::mcp::tools::definitions(
                v,
                true,
                crate::mcp::tools::Reading {
                    read: true,
                    agentic: true,
                    ..Default::default()
                },
                None,
            ) {
                let name = def["name"].as_str().unwrap_or_default();
                assert!(
                    registry::TOOLS.contains(&name),
                    "tool {name} would be counted as \"other\": add it to registry::TOOLS"
                );
            }
        }
    }
}
