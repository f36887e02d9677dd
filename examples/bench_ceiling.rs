//! The throughput ceiling of our HTTP stack, for `scripts/bench.sh`: a bare tiny_http server
//! on 127.0.0.1 whose every answer is the same fixed JSON body (as large as our tools/call
//! response), served by a fixed pool of threads each calling `recv()`.
//!
//! It does no routing, parsing, logging or upstream call, so the server's req/s divided by
//! this one's is the share of the stack's capacity our own code leaves. Must not grow any
//! behaviour of the real server: it is a yardstick, not a model.
//!
//! `--nodelay 1` (the default) sets TCP_NODELAY on the listening socket, which Linux copies
//! to every accepted socket. Without it, a keep-alive response larger than tiny_http's
//! 1 KiB write buffer leaves in two writes and the second waits for the client's delayed
//! ACK (Nagle): about 40 ms per request. `--nodelay 0` shows that stall.
//!
//! Usage: `bench_ceiling [--threads N] [--body-bytes N] [--nodelay 0|1]`; prints
//! `{"url": …}` as one JSON line on stdout and serves until stdin closes.

#[path = "support/nodelay.rs"]
mod nodelay;
use nodelay::set_nodelay;
use std::io::Read;
use std::net::TcpListener;
use std::process::ExitCode;
use std::sync::Arc;

/// Settings from the command line.
struct Args {
    threads: usize,
    body_bytes: usize,
    nodelay: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        threads: 512,
        body_bytes: 2048,
        nodelay: true,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let n: usize = value
            .parse()
            .map_err(|_| format!("{flag} takes a number, not {value:?}"))?;
        match flag.as_str() {
            "--threads" => args.threads = n.max(1),
            "--body-bytes" => args.body_bytes = n,
            "--nodelay" => args.nodelay = n != 0,
            _ => {
                return Err(format!(
                    "unknown flag {flag}: use --threads N --body-bytes N"
                ))
            }
        }
    }
    Ok(args)
}

/// A JSON document of exactly `n` bytes (when `n` ≥ 12), so clients parse nothing unusual.
fn body_of(n: usize) -> Vec<u8> {
    let mut body = b"{\"pad\":\"".to_vec();
    let fill = n.saturating_sub(body.len() + 2);
    body.extend(std::iter::repeat_n(b'x', fill));
    body.extend_from_slice(b"\"}");
    body
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("bench_ceiling: {e}");
            return ExitCode::from(2);
        }
    };
    let listener = match TcpListener::bind("127.0.0.1:0") {
        Ok(l) => l,
        Err(e) => {
            eprintln!("bench_ceiling: cannot listen on 127.0.0.1: {e}");
            return ExitCode::FAILURE;
        }
    };
    if args.nodelay {
        if let Err(e) = set_nodelay(&listener) {
            eprintln!("bench_ceiling: cannot set TCP_NODELAY: {e}");
            return ExitCode::FAILURE;
        }
    }
    let server = match tiny_http::Server::from_listener(listener, None) {
        Ok(s) => Arc::new(s),
        Err(e) => {
            eprintln!("bench_ceiling: tiny_http refused the listener: {e}");
            return ExitCode::FAILURE;
        }
    };
    let Some(port) = server.server_addr().to_ip().map(|a| a.port()) else {
        eprintln!("bench_ceiling: not an IP listener");
        return ExitCode::FAILURE;
    };
    let body: Arc<[u8]> = body_of(args.body_bytes).into();
    let Ok(content_type) = tiny_http::Header::from_bytes("Content-Type", "application/json") else {
        return ExitCode::FAILURE;
    };
    for _ in 0..args.threads {
        let (server, body, ct) = (server.clone(), body.clone(), content_type.clone());
        // Same small stack as the server's workers: the ceiling must not get more memory.
        let spawned = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(move || {
                while let Ok(mut rq) = server.recv() {
                    // Drain the body like a real handler would before answering.
                    let _ = std::io::copy(&mut rq.as_reader(), &mut std::io::sink());
                    let response =
                        tiny_http::Response::from_data(body.to_vec()).with_header(ct.clone());
                    let _ = rq.respond(response);
                }
            });
        if let Err(e) = spawned {
            eprintln!("bench_ceiling: cannot start a worker thread: {e}");
            return ExitCode::FAILURE;
        }
    }
    println!("{{\"url\":\"http://127.0.0.1:{port}\"}}");
    // Serve until whoever started us closes our stdin (or dies).
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    ExitCode::SUCCESS
}
