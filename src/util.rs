//! Small shared helpers that belong to no single layer: random ids, hex, JSON string escapes,
//! setting lists, and the strict percent-encoding and base64 front ends the OAuth proxy and
//! the HTTP layer share.
//!
//! The codecs come from crates already in the tree (`percent-encoding` via ureq and aws-sigv4,
//! `base64` via jsonwebtoken); what stays here is the strictness: malformed input is `None`,
//! never silently passed through, so callers can answer with a clear error.

use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::{alphabet, Engine};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC};
use std::time::{SystemTime, UNIX_EPOCH};

/// `n` bytes from the system CSPRNG, hex-encoded (session ids, request ids).
pub fn random_hex(n: usize) -> String {
    use ring::rand::SecureRandom;
    let mut buf = vec![0u8; n];
    // The OS RNG failing is not a request's fault and leaves us nothing safe to do but fall
    // back to a clock-derived value, which only ever names things (never authenticates).
    if ring::rand::SystemRandom::new().fill(&mut buf).is_err() {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        for (i, b) in buf.iter_mut().enumerate() {
            *b = (nanos >> ((i % 16) * 8)) as u8;
        }
    }
    hex(&buf)
}

/// Lower-case hex encoding.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 15) as usize] as char);
    }
    out
}

/// Escapes `s` as the inside of a JSON string (for hand-built log lines).
pub fn json_escape_into(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_hex_is_hex_of_the_right_length_and_varies() {
        let a = random_hex(16);
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(a, random_hex(16));
    }

    #[test]
    fn json_escape_escapes_quotes_and_controls() {
        let mut s = String::new();
        json_escape_into(&mut s, "a\"b\\c\nd\u{1}");
        assert_eq!(s, "a\\\"b\\\\c\\nd\\u0001");
    }
}

/// Splits a comma- and/or whitespace-separated setting into its items, dropping empty ones.
pub fn split_list(raw: &str) -> Vec<String> {
    raw.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Splits an `application/x-www-form-urlencoded` string (or a query string) into decoded
/// pairs; `None` when an escape is malformed or a value is not UTF-8.
///
/// Not `form_urlencoded::parse`: it passes broken escapes through and replaces invalid UTF-8,
/// where we must refuse both. One pass over the input; callers cap the number of pairs.
pub fn form_pairs(s: &str) -> Option<Vec<(String, String)>> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            Some((percent_decode(k)?, percent_decode(v)?))
        })
        .collect()
}

/// Decodes `%XX` escapes and `+` (as space); `None` for broken escapes or non-UTF-8 results.
pub fn percent_decode(s: &str) -> Option<String> {
    if !escapes_are_well_formed(s.as_bytes()) {
        return None;
    }
    // `+` means space only in form encoding, and an encoded plus (%2B) holds no `+`, so
    // swapping before decoding is exact.
    let spaced = s.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .ok()
        .map(|text| text.into_owned())
}

/// Every `%` is followed by two hex digits (the crate's decoder keeps broken ones as text).
fn escapes_are_well_formed(bytes: &[u8]) -> bool {
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = |j: usize| bytes.get(j).is_some_and(u8::is_ascii_hexdigit);
            if !(hex(i + 1) && hex(i + 2)) {
                return false;
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    true
}

/// Everything but RFC 3986 unreserved characters (`A-Z a-z 0-9 - . _ ~`) gets escaped.
const NOT_UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Encodes everything but RFC 3986 unreserved characters (space becomes `%20`, not `+`).
pub fn percent_encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, NOT_UNRESERVED).to_string()
}

#[cfg(test)]
mod form_tests {
    use super::*;

    #[test]
    fn split_list_takes_commas_and_whitespace() {
        assert_eq!(split_list(" a, b\tc,,d "), ["a", "b", "c", "d"]);
        assert!(split_list(" , ").is_empty());
    }

    #[test]
    fn percent_decoding_handles_escapes_plus_and_garbage() {
        assert_eq!(percent_decode("a%20b+c").as_deref(), Some("a b c"));
        assert_eq!(percent_decode("%E4%B8%96").as_deref(), Some("世"));
        for bad in ["100%", "%zz", "%4", "%FF", "%+1"] {
            assert_eq!(percent_decode(bad), None, "{bad}");
        }
    }

    #[test]
    fn encode_then_decode_round_trips() {
        let s = "https://claude.ai/api/mcp/auth_callback?x=1&y=é ";
        assert_eq!(percent_decode(&percent_encode(s)).as_deref(), Some(s));
        assert_eq!(percent_encode("a b/c"), "a%20b%2Fc");
    }

    #[test]
    fn form_pairs_split_and_decode() {
        assert_eq!(
            form_pairs("a=1&b=x%3Dy&&c"),
            Some(vec![
                ("a".into(), "1".into()),
                ("b".into(), "x=y".into()),
                ("c".into(), "".into())
            ])
        );
        assert_eq!(form_pairs("a=%"), None);
    }
}

/// Lenient on padding and on unused trailing bits, as hand-made headers often are.
const LENIENT: GeneralPurposeConfig = GeneralPurposeConfig::new()
    .with_decode_padding_mode(DecodePaddingMode::Indifferent)
    .with_decode_allow_trailing_bits(true);
const STANDARD_ANY_PADDING: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, LENIENT);
const URL_SAFE_ANY_PADDING: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, LENIENT);

/// Decodes standard or URL-safe base64, with or without padding; `None` on anything else.
///
/// For values people and other clients encode (HTTP Basic credentials, the `=?base64?…?=`
/// form of `Mcp-Name`), where refusing a missing `=` would only cause support tickets. JWTs
/// are decoded strictly in `auth::jwt`.
pub fn base64_decode(s: &str) -> Option<Vec<u8>> {
    STANDARD_ANY_PADDING
        .decode(s)
        .or_else(|_| URL_SAFE_ANY_PADDING.decode(s))
        .ok()
}

#[cfg(test)]
mod base64_tests {
    use super::base64_decode;

    #[test]
    fn decodes_the_spec_examples_and_rejects_garbage() {
        assert_eq!(
            base64_decode("SGVsbG8sIOS4lueVjA==").unwrap(),
            "Hello, 世界".as_bytes()
        );
        assert_eq!(base64_decode("IHBhZGRlZCA").unwrap(), b" padded ");
        assert_eq!(
            base64_decode("PT9iYXNlNjQ/bGl0ZXJhbD89").unwrap(),
            b"=?base64?literal?="
        );
        assert_eq!(base64_decode("-_-_").unwrap(), [0xfb, 0xff, 0xbf]);
        assert_eq!(base64_decode("+/+/").unwrap(), [0xfb, 0xff, 0xbf]);
        assert_eq!(
            base64_decode("QR==").unwrap(),
            b"A",
            "stray low bits are tolerated"
        );
        assert_eq!(base64_decode("").unwrap(), b"");
        assert_eq!(base64_decode("QQ==="), None, "too much padding");
        assert_eq!(base64_decode("a"), None);
        assert_eq!(base64_decode("ab$d"), None);
    }
}
