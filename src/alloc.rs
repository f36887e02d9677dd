//! Memory allocation policy: which allocator we use, and handing freed memory back to the
//! kernel after a burst.
//!
//! Every build uses mimalloc. musl's own malloc serialises threads on one lock and cost the
//! static binary (what the scratch image ships) about three times the CPU per tool call of
//! the glibc build under load (ripgrep ships jemalloc in its musl builds for the same
//! reason); glibc's malloc, free and their consolidation took about a quarter of the glibc
//! build's CPU per call (perf, 2026-11-30), and mimalloc cut its CPU per call by a third.
//! Arenas are not committed eagerly (`.cargo/config.toml`), or each thread would keep about
//! a MiB resident. mimalloc does not return a burst's memory by itself while the server is
//! idle (it purges lazily, on later allocations): [`release_free_memory`] does, once a burst
//! is over, after letting go of what others keep for reuse ([`on_release`]: pooled upstream
//! connections and their buffers).
//!
//! Must not allocate behind the allocator's back or keep its own caches.

use std::sync::Mutex;

/// Lets go of memory kept for reuse; false once its owner is gone (it is then forgotten).
pub type ReleaseHook = Box<dyn Fn() -> bool + Send + Sync>;

static HOOKS: Mutex<Vec<ReleaseHook>> = Mutex::new(Vec::new());

/// Registers `hook` to run when a burst is over, before free memory goes back to the kernel.
pub fn on_release(hook: ReleaseHook) {
    HOOKS.lock().unwrap_or_else(|p| p.into_inner()).push(hook);
}

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Runs the release hooks, then returns free heap pages to the kernel.
pub fn release_free_memory() {
    HOOKS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .retain(|hook| hook());
    #[allow(unsafe_code)]
    // SAFETY: mi_collect takes no pointer from us; mimalloc synchronises with other threads
    // itself, and `force` only makes it purge pages it would otherwise purge later.
    unsafe {
        libmimalloc_sys::mi_collect(true);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[test]
    fn hooks_run_on_release_and_are_forgotten_once_their_owner_is_gone() {
        let owner = Arc::new(AtomicUsize::new(0));
        let weak = Arc::downgrade(&owner);
        let asked = Arc::new(AtomicUsize::new(0));
        let counter = asked.clone();
        super::on_release(Box::new(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            match weak.upgrade() {
                Some(released) => {
                    released.fetch_add(1, Ordering::SeqCst);
                    true
                }
                None => false,
            }
        }));
        super::release_free_memory();
        super::release_free_memory();
        assert_eq!(owner.load(Ordering::SeqCst), 2);
        drop(owner);
        super::release_free_memory();
        super::release_free_memory();
        assert_eq!(
            asked.load(Ordering::SeqCst),
            3,
            "asked once more, then forgotten"
        );
    }

    #[test]
    fn releasing_free_memory_leaves_live_allocations_intact() {
        let keep: Vec<Vec<u8>> = (0..64).map(|i| vec![i as u8; 64 * 1024]).collect();
        let freed: Vec<Vec<u8>> = (0..64).map(|_| vec![7u8; 64 * 1024]).collect();
        drop(freed);
        super::release_free_memory();
        for (i, block) in keep.iter().enumerate() {
            assert!(block.iter().all(|&b| b == i as u8));
        }
    }
}
