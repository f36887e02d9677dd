//! Reads the JSON behind GetDocumentContent's `EXTRACTED` output into plain text, leniently:
//! AWS does not document its layout.
//!
//! Known layouts first (Amazon Q Business-like: `plainTextDocumentContent`, a string or an
//! object with `text`, and `nonPlainTextDocumentContent`, a list of parts with `text`, at any
//! depth); otherwise the strings under text-like keys in document order; otherwise an error
//! saying the layout was not understood. The JSON is walked as it is parsed (no `Value`
//! tree, so object keys keep their document order). A top-level `title` and source URI are
//! picked up when present. Must not do I/O.

use super::DocumentText;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::fmt;

/// Keys whose string values are taken as text when no known layout is found (compared
/// without case).
const TEXT_KEYS: [&str; 10] = [
    "text",
    "content",
    "body",
    "extractedtext",
    "plaintext",
    "markdown",
    "paragraph",
    "value",
    "textcontent",
    "pagecontent",
];
/// Keys naming where the document comes from.
const SOURCE_KEYS: [&str; 5] = ["sourceuri", "source_uri", "uri", "url", "source"];

/// Why the extracted content could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExtractedError {
    /// Not JSON at all.
    NotJson(String),
    /// JSON, but no text where this reader looks.
    UnknownLayout,
}

impl fmt::Display for ExtractedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExtractedError::NotJson(e) => write!(f, "the extracted content is not JSON ({e})"),
            ExtractedError::UnknownLayout => f.write_str(
                "the extracted content is JSON in a layout this server does not understand \
                 (no plainTextDocumentContent, nonPlainTextDocumentContent or text fields)",
            ),
        }
    }
}

impl std::error::Error for ExtractedError {}

/// Reads extracted content; the text is never empty on success.
#[cfg(test)]
pub fn read(bytes: &[u8]) -> Result<DocumentText, ExtractedError> {
    finish(walk(bytes)?)
}

/// Like [`read`], giving the bytes back to the allocator before the text is joined, so at
/// most two copies of the content are alive at once.
pub fn read_owned(bytes: Vec<u8>) -> Result<DocumentText, ExtractedError> {
    let found = walk(&bytes)?;
    drop(bytes);
    finish(found)
}

fn walk(bytes: &[u8]) -> Result<Found, ExtractedError> {
    let mut found = Found::default();
    let mut de = serde_json::Deserializer::from_slice(bytes);
    Walk {
        found: &mut found,
        key: None,
        ctx: Ctx::Plain,
        depth: 0,
    }
    .deserialize(&mut de)
    .and_then(|()| de.end())
    .map_err(|e| ExtractedError::NotJson(e.to_string()))?;
    Ok(found)
}

fn finish(found: Found) -> Result<DocumentText, ExtractedError> {
    let known: Vec<String> = found
        .plain
        .into_iter()
        .chain(found.parts)
        .filter(|t| !t.trim().is_empty())
        .collect();
    let chosen = if known.is_empty() { found.texty } else { known };
    let chosen: Vec<String> = chosen
        .into_iter()
        .filter(|t| !t.trim().is_empty())
        .collect();
    if chosen.is_empty() {
        return Err(ExtractedError::UnknownLayout);
    }
    Ok(DocumentText {
        text: chosen.join("\n\n"),
        title: found.title,
        source_uri: found.source,
    })
}

#[derive(Default)]
struct Found {
    /// Text of `plainTextDocumentContent` (or a top-level string).
    plain: Vec<String>,
    /// Text of `nonPlainTextDocumentContent` parts.
    parts: Vec<String>,
    /// Strings under text-like keys.
    texty: Vec<String>,
    title: Option<String>,
    source: Option<String>,
}

/// Where a value sits.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ctx {
    /// Nowhere special (at the top level, a bare string is the text itself).
    Plain,
    /// Inside `plainTextDocumentContent`.
    PlainContent,
    /// Inside `nonPlainTextDocumentContent`.
    Parts,
    /// Anywhere else.
    Other,
}

struct Walk<'f> {
    found: &'f mut Found,
    /// The key this value is under (arrays pass their key on to their elements).
    key: Option<String>,
    ctx: Ctx,
    depth: usize,
}

impl Walk<'_> {
    fn key_is(&self, list: &[&str]) -> bool {
        self.key
            .as_deref()
            .is_some_and(|k| list.iter().any(|t| k.eq_ignore_ascii_case(t)))
    }
}

