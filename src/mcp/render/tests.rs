//! Tests for rendering search results as MCP tool content.

use super::*;
use crate::config::reading::ImageResults;
use crate::kb::{Image, Location, Passage, Retrieval};
use serde_json::{json, Map, Value};

/// The search result as the client sees it.
fn render(query: &str, retrieval: &Retrieval, shape: Shape<'_>) -> Value {
    let out = search_result(query.to_string(), retrieval.clone(), shape);
    serde_json::to_value(&out.result).unwrap()
}

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
        ..Shape::default()
    };
    let out = render("q", &retrieval, shape);
    let blocks = out["content"].as_array().unwrap();
    let images = blocks.iter().filter(|b| b["type"] == "image").count();
    // 4 MiB / 900 KiB = 4 images inline; each is introduced by a text block naming it.
    assert_eq!(images, 4);
    assert_eq!(blocks.len(), 1 + 2 * 4);
    assert_eq!(
        blocks[1]["text"],
        "Image of result [1] from s3://b/0.png, result position 1; nearest text: no text \
         accompanies it"
    );
    let text = blocks[0]["text"].as_str().unwrap();
    assert_eq!(
        text.matches("past the 4.0 MB of images").count(),
        2,
        "{text}"
    );
    assert!(text.contains("call get_document_link"), "{text}");
    assert_eq!(
        text.matches("caption: Image of result [").count(),
        6,
        "every image has a caption"
    );
    // Captions only: no image data, every image still captioned, and the way to see it.
    let captions_only = render(
        "q",
        &Retrieval {
            results: vec![Passage {
                media_id: Some("5b2c1f0e-9a7d-4c3b-8e6f-1a2b3c4d5e6f".into()),
                text: "Floor plan, second floor".into(),
                metadata: [(search::PAGE_KEY.to_string(), json!(3))]
                    .into_iter()
                    .collect(),
                ..image_passage(0, 3000)
            }],
            ..Retrieval::default()
        },
        Shape {
            read: true,
            images: ImageResults::Caption,
            ..shape
        },
    );
    let blocks = captions_only["content"].as_array().unwrap();
    assert_eq!(blocks.len(), 1, "no image block");
    let text = blocks[0]["text"].as_str().unwrap();
    assert!(text.contains("IMAGE_RESULTS=caption"), "{text}");
    assert!(
        text.contains(
            "caption: Image of result [1] from s3://b/0.png, page 3; nearest text: \"Floor plan, second floor\""
        ),
        "{text}"
    );
    assert!(
        text.contains("call read_document with its document_id, data_source_id and media_id"),
        "{text}"
    );
    let shown: Vec<bool> = out["structuredContent"]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["image"]["shown"].as_bool().unwrap())
        .collect();
    assert_eq!(shown, [true, true, true, true, false, false]);
    // Without the link tool, no pointer to it.
    let out = render(
        "q",
        &retrieval,
        Shape {
            links: false,
            ..shape
        },
    );
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
        ..Shape::default()
    };
    let out = render("q", &retrieval, shape);
    let text = out["content"][0]["text"].as_str().unwrap();
    assert!(
        text.contains("guardrail intervened") && text.contains("hidden documents"),
        "{text}"
    );
    assert_eq!(out["structuredContent"]["note"], "Note: hidden documents.");
    assert_eq!(out["structuredContent"]["guardrailAction"], "INTERVENED");
    let plain = render("q", &Retrieval::default(), Shape::default());
    assert!(plain.get("structuredContent").is_none());
    assert!(!plain["content"][0]["text"]
        .as_str()
        .unwrap()
        .contains("Note"));
}

/// Passages of every shape the renderer treats differently.
fn assorted() -> Vec<Passage> {
    let mut metadata = Map::new();
    metadata.insert("page".into(), json!(3));
    metadata.insert("tags".into(), json!(["a", {"b": null}]));
    let text = |t: &str, kind: &str| Passage {
        text: t.into(),
        content_type: kind.into(),
        ..Passage::default()
    };
    vec![
        Passage {
            score: Some(0.123_456),
            location: Some(Location {
                kind: "S3".into(),
                uri: Some("s3://b/\"quoted\" é.pdf".into()),
            }),
            document_id: Some("doc-1".into()),
            data_source_id: Some("DS1".into()),
            metadata: metadata.clone(),
            ..text("plain text\nwith \"quotes\", \\ and \u{1F600}", "TEXT")
        },
        Passage {
            location: Some(Location {
                kind: "SQL".into(),
                uri: None,
            }),
            ..text("region: EMEA\nrevenue: 4.2", "ROW")
        },
        Passage {
            media_uri: Some("s3://b/a.mp3".into()),
            document_id: Some("doc-a".into()),
            ..text("hello all", "AUDIO")
        },
        Passage {
            media_uri: Some("s3://b/v.mp4".into()),
            score: Some(1.0),
            ..text("a demo", "VIDEO")
        },
        Passage {
            media_id: Some("m1".into()),
            metadata,
            ..image_passage(7, 300)
        },
        Passage {
            location: None,
            document_id: None,
            ..image_passage(8, 3)
        },
        Passage {
            location: None,
            ..image_passage(9, 1024 * 1024 + 3)
        },
        text("", ""),
    ]
}

