//! HTTP: the tiny_http server and its gate (requests in flight), routing, CORS, the two MCP transports
//! (Streamable HTTP and legacy SSE), health, and the OAuth endpoints' wiring.

pub mod app;
pub mod budget;
mod caller;
pub mod cors;
pub mod error_reply;
pub mod gate;
mod health;
mod legacy;
mod limits;
pub mod log_info;
pub mod long;
mod oauth_routes;
pub mod request;
pub mod response;
mod revision;
pub mod router;
pub mod server;
pub mod signal;
pub(crate) mod socket;
pub mod sse;
pub mod streamable;

pub use crate::config::ServerSettings;
pub use app::{base_url_warning, App};
pub use server::{serve, ServerError};
