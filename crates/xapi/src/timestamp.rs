use std::fmt;

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::Offset;

/// An instant, kept as microseconds since the Unix epoch (UTC).
///
/// Microseconds are the precision the LRS stores and formats, so a `stored` value a client
/// reads back can be sent as `since` and compares exactly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

/// A timestamp as written in a statement: the instant and whether the text carried an offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParsedTimestamp {
    pub instant: Timestamp,
    /// `Z` or a numeric offset was present (xAPI 2.0.0 requires one).
    pub has_offset: bool,
    /// The offset was written `-00:00` (RFC 3339 "unknown local offset"; 2.0.0 rejects it).
    pub negative_zero_offset: bool,
}

impl Timestamp {
    pub const fn from_micros(micros: i64) -> Self {
        Timestamp(micros)
    }

    pub const fn as_micros(self) -> i64 {
        self.0
    }

    /// The current wall-clock time.
    pub fn now() -> Self {
        Timestamp(jiff::Timestamp::now().as_microsecond())
    }

    /// Parses an ISO 8601 date-time as xAPI uses it (xAPI 1.0.3 Data §4.5): RFC 3339
    /// (`2024-03-12T09:41:00.123Z`, `2024-03-12T09:41:00+01:00`), and the other ISO 8601
    /// complete representations: offsets `+0100` and `+01`, seconds omitted
    /// (`2024-03-12T09:41Z`), a decimal comma, and the basic format (`20240312T094100Z`),
    /// which must then be basic throughout. A missing offset is read as UTC; the caller
    /// decides whether that is allowed.
    pub fn parse(text: &str) -> Option<ParsedTimestamp> {
        let bytes = text.as_bytes();
        let number = |from: usize, len: usize| -> Option<u32> {
            let part = bytes.get(from..from + len)?;
            part.iter()
                .all(u8::is_ascii_digit)
                .then(|| part.iter().fold(0, |n, d| n * 10 + u32::from(d - b'0')))
        };
        // The extended format separates date parts with '-' and time parts with ':'.
        let extended = bytes.get(4) == Some(&b'-');
        let sep = usize::from(extended);
        let year = number(0, 4)? as i32;
        let month = number(4 + sep, 2)?;
        let day = number(6 + 2 * sep, 2)?;
        if extended && bytes.get(7) != Some(&b'-') {
            return None;
        }
        let t = 8 + 2 * sep;
        if !matches!(bytes.get(t), Some(b'T' | b't')) {
            return None;
        }
        let hour = number(t + 1, 2)?;
        if extended && bytes.get(t + 3) != Some(&b':') {
            return None;
        }
        let minute = number(t + 3 + sep, 2)?;
        let mut pos = t + 5 + sep;
        let mut second = 0;
        let mut micros = 0u32;
        let seconds_follow = if extended { bytes.get(pos) == Some(&b':') } else { number(pos, 2).is_some() };
        if seconds_follow {
            second = number(pos + sep, 2)?;
            pos += 2 + sep;
            if matches!(bytes.get(pos), Some(b'.' | b',')) {
                let start = pos + 1;
                let end = start + bytes[start..].iter().take_while(|b| b.is_ascii_digit()).count();
                if end == start {
                    return None;
                }
                // Keep microseconds; finer digits are truncated.
                for i in 0..6 {
                    let digit = if start + i < end { u32::from(bytes[start + i] - b'0') } else { 0 };
                    micros = micros * 10 + digit;
                }
                pos = end;
            }
        }
        let (offset, has_offset, negative_zero_offset) = match &text[pos..] {
            "" => (Offset::UTC, false, false),
            "Z" | "z" => (Offset::UTC, true, false),
            rest => {
                let sign: i8 = match rest.as_bytes()[0] {
                    b'+' => 1,
                    b'-' => -1,
                    _ => return None,
                };
                let body = &rest[1..];
                if !body.is_ascii() {
                    return None;
                }
                let (h, m) = match body.len() {
                    2 => (body, "00"),
                    4 => (&body[..2], &body[2..]),
                    5 if body.as_bytes()[2] == b':' => (&body[..2], &body[3..]),
                    _ => return None,
                };
                if !h.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit()) {
                    return None;
                }
                let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
                if h > 23 || m > 59 {
                    return None;
                }
                let offset = Offset::from_seconds(i32::from(sign) * (h * 3600 + m * 60)).ok()?;
                (offset, true, sign < 0 && h == 0 && m == 0)
            }
        };
        let date =
            Date::new(i16::try_from(year).ok()?, i8::try_from(month).ok()?, i8::try_from(day).ok()?).ok()?;
        let time = Time::new(
            i8::try_from(hour).ok()?,
            i8::try_from(minute).ok()?,
            i8::try_from(second).ok()?,
            i32::try_from(micros).ok()? * 1_000,
        )
        .ok()?;
        let instant = offset.to_timestamp(DateTime::from_parts(date, time)).ok()?;
        Some(ParsedTimestamp {
            instant: Timestamp(instant.as_microsecond()),
            has_offset,
            negative_zero_offset,
        })
    }

    /// RFC 3339 in UTC with milliseconds, `2024-03-12T09:41:00.123Z`: how the LRS shows
    /// `stored` (which it assigns at millisecond precision, so the text is exact) and
    /// Consistent-Through (truncated, so never later than the instant).
    pub fn to_rfc3339(self) -> String {
        let t = self.to_utc_date_time();
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            t.year(),
            t.month(),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            t.millisecond()
        )
    }

    /// An HTTP date (RFC 9110 IMF-fixdate) for `Last-Modified`.
    pub fn to_http_date(self) -> String {
        let t = self.to_utc_date_time();
        const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
        const MONTHS: [&str; 12] =
            ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
        format!(
            "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
            DAYS[t.weekday().to_monday_zero_offset() as usize],
            t.day(),
            MONTHS[t.month() as usize - 1],
            t.year(),
            t.hour(),
            t.minute(),
            t.second()
        )
    }

    /// The instant as a UTC date and time; the epoch for one outside years -9999 to 9999.
    fn to_utc_date_time(self) -> DateTime {
        let instant = jiff::Timestamp::from_microsecond(self.0).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        Offset::UTC.to_datetime(instant)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.to_utc_date_time();
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}{:03}Z",
            t.year(),
            t.month(),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            t.millisecond(),
            t.microsecond()
        )
    }
}

