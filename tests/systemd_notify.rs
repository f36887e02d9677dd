//! Readiness for systemd's `Type=notify` (deployment/systemd/bedrock-mcp.service): with
//! NOTIFY_SOCKET set, the real binary sends `READY=1` once its listener answers, and
//! `STOPPING=1` when SIGTERM starts the drain, then exits 0. Both socket forms systemd uses
//! are covered: a path, and an abstract name written with a leading `@`.

use crate::support;

use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::process::Command;
use std::time::Duration;
use support::server::Server;

/// The next datagram, or a panic naming what was awaited after 20 s (a hang guard).
fn next(sock: &UnixDatagram, awaited: &str) -> String {
    sock.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut buf = [0u8; 512];
    let n = sock
        .recv(&mut buf)
        .unwrap_or_else(|e| panic!("no {awaited} datagram: {e}"));
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// Starts the server with NOTIFY_SOCKET=`name`, checks READY then STOPPING on `sock`.
fn ready_then_stopping(sock: &UnixDatagram, name: &str) {
    let mut s = Server::local(&[("NOTIFY_SOCKET", name)]);
    let ready = next(sock, "READY=1");
    assert!(ready.lines().any(|l| l == "READY=1"), "{ready:?}");
    let status = ready
        .lines()
        .find_map(|l| l.strip_prefix("STATUS="))
        .unwrap_or_default();
    assert!(
        status.contains(s.url.trim_start_matches("http://")),
        "STATUS names the bound address {}: {ready:?}",
        s.url
    );
    // Ready means serving: systemd starts dependent units (and health checks) now.
    assert_eq!(s.request("GET", "/health", &[], "").status, 200);
    let killed = Command::new("kill")
        .args(["-TERM", &s.pid().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let stopping = next(sock, "STOPPING=1");
    assert!(stopping.lines().any(|l| l == "STOPPING=1"), "{stopping:?}");
    assert_eq!(
        s.wait_exit(Duration::from_secs(30)),
        Some(0),
        "{}",
        s.logs()
    );
}

#[test]
fn a_path_notify_socket_hears_ready_and_stopping() {
    let dir = std::env::temp_dir().join(format!("bmcp-sd-notify-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("notify");
    let _ = std::fs::remove_file(&path);
    let sock = UnixDatagram::bind(&path).unwrap();
    ready_then_stopping(&sock, path.to_str().unwrap());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_abstract_notify_socket_hears_ready_and_stopping() {
    let name = format!("bmcp-sd-notify-abstract-{}", std::process::id());
    let sock =
        UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(name.as_bytes()).unwrap()).unwrap();
    ready_then_stopping(&sock, &format!("@{name}"));
}

#[test]
fn without_a_listening_manager_the_server_still_serves() {
    // systemd gone, or a stale variable: a warning, never a failed start.
    let s = Server::local(&[("NOTIFY_SOCKET", "/nonexistent-bmcp/notify")]);
    assert_eq!(s.request("GET", "/health", &[], "").status, 200);
    assert!(s.wait_for_log("could not tell systemd"), "{}", s.logs());
}
