//! This process's resident memory and thread count, read from /proc/self/status at scrape
//! time (Linux only; elsewhere the two gauges are left out).

use super::registry::Process;

/// The current numbers, or `None` when /proc is not there.
pub fn read() -> Option<Process> {
    parse(&std::fs::read_to_string("/proc/self/status").ok()?)
}

fn parse(status: &str) -> Option<Process> {
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse::<u64>().ok())
    };
    Some(Process {
        rss_bytes: field("VmRSS:")? * 1024,
        threads: field("Threads:")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rss_and_threads() {
        let p = parse("Name:\tx\nVmRSS:\t    4900 kB\nThreads:\t8\n").unwrap();
        assert_eq!((p.rss_bytes, p.threads), (4900 * 1024, 8));
        assert_eq!(parse("Name:\tx\n"), None);
        let own = read().expect("/proc/self/status on Linux");
        assert!(own.threads >= 1 && own.rss_bytes > 0);
    }
}
