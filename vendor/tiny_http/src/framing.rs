//! bedrock-mcp patch: strict message framing (RFC 9112 §2.2, §3.2, §5 and §6.3; see
//! FORK.md). Anything a lenient proxy in front could frame differently from us is refused
//! with 400 and the connection closed, so a body can never be read as a request.

use crate::common::{HTTPVersion, Header};

/// Why a head line is malformed: a NUL, a CR or LF that does not end the line, another
/// control character (HTAB aside), or a folded header line (obs-fold).
pub(crate) fn check_line(line: &[u8], is_header: bool) -> Result<(), &'static str> {
    if line.iter().any(|&b| b == 0 || b == b'\r' || b == b'\n') {
        return Err("NUL, or CR or LF not ending a line, in the request head");
    }
    if line.iter().any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f) {
        return Err("control character in the request head");
    }
    if is_header && matches!(line.first(), Some(b' ' | b'\t')) {
        return Err("folded header line (obs-fold) is not allowed; send each field on one line");
    }
    Ok(())
}

/// Why the headers do not frame one unambiguous request.
pub(crate) fn check_headers(version: &HTTPVersion, headers: &[Header]) -> Result<(), &'static str> {
    let all = |name: &'static str| headers.iter().filter(move |h| h.field.equiv(name));
    let lengths: Vec<&str> = all("Content-Length").map(|h| h.value.as_str()).collect();
    let codings: Vec<&str> = all("Transfer-Encoding").map(|h| h.value.as_str()).collect();
    if lengths.len() > 1 {
        return Err("more than one Content-Length; send exactly one");
    }
    if let Some(length) = lengths.first() {
        content_length(length)?;
    }
    if codings.len() > 1 {
        return Err("more than one Transfer-Encoding; send exactly one");
    }
    if let Some(coding) = codings.first() {
        if !lengths.is_empty() {
            return Err("both Content-Length and Transfer-Encoding; send only one");
        }
        if *version < HTTPVersion(1, 1) {
            return Err("Transfer-Encoding in an HTTP/1.0 request; send Content-Length");
        }
        if !coding.eq_ignore_ascii_case("chunked") {
            return Err("unsupported Transfer-Encoding; only \"chunked\" is accepted");
        }
    }
    if *version == HTTPVersion(1, 1) {
        match all("Host").count() {
            0 => return Err("no Host header (HTTP/1.1 requires one); send Host"),
            1 => {}
            _ => return Err("more than one Host; send exactly one"),
        }
    }
    Ok(())
}

/// A Content-Length value: 1*DIGIT that fits in `usize`.
fn content_length(value: &str) -> Result<usize, &'static str> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err("Content-Length is not a plain decimal number");
    }
    value.parse().map_err(|_| "Content-Length is too large")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn headers(lines: &[&str]) -> Vec<Header> {
        lines.iter().map(|l| Header::from_str(l).unwrap()).collect()
    }

    fn check(version: HTTPVersion, lines: &[&str]) -> Result<(), &'static str> {
        check_headers(&version, &headers(lines))
    }

    const V11: HTTPVersion = HTTPVersion(1, 1);
    const V10: HTTPVersion = HTTPVersion(1, 0);

    #[test]
    fn plain_lines_pass_and_controls_fail() {
        assert_eq!(check_line(b"GET / HTTP/1.1", false), Ok(()));
        assert_eq!(check_line(b"X-A: tab\there", true), Ok(()));
        for bad in [&b"X-A: a\0b"[..], b"X-A: a\rb", b"X-A: a\nb"] {
            assert!(check_line(bad, true)
                .unwrap_err()
                .contains("NUL, or CR or LF"));
        }
        assert!(check_line(b"X-A: \x01", true)
            .unwrap_err()
            .contains("control"));
        assert!(check_line(b"X-A: \x7f", true)
            .unwrap_err()
            .contains("control"));
    }

    #[test]
    fn folded_header_lines_fail_but_a_request_line_is_not_a_header() {
        assert!(check_line(b" continued", true)
            .unwrap_err()
            .contains("obs-fold"));
        assert!(check_line(b"\tcontinued", true)
            .unwrap_err()
            .contains("obs-fold"));
        assert_eq!(check_line(b" x", false), Ok(()));
    }

    #[test]
    fn one_plain_content_length_passes() {
        assert_eq!(check(V11, &["Host: a", "Content-Length: 37"]), Ok(()));
        assert_eq!(check(V11, &["Host: a", "Content-Length: 0"]), Ok(()));
    }

    #[test]
    fn content_length_must_be_one_plain_number_that_fits() {
        let too_big = format!("Content-Length: {}0", usize::MAX);
        for value in ["37, 37", "5x", "-1", "+37", "", "3 3", too_big.as_str()] {
            let line = if value.starts_with("Content-Length") {
                value.to_string()
            } else {
                format!("Content-Length: {value}")
            };
            assert!(
                check(V11, &["Host: a", &line]).is_err(),
                "{:?} passed",
                line
            );
        }
        let twice = check(V11, &["Host: a", "Content-Length: 0", "content-length: 37"]);
        assert_eq!(twice, Err("more than one Content-Length; send exactly one"));
    }

    #[test]
    fn transfer_encoding_is_chunked_alone_and_only_in_http_1_1() {
        assert_eq!(
            check(V11, &["Host: a", "Transfer-Encoding: Chunked"]),
            Ok(())
        );
        let both = check(
            V11,
            &["Host: a", "Transfer-Encoding: chunked", "Content-Length: 3"],
        );
        assert!(both.unwrap_err().contains("both"));
        let two = check(
            V11,
            &[
                "Host: a",
                "Transfer-Encoding: chunked",
                "Transfer-Encoding: chunked",
            ],
        );
        assert!(two.unwrap_err().contains("more than one Transfer-Encoding"));
        let gzip = check(V11, &["Host: a", "Transfer-Encoding: gzip, chunked"]);
        assert!(gzip.unwrap_err().contains("only \"chunked\""));
        let old = check(V10, &["Transfer-Encoding: chunked"]);
        assert!(old.unwrap_err().contains("HTTP/1.0"));
    }

    #[test]
    fn http_1_1_needs_exactly_one_host_and_1_0_none() {
        assert!(check(V11, &[]).unwrap_err().contains("no Host"));
        assert!(check(V11, &["Host: a", "host: b"])
            .unwrap_err()
            .contains("more than one Host"));
        assert_eq!(check(V10, &[]), Ok(()));
    }
}