/// Whether `text` is an ISO 8601 duration (`P1DT2H3M4.5S`, `PT0.5S`, `P2W`).
pub fn is_valid_duration(text: &str) -> bool {
    let Some(body) = text.strip_prefix('P') else {
        return false;
    };
    if body.is_empty() {
        return false;
    }
    // Week form stands alone: PnW.
    if let Some(weeks) = body.strip_suffix('W') {
        return is_number(weeks, true);
    }
    let (date, time) = match body.split_once('T') {
        Some((d, t)) => {
            if t.is_empty() {
                return false;
            }
            (d, Some(t))
        }
        None => (body, None),
    };
    designators_ok(date, &['Y', 'M', 'D']) && time.is_none_or(|t| designators_ok(t, &['H', 'M', 'S']))
}

/// Checks a run like `1Y2M3D` where each designator appears at most once and in order.
fn designators_ok(part: &str, order: &[char]) -> bool {
    let mut rest = part;
    let mut next = 0;
    while !rest.is_empty() {
        let Some(idx) = rest.find(|c: char| c.is_ascii_alphabetic()) else {
            return false;
        };
        let (num, tail) = rest.split_at(idx);
        let designator = tail.chars().next().unwrap_or(' ');
        let Some(pos) = order[next..].iter().position(|&d| d == designator) else {
            return false;
        };
        // Only the smallest unit present may carry a fraction; we accept a fraction on any
        // unit, as ISO 8601 permits it on the lowest-order component given.
        if !is_number(num, true) {
            return false;
        }
        next += pos + 1;
        rest = &tail[1..];
    }
    true
}

