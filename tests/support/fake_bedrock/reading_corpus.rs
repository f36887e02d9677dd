//! A corpus for reading whole documents, paging searches and captioning images (issue 20):
//! a long travel handbook (over 70,000 characters, eight parts in a Q-Business-like
//! `nonPlainTextDocumentContent` layout, with non-ASCII letters), an expense guide in a
//! nested layout only the text-like keys make sense of (with one 21,000-character run
//! without whitespace), a document in a layout with no text at all, a document only `ALICE`
//! may read, a video (no extracted text), an image from page 3 of a PDF, and twelve short
//! notes sharing the word "itinerary" (three pages of five).

use super::corpus::{FakeDoc, ALICE};
use super::FakeBedrock;
use serde_json::{json, Value};

/// The handbook's document id (a search result's `documentId`).
pub const HANDBOOK_ID: &str = "policies/travel handbook 2026.pdf";
/// The data source of most documents here.
pub const POLICY_DS: &str = "DSPOLICY01";
/// The expense guide (nested layout).
pub const GUIDE_ID: &str = "finance/expense-guide-2024.docx";
/// A document whose extracted JSON has no text the server can find.
pub const ODD_LAYOUT_ID: &str = "finance/ledger-export.bin";
/// The document only `ALICE` may read.
pub const SALARY_REVIEW_ID: &str = "hr/salary-review-2026.docx";
/// What the salary review says (to look for in what a user got).
pub const SALARY_REVIEW_TEXT: &str =
    "Salary review 2026: the engineering budget grows by 4.5 percent.";
/// A video: Bedrock has no extracted text for it.
pub const VIDEO_ID: &str = "media/safety-training.mp4";
/// The image result's document, media id and page.
pub const FLOOR_PLAN_ID: &str = "facilities/lisbon-office.pdf";
/// The image's `_media_id`.
pub const FLOOR_PLAN_MEDIA: &str = "5b2c1f0e-9a7d-4c3b-8e6f-1a2b3c4d5e6f";
/// Where the image comes from.
pub const FLOOR_PLAN_URI: &str = "s3://kb-docs/facilities/lisbon-office.pdf";
/// The query word the twelve notes share.
pub const NOTES_WORD: &str = "itinerary";
/// How many notes share it.
pub const NOTES: usize = 12;

/// The handbook's eight parts (pages of the PDF), each of several paragraphs.
pub fn handbook_parts() -> Vec<String> {
    (1..=8)
        .map(|p| {
            let paragraphs: Vec<String> = (1..=22)
                .map(|k| {
                    format!(
                        "Clause {p}.{k}: travellers booking a category-{k} trip on part {p} compare three offers, \
                         keep every receipt (hotel, café, taxi to Zürich or Lisboa) and quote approval \
                         reference TRV-{p:02}-{k:03} on the claim. Claims without the reference are returned \
                         within ten working days; the traveller's manager confirms the purpose of the trip, \
                         and finance checks the amount against the per-diem table for the destination."
                    )
                })
                .collect();
            paragraphs.join("\n\n")
        })
        .collect()
}

/// The handbook's whole text as the server must assemble it (parts joined by a blank line).
pub fn handbook_text() -> String {
    handbook_parts().join("\n\n")
}

/// The handbook's extracted JSON: Q-Business-like parts, one per PDF page.
pub fn handbook_layout() -> Value {
    let parts: Vec<Value> = handbook_parts()
        .into_iter()
        .enumerate()
        .map(|(i, t)| json!({"pageNumber": i + 1, "text": t}))
        .collect();
    json!({"documentId": HANDBOOK_ID, "nonPlainTextDocumentContent": parts})
}

/// The handbook's approval references (`TRV-pp-kkk`), one per paragraph: each must be read
/// exactly once.
pub const HANDBOOK_REFERENCES: usize = 8 * 22;

/// The expense guide's text values, in document order.
pub fn guide_texts() -> Vec<String> {
    let mut texts = Vec::new();
    for s in 1..=6 {
        texts.push(format!(
            "Section {s}: what counts as a business expense in 2024"
        ));
        for k in 1..=10 {
            texts.push(format!(
                "Guide rule {s}-{k}: meals with customers are reimbursed up to the limit of band {k}; \
                 alcohol is never reimbursed, and a receipt older than ninety days is refused."
            ));
        }
    }
    // A run with no whitespace at all: the page must be cut inside it, losing nothing.
    texts.insert(
        30,
        format!("LEDGER-HASH:{}", "0123456789abcdef".repeat(1_313)),
    );
    texts
}

