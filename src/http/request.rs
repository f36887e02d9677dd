//! The request as handlers see it: method, path, headers and a size-capped body, copied out of
//! tiny_http so handlers are plain functions (testable without sockets) and a panicking
//! handler cannot lose the connection we must still answer on.

use super::budget::{self, BodyBudget, Lease};
use std::io::ErrorKind;
use std::net::SocketAddr;

/// Body bytes that need no room in the budget: tiny_http reads bodies up to 1 KiB ahead,
/// so they are in memory already, and at most one per worker is copied and parsed here (a
/// KiB parses into at most ~32 KiB). Ordinary MCP calls are that small, so they are served
/// even while large bodies fill the budget.
const UNLEASED: usize = 1024;

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
    /// Still arriving when the request's deadline passed.
    TooSlow,
    /// The process-wide budget for bodies in memory has no room for this one now.
    Busy,
    /// Parsing the body could take more memory than the whole budget.
    TooComplex(usize),
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
            BodyError::TooSlow => write!(
                f,
                "the request took longer than HEADER_TIMEOUT_SECS to arrive; send it faster"
            ),
            BodyError::Busy => write!(
                f,
                "server busy: too many request bodies in flight (MAX_BODY_BYTES_IN_FLIGHT); retry shortly"
            ),
            BodyError::TooComplex(limit) => write!(
                f,
                "request body has too many JSON values to parse within {limit} bytes (MAX_BODY_BYTES_IN_FLIGHT); send a smaller request"
            ),
            BodyError::Io(e) => write!(f, "could not read the request body: {e}"),
        }
    }
}

impl std::error::Error for BodyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BodyError::Io(e) => Some(e),
            _ => None,
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

    /// Reads the body of `rq` into `self.body`, refusing more than `limit` bytes or more than
    /// `budget` has room for. The buffer's capacity (beyond its first KiB) is leased before it
    /// is allocated and stays leased until the returned `Lease` drops. Time is bounded by the
    /// request's deadline, which our tiny_http enforces on every socket read (a silent client
    /// is cut there too).
    pub fn read_body(
        &mut self,
        rq: &mut tiny_http::Request,
        limit: usize,
        budget: &BodyBudget,
    ) -> Result<Lease, BodyError> {
        if rq.body_length().is_some_and(|n| n > limit) {
            return Err(BodyError::TooLarge(limit));
        }
        let mut lease = budget.lease();
        let declared = rq.body_length().unwrap_or(0);
        if !lease.grow_to(declared.saturating_sub(UNLEASED)) {
            return Err(BodyError::Busy);
        }
        let mut body = Vec::with_capacity(declared);
        let mut chunk = [0u8; 4 * 1024];
        let reader = rq.as_reader();
        loop {
            let n = match reader.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) if matches!(e.kind(), ErrorKind::TimedOut | ErrorKind::WouldBlock) => {
                    return Err(BodyError::TooSlow)
                }
                Err(e) => return Err(BodyError::Io(e)),
            };
            let needed = body.len() + n;
            if needed > limit {
                return Err(BodyError::TooLarge(limit));
            }
            if needed > body.capacity() {
                // Grow as Vec would (doubling) but never past the limit, and lease it first.
                let capacity = needed.max((body.capacity() * 2).min(limit));
                if !lease.grow_to(capacity.saturating_sub(UNLEASED)) {
                    return Err(BodyError::Busy);
                }
                body.reserve_exact(capacity - body.len());
            }
            body.extend_from_slice(&chunk[..n]);
        }
        if body.len() > UNLEASED {
            // Parsing comes next: lease what it may cost before it allocates.
            let total = body.capacity().saturating_add(budget::parse_cost(&body));
            if total > budget.limit() {
                return Err(BodyError::TooComplex(budget.limit()));
            }
            if !lease.grow_to(total - UNLEASED) {
                return Err(BodyError::Busy);
            }
        }
        self.body = body;
        Ok(lease)
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
