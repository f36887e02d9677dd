//! Raw-socket helpers shared by the hardening tests, and /proc readings of the server.

use crate::support::server::Server;
use serde_json::json;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// `host:port` of the server.
pub fn addr(s: &Server) -> String {
    s.url.trim_start_matches("http://").to_string()
}

/// A field of /proc/<pid>/status as a number (kB for memory fields).
pub fn proc_status(pid: u32, key: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = text.lines().find(|l| l.starts_with(key)).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Reads until EOF, error or timeout; returns what arrived.
pub fn read_all(stream: &mut TcpStream, timeout: Duration) -> String {
    stream.set_read_timeout(Some(timeout)).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = stream.read(&mut buf) {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Sends `bytes` on a fresh connection and reads until the server closes it: the answer, or
/// `None` if the connection was still open after 30 s (a hang guard, not a speed check).
pub fn raw_until_close(s: &Server, bytes: &[u8]) -> Option<String> {
    let mut stream = TcpStream::connect(addr(s)).unwrap();
    let _ = stream.write_all(bytes);
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return Some(String::from_utf8_lossy(&out).into_owned()),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return None
            }
            // A reset is a close too (the server may close before reading everything).
            Err(_) => return Some(String::from_utf8_lossy(&out).into_owned()),
        }
    }
}

/// The status code of a raw response, if one arrived.
pub fn status(response: &str) -> Option<u16> {
    response.strip_prefix("HTTP/1.")?.get(2..5)?.parse().ok()
}

/// Sends `bytes` on a fresh connection and returns the raw response.
pub fn raw(s: &Server, bytes: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr(s)).unwrap();
    // The server may close before taking everything; what it answered is still readable.
    let _ = stream.write_all(bytes);
    read_all(&mut stream, Duration::from_secs(10))
}

/// A legitimate request held up behind attackers would wait for their socket timeout (60 s
/// in the attack tests); this bound catches that without asserting how fast this machine is.
const PROMPT: Duration = Duration::from_secs(30);

/// GET /health answers 200 well before an attacker's socket timeout.
pub fn assert_healthy(s: &Server) {
    let started = Instant::now();
    let r = s.request("GET", "/health", &[], "");
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        started.elapsed() < PROMPT,
        "/health took {:?}",
        started.elapsed()
    );
}

/// A search tool call answers well before an attacker's socket timeout.
pub fn assert_tool_call_works(s: &Server) {
    let started = Instant::now();
    let r = s.mcp(
        &[],
        &json!({"jsonrpc":"2.0","id":1,"method":"tools/call",
        "params":{"name":"search_knowledge_base","arguments":{"query":"Lambda","max_results":2}}}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["result"]["isError"], false, "{}", r.body);
    assert!(
        started.elapsed() < PROMPT,
        "tools/call took {:?}",
        started.elapsed()
    );
}

/// Reads one keep-alive response (head and Content-Length body) and returns its status.
pub fn read_one(stream: &mut TcpStream) -> Option<u16> {
    let mut text = Vec::new();
    let mut byte = [0u8; 1];
    while !text.ends_with(b"\r\n\r\n") {
        (stream.read(&mut byte).ok()? == 1).then_some(())?;
        text.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&text).to_ascii_lowercase();
    let length = head
        .split("content-length: ")
        .nth(1)?
        .split('\r')
        .next()?
        .parse()
        .ok()?;
    stream.read_exact(&mut vec![0; length]).ok()?;
    status(&head.replacen("http/", "HTTP/", 1))
}

/// A connection to the server from another loopback address (127.0.0.2, …): an attacker's
/// connections then count against its own per-address cap, not the legitimate clients'.
#[allow(unsafe_code)] // bind() before connect(): std has no way to choose the source address
pub fn connect_from(src: std::net::Ipv4Addr, s: &Server) -> std::io::Result<TcpStream> {
    use std::net::SocketAddrV4;
    use std::os::fd::FromRawFd;
    let dst: SocketAddrV4 = addr(s).parse().expect("the server listens on IPv4");
    let sockaddr = |a: SocketAddrV4| libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: a.port().to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(*a.ip()).to_be(),
        },
        sin_zero: [0; 8],
    };
    let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: a plain socket() call; the descriptor is owned by `stream` right below.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `fd` is a fresh socket nobody else owns; `stream` closes it when dropped.
    let stream = unsafe { TcpStream::from_raw_fd(fd) };
    let (from, to) = (sockaddr(SocketAddrV4::new(src, 0)), sockaddr(dst));
    // SAFETY: `fd` is live (owned by `stream`); each sockaddr_in outlives its call and `len`
    // is its exact size.
    let bound = unsafe { libc::bind(fd, std::ptr::from_ref(&from).cast(), len) };
    // SAFETY: as for bind.
    if bound != 0 || unsafe { libc::connect(fd, std::ptr::from_ref(&to).cast(), len) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(stream)
}

/// The head of a raw response (up to the blank line), lower-cased.
pub fn head_of(response: &str) -> String {
    response
        .split("\r\n\r\n")
        .next()
        .unwrap_or("")
        .to_ascii_lowercase()
}
