//! Tests for the SSE stream, exercised without sockets.

use super::*;
use std::sync::mpsc;

const DEADLINE: Duration = Duration::from_millis(100);

/// A writer that records bytes and can be told to fail.
#[derive(Clone, Default)]
struct Sink(Arc<Mutex<Vec<u8>>>, Arc<AtomicBool>);

impl Sink {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

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

/// A client that stops reading: every write blocks until the test says go; dropping the
/// writer (the socket closing) is reported.
struct Stuck {
    go: mpsc::Receiver<()>,
    dropped: mpsc::Sender<()>,
}

impl Write for Stuck {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        let _ = self.go.recv();
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for Stuck {
    fn drop(&mut self) {
        let _ = self.dropped.send(());
    }
}

/// Polls `cond` for up to 10 s (writes happen on writer threads).
fn eventually(mut cond: impl FnMut() -> bool) -> bool {
    let until = Instant::now() + Duration::from_secs(10);
    while Instant::now() < until {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    false
}

#[test]
fn endpoint_event_messages_keepalives_and_dead_clients() {
    let hub = Hub::new(2, DEADLINE);
    let sink = Sink::default();
    assert!(hub.open(
        "a".into(),
        None,
        Box::new(sink.clone()),
        None,
        "/messages?session_id=a"
    ));
    let s = hub.get("a").unwrap();
    assert!(s.send("message", "{\"x\":1}"));
    hub.ping_all();
    let want = "event: endpoint\ndata: /messages?session_id=a\n\nevent: message\ndata: {\"x\":1}\n\n: keep-alive\n\n";
    assert!(eventually(|| sink.text() == want), "{:?}", sink.text());
    sink.1.store(true, Ordering::SeqCst);
    assert!(
        eventually(|| {
            hub.ping_all();
            hub.get("a").is_none()
        }),
        "a dead stream is dropped by the keep-alive rounds"
    );
    assert!(!s.send("message", "late"), "a closed stream takes nothing");
}

#[test]
fn capacity_and_shutdown_are_enforced() {
    let hub = Hub::new(1, DEADLINE);
    assert!(hub.open("a".into(), None, Box::new(Sink::default()), None, "/e"));
    assert_eq!(hub.admit(), Err(SseError::Full(1)));
    hub.close_all();
    assert!(hub.is_empty());
    assert_eq!(hub.admit(), Err(SseError::Closing));
}

#[test]
fn data_with_newlines_is_split_into_data_lines() {
    let hub = Hub::new(1, DEADLINE);
    let sink = Sink::default();
    hub.open("a".into(), None, Box::new(sink.clone()), None, "/e");
    hub.get("a").unwrap().send("message", "l1\nl2");
    assert!(eventually(|| sink
        .text()
        .ends_with("event: message\ndata: l1\ndata: l2\n\n")));
}

#[test]
fn a_client_that_stops_reading_never_holds_up_the_keepalive_round_and_is_closed() {
    let hub = Arc::new(Hub::new(2, DEADLINE));
    let (go, go_rx) = mpsc::channel();
    let (dropped_tx, dropped) = mpsc::channel();
    let stuck = Stuck {
        go: go_rx,
        dropped: dropped_tx,
    };
    // The endpoint event already blocks its writer thread, as a full socket would.
    assert!(hub.open("slow".into(), None, Box::new(stuck), None, "/e"));
    let sink = Sink::default();
    assert!(hub.open("ok".into(), None, Box::new(sink.clone()), None, "/e"));
    let slow = hub.get("slow").unwrap();
    assert!(slow.send("message", "queued behind the stuck write"));

    // A round completes while the slow stream's write is stuck (it would hang otherwise).
    let (done_tx, done) = mpsc::channel();
    let h = hub.clone();
    std::thread::spawn(move || {
        h.ping_all();
        let _ = done_tx.send(());
    });
    assert!(done.recv_timeout(Duration::from_secs(10)).is_ok());
    assert!(eventually(|| sink.text().ends_with(": keep-alive\n\n")));

    // Once past the deadline, a round closes the slow stream and keeps the other: poll
    // rounds until that happens rather than sleeping for a guessed time.
    assert!(
        eventually(|| {
            hub.ping_all();
            hub.get("slow").is_none()
        }),
        "the stalled stream is closed"
    );
    assert!(hub.get("ok").is_some());
    assert!(!slow.send("message", "more"), "and takes nothing more");
    // Once the stuck write returns, its thread drops the socket instead of writing on.
    let _ = go.send(());
    assert!(dropped.recv_timeout(Duration::from_secs(10)).is_ok());
}

/// A stream whose writer is stuck on its endpoint event; keep the sender to hold it.
fn stuck(hub: &Hub, id: &str) -> (Arc<Session>, mpsc::Sender<()>) {
    let (go, go_rx) = mpsc::channel();
    let (dropped, _) = mpsc::channel();
    let writer = Stuck { go: go_rx, dropped };
    assert!(hub.open(id.into(), None, Box::new(writer), None, "/e"));
    let session = hub.get(id).unwrap();
    // Wait until the writer thread holds the endpoint event alone: on a busy machine it
    // could otherwise start late and take later frames into its stuck batch.
    assert!(eventually(|| lock(&session.outbox).queued.is_empty()));
    (session, go)
}

#[test]
fn stalled_streams_together_pin_at_most_max_backlog_bytes() {
    let hub = Hub::new(16, Duration::from_secs(3600));
    let mb = "x".repeat(1 << 20);
    let per_stream = MAX_QUEUED_BYTES / (1 << 20) - 1;
    let full = MAX_BACKLOG_BYTES / (per_stream << 20);
    let held: Vec<_> = (0..full).map(|i| stuck(&hub, &i.to_string())).collect();
    for (s, _) in &held {
        for _ in 0..per_stream {
            assert!(s.send("message", &mb));
        }
    }
    // One more stream finds the process-wide backlog (nearly) used up and is closed.
    let (last, _go) = stuck(&hub, "last");
    let taken = (0..per_stream)
        .take_while(|_| last.send("message", &mb))
        .count();
    assert!(taken < per_stream, "{taken} MiB more were queued");
    hub.ping_all();
    assert!(hub.get("last").is_none());
    assert!(held.iter().all(|(s, _)| !lock(&s.outbox).closed));
    // Closing the stalled streams gives their bytes back.
    for i in 0..full {
        hub.remove(&i.to_string());
    }
    let (fresh, _go) = stuck(&hub, "fresh");
    assert!((0..per_stream).all(|_| fresh.send("message", &mb)));
}

#[test]
fn a_backlog_past_the_cap_closes_the_stream() {
    let hub = Hub::new(1, Duration::from_secs(3600));
    let (_go, go_rx) = mpsc::channel();
    let (dropped_tx, _dropped) = mpsc::channel();
    let stuck = Stuck {
        go: go_rx,
        dropped: dropped_tx,
    };
    hub.open("a".into(), None, Box::new(stuck), None, "/e");
    let s = hub.get("a").unwrap();
    let big = "x".repeat(MAX_QUEUED_BYTES / 4);
    let accepted = (0..8).take_while(|_| s.send("message", &big)).count();
    assert!(
        (3..8).contains(&accepted),
        "about MAX_QUEUED_BYTES is queued, then the stream is closed: {accepted}"
    );
    hub.ping_all();
    assert!(hub.is_empty());
}

#[test]
fn closing_a_stalled_stream_ends_its_socket_at_once() {
    let hub = Hub::new(1, DEADLINE);
    let (go, go_rx) = mpsc::channel();
    let (dropped_tx, dropped) = mpsc::channel();
    let stuck = Stuck {
        go: go_rx,
        dropped: dropped_tx,
    };
    // As a socket shutdown does, the closer makes the blocked write return.
    let (closed_tx, closed) = mpsc::channel();
    let closer: Closer = Box::new(move || {
        let _ = closed_tx.send(());
        let _ = go.send(());
    });
    assert!(hub.open("a".into(), None, Box::new(stuck), Some(closer), "/e"));
    assert!(
        eventually(|| {
            hub.ping_all();
            hub.get("a").is_none()
        }),
        "the stalled stream is closed"
    );
    assert!(closed.recv_timeout(Duration::from_secs(10)).is_ok());
    assert!(
        dropped.recv_timeout(Duration::from_secs(10)).is_ok(),
        "the writer thread let go of the socket without the client reading"
    );
}
