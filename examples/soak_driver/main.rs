//! The load for `scripts/soak.sh`: mixed, partly hostile traffic against a running
//! bedrock-mcp for a set time, watching the server process for growth.
//!
//! Threads (load.rs): MCP callers (initialize and tools/call over keep-alive), legacy SSE
//! sessions that open, call a tool and close, and one abuser (bad bearer tokens, garbage
//! JSON, oversized bodies and heads, a huge declared Content-Length, garbage request lines,
//! abandoned heads). Every `--report-secs` it prints the counters and the server's RSS,
//! threads and open fds from /proc; at the end a verdict on growth, exit 0 when it holds.
//! This file owns the arguments, the measuring and the verdict. It must only observe the
//! server: no restarts, no signals.
//!
//! Usage: `soak_driver --url http://127.0.0.1:PORT --pid PID [--seconds N] [--callers N]
//! [--sse N] [--pause-ms N] [--report-secs N] [--warmup-secs N] [--settle-secs N]
//! [--workers N] [--max-body N]`.

mod load;

use load::Counters;
use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// Settings from the command line.
#[derive(Clone)]
struct Args {
    url: String,
    pid: u32,
    seconds: u64,
    callers: usize,
    sse: usize,
    pause: Duration,
    report_secs: u64,
    warmup_secs: u64,
    settle_secs: u64,
    workers: u64,
    max_body: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        url: String::new(),
        pid: 0,
        seconds: 300,
        callers: 4,
        sse: 2,
        pause: Duration::from_millis(10),
        report_secs: 30,
        warmup_secs: 10,
        settle_secs: 20,
        workers: 512,
        max_body: 1 << 20,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let num = || -> Result<u64, String> {
            value
                .parse()
                .map_err(|_| format!("{flag} takes a number, not {value:?}"))
        };
        match flag.as_str() {
            "--url" => a.url = value.trim_end_matches('/').to_string(),
            "--pid" => a.pid = num()? as u32,
            "--seconds" => a.seconds = num()?,
            "--callers" => a.callers = num()? as usize,
            "--sse" => a.sse = num()? as usize,
            "--pause-ms" => a.pause = Duration::from_millis(num()?),
            "--report-secs" => a.report_secs = num()?.max(1),
            "--warmup-secs" => a.warmup_secs = num()?,
            "--settle-secs" => a.settle_secs = num()?,
            "--workers" => a.workers = num()?,
            "--max-body" => a.max_body = num()? as usize,
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    if a.url.is_empty() || a.pid == 0 {
        return Err("--url and --pid are required".into());
    }
    Ok(a)
}

/// What /proc says about the server.
#[derive(Clone, Copy, Debug)]
struct Usage {
    rss_kb: u64,
    threads: u64,
    fds: u64,
}

fn usage(pid: u32) -> Option<Usage> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |key: &str| -> Option<u64> {
        let line = status.lines().find(|l| l.starts_with(key))?;
        line.split_whitespace().nth(1)?.parse().ok()
    };
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count() as u64;
    Some(Usage {
        rss_kb: field("VmRSS:")?,
        threads: field("Threads:")?,
        fds,
    })
}

fn report(label: &str, started: Instant, c: &Counters, u: Option<Usage>) {
    let counts = c.snapshot();
    let total: u64 = counts.values().sum();
    let errors: BTreeMap<_, _> = counts
        .iter()
        .filter(|(k, _)| k.starts_with("error:"))
        .collect();
    let rejected: u64 = counts
        .iter()
        .filter(|(k, _)| k.starts_with("rejected"))
        .map(|(_, v)| v)
        .sum();
    let u = u.map_or("server gone".to_string(), |u| {
        format!(
            "rss={:.1}MB threads={} fds={}",
            u.rss_kb as f64 / 1024.0,
            u.threads,
            u.fds
        )
    });
    println!(
        "[{label:>6} {:>4}s] requests={total} ok={} rejected_as_expected={rejected} errors={errors:?} {u}",
        started.elapsed().as_secs(),
        counts.get("ok").unwrap_or(&0)
    );
}

fn main() -> ExitCode {
    let a = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("soak_driver: {e}");
            return ExitCode::from(2);
        }
    };
    let Some(idle) = usage(a.pid) else {
        eprintln!("soak_driver: no process {} to watch", a.pid);
        return ExitCode::from(2);
    };
    let counters = Arc::new(Counters::default());
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    report("idle", started, &counters, Some(idle));
    let mut handles = Vec::new();
    let roles = [
        (a.callers, load::caller as load::Role),
        (a.sse, load::sse_user),
        (1, load::abuser),
    ];
    for (count, role) in roles {
        for _ in 0..count {
            let (a, c, s) = (a.clone(), counters.clone(), stop.clone());
            handles.push(thread::spawn(move || role(&a, &c, &s)));
        }
    }
    thread::sleep(Duration::from_secs(a.warmup_secs.min(a.seconds)));
    let warm = usage(a.pid);
    report("warm", started, &counters, warm);
    let end = started + Duration::from_secs(a.seconds);
    let mut next = started + Duration::from_secs(a.report_secs);
    while Instant::now() < end {
        thread::sleep(next.min(end).saturating_duration_since(Instant::now()));
        if Instant::now() >= next {
            report("load", started, &counters, usage(a.pid));
            next += Duration::from_secs(a.report_secs);
        }
    }
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        let _ = h.join();
    }
    report("stop", started, &counters, usage(a.pid));
    thread::sleep(Duration::from_secs(a.settle_secs));
    let last = usage(a.pid);
    report("settle", started, &counters, last);
    verdict(&a, &counters, idle, warm.unwrap_or(idle), last)
}

/// No growth beyond noise: RSS within 5 MB or 20 % of the warmed-up figure, fds back to the
/// idle count ±10, threads at most idle + workers, and no request error at all.
fn verdict(a: &Args, c: &Counters, idle: Usage, warm: Usage, last: Option<Usage>) -> ExitCode {
    let Some(last) = last else {
        println!("VERDICT: FAIL — the server process is gone");
        return ExitCode::FAILURE;
    };
    let errors: u64 = c
        .snapshot()
        .iter()
        .filter(|(k, _)| k.starts_with("error:"))
        .map(|(_, v)| v)
        .sum();
    let rss_cap = warm.rss_kb + (5 * 1024).max(warm.rss_kb / 5);
    let checks = [
        (
            "rss",
            last.rss_kb <= rss_cap,
            format!(
                "{} kB (warm {} kB, cap {rss_cap} kB)",
                last.rss_kb, warm.rss_kb
            ),
        ),
        (
            "fds",
            last.fds.abs_diff(idle.fds) <= 10,
            format!("{} (idle {})", last.fds, idle.fds),
        ),
        (
            "threads",
            last.threads <= idle.threads + a.workers,
            format!(
                "{} (idle {}, workers {})",
                last.threads, idle.threads, a.workers
            ),
        ),
        ("errors", errors == 0, format!("{errors}")),
    ];
    for (name, ok, detail) in &checks {
        println!("  {name:<8} {} {detail}", if *ok { "ok  " } else { "FAIL" });
    }
    if checks.iter().all(|(_, ok, _)| *ok) {
        println!("VERDICT: PASS — no growth beyond noise");
        ExitCode::SUCCESS
    } else {
        println!("VERDICT: FAIL");
        ExitCode::FAILURE
    }
}
