//! The one way tests wait for something to happen: poll a condition every 20 ms until it
//! holds. The bounds are hang guards, never speed assertions (speed lives in benchmarks).

use std::time::{Duration, Instant};

/// How long `until` waits before it fails the test.
pub const GUARD: Duration = Duration::from_secs(30);

/// Polls `check` until it returns `Some`, for at most `limit`; `None` when time ran out.
pub fn within<T>(limit: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(found) = check() {
            return Some(found);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Polls `check` until it holds; fails the test naming `what` after [`GUARD`].
pub fn until(what: &str, mut check: impl FnMut() -> bool) {
    until_some(what, || check().then_some(()));
}

/// Polls `check` until it returns `Some` and returns that; fails naming `what` after [`GUARD`].
pub fn until_some<T>(what: &str, check: impl FnMut() -> Option<T>) -> T {
    within(GUARD, check).unwrap_or_else(|| panic!("timed out after {GUARD:?} waiting for {what}"))
}
