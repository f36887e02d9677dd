//! The legacy HTTP+SSE transport (2024-11-05): `GET /sse` opens a stream whose first event
//! names the POST endpoint; `POST /messages?session_id=…` answers 202 and the JSON-RPC
//! response travels on the stream.
//!
//! Streams hold no thread while idle. Each session has an outbox: POST handlers and the
//! keep-alive thread only append frames to it (a short lock, never held across I/O), and a
//! short-lived writer thread drains it to the socket, so a client that stops reading stalls
//! its own writer and nobody else. A stream whose writer has not finished a batch within its
//! deadline (one keep-alive period), or whose backlog passes [`MAX_QUEUED_BYTES`] (or would
//! take all streams' past [`MAX_BACKLOG_BYTES`]), is closed with a log line; the keep-alive
//! thread checks this on every round (load balancers cut idle connections at 60 s). Closing
//! a stream shuts its socket down through its [`Closer`], so a writer thread blocked on a
//! stalled client returns at once. Sessions live in this process only, so this transport
//! needs sticky load balancing.

use crate::log::{fields, Field};
use crate::mcp::protocol::Version;
use std::collections::HashMap;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

type Writer = Box<dyn Write + Send>;

/// Ends the stream's socket from any thread, so a writer thread blocked on a client that
/// stopped reading returns at once and the client sees the end of the stream.
pub type Closer = Box<dyn Fn() + Send>;

/// Most bytes waiting for one stream beyond the batch being written; more closes the stream.
/// Room for a hundred large search results, yet bounded per stream.
pub const MAX_QUEUED_BYTES: usize = 4 << 20;

/// Most bytes queued or being written over all streams of the process: what stalled clients
/// can pin in memory before their streams are closed, whatever their number.
pub const MAX_BACKLOG_BYTES: usize = 8 << 20;

/// Bytes handed to the socket per `write` call: the deadline is checked between calls, so a
/// client reading a byte at a time cannot keep one call going for long.
const WRITE_CHUNK: usize = 16 << 10;

/// Stack of a writer thread: it only copies bytes into a socket.
const WRITER_STACK: usize = 128 << 10;

/// What is waiting for one stream, and whether a writer thread is draining it.
struct Outbox {
    /// Frames not yet handed to a writer thread.
    queued: Vec<u8>,
    /// The socket writer while no writer thread runs (a running one holds it).
    writer: Option<Writer>,
    /// When the running writer thread started its current batch; `None` when idle.
    busy_since: Option<Instant>,
    /// No more frames are taken; a running writer thread drops the socket when it sees this.
    closed: bool,
    /// Ends the socket when the stream is closed (none where the transport cannot).
    closer: Option<Closer>,
}

/// What every stream of a hub shares.
struct Shared {
    /// How long one batch may take to reach the socket.
    deadline: Duration,
    /// Bytes queued or being written, over all streams.
    backlog: AtomicUsize,
}

/// How the keep-alive round found a session.
enum Health {
    Alive,
    /// Closed already (the client went away or the stream was cut).
    Gone,
    /// Closed now: it could not keep up.
    Stalled,
}

/// One open stream.
pub struct Session {
    id: String,
    outbox: Mutex<Outbox>,
    version: Mutex<Version>,
    shared: Arc<Shared>,
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

    /// Queues one SSE event; false when the stream is closed. Never waits on the client.
    pub fn send(self: &Arc<Self>, event: &str, data: &str) -> bool {
        let mut frame = String::with_capacity(data.len() + event.len() + 16);
        frame.push_str("event: ");
        frame.push_str(event);
        // SSE data may not contain raw newlines; JSON we produce never does, but be safe.
        for line in data.split('\n') {
            frame.push_str("\ndata: ");
            frame.push_str(line);
        }
        frame.push_str("\n\n");
        self.enqueue(frame.as_bytes())
    }

    /// Appends `bytes` to the outbox and starts a writer thread if none runs.
    fn enqueue(self: &Arc<Self>, bytes: &[u8]) -> bool {
        let mut ob = lock(&self.outbox);
        if ob.closed {
            return false;
        }
        if !ob.queued.is_empty() && ob.queued.len() + bytes.len() > MAX_QUEUED_BYTES {
            self.shut(&mut ob, Some("its backlog passed MAX_QUEUED_BYTES"));
            return false;
        }
        let before = self.shared.backlog.fetch_add(bytes.len(), Ordering::AcqRel);
        if before + bytes.len() > MAX_BACKLOG_BYTES {
            self.shared.backlog.fetch_sub(bytes.len(), Ordering::AcqRel);
            self.shut(
                &mut ob,
                Some("the backlog of all SSE streams passed MAX_BACKLOG_BYTES"),
            );
            return false;
        }
        ob.queued.extend_from_slice(bytes);
        let Some(writer) = ob.writer.take() else {
            return true; // the running writer thread takes it with its next batch
        };
        ob.busy_since = Some(Instant::now());
        drop(ob);
        let session = self.clone();
        let spawned = std::thread::Builder::new()
            .name("sse-write".into())
            .stack_size(WRITER_STACK)
            .spawn(move || session.drain(writer));
        if let Err(e) = spawned {
            // The closure, and with it the socket, is dropped.
            log::warn!("cannot start an SSE writer thread ({e}); closing the stream");
            self.shut(&mut lock(&self.outbox), None);
            return false;
        }
        true
    }

