//! bedrock-mcp patch: process-wide bounds on what one client may cost (see PATCH.md).

use crate::connection::Connection;
use std::io::{Error, ErrorKind, Read, Result, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Bounds enforced on every connection accepted after `set_limits`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most bytes in a request head (request line and headers, CRLFs included); more gets 431.
    pub max_header_bytes: usize,
    /// Time allowed for a request head, from accept (first request) or from its first byte
    /// (later requests on a keep-alive connection); slower gets 408.
    pub header_timeout: Duration,
    /// Most connections read at once; more get 503 and are closed without a thread.
    pub max_connections: usize,
}

impl Limits {
    /// Upstream behaviour, but bounded: 64 KiB heads within 30 s, no connection cap.
    pub const DEFAULT: Limits = Limits {
        max_header_bytes: 64 * 1024,
        header_timeout: Duration::from_secs(30),
        max_connections: usize::MAX,
    };
}

static LIMITS: Mutex<Limits> = Mutex::new(Limits::DEFAULT);

/// Sets the limits for every server in this process.
pub fn set_limits(limits: Limits) {
    *LIMITS.lock().unwrap_or_else(PoisonError::into_inner) = limits;
}

/// The limits in force.
pub fn limits() -> Limits {
    *LIMITS.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Counts one connection for as long as its task lives, unwinding included.
pub(crate) struct ConnectionGuard(Arc<AtomicUsize>);

impl ConnectionGuard {
    pub(crate) fn new(count: &Arc<AtomicUsize>) -> ConnectionGuard {
        count.fetch_add(1, SeqCst);
        ConnectionGuard(count.clone())
    }
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, SeqCst);
    }
}

/// A bodiless response announcing the close that follows (`Response` drops `Connection`).
pub(crate) fn closing_response(code: u16) -> Vec<u8> {
    let reason = crate::StatusCode(code).default_reason_phrase();
    format!("HTTP/1.1 {code} {reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n").into()
}

/// Answers 503 on a connection over the cap and closes it. The write fits an empty send
/// buffer, and SO_SNDTIMEO (if the listener has one) bounds it anyway.
pub(crate) fn refuse(mut conn: Connection) {
    let _ = conn.write_all(&closing_response(503));
    let _ = conn.shutdown(Shutdown::Both);
}

/// The deadline of the request head being read: the connection sets and clears it
/// (client.rs), its socket's read half enforces it (refined_tcp_stream.rs).
#[derive(Clone, Default)]
pub(crate) struct HeadDeadline(Arc<Mutex<Option<Instant>>>);

impl HeadDeadline {
    pub(crate) fn set(&self, deadline: Option<Instant>) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = deadline;
    }

    fn get(&self) -> Option<Instant> {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Keeps reads to a `HeadDeadline`: while one is set, the socket's read timeout shrinks to
/// it (a blocked read wakes by then) and a read that ends past it fails with `TimedOut`.
/// A read may thus overrun by at most the timeout set when the head began.
pub(crate) struct HeadTimer {
    deadline: HeadDeadline,
    idle: Option<Duration>,
    applied: Option<Instant>,
}

impl HeadTimer {
    pub(crate) fn new(deadline: HeadDeadline, sock: &TcpStream) -> HeadTimer {
        let idle = sock.read_timeout().ok().flatten();
        let applied = None;
        HeadTimer {
            deadline,
            idle,
            applied,
        }
    }

    pub(crate) fn read(&mut self, sock: &mut TcpStream, buf: &mut [u8]) -> Result<usize> {
        let deadline = self.deadline.get();
        if deadline != self.applied {
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            let left = left.map(|l| l.max(Duration::from_millis(1)));
            let _ = sock.set_read_timeout(match (left, self.idle) {
                (Some(l), Some(i)) => Some(l.min(i)),
                (l, i) => l.or(i),
            });
            self.applied = deadline;
        }
        let n = sock.read(buf)?;
        match deadline {
            Some(d) if Instant::now() > d => Err(Error::new(ErrorKind::TimedOut, "head too slow")),
            _ => Ok(n),
        }
    }
}
