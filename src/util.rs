//! Small shared helpers that belong to no single layer.

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

/// Splits an `application/x-www-form-urlencoded` string (or a query string) into decoded
/// pairs; `None` when an escape is malformed or a value is not UTF-8.
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
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let h = hex_val(*bytes.get(i + 1)?)?;
                let l = hex_val(*bytes.get(i + 2)?)?;
                out.push(h << 4 | l);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// Encodes everything but RFC 3986 unreserved characters.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod form_tests {
    use super::*;

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

/// Decodes standard or URL-safe base64, with or without padding; `None` on anything else.
pub fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let s = s.trim_end_matches('=');
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for b in s.bytes() {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    // Six leftover bits cannot come from a valid encoding.
    (bits < 6).then_some(out)
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
        assert_eq!(base64_decode("").unwrap(), b"");
        assert_eq!(base64_decode("a"), None);
        assert_eq!(base64_decode("ab$d"), None);
    }
}
