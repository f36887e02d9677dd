//! The fake Bedrock for `scripts/bench.sh`: starts the test fake from
//! tests/support/fake_bedrock.rs (SigV4 checked on every request, answers from its corpus) on
//! 127.0.0.1 with a fixed latency, prints where it is and the credentials it accepts as one
//! JSON line on stdout, and serves until stdin closes; then prints its request counters.
//!
//! Its listening socket gets TCP_NODELAY (accepted sockets inherit it), like AWS's front
//! ends: without it tiny_http sends a keep-alive answer over 1 KiB in two writes and the
//! second waits for the client's delayed ACK, so an "instant" fake would take 40 ms.
//! `--nodelay 0` keeps tiny_http's default. Test keys only; never talks to the network.
//!
//! Usage: `bench_upstream [--latency-ms N] [--nodelay 0|1]`.

// An inline module with a path, so fake_bedrock.rs finds its submodules in
// tests/support/fake_bedrock/ as it does under tests/. The fake serves many tests; this
// program uses a few of its helpers.
#[allow(dead_code)]
#[path = "../tests/support"]
mod support {
    pub mod fake_bedrock;
}

use serde_json::json;
use std::io::Read;
use std::mem::ManuallyDrop;
use std::net::{TcpListener, TcpStream};
use std::os::fd::FromRawFd;
use std::process::ExitCode;
use std::time::Duration;
use support::fake_bedrock::{FakeBedrock, ACCESS_KEY, SECRET_KEY};

/// Settings from the command line.
struct Args {
    latency_ms: u64,
    nodelay: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        latency_ms: 0,
        nodelay: true,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let n: u64 = value
            .parse()
            .map_err(|_| format!("{flag} takes a number, not {value:?}"))?;
        match flag.as_str() {
            "--latency-ms" => args.latency_ms = n,
            "--nodelay" => args.nodelay = n != 0,
            _ => {
                return Err(format!(
                    "unknown flag {flag}: use --latency-ms N --nodelay 0|1"
                ))
            }
        }
    }
    Ok(args)
}

/// Sets TCP_NODELAY on this process's socket listening on `port`. The fake owns the
/// listener and does not expose it, so find it among our open descriptors; call before any
/// client connects, when it is the only socket on that port.
#[allow(unsafe_code)]
fn nodelay_on_listener(port: u16) -> std::io::Result<bool> {
    for entry in std::fs::read_dir("/proc/self/fd")? {
        let Some(fd) = entry?
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        // SAFETY: `fd` is open in this process (listed just now, and nothing closes
        // descriptors concurrently at start-up); ManuallyDrop means we never close it, so
        // its owner keeps it. getsockname/setsockopt on a non-socket just fail.
        let as_listener = ManuallyDrop::new(unsafe { TcpListener::from_raw_fd(fd) });
        if as_listener.local_addr().map(|a| a.port()).ok() != Some(port) {
            continue;
        }
        // SAFETY: as above; the stream view only issues setsockopt on the same descriptor.
        let as_stream = ManuallyDrop::new(unsafe { TcpStream::from_raw_fd(fd) });
        as_stream.set_nodelay(true)?;
        return Ok(true);
    }
    Ok(false)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("bench_upstream: {e}");
            return ExitCode::from(2);
        }
    };
    let bedrock = FakeBedrock::start();
    bedrock.set_latency(Duration::from_millis(args.latency_ms));
    let url = bedrock.url();
    let port = url
        .rsplit(':')
        .next()
        .and_then(|p| p.parse::<u16>().ok())
        .unwrap_or(0);
    if args.nodelay {
        match nodelay_on_listener(port) {
            Ok(true) => {}
            Ok(false) => {
                eprintln!("bench_upstream: cannot find the fake's listening socket on port {port}");
                return ExitCode::FAILURE;
            }
            Err(e) => {
                eprintln!("bench_upstream: cannot set TCP_NODELAY: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    let hello = json!({
        "url": url,
        "access_key_id": ACCESS_KEY,
        "secret_access_key": SECRET_KEY,
        "session_token": null,
        "region": bedrock.region(),
        "kb_id": bedrock.kb_id(),
        "latency_ms": args.latency_ms,
        "nodelay": args.nodelay,
    });
    println!("{hello}");
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    let counters = json!({
        "requests": bedrock.requests(),
        "accepted": bedrock.accepted(),
        "retrieve_calls": bedrock.retrieve_calls(),
        "auth_failures": bedrock.auth_failures(),
    });
    println!("{counters}");
    ExitCode::SUCCESS
}
