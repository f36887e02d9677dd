//! The AWS event stream (`application/vnd.amazon.eventstream`) read off a byte stream, one
//! message at a time: the prelude (total and header lengths) is checked against its CRC
//! before anything is allocated, the message is bounded in size, and the whole message is
//! decoded and its CRC checked by `aws-smithy-eventstream`. Then the `:message-type`,
//! `:event-type` / `:exception-type` headers say what it is.
//!
//! Owns framing only; what the payloads mean is `agentic.rs`'s. Never panics on bad bytes.

use aws_smithy_eventstream::frame::read_message_from;
use aws_smithy_types::event_stream::{HeaderValue, Message};
use std::fmt;
use std::io::{self, Read};

/// Prelude: total length, headers length, prelude CRC.
const PRELUDE: usize = 12;
/// Prelude plus the message CRC: the smallest message.
const MIN_MESSAGE: usize = PRELUDE + 4;

/// What one message is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Kind {
    /// `:message-type: event` with this `:event-type`.
    Event(String),
    /// `:message-type: exception` with this `:exception-type`.
    Exception(String),
    /// `:message-type: error` with `:error-code` (and `:error-message`).
    Error(String, String),
}

/// One decoded message.
#[derive(Debug)]
pub(super) struct Frame {
    pub(super) kind: Kind,
    pub(super) payload: Vec<u8>,
}

/// Why the stream could not be read.
#[derive(Debug)]
pub(super) enum FrameError {
    /// The stream ended inside a message.
    Truncated,
    /// A CRC did not match, or the bytes are not an event-stream message.
    Corrupt(String),
    /// A message larger than the cap.
    TooLarge(usize),
    /// A message without the headers that say what it is.
    Unlabelled(String),
    /// Reading failed (timeout, connection reset).
    Io(io::Error),
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::Truncated => f.write_str("the stream ended in the middle of a message"),
            FrameError::Corrupt(why) => write!(f, "a message is corrupted ({why})"),
            FrameError::TooLarge(n) => write!(
                f,
                "a message of {n} bytes is larger than this server accepts"
            ),
            FrameError::Unlabelled(why) => write!(f, "a message does not say what it is ({why})"),
            FrameError::Io(e) => write!(f, "reading the stream failed ({e})"),
        }
    }
}

/// Reads messages from `R`, each at most `max` bytes.
pub(super) struct Frames<R> {
    reader: R,
    max: usize,
}

impl<R: Read> Frames<R> {
    /// A reader of messages of at most `max` bytes.
    pub(super) fn new(reader: R, max: usize) -> Frames<R> {
        Frames { reader, max }
    }

    /// The next message, or `None` at a clean end of the stream.
    pub(super) fn next_frame(&mut self) -> Result<Option<Frame>, FrameError> {
        let mut prelude = [0u8; PRELUDE];
        let got = read_full(&mut self.reader, &mut prelude).map_err(FrameError::Io)?;
        if got == 0 {
            return Ok(None);
        }
        if got < PRELUDE {
            return Err(FrameError::Truncated);
        }
        let word = |i: usize| {
            u32::from_be_bytes([prelude[i], prelude[i + 1], prelude[i + 2], prelude[i + 3]])
        };
        let (total, headers, crc) = (word(0) as usize, word(4) as usize, word(8));
        if crc32fast::hash(&prelude[..8]) != crc {
            return Err(FrameError::Corrupt("prelude checksum mismatch".into()));
        }
        if total < MIN_MESSAGE || headers > total - MIN_MESSAGE {
            return Err(FrameError::Corrupt(format!(
                "impossible lengths: message {total}, headers {headers}"
            )));
        }
        if total > self.max {
            return Err(FrameError::TooLarge(total));
        }
        let mut message = vec![0u8; total];
        message[..PRELUDE].copy_from_slice(&prelude);
        let got = read_full(&mut self.reader, &mut message[PRELUDE..]).map_err(FrameError::Io)?;
        if got < total - PRELUDE {
            return Err(FrameError::Truncated);
        }
        let decoded =
            read_message_from(&message[..]).map_err(|e| FrameError::Corrupt(e.to_string()))?;
        let kind = kind(&decoded)?;
        Ok(Some(Frame {
            kind,
            payload: decoded.payload().to_vec(),
        }))
    }
}

/// Reads until `buf` is full or the stream ends; the number of bytes read.
fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// The string value of header `name`.
fn header<'m>(m: &'m Message, name: &str) -> Option<&'m str> {
    m.headers()
        .iter()
        .find(|h| h.name().as_str() == name)
        .and_then(|h| match h.value() {
            HeaderValue::String(s) => Some(s.as_str()),
            _ => None,
        })
}

