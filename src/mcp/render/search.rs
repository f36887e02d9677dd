//! The search result: the readable text block is built once, and everything else (image
//! blocks, `structuredContent`) is serialized straight from the retrieved passages into the
//! response buffer when the response is written; no `Value` copy of a passage is made.

use super::{HumanBytes, Shape, MAX_IMAGES_TOTAL_BYTES, MAX_IMAGE_BYTES, MAX_TEXT_CHARS};
use crate::config::reading::ImageResults;
use crate::kb::{Passage, Retrieval};
use crate::mcp::tools::{ResultObject, ToolOutcome};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};
use std::fmt::Write;

/// A rendered search, holding the passages it serializes.
#[derive(Debug)]
pub struct SearchResult {
    pub(in crate::mcp) query: String,
    pub(in crate::mcp) retrieval: Retrieval,
    /// The readable text block.
    pub(in crate::mcp) text: String,
    /// Per passage kept within the text budget: whether its image is shown inline.
    pub(in crate::mcp) shown: Vec<bool>,
    /// Per kept passage: the caption of its image, if it has one.
    pub(in crate::mcp) captions: Vec<Option<String>>,
    /// The `next_page` token, when more results are available.
    pub(in crate::mcp) next_page: Option<String>,
    pub(in crate::mcp) structured: bool,
    pub(in crate::mcp) note: Option<String>,
    /// Members added after rendering (protocol-revision extras such as `resultType`).
    pub(in crate::mcp) extra: Vec<(String, Value)>,
}

/// The search result: one readable text block, an image block (after a text line naming
/// its source) per IMAGE result that fits the caps, and the passages as structured content.
pub fn search_result(query: String, retrieval: Retrieval, shape: Shape<'_>) -> ToolOutcome {
    let passages = &retrieval.results;
    // Room for every passage's text and heading, but never past what the text cap lets in.
    let room = passages
        .iter()
        .map(|p| p.text.len() + 160)
        .sum::<usize>()
        .min(4 * MAX_TEXT_CHARS + 160 * passages.len());
    let mut text = String::with_capacity(query.len() + 128 + room);
    // Writing into a String cannot fail; the `fmt::Result`s below are ignored for that reason.
    if passages.is_empty() {
        let _ = write!(text, "No results found in the knowledge base for {query:?}. Try other words or a broader query.");
    } else {
        let s = if passages.len() == 1 { "" } else { "s" };
        let _ = writeln!(text, "Found {} result{s} for {query:?}:", passages.len());
    }
    let mut budget = MAX_TEXT_CHARS;
    let mut image_budget = MAX_IMAGES_TOTAL_BYTES;
    let mut shown = Vec::with_capacity(passages.len());
    let mut captions = Vec::with_capacity(passages.len());
    let mut readable = false;
    for (i, p) in passages.iter().enumerate() {
        let chars = p.text.chars().count();
        if chars > budget {
            let _ = write!(
                text,
                "\n[{} more result(s) omitted: the answer reached {MAX_TEXT_CHARS} characters; ask for fewer max_results]\n",
                passages.len() - i
            );
            break;
        }
        budget -= chars;
        let _ = write!(text, "\n[{}] ", i + 1);
        heading(&mut text, p);
        text.push('\n');
        if let Some(uri) = &p.media_uri {
            let _ = writeln!(text, "media: {uri}");
        }
        if shape.links || shape.read {
            if let (Some(doc), Some(ds)) = (&p.document_id, &p.data_source_id) {
                readable = true;
                let _ = write!(text, "document_id: {doc} | data_source_id: {ds}");
                if let Some(media) = &p.media_id {
                    let _ = write!(text, " | media_id: {media}");
                }
                text.push('\n');
            }
        }
        let mut inline = false;
        let mut caption = None;
        if let Some(image) = &p.image {
            let size = image.size();
            let _ = write!(text, "(image, {}, {}: ", image.mime_type, HumanBytes(size));
            let wanted = shape.images == ImageResults::Inline;
            if wanted && size <= MAX_IMAGE_BYTES && size <= image_budget {
                image_budget -= size;
                inline = true;
                text.push_str("shown below)\n");
            } else {
                text.push_str("not shown, ");
                if !wanted {
                    text.push_str("images come as captions only (IMAGE_RESULTS=caption)");
                } else if size > MAX_IMAGE_BYTES {
                    let _ = write!(
                        text,
                        "larger than the {} inline limit",
                        HumanBytes(MAX_IMAGE_BYTES)
                    );
                } else {
                    let _ = write!(
                        text,
                        "past the {} of images one answer may carry",
                        HumanBytes(MAX_IMAGES_TOTAL_BYTES)
                    );
                }
                text.push_str(fetch_hint(p, shape));
                text.push_str(")\n");
            }
            let c = image_caption(i + 1, p);
            let _ = writeln!(text, "caption: {c}");
            caption = Some(c);
        }
        text.push_str(&p.text);
        text.push('\n');
        shown.push(inline);
        captions.push(caption);
    }
    if shape.read && readable {
        text.push_str(
            "\nTo read a whole document, call read_document with the document_id and \
             data_source_id of its result.\n",
        );
    }
    if !passages.is_empty() {
        match shape.next_page {
            Some(page) => {
                let _ = writeln!(
                    text,
                    "\nMore results are available: call search_knowledge_base again with the \
                     same arguments and next_page={page:?}."
                );
            }
            None => text.push_str("\nNo more results.\n"),
        }
    }
    let guardrail = retrieval.guardrail_intervened.then_some(
        "Note: a Bedrock guardrail intervened in this search, so some content may have been \
         blocked or masked.",
    );
    for note in [guardrail, shape.note].into_iter().flatten() {
        let _ = writeln!(text, "\n{note}");
    }
    let kept = shown.len();
    let upstream_ms = retrieval.upstream_ms;
    let result = SearchResult {
        query,
        retrieval,
        text,
        shown,
        captions,
        next_page: shape.next_page.map(str::to_string),
        structured: shape.structured,
        note: shape.note.map(str::to_string),
        extra: Vec::new(),
    };
    ToolOutcome {
        result: ResultObject::Search(Box::new(result)),
        results: Some(kept),
        upstream_ms: Some(upstream_ms),
        is_error: false,
        reauthenticate: None,
        aws_session: None,
    }
}

