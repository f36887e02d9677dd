//! The process-wide budget for request bodies in memory (MAX_BODY_BYTES_IN_FLIGHT).
//!
//! Every body is read into a buffer whose capacity is first leased from here, and before it
//! is parsed the lease grows by what parsing may cost ([`parse_cost`]: a 1 MiB `[0,0,…]`
//! becomes 17 MiB of `serde_json::Value`); a lease that does not fit is refused (the server
//! answers 503 with `Retry-After`, or 413 when it could never fit), so however many clients
//! send bodies at once, bodies never hold much more than the budget. Owns the counting only:
//! it never reads sockets or answers requests.

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

    /// The budget's size.
    pub fn limit(&self) -> usize {
        self.limit
    }
}

/// Memory one parsed JSON value may take beyond its text: a `Value` is 32 bytes; with an
/// array's spare capacity, a map entry's share of its tree node and its key, or a string's
/// allocation, up to about three times that.
const PER_VALUE: usize = 96;

/// An upper bound on the memory `serde_json` may need to parse `body` into a `Value`: the
/// text itself (strings are copied) plus `PER_VALUE` for each value, counted as the `[`,
/// `{`, `,` and `:` outside strings (a value is only ever begun after one of them, or first).
pub fn parse_cost(body: &[u8]) -> usize {
    let (mut values, mut in_string, mut escaped) = (1usize, false, false);
    for &b in body {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
        } else {
            match b {
                b'"' => in_string = true,
                b'[' | b'{' | b',' | b':' => values += 1,
                _ => {}
            }
        }
    }
    body.len().saturating_add(values.saturating_mul(PER_VALUE))
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
    fn parse_cost_counts_values_outside_strings() {
        assert_eq!(parse_cost(b"0"), 1 + PER_VALUE);
        assert_eq!(parse_cost(b"[0,0,0]"), 7 + 4 * PER_VALUE);
        assert_eq!(parse_cost(br#"{"a":[1]}"#), 9 + 4 * PER_VALUE);
        // Brackets, commas and escaped quotes inside strings are text, not values.
        assert_eq!(parse_cost(br#"["[,{:\",]"]"#), 12 + 2 * PER_VALUE);
        assert_eq!(
            parse_cost(br#"["\\",0]"#),
            8 + 3 * PER_VALUE,
            "escaped backslash"
        );
        let wide = [b"[".as_slice(), &b"0,".repeat(1000), b"0]"].concat();
        assert_eq!(parse_cost(&wide), wide.len() + 1002 * PER_VALUE);
    }

    #[test]
    fn parse_cost_bounds_what_serde_json_allocates() {
        // Each value below costs serde_json at least its 32-byte `Value`: the estimate must
        // never be below that, or the budget would undercount.
        for body in [
            &b"[0,0,0,0]"[..],
            br#"{"a":"x","b":[{}]}"#,
            br#"[[],[],{"k":null}]"#,
        ] {
            let v: serde_json::Value = serde_json::from_slice(body).unwrap();
            fn count(v: &serde_json::Value) -> usize {
                1 + match v {
                    serde_json::Value::Array(a) => a.iter().map(count).sum(),
                    serde_json::Value::Object(o) => o.values().map(count).sum(),
                    _ => 0,
                }
            }
            assert!(parse_cost(body) >= body.len() + count(&v) * 32, "{body:?}");
        }
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
