//! The fake Bedrock's in-memory corpus and its scoring: word overlap between the query and
//! each document, so results depend on the query the client actually sent. Documents may
//! carry Bedrock's non-text content (IMAGE, ROW, AUDIO, VIDEO), a documentId and data source
//! (for GetDocumentContent), and an access list of user ids (for ACL-aware retrieval).

use serde_json::{json, Value};
use std::collections::BTreeSet;

/// A 1×1 PNG, base64: small enough to send inline, real enough for a client to decode.
pub const TINY_PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";

/// One document the fake can return.
#[derive(Clone, Debug)]
pub struct FakeDoc {
    /// Passage text (also what the query is scored against).
    pub text: String,
    /// TEXT, IMAGE, ROW, AUDIO or VIDEO.
    pub content_type: String,
    /// The whole `content` object to return instead of `{text, type}` (non-text results).
    pub content: Option<Value>,
    /// The result's `documentId`, if any.
    pub document_id: Option<String>,
    /// The data source the document belongs to (returned in metadata).
    pub data_source_id: Option<String>,
    /// User ids allowed to see it; `None` = everyone (a source without access lists).
    pub acl: Option<Vec<String>>,
    /// The original's MIME type, for GetDocumentContent.
    pub mime_type: String,
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
            content: None,
            document_id: None,
            data_source_id: None,
            acl: None,
            mime_type: "text/markdown".into(),
            location,
            metadata: json!({ "x-amz-bedrock-kb-chunk-id": format!("chunk-{}", text.len()) }),
        }
    }

    /// Sets the documentId and data source.
    pub fn in_source(mut self, document_id: &str, data_source_id: &str) -> FakeDoc {
        self.document_id = Some(document_id.into());
        self.data_source_id = Some(data_source_id.into());
        self
    }

    /// Only these user ids may see it.
    pub fn readable_by(mut self, users: &[&str]) -> FakeDoc {
        self.acl = Some(users.iter().map(|u| u.to_string()).collect());
        self
    }

    /// A non-text result: `content` is Bedrock's content object, `searchable` what the
    /// query is scored against.
    pub fn media(searchable: &str, content: Value, location: Value) -> FakeDoc {
        let mut d = FakeDoc::new(searchable, location);
        d.content_type = content["type"].as_str().unwrap_or("TEXT").into();
        d.content = Some(content);
        d
    }

    /// The `content` object Bedrock returns for it.
    pub fn content_json(&self) -> Value {
        self.content
            .clone()
            .unwrap_or_else(|| json!({"text": self.text, "type": self.content_type}))
    }
}

/// The document id with a space, a slash and non-ASCII letters (GetDocumentContent must
/// percent-encode it as one path segment and sign that correctly).
pub const AWKWARD_DOC_ID: &str = "Salary bands/2026 – Übersicht.xlsx";
/// The only user allowed to read the salary document.
pub const ALICE: &str = "alice@example.com";
/// A user who may read only what everyone may.
pub const BOB: &str = "bob@example.com";