fn is_number(text: &str, allow_fraction: bool) -> bool {
    let (int, frac) = match text.split_once(['.', ',']) {
        Some((i, f)) if allow_fraction => (i, Some(f)),
        Some(_) => return false,
        None => (text, None),
    };
    !int.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_with_offsets_name_the_same_instant() {
        let z = Timestamp::parse("2024-03-12T09:41:00Z").unwrap();
        let plus = Timestamp::parse("2024-03-12T10:41:00+01:00").unwrap();
        let compact = Timestamp::parse("2024-03-12T10:41:00+0100").unwrap();
        let hours = Timestamp::parse("2024-03-12T10:41:00+01").unwrap();
        assert!(z.has_offset);
        assert_eq!(z.instant, plus.instant);
        assert_eq!(z.instant, compact.instant);
        assert_eq!(z.instant, hours.instant);
    }

    #[test]
    fn fractions_keep_microseconds() {
        let t = Timestamp::parse("2024-03-12T09:41:00.1234567Z").unwrap();
        assert_eq!(t.instant.to_string(), "2024-03-12T09:41:00.123456Z");
    }

    #[test]
    fn a_missing_offset_is_reported() {
        let t = Timestamp::parse("2024-03-12T09:41:00.5").unwrap();
        assert!(!t.has_offset);
        assert!(Timestamp::parse("2024-03-12T09:41:00-00:00").unwrap().negative_zero_offset);
    }

    #[test]
    fn other_iso_8601_complete_representations_are_accepted() {
        let reference = Timestamp::parse("2024-03-12T09:41:00Z").unwrap().instant;
        for same in [
            "2024-03-12T09:41Z",
            "20240312T094100Z",
            "20240312T0941Z",
            "20240312T104100+0100",
            "2024-03-12T09:41:00,000Z",
        ] {
            let parsed = Timestamp::parse(same).unwrap_or_else(|| panic!("{same}"));
            assert_eq!(parsed.instant, reference, "{same}");
            assert!(parsed.has_offset, "{same}");
        }
        assert_eq!(Timestamp::parse("20240312T094100.25Z").unwrap().instant.as_micros() % 1_000_000, 250_000);
    }

    #[test]
    fn malformed_timestamps_are_rejected() {
        for bad in [
            "",
            "2024-03-12",
            "2024-13-12T09:41:00Z",
            "2024-02-30T09:41:00Z",
            "2024-03-12 09:41:00Z",
            "2024-03-12T25:41:00Z",
            "2024-03-12T09:41:00.Z",
            "2024-03-12T09:41:00+1:00",
            "2024-03-12T09:41:00Zjunk",
            "not a date",
            "2024-03-12T0941Z",
            "20240312T09:41:00Z",
            "2024-03-12T09",
            "2024-03-12T09:41:00.5-00:0",
            "2024-03-12T09:4Z",
            "2024-03-12T24:00:00Z",
            "2024-03-12T09:41:60Z",
            "2024-03-12T09:41:00+aéb",
            "2024-03-12T09:41:00é",
        ] {
            assert!(Timestamp::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn rfc3339_shows_milliseconds_and_round_trips_them() {
        let t = Timestamp::parse("2024-03-12T09:41:00.000001Z").unwrap().instant;
        assert_eq!(t.to_rfc3339(), "2024-03-12T09:41:00.000Z");
        let ms = Timestamp::parse("2024-03-12T09:41:00.123Z").unwrap().instant;
        assert_eq!(Timestamp::parse(&ms.to_rfc3339()).unwrap().instant, ms);
    }

    #[test]
    fn http_dates_use_imf_fixdate() {
        let t = Timestamp::parse("1994-11-06T08:49:37Z").unwrap().instant;
        assert_eq!(t.to_http_date(), "Sun, 06 Nov 1994 08:49:37 GMT");
    }

    #[test]
    fn durations_follow_iso_8601() {
        for good in ["PT1H", "P1Y2M3DT4H5M6.5S", "PT0.5S", "P2W", "P1D", "PT1M30S"] {
            assert!(is_valid_duration(good), "{good}");
        }
        for bad in ["", "P", "PT", "1H", "PT1H2H", "PM1Y", "P1.S", "PTS", "P1H", "PT-1S", "P1W2D"] {
            assert!(!is_valid_duration(bad), "{bad}");
        }
    }
}
