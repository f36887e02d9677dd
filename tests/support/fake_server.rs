//! The one scaffold every fake upstream (Bedrock, IMDS, Entra) runs on: a tiny_http server
//! on 127.0.0.1:0 that runs a handler for each request on its connection's thread (so a slow or
//! hanging answer never blocks another connection), and stops on Drop. Each fake records and counts
//! what it needs itself, so tests can wait on those events instead of the clock.

use std::io::Read;
use std::net::TcpListener;
use std::sync::Arc;
use tiny_http::{Header, Request, Response, Server};

/// A request read off the wire.
pub struct Incoming {
    pub method: String,
    /// Raw request target (path and query).
    pub target: String,
    /// Headers with lower-cased names.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The tiny_http request, to answer with `reply`.
    pub request: Request,
}

impl Incoming {
    /// First value of a header (name is case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// An answer: status, headers, body.
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    /// A JSON answer.
    pub fn json(status: u16, body: &serde_json::Value) -> Reply {
        Reply {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: body.to_string().into_bytes(),
        }
    }

    /// A plain-text answer.
    pub fn text(status: u16, body: &str) -> Reply {
        Reply {
            status,
            headers: vec![("Content-Type".into(), "text/plain".into())],
            body: body.as_bytes().to_vec(),
        }
    }

    /// Adds a header.
    pub fn with(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// Sends `reply` on `request`, ignoring a client that went away.
pub fn reply(request: Request, reply: Reply) {
    let mut response = Response::from_data(reply.body).with_status_code(reply.status);
    for (k, v) in &reply.headers {
        if let Ok(h) = Header::from_bytes(k.as_bytes(), v.as_bytes()) {
            response = response.with_header(h);
        }
    }
    let _ = request.respond(response);
}

/// The running server; stops accepting on Drop.
pub struct FakeServer {
    url: String,
    // Dropping the server stops its accept loop.
    _server: Server,
}

impl FakeServer {
    /// Binds 127.0.0.1:0 and serves every request with `handler` on the thread that read its
    /// connection (the fork's connection-thread mode, as the real server runs).
    pub fn start<H>(handler: H) -> FakeServer
    where
        H: Fn(Incoming) + Send + Sync + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("tcp address").port();
        let handle: tiny_http::Handler = Arc::new(move |mut request: Request| {
            let mut body = Vec::new();
            let _ = request.as_reader().take(4 << 20).read_to_end(&mut body);
            handler(Incoming {
                method: request.method().as_str().to_string(),
                target: request.url().to_string(),
                headers: request
                    .headers()
                    .iter()
                    .map(|h| {
                        (
                            h.field.as_str().as_str().to_ascii_lowercase(),
                            h.value.as_str().to_string(),
                        )
                    })
                    .collect(),
                body,
                request,
            });
        });
        let server = Server::from_listener_with_handler(listener, handle).expect("fake server");
        FakeServer {
            url: format!("http://127.0.0.1:{port}"),
            _server: server,
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }
}
