//! Settings of the reading tools (issue 20): read_document's pages and download bounds,
//! agentic_search's limits, how image results are returned, and the GetKnowledgeBase cache.
//!
//! READ_DOCUMENT_PAGE_CHARS, READ_DOCUMENT_MAX_MIB, READ_DOCUMENT_MAX_IN_FLIGHT, AGENTIC_SEARCH,
//! AGENTIC_MAX_IN_FLIGHT, AGENTIC_TIMEOUT_SECS, IMAGE_RESULTS and KB_INFO_TTL_SECS; documented
//! in docs/reading.md. Must not do I/O.

use super::{ConfigError, Vars};
use std::time::Duration;

/// How IMAGE results are returned (IMAGE_RESULTS).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ImageResults {
    /// Image blocks beside their captions.
    #[default]
    Inline,
    /// Captions and the way to fetch the image only, no image data.
    Caption,
}

/// The reading tools' settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadingSettings {
    /// Characters per read_document page.
    pub page_chars: usize,
    /// Most bytes of one downloaded document (extracted JSON or image).
    pub document_max_bytes: u64,
    /// read_document downloads at once.
    pub document_max_in_flight: usize,
    /// Offer agentic_search (Bedrock only).
    pub agentic: bool,
    /// agentic_search calls at once.
    pub agentic_max_in_flight: usize,
    /// Deadline of one agentic_search call.
    pub agentic_timeout: Duration,
    /// IMAGE_RESULTS.
    pub image_results: ImageResults,
    /// How long a GetKnowledgeBase answer is reused (zero: never).
    pub kb_info_ttl: Duration,
}

impl Default for ReadingSettings {
    fn default() -> ReadingSettings {
        ReadingSettings {
            page_chars: 20_000,
            document_max_bytes: 4 << 20,
            document_max_in_flight: 2,
            agentic: true,
            agentic_max_in_flight: 2,
            agentic_timeout: Duration::from_secs(300),
            image_results: ImageResults::Inline,
            kb_info_ttl: Duration::from_secs(300),
        }
    }
}

impl ReadingSettings {
    /// Reads and checks every reading setting.
    pub fn from_vars(vars: &Vars) -> Result<ReadingSettings, ConfigError> {
        let image_results = match vars
            .get("IMAGE_RESULTS")
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("" | "inline") => ImageResults::Inline,
            Some("caption" | "captions") => ImageResults::Caption,
            Some(other) => {
                return Err(ConfigError::new(
                    "IMAGE_RESULTS",
                    format!(
                        "{other:?} is not a choice: use inline (image blocks with captions) or \
                         caption (captions and a way to fetch the image, no image data)"
                    ),
                ))
            }
        };
        Ok(ReadingSettings {
            page_chars: vars.number("READ_DOCUMENT_PAGE_CHARS", 20_000, 1_000, 20_000)? as usize,
            document_max_bytes: vars.number("READ_DOCUMENT_MAX_MIB", 4, 1, 64)? << 20,
            document_max_in_flight: vars.number("READ_DOCUMENT_MAX_IN_FLIGHT", 2, 1, 64)? as usize,
            agentic: vars.flag("AGENTIC_SEARCH", true)?,
            agentic_max_in_flight: vars.number("AGENTIC_MAX_IN_FLIGHT", 2, 1, 64)? as usize,
            agentic_timeout: Duration::from_secs(vars.number(
                "AGENTIC_TIMEOUT_SECS",
                300,
                10,
                900,
            )?),
            image_results,
            kb_info_ttl: Duration::from_secs(vars.number("KB_INFO_TTL_SECS", 300, 0, 86_400)?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(pairs: &[(&str, &str)]) -> Result<ReadingSettings, ConfigError> {
        ReadingSettings::from_vars(&Vars::from_pairs(pairs.iter().copied()))
    }

    #[test]
    fn defaults_and_bounds() {
        assert_eq!(read(&[]).unwrap(), ReadingSettings::default());
        let s = read(&[
            ("READ_DOCUMENT_PAGE_CHARS", "1000"),
            ("READ_DOCUMENT_MAX_MIB", "2"),
            ("IMAGE_RESULTS", "Caption"),
            ("AGENTIC_SEARCH", "false"),
            ("AGENTIC_TIMEOUT_SECS", "10"),
            ("KB_INFO_TTL_SECS", "0"),
        ])
        .unwrap();
        assert_eq!(s.page_chars, 1000);
        assert_eq!(s.document_max_bytes, 2 << 20);
        assert_eq!(s.image_results, ImageResults::Caption);
        assert!(!s.agentic);
        assert_eq!(s.agentic_timeout, Duration::from_secs(10));
        assert_eq!(s.kb_info_ttl, Duration::ZERO);
        for (var, bad) in [
            ("READ_DOCUMENT_PAGE_CHARS", "20001"),
            ("READ_DOCUMENT_PAGE_CHARS", "999"),
            ("READ_DOCUMENT_MAX_MIB", "0"),
            ("AGENTIC_MAX_IN_FLIGHT", "0"),
            ("AGENTIC_TIMEOUT_SECS", "5"),
            ("IMAGE_RESULTS", "thumbnail"),
            ("AGENTIC_SEARCH", "perhaps"),
        ] {
            assert_eq!(read(&[(var, bad)]).unwrap_err().var, var, "{var}={bad}");
        }
    }
}
