//! How many requests are handled at once (`WORKER_THREADS`), and when a burst is over.
//!
//! Requests run on the thread that read them, their connection's (tiny_http patch 18): no
//! hand-off to a worker, so one thread per request in flight instead of two, and no queue
//! between them. What the worker pool bounded before, the gate bounds now: a request
//! beyond `max` in flight waits for a slot (its connection's thread waits; no thread is
//! started) for at most the wait the caller gives, then is refused. The server takes the
//! slot once the request's body is in, so slow bodies hold no slot. Connection threads
//! themselves are bounded by `MAX_CONNECTIONS` and exit a second after their connection.
//!
//! The gate also tells when a burst is over: once more than [`CALM`] requests were in
//! flight, and then at most [`CALM`] for [`QUIET`], [`Gate::burst_over`] says so once, and
//! the server hands the burst's memory back.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Requests in flight that do not make a burst: a few clients taking turns.
pub const CALM: usize = 2;
/// How long the load must stay calm before a burst counts as over.
pub const QUIET: Duration = Duration::from_secs(10);

/// A snapshot of the gate, for the metrics gauges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GateStats {
    /// Requests being handled.
    pub busy: usize,
    /// Slots free (`max` − busy).
    pub idle: usize,
    /// Requests waiting for a slot.
    pub queued: usize,
}

/// The gate; clones share it.
#[derive(Clone)]
pub struct Gate {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    /// Signalled when a slot frees up.
    freed: Condvar,
    max: usize,
}

#[derive(Debug)]
struct State {
    busy: usize,
    waiting: usize,
    /// More than CALM were in flight since the last burst ended.
    in_burst: bool,
    /// When the load last fell to CALM or below (None while above).
    calm_since: Option<Instant>,
}

/// A request's place in the gate, given back when dropped.
pub struct Slot {
    shared: Arc<Shared>,
}

impl Gate {
    /// A gate letting `max` (at least one) requests in at once.
    pub fn new(max: usize) -> Gate {
        Gate {
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    busy: 0,
                    waiting: 0,
                    in_burst: false,
                    calm_since: Some(Instant::now()),
                }),
                freed: Condvar::new(),
                max: max.max(1),
            }),
        }
    }

    /// A slot, waiting at most `wait` for one; None when all stayed taken.
    pub fn enter(&self, wait: Duration) -> Option<Slot> {
        let deadline = Instant::now() + wait;
        let mut st = self.shared.lock();
        if st.busy >= self.shared.max {
            st.waiting += 1;
            while st.busy >= self.shared.max {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    st.waiting -= 1;
                    return None;
                }
                st = match self.shared.freed.wait_timeout(st, left) {
                    Ok((g, _)) => g,
                    Err(p) => p.into_inner().0,
                };
            }
            st.waiting -= 1;
        }
        st.busy += 1;
        if st.busy > CALM {
            st.in_burst = true;
            st.calm_since = None;
        }
        Some(Slot {
            shared: self.shared.clone(),
        })
    }

    /// Requests busy and waiting, and slots free.
    pub fn stats(&self) -> GateStats {
        let st = self.shared.lock();
        GateStats {
            busy: st.busy,
            idle: self.shared.max.saturating_sub(st.busy),
            queued: st.waiting,
        }
    }

    /// Waits until no request is in flight, at most `timeout`; true when drained.
    pub fn wait_idle(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut st = self.shared.lock();
        while st.busy > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            st = match self.shared.freed.wait_timeout(st, left) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
        true
    }

    /// True once per burst, at the first call at `now` after the load has stayed calm for
    /// [`QUIET`].
    pub fn burst_over(&self, now: Instant) -> bool {
        let mut st = self.shared.lock();
        let quiet = st
            .calm_since
            .is_some_and(|since| now.saturating_duration_since(since) >= QUIET);
        if st.in_burst && quiet {
            st.in_burst = false;
            return true;
        }
        false
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut st = self.shared.lock();
        st.busy -= 1;
        if st.busy <= CALM && st.calm_since.is_none() {
            st.calm_since = Some(Instant::now());
        }
        drop(st);
        // One waiter takes the slot; a drain waits for busy == 0, so wake all then.
        self.shared.freed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::thread;

    #[test]
    fn lets_max_in_then_waits_for_a_slot_then_refuses() {
        let gate = Gate::new(2);
        let a = gate.enter(Duration::ZERO).expect("first");
        let _b = gate.enter(Duration::ZERO).expect("second");
        assert!(gate.enter(Duration::ZERO).is_none(), "full, no wait");
        assert!(gate.enter(Duration::from_millis(30)).is_none(), "full");
        assert_eq!(
            gate.stats(),
            GateStats {
                busy: 2,
                idle: 0,
                queued: 0
            }
        );
        // A waiter gets the slot as soon as one is given back.
        let (tx, rx) = mpsc::channel();
        let g = gate.clone();
        let waiter = thread::spawn(move || {
            let slot = g.enter(Duration::from_secs(30));
            tx.send(()).ok();
            slot.is_some()
        });
        while gate.stats().queued == 0 {
            thread::yield_now();
        }
        assert!(rx.try_recv().is_err(), "still waiting while full");
        drop(a);
        assert!(waiter.join().expect("waiter"), "got the freed slot");
        assert_eq!(gate.stats().busy, 1, "the waiter's slot went back too");
    }

    #[test]
    fn wait_idle_returns_when_the_last_request_ends() {
        let gate = Gate::new(4);
        let slot = gate.enter(Duration::ZERO).expect("slot");
        assert!(!gate.wait_idle(Duration::from_millis(20)), "one in flight");
        let t = thread::spawn(move || drop(slot));
        assert!(gate.wait_idle(Duration::from_secs(30)));
        t.join().expect("join");
    }

    #[test]
    fn a_burst_is_over_once_after_a_quiet_spell() {
        let gate = Gate::new(16);
        let start = Instant::now();
        assert!(!gate.burst_over(start + QUIET * 2), "no burst yet");
        let few: Vec<_> = (0..CALM)
            .filter_map(|_| gate.enter(Duration::ZERO))
            .collect();
        drop(few);
        assert!(
            !gate.burst_over(start + QUIET * 2),
            "CALM requests are no burst"
        );
        let many: Vec<_> = (0..8).filter_map(|_| gate.enter(Duration::ZERO)).collect();
        assert!(
            !gate.burst_over(Instant::now() + QUIET * 2),
            "still in flight"
        );
        drop(many);
        let ended = Instant::now();
        assert!(!gate.burst_over(ended), "not quiet long enough");
        assert!(gate.burst_over(ended + QUIET + Duration::from_millis(50)));
        assert!(
            !gate.burst_over(ended + QUIET * 3),
            "once per burst, not on every quiet tick"
        );
    }
}
