//! What a handler answers: a complete reply, or "open a legacy SSE stream".
//!
//! Handlers build [`Reply`] values; `server.rs` turns them into tiny_http responses and adds
//! the headers every response carries (request id, nosniff, no-store, CORS).

use serde_json::Value;

/// A complete HTTP response.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Headers beyond the common ones.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Reply {
    /// A JSON body.
    pub fn json(status: u16, value: &Value) -> Reply {
        Reply {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: value.to_string().into_bytes(),
        }
    }

    /// A `{"error": …, "error_description": …}` body, the shape OAuth and our HTTP errors share.
    pub fn error(status: u16, error: &str, description: &str) -> Reply {
        Reply::json(
            status,
            &serde_json::json!({ "error": error, "error_description": description }),
        )
    }

    /// No body.
    pub fn empty(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Reply {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    /// The value of a header set on this reply (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What the worker does with the connection.
#[derive(Debug)]
pub enum Action {
    /// Send this reply.
    Reply(Reply),
    /// Hand the socket to the legacy SSE hub under this session id, writing these extra
    /// headers (CORS) with the stream's head.
    OpenSse {
        /// The new session's id.
        session_id: String,
        /// The user the session belongs to (auth on), so other users cannot post to it.
        owner: Option<String>,
    },
    /// Give the request's slot back and run a long call (agentic_search); a legacy one after
    /// answering the POST with this reply.
    Long(Box<super::long::LongCall>, Option<Reply>),
}