/// A managed knowledge base's corpus: one public TEXT document, one TEXT document behind an
/// access list (readable by `ALICE` only, with `AWKWARD_DOC_ID`), and one each of IMAGE,
/// ROW, AUDIO and VIDEO, all with documentIds. Each has words no other has.
pub fn multimodal_corpus() -> Vec<FakeDoc> {
    let mut salary = FakeDoc::new(
        "Salary bands for 2026: engineering band E3 pays from 70k to 90k.",
        json!({"type": "SHAREPOINT", "sharePointLocation": {"url": "https://example.sharepoint.com/sites/hr/Salary%20bands"}}),
    )
    .in_source(AWKWARD_DOC_ID, "DSSHAREPT1")
    .readable_by(&[ALICE]);
    salary.mime_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".into();
    let mut image = FakeDoc::media(
        "Architecture diagram of the payment platform",
        json!({"type": "IMAGE", "byteContent": format!("data:image/png;base64,{TINY_PNG}")}),
        json!({"type": "ONEDRIVE", "oneDriveLocation": {"url": "https://example-my.sharepoint.com/personal/arch.png"}}),
    )
    .in_source("diagrams/architecture.png", "DSONEDRIVE");
    image.mime_type = "image/png".into();
    image.metadata["_media_id"] = json!("0f8fad5b-d9cb-469f-a165-70867728950e");
    vec![
        FakeDoc::new(
            "Onboarding checklist: laptops are issued on the first day.",
            json!({"type": "S3", "s3Location": {"uri": "s3://kb-docs/hr/onboarding.md"}}),
        )
        .in_source("s3://kb-docs/hr/onboarding.md", "DSPUBLIC01"),
        salary,
        image,
        FakeDoc::media(
            "Quarterly revenue by region",
            json!({"type": "ROW", "row": [
                {"columnName": "region", "columnValue": "EMEA", "type": "STRING"},
                {"columnName": "revenue", "columnValue": "4200000", "type": "LONG"}
            ]}),
            json!({"type": "SQL", "sqlLocation": {"query": "SELECT region, revenue FROM sales"}}),
        )
        .in_source("sales-row-1", "DSSQL00001"),
        FakeDoc::media(
            "All-hands recording",
            json!({"type": "AUDIO", "audio": {"s3Uri": "s3://kb-media/allhands.mp3",
                "transcription": "All-hands recording: the new office opens in Lisbon."}}),
            json!({"type": "S3", "s3Location": {"uri": "s3://kb-docs/media/allhands.mp3"}}),
        )
        .in_source("media/allhands.mp3", "DSMEDIA001"),
        FakeDoc::media(
            "Safety training video",
            json!({"type": "VIDEO", "video": {"s3Uri": "s3://kb-media/safety.mp4",
                "summary": "Safety training video: using the fire extinguisher."}}),
            json!({"type": "GOOGLEDRIVE", "googleDriveLocation": {"url": "https://drive.google.com/file/d/safety"}}),
        )
        .in_source("media/safety.mp4", "DSMEDIA001"),
    ]
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

/// Whether `metadata` passes a RetrievalFilter. The fake applies equals, notEquals, in,
/// andAll and orAll; other operators are accepted and let everything through.
pub fn filter_matches(filter: &Value, metadata: &Value) -> bool {
    let Some((op, arg)) = filter.as_object().and_then(|o| o.iter().next()) else {
        return true;
    };
    let field = |a: &Value| metadata.get(a["key"].as_str().unwrap_or("")).cloned();
    match op.as_str() {
        "andAll" => arg
            .as_array()
            .is_some_and(|l| l.iter().all(|f| filter_matches(f, metadata))),
        "orAll" => arg
            .as_array()
            .is_some_and(|l| l.iter().any(|f| filter_matches(f, metadata))),
        "equals" => field(arg).as_ref() == Some(&arg["value"]),
        "notEquals" => field(arg).as_ref() != Some(&arg["value"]),
        "in" => field(arg).is_some_and(|v| arg["value"].as_array().is_some_and(|l| l.contains(&v))),
        _ => true,
    }
}

/// Whether `user` (a `userContext.userId`, if any) may see `doc`. Sources with access lists
/// return nothing without a user id, as Bedrock's do.
pub fn visible(doc: &FakeDoc, user: Option<&str>) -> bool {
    match (&doc.acl, user) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(allowed), Some(u)) => allowed.iter().any(|a| a.eq_ignore_ascii_case(u)),
    }
}

/// The Retrieve answer body for `hits`; `data_source_key` is where the data source id goes
/// (`_data_source_id` on managed knowledge bases, `x-amz-bedrock-kb-data-source-id` else).
pub fn retrieve_body(hits: &[(f64, &FakeDoc)], data_source_key: &str) -> Value {
    let results: Vec<Value> = hits
        .iter()
        .map(|(score, d)| {
            let mut metadata = d.metadata.clone();
            if let Some(ds) = &d.data_source_id {
                metadata[data_source_key] = json!(ds);
            }
            let mut r = json!({
                "content": d.content_json(),
                "location": d.location,
                "score": score,
                "metadata": metadata,
            });
            if let Some(id) = &d.document_id {
                r["documentId"] = json!(id);
            }
            r
        })
        .collect();
    json!({ "retrievalResults": results })
}
