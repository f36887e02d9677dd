//! Readiness for systemd (`Type=notify`): the sd_notify protocol in a few lines of std code.
//!
//! Under a unit with `Type=notify`, systemd puts the path of a unix datagram socket in
//! `NOTIFY_SOCKET` (a name starting with `@` is in the abstract namespace) and waits for
//! `READY=1` before it counts the service as started; `STOPPING=1` says a stop has begun.
//! Without `NOTIFY_SOCKET` (Docker, a shell, tests) nothing is sent. Failures are logged and
//! never stop the server: a service manager that does not listen is not our problem to fix.

use std::ffi::OsStr;
use std::io;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};

/// Tells the service manager `state` (e.g. `READY=1`), if one asked (NOTIFY_SOCKET).
pub fn notify(state: &str) {
    let Some(socket) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    if let Err(e) = send(&socket, state) {
        log::warn!(
            "could not tell systemd {:?} over NOTIFY_SOCKET {}: {e}",
            state.lines().next().unwrap_or(""),
            socket.to_string_lossy()
        );
    }
}

/// Sends one datagram holding `state` to the notify socket at `socket`.
fn send(socket: &OsStr, state: &str) -> io::Result<()> {
    let sock = UnixDatagram::unbound()?;
    let addr = match socket.as_bytes() {
        [] => return Err(io::Error::new(io::ErrorKind::InvalidInput, "empty path")),
        [b'@', name @ ..] => SocketAddr::from_abstract_name(name)?,
        [b'/', ..] => SocketAddr::from_pathname(socket)?,
        _ => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "neither an absolute path nor an abstract name (@...)",
            ))
        }
    };
    let sent = sock.send_to_addr(state.as_bytes(), &addr)?;
    if sent != state.len() {
        return Err(io::Error::new(
            io::ErrorKind::WriteZero,
            "datagram cut short",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn receive(sock: &UnixDatagram) -> String {
        sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = [0u8; 256];
        let n = sock.recv(&mut buf).unwrap();
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }

    #[test]
    fn a_path_socket_receives_the_state() {
        let dir = std::env::temp_dir().join(format!("bmcp-notify-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("notify.sock");
        let _ = std::fs::remove_file(&path);
        let sock = UnixDatagram::bind(&path).unwrap();
        send(path.as_os_str(), "READY=1\nSTATUS=serving").unwrap();
        assert_eq!(receive(&sock), "READY=1\nSTATUS=serving");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_abstract_socket_is_named_with_a_leading_at() {
        let name = format!("bmcp-notify-test-{}", std::process::id());
        let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let sock = UnixDatagram::bind_addr(&addr).unwrap();
        send(OsStr::new(&format!("@{name}")), "STOPPING=1").unwrap();
        assert_eq!(receive(&sock), "STOPPING=1");
    }

    #[test]
    fn unusable_socket_names_are_errors_not_panics() {
        for bad in [
            "",
            "relative/notify.sock",
            "/nonexistent-dir-bmcp/notify.sock",
        ] {
            assert!(send(OsStr::new(bad), "READY=1").is_err(), "{bad:?}");
        }
    }
}
