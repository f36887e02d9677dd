//! read_document: its arguments, and the call (whole-document pages, or an embedded image
//! fetched through the server when `media_id` is given).

use super::{link_args, Reading, READ};
use crate::kb::{DocumentRef, KnowledgeBase, Who};
use crate::mcp::pages;
use crate::mcp::render;
use crate::mcp::tools::ToolOutcome;
use serde_json::{Map, Value};

/// read_document's checked arguments.
pub(super) struct Args {
    doc: DocumentRef,
    /// 1-based page.
    page: usize,
}

const USAGE: &str = "read_document takes \"document_id\" and \"data_source_id\" (strings, \
    required: copy them from a search result), \"page\" (integer from 1, optional) and \
    \"media_id\" (string, optional: an image result's mediaId, to fetch that image)";

/// Checks read_document's arguments.
pub(super) fn args(args: &Map<String, Value>) -> Result<Args, String> {
    if let Some(unknown) = args.keys().find(|k| {
        !matches!(
            k.as_str(),
            "document_id" | "data_source_id" | "media_id" | "page"
        )
    }) {
        return Err(format!("unknown argument {unknown:?}; {USAGE}"));
    }
    let page = match args.get("page") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => match (n.as_u64(), n.as_f64()) {
            (Some(v), _) if v >= 1 => Some(v),
            (None, Some(f)) if f.fract() == 0.0 && (1.0..1e9).contains(&f) => Some(f as u64),
            _ => return Err(format!("\"page\" must be an integer from 1; {USAGE}")),
        },
        Some(_) => return Err(format!("\"page\" must be an integer from 1; {USAGE}")),
    };
    let mut rest = args.clone();
    rest.remove("page");
    let doc = link_args(&rest).map_err(|e| e.replace("get_document_link", READ))?;
    if doc.media_id.is_some() && page.is_some() {
        return Err(
            "\"page\" and \"media_id\" do not go together: media_id fetches one image, page \
             reads the document's text"
                .into(),
        );
    }
    Ok(Args {
        doc,
        page: usize::try_from(page.unwrap_or(1)).unwrap_or(usize::MAX),
    })
}

/// Reads the page (or fetches the image) for `who`.
pub(super) fn call(
    kb: &dyn KnowledgeBase,
    kb_id: &str,
    a: &Args,
    who: Who<'_>,
    note: Option<&str>,
    reading: Reading,
    structured: bool,
) -> ToolOutcome {
    let failed = |what: &str, e| super::failed(e, what, note);
    if a.doc.media_id.is_some() {
        return match kb.fetch_image(&a.doc, who) {
            Ok(image) => render::image_result(&a.doc, &image, structured),
            Err(e) => failed("Could not fetch the image.", e),
        };
    }
    let text = match kb.read_document(&a.doc, who) {
        Ok(t) => t,
        Err(e) => return failed("Could not read the document.", e),
    };
    let all = pages::split(&text.text, reading.page_chars);
    let Some(page) = all.get(a.page - 1).copied() else {
        return render::tool_error(format!(
            "Could not read the document. page {} does not exist: document {:?} has {} page{} \
             (page 1 to {}); call read_document with a page in that range",
            a.page,
            a.doc.document_id,
            all.len(),
            if all.len() == 1 { "" } else { "s" },
            all.len()
        ));
    };
    render::document_result(
        &render::DocumentPage {
            doc: &a.doc,
            kb_id,
            text: &text,
            page,
            number: a.page,
            pages: all.len(),
        },
        structured,
    )
}
