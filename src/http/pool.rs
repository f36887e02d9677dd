//! An elastic worker pool: threads are started on demand up to a maximum and exit after a
//! while idle, so an idle server stays tiny while a burst of slow Bedrock calls (hundreds of
//! milliseconds each) can still run hundreds at once.
//!
//! A job that has answered its client calls [`finishing`]: from then on its thread counts as
//! available, so the client's next request is queued for it instead of starting a thread.
//! Without that, on busy cores a thread that has answered but not yet been scheduled back
//! looks busy, every new request starts another thread, and the extra threads make the
//! scheduling delays longer still (hundreds of threads at 64 connections). For the same
//! reason a thread just spawned counts as available before it first runs.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

/// A unit of work.
pub type Job = Box<dyn FnOnce() + Send + 'static>;

/// Threads kept even when idle.
const MIN_IDLE_THREADS: usize = 2;
/// How long a surplus thread waits for work before exiting.
const IDLE_EXIT: Duration = Duration::from_secs(30);
/// Worker stack. Only touched pages cost memory (a handler touches about 45 KiB), but glibc
/// keeps up to 40 MiB of exited threads' stacks for reuse, each with its top pages still
/// resident: with 256 KiB stacks that cache held 160 stacks (~4 MiB) after a burst, with
/// the 2 MiB default it holds 20.
const STACK_SIZE: usize = 2 * 1024 * 1024;

/// A snapshot of the pool's occupancy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    /// Threads running a job.
    pub busy: usize,
    /// Threads waiting for one.
    pub idle: usize,
    /// Jobs waiting for a thread.
    pub queued: usize,
}

/// The pool handle; clones share the pool.
#[derive(Clone)]
pub struct Pool {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    work: Condvar,
    idle_cv: Condvar,
    max: usize,
    /// Threads whose job has called [`finishing`] and not yet returned.
    finishing: AtomicUsize,
}

thread_local! {
    /// The pool this thread works for (none outside a pool).
    static CURRENT: RefCell<Option<Arc<Shared>>> = const { RefCell::new(None) };
    /// Whether the running job has called [`finishing`].
    static FINISHING: Cell<bool> = const { Cell::new(false) };
}

/// Tells the pool that the job running on this thread has answered its client and only has
/// bookkeeping left, so its thread may be given the next job. No-op outside a pool thread.
pub fn finishing() {
    if FINISHING.replace(true) {
        return;
    }
    CURRENT.with(|c| {
        if let Some(shared) = &*c.borrow() {
            shared.finishing.fetch_add(1, Relaxed);
        }
    });
}

#[derive(Default)]
struct State {
    jobs: VecDeque<Job>,
    threads: usize,
    idle: usize,
    running: usize,
    /// Threads spawned that have not taken the lock yet: each will take a queued job.
    starting: usize,
}

impl Pool {
    /// A pool of at most `max` threads.
    pub fn new(max: usize) -> Pool {
        Pool {
            shared: Arc::new(Shared {
                state: Mutex::new(State::default()),
                work: Condvar::new(),
                idle_cv: Condvar::new(),
                max: max.max(1),
                finishing: AtomicUsize::new(0),
            }),
        }
    }

    /// Queues a job; gives it back when every thread is busy and the queue is full.
    pub fn execute(&self, job: Job) -> Result<(), Job> {
        let mut st = self.shared.lock();
        let available = st.idle + st.starting + self.shared.finishing.load(Relaxed);
        let spare = available.saturating_sub(st.jobs.len());
        if spare == 0 && st.threads >= self.shared.max && st.jobs.len() >= self.shared.max {
            return Err(job);
        }
        st.jobs.push_back(job);
        if spare == 0 && st.threads < self.shared.max {
            let shared = self.shared.clone();
            let spawned = thread::Builder::new()
                .name("worker".into())
                .stack_size(STACK_SIZE)
                .spawn(move || worker(shared));
            if spawned.is_ok() {
                st.threads += 1;
                st.starting += 1;
            }
        }
        drop(st);
        self.shared.work.notify_one();
        Ok(())
    }

    /// True when a new job would be refused (every thread busy and the queue full).
    pub fn saturated(&self) -> bool {
        let st = self.shared.lock();
        st.idle <= st.jobs.len()
            && st.threads >= self.shared.max
            && st.jobs.len() >= self.shared.max
    }

    /// Jobs queued or running.
    pub fn in_flight(&self) -> usize {
        let st = self.shared.lock();
        st.jobs.len() + st.running
    }

    /// Live worker threads.
    pub fn threads(&self) -> usize {
        self.shared.lock().threads
    }

    /// Threads busy and idle, and jobs waiting, for the metrics gauges.
    pub fn stats(&self) -> PoolStats {
        let st = self.shared.lock();
        // A thread that has answered and is only finishing up counts as idle.
        let finishing = self.shared.finishing.load(Relaxed).min(st.running);
        PoolStats {
            busy: st.running - finishing,
            idle: st.idle + finishing,
            queued: st.jobs.len(),
        }
    }

