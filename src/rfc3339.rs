//! RFC 3339 timestamps, as Kubernetes writes them (`Time` in seconds, `MicroTime`
//! in microseconds, always UTC). Small enough that a date crate is not worth it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch, for a `SystemTime` at or after it.
pub fn unix_seconds(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// `2026-11-22T12:00:00Z`
pub fn format_seconds(unix: i64) -> String {
    let (date, secs) = split_days(unix);
    format!("{}T{}Z", date, hms(secs))
}

/// `2026-11-22T12:00:00.000000Z`
pub fn format_micros(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    let (date, secs) = split_days(d.as_secs() as i64);
    format!("{}T{}.{:06}Z", date, hms(secs), d.subsec_micros())
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)` into a `SystemTime`.
pub fn parse(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(r)?;
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut rest = &s[19..];
    let mut nanos: u32 = 0;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        let padded: String = frac[..digits]
            .chars()
            .chain("000000000".chars())
            .take(9)
            .collect();
        nanos = padded.parse().ok()?;
        rest = &frac[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6 && (rest.starts_with('+') || rest.starts_with('-')) => {
            let h: i64 = rest.get(1..3)?.parse().ok()?;
            let m: i64 = rest.get(4..6)?.parse().ok()?;
            let sign = if rest.starts_with('-') { -1 } else { 1 };
            sign * (h * 3600 + m * 60)
        }
        _ => return None,
    };
    let unix =
        days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset;
    let unix = u64::try_from(unix).ok()?;
    Some(UNIX_EPOCH + Duration::new(unix, nanos))
}

fn split_days(unix: i64) -> (String, i64) {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    (format!("{:04}-{:02}-{:02}", y, m, d), secs)
}

fn hms(secs: i64) -> String {
    format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

// Howard Hinnant's days-from-civil algorithm: proleptic Gregorian, no tables.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn format_epoch() {
        assert_eq!(format_seconds(0), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn format_fixture_time() {
        // 2026-11-22T12:00:00Z, the fixtures' lastTransitionTime.
        assert_eq!(format_seconds(1_795_348_800), "2026-11-22T12:00:00Z");
    }

    #[test]
    fn leap_day() {
        assert_eq!(format_seconds(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn parse_round_trip() {
        let t = parse("2026-11-22T12:00:00Z").unwrap();
        assert_eq!(unix_seconds(t), 1_795_348_800);
    }

    #[test]
    fn parse_micro_time() {
        let t = parse("2026-11-22T12:00:00.250000Z").unwrap();
        assert_eq!(format_micros(t), "2026-11-22T12:00:00.250000Z");
    }

    #[test]
    fn parse_offset() {
        let t = parse("2026-11-22T13:00:00+01:00").unwrap();
        assert_eq!(unix_seconds(t), 1_795_348_800);
    }

    #[test]
    fn parse_rejects_garbage() {
        assert_eq!(parse(""), None);
        assert_eq!(parse("2026-13-22T12:00:00Z"), None);
        assert_eq!(parse("2026-11-22T12:00:00"), None);
        assert_eq!(parse("2026-11-22T12:00:00.Z"), None);
        assert_eq!(parse("1969-12-31T23:59:59Z"), None);
        assert_eq!(parse("2026-11-22T1a:00:00Z"), None);
    }
}
