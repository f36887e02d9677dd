//! The AWS event-stream binary framing (`application/vnd.amazon.eventstream`), written out
//! here independently of the server's decoder so a misreading on either side shows up:
//! prelude (total length u32, headers length u32, CRC32 of those 8 bytes), headers (name
//! length u8, name, value type u8, value), payload, and a CRC32 of everything before it.
//! Only string headers (type 7, u16 length) are written, as AWS does for `:message-type`,
//! `:event-type`, `:exception-type` and `:content-type`.

use serde_json::Value;

/// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), as the event-stream format uses.
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

/// One frame from string headers and a payload.
pub fn frame(headers: &[(&str, &str)], payload: &[u8]) -> Vec<u8> {
    let mut h = Vec::new();
    for (name, value) in headers {
        h.push(name.len() as u8);
        h.extend_from_slice(name.as_bytes());
        h.push(7);
        h.extend_from_slice(&(value.len() as u16).to_be_bytes());
        h.extend_from_slice(value.as_bytes());
    }
    let total = 12 + h.len() + payload.len() + 4;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&(total as u32).to_be_bytes());
    out.extend_from_slice(&(h.len() as u32).to_be_bytes());
    let prelude_crc = crc32(&out);
    out.extend_from_slice(&prelude_crc.to_be_bytes());
    out.extend_from_slice(&h);
    out.extend_from_slice(payload);
    let message_crc = crc32(&out);
    out.extend_from_slice(&message_crc.to_be_bytes());
    out
}

/// An `event` message: `:event-type` is the member name of the stream union
/// (`traceEvent`, `result`, `responseEvent`), the payload that member's JSON.
pub fn event(event_type: &str, payload: &Value) -> Vec<u8> {
    frame(
        &[
            (":event-type", event_type),
            (":content-type", "application/json"),
            (":message-type", "event"),
        ],
        payload.to_string().as_bytes(),
    )
}

/// An `exception` message: `:exception-type` is the member name of the stream union
/// (`throttlingException`, …), the payload `{"message": …}`.
pub fn exception(exception_type: &str, message: &str) -> Vec<u8> {
    frame(
        &[
            (":exception-type", exception_type),
            (":content-type", "application/json"),
            (":message-type", "exception"),
        ],
        serde_json::json!({ "message": message })
            .to_string()
            .as_bytes(),
    )
}

/// An `error` message (a service-side failure outside the modelled exceptions).
pub fn error(code: &str, message: &str) -> Vec<u8> {
    frame(
        &[
            (":error-code", code),
            (":error-message", message),
            (":message-type", "error"),
        ],
        b"",
    )
}

/// `frame` with its message CRC broken (the last byte flipped).
pub fn with_bad_message_crc(mut frame: Vec<u8>) -> Vec<u8> {
    if let Some(last) = frame.last_mut() {
        *last ^= 0xFF;
    }
    frame
}

/// `frame` with its prelude CRC broken.
pub fn with_bad_prelude_crc(mut frame: Vec<u8>) -> Vec<u8> {
    if frame.len() > 11 {
        frame[11] ^= 0xFF;
    }
    frame
}

/// A decoded frame: its headers, payload and length in bytes.
pub type Decoded = (Vec<(String, String)>, Vec<u8>, usize);

/// Decodes the frame at the start of `bytes`, or says why it is malformed (the fake's own
/// self-check).
pub fn decode(bytes: &[u8]) -> Result<Decoded, String> {
    let u32_at = |i: usize| -> Result<u32, String> {
        let b = bytes.get(i..i + 4).ok_or("truncated")?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    let total = u32_at(0)? as usize;
    let headers_len = u32_at(4)? as usize;
    if crc32(bytes.get(..8).ok_or("truncated")?) != u32_at(8)? {
        return Err("prelude CRC mismatch".into());
    }
    if total < 16 + headers_len || bytes.len() < total {
        return Err("truncated".into());
    }
    if crc32(&bytes[..total - 4]) != u32_at(total - 4)? {
        return Err("message CRC mismatch".into());
    }
    let mut headers = Vec::new();
    let mut i = 12;
    while i < 12 + headers_len {
        let n = bytes[i] as usize;
        let name = String::from_utf8_lossy(&bytes[i + 1..i + 1 + n]).into_owned();
        i += 1 + n;
        if bytes[i] != 7 {
            return Err(format!("header type {} not written by the fake", bytes[i]));
        }
        let len = u16::from_be_bytes([bytes[i + 1], bytes[i + 2]]) as usize;
        let value = String::from_utf8_lossy(&bytes[i + 3..i + 3 + len]).into_owned();
        i += 3 + len;
        headers.push((name, value));
    }
    Ok((headers, bytes[12 + headers_len..total - 4].to_vec(), total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_check_value() {
        // The standard check value of CRC-32/ISO-HDLC.
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn frames_round_trip_and_corruption_is_seen() {
        let f = event("result", &serde_json::json!({"results": []}));
        let (headers, payload, used) = decode(&f).unwrap();
        assert_eq!(used, f.len());
        assert!(headers.contains(&(":event-type".into(), "result".into())));
        assert_eq!(payload, br#"{"results":[]}"#);
        assert!(decode(&with_bad_message_crc(f.clone())).is_err());
        assert!(decode(&with_bad_prelude_crc(f.clone())).is_err());
        assert!(decode(&f[..f.len() - 3]).is_err());
    }
}
