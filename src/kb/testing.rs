//! The one in-memory knowledge base for tests and fuzzing: canned passages, a canned error
//! (for every query or only for some), or a panic standing in for a backend bug; and a
//! record of every call. Unit tests, integration tests and the fuzz crate all use this one,
//! so it is compiled into the library (hidden from the docs) rather than behind
//! `cfg(test)`, which other crates cannot see. Never touches network or disk.

use super::{KbError, KbInfo, KnowledgeBase, Location, Passage, Retrieval};
use serde_json::Map;
use std::sync::{Mutex, MutexGuard};

/// Returns up to three passages mentioning the query, unless told to fail or panic.
#[derive(Default)]
pub struct FakeKb {
    /// The error retrieves return, if any (for every query, or only those starting with
    /// `fail_prefix` when that is set).
    pub fail: Option<KbError>,
    /// Limits `fail` to queries starting with this prefix.
    pub fail_prefix: Option<String>,
    /// Every retrieve panics, standing in for any bug below the router.
    pub panic: bool,
    /// (query, max_results) of each retrieve.
    pub calls: Mutex<Vec<(String, u32)>>,
}

impl FakeKb {
    /// A knowledge base whose retrieves fail with `e`.
    pub fn failing(e: KbError) -> FakeKb {
        FakeKb {
            fail: Some(e),
            ..FakeKb::default()
        }
    }

    /// A knowledge base whose retrieves fail with `e` for queries starting with `prefix`
    /// and answer the others.
    pub fn failing_on(prefix: &str, e: KbError) -> FakeKb {
        FakeKb {
            fail: Some(e),
            fail_prefix: Some(prefix.to_string()),
            ..FakeKb::default()
        }
    }

    /// A knowledge base whose retrieves panic.
    pub fn panicking() -> FakeKb {
        FakeKb {
            panic: true,
            ..FakeKb::default()
        }
    }

    /// How many retrieves have been made.
    pub fn call_count(&self) -> usize {
        self.recorded().len()
    }

    /// The calls so far; a panic in another test thread must not hide them.
    fn recorded(&self) -> MutexGuard<'_, Vec<(String, u32)>> {
        self.calls.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn fails(&self, query: &str) -> Option<&KbError> {
        let applies = self
            .fail_prefix
            .as_deref()
            .is_none_or(|p| query.starts_with(p));
        self.fail.as_ref().filter(|_| applies)
    }
}

impl KnowledgeBase for FakeKb {
    fn retrieve(&self, query: &str, max_results: u32) -> Result<Retrieval, KbError> {
        self.recorded().push((query.to_string(), max_results));
        if self.panic {
            panic!("bug in a backend");
        }
        if let Some(e) = self.fails(query) {
            return Err(e.clone());
        }
        let results = (0..max_results.min(3))
            .map(|i| Passage {
                text: format!("passage {i} about {query}"),
                content_type: "TEXT".into(),
                score: Some(1.0 - f64::from(i) / 10.0),
                location: Some(Location {
                    kind: "S3".into(),
                    uri: Some(format!("s3://b/{i}.md")),
                }),
                metadata: Map::new(),
                ..Passage::default()
            })
            .collect();
        Ok(Retrieval {
            results,
            upstream_ms: 12,
            ..Retrieval::default()
        })
    }

    fn info(&self) -> KbInfo {
        KbInfo {
            backend: "fake".into(),
            kb_id: "KB12345678".into(),
            region: "eu-west-1".into(),
            status: "ACTIVE".into(),
            name: Some("Docs".into()),
            ..KbInfo::default()
        }
    }
}
