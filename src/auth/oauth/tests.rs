//! Tests for the OAuth endpoints and their answers to bad input.

use super::*;
use crate::util::percent_decode;

#[test]
fn percent_codec_round_trips() {
    for s in [
        "",
        "abc",
        "a b&c=d",
        "api://x/.default openid",
        "é/ü?#%+",
        "~-._",
    ] {
        assert_eq!(percent_decode(&percent_encode(s)).unwrap(), s);
    }
    assert_eq!(percent_encode("a b/é"), "a%20b%2F%C3%A9");
    assert_eq!(percent_decode("a+b%2fc%2F").unwrap(), "a b/c/");
    for bad in ["%", "%4", "%zz", "%C3", "%+1"] {
        assert!(percent_decode(bad).is_none(), "{bad}");
    }
}

#[test]
fn form_parsing() {
    let f = parse_form("a=1&&b=&c&d=x%3Dy").unwrap();
    assert_eq!(
        f,
        [("a", "1"), ("b", ""), ("c", ""), ("d", "x=y")]
            .map(|(k, v)| (k.to_string(), v.to_string()))
    );
    assert!(parse_form("a=1&a=2")
        .unwrap_err()
        .description
        .contains("more than once"));
    assert!(parse_form("a=1&%61=2").is_err());
}

#[test]
fn pkce_values() {
    assert!(check_pkce_value(&"a".repeat(43), "v").is_ok());
    assert!(check_pkce_value(&"a".repeat(42), "v").is_err());
    assert!(check_pkce_value(&"a".repeat(129), "v").is_err());
    assert!(check_pkce_value(&format!("{}+", "a".repeat(43)), "v").is_err());
}
