//! The request as handlers see it: method, path, headers and a size-capped body, copied out of
//! tiny_http so handlers are plain functions (testable without sockets) and a panicking
//! handler cannot lose the connection we must still answer on.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// An HTTP request with its body read.
#[derive(Debug, Clone, Default)]
pub struct HttpRequest {
    /// Upper-case method.
    pub method: String,
    /// Path without query.
    pub path: String,
    /// Raw query string (without `?`).
    pub query: String,
    /// Headers with lower-case names, in arrival order.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
    /// The peer address.
    pub remote: Option<SocketAddr>,
    /// Our id for this request (from a sane X-Request-Id, else random).
    pub request_id: String,
}

/// Why a request's body could not be read.
#[derive(Debug)]
pub enum BodyError {
    /// Larger than the configured limit.
    TooLarge(usize),
    /// Still arriving after the deadline.
    TooSlow(Duration),
    /// The client stopped sending or the socket failed.
    Io(std::io::Error),
}

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BodyError::TooLarge(limit) => write!(
                f,
                "request body is larger than {limit} bytes (MAX_BODY_BYTES); send a smaller request"
            ),
            BodyError::TooSlow(d) => write!(
                f,
                "the request body took longer than {} s to arrive; send it faster",
                d.as_secs()
            ),
            BodyError::Io(e) => write!(f, "could not read the request body: {e}"),
        }
    }
}

impl HttpRequest {
    /// Copies method, URL and headers out of a tiny_http request, without reading the body.
    pub fn head(rq: &tiny_http::Request) -> HttpRequest {
        let url = rq.url();
        let (path, query) = url.split_once('?').unwrap_or((url, ""));
        let headers: Vec<(String, String)> = rq
            .headers()
            .iter()
            .map(|h| {
                (
                    h.field.as_str().as_str().to_ascii_lowercase(),
                    h.value.as_str().to_string(),
                )
            })
            .collect();
        let mut req = HttpRequest {
            method: rq.method().as_str().to_ascii_uppercase(),
            path: path.to_string(),
            query: query.to_string(),
            headers,
            body: Vec::new(),
            remote: rq.remote_addr().copied(),
            request_id: String::new(),
        };
        req.request_id = match req.header("x-request-id") {
            Some(id) if valid_request_id(id) => id.to_string(),
            _ => crate::util::random_hex(8),
        };
        req
    }

    /// Reads the body of `rq` into `self.body`, refusing more than `limit` bytes or a body
    /// still arriving after `deadline` (each read is also bounded by the socket timeout), so
    /// trickling clients cannot hold workers.
    pub fn read_body(
        &mut self,
        rq: &mut tiny_http::Request,
        limit: usize,
        deadline: Duration,
    ) -> Result<(), BodyError> {
        if rq.body_length().is_some_and(|n| n > limit) {
            return Err(BodyError::TooLarge(limit));
        }
        let started = Instant::now();
        let mut body = Vec::with_capacity(rq.body_length().unwrap_or(0).min(limit));
        let mut chunk = [0u8; 4 * 1024];
        let reader = rq.as_reader();
        loop {
            let n = match reader.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(BodyError::Io(e)),
            };
            if body.len() + n > limit {
                return Err(BodyError::TooLarge(limit));
            }
            body.extend_from_slice(&chunk[..n]);
            if started.elapsed() > deadline {
                return Err(BodyError::TooSlow(deadline));
            }
        }
        self.body = body;
        Ok(())
    }

    /// The first value of a header (name in any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The first value of a query parameter, percent-decoded (`None` if the query is malformed).
    pub fn query_param(&self, name: &str) -> Option<String> {
        crate::util::form_pairs(&self.query)?
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }
}

/// Request ids we accept from a proxy: short and plain, so they are safe in logs and headers.
fn valid_request_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_request_ids_are_kept_only_when_plain() {
        assert!(valid_request_id("abc-123_x.y"));
        assert!(!valid_request_id(""));
        assert!(!valid_request_id("a b"));
        assert!(!valid_request_id("x\r\ny"));
        assert!(!valid_request_id(&"a".repeat(65)));
    }

    #[test]
    fn query_params_are_decoded() {
        let r = HttpRequest {
            query: "session_id=ab%20c&x=1&session_id=second".into(),
            ..HttpRequest::default()
        };
        assert_eq!(r.query_param("session_id").as_deref(), Some("ab c"));
        assert_eq!(r.query_param("missing"), None);
    }
}
