//! `GET /health`: liveness for load balancers. Never behind auth, never calls upstream, no secrets.

use super::app::App;
use super::response::Reply;
use serde_json::json;

/// The health reply.
pub fn reply(app: &App) -> Reply {
    let id = &app.identity;
    Reply::json(
        200,
        &json!({
            "status": "healthy",
            "version": env!("CARGO_PKG_VERSION"),
            "kb_id": id.kb_id,
            "region": id.region,
            "backend": id.backend,
            "auth_enabled": app.auth.is_some(),
            "uptime_secs": app.started.elapsed().as_secs(),
            "sse_sessions": app.hub.len(),
        }),
    )
}
