//! Socket options tiny_http does not set: read and write timeouts on the listening socket,
//! which Linux copies to every accepted socket, so a slow or silent client cannot hold a
//! connection thread forever.

use std::net::TcpListener;
use std::os::fd::AsRawFd;
use std::time::Duration;

/// Sets SO_RCVTIMEO and SO_SNDTIMEO on `listener`; failures are logged, not fatal.
#[allow(unsafe_code)]
pub fn set_timeouts(listener: &TcpListener, timeout: Duration) {
    let tv = libc::timeval {
        // `as _`: the field types differ between glibc and musl.
        tv_sec: timeout.as_secs() as _,
        tv_usec: timeout.subsec_micros() as _,
    };
    for opt in [libc::SO_RCVTIMEO, libc::SO_SNDTIMEO] {
        // SAFETY: the fd is a live socket owned by `listener` for the duration of the call;
        // `tv` is a properly initialised timeval and we pass its exact size.
        let rc = unsafe {
            libc::setsockopt(
                listener.as_raw_fd(),
                libc::SOL_SOCKET,
                opt,
                (&tv as *const libc::timeval).cast(),
                std::mem::size_of::<libc::timeval>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            log::warn!(
                "could not set socket timeout option {opt}: {}",
                std::io::Error::last_os_error()
            );
        }
    }
}