/// Metadata key of the page a passage comes from.
pub(super) const PAGE_KEY: &str = "x-amz-bedrock-kb-document-page-number";
/// The most characters of nearby text a caption quotes.
const CAPTION_TEXT_CHARS: usize = 300;

/// How to get an image that is not shown: through the server when read_document can fetch
/// it, else the link tool.
fn fetch_hint(p: &Passage, shape: Shape<'_>) -> &'static str {
    let ids = p.document_id.is_some() && p.data_source_id.is_some();
    if shape.read && ids && p.media_id.is_some() {
        "; call read_document with its document_id, data_source_id and media_id to see it"
    } else if shape.links && ids {
        "; call get_document_link with its document_id and data_source_id to open it"
    } else {
        ""
    }
}

/// A caption for result `n`'s image: its source, page (or position among the results) and
/// the text nearest to it.
pub(super) fn image_caption(n: usize, p: &Passage) -> String {
    let page = match p.metadata.get(PAGE_KEY) {
        Some(Value::Number(v)) => format!("page {v}"),
        Some(Value::String(v)) if !v.is_empty() => format!("page {v}"),
        _ => format!("result position {n}"),
    };
    let near = p.text.trim();
    let near = if near.is_empty() {
        "no text accompanies it".to_string()
    } else if near.chars().count() > CAPTION_TEXT_CHARS {
        let cut: String = near.chars().take(CAPTION_TEXT_CHARS).collect();
        format!("\"{cut}…\"")
    } else {
        format!("{near:?}")
    };
    format!(
        "Image of result [{n}] from {}, {page}; nearest text: {near}",
        source(p)
    )
}

/// One line naming a passage: score, source and content type.
fn heading(out: &mut String, p: &Passage) {
    if let Some(score) = p.score {
        let _ = write!(out, "score {score:.3} | ");
    }
    let _ = match &p.location {
        Some(loc) => match &loc.uri {
            Some(uri) => write!(out, "source {uri} ({})", loc.kind),
            None => write!(out, "source type {}", loc.kind),
        },
        None => write!(out, "source unknown"),
    };
    if !p.content_type.is_empty() && p.content_type != "TEXT" {
        let _ = write!(out, " | content {}", p.content_type);
    }
}

impl SearchResult {
    /// The kept passages, each with whether its image is shown inline.
    fn kept(&self) -> impl Iterator<Item = (&Passage, bool)> {
        self.retrieval
            .results
            .iter()
            .zip(self.shown.iter().copied())
    }

    /// About how many bytes the serialized result takes.
    pub(crate) fn size_hint(&self) -> usize {
        let passages: usize = self
            .kept()
            .map(|(p, shown)| {
                let image = p.image.as_ref().filter(|_| shown);
                p.text.len() + 384 + image.map_or(0, |i| i.base64.len() + 96)
            })
            .sum();
        // The text block holds each passage's text; structuredContent holds it again.
        self.text.len() + passages + 256
    }
}

impl Serialize for SearchResult {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("content", &Blocks(self))?;
        m.serialize_entry("isError", &false)?;
        if self.structured {
            m.serialize_entry("structuredContent", &Structured(self))?;
        }
        for (key, value) in &self.extra {
            m.serialize_entry(key, value)?;
        }
        m.end()
    }
}