/// The search result for every passage shape, shape option and budget, as
/// `render_search.golden.json` records it.
#[test]
fn search_result_renders_as_the_golden_file_records() {
    let mut retrievals = vec![
        Retrieval::default(),
        Retrieval {
            results: assorted(),
            upstream_ms: 12,
            guardrail_intervened: true,
            note: None,
            next_token: None,
        },
        Retrieval {
            results: assorted(),
            ..Retrieval::default()
        },
        // The text budget cuts the third passage; the image budget the fifth image.
        Retrieval {
            results: vec![
                Passage {
                    text: "x".repeat(60_000),
                    ..Passage::default()
                },
                Passage {
                    text: "é".repeat(39_000),
                    ..Passage::default()
                },
                Passage {
                    text: "y".repeat(2_000),
                    ..Passage::default()
                },
            ],
            ..Retrieval::default()
        },
        Retrieval {
            results: (0..6).map(|i| image_passage(i, 900 * 1024)).collect(),
            ..Retrieval::default()
        },
    ];
    retrievals.push(Retrieval {
        results: assorted().into_iter().take(1).collect(),
        ..Retrieval::default()
    });
    let mut cases = Vec::new();
    for (n, retrieval) in retrievals.iter().enumerate() {
        for query in ["q", "say \"hi\" \\ é\n"] {
            for (i, (structured, links, note)) in [
                (false, false, None),
                (true, false, None),
                (false, true, Some("Note: hidden documents.")),
                (true, true, Some("Note: \"hidden\".")),
            ]
            .into_iter()
            .enumerate()
            {
                let shape = Shape {
                    structured,
                    links,
                    note,
                    read: i % 2 == 1,
                    images: if i == 2 {
                        ImageResults::Caption
                    } else {
                        ImageResults::Inline
                    },
                    next_page: (i >= 2).then_some("np1.AAAA"),
                };
                let label = format!(
                    "retrieval {n}, query {query:?}, structured {structured}, links {links}, note {note:?}, read {}, images {:?}, next_page {:?}", shape.read, shape.images, shape.next_page
                );
                cases.push((label, render(query, retrieval, shape)));
            }
        }
    }
    assert_eq!(cases.len(), 48);
    crate::golden::check("src/mcp/render/render_search.golden.json", cases);
}

#[test]
fn search_result_counts_and_size_hint_follow_the_kept_passages() {
    let retrieval = Retrieval {
        results: assorted(),
        upstream_ms: 12,
        ..Retrieval::default()
    };
    let out = search_result("q".into(), retrieval, Shape::default());
    assert_eq!((out.results, out.upstream_ms), (Some(8), Some(12)));
    let bytes = serde_json::to_vec(&out.result).unwrap().len();
    let hint = out.result.size_hint();
    // One buffer, sized once: the hint covers the result without being wildly over.
    assert!(hint >= bytes && hint < 4 * bytes, "{hint} vs {bytes}");
}

#[test]
fn structured_content_carries_images_rows_media_notes_and_guardrail() {
    let retrieval = Retrieval {
        next_token: None,
        results: vec![
            Passage {
                media_id: Some("m1".into()),
                ..image_passage(1, 3)
            },
            Passage {
                text: "region: EMEA".into(),
                content_type: "ROW".into(),
                score: Some(0.5),
                ..Passage::default()
            },
            Passage {
                text: "hello".into(),
                content_type: "AUDIO".into(),
                media_uri: Some("s3://b/a.mp3".into()),
                location: Some(Location {
                    kind: "S3".into(),
                    uri: None,
                }),
                ..Passage::default()
            },
        ],
        upstream_ms: 0,
        guardrail_intervened: true,
        note: None,
    };
    let shape = Shape {
        structured: true,
        links: true,
        read: true,
        note: Some("Note: n."),
        next_page: Some("np1.X"),
        ..Shape::default()
    };
    let out = render("q", &retrieval, shape);
    let caption = "Image of result [1] from s3://b/1.png, result position 1; nearest text: \
        no text accompanies it";
    let text = format!(
        "Found 3 results for \"q\":\n\
        \n[1] source s3://b/1.png (S3) | content IMAGE\n\
        document_id: doc1 | data_source_id: DS1 | media_id: m1\n\
        (image, image/png, 1 KB: shown below)\n\
        caption: {caption}\n\n\
        \n[2] score 0.500 | source unknown | content ROW\nregion: EMEA\n\
        \n[3] source type S3 | content AUDIO\nmedia: s3://b/a.mp3\nhello\n\
        \nTo read a whole document, call read_document with the document_id and \
        data_source_id of its result.\n\
        \nMore results are available: call search_knowledge_base again with the same \
        arguments and next_page=\"np1.X\".\n\
        \nNote: a Bedrock guardrail intervened in this search, so some content may have been \
        blocked or masked.\n\
        \nNote: n.\n"
    );
    let expected = json!({
        "content": [
            {"type": "text", "text": text},
            {"type": "text", "text": caption},
            {"type": "image", "data": "AAAA", "mimeType": "image/png"},
        ],
        "isError": false,
        "structuredContent": {
            "query": "q",
            "count": 3,
            "note": "Note: n.",
            "guardrailAction": "INTERVENED",
            "moreAvailable": true,
            "nextPage": "np1.X",
            "results": [
                {"text": "", "contentType": "IMAGE", "score": null,
                 "location": {"type": "S3", "uri": "s3://b/1.png"}, "metadata": {},
                 "documentId": "doc1", "dataSourceId": "DS1", "mediaId": "m1",
                 "image": {"mimeType": "image/png", "sizeBytes": 3, "shown": true,
                    "caption": caption}},
                {"text": "region: EMEA", "contentType": "ROW", "score": 0.5, "location": null,
                 "metadata": {}},
                {"text": "hello", "contentType": "AUDIO", "score": null,
                 "location": {"type": "S3", "uri": null}, "metadata": {},
                 "mediaUri": "s3://b/a.mp3"},
            ],
        },
    });
    assert_eq!(out, expected);
}
