//! Raw control of one accepted connection of the fake, which tiny_http does not give: find
//! the socket by its two addresses, then cut it (`shutdown`, so the client sees the stream
//! end mid-frame) or ask whether the client has gone (a peek that reads end of stream).
//! The event-stream answers need both: a cut stream must really close, and a cancelled call
//! must be seen to close its stream even while the fake is silent.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

/// One connection's socket descriptor (not owned: tiny_http closes it).
#[derive(Clone, Copy, Debug)]
pub struct Conn(i32);

fn v4(sa: &libc::sockaddr_storage) -> Option<SocketAddr> {
    if i32::from(sa.ss_family) != libc::AF_INET {
        return None;
    }
    // SAFETY: ss_family says the storage holds a sockaddr_in, and sockaddr_storage is
    // large enough and aligned for every socket address type.
    let sin = unsafe { &*(sa as *const libc::sockaddr_storage as *const libc::sockaddr_in) };
    let ip = Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr));
    Some(SocketAddr::V4(SocketAddrV4::new(
        ip,
        u16::from_be(sin.sin_port),
    )))
}

fn addr_of(fd: i32, peer: bool) -> Option<SocketAddr> {
    // SAFETY: zeroed sockaddr_storage is a valid value; len tells the kernel its size.
    let mut sa: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    let p = &mut sa as *mut libc::sockaddr_storage as *mut libc::sockaddr;
    // SAFETY: p and len describe a writable buffer of len bytes; a descriptor that is not a
    // socket only makes the call fail (ENOTSOCK/EBADF).
    let rc = unsafe {
        if peer {
            libc::getpeername(fd, p, &mut len)
        } else {
            libc::getsockname(fd, p, &mut len)
        }
    };
    (rc == 0).then(|| v4(&sa)).flatten()
}

impl Conn {
    /// The descriptor of the connection from `peer` to `local`, if this process has one.
    pub fn find(local: SocketAddr, peer: SocketAddr) -> Option<Conn> {
        let dir = std::fs::read_dir("/proc/self/fd").ok()?;
        dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
            .find(|&fd| addr_of(fd, false) == Some(local) && addr_of(fd, true) == Some(peer))
            .map(Conn)
    }

    /// Shuts the connection down both ways: the client reads end of stream at once.
    pub fn cut(self) {
        // SAFETY: shutdown on a descriptor has no memory effects; a stale one only fails.
        unsafe {
            libc::shutdown(self.0, libc::SHUT_RDWR);
        }
    }

    /// Whether the client has closed its end (a non-blocking peek reads end of stream or
    /// an error).
    pub fn client_gone(self) -> bool {
        let mut byte = [0u8; 1];
        // SAFETY: the buffer is one writable byte; MSG_PEEK leaves the data for tiny_http.
        let n = unsafe {
            libc::recv(
                self.0,
                byte.as_mut_ptr() as *mut libc::c_void,
                1,
                libc::MSG_PEEK | libc::MSG_DONTWAIT,
            )
        };
        if n == 0 {
            return true;
        }
        n < 0 && {
            let err = std::io::Error::last_os_error().raw_os_error();
            err != Some(libc::EAGAIN) && err != Some(libc::EWOULDBLOCK)
        }
    }
}
