//! bedrock-mcp patch: process-wide bounds on what one client may cost (see FORK.md).

use crate::connection::Connection;
use std::collections::HashMap;
use std::io::{Error, ErrorKind, Read, Result, Write};
use std::net::{IpAddr, Ipv6Addr, Shutdown, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// Bounds enforced on every connection accepted after `set_limits`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most bytes in a request head (request line and headers, CRLFs included); more gets 431.
    pub max_header_bytes: usize,
    /// Time allowed for a whole request (head, the read-ahead of a small body, and the body
    /// the application reads), from accept (first request) or from the head's first byte
    /// (later requests on a keep-alive connection); slower gets 408.
    pub request_timeout: Duration,
    /// Most connections read at once; more get 503 and are closed without a thread.
    pub max_connections: usize,
    /// Most connections read at once from one client address (an IPv6 client: its /64);
    /// more get 429, no thread.
    pub max_connections_per_ip: usize,
    /// How long a kept-alive connection may wait for its next request, from our last answer;
    /// then it is closed.
    pub keepalive_idle: Duration,
}

impl Limits {
    /// Upstream behaviour, but bounded: 64 KiB heads within 30 s, 30 s idle, no caps.
    pub const DEFAULT: Limits = Limits {
        max_header_bytes: 64 * 1024,
        request_timeout: Duration::from_secs(30),
        max_connections: usize::MAX,
        max_connections_per_ip: usize::MAX,
        keepalive_idle: Duration::from_secs(30),
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

/// The connections being read, in total and per client address (the accept loop admits,
/// each connection's guard releases).
#[derive(Default)]
pub(crate) struct Census {
    total: AtomicUsize,
    /// Most connections at once since `take_peak` last ran.
    peak: AtomicUsize,
    per_ip: Mutex<HashMap<IpAddr, usize>>,
}

impl Census {
    /// Connections being read.
    pub(crate) fn total(&self) -> usize {
        self.total.load(SeqCst)
    }

    /// The peak since the last call; the next peak starts from the connections read now.
    pub(crate) fn take_peak(&self) -> usize {
        self.peak.swap(self.total(), SeqCst).max(self.total())
    }

    /// Counts a new connection from `ip`, or says which cap it is over (status, reason).
    pub(crate) fn admit(
        census: &Arc<Census>,
        ip: Option<IpAddr>,
        limits: &Limits,
    ) -> std::result::Result<ConnectionGuard, (u16, &'static str)> {
        if census.total() >= limits.max_connections {
            return Err((503, "too many connections; retry shortly"));
        }
        let ip = ip.map(client_key);
        if let Some(ip) = ip {
            let mut per_ip = census.per_ip.lock().unwrap_or_else(PoisonError::into_inner);
            let n = per_ip.entry(ip).or_insert(0);
            if *n >= limits.max_connections_per_ip {
                return Err((429, "too many connections from your address; close some"));
            }
            *n += 1;
        }
        let now = census.total.fetch_add(1, SeqCst) + 1;
        census.peak.fetch_max(now, SeqCst);
        Ok(ConnectionGuard(census.clone(), ip))
    }
}

/// The address a client is counted under: IPv4 as is (also when mapped into IPv6), IPv6 by
/// its /64, the block one subscriber usually gets (else one client has 2^64 addresses).
fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & (u128::MAX << 64))),
        },
    }
}

/// Counts one connection for as long as its task lives, unwinding included.
pub(crate) struct ConnectionGuard(Arc<Census>, Option<IpAddr>);

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        if let Some(ip) = self.1 {
            let mut per_ip = self.0.per_ip.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(n) = per_ip.get_mut(&ip) {
                *n -= 1;
                if *n == 0 {
                    per_ip.remove(&ip);
                }
            }
        }
        self.0.total.fetch_sub(1, SeqCst);
    }
}

/// A short plain-text response announcing the close that follows (`Response` drops
/// `Connection`); refusals for load (429, 503) say when to retry.
pub(crate) fn closing_response(code: u16, why: &str) -> Vec<u8> {
    let reason = crate::StatusCode(code).default_reason_phrase();
    let retry = if matches!(code, 429 | 503) {
        "Retry-After: 1\r\n"
    } else {
        ""
    };
    let len = why.len() + 1;
    format!(
        "HTTP/1.1 {code} {reason}\r\nConnection: close\r\n{retry}\
         Content-Type: text/plain; charset=utf-8\r\nContent-Length: {len}\r\n\r\n{why}\n"
    )
    .into()
}

/// Answers a connection over a cap and closes it. The write fits an empty send buffer, and
/// SO_SNDTIMEO (if the listener has one) bounds it anyway.
pub(crate) fn refuse(mut conn: Connection, code: u16, why: &str) {
    let _ = conn.write_all(&closing_response(code, why));
    let _ = conn.shutdown(Shutdown::Both);
}

