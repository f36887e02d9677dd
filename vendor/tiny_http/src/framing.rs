//! bedrock-mcp patch: strict message framing (RFC 9112 §2.2, §3.2, §5 and §6.3; see
//! PATCH.md). Anything a lenient proxy in front could frame differently from us is refused
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
