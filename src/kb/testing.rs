//! An in-memory knowledge base for unit tests: canned passages or a canned error, and a
//! record of every call.

use super::{KbError, KbInfo, KnowledgeBase, Location, Passage, Retrieval};
use serde_json::Map;
use std::sync::Mutex;

/// Returns up to three passages mentioning the query, or `fail` when set.
#[derive(Default)]
pub struct FakeKb {
    /// The error every retrieve returns, if any.
    pub fail: Option<KbError>,
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
}

impl KnowledgeBase for FakeKb {
    fn retrieve(&self, query: &str, max_results: u32) -> Result<Retrieval, KbError> {
        self.calls
            .lock()
            .unwrap()
            .push((query.to_string(), max_results));
        if let Some(e) = &self.fail {
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
