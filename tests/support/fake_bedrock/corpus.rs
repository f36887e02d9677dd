//! The fake Bedrock's in-memory corpus and its scoring: word overlap between the query and
//! each document, so results depend on the query the client actually sent.

use serde_json::{json, Value};
use std::collections::BTreeSet;

/// One document the fake can return.
#[derive(Clone, Debug)]
pub struct FakeDoc {
    /// Passage text.
    pub text: String,
    /// TEXT, IMAGE or ROW.
    pub content_type: String,
    /// Bedrock's location object, e.g. `{"type":"S3","s3Location":{"uri":"s3://…"}}`.
    pub location: Value,
    /// Metadata object returned as is.
    pub metadata: Value,
}

impl FakeDoc {
    /// A TEXT document with `location` and a chunk-id metadata entry.
    pub fn new(text: &str, location: Value) -> FakeDoc {
        FakeDoc {
            text: text.into(),
            content_type: "TEXT".into(),
            location,
            metadata: json!({ "x-amz-bedrock-kb-chunk-id": format!("chunk-{}", text.len()) }),
        }
    }
}

/// Nine documents on different topics, one per location type (plus one type the client
/// does not know, GOOGLEDRIVE). "employees" and "policy" each occur in two of them.
pub fn default_corpus() -> Vec<FakeDoc> {
    let mut sql = FakeDoc::new(
        "Revenue by region for 2025: EMEA 4.2M, AMER 6.1M.",
        json!({"type": "SQL", "sqlLocation": {"query": "SELECT region, revenue FROM sales WHERE year = 2025"}}),
    );
    sql.content_type = "ROW".into();
    vec![
        FakeDoc::new(
            "Annual leave policy: employees get 25 days of paid vacation per year.",
            json!({"type": "S3", "s3Location": {"uri": "s3://kb-docs/hr/leave-policy.md"}}),
        ),
        FakeDoc::new(
            "The VPN client must be updated before connecting from home networks.",
            json!({"type": "WEB", "webLocation": {"url": "https://intranet.example.com/it/vpn"}}),
        ),
        FakeDoc::new(
            "Incident response runbook: page the on-call engineer and open a bridge.",
            json!({"type": "CONFLUENCE", "confluenceLocation": {"url": "https://example.atlassian.net/wiki/spaces/OPS/pages/42"}}),
        ),
        FakeDoc::new(
            "Customer Acme renewed their enterprise contract in March.",
            json!({"type": "SALESFORCE", "salesforceLocation": {"url": "https://example.my.salesforce.com/001xx000003DGb2"}}),
        ),
        FakeDoc::new(
            "Travel expenses policy: receipts are reimbursed within 30 days.",
            json!({"type": "SHAREPOINT", "sharePointLocation": {"url": "https://example.sharepoint.com/sites/finance/travel.docx"}}),
        ),
        FakeDoc::new(
            "Release notes: version 2.4 adds single sign-on with Entra ID.",
            json!({"type": "CUSTOM", "customDocumentLocation": {"id": "release-notes-2.4"}}),
        ),
        FakeDoc::new(
            "Security training is mandatory for all employees every year.",
            json!({"type": "KENDRA", "kendraDocumentLocation": {"uri": "https://kendra.example.com/doc/training"}}),
        ),
        sql,
        FakeDoc::new(
            "Brand guidelines: use the blue logo on light backgrounds.",
            json!({"type": "GOOGLEDRIVE", "googleDriveLocation": {"url": "https://drive.google.com/file/d/abc"}}),
        ),
    ]
}

fn words(text: &str) -> BTreeSet<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Documents sharing at least one word with `query`, best first (score = share of the
/// query's distinct words found), at most `n`.
pub fn search<'a>(docs: &'a [FakeDoc], query: &str, n: usize) -> Vec<(f64, &'a FakeDoc)> {
    let q = words(query);
    if q.is_empty() {
        return Vec::new();
    }
    let mut hits: Vec<(f64, usize, &FakeDoc)> = docs
        .iter()
        .enumerate()
        .filter_map(|(i, d)| {
            let found = words(&d.text).intersection(&q).count();
            (found > 0).then(|| (found as f64 / q.len() as f64, i, d))
        })
        .collect();
    hits.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    hits.into_iter().take(n).map(|(s, _, d)| (s, d)).collect()
}

/// The Retrieve answer body for `hits`.
pub fn retrieve_body(hits: &[(f64, &FakeDoc)]) -> Value {
    let results: Vec<Value> = hits
        .iter()
        .map(|(score, d)| {
            json!({
                "content": {"text": d.text, "type": d.content_type},
                "location": d.location,
                "score": score,
                "metadata": d.metadata,
            })
        })
        .collect();
    json!({ "retrievalResults": results })
}