/// The expense guide's whole text (text values joined by a blank line).
pub fn guide_text() -> String {
    guide_texts().join("\n\n")
}

/// The expense guide's extracted JSON: nested, text under `text` keys only.
pub fn guide_layout() -> Value {
    let texts = guide_texts();
    let blocks: Vec<Value> = texts
        .iter()
        .enumerate()
        .map(|(i, t)| json!({"kind": if t.starts_with("Section") {"heading"} else {"paragraph"}, "index": i, "text": t}))
        .collect();
    let pages: Vec<Value> = blocks
        .chunks(11)
        .enumerate()
        .map(|(n, b)| json!({"pageNumber": n + 1, "blocks": b}))
        .collect();
    json!({"title": "Expense guide 2024", "sourceUri": "s3://kb-docs/finance/expense-guide-2024.docx", "pages": pages})
}

/// The corpus (serve it from a MANAGED knowledge base; `install` does it all).
pub fn reading_corpus() -> Vec<FakeDoc> {
    let s3 = |uri: &str| json!({"type": "S3", "s3Location": {"uri": uri}});
    let mut docs = vec![
        FakeDoc::new(
            "Travel handbook 2026: booking rules, approvals and receipts for every trip.",
            s3("s3://kb-docs/policies/travel-handbook-2026.pdf"),
        )
        .in_source(HANDBOOK_ID, POLICY_DS),
        FakeDoc::new(
            "Expense guide 2024: meals with customers, alcohol and old receipts.",
            s3("s3://kb-docs/finance/expense-guide-2024.docx"),
        )
        .in_source(GUIDE_ID, POLICY_DS),
        FakeDoc::new(
            "Ledger export of the finance system.",
            s3("s3://kb-docs/finance/ledger-export.bin"),
        )
        .in_source(ODD_LAYOUT_ID, POLICY_DS),
        FakeDoc::new(
            SALARY_REVIEW_TEXT,
            json!({"type": "SHAREPOINT", "sharePointLocation": {"url": "https://example.sharepoint.com/sites/hr/salary-review-2026.docx"}}),
        )
        .in_source(SALARY_REVIEW_ID, "DSHRDOCS01")
        .readable_by(&[ALICE]),
    ];
    let mut video = FakeDoc::media(
        "Safety training video",
        json!({"type": "VIDEO", "video": {"s3Uri": "s3://kb-media/safety-training.mp4",
            "summary": "Safety training: using the fire extinguisher."}}),
        s3("s3://kb-media/safety-training.mp4"),
    )
    .in_source(VIDEO_ID, "DSMEDIA001");
    video.mime_type = "video/mp4".into();
    docs.push(video);
    let mut image = FakeDoc::media(
        "Floor plan of the Lisbon office, second floor, with the meeting rooms",
        json!({"type": "IMAGE", "byteContent": format!("data:image/png;base64,{}", super::corpus::TINY_PNG)}),
        s3(FLOOR_PLAN_URI),
    )
    .in_source(FLOOR_PLAN_ID, "DSFACIL001");
    image.mime_type = "application/pdf".into();
    image.metadata["_media_id"] = json!(FLOOR_PLAN_MEDIA);
    image.metadata["x-amz-bedrock-kb-document-page-number"] = json!(3);
    docs.push(image);
    for i in 1..=NOTES {
        docs.push(
            FakeDoc::new(
                &format!("Travel note {i:02}: the {NOTES_WORD} for trip number {i:02} is filed with the travel desk."),
                s3(&format!("s3://kb-docs/notes/trip-{i:02}.md")),
            )
            .in_source(&format!("notes/trip-{i:02}.md"), POLICY_DS),
        );
    }
    docs
}

/// The text of note `i` (1-based), to find it in a result.
pub fn note_marker(i: usize) -> String {
    format!("trip number {i:02}")
}

/// Serves the reading corpus from a MANAGED `KB_ID`, with each document's extracted JSON.
pub fn install(bedrock: &FakeBedrock) {
    bedrock.set_kb_type("MANAGED");
    bedrock.set_corpus(reading_corpus());
    bedrock.set_extracted(HANDBOOK_ID, handbook_layout());
    bedrock.set_extracted(GUIDE_ID, guide_layout());
    bedrock.set_extracted(
        ODD_LAYOUT_ID,
        json!({"format": "ledger/v2", "rows": [[1, 2, 3], [4, 5, 6]], "checksum": 991}),
    );
    bedrock.set_extracted(
        SALARY_REVIEW_ID,
        json!({"plainTextDocumentContent": format!("{SALARY_REVIEW_TEXT}\n\nThe details follow in the appendix.")}),
    );
}
