//! Reads a Prometheus exposition the way a real scraper does: through the reference parser
//! (`prometheus_client`, pinned, in a venv under target/) called by `prom_parse.py`.
//!
//! The venv is made on first use (`python3 -m venv` + `pip install`); CI makes it up front.

use serde_json::Value;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Mutex;

/// The parser release the tests were written against.
const PARSER: &str = "prometheus_client==0.26.0";

/// One sample: name, labels, value.
pub type Sample = (String, Vec<(String, String)>, f64);

/// One metric family as the parser read it.
#[derive(Debug, Clone)]
pub struct Family {
    /// Name without the `_total` suffix for counters, as the parser reports it.
    pub name: String,
    /// counter, gauge, histogram, or unknown when the TYPE line did not match.
    pub kind: String,
    /// (sample name, labels, value).
    pub samples: Vec<Sample>,
}

impl Family {
    /// The value of the sample called `name` whose labels include all of `labels`.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.samples
            .iter()
            .find(|(n, l, _)| {
                n == name
                    && labels
                        .iter()
                        .all(|(k, v)| l.iter().any(|(lk, lv)| lk == k && lv == v))
            })
            .map(|(_, _, v)| *v)
    }
}

static SETUP: Mutex<()> = Mutex::new(());

/// The venv's python, created on first use.
fn python() -> PathBuf {
    let _once = SETUP.lock().unwrap_or_else(|p| p.into_inner());
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/prom-venv");
    let marker = venv.join(format!(".installed-{PARSER}"));
    let python = venv.join("bin/python");
    if !marker.exists() {
        let made = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .is_ok_and(|s| s.success());
        let pip = venv.join("bin/pip");
        let installed = made
            && Command::new(&pip)
                .args(["install", "--quiet", "--disable-pip-version-check", PARSER])
                .status()
                .is_ok_and(|s| s.success());
        assert!(
            installed,
            "could not set up {PARSER} in {}: install python3-venv and make PyPI reachable \
             (or run `python3 -m venv target/prom-venv && target/prom-venv/bin/pip install {PARSER}`)",
            venv.display()
        );
        std::fs::write(&marker, b"").expect("marker");
    }
    python
}

/// Parses `text`; panics with the parser's message when it rejects the exposition.
pub fn parse(text: &str) -> Vec<Family> {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/support/prom_parse.py");
    let mut child = Command::new(python())
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the parser");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("feed the parser");
    let out = child.wait_with_output().expect("parser output");
    assert!(
        out.status.success(),
        "the Prometheus parser rejected the exposition: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    let families: Vec<Value> = serde_json::from_slice(&out.stdout).expect("parser JSON");
    families
        .into_iter()
        .map(|f| Family {
            name: f["name"].as_str().unwrap_or_default().to_string(),
            kind: f["type"].as_str().unwrap_or_default().to_string(),
            samples: f["samples"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|s| {
                    let labels = s["labels"]
                        .as_object()
                        .into_iter()
                        .flatten()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                        .collect();
                    (
                        s["name"].as_str().unwrap_or_default().to_string(),
                        labels,
                        s["value"].as_f64().unwrap_or(f64::NAN),
                    )
                })
                .collect(),
        })
        .collect()
}
