//! Long tool calls (agentic_search) on both transports. Such a call gives back its
//! `WORKER_THREADS` slot before it starts (it has its own limit, AGENTIC_MAX_IN_FLIGHT, in
//! `mcp`), so a few calls of minutes never hold the slots ordinary searches need.
//!
//! Streamable HTTP: when the client accepts `text/event-stream`, the answer is an SSE
//! response stream carrying `notifications/progress` and then the response; a failed write
//! (the client closed the stream) cancels the call. Otherwise the JSON response comes at the
//! end. Legacy SSE: the POST is answered 202 at once and the call runs on its own thread,
//! its notifications and response going out on the session's stream.

use super::app::App;
use super::sse::Session;
use crate::mcp::jsonrpc::Message;
use crate::mcp::protocol::Version;
use crate::mcp::{Caller, Outcome};
use std::io::Write;
use std::sync::Arc;

/// Stack of a legacy long call's thread: it runs a tool call like a connection thread does.
const CALL_STACK: usize = 1 << 20;

/// A long call, not started yet.
pub struct LongCall {
    /// The `tools/call` request.
    pub message: Message,
    /// The revision it is handled under.
    pub version: Version,
    /// Whom it runs for.
    pub caller: Caller,
    /// Where `notifications/cancelled` for it come from (user or session).
    pub scope: String,
    /// How its answer travels.
    pub via: Via,
}

impl std::fmt::Debug for LongCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LongCall")
            .field("version", &self.version)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// How a long call's answer travels.
pub enum Via {
    /// On the POST's own response; `sse` when the client accepts an SSE response stream.
    Streamable {
        /// The client accepts `text/event-stream`.
        sse: bool,
    },
    /// On a legacy session's stream.
    Legacy {
        /// The session.
        session: Arc<Session>,
    },
}

/// Runs a streamable call whose client accepts SSE: writes the stream's head, then each
/// notification and the response as `message` events. The outcome, for the access log.
pub fn stream(
    app: &App,
    writer: &mut dyn Write,
    common: &[(String, String)],
    call: LongCall,
) -> Outcome {
    let mut open = super::sse::write_head(writer, common);
    let mut send = |data: &str| -> bool {
        if open {
            let frame = format!("event: message\ndata: {data}\n\n");
            open = writer
                .write_all(frame.as_bytes())
                .and_then(|()| writer.flush())
                .is_ok();
        }
        open
    };
    run(app, call, &mut send)
}

/// Runs `call`, sending its notifications and then its response through `send`.
fn run(app: &App, call: LongCall, send: &mut dyn FnMut(&str) -> bool) -> Outcome {
    let mut outcome =
        app.mcp
            .handle_long(call.version, call.message, &call.caller, &call.scope, send);
    if let Some(response) = outcome.response.take() {
        send(response.as_str());
    }
    outcome
}

/// Runs a streamable call whose client wants JSON: no notifications; the response at the end.
pub fn plain(app: &App, call: LongCall) -> Outcome {
    app.mcp.handle_long(
        call.version,
        call.message,
        &call.caller,
        &call.scope,
        &mut |_: &str| true,
    )
}

/// Starts a legacy call on its own thread (the POST is answered 202 by the caller).
pub fn spawn_legacy(app: Arc<App>, call: LongCall) {
    let Via::Legacy { session } = &call.via else {
        return;
    };
    let session = session.clone();
    let work = move || {
        run(&app, call, &mut |data: &str| session.send("message", data));
    };
    if let Err(e) = std::thread::Builder::new()
        .name("long-call".into())
        .stack_size(CALL_STACK)
        .spawn(work)
    {
        log::warn!("cannot start a thread for a long call ({e}); it is dropped");
    }
}
