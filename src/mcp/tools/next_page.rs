//! `next_page`: the opaque token a search result hands out for its next page, and the check
//! that it comes back with the same search.
//!
//! The token is `np1.` + base64url (no padding) of 16 bytes of SHA-256 over the search's
//! binding (knowledge base, query, filter, search type, number of results) followed by the
//! backend's own token. The checksum binds the token to its search without any state or
//! key, so any replica can continue a search; it is not a secret (the backend's token inside
//! is as confidential as the backend makes it). Must not do I/O.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::Value;

const PREFIX: &str = "np1.";
const CHECK: usize = 16;
/// The longest backend token accepted (Bedrock's NextToken is at most 2048 characters).
const MAX_INNER: usize = 2048;

/// What a page of results is bound to.
#[derive(Debug, Clone, Copy)]
pub struct Binding<'a> {
    /// The knowledge base id ("" for the only one).
    pub kb_id: &'a str,
    /// The query, as sent.
    pub query: &'a str,
    /// The filter, if any.
    pub filter: Option<&'a Value>,
    /// HYBRID, SEMANTIC or none.
    pub search_type: Option<&'a str>,
    /// max_results.
    pub max_results: u32,
}

impl Binding<'_> {
    fn checksum(&self) -> [u8; CHECK] {
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
        // Length-prefixed parts, so no two bindings hash the same bytes.
        let filter = self.filter.map(Value::to_string).unwrap_or_default();
        let max = self.max_results.to_string();
        for part in [
            self.kb_id,
            self.query,
            &filter,
            self.search_type.unwrap_or(""),
            &max,
        ] {
            ctx.update(&(part.len() as u64).to_be_bytes());
            ctx.update(part.as_bytes());
        }
        let mut out = [0u8; CHECK];
        out.copy_from_slice(&ctx.finish().as_ref()[..CHECK]);
        out
    }

    /// The `next_page` value for the backend's `token`.
    pub fn encode(&self, token: &str) -> String {
        let mut raw = self.checksum().to_vec();
        raw.extend_from_slice(token.as_bytes());
        format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(raw))
    }

    /// The backend's token inside `next_page`, if it was handed out for this very search.
    pub fn decode(&self, next_page: &str) -> Result<String, String> {
        const FOREIGN: &str = "\"next_page\" is not a token this server gave out: pass the \
            nextPage of the previous result unchanged, or leave next_page out for the first page";
        let raw = next_page
            .strip_prefix(PREFIX)
            .filter(|b| b.len() <= 4 * (CHECK + MAX_INNER) / 3 + 4)
            .and_then(|b| URL_SAFE_NO_PAD.decode(b).ok())
            .filter(|raw| raw.len() > CHECK)
            .ok_or(FOREIGN)?;
        let (check, inner) = raw.split_at(CHECK);
        let inner = std::str::from_utf8(inner).map_err(|_| FOREIGN)?;
        if check != self.checksum() {
            return Err(
                "\"next_page\" belongs to another search: the query, filter, \
                search_type, max_results and knowledge base must be the same as in the search \
                that returned it (or leave next_page out to start a new search)"
                    .into(),
            );
        }
        Ok(inner.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_token_comes_back_only_with_its_own_search() {
        let filter = json!({"equals": {"key": "year", "value": 2024}});
        let b = Binding {
            kb_id: "KBFAKE0001",
            query: "travel policy",
            filter: Some(&filter),
            search_type: None,
            max_results: 5,
        };
        let page = b.encode("bedrock/token+==");
        assert!(page.starts_with("np1.") && !page.contains('+') && !page.contains('='));
        assert_eq!(b.decode(&page).unwrap(), "bedrock/token+==");
        let other = json!({"equals": {"key": "year", "value": 2025}});
        for changed in [
            Binding {
                query: "travel policies",
                ..b
            },
            Binding {
                kb_id: "KBFAKE0002",
                ..b
            },
            Binding {
                filter: Some(&other),
                ..b
            },
            Binding { filter: None, ..b },
            Binding {
                search_type: Some("HYBRID"),
                ..b
            },
            Binding {
                max_results: 6,
                ..b
            },
        ] {
            let e = changed.decode(&page).unwrap_err();
            assert!(e.contains("another search"), "{e}");
        }
        for junk in [
            "",
            "np1.",
            "np1.!!!",
            "abc",
            "np2.AAAA",
            &format!("np1.{}", "A".repeat(5000)),
        ] {
            let e = b.decode(junk).unwrap_err();
            assert!(
                e.contains("not a token this server gave out"),
                "{junk:?}: {e}"
            );
        }
        // A flipped bit anywhere in the checksum is caught.
        let mut raw = URL_SAFE_NO_PAD.decode(&page[4..]).unwrap();
        raw[3] ^= 1;
        let forged = format!("np1.{}", URL_SAFE_NO_PAD.encode(raw));
        assert!(b.decode(&forged).unwrap_err().contains("another search"));
    }
}
