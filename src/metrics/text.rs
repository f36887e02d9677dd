//! The Prometheus text exposition format (version 0.0.4), written by hand: `# HELP` and
//! `# TYPE` lines, then one `name{label="value"} number` line per series.
//!
//! Owns escaping and number formatting; knows nothing about which metrics exist.

use super::histogram::{Snapshot, BOUNDS_NS};
use std::fmt::{Display, Write};

/// The Content-Type of the format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Builds one exposition.
#[derive(Default)]
pub struct Exposition {
    out: String,
}

impl Exposition {
    /// Starts a metric family: its help text and type (`counter`, `gauge`, `histogram`).
    pub fn family(&mut self, name: &str, kind: &str, help: &str) {
        let help = help.replace('\\', "\\\\").replace('\n', "\\n");
        let _ = writeln!(self.out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    /// One sample line.
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl Display) {
        self.out.push_str(name);
        self.labels(labels, None);
        let _ = writeln!(self.out, " {value}");
    }

    /// The `_bucket`, `_sum` and `_count` lines of one histogram series.
    pub fn histogram(&mut self, name: &str, labels: &[(&str, &str)], s: &Snapshot) {
        for (i, count) in s.cumulative.iter().enumerate() {
            let le = match BOUNDS_NS.get(i) {
                Some(&ns) => format_seconds(ns),
                None => "+Inf".to_string(),
            };
            let _ = write!(self.out, "{name}_bucket");
            self.labels(labels, Some(&le));
            let _ = writeln!(self.out, " {count}");
        }
        let _ = write!(self.out, "{name}_sum");
        self.labels(labels, None);
        let _ = writeln!(self.out, " {}", s.sum_seconds);
        let _ = write!(self.out, "{name}_count");
        self.labels(labels, None);
        let _ = writeln!(self.out, " {}", s.cumulative.last().copied().unwrap_or(0));
    }

    /// The finished text.
    pub fn finish(self) -> String {
        self.out
    }

    fn labels(&mut self, labels: &[(&str, &str)], le: Option<&str>) {
        if labels.is_empty() && le.is_none() {
            return;
        }
        self.out.push('{');
        let all = labels.iter().copied().chain(le.map(|v| ("le", v)));
        for (i, (k, v)) in all.enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            let _ = write!(self.out, "{k}=\"{}\"", escape(v));
        }
        self.out.push('}');
    }
}

/// A label value with `\`, `"` and newlines escaped, as the format requires.
fn escape(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

/// Nanoseconds as the shortest decimal number of seconds ("0.0025", "1", "30").
fn format_seconds(ns: u64) -> String {
    (ns as f64 / 1e9).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped_and_le_comes_last() {
        let mut e = Exposition::default();
        e.family("x_total", "counter", "a \\ help\nline");
        e.sample("x_total", &[("v", "a\"b\\c\nd")], 3);
        e.sample("y", &[], 1.5);
        let h = super::super::histogram::Histogram::new();
        h.observe(std::time::Duration::from_millis(2));
        e.histogram("z_seconds", &[("route", "/mcp")], &h.snapshot());
        let text = e.finish();
        assert!(text.starts_with("# HELP x_total a \\\\ help\\nline\n# TYPE x_total counter\n"));
        assert!(
            text.contains("x_total{v=\"a\\\"b\\\\c\\nd\"} 3\n"),
            "{text}"
        );
        assert!(text.contains("\ny 1.5\n"), "{text}");
        assert!(text.contains("z_seconds_bucket{route=\"/mcp\",le=\"0.001\"} 0\n"));
        assert!(text.contains("z_seconds_bucket{route=\"/mcp\",le=\"0.0025\"} 1\n"));
        assert!(text.contains("z_seconds_bucket{route=\"/mcp\",le=\"30\"} 1\n"));
        assert!(text.contains("z_seconds_bucket{route=\"/mcp\",le=\"+Inf\"} 1\n"));
        assert!(text.contains("z_seconds_count{route=\"/mcp\"} 1\n"));
        assert!(
            text.contains("z_seconds_sum{route=\"/mcp\"} 0.002\n"),
            "{text}"
        );
    }
}
