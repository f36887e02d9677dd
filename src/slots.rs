//! A fixed number of slots for work whose memory or upstream cost must stay bounded
//! (`agentic_search` calls, document downloads): a slot is taken with a bounded wait (or
//! none) and given back when its guard drops. `http::gate` is the same idea for every
//! request, with burst tracking on top.

use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// `max` slots shared by every caller.
pub struct Slots {
    max: usize,
    taken: Mutex<usize>,
    freed: Condvar,
}

/// A taken slot, given back when dropped.
pub struct Slot<'a>(&'a Slots);

impl Slots {
    /// `max` slots (at least one).
    pub fn new(max: usize) -> Slots {
        Slots {
            max: max.max(1),
            taken: Mutex::new(0),
            freed: Condvar::new(),
        }
    }

    /// A slot, waiting at most `wait` for one to free up; `None` when all stayed taken.
    pub fn take(&self, wait: Duration) -> Option<Slot<'_>> {
        let deadline = Instant::now() + wait;
        let mut taken = self.lock();
        while *taken >= self.max {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            taken = match self.freed.wait_timeout(taken, left) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
        *taken += 1;
        Some(Slot(self))
    }

    /// How many there are.
    pub fn max(&self) -> usize {
        self.max
    }

    fn lock(&self) -> MutexGuard<'_, usize> {
        // The count stays right across a panic elsewhere: every change is one statement.
        self.taken.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let mut taken = self.0.lock();
        *taken = taken.saturating_sub(1);
        drop(taken);
        self.0.freed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_run_out_and_come_back() {
        let s = Slots::new(2);
        let a = s.take(Duration::ZERO).expect("first");
        let _b = s.take(Duration::ZERO).expect("second");
        assert!(s.take(Duration::ZERO).is_none());
        drop(a);
        assert!(s.take(Duration::ZERO).is_some());
    }

    #[test]
    fn a_waiter_gets_the_slot_freed_while_it_waits() {
        let s = std::sync::Arc::new(Slots::new(1));
        let held = s.take(Duration::ZERO).expect("first");
        let waiter = {
            let s = s.clone();
            std::thread::spawn(move || s.take(Duration::from_secs(60)).is_some())
        };
        std::thread::sleep(Duration::from_millis(50));
        drop(held);
        assert!(waiter.join().expect("waiter"), "got the freed slot");
    }
}
