//! RFC 3339 timestamps to and from `SystemTime`, in UTC, for credential expirations.
//!
//! Owns only parsing and formatting; must not read the clock or do I/O.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Parses `2026-01-02T03:04:05Z`, `…05.123Z` or `…05+02:00`; `None` if malformed or before 1970.
pub fn parse(text: &str) -> Option<SystemTime> {
    let b = text.trim().as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    if !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let year = digits(&b[0..4])?;
    let month = digits(&b[5..7])?;
    let day = digits(&b[8..10])?;
    let (hour, minute, second) = (
        digits(&b[11..13])?,
        digits(&b[14..16])?,
        digits(&b[17..19])?,
    );
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    // 60 allows a leap second; it lands on the next second, which is close enough for expiries.
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut rest = &b[19..];
    let mut nanos: u64 = 0;
    if let Some((b'.', frac)) = rest.split_first() {
        let len = frac.iter().take_while(|c| c.is_ascii_digit()).count();
        if len == 0 {
            return None;
        }
        for (i, c) in frac[..len].iter().enumerate().take(9) {
            nanos += u64::from(c - b'0') * 10u64.pow(8 - i as u32);
        }
        rest = &frac[len..];
    }
    let offset_secs: i64 = match rest {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let (h, m) = (digits(&[*h1, *h2])?, digits(&[*m1, *m2])?);
            if h > 23 || m > 59 {
                return None;
            }
            let off = (h * 3600 + m * 60) as i64;
            if *sign == b'+' {
                off
            } else {
                -off
            }
        }
        _ => return None,
    };
    let days = days_from_civil(year as i64, month, day);
    let secs = days * 86_400 + (hour * 3600 + minute * 60 + second) as i64 - offset_secs;
    let secs = u64::try_from(secs).ok()?;
    Some(UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_nanos(nanos))
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
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn digits(b: &[u8]) -> Option<u32> {
    b.iter().try_fold(0u32, |acc, c| {
        c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
    })
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

// Howard Hinnant's days-from-civil: exact for the proleptic Gregorian calendar.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((month + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
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