/// The deadline of the connection's current read phase: a request (head, read-ahead and
/// body), the wait for our answer to it, or the idle wait for the next one. The connection
/// starts requests (client.rs), each request's body and response release it, and its
/// socket's read half enforces it (refined_tcp_stream.rs).
#[derive(Clone, Default)]
pub(crate) struct ReadDeadline(Arc<Mutex<Phase>>);

#[derive(Default)]
struct Phase {
    deadline: Option<Instant>,
    /// The newest request: releases by older ones (pipelining) change nothing.
    seq: u64,
    body_open: bool,
    response_open: bool,
    /// Since when the body is in and only our answer is pending.
    answering_since: Option<Instant>,
}

/// What a request holds on its connection until it lets go.
pub(crate) enum Part {
    Body,
    Response,
}

impl ReadDeadline {
    fn lock(&self) -> MutexGuard<'_, Phase> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn get(&self) -> Option<Instant> {
        self.lock().deadline
    }

    /// A request begins: one deadline for its head, read-ahead and body. Returns its number.
    pub(crate) fn start_request(&self, timeout: Duration) -> u64 {
        let mut p = self.lock();
        *p = Phase {
            deadline: Some(after(timeout)),
            seq: p.seq + 1,
            body_open: true,
            response_open: true,
            answering_since: None,
        };
        p.seq
    }

    /// Request `seq` let go of `part`. Once its body is in, the next head may take `idle`,
    /// counted from our answer (a wait while it is pending is `keep_waiting`'s business).
    pub(crate) fn release(&self, seq: u64, part: Part, idle: Duration) {
        let mut p = self.lock();
        if p.seq != seq {
            return;
        }
        match part {
            Part::Body => p.body_open = false,
            Part::Response => p.response_open = false,
        }
        if !p.body_open {
            p.deadline = Some(after(idle));
            p.answering_since = match (p.response_open, p.answering_since) {
                (true, None) => Some(Instant::now()),
                (true, since) => since,
                (false, _) => None,
            };
        }
    }

    /// A read with no byte of a head yet timed out: true to read on (the deadline moved on,
    /// or our answer is still pending and has not taken `longest`: then `idle` more), false
    /// when the connection is idle and should close.
    pub(crate) fn keep_waiting(&self, idle: Duration, longest: Duration) -> bool {
        let mut p = self.lock();
        let now = Instant::now();
        if p.deadline.is_some_and(|d| d > now) {
            return true;
        }
        match p.answering_since {
            Some(since) if p.response_open && now.duration_since(since) < longest => {
                p.deadline = Some(after(idle));
                true
            }
            _ => false,
        }
    }
}

/// `now + d`, saturating far in the future instead of overflowing `Instant`.
pub(crate) fn after(d: Duration) -> Instant {
    Instant::now() + d.min(Duration::from_secs(u32::MAX.into()))
}

/// A request's body source: when the request lets go of it (body read, or request dropped),
/// the request's deadline no longer bounds the connection's reads.
pub(crate) struct BodySource<R> {
    pub(crate) inner: R,
    pub(crate) deadline: ReadDeadline,
    pub(crate) seq: u64,
    pub(crate) idle: Duration,
}

impl<R: Read> Read for BodySource<R> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        self.inner.read(buf)
    }
}

impl<R> Drop for BodySource<R> {
    fn drop(&mut self) {
        self.deadline.release(self.seq, Part::Body, self.idle);
    }
}

/// A request's response writer: when the answer is out (writer dropped), the idle wait for
/// the next request starts.
pub(crate) struct ResponseSink<W> {
    pub(crate) inner: W,
    pub(crate) deadline: ReadDeadline,
    pub(crate) seq: u64,
    pub(crate) idle: Duration,
}

impl<W: Write> Write for ResponseSink<W> {
    fn write(&mut self, buf: &[u8]) -> Result<usize> {
        self.inner.write(buf)
    }

    fn flush(&mut self) -> Result<()> {
        self.inner.flush()
    }
}

impl<W> Drop for ResponseSink<W> {
    fn drop(&mut self) {
        self.deadline.release(self.seq, Part::Response, self.idle);
    }
}

/// Keeps reads to a `ReadDeadline`: while one is set, the socket's read timeout shrinks to
/// it (a blocked read wakes by then), and once a read ends past it the next read of the same
/// phase fails with `TimedOut` (the bytes read are kept: an idle wait's may begin a head).
/// A read may thus overrun by at most the timeout set when the phase began.
pub(crate) struct ReadTimer {
    deadline: ReadDeadline,
    idle: Option<Duration>,
    applied: Option<Instant>,
    overdue: Option<Instant>,
}

impl ReadTimer {
    pub(crate) fn new(deadline: ReadDeadline, sock: &TcpStream) -> ReadTimer {
        let idle = sock.read_timeout().ok().flatten();
        ReadTimer {
            deadline,
            idle,
            applied: None,
            overdue: None,
        }
    }

