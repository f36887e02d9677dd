//! Tests for rendering search results as MCP tool content.

use super::*;
use crate::kb::{Image, Location};

fn image_passage(i: usize, bytes: usize) -> Passage {
    Passage {
        content_type: "IMAGE".into(),
        image: Some(Image {
            mime_type: "image/png".into(),
            base64: "A".repeat(bytes / 3 * 4),
        }),
        location: Some(Location {
            kind: "S3".into(),
            uri: Some(format!("s3://b/{i}.png")),
        }),
        document_id: Some(format!("doc{i}")),
        data_source_id: Some("DS1".into()),
        ..Passage::default()
    }
}

#[test]
fn images_stop_at_the_per_answer_budget_and_say_how_to_open_the_rest() {
    let results = (0..6).map(|i| image_passage(i, 900 * 1024)).collect();
    let retrieval = Retrieval {
        results,
        ..Retrieval::default()
    };
    let shape = Shape {
        structured: true,
        links: true,
        note: None,
    };
    let out = search_result("q", &retrieval, shape).result;
    let blocks = out["content"].as_array().unwrap();
    let images = blocks.iter().filter(|b| b["type"] == "image").count();
    // 4 MiB / 900 KiB = 4 images inline; each is introduced by a text block naming it.
    assert_eq!(images, 4);
    assert_eq!(blocks.len(), 1 + 2 * 4);
    assert_eq!(blocks[1]["text"], "Image of result [1] from s3://b/0.png:");
    let text = blocks[0]["text"].as_str().unwrap();
    assert_eq!(
        text.matches("past the 4.0 MB of images").count(),
        2,
        "{text}"
    );
    assert!(text.contains("call get_document_link"), "{text}");
    let shown: Vec<bool> = out["structuredContent"]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["image"]["shown"].as_bool().unwrap())
        .collect();
    assert_eq!(shown, [true, true, true, true, false, false]);
    // Without the link tool, no pointer to it.
    let out = search_result(
        "q",
        &retrieval,
        Shape {
            links: false,
            ..shape
        },
    )
    .result;
    assert!(!out["content"][0]["text"]
        .as_str()
        .unwrap()
        .contains("get_document_link"));
}

#[test]
fn notes_and_guardrail_interventions_reach_text_and_structured_content() {
    let retrieval = Retrieval {
        guardrail_intervened: true,
        ..Retrieval::default()
    };
    let shape = Shape {
        structured: true,
        links: false,
        note: Some("Note: hidden documents."),
    };
    let out = search_result("q", &retrieval, shape).result;
    let text = out["content"][0]["text"].as_str().unwrap();
    assert!(
        text.contains("guardrail intervened") && text.contains("hidden documents"),
        "{text}"
    );
    assert_eq!(out["structuredContent"]["note"], "Note: hidden documents.");
    assert_eq!(out["structuredContent"]["guardrailAction"], "INTERVENED");
    let plain = search_result("q", &Retrieval::default(), Shape::default()).result;
    assert!(plain.get("structuredContent").is_none());
    assert!(!plain["content"][0]["text"]
        .as_str()
        .unwrap()
        .contains("Note"));
}
