//! The shared state every worker reads: settings, the MCP handler, the SSE hub and auth.

use super::settings::ServerSettings;
use super::sse::Hub;
use crate::auth::Authenticator;
use crate::kb::KbIdentity;
use crate::mcp::Mcp;
use std::time::Instant;

/// Everything a request handler needs; shared behind an `Arc`.
pub struct App {
    /// HTTP settings.
    pub settings: ServerSettings,
    /// The MCP handler over the knowledge base.
    pub mcp: Mcp,
    /// Open legacy SSE streams.
    pub hub: Hub,
    /// The token validator, when ENABLE_AUTH is on.
    pub auth: Option<Authenticator>,
    /// The knowledge base's id and region, for health and logs.
    pub identity: KbIdentity,
    /// When the process started serving.
    pub started: Instant,
}

impl App {
    /// Assembles the state.
    pub fn new(
        settings: ServerSettings,
        mcp: Mcp,
        identity: KbIdentity,
        auth: Option<Authenticator>,
    ) -> App {
        let hub = Hub::new(settings.max_sse_sessions);
        App {
            settings,
            mcp,
            hub,
            auth,
            identity,
            started: Instant::now(),
        }
    }

    /// The base URL clients reach us at: PUBLIC_BASE_URL, else derived from the request's
    /// X-Forwarded-Proto/X-Forwarded-Host or Host (the load balancer terminates TLS).
    pub fn base_url(&self, req: &super::request::HttpRequest) -> String {
        if let Some(base) = &self.settings.public_base_url {
            return base.clone();
        }
        let first = |v: &str| v.split(',').next().unwrap_or("").trim().to_string();
        let proto = req
            .header("x-forwarded-proto")
            .map(first)
            .filter(|p| p == "https" || p == "http")
            .unwrap_or_else(|| "http".to_string());
        let host = req
            .header("x-forwarded-host")
            .or_else(|| req.header("host"))
            .map(first)
            .filter(|h| valid_host(h))
            .unwrap_or_else(|| format!("localhost:{}", self.settings.port));
        format!("{proto}://{host}")
    }
}

/// Host header values we are willing to put into URLs we hand out.
fn valid_host(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 255
        && h.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
}