impl Walk<'_> {
    /// Files a string where it belongs.
    fn take(self, v: String) {
        let key_text = self.key.is_none() || self.key_is(&["text"]);
        match self.ctx {
            Ctx::PlainContent if key_text => self.found.plain.push(v),
            Ctx::Parts if key_text => self.found.parts.push(v),
            Ctx::Plain if self.depth == 0 => self.found.plain.push(v),
            _ if self.depth <= 2 && self.key_is(&["title"]) && self.found.title.is_none() => {
                self.found.title = Some(v)
            }
            _ if self.depth <= 2 && self.key_is(&SOURCE_KEYS) && self.found.source.is_none() => {
                self.found.source = Some(v)
            }
            _ if self.key_is(&TEXT_KEYS) => self.found.texty.push(v),
            _ => {}
        }
    }
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JSON")
    }

    fn visit_str<E>(self, v: &str) -> Result<(), E> {
        self.take(v.to_string());
        Ok(())
    }

    fn visit_string<E>(self, v: String) -> Result<(), E> {
        self.take(v);
        Ok(())
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let ctx = if self.ctx == Ctx::Plain {
            Ctx::Other
        } else {
            self.ctx
        };
        loop {
            let walk = Walk {
                found: &mut *self.found,
                key: self.key.clone(),
                ctx,
                depth: self.depth + 1,
            };
            if seq.next_element_seed(walk)?.is_none() {
                return Ok(());
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            let ctx = if key.eq_ignore_ascii_case("plainTextDocumentContent") {
                Ctx::PlainContent
            } else if key.eq_ignore_ascii_case("nonPlainTextDocumentContent") {
                Ctx::Parts
            } else if matches!(self.ctx, Ctx::PlainContent | Ctx::Parts) {
                self.ctx
            } else {
                Ctx::Other
            };
            if self.depth > 64 {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            // The value of a known layout's own key counts as its text (key `None`).
            let entering = ctx != self.ctx && matches!(ctx, Ctx::PlainContent | Ctx::Parts);
            map.next_value_seed(Walk {
                found: &mut *self.found,
                key: (!entering).then_some(key),
                ctx,
                depth: self.depth + 1,
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(json: &str) -> Result<String, ExtractedError> {
        read(json.as_bytes()).map(|d| d.text)
    }

    #[test]
    fn reads_the_q_business_like_layouts() {
        assert_eq!(
            text(r#"{"plainTextDocumentContent": "Whole text.", "content": "ignored"}"#).unwrap(),
            "Whole text."
        );
        assert_eq!(
            text(r#"{"plainTextDocumentContent": {"text": "In an object."}}"#).unwrap(),
            "In an object."
        );
        assert_eq!(
            text(
                r#"{"documentContent": {"nonPlainTextDocumentContent": [
                    {"text": "Part one.", "pageNumber": 1}, {"text": "Part two."}, {"image": "x"}]},
                    "text": "not this"}"#
            )
            .unwrap(),
            "Part one.\n\nPart two."
        );
    }

    #[test]
    fn falls_back_to_text_like_keys_in_document_order() {
        let d = read(
            br#"{"title": "Travel policy", "sourceUri": "s3://b/travel.pdf",
                "pages": [{"zeta": 1, "text": "First page."}, {"Text": "Second page.", "a": "no"}],
                "footer": {"content": ["Note A", "Note B"]}}"#,
        )
        .unwrap();
        assert_eq!(d.text, "First page.\n\nSecond page.\n\nNote A\n\nNote B");
        assert_eq!(d.title.as_deref(), Some("Travel policy"));
        assert_eq!(d.source_uri.as_deref(), Some("s3://b/travel.pdf"));
        // Keys out of alphabetical order keep the document's order.
        assert_eq!(
            text(r#"{"z": {"text": "one"}, "a": {"text": "two"}}"#).unwrap(),
            "one\n\ntwo"
        );
        assert_eq!(text(r#""just a string""#).unwrap(), "just a string");
    }

    #[test]
    fn says_when_the_layout_is_not_understood() {
        for json in [
            r#"{"pages": [{"n": 1}], "id": "x"}"#,
            r#"{"plainTextDocumentContent": "   "}"#,
            "[]",
            "null",
        ] {
            assert_eq!(
                read(json.as_bytes()).unwrap_err(),
                ExtractedError::UnknownLayout,
                "{json}"
            );
        }
        assert!(matches!(
            read(b"{not json"),
            Err(ExtractedError::NotJson(_))
        ));
        assert!(matches!(
            read(br#"{"text": "a"} trailing"#),
            Err(ExtractedError::NotJson(_))
        ));
        let deep = format!("{}\"x\"{}", "[".repeat(200), "]".repeat(200));
        assert!(read(deep.as_bytes()).is_err(), "recursion is bounded");
    }
}
