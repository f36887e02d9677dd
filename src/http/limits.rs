//! Connection-level limits enforced inside our patched tiny_http (vendor/tiny_http/FORK.md):
//! the size of a request head, the time of a whole request and of a keep-alive wait, and the
//! number of connections being read, in total and per client address.
//!
//! Owns turning [`ServerSettings`] into `tiny_http::Limits`, and raising the open-file limit so
//! that `MAX_CONNECTIONS` can actually be reached. Must not touch sockets or requests: the
//! enforcement itself (431, 408, 503) lives in the vendored crate.

use super::ServerSettings;

/// File descriptors one connection costs in tiny_http: the socket and a duplicate for the
/// writer half.
const FDS_PER_CONNECTION: u64 = 2;
/// Descriptors for everything else: listener, log pipes, upstream HTTPS, SSE streams' spare.
const FDS_SPARE: u64 = 256;

/// Installs the limits for every connection accepted from now on, and makes the open-file
/// limit fit `MAX_CONNECTIONS` (warning when it cannot).
pub fn apply(settings: &ServerSettings) {
    tiny_http::set_limits(to_limits(settings));
    let needed = fds_needed(settings.max_connections);
    match raise_fd_limit() {
        Ok(have) if have < needed => log::warn!(
            "open-file limit is {have} but MAX_CONNECTIONS={} needs about {needed}: accepts will \
             fail with \"too many open files\" before the cap; raise `ulimit -n` (nofile) or lower \
             MAX_CONNECTIONS",
            settings.max_connections
        ),
        Ok(_) => {}
        Err(e) => log::warn!("could not read the open-file limit (RLIMIT_NOFILE): {e}"),
    }
}

/// The tiny_http view of our settings.
fn to_limits(settings: &ServerSettings) -> tiny_http::Limits {
    tiny_http::Limits {
        max_header_bytes: settings.max_header_bytes,
        request_timeout: settings.header_timeout,
        max_connections: settings.max_connections,
        max_connections_per_ip: settings.max_connections_per_ip,
        keepalive_idle: settings.keepalive_idle,
    }
}

/// Descriptors needed to hold `max_connections` connections open at once.
fn fds_needed(max_connections: usize) -> u64 {
    (max_connections as u64)
        .saturating_mul(FDS_PER_CONNECTION)
        .saturating_add(FDS_SPARE)
}

/// Raises the soft RLIMIT_NOFILE to the hard limit (as Go's runtime does) and returns the
/// soft limit now in force.
#[allow(unsafe_code)]
fn raise_fd_limit() -> std::io::Result<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable rlimit for the duration of the call.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    if lim.rlim_cur < lim.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: lim.rlim_max,
            rlim_max: lim.rlim_max,
        };
        // SAFETY: `raised` is a valid rlimit read by the call; failure leaves the limit as is.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            lim.rlim_cur = lim.rlim_max;
        }
    }
    Ok(lim.rlim_cur)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Vars;
    use std::time::Duration;

    #[test]
    fn settings_become_tiny_http_limits() {
        let vars = Vars::from_pairs([
            ("MAX_HEADER_BYTES", "4096"),
            ("HEADER_TIMEOUT_SECS", "3"),
            ("MAX_CONNECTIONS", "50"),
            ("MAX_CONNECTIONS_PER_IP", "7"),
            ("KEEPALIVE_IDLE_SECS", "9"),
        ]);
        let l = to_limits(&ServerSettings::from_vars(&vars).unwrap());
        assert_eq!(
            (l.max_header_bytes, l.request_timeout, l.max_connections),
            (4096, Duration::from_secs(3), 50)
        );
        assert_eq!(
            (l.max_connections_per_ip, l.keepalive_idle),
            (7, Duration::from_secs(9))
        );
        let d = to_limits(&ServerSettings::from_vars(&Vars::default()).unwrap());
        assert_eq!(
            (d.max_header_bytes, d.request_timeout, d.max_connections),
            (32_768, Duration::from_secs(10), 1024)
        );
    }

    #[test]
    fn fd_budget_grows_with_connections_and_never_overflows() {
        assert_eq!(fds_needed(100), 456);
        assert_eq!(fds_needed(usize::MAX), u64::MAX);
    }

    #[test]
    fn fd_limit_is_readable_and_not_lowered() {
        let before = raise_fd_limit().unwrap();
        assert!(raise_fd_limit().unwrap() >= before);
    }
}
