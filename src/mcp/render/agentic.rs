//! agentic_search's result: the steps taken, the answer with citation markers when one was
//! asked for, and the results with their sources, as text and as structured content.

use super::{ToolOutcome, MAX_TEXT_CHARS};
use crate::kb::agentic::Answer;
use serde_json::{json, Value};
use std::fmt::Write;

/// The agentic result.
pub fn agentic_result(
    query: &str,
    kb_ids: &[String],
    answer: &Answer,
    note: Option<&str>,
    structured: bool,
) -> ToolOutcome {
    let mut text = String::new();
    let ids: Vec<&str> = kb_ids
        .iter()
        .map(String::as_str)
        .filter(|i| !i.is_empty())
        .collect();
    let _ = write!(text, "Agentic search for {query:?}");
    if !ids.is_empty() {
        let _ = write!(text, " over {}", ids.join(", "));
    }
    let _ = writeln!(
        text,
        ": {} step{}, {} result{}.",
        answer.steps.len(),
        if answer.steps.len() == 1 { "" } else { "s" },
        answer.results.len(),
        if answer.results.len() == 1 { "" } else { "s" }
    );
    if !answer.steps.is_empty() {
        text.push_str("\nSteps taken:\n");
        for (i, s) in answer.steps.iter().enumerate() {
            let _ = writeln!(text, "{}. {} {}: {}", i + 1, s.step, s.status, s.message);
        }
    }
    if let Some(a) = &answer.answer {
        let _ = writeln!(text, "\nAnswer:\n{}", with_markers(a, answer));
    }
    let mut budget = MAX_TEXT_CHARS;
    let mut kept = 0;
    if !answer.results.is_empty() {
        text.push_str("\nResults:\n");
    }
    for (i, (p, kb)) in answer.results.iter().enumerate() {
        let chars = p.text.chars().count();
        if chars > budget {
            let _ = writeln!(
                text,
                "\n[{} more result(s) omitted: the answer reached {MAX_TEXT_CHARS} characters]",
                answer.results.len() - i
            );
            break;
        }
        budget -= chars;
        kept += 1;
        let _ = write!(text, "\n[{}] ", i + 1);
        match p.location.as_ref() {
            Some(l) => match &l.uri {
                Some(uri) => {
                    let _ = write!(text, "source {uri} ({})", l.kind);
                }
                None => {
                    let _ = write!(text, "source type {}", l.kind);
                }
            },
            None => text.push_str("source unknown"),
        }
        if let Some(kb) = kb {
            let _ = write!(text, " | knowledge base {kb}");
        }
        text.push('\n');
        if let (Some(doc), Some(ds)) = (&p.document_id, &p.data_source_id) {
            let _ = writeln!(text, "document_id: {doc} | data_source_id: {ds}");
        }
        text.push_str(&p.text);
        text.push('\n');
    }
    if answer.results.iter().any(|(p, _)| p.document_id.is_some()) {
        text.push_str(
            "\nTo read a whole document, call read_document with the document_id and \
             data_source_id of its result.\n",
        );
    }
    if answer.truncated {
        text.push_str(
            "\nNote: Bedrock sent more than this server keeps for one call; later steps or \
             results were left out.\n",
        );
    }
    if let Some(note) = note {
        let _ = writeln!(text, "\n{note}");
    }
    let mut result = json!({ "content": [{ "type": "text", "text": text }], "isError": false });
    if structured {
        let results: Vec<Value> = answer
            .results
            .iter()
            .take(kept)
            .map(|(p, kb)| {
                let mut v = json!({
                    "text": p.text,
                    "contentType": p.content_type,
                    "knowledgeBaseId": kb,
                    "location": p.location.as_ref().map(|l| json!({ "type": l.kind, "uri": l.uri })),
                    "metadata": p.metadata,
                });
                if let Some(d) = &p.document_id {
                    v["documentId"] = json!(d);
                }
                if let Some(d) = &p.data_source_id {
                    v["dataSourceId"] = json!(d);
                }
                v
            })
            .collect();
        let mut v = json!({
            "query": query,
            "knowledgeBaseIds": ids,
            "steps": answer.steps.iter().map(|s| json!({
                "step": s.step, "status": s.status, "message": s.message
            })).collect::<Vec<_>>(),
            "count": results.len(),
            "results": results,
            "truncated": answer.truncated,
        });
        if let Some(a) = &answer.answer {
            v["answer"] = json!(a);
            v["citations"] = answer
                .citations
                .iter()
                .map(|c| {
                    json!({
                        "startIndex": c.start,
                        "endIndex": c.end,
                        "results": c.results.iter().map(|r| r + 1).collect::<Vec<_>>(),
                    })
                })
                .collect();
        }
        result["structuredContent"] = v;
    }
    ToolOutcome {
        result: result.into(),
        results: Some(kept),
        upstream_ms: Some(answer.upstream_ms),
        is_error: false,
        ..ToolOutcome::default()
    }
}

