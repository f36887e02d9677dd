//! What the access log says about a request beyond method, path and status; filled in by
//! the router and the handlers, written out by `server.rs`.

use crate::auth::Principal;
use crate::mcp::protocol::Version;
use crate::mcp::Outcome;

/// What the access log says about a request beyond method, path and status.
#[derive(Debug, Default)]
pub struct LogInfo {
    /// The authenticated user.
    pub principal: Option<Principal>,
    /// MCP method, tool and results.
    pub outcome: Outcome,
    /// Protocol revision used.
    pub version: Option<Version>,
    /// Legacy SSE session id.
    pub session: Option<String>,
}
