//! The legacy HTTP+SSE transport (2024-11-05): `GET /sse` opens a stream whose first event
//! names the POST endpoint; `POST /messages?session_id=…` answers 202 and the JSON-RPC
//! response travels on the stream.
//!
//! Streams hold no thread: the hub keeps each socket writer behind a mutex, POST handlers
//! write responses into it, and one keep-alive thread writes a comment to every stream on a
//! timer (load balancers cut idle connections at 60 s). A failed write drops the session.
//! Sessions live in this process only, so this transport needs sticky load balancing.

use crate::mcp::protocol::Version;
use std::collections::HashMap;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

type Writer = Box<dyn Write + Send>;

/// One open stream.
pub struct Session {
    writer: Mutex<Option<Writer>>,
    version: Mutex<Version>,
    /// The authenticated user who opened it, when auth is on.
    pub owner: Option<String>,
}

impl Session {
    /// The revision this session negotiated (2024-11-05 until an initialize says otherwise).
    pub fn version(&self) -> Version {
        *lock(&self.version)
    }

    /// Records the revision an initialize agreed.
    pub fn set_version(&self, v: Version) {
        *lock(&self.version) = v;
    }

    /// Sends one SSE event; false when the client is gone.
    pub fn send(&self, event: &str, data: &str) -> bool {
        let mut frame = String::with_capacity(data.len() + event.len() + 16);
        frame.push_str("event: ");
        frame.push_str(event);
        // SSE data may not contain raw newlines; JSON we produce never does, but be safe.
        for line in data.split('\n') {
            frame.push_str("\ndata: ");
            frame.push_str(line);
        }
        frame.push_str("\n\n");
        self.write_raw(frame.as_bytes())
    }

    fn write_raw(&self, bytes: &[u8]) -> bool {
        let mut guard = lock(&self.writer);
        let Some(w) = guard.as_mut() else {
            return false;
        };
        let ok = w.write_all(bytes).and_then(|()| w.flush()).is_ok();
        if !ok {
            *guard = None;
        }
        ok
    }

    fn close(&self) {
        lock(&self.writer).take();
    }
}

/// All open legacy streams of this process.
pub struct Hub {
    sessions: Mutex<HashMap<String, Arc<Session>>>,
    max: usize,
    stop: AtomicBool,
    wake: Condvar,
    wake_lock: Mutex<()>,
}

/// Why a stream could not be opened.
#[derive(Debug, PartialEq, Eq)]
pub enum SseError {
    /// MAX_SSE_SESSIONS streams are already open.
    Full(usize),
    /// The server is shutting down.
    Closing,
}

impl std::fmt::Display for SseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SseError::Full(n) => write!(
                f,
                "too many open SSE sessions ({n}); retry later or use the /mcp endpoint"
            ),
            SseError::Closing => f.write_str("the server is shutting down; reconnect in a moment"),
        }
    }
}

impl Hub {
    /// A hub that allows at most `max` streams.
    pub fn new(max: usize) -> Hub {
        Hub {
            sessions: Mutex::new(HashMap::new()),
            max,
            stop: AtomicBool::new(false),
            wake: Condvar::new(),
            wake_lock: Mutex::new(()),
        }
    }

    /// Whether a new stream may be opened now.
    pub fn admit(&self) -> Result<(), SseError> {
        if self.stop.load(Ordering::Acquire) {
            return Err(SseError::Closing);
        }
        if lock(&self.sessions).len() >= self.max {
            return Err(SseError::Full(self.max));
        }
        Ok(())
    }

    /// Registers a stream whose HTTP head is already written, and sends the `endpoint` event.
    pub fn open(&self, id: String, owner: Option<String>, writer: Writer, endpoint: &str) -> bool {
        let session = Arc::new(Session {
            writer: Mutex::new(Some(writer)),
            version: Mutex::new(Version::V2024_11_05),
            owner,
        });
        // Register before announcing: a fast client may POST the moment it sees the endpoint.
        lock(&self.sessions).insert(id.clone(), session.clone());
        if !session.send("endpoint", endpoint) {
            self.remove(&id);
            return false;
        }
        true
    }

    /// The session with this id, if open.
    pub fn get(&self, id: &str) -> Option<Arc<Session>> {
        lock(&self.sessions).get(id).cloned()
    }

    /// Forgets a session whose client went away.
    pub fn remove(&self, id: &str) {
        if let Some(s) = lock(&self.sessions).remove(id) {
            s.close();
        }
    }

    /// Number of open streams.
    pub fn len(&self) -> usize {
        lock(&self.sessions).len()
    }

    /// True when no stream is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Writes a keep-alive comment to every stream and drops the dead ones.
    pub fn ping_all(&self) {
        let all: Vec<(String, Arc<Session>)> = lock(&self.sessions)
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for (id, session) in all {
            if !session.write_raw(b": keep-alive\n\n") {
                self.remove(&id);
            }
        }
    }

    /// Runs keep-alives every `period` until [`Hub::close_all`].
    pub fn keepalive_loop(&self, period: Duration) {
        let mut guard = lock(&self.wake_lock);
        while !self.stop.load(Ordering::Acquire) {
            guard = match self.wake.wait_timeout(guard, period) {
                Ok((g, _)) => g,
                Err(poisoned) => poisoned.into_inner().0,
            };
            if !self.stop.load(Ordering::Acquire) {
                drop(guard);
                self.ping_all();
                guard = lock(&self.wake_lock);
            }
        }
    }

    /// Closes every stream (shutdown) and stops the keep-alive loop.
    pub fn close_all(&self) {
        self.stop.store(true, Ordering::Release);
        self.wake.notify_all();
        let all: Vec<Arc<Session>> = lock(&self.sessions).drain().map(|(_, v)| v).collect();
        for s in all {
            s.close();
        }
    }
}

/// Locks a mutex, recovering from poisoning: a panicked request must not wedge the hub.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer that records bytes and can be told to fail.
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>, Arc<AtomicBool>);

    impl Write for Sink {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            if self.1.load(Ordering::SeqCst) {
                return Err(std::io::ErrorKind::BrokenPipe.into());
            }
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn endpoint_event_messages_keepalives_and_dead_clients() {
        let hub = Hub::new(2);
        let sink = Sink::default();
        assert!(hub.open(
            "a".into(),
            None,
            Box::new(sink.clone()),
            "/messages?session_id=a"
        ));
        let s = hub.get("a").unwrap();
        assert!(s.send("message", "{\"x\":1}"));
        hub.ping_all();
        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        assert_eq!(
            text,
            "event: endpoint\ndata: /messages?session_id=a\n\nevent: message\ndata: {\"x\":1}\n\n: keep-alive\n\n"
        );
        sink.1.store(true, Ordering::SeqCst);
        hub.ping_all();
        assert!(
            hub.get("a").is_none(),
            "a dead stream is dropped on the next keep-alive"
        );
    }

    #[test]
    fn capacity_and_shutdown_are_enforced() {
        let hub = Hub::new(1);
        assert!(hub.open("a".into(), None, Box::new(Sink::default()), "/e"));
        assert_eq!(hub.admit(), Err(SseError::Full(1)));
        hub.close_all();
        assert!(hub.is_empty());
        assert_eq!(hub.admit(), Err(SseError::Closing));
    }

    #[test]
    fn data_with_newlines_is_split_into_data_lines() {
        let hub = Hub::new(1);
        let sink = Sink::default();
        hub.open("a".into(), None, Box::new(sink.clone()), "/e");
        hub.get("a").unwrap().send("message", "l1\nl2");
        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        assert!(text.ends_with("event: message\ndata: l1\ndata: l2\n\n"));
    }
}
