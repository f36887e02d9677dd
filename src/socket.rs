//! Socket options tiny_http does not set, applied to the listening socket because Linux
//! copies them to every accepted socket: read and write timeouts, so a slow or silent client
//! cannot hold a connection thread forever, and TCP_NODELAY, so a response is not held back.

use std::net::TcpListener;
use std::os::fd::AsRawFd;
use std::time::Duration;

/// Sets SO_RCVTIMEO and SO_SNDTIMEO on `listener`; failures are logged, not fatal.
pub fn set_timeouts(listener: &TcpListener, timeout: Duration) {
    let tv = libc::timeval {
        // `as _`: the field types differ between glibc and musl.
        tv_sec: timeout.as_secs() as _,
        tv_usec: timeout.subsec_micros() as _,
    };
    for (opt, name) in [
        (libc::SO_RCVTIMEO, "SO_RCVTIMEO"),
        (libc::SO_SNDTIMEO, "SO_SNDTIMEO"),
    ] {
        set(listener, libc::SOL_SOCKET, opt, name, &tv);
    }
}

/// Sets TCP_NODELAY on `listener`; failures are logged, not fatal.
///
/// tiny_http writes a response's head and body as separate writes (its buffer is 1 KiB).
/// With Nagle's algorithm on, the second write of a kept-alive response waits for the
/// client's delayed ACK of the first: about 40 ms per request on Linux.
pub fn set_nodelay(listener: &TcpListener) {
    let on: libc::c_int = 1;
    set(
        listener,
        libc::IPPROTO_TCP,
        libc::TCP_NODELAY,
        "TCP_NODELAY",
        &on,
    );
}

/// One `setsockopt` call with a plain value; a failure is logged.
#[allow(unsafe_code)]
fn set<T>(listener: &TcpListener, level: libc::c_int, opt: libc::c_int, name: &str, value: &T) {
    // SAFETY: the fd is a live socket owned by `listener` for the duration of the call;
    // `value` is an initialised `T` (a plain C struct or int) and we pass its exact size.
    let rc = unsafe {
        libc::setsockopt(
            listener.as_raw_fd(),
            level,
            opt,
            (value as *const T).cast(),
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        log::warn!(
            "could not set socket option {name}: {}",
            std::io::Error::last_os_error()
        );
    }
}