fn kind(m: &Message) -> Result<Kind, FrameError> {
    let missing = |what: &str| FrameError::Unlabelled(format!("no string {what} header"));
    match header(m, ":message-type") {
        Some("event") => Ok(Kind::Event(
            header(m, ":event-type")
                .ok_or_else(|| missing(":event-type"))?
                .to_string(),
        )),
        Some("exception") => Ok(Kind::Exception(
            header(m, ":exception-type")
                .ok_or_else(|| missing(":exception-type"))?
                .to_string(),
        )),
        Some("error") => Ok(Kind::Error(
            header(m, ":error-code")
                .unwrap_or("UnknownError")
                .to_string(),
            header(m, ":error-message").unwrap_or_default().to_string(),
        )),
        Some(other) => Err(FrameError::Unlabelled(format!(
            ":message-type is {other:?}"
        ))),
        None => Err(missing(":message-type")),
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use aws_smithy_eventstream::frame::write_message_to;
    use aws_smithy_types::event_stream::Header;

    /// An encoded message with these string headers (and any extra ones) and payload.
    pub(in crate::kb::bedrock) fn encode(
        headers: &[(&str, &str)],
        extra: Vec<Header>,
        payload: &[u8],
    ) -> Vec<u8> {
        let mut m = Message::new(payload.to_vec());
        for (k, v) in headers {
            m = m.add_header(Header::new(
                k.to_string(),
                HeaderValue::String(v.to_string().into()),
            ));
        }
        for h in extra {
            m = m.add_header(h);
        }
        let mut out = Vec::new();
        write_message_to(&m, &mut out).unwrap();
        out
    }

    /// An `event` message of `event_type` with a JSON payload.
    pub(in crate::kb::bedrock) fn event(event_type: &str, payload: &str) -> Vec<u8> {
        encode(
            &[
                (":message-type", "event"),
                (":event-type", event_type),
                (":content-type", "application/json"),
            ],
            Vec::new(),
            payload.as_bytes(),
        )
    }

    fn all(bytes: &[u8], max: usize) -> Result<Vec<Frame>, FrameError> {
        let mut frames = Frames::new(bytes, max);
        let mut out = Vec::new();
        while let Some(f) = frames.next_frame()? {
            out.push(f);
        }
        Ok(out)
    }

    #[test]
    fn reads_events_exceptions_and_errors_with_every_header_type() {
        let mut bytes = event("traceEvent", r#"{"id":"1"}"#);
        bytes.extend(encode(
            &[
                (":message-type", "exception"),
                (":exception-type", "throttlingException"),
            ],
            vec![
                Header::new("flag", HeaderValue::Bool(true)),
                Header::new("n8", HeaderValue::Byte(-3)),
                Header::new("n16", HeaderValue::Int16(300)),
                Header::new("n32", HeaderValue::Int32(70_000)),
                Header::new("n64", HeaderValue::Int64(1 << 40)),
                Header::new("bytes", HeaderValue::ByteArray(vec![0, 1, 2].into())),
                Header::new(
                    "at",
                    HeaderValue::Timestamp(aws_smithy_types::DateTime::from_secs(5)),
                ),
                Header::new("uuid", HeaderValue::Uuid(7)),
            ],
            br#"{"message":"slow down"}"#,
        ));
        bytes.extend(encode(
            &[
                (":message-type", "error"),
                (":error-code", "InternalFailure"),
                (":error-message", "oops"),
            ],
            Vec::new(),
            b"",
        ));
        let frames = all(&bytes, 1 << 20).unwrap();
        assert_eq!(frames[0].kind, Kind::Event("traceEvent".into()));
        assert_eq!(frames[0].payload, br#"{"id":"1"}"#);
        assert_eq!(
            frames[1].kind,
            Kind::Exception("throttlingException".into())
        );
        assert_eq!(
            frames[2].kind,
            Kind::Error("InternalFailure".into(), "oops".into())
        );
        // Read a byte at a time, the same messages come out.
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let Some((first, rest)) = self.0.split_first() else {
                    return Ok(0);
                };
                buf[0] = *first;
                self.0 = rest;
                Ok(1)
            }
        }
        let mut frames = Frames::new(Trickle(&bytes), 1 << 20);
        let mut n = 0;
        while frames.next_frame().unwrap().is_some() {
            n += 1;
        }
        assert_eq!(n, 3);
    }

    #[test]
    fn refuses_bad_checksums_truncation_oversize_and_unlabelled_messages() {
        let good = event("result", r#"{"results":[]}"#);
        // A flipped payload byte breaks the message CRC.
        let mut bad = good.clone();
        let at = bad.len() - 6;
        bad[at] ^= 0x20;
        assert!(
            matches!(all(&bad, 1 << 20), Err(FrameError::Corrupt(m)) if m.contains("checksum") || m.contains("Checksum") || m.contains("crc") || m.contains("CRC")),
            "message CRC"
        );
        // A flipped length byte breaks the prelude CRC, before any allocation.
        let mut bad = good.clone();
        bad[2] ^= 0x40;
        assert!(matches!(all(&bad, 1 << 20), Err(FrameError::Corrupt(m)) if m.contains("prelude")));
        // Cut anywhere inside a message: truncated (a cut between messages is a clean end).
        for cut in [1, 11, 12, good.len() - 1] {
            assert!(
                matches!(all(&good[..cut], 1 << 20), Err(FrameError::Truncated)),
                "cut at {cut}"
            );
        }
        let mut two = good.clone();
        two.extend(&good);
        assert_eq!(all(&two, 1 << 20).unwrap().len(), 2);
        assert!(matches!(all(&good, 20), Err(FrameError::TooLarge(_))));
        let unlabelled = encode(&[(":event-type", "result")], Vec::new(), b"{}");
        assert!(matches!(
            all(&unlabelled, 1 << 20),
            Err(FrameError::Unlabelled(_))
        ));
        let numeric = encode(
            &[],
            vec![Header::new(":message-type", HeaderValue::Int32(1))],
            b"{}",
        );
        assert!(matches!(
            all(&numeric, 1 << 20),
            Err(FrameError::Unlabelled(_))
        ));
        assert!(all(b"", 1 << 20).unwrap().is_empty());
    }
}