/// The content blocks: the text, then a caption and an image block per image shown.
struct Blocks<'a>(&'a SearchResult);

#[derive(Serialize)]
struct TextBlock<T> {
    r#type: &'static str,
    text: T,
}

#[derive(Serialize)]
struct ImageBlock<'a> {
    r#type: &'static str,
    data: &'a str,
    #[serde(rename = "mimeType")]
    mime_type: &'a str,
}

impl Serialize for Blocks<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(None)?;
        seq.serialize_element(&TextBlock {
            r#type: "text",
            text: &self.0.text,
        })?;
        for ((p, shown), caption) in self.0.kept().zip(&self.0.captions) {
            let Some(image) = p.image.as_ref().filter(|_| shown) else {
                continue;
            };
            seq.serialize_element(&TextBlock {
                r#type: "text",
                text: caption.as_deref().unwrap_or_default(),
            })?;
            seq.serialize_element(&ImageBlock {
                r#type: "image",
                data: &image.base64,
                mime_type: &image.mime_type,
            })?;
        }
        seq.end()
    }
}

fn source(p: &Passage) -> &str {
    p.location
        .as_ref()
        .and_then(|l| l.uri.as_deref())
        .or(p.document_id.as_deref())
        .unwrap_or("an unknown source")
}

/// `structuredContent`: the query, the kept passages, the note and the guardrail flag.
struct Structured<'a>(&'a SearchResult);

impl Serialize for Structured<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let r = self.0;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("query", &r.query)?;
        m.serialize_entry("count", &r.shown.len())?;
        m.serialize_entry("results", &Passages(r))?;
        if let Some(note) = &r.note {
            m.serialize_entry("note", note)?;
        }
        if r.retrieval.guardrail_intervened {
            m.serialize_entry("guardrailAction", "INTERVENED")?;
        }
        m.serialize_entry("moreAvailable", &r.next_page.is_some())?;
        m.serialize_entry("nextPage", &r.next_page)?;
        m.end()
    }
}

struct Passages<'a>(&'a SearchResult);

impl Serialize for Passages<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(
            self.0
                .kept()
                .zip(&self.0.captions)
                .map(|((p, shown), caption)| PassageJson::new(p, shown, caption.as_deref())),
        )
    }
}

/// One passage in `structuredContent` (the shape `schema.rs` declares).
#[derive(Serialize)]
struct PassageJson<'a> {
    text: &'a str,
    #[serde(rename = "contentType")]
    content_type: &'a str,
    score: Option<f64>,
    location: Option<LocationJson<'a>>,
    metadata: &'a Map<String, Value>,
    #[serde(rename = "documentId", skip_serializing_if = "Option::is_none")]
    document_id: Option<&'a str>,
    #[serde(rename = "dataSourceId", skip_serializing_if = "Option::is_none")]
    data_source_id: Option<&'a str>,
    #[serde(rename = "mediaId", skip_serializing_if = "Option::is_none")]
    media_id: Option<&'a str>,
    #[serde(rename = "mediaUri", skip_serializing_if = "Option::is_none")]
    media_uri: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    image: Option<ImageJson<'a>>,
}

/// A location with its `uri` always present (null when unknown), unlike `kb::Location`.
#[derive(Serialize)]
struct LocationJson<'a> {
    r#type: &'a str,
    uri: Option<&'a str>,
}

#[derive(Serialize)]
struct ImageJson<'a> {
    #[serde(rename = "mimeType")]
    mime_type: &'a str,
    #[serde(rename = "sizeBytes")]
    size_bytes: usize,
    shown: bool,
    caption: &'a str,
}

impl<'a> PassageJson<'a> {
    fn new(p: &'a Passage, shown: bool, caption: Option<&'a str>) -> PassageJson<'a> {
        PassageJson {
            text: &p.text,
            content_type: &p.content_type,
            score: p.score,
            location: p.location.as_ref().map(|l| LocationJson {
                r#type: &l.kind,
                uri: l.uri.as_deref(),
            }),
            metadata: &p.metadata,
            document_id: p.document_id.as_deref(),
            data_source_id: p.data_source_id.as_deref(),
            media_id: p.media_id.as_deref(),
            media_uri: p.media_uri.as_deref(),
            image: p.image.as_ref().map(|i| ImageJson {
                mime_type: &i.mime_type,
                size_bytes: i.size(),
                shown,
                caption: caption.unwrap_or_default(),
            }),
        }
    }
}
