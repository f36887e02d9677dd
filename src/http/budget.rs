//! The process-wide budget for request bodies in memory (MAX_BODY_BYTES_IN_FLIGHT).
//!
//! Every body is read into a buffer whose capacity is first leased from here; a lease that
//! does not fit is refused (the server answers 503 with `Retry-After`), so however many
//! clients send bodies at once, bodies never hold more than the budget. Owns the counting
//! only: it never reads sockets or answers requests.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Bytes of request bodies held at once, shared by every worker.
#[derive(Debug, Clone)]
pub struct BodyBudget {
    used: Arc<AtomicUsize>,
    limit: usize,
}

/// Bytes held by one body; returned to the budget on drop.
#[derive(Debug)]
pub struct Lease {
    used: Arc<AtomicUsize>,
    limit: usize,
    held: usize,
}

impl BodyBudget {
    /// A budget of `limit` bytes.
    pub fn new(limit: usize) -> BodyBudget {
        BodyBudget {
            used: Arc::new(AtomicUsize::new(0)),
            limit,
        }
    }

    /// An empty lease, to grow as the body arrives.
    pub fn lease(&self) -> Lease {
        Lease {
            used: self.used.clone(),
            limit: self.limit,
            held: 0,
        }
    }

    /// Bytes currently leased.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::SeqCst)
    }
}

impl Lease {
    /// Grows the lease to `total` bytes; false (and unchanged) when the budget has no room.
    pub fn grow_to(&mut self, total: usize) -> bool {
        let Some(extra) = total.checked_sub(self.held).filter(|&e| e > 0) else {
            return true;
        };
        let taken = self
            .used
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |used| {
                used.checked_add(extra).filter(|&n| n <= self.limit)
            });
        if taken.is_ok() {
            self.held = total;
        }
        taken.is_ok()
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.used.fetch_sub(self.held, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leases_share_the_limit_and_give_back_on_drop() {
        let budget = BodyBudget::new(100);
        let mut a = budget.lease();
        let mut b = budget.lease();
        assert!(a.grow_to(60));
        assert!(!b.grow_to(41), "60 + 41 is over 100");
        assert!(b.grow_to(40));
        assert!(a.grow_to(50), "shrinking requests take nothing");
        assert_eq!(budget.used(), 100);
        drop(a);
        assert_eq!(budget.used(), 40);
        assert!(b.grow_to(100), "b grows into a's freed room");
        drop(b);
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn a_refused_growth_keeps_what_was_held() {
        let budget = BodyBudget::new(10);
        let mut a = budget.lease();
        assert!(a.grow_to(8));
        assert!(!a.grow_to(usize::MAX));
        assert_eq!(budget.used(), 8);
    }
}
