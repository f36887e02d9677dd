//! RFC 3339 timestamps to and from `SystemTime`, in UTC, for credential expirations and log
//! lines.
//!
//! A thin front end over aws-smithy-types' `DateTime` (already in the tree through aws-sigv4),
//! adding what our callers need: offsets accepted, times before 1970 refused, and a fixed
//! three-digit millisecond form for logs. Must not read the clock or do I/O.

use aws_smithy_types::date_time::{DateTime, Format};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Parses `2026-01-02T03:04:05Z`, `…05.123Z` or `…05+02:00`; `None` if malformed or before 1970.
pub fn parse(text: &str) -> Option<SystemTime> {
    let text = text.trim();
    // RFC 3339 §5.6 lets a space stand for the `T`; DateTime accepts only `T` or `t`.
    let spaced = text.as_bytes().get(10) == Some(&b' ');
    let text = if spaced {
        std::borrow::Cow::Owned(format!("{}T{}", &text[..10], &text[11..]))
    } else {
        std::borrow::Cow::Borrowed(text)
    };
    let parsed = DateTime::from_str(&text, Format::DateTimeWithOffset).ok()?;
    // A negative epoch second is representable but never a real expiry: treat it as garbage.
    let secs = u64::try_from(parsed.secs()).ok()?;
    Some(UNIX_EPOCH + Duration::new(secs, parsed.subsec_nanos()))
}

/// Formats with milliseconds, `2026-01-02T03:04:05.678Z` (UTC), for log lines.
pub fn format_millis(time: SystemTime) -> String {
    let whole = format(time);
    let millis = time
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_millis());
    format!("{}.{millis:03}Z", whole.trim_end_matches('Z'))
}

/// Formats as `2026-01-02T03:04:05Z` (whole seconds, UTC); times before 1970 print as the epoch.
pub fn format(time: SystemTime) -> String {
    let secs = time
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    // Past year 9999 RFC 3339 has no form; such a time can only come from a broken clock, and a
    // log line or expiry note must still print something.
    let secs = i64::try_from(secs).unwrap_or(i64::MAX);
    DateTime::from_secs(secs)
        .fmt(Format::DateTime)
        .unwrap_or_else(|_| "9999-12-31T23:59:59Z".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_timestamps_carry_milliseconds() {
        assert_eq!(format_millis(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let t = UNIX_EPOCH + Duration::from_millis(1_709_251_199_999);
        assert_eq!(format_millis(t), "2024-02-29T23:59:59.999Z");
        assert_eq!(parse(&format_millis(t)), Some(t));
    }

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn parses_known_instants() {
        assert_eq!(parse("1970-01-01T00:00:00Z"), Some(at(0)));
        // 2026-01-01 is 20454 days after the epoch.
        assert_eq!(parse("2026-01-01T00:00:00Z"), Some(at(1_767_225_600)));
        assert_eq!(parse("2000-02-29T12:34:56Z"), Some(at(951_827_696)));
        assert_eq!(parse("2024-12-31T23:59:59z"), Some(at(1_735_689_599)));
        assert_eq!(parse("2024-12-31 23:59:59Z"), Some(at(1_735_689_599)));
    }

    #[test]
    fn applies_offsets_and_fractions() {
        let base = at(1_767_225_600);
        assert_eq!(parse("2026-01-01T02:00:00+02:00"), Some(base));
        assert_eq!(parse("2025-12-31T19:30:00-04:30"), Some(base));
        assert_eq!(
            parse("2026-01-01T00:00:00.250Z"),
            Some(base + Duration::from_millis(250))
        );
        assert_eq!(
            parse("2026-01-01T00:00:00.123456789123Z"),
            Some(base + Duration::from_nanos(123_456_789))
        );
    }

    #[test]
    fn rejects_malformed_input() {
        for bad in [
            "",
            "2026-01-01",
            "2026-01-01T00:00:00",
            "2026-13-01T00:00:00Z",
            "2026-02-29T00:00:00Z",
            "1900-02-29T00:00:00Z",
            "2026-01-01T24:00:00Z",
            "2026-01-01T00:00:00.Z",
            "2026-01-01T00:00:00+2:00",
            "2026-01-01T00:00:00Zjunk",
            "20x6-01-01T00:00:00Z",
            "1969-12-31T23:59:59Z",
            "２026-01-01T00:00:00Z",
        ] {
            assert_eq!(parse(bad), None, "{bad:?} should not parse");
        }
    }

    #[test]
    fn format_round_trips() {
        for secs in [
            0,
            951_827_696,
            1_767_225_600,
            4_102_444_799,
            253_402_300_799,
        ] {
            let text = format(at(secs));
            assert_eq!(parse(&text), Some(at(secs)), "{text}");
        }
        assert_eq!(format(at(951_827_696)), "2000-02-29T12:34:56Z");
    }
}
