//! Long tool calls (agentic_search): the registry through which
//! `notifications/cancelled` reaches a running call, and the [`Control`] that turns the
//! knowledge base's progress reports into `notifications/progress` messages.
//!
//! The transport decides where notifications go (an SSE response stream, a legacy session)
//! and tells this module when the client is gone; nothing here touches sockets.

use crate::kb::agentic::Control;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// Running long calls by (scope, request id), so a cancellation finds its call. The scope
/// keeps users (and legacy sessions) apart: a notification cancels only calls of its own scope.
#[derive(Default)]
pub struct Registry {
    running: Mutex<HashMap<(String, String), Arc<AtomicBool>>>,
}

/// A call's entry in the registry, removed when dropped.
pub struct Entry<'a> {
    registry: &'a Registry,
    key: (String, String),
    /// Set when the call is cancelled.
    pub flag: Arc<AtomicBool>,
}

impl Registry {
    /// Registers a call (a second call with the same key replaces the first's entry).
    pub fn enter(&self, scope: &str, id: &Value) -> Entry<'_> {
        let key = (scope.to_string(), id.to_string());
        let flag = Arc::new(AtomicBool::new(false));
        lock(&self.running).insert(key.clone(), flag.clone());
        Entry {
            registry: self,
            key,
            flag,
        }
    }

    /// Cancels the call `id` of `scope`; false when no such call runs.
    pub fn cancel(&self, scope: &str, id: &Value) -> bool {
        let key = (scope.to_string(), id.to_string());
        match lock(&self.running).get(&key) {
            Some(flag) => {
                flag.store(true, Ordering::Release);
                true
            }
            None => false,
        }
    }
}

impl Drop for Entry<'_> {
    fn drop(&mut self) {
        let mut running = lock(&self.registry.running);
        if running
            .get(&self.key)
            .is_some_and(|f| Arc::ptr_eq(f, &self.flag))
        {
            running.remove(&self.key);
        }
    }
}

/// Where a transport sends a long call's notifications; false when the client is gone.
pub type Notify<'a> = &'a mut dyn FnMut(&str) -> bool;

/// The [`Control`] of one long call: progress notifications (when the client gave a
/// progress token) and cancellation (by notification, or the client going away).
pub struct Reporter<'a> {
    token: Option<Value>,
    sent: u64,
    notify: Notify<'a>,
    flag: Arc<AtomicBool>,
}

impl<'a> Reporter<'a> {
    /// A reporter for a call with `token` (its `_meta.progressToken`), cancelled by `flag`.
    pub fn new(token: Option<Value>, notify: Notify<'a>, flag: Arc<AtomicBool>) -> Reporter<'a> {
        Reporter {
            token,
            sent: 0,
            notify,
            flag,
        }
    }
}

impl Control for Reporter<'_> {
    fn progress(&mut self, message: &str) {
        let Some(token) = &self.token else {
            return;
        };
        self.sent += 1;
        let note = json!({
            "jsonrpc": "2.0",
            "method": "notifications/progress",
            "params": { "progressToken": token, "progress": self.sent, "message": message },
        });
        if !(self.notify)(&note.to_string()) {
            // The stream is closed: on Streamable HTTP that is the cancellation signal.
            self.flag.store(true, Ordering::Release);
        }
    }

    fn cancelled(&self) -> bool {
        self.flag.load(Ordering::Acquire)
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancellation_reaches_only_its_own_scope_and_id() {
        let r = Registry::default();
        let e = r.enter("user-a", &json!(7));
        assert!(!r.cancel("user-b", &json!(7)), "another user's call");
        assert!(
            !r.cancel("user-a", &json!("7")),
            "another id (string, not number)"
        );
        assert!(!e.flag.load(Ordering::Acquire));
        assert!(r.cancel("user-a", &json!(7)));
        assert!(e.flag.load(Ordering::Acquire));
        drop(e);
        assert!(!r.cancel("user-a", &json!(7)), "gone once finished");
    }

    #[test]
    fn progress_goes_out_with_the_token_and_a_closed_stream_cancels() {
        let mut seen = Vec::new();
        let flag = Arc::new(AtomicBool::new(false));
        {
            let mut notify = |s: &str| {
                seen.push(s.to_string());
                seen.len() < 2
            };
            let mut r = Reporter::new(Some(json!("tok")), &mut notify, flag.clone());
            r.progress("Planning");
            assert!(!r.cancelled());
            r.progress("Retrieval");
            assert!(r.cancelled(), "the second send failed");
        }
        let first: Value = serde_json::from_str(&seen[0]).unwrap();
        assert_eq!(first["method"], "notifications/progress");
        assert_eq!(first["params"]["progressToken"], "tok");
        assert_eq!(first["params"]["progress"], 1);
        let mut none = |_: &str| -> bool { panic!("no token, no notification") };
        let mut r = Reporter::new(None, &mut none, Arc::new(AtomicBool::new(false)));
        r.progress("quiet");
    }
}
