//! The fake upstreams for `scripts/e2e-clients.sh`: starts the test fake Bedrock from
//! tests/support/fake_bedrock.rs (SigV4 checked on every request) on 127.0.0.1 with a few
//! canned documents, prints where it is and the credentials it accepts as one JSON line on
//! stdout, and serves until stdin closes (or SIGTERM); then prints its request counters as
//! one JSON line on stdout, so the caller can check that every call was signed correctly.
//!
//! It must not reach the network or hold real credentials: test keys only, loopback only.
//! Run it with stdin attached to something that stays open (a pipe or FIFO): with stdin at
//! /dev/null it stops at once.
//!
//! Usage: `cargo run --example fake_upstreams`.

// An inline module with a path, so fake_bedrock.rs finds its submodules in
// tests/support/fake_bedrock/ as it does under tests/. The fake serves many tests; this
// program uses a few of its helpers.
#[allow(dead_code)]
#[path = "../tests/support"]
mod support {
    pub mod fake_bedrock;
    pub mod fake_server;
}

use serde_json::json;
use std::io::Read;
use std::process::ExitCode;
use support::fake_bedrock::corpus::TINY_PNG;
use support::fake_bedrock::reading_corpus::{self as rc, HANDBOOK_REFERENCES};
use support::fake_bedrock::{FakeBedrock, FakeDoc, ACCESS_KEY, SECRET_KEY};

/// Documents the e2e clients search for; each has words no other document has, so a query
/// naming them must bring back exactly that passage. The ferry document has ids for
/// get_document_link; the lighthouse one is an IMAGE (a real PNG the clients decode).
fn canned_docs() -> Vec<FakeDoc> {
    vec![
        FakeDoc::new(
            "Harbour ferry timetable: the first ferry leaves pier nine at 07:45 every weekday.",
            json!({"type": "S3", "s3Location": {"uri": "s3://e2e-docs/transport/ferry.md"}}),
        )
        .in_source("transport/ferry timetable.md", "DSE2E00001"),
        FakeDoc::media(
            "Lighthouse sketch",
            json!({"type": "IMAGE", "byteContent": format!("data:image/png;base64,{TINY_PNG}")}),
            json!({"type": "S3", "s3Location": {"uri": "s3://e2e-docs/images/lighthouse.png"}}),
        )
        .in_source("images/lighthouse.png", "DSE2E00001"),
        FakeDoc::new(
            "Canteen menu: the kitchen serves lentil soup on Tuesdays and Thursdays.",
            json!({"type": "WEB", "webLocation": {"url": "https://intranet.example.com/canteen"}}),
        ),
        FakeDoc::new(
            "Parking policy: visitors register their licence plate at the reception desk.",
            json!({"type": "CONFLUENCE", "confluenceLocation": {"url": "https://example.atlassian.net/wiki/spaces/FAC/pages/7"}}),
        ),
    ]
}

fn main() -> ExitCode {
    if std::env::args().len() > 1 {
        eprintln!("fake_upstreams: takes no arguments; it serves until stdin closes");
        return ExitCode::from(2);
    }
    let bedrock = FakeBedrock::start();
    // A managed knowledge base: the server must learn that from GetKnowledgeBase.
    bedrock.set_kb_type("MANAGED");
    // The long travel handbook (over 70,000 characters) for read_document page by page.
    let mut docs = canned_docs();
    docs.push(
        FakeDoc::new(
            "Travel handbook 2026: booking rules, approvals and receipts for every trip.",
            json!({"type": "S3", "s3Location": {"uri": "s3://e2e-docs/policies/travel-handbook-2026.pdf"}}),
        )
        .in_source(rc::HANDBOOK_ID, rc::POLICY_DS),
    );
    bedrock.set_corpus(docs);
    bedrock.set_extracted(rc::HANDBOOK_ID, rc::handbook_layout());
    let handbook = rc::handbook_text();
    let sha: String = ring::digest::digest(&ring::digest::SHA256, handbook.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    bedrock.set_kb(
        "E2E fake knowledge base",
        "Canned documents for the client end-to-end checks",
        "ACTIVE",
    );
    let hello = json!({
        "bedrock_url": bedrock.url(),
        "access_key_id": ACCESS_KEY,
        "secret_access_key": SECRET_KEY,
        "region": bedrock.region(),
        "kb_id": bedrock.kb_id(),
        "long_doc": {"query": "travel handbook booking rules", "chars": handbook.chars().count(),
            "sha256": sha, "references": HANDBOOK_REFERENCES,
            "document_id": rc::HANDBOOK_ID, "data_source_id": rc::POLICY_DS},
    });
    println!("{hello}");
    // Any read error means the caller is gone: stop the same way as on EOF.
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    let counters = json!({
        "requests": bedrock.requests(),
        "accepted": bedrock.accepted(),
        "retrieve_calls": bedrock.retrieve_calls(),
        "info_calls": bedrock.info_calls(),
        "document_calls": bedrock.document_calls(),
        "downloads_served": bedrock.downloads_served(),
        "agentic_finished": bedrock.agentic_finished(),
        "auth_failures": bedrock.auth_failures(),
    });
    println!("{counters}");
    ExitCode::SUCCESS
}