    /// The writer thread: writes batches until the outbox is empty, then parks the writer.
    fn drain(&self, mut writer: Writer) {
        loop {
            let batch = {
                let mut ob = lock(&self.outbox);
                if ob.closed {
                    return; // drops the writer: the client sees the stream end
                }
                if ob.queued.is_empty() {
                    ob.writer = Some(writer);
                    ob.busy_since = None;
                    return;
                }
                ob.busy_since = Some(Instant::now());
                std::mem::take(&mut ob.queued)
            };
            let written = self.write_batch(&mut writer, &batch);
            self.shared.backlog.fetch_sub(batch.len(), Ordering::AcqRel);
            if !written {
                return;
            }
        }
    }

    /// Writes one batch within the deadline; false (and the stream closed) otherwise.
    fn write_batch(&self, writer: &mut Writer, batch: &[u8]) -> bool {
        let started = Instant::now();
        let mut rest = batch;
        let mut result = Ok(());
        while !rest.is_empty() {
            if started.elapsed() > self.shared.deadline {
                self.shut(
                    &mut lock(&self.outbox),
                    Some("a write took longer than its deadline"),
                );
                return false;
            }
            if lock(&self.outbox).closed {
                return false;
            }
            match writer.write(&rest[..rest.len().min(WRITE_CHUNK)]) {
                Ok(0) => {
                    result = Err(std::io::ErrorKind::WriteZero.into());
                    break;
                }
                Ok(n) => rest = &rest[n..],
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        if result.and_then(|()| writer.flush()).is_err() {
            // The client went away: quietly, as any closed connection.
            self.shut(&mut lock(&self.outbox), None);
            return false;
        }
        true
    }

    /// Called by the keep-alive round: queues a comment, or closes a stalled stream.
    fn keepalive(self: &Arc<Self>) -> Health {
        {
            let mut ob = lock(&self.outbox);
            if ob.closed {
                return Health::Gone;
            }
            if ob
                .busy_since
                .is_some_and(|t| t.elapsed() > self.shared.deadline)
            {
                self.shut(&mut ob, Some("a write took longer than its deadline"));
                return Health::Stalled;
            }
        }
        if self.enqueue(b": keep-alive\n\n") {
            Health::Alive
        } else {
            Health::Gone
        }
    }

    /// Closes the stream (once), logging why when it is our decision rather than the client's.
    fn shut(&self, ob: &mut Outbox, why: Option<&str>) {
        if ob.closed {
            return;
        }
        ob.closed = true;
        // Only an idle writer is here, and it was flushed, so dropping it under the lock
        // cannot block; a running writer thread holds its own and drops it when it sees this.
        ob.writer = None;
        // Dropping the writer alone would leave the socket open until the connection's reader
        // gave up, and a writer thread blocked on a stalled client until the socket's write
        // timeout: a shutdown (which never blocks) ends both now, after what was sent.
        if let Some(close) = ob.closer.take() {
            close();
        }
        let queued = std::mem::take(&mut ob.queued).len();
        self.shared.backlog.fetch_sub(queued, Ordering::AcqRel);
        if let Some(why) = why {
            let stalled = ob.busy_since.map_or(0, |t| t.elapsed().as_millis() as u64);
            log::warn!(
                "{}",
                fields(
                    "closing an SSE stream that cannot keep up: the client is not reading",
                    &[
                        ("session", Some(Field::Str(&self.id))),
                        ("reason", Some(Field::Str(why))),
                        ("queued_bytes", Some(Field::Num(queued as u64))),
                        ("writing_ms", Some(Field::Num(stalled))),
                    ]
                )
            );
        }
    }

    fn close(&self) {
        self.shut(&mut lock(&self.outbox), None);
    }
}

/// All open legacy streams of this process.
pub struct Hub {
    sessions: Mutex<HashMap<String, Arc<Session>>>,
    max: usize,
    shared: Arc<Shared>,
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

impl std::error::Error for SseError {}

impl Hub {
    /// A hub that allows at most `max` streams, each of whose write batches must reach the
    /// socket within `write_deadline`.
    pub fn new(max: usize, write_deadline: Duration) -> Hub {
        Hub {
            sessions: Mutex::new(HashMap::new()),
            max,
            shared: Arc::new(Shared {
                deadline: write_deadline,
                backlog: AtomicUsize::new(0),
            }),
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

    /// Registers a stream whose HTTP head is already written, and sends the `endpoint` event;
    /// `closer` ends its socket when the stream is closed.
    pub fn open(
        &self,
        id: String,
        owner: Option<String>,
        writer: Writer,
        closer: Option<Closer>,
        endpoint: &str,
    ) -> bool {
        let session = Arc::new(Session {
            id: id.clone(),
            outbox: Mutex::new(Outbox {
                queued: Vec::new(),
                writer: Some(writer),
                busy_since: None,
                closed: false,
                closer,
            }),
            version: Mutex::new(Version::V2024_11_05),
            shared: self.shared.clone(),
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

    /// Queues a keep-alive comment on every stream, and drops the dead and the stalled ones.
    /// Never waits on a client: it only touches outboxes.
    pub fn ping_all(&self) {
        let all: Vec<(String, Arc<Session>)> = lock(&self.sessions)
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for (id, session) in all {
            match session.keepalive() {
                Health::Alive => {}
                Health::Gone | Health::Stalled => self.remove(&id),
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
mod tests;

/// Writes the head of an SSE answer (with `common`'s headers, our own Cache-Control) and
/// flushes it: false when the client is already gone.
pub(crate) fn write_head(writer: &mut dyn Write, common: &[(String, String)]) -> bool {
    let mut head = String::from(
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache, no-store\r\n\
         X-Accel-Buffering: no\r\nConnection: close\r\n",
    );
    for (k, v) in common.iter().filter(|(k, _)| k != "Cache-Control") {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    writer
        .write_all(head.as_bytes())
        .and_then(|()| writer.flush())
        .is_ok()
}
