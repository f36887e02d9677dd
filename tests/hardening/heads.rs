//! Size and shape: a request head over MAX_HEADER_BYTES gets 431 without being buffered;
//! malformed request lines and header bytes get 400/505 or a close, never a hang or crash.

use super::raw::*;
use crate::support::server::Server;
use crate::support::wait::until;
use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

#[test]
fn ten_mib_of_headers_get_431_without_buffering_them() {
    let s = Server::local(&[]);
    assert_healthy(&s);
    let peak_before = proc_status(s.pid(), "VmHWM:");
    for one_line in [true, false] {
        let mut stream = TcpStream::connect(addr(&s)).unwrap();
        stream
            .set_write_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut writer = stream.try_clone().unwrap();
        let sender = std::thread::spawn(move || {
            let _ = writer.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ");
            let chunk = if one_line {
                vec![b'a'; 64 * 1024]
            } else {
                b"X-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n".repeat(1024)
            };
            let mut sent = 0;
            while sent < 10 << 20 && writer.write_all(&chunk).is_ok() {
                sent += chunk.len();
            }
            sent
        });
        let response = read_all(&mut stream, Duration::from_secs(15));
        let sent = sender.join().unwrap();
        assert!(
            status(&response) == Some(431) || response.is_empty(),
            "one_line={one_line}: {response:?}"
        );
        assert!(
            sent < 10 << 20,
            "the server kept reading: it took all {sent} bytes"
        );
        eprintln!(
            "one_line={one_line}: answered {:?} after {sent} bytes",
            status(&response)
        );
    }
    let grown_kb = proc_status(s.pid(), "VmHWM:").saturating_sub(peak_before);
    assert!(grown_kb < 4096, "peak RSS grew by {grown_kb} kB");
    assert_healthy(&s);
    assert_tool_call_works(&s);
}

#[test]
fn odd_header_bytes_are_refused_or_closed_and_header_counts_meet_the_byte_limit() {
    let s = Server::local(&[("MAX_HEADER_BYTES", "65536")]);
    for value in [&b"caf\xc3\xa9"[..], b"\xff\xfe\xfd", b"\x80"] {
        let mut req = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Name: ".to_vec();
        req.extend_from_slice(value);
        req.extend_from_slice(b"\r\nConnection: close\r\n\r\n");
        let response = raw(&s, &req);
        assert!(
            matches!(status(&response), Some(200 | 400)) || response.is_empty(),
            "{value:?} -> {response:?}"
        );
        assert_healthy(&s);
    }
    let head = |n: usize| {
        let mut req = String::from("GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n");
        for i in 0..n {
            // 60 bytes each, CRLF included.
            req.push_str(&format!("X-Pad-{i:05}: {}\r\n", "a".repeat(45)));
        }
        req.push_str("\r\n");
        req
    };
    assert_eq!(head(1).len() - head(0).len(), 60);
    let fits = raw(&s, head(1000).as_bytes());
    assert_eq!(
        status(&fits),
        Some(200),
        "60 kB of headers fit in 64 KiB: {fits:.200}"
    );
    let over = raw(&s, head(2000).as_bytes());
    assert_eq!(status(&over), Some(431), "120 kB of headers: {over:.200}");
    assert!(over.contains("Connection: close"), "{over}");
    assert_healthy(&s);
}

#[test]
fn garbage_request_lines_get_400_505_or_a_close_and_never_a_crash_or_a_hung_thread() {
    let mut s = Server::local(&[]);
    assert_healthy(&s);
    let fds = || {
        std::fs::read_dir(format!("/proc/{}/fd", s.pid()))
            .unwrap()
            .count()
    };
    let before = fds();
    let cases: [&[u8]; 5] = [
        b"\x00\x01 garbage\r\n\r\n",
        b"GET\r\n\r\n",
        b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        b"GET / HTTP/9.9\r\n\r\n",
        b"\r\n\r\n\r\n",
    ];
    for bytes in cases {
        let shown = String::from_utf8_lossy(bytes);
        // Upstream answered HTTP/2 on a writer that waited for itself: no answer, no close.
        let response = raw_until_close(&s, bytes)
            .unwrap_or_else(|| panic!("{shown:?}: the connection was never closed"));
        assert!(
            matches!(status(&response), Some(400 | 505)) || response.is_empty(),
            "{shown:?} -> {response:?}"
        );
        assert_healthy(&s);
    }
    until(
        "every connection's descriptor to close (a leak if not)",
        || fds() <= before,
    );
    assert_eq!(
        s.wait_exit(Duration::from_millis(10)),
        None,
        "the server is still running"
    );
}
