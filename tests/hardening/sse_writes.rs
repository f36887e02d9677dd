//! One slow SSE reader must not stall the others (issue 10, item 6): a legacy client that
//! stops reading while making large tool calls is closed with a log line, and the other
//! streams keep getting their keep-alive comments about once a period meanwhile.

use crate::support::server::Server;
use crate::support::sse::SseStream;
use crate::support::wait::until;
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// SSE_KEEPALIVE_SECS in this test.
const PERIOD: Duration = Duration::from_secs(1);
/// Scheduling slack on a busy 2-core machine. Waiting on the slow client's write, as the
/// keep-alive round once did, makes a gap of a whole socket timeout (HTTP_READ_TIMEOUT_SECS,
/// 15 s here): three times period plus slack.
const SLACK: Duration = Duration::from_secs(4);

/// A stream read on its own thread, recording when each event or comment arrived.
struct Watched {
    arrivals: Arc<Mutex<Vec<Instant>>>,
    thread: JoinHandle<()>,
}

fn watch(s: &Server, stop: &Arc<AtomicBool>) -> Watched {
    let mut stream = SseStream::open(&s.url, "/sse", &[]).expect("open /sse");
    assert_eq!(stream.status(), 200, "{}", stream.head);
    assert!(stream.wait_for("endpoint").is_some());
    let arrivals = Arc::new(Mutex::new(vec![Instant::now()]));
    let (seen, stop) = (arrivals.clone(), stop.clone());
    let thread = std::thread::spawn(move || {
        while !stop.load(Ordering::SeqCst) {
            if stream.next_event().is_none() {
                break;
            }
            seen.lock().unwrap().push(Instant::now());
        }
    });
    Watched { arrivals, thread }
}

/// The longest time between two arrivals, and the end of the watch, at or after `from`.
fn longest_gap(arrivals: &[Instant], from: Instant, until: Instant) -> Duration {
    let mut points: Vec<Instant> = arrivals.iter().copied().filter(|t| *t >= from).collect();
    points.insert(0, from);
    points.push(until);
    points
        .windows(2)
        .map(|w| w[1].duration_since(w[0]))
        .max()
        .unwrap_or_default()
}

#[test]
fn a_client_that_stops_reading_is_closed_and_other_streams_keep_their_keepalive_period() {
    let s = Server::local(&[("SSE_KEEPALIVE_SECS", "1"), ("HTTP_READ_TIMEOUT_SECS", "8")]);
    let stop = Arc::new(AtomicBool::new(false));
    let healthy: Vec<Watched> = (0..3).map(|_| watch(&s, &stop)).collect();

    // The slow client reads its endpoint event and then nothing more.
    let mut slow = SseStream::open(&s.url, "/sse", &[]).expect("open /sse");
    let endpoint = slow.wait_for("endpoint").expect("endpoint event").data;
    let session = endpoint.rsplit('=').next().unwrap_or("").to_string();
    let big = json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{
        "name":"search_knowledge_base","arguments":{"max_results":100,
        "query":"aws lambda bedrock knowledge base server data security api cloud the is a"}}})
    .to_string();
    let h = [("Content-Type", "application/json")];
    let flood_started = Instant::now();
    // About 45 KB per answer: a few hundred fill the socket buffers (some MB) and the backlog.
    let mut accepted = 0;
    for _ in 0..600 {
        let r = s.request("POST", &endpoint, &h, &big);
        if r.status != 202 {
            assert_eq!(r.status, 404, "a closed session is gone: {}", r.body);
            break;
        }
        accepted += 1;
        if s.logs().contains("cannot keep up") {
            break;
        }
    }
    let closed = format!("\"session\":\"{session}\"");
    assert!(
        s.wait_for_log("cannot keep up") && s.logs().contains(&closed),
        "the slow stream is closed with a log line ({accepted} answers queued):\n{}",
        s.logs()
    );
    // Later messages to it are refused, and the server keeps serving.
    assert_eq!(s.request("POST", &endpoint, &h, &big).status, 404);
    assert_eq!(s.request("GET", "/health", &[], "").status, 200);

    // Watch until every healthy stream has had two more keep-alives (about two periods; the
    // guard turns silence into a failure), then check their gaps since the flood began.
    let closed_at = Instant::now();
    until("every healthy stream to get two more keep-alives", || {
        healthy.iter().all(|w| {
            let arrivals = w.arrivals.lock().unwrap();
            arrivals.iter().filter(|t| **t >= closed_at).count() >= 2
        })
    });
    let until = Instant::now();
    for (i, w) in healthy.iter().enumerate() {
        let arrivals = w.arrivals.lock().unwrap().clone();
        let gap = longest_gap(&arrivals, flood_started, until);
        assert!(
            gap <= PERIOD + SLACK,
            "stream {i}: a keep-alive gap of {gap:?} (period {PERIOD:?}) while one client stalled"
        );
    }

    // The slow client, reading again, gets what was already on its way and then the end of
    // the stream, rather than more keep-alives (or silence until its 10 s read timeout).
    let drained = Instant::now();
    let limit = Duration::from_secs(8);
    let mut ended = false;
    while drained.elapsed() < limit {
        if slow.next_event().is_none() {
            ended = true;
            break;
        }
    }
    assert!(
        ended && drained.elapsed() < limit,
        "the slow stream was closed, not resumed"
    );

    stop.store(true, Ordering::SeqCst);
    drop(s);
    for w in healthy {
        let _ = w.thread.join();
    }
}