    /// The socket's own read timeout (HTTP_READ_TIMEOUT_SECS), used where no deadline is set.
    pub(crate) fn idle(&self) -> Option<Duration> {
        self.idle
    }

    pub(crate) fn read(&mut self, sock: &mut TcpStream, buf: &mut [u8]) -> Result<usize> {
        let deadline = self.deadline.get();
        if deadline.is_some() && deadline == self.overdue {
            return Err(Error::new(ErrorKind::TimedOut, "request too slow"));
        }
        if deadline != self.applied {
            // The deadline, not the socket's own timeout, bounds a phase (so a keep-alive
            // wait may be longer than HTTP_READ_TIMEOUT_SECS, e.g. behind a load balancer).
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            let left = left.map(|l| l.max(Duration::from_millis(1)));
            let _ = sock.set_read_timeout(left.or(self.idle));
            self.applied = deadline;
        }
        let n = sock.read(buf)?;
        if deadline.is_some_and(|d| Instant::now() > d) {
            self.overdue = deadline;
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn capped(total: usize, per_ip: usize) -> Limits {
        Limits {
            max_connections: total,
            max_connections_per_ip: per_ip,
            ..Limits::DEFAULT
        }
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn the_total_cap_answers_503_and_a_closed_connection_frees_its_slot() {
        let census = Arc::new(Census::default());
        let limits = capped(2, usize::MAX);
        let a = Census::admit(&census, ip("10.0.0.1"), &limits).unwrap();
        let _b = Census::admit(&census, ip("10.0.0.2"), &limits).unwrap();
        let refused = Census::admit(&census, ip("10.0.0.3"), &limits).err();
        assert_eq!(refused.map(|r| r.0), Some(503));
        assert_eq!(census.total(), 2);
        drop(a);
        assert_eq!(census.total(), 1);
        assert!(Census::admit(&census, ip("10.0.0.3"), &limits).is_ok());
    }

    #[test]
    fn the_per_address_cap_answers_429_and_counts_ipv6_by_its_64() {
        let census = Arc::new(Census::default());
        let limits = capped(usize::MAX, 1);
        let _v6 = Census::admit(&census, ip("2001:db8:1:2::1"), &limits).unwrap();
        let same_64 = Census::admit(&census, ip("2001:db8:1:2:ffff::9"), &limits).err();
        assert_eq!(same_64.map(|r| r.0), Some(429));
        assert!(Census::admit(&census, ip("2001:db8:1:3::1"), &limits).is_ok());
        let _v4 = Census::admit(&census, ip("192.0.2.7"), &limits).unwrap();
        let mapped = Census::admit(&census, ip("::ffff:192.0.2.7"), &limits).err();
        assert_eq!(mapped.map(|r| r.0), Some(429));
    }

    #[test]
    fn a_released_address_is_forgotten() {
        let census = Arc::new(Census::default());
        let limits = capped(usize::MAX, 1);
        let guard = Census::admit(&census, ip("192.0.2.7"), &limits).unwrap();
        drop(guard);
        assert!(census.per_ip.lock().unwrap().is_empty());
        assert_eq!(
            client_key(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        );
    }

    #[test]
    fn refusals_announce_the_close_and_their_length() {
        let text = String::from_utf8(closing_response(431, "head too large")).unwrap();
        assert!(text.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
        assert!(text.contains("Connection: close\r\n"));
        assert!(text.ends_with("Content-Length: 15\r\n\r\nhead too large\n"));
        assert!(!text.contains("Retry-After"));
        let busy = String::from_utf8(closing_response(503, "busy")).unwrap();
        assert!(busy.contains("Retry-After: 1\r\n"));
    }

    #[test]
    fn a_request_keeps_its_deadline_until_body_and_response_let_go() {
        let deadline = ReadDeadline::default();
        let long = Duration::from_secs(3600);
        let seq = deadline.start_request(long);
        let request_end = deadline.get().unwrap();
        // an earlier request's release must not move a pipelined successor's deadline
        deadline.release(seq - 1, Part::Body, Duration::ZERO);
        assert_eq!(deadline.get(), Some(request_end));
        // body in, answer pending: the idle clock starts but an answer still being
        // written keeps the connection read for up to `longest`
        deadline.release(seq, Part::Body, Duration::ZERO);
        assert!(deadline.get().unwrap() < request_end);
        assert!(deadline.keep_waiting(Duration::ZERO, long));
        assert!(!deadline.keep_waiting(Duration::ZERO, Duration::ZERO));
        // answer written too: an expired idle wait closes the connection
        deadline.release(seq, Part::Response, Duration::ZERO);
        assert!(!deadline.keep_waiting(Duration::ZERO, long));
        deadline.release(seq, Part::Response, long);
        assert!(deadline.keep_waiting(Duration::ZERO, long));
    }

    #[test]
    fn far_deadlines_saturate_instead_of_overflowing() {
        assert!(after(Duration::MAX) > Instant::now());
    }
}
