//! HTTP: the tiny_http server and worker pool, routing, CORS, the two MCP transports
//! (Streamable HTTP and legacy SSE), health, and the OAuth endpoints' wiring.

pub mod app;
pub mod cors;
mod health;
mod legacy;
mod limits;
mod oauth_routes;
pub mod pool;
pub mod request;
pub mod response;
pub mod router;
pub mod server;
pub mod settings;
pub mod signal;
pub(crate) mod socket;
pub mod sse;
pub mod streamable;

pub use app::App;
pub use server::{serve, ServerError};
pub use settings::ServerSettings;
