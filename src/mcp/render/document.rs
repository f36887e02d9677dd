//! read_document's results: one page of a document's text with where it ends and how to go
//! on, or an embedded image fetched through the server with its caption.

use super::{HumanBytes, ToolOutcome};
use crate::kb::{DocumentRef, DocumentText, Image};
use crate::mcp::pages::Page;
use serde_json::json;

/// One page of a document, with what is known about the document.
pub struct DocumentPage<'a> {
    /// Which document.
    pub doc: &'a DocumentRef,
    /// The knowledge base it is in ("" for the only one).
    pub kb_id: &'a str,
    /// The whole text and what is known.
    pub text: &'a DocumentText,
    /// The page's place in the text.
    pub page: Page,
    /// Its 1-based number.
    pub number: usize,
    /// How many pages there are.
    pub pages: usize,
}

/// `96120` as `96,120`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The page as text (header, the page, where it ends) and structured content.
pub fn document_result(p: &DocumentPage<'_>, structured: bool) -> ToolOutcome {
    let DocumentPage {
        doc,
        kb_id,
        text,
        page,
        number,
        pages,
    } = *p;
    let body = &text.text[page.start..page.end];
    let total = text.text.chars().count();
    let mut head = format!(
        "Document {:?} (data source {}",
        doc.document_id, doc.data_source_id
    );
    if !kb_id.is_empty() {
        head.push_str(&format!(", knowledge base {kb_id}"));
    }
    if let Some(title) = &text.title {
        head.push_str(&format!(", title {title:?}"));
    }
    if let Some(uri) = &text.source_uri {
        head.push_str(&format!(", source {uri}"));
    }
    let next = (number < pages).then_some(number + 1);
    let tail = match next {
        Some(n) => format!(
            "[End of page {number} of {pages} at character {} of {}. Call read_document with \
             the same document_id and data_source_id and page={n} to continue.]",
            thousands(page.end_char),
            thousands(total)
        ),
        None => format!("[End of the document: page {number} of {pages}.]"),
    };
    let out = format!(
        "{head})\nPage {number} of {pages}, characters {}-{} of {}.\n\n{body}\n\n{tail}",
        thousands(page.start_char + 1),
        thousands(page.end_char),
        thousands(total)
    );
    let mut result = json!({ "content": [{ "type": "text", "text": out }], "isError": false });
    if structured {
        let mut v = json!({
            "documentId": doc.document_id,
            "dataSourceId": doc.data_source_id,
            "page": number,
            "pages": pages,
            "startChar": page.start_char,
            "endChar": page.end_char,
            "totalChars": total,
            "nextPage": next,
            "text": body,
        });
        if !kb_id.is_empty() {
            v["knowledgeBaseId"] = json!(kb_id);
        }
        if let Some(title) = &text.title {
            v["title"] = json!(title);
        }
        if let Some(uri) = &text.source_uri {
            v["sourceUri"] = json!(uri);
        }
        result["structuredContent"] = v;
    }
    ToolOutcome {
        result: result.into(),
        ..ToolOutcome::default()
    }
}

/// An embedded image fetched through the server: a caption, then the image block.
pub fn image_result(doc: &DocumentRef, image: &Image, structured: bool) -> ToolOutcome {
    let media = doc.media_id.as_deref().unwrap_or_default();
    let caption = format!(
        "Image {media} of document {:?} (data source {}; {}, {}):",
        doc.document_id,
        doc.data_source_id,
        image.mime_type,
        HumanBytes(image.size())
    );
    let mut result = json!({
        "content": [
            { "type": "text", "text": caption },
            { "type": "image", "data": image.base64, "mimeType": image.mime_type }
        ],
        "isError": false
    });
    if structured {
        result["structuredContent"] = json!({
            "documentId": doc.document_id,
            "dataSourceId": doc.data_source_id,
            "mediaId": media,
            "mimeType": image.mime_type,
            "sizeBytes": image.size(),
        });
    }
    ToolOutcome {
        result: result.into(),
        ..ToolOutcome::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mcp::pages;

    #[test]
    fn a_page_says_where_it_ends_and_how_to_go_on() {
        let text = DocumentText {
            text: format!("{}\n\n{}", "a".repeat(1500), "b".repeat(800)),
            title: Some("Travel policy".into()),
            source_uri: Some("s3://docs/travel.pdf".into()),
        };
        let doc = DocumentRef {
            document_id: "travel.pdf".into(),
            data_source_id: "DS1".into(),
            media_id: None,
        };
        let all = pages::split(&text.text, 1000);
        let render = |n: usize| {
            let out = document_result(
                &DocumentPage {
                    doc: &doc,
                    kb_id: "KBFAKE0001",
                    text: &text,
                    page: all[n - 1],
                    number: n,
                    pages: all.len(),
                },
                true,
            );
            serde_json::to_value(&out.result).unwrap()
        };
        let first = render(1);
        let t = first["content"][0]["text"].as_str().unwrap();
        assert!(
            t.contains("title \"Travel policy\"") && t.contains("s3://docs/travel.pdf"),
            "{t}"
        );
        assert!(
            t.contains("Page 1 of 3, characters 1-1,000 of 2,302."),
            "{t}"
        );
        assert!(t.contains("page=2 to continue"), "{t}");
        assert_eq!(first["structuredContent"]["nextPage"], 2);
        let last = render(3);
        assert!(last["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("[End of the document: page 3 of 3.]"));
        assert_eq!(
            last["structuredContent"]["nextPage"],
            serde_json::Value::Null
        );
        let joined: String = (1..=3)
            .map(|n| {
                render(n)["structuredContent"]["text"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(joined, text.text);
    }
}
