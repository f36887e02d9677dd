//! Time as a dependency: the system clock in production, a hand-moved clock in tests.
//!
//! The caches with expiries and intervals (AWS credentials, the JWKS) read time only through
//! a `Clock`, so their tests move time forward instead of sleeping, and pass the same on a
//! loaded 2-core machine as on an idle one. Owns no policy; must not sleep or do I/O.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// A source of the current time, shared by all threads.
pub trait Clock: Send + Sync {
    /// Wall-clock time, for comparing with timestamps from elsewhere (credential expiries).
    fn now(&self) -> SystemTime;
    /// Monotonic time, for intervals and back-offs that must not jump with the wall clock.
    fn instant(&self) -> Instant;
}

/// The clock as shared by a cache and whoever built it.
pub type SharedClock = Arc<dyn Clock>;

/// The operating system's clocks.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }

    fn instant(&self) -> Instant {
        Instant::now()
    }
}

/// The system clock, shared.
pub fn system() -> SharedClock {
    Arc::new(SystemClock)
}

/// A clock that stands still until `advance` moves it; for tests.
///
/// Starts at the real time of its creation, so timestamps from fakes that read the real
/// clock (e.g. a credential `Expiration` an hour ahead) compare sensibly with it.
pub struct ManualClock {
    wall: SystemTime,
    mono: Instant,
    elapsed: Mutex<Duration>,
}

impl ManualClock {
    /// A clock stopped at the current real time.
    pub fn new() -> ManualClock {
        ManualClock {
            wall: SystemTime::now(),
            mono: Instant::now(),
            elapsed: Mutex::new(Duration::ZERO),
        }
    }

    /// A clock stopped at the current real time, ready to hand to a cache.
    pub fn shared() -> Arc<ManualClock> {
        Arc::new(ManualClock::new())
    }

    /// Moves both the wall clock and the monotonic clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        *self.lock() += by;
    }

    fn elapsed(&self) -> Duration {
        *self.lock()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Duration> {
        // A Duration cannot be left half-written, so a panicking holder is harmless.
        self.elapsed.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Default for ManualClock {
    fn default() -> ManualClock {
        ManualClock::new()
    }
}

impl fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ManualClock")
            .field("elapsed", &self.elapsed())
            .finish_non_exhaustive()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        self.wall + self.elapsed()
    }

    fn instant(&self) -> Instant {
        self.mono + self.elapsed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told_and_both_clocks_together() {
        let clock = ManualClock::new();
        let (wall, mono) = (clock.now(), clock.instant());
        assert_eq!((clock.now(), clock.instant()), (wall, mono));
        clock.advance(Duration::from_secs(90));
        assert_eq!(clock.now(), wall + Duration::from_secs(90));
        assert_eq!(clock.instant(), mono + Duration::from_secs(90));
    }
}
