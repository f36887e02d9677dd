//! Memory allocation policy: which allocator each build uses, and handing freed memory back
//! to the kernel after a burst.
//!
//! The static musl binary (what the scratch image ships) uses mimalloc: musl's own malloc
//! serialises threads on one lock and cost about three times the CPU per tool call of the
//! glibc build under load (ripgrep ships jemalloc in its musl builds for the same reason).
//! The glibc build keeps glibc's allocator: since tool calls stopped building JSON trees it
//! costs no more CPU per call than mimalloc, and with 256 slow calls in flight (a thread
//! each) it peaked at 44 MiB against mimalloc's 80 (mimalloc keeps pages per thread).
//! Neither returns a burst's memory by itself while the server is idle (glibc keeps what
//! exited threads freed in its arenas, mimalloc purges lazily, on later allocations):
//! [`release_free_memory`] does, once a burst is over, after letting go of what others keep
//! for reuse ([`on_release`]: pooled upstream connections and their buffers).
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

#[cfg(target_env = "musl")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Runs the release hooks, then returns free heap pages to the kernel.
pub fn release_free_memory() {
    HOOKS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .retain(|hook| hook());
    #[cfg(target_env = "musl")]
    #[allow(unsafe_code)]
    // SAFETY: mi_collect takes no pointer from us; mimalloc synchronises with other threads
    // itself, and `force` only makes it purge pages it would otherwise purge later.
    unsafe {
        libmimalloc_sys::mi_collect(true);
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[allow(unsafe_code)]
    // SAFETY: malloc_trim takes no pointer from us; glibc walks its own arenas under their
    // locks, so any thread may call it at any time. Its result (whether memory was released)
    // needs no handling.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Caps glibc's malloc arenas at two per core (glibc's default is eight per core), unless
/// `MALLOC_ARENA_MAX` or `GLIBC_TUNABLES` already says otherwise. Every request runs on its
/// connection's thread, so a burst spreads allocations over all the arenas glibc allows,
/// and each kept about 1 MiB after [`release_free_memory`]: 16 arenas on 2 cores held the
/// RSS at ~21 MiB a minute after a burst of 256 slow calls, 4 at ~15 MiB, with no CPU cost
/// we could measure at 16 or 64 connections (2 arenas: ~11 MiB, but 20-40% more CPU).
pub fn limit_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let set = |name: &str| std::env::var(name).ok();
        if let Some(arenas) = arena_limit(cores, set("MALLOC_ARENA_MAX"), set("GLIBC_TUNABLES")) {
            #[allow(unsafe_code)]
            // SAFETY: mallopt takes two integers and no pointer; glibc applies it under its own
            // lock, and it only bounds how many arenas threads created later may use.
            unsafe {
                libc::mallopt(libc::M_ARENA_MAX, arenas);
            }
        }
    }
}

/// The arena cap for `cores`, or None when the environment sets one itself.
#[cfg_attr(not(all(target_os = "linux", target_env = "gnu")), allow(dead_code))]
fn arena_limit(cores: usize, env_max: Option<String>, tunables: Option<String>) -> Option<i32> {
    let tuned = tunables.is_some_and(|t| t.contains("glibc.malloc.arena_max"));
    if env_max.is_some() || tuned {
        return None;
    }
    Some(
        i32::try_from(cores.saturating_mul(2))
            .unwrap_or(i32::MAX)
            .max(2),
    )
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[test]
    fn arenas_are_two_per_core_unless_the_environment_says() {
        use super::arena_limit;
        assert_eq!(arena_limit(2, None, None), Some(4));
        assert_eq!(arena_limit(1, None, None), Some(2));
        assert_eq!(
            arena_limit(16, None, Some("glibc.malloc.tcache_count=8".into())),
            Some(32)
        );
        assert_eq!(arena_limit(2, Some("8".into()), None), None);
        assert_eq!(
            arena_limit(2, None, Some("glibc.malloc.arena_max=1".into())),
            None
        );
    }

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