    /// Waits until no job is queued or running, at most `timeout`; true when drained.
    pub fn wait_idle(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut st = self.shared.lock();
        while st.running > 0 || !st.jobs.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            st = match self.shared.idle_cv.wait_timeout(st, left) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
        true
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn worker(shared: Arc<Shared>) {
    CURRENT.with(|c| *c.borrow_mut() = Some(shared.clone()));
    let mut st = shared.lock();
    st.starting -= 1;
    loop {
        if let Some(job) = st.jobs.pop_front() {
            st.running += 1;
            drop(st);
            // Callers catch their own panics to answer 500; this keeps the thread alive anyway.
            let _ = catch_unwind(AssertUnwindSafe(job));
            st = shared.lock();
            if FINISHING.replace(false) {
                shared.finishing.fetch_sub(1, Relaxed);
            }
            st.running -= 1;
            if st.running == 0 && st.jobs.is_empty() {
                shared.idle_cv.notify_all();
            }
            continue;
        }
        st.idle += 1;
        let (guard, timeout) = match shared.work.wait_timeout(st, IDLE_EXIT) {
            Ok((g, t)) => (g, t.timed_out()),
            Err(p) => {
                let (g, t) = p.into_inner();
                (g, t.timed_out())
            }
        };
        st = guard;
        st.idle -= 1;
        if timeout && st.jobs.is_empty() && st.threads > MIN_IDLE_THREADS {
            st.threads -= 1;
            let shrunk = st.threads == MIN_IDLE_THREADS;
            drop(st);
            CURRENT.with(|c| c.borrow_mut().take());
            if shrunk {
                // The burst that grew the pool is over: give its memory back.
                crate::alloc::release_free_memory();
            }
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Barrier;

    #[test]
    fn runs_many_blocking_jobs_at_once_up_to_the_maximum() {
        let pool = Pool::new(64);
        let barrier = Arc::new(Barrier::new(65));
        for _ in 0..64 {
            let b = barrier.clone();
            pool.execute(Box::new(move || {
                b.wait();
            }))
            .ok()
            .unwrap();
        }
        // All 64 must be running at the same time for the barrier to open.
        barrier.wait();
        assert!(pool.wait_idle(Duration::from_secs(10)));
        assert_eq!(pool.in_flight(), 0);
        assert!(pool.threads() <= 64);
    }

    /// 16 clients, each sending its next job as soon as the previous one answered (as 16
    /// kept-alive connections do), while the answering thread still has work left after
    /// the answer (`tail`). Returns the pool's peak thread count.
    fn steady_load(mark_finishing: bool, tail: Duration) -> usize {
        let pool = Pool::new(512);
        let peak = Arc::new(AtomicUsize::new(0));
        let clients: Vec<_> = (0..16)
            .map(|_| {
                let pool = pool.clone();
                let peak = peak.clone();
                thread::spawn(move || {
                    for _ in 0..50 {
                        let (tx, rx) = std::sync::mpsc::channel();
                        pool.execute(Box::new(move || {
                            if mark_finishing {
                                finishing();
                            }
                            tx.send(()).unwrap();
                            thread::sleep(tail);
                        }))
                        .ok()
                        .unwrap();
                        rx.recv().unwrap();
                        peak.fetch_max(pool.threads(), Ordering::SeqCst);
                    }
                })
            })
            .collect();
        for c in clients {
            c.join().unwrap();
        }
        assert!(pool.wait_idle(Duration::from_secs(10)));
        peak.load(Ordering::SeqCst)
    }

    #[test]
    fn steady_concurrent_load_does_not_grow_the_pool() {
        // A thread that has answered counts as available: the next job waits for it rather
        // than starting a thread, so 16 clients keep 16 threads however slow the tail.
        let peak = steady_load(true, Duration::from_millis(2));
        assert!(peak <= 16, "{peak} threads for 16 clients");
        // Without the mark every answer still in its tail starts another thread.
        let unmarked = steady_load(false, Duration::from_millis(2));
        assert!(
            unmarked > 16,
            "{unmarked} threads: the test no longer shows the effect"
        );
    }

    #[test]
    fn rejects_when_saturated_and_survives_panics() {
        let pool = Pool::new(1);
        let gate = Arc::new((Mutex::new(false), Condvar::new()));
        let g = gate.clone();
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        pool.execute(Box::new(move || {
            started_tx.send(()).unwrap();
            let (m, cv) = &*g;
            let mut open = m.lock().unwrap();
            while !*open {
                open = cv.wait(open).unwrap();
            }
        }))
        .ok()
        .unwrap();
        started_rx.recv().unwrap();
        // One queued job fits (queue = max), the next is refused.
        assert!(pool.execute(Box::new(|| panic!("boom"))).is_ok());
        assert!(pool.execute(Box::new(|| {})).is_err());
        *gate.0.lock().unwrap() = true;
        gate.1.notify_all();
        assert!(pool.wait_idle(Duration::from_secs(10)));
        let ran = Arc::new(AtomicUsize::new(0));
        let r = ran.clone();
        pool.execute(Box::new(move || {
            r.fetch_add(1, Ordering::SeqCst);
        }))
        .ok()
        .unwrap();
        assert!(pool.wait_idle(Duration::from_secs(10)));
        assert_eq!(
            ran.load(Ordering::SeqCst),
            1,
            "the pool still works after a panic"
        );
    }
}
