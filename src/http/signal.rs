//! SIGTERM and SIGINT → a flag the accept loop polls.
//!
//! In a scratch container the binary is PID 1, and the kernel ignores signals PID 1 has no
//! handler for: without this, `docker stop` waits its grace period and then SIGKILLs us.

use std::sync::atomic::{AtomicBool, Ordering};

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    // Only an atomic store: async-signal-safe.
    STOP.store(true, Ordering::SeqCst);
}

/// Installs the handlers for SIGTERM and SIGINT.
#[allow(unsafe_code)]
pub fn install() {
    for sig in [libc::SIGTERM, libc::SIGINT] {
        // SAFETY: `on_signal` is an `extern "C" fn(c_int)` that only performs an atomic store,
        // which is async-signal-safe; the sigaction struct is zero-initialised (a valid empty
        // mask and no flags) before the handler field is set, and outlives the call.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(sig, &action, std::ptr::null_mut());
        }
    }
}

/// True once a stop signal has arrived.
pub fn stop_requested() -> bool {
    STOP.load(Ordering::SeqCst)
}
