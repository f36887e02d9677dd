//! HTTP: the tiny_http server and its gate (requests in flight), routing, CORS, the two MCP transports
//! (Streamable HTTP and legacy SSE), health, and the OAuth endpoints' wiring.

pub(crate) mod app;
pub(crate) mod budget;
pub(crate) mod cors;
pub(crate) mod error_reply;
pub(crate) mod gate;
mod health;
mod legacy;
mod limits;
pub(crate) mod long;
mod notify;
mod oauth_routes;
pub mod request;
pub mod response;
mod revision;
pub(crate) mod router;
pub(crate) mod server;
pub(crate) mod signal;
pub(crate) mod sse;
pub mod streamable;

pub use crate::config::ServerSettings;
pub use app::{base_url_warning, web_identity, App};
pub use server::{serve, ServerError};
