//! TCP_NODELAY on a listening socket (accepted sockets inherit it), as the server sets it, for
//! the benchmark ceilings (`bench_ceiling`, `bench_forward`).

use std::net::TcpListener;

/// Sets TCP_NODELAY on the listener.
#[allow(unsafe_code)]
pub fn set_nodelay(listener: &TcpListener) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let on: libc::c_int = 1;
    // SAFETY: the fd is a live socket owned by `listener` for the duration of the call, and
    // we pass a pointer to an initialised c_int with its exact size.
    let rc = unsafe {
        libc::setsockopt(
            listener.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_NODELAY,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}