/// The answer with `[n]` markers (1-based result numbers) after each cited span; spans whose
/// end is not a character boundary of the answer are listed at the end instead.
fn with_markers(answer: &str, a: &Answer) -> String {
    let mut cuts: Vec<(usize, String)> = Vec::new();
    let mut loose = Vec::new();
    for c in &a.citations {
        if c.results.is_empty() {
            continue;
        }
        let marker: String = c.results.iter().map(|r| format!("[{}]", r + 1)).collect();
        // Bedrock's indexes count characters; find the byte offset of the end.
        let end = usize::try_from(c.end).ok().and_then(|n| {
            if n == answer.chars().count() {
                Some(answer.len())
            } else {
                answer.char_indices().nth(n).map(|(i, _)| i)
            }
        });
        match end {
            Some(e) => cuts.push((e, marker)),
            None => loose.push(marker),
        }
    }
    cuts.sort_by_key(|(e, _)| *e);
    let mut out = String::with_capacity(answer.len() + cuts.len() * 4);
    let mut at = 0;
    for (e, marker) in cuts {
        out.push_str(&answer[at..e]);
        out.push_str(&marker);
        at = e;
    }
    out.push_str(&answer[at..]);
    if !loose.is_empty() {
        let _ = write!(out, " (sources: {})", loose.join(" "));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kb::agentic::{Citation, Step};
    use crate::kb::{Location, Passage};

    #[test]
    fn shows_steps_answer_with_markers_and_results() {
        let answer = Answer {
            results: vec![
                (
                    Passage {
                        text: "Trains under 4 hours.".into(),
                        content_type: "text/plain".into(),
                        location: Some(Location {
                            kind: "S3".into(),
                            uri: Some("s3://b/t.pdf".into()),
                        }),
                        document_id: Some("t.pdf".into()),
                        data_source_id: Some("DS1".into()),
                        ..Passage::default()
                    },
                    Some("KBFAKE0001".into()),
                ),
                (
                    Passage {
                        text: "Hotels: 3 stars.".into(),
                        ..Passage::default()
                    },
                    None,
                ),
            ],
            steps: vec![Step {
                step: "Retrieval".into(),
                status: "SUCCEEDED".into(),
                message: "searched".into(),
            }],
            answer: Some("Take the train. Book 3-star hotels.".into()),
            citations: vec![
                Citation {
                    start: 0,
                    end: 15,
                    results: vec![0],
                },
                Citation {
                    start: 16,
                    end: 35,
                    results: vec![1],
                },
                Citation {
                    start: 0,
                    end: 999,
                    results: vec![1],
                },
            ],
            ..Answer::default()
        };
        let out = agentic_result("travel", &["KBFAKE0001".into()], &answer, None, true);
        let v = serde_json::to_value(&out.result).unwrap();
        let t = v["content"][0]["text"].as_str().unwrap();
        assert!(t.contains("1. Retrieval SUCCEEDED: searched"), "{t}");
        assert!(
            t.contains("Take the train.[1] Book 3-star hotels.[2] (sources: [2])"),
            "{t}"
        );
        assert!(
            t.contains("source s3://b/t.pdf (S3) | knowledge base KBFAKE0001"),
            "{t}"
        );
        assert!(
            t.contains("document_id: t.pdf | data_source_id: DS1"),
            "{t}"
        );
        let s = &v["structuredContent"];
        assert_eq!(s["citations"][0]["results"], json!([1]));
        assert_eq!(s["results"][0]["documentId"], "t.pdf");
        assert_eq!(s["count"], 2);
    }
}
