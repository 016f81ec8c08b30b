//! Dates and times as helpdesk exports write them.
//!
//! Accepted, in this order:
//! - ISO 8601 / RFC 3339 with an offset (`2024-03-12T09:41:07Z`, `2024-03-12 09:41:07+01:00`,
//!   `…+0100`, also with a space before the offset, as Zendesk writes it, or a trailing
//!   ` UTC`) and with an IANA annotation (`…[Europe/Berlin]`);
//! - ISO 8601 without an offset: `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM[:SS[.fff]]`,
//!   `YYYY-MM-DD HH:MM[:SS]` (ServiceNow);
//! - US `MM/DD/YYYY[ HH:MM[:SS][ AM|PM]]` (some Zendesk and spreadsheet exports). A
//!   day-first `DD/MM/YYYY` is not guessed at: `03/04/2024` is the 4th of March;
//! - Jira `DD/Mon/YY h:mm AM` (`12/Mar/24 9:41 AM`, also 24-hour `12/Mar/24 09:41` and a
//!   four-digit year). Two-digit years are 20YY.
//!
//! A date and time without an offset is a wall-clock time in the import's time zone; a
//! date alone is midnight there. A wall-clock time that a daylight-saving change skips or
//! repeats resolves the way RFC 5545 and Temporal do ("compatible": later for a gap,
//! earlier for a fold).

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};

/// What a rejected date's reason lists as the accepted forms.
pub(crate) const EXPECTED_FORMS: &str = "expected ISO 8601 (2024-03-12T09:41:00Z), \
     YYYY-MM-DD HH:MM[:SS], MM/DD/YYYY HH:MM or DD/Mon/YY h:mm AM";

/// Parses one date cell into microseconds since the Unix epoch (UTC). `text` is trimmed
/// and not empty. The error is a reason for a rejected row.
pub(crate) fn parse_instant(text: &str, tz: &TimeZone) -> Result<i64, String> {
    instant(text.trim(), tz)
        .map(Timestamp::as_microsecond)
        .ok_or_else(|| format!("{text:?} is not a date and time ({EXPECTED_FORMS})"))
}

fn instant(text: &str, tz: &TimeZone) -> Option<Timestamp> {
    // Decide by a cheap look at the text which parser applies: a failed jiff parse builds
    // an error message, which would cost more than the parse on every row of a big file.
    let zoned = has_offset_suffix(text) || text.contains('[') || ends_with_zone_name(text);
    if zoned {
        if text.contains('[')
            && let Ok(zoned) = text.parse::<Zoned>()
        {
            return Some(zoned.timestamp());
        }
        if let Ok(timestamp) = text.parse::<Timestamp>() {
            return Some(timestamp);
        }
        return join_spaced_offset(text)?.parse::<Timestamp>().ok();
    }
    let civil = if text.contains('/') { slashed(text)? } else { text.parse::<DateTime>().ok()? };
    tz.to_ambiguous_timestamp(civil).compatible().ok()
}

/// `2024-03-12 09:41:07 +0100` → `2024-03-12 09:41:07+0100`; `… UTC`/`… GMT` → `…Z`.
fn join_spaced_offset(text: &str) -> Option<String> {
    let (head, tail) = text.rsplit_once(' ')?;
    if !head.contains(':') {
        return None;
    }
    if tail.eq_ignore_ascii_case("utc") || tail.eq_ignore_ascii_case("gmt") || tail == "Z" {
        return Some(format!("{head}Z"));
    }
    let offset = tail.strip_prefix(['+', '-'])?;
    let digits = offset.replace(':', "");
    (digits.len() == 4 && digits.bytes().all(|b| b.is_ascii_digit())).then(|| format!("{head}{tail}"))
}

/// Whether a date-time string ends in ` UTC` or ` GMT`.
fn ends_with_zone_name(text: &str) -> bool {
    let tail = text.get(text.len().saturating_sub(4)..).unwrap_or_default();
    tail.eq_ignore_ascii_case(" utc") || tail.eq_ignore_ascii_case(" gmt")
}

/// Whether a date-time string has something offset-like (`Z`, `+01:00`, `-0500`) after
/// the start of its time part.
fn has_offset_suffix(text: &str) -> bool {
    let Some(time_at) = text.find(['T', 't', ' ']) else { return false };
    let time = &text[time_at + 1..];
    time.ends_with(['Z', 'z']) || time.contains(['+', '-'])
}

/// `MM/DD/YYYY …` and `DD/Mon/YY …`.
fn slashed(text: &str) -> Option<DateTime> {
    let (date_part, time_part) = match text.split_once(char::is_whitespace) {
        Some((date, time)) => (date, time.trim()),
        None => (text, ""),
    };
    let mut pieces = date_part.split('/');
    let (first, second, third) = (pieces.next()?, pieces.next()?, pieces.next()?);
    if pieces.next().is_some() {
        return None;
    }
    let (year, month, day) = if second.bytes().all(|b| b.is_ascii_alphabetic()) {
        (year(third)?, month_by_name(second)?, number(first, 2)?)
    } else {
        (year(third)?, number(first, 2)?, number(second, 2)?)
    };
    let date = Date::new(year, i8::try_from(month).ok()?, i8::try_from(day).ok()?).ok()?;
    let time = if time_part.is_empty() { Time::midnight() } else { clock(time_part)? };
    Some(date.to_datetime(time))
}

/// `9:41`, `09:41:07`, `9:41 AM`, `9:41PM`.
fn clock(text: &str) -> Option<Time> {
    let lower = text.to_ascii_lowercase();
    let (digits, meridiem) = if let Some(rest) = lower.strip_suffix("am") {
        (rest.trim_end(), Some(false))
    } else if let Some(rest) = lower.strip_suffix("pm") {
        (rest.trim_end(), Some(true))
    } else {
        (lower.as_str(), None)
    };
    let mut parts = digits.split(':');
    let hour = number(parts.next()?, 2)?;
    let minute = number(parts.next()?, 2)?;
    let second = match parts.next() {
        Some(s) => number(s, 2)?,
        None => 0,
    };
    if parts.next().is_some() {
        return None;
    }
    let hour = match meridiem {
        None => hour,
        Some(_) if !(1..=12).contains(&hour) => return None,
        Some(false) => hour % 12,
        Some(true) => hour % 12 + 12,
    };
    Time::new(i8::try_from(hour).ok()?, i8::try_from(minute).ok()?, i8::try_from(second).ok()?, 0).ok()
}

fn year(text: &str) -> Option<i16> {
    match text.len() {
        2 => Some(2000 + i16::try_from(number(text, 2)?).ok()?),
        4 => i16::try_from(number(text, 4)?).ok(),
        _ => None,
    }
}

/// A run of 1..=`max_len` ASCII digits.
fn number(text: &str, max_len: usize) -> Option<u32> {
    if text.is_empty() || text.len() > max_len || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn month_by_name(text: &str) -> Option<u32> {
    const MONTHS: [&str; 12] =
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
    let lower = text.to_ascii_lowercase();
    MONTHS.iter().position(|m| *m == lower).map(|i| i as u32 + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> i64 {
        text.parse::<Timestamp>().unwrap().as_microsecond()
    }

    fn parse(text: &str, zone: &str) -> Result<i64, String> {
        parse_instant(text, &TimeZone::get(zone).unwrap())
    }

    #[test]
    fn offsets_in_the_text_win_over_the_time_zone() {
        let instant = utc("2024-03-12T08:41:00Z");
        for text in [
            "2024-03-12T08:41:00Z",
            "2024-03-12 08:41:00Z",
            "2024-03-12T09:41:00+01:00",
            "2024-03-12T09:41:00+0100",
            "2024-03-12 09:41:00 +0100",
            "2024-03-12 08:41:00 UTC",
            "2024-03-12T09:41:00+01:00[Europe/Berlin]",
            "2024-03-12T09:41:00[Europe/Berlin]",
        ] {
            assert_eq!(parse(text, "America/New_York"), Ok(instant), "{text}");
        }
        assert_eq!(parse("2024-03-12T08:41:00.250Z", "UTC"), Ok(instant + 250_000));
    }

    #[test]
    fn wall_clock_times_use_the_time_zone() {
        assert_eq!(parse("2024-03-12 09:41:07", "UTC"), Ok(utc("2024-03-12T09:41:07Z")));
        assert_eq!(parse("2024-03-12T09:41", "Europe/Berlin"), Ok(utc("2024-03-12T08:41:00Z")));
        assert_eq!(parse("2024-07-12 09:41", "Europe/Berlin"), Ok(utc("2024-07-12T07:41:00Z")));
        assert_eq!(parse("2024-03-12", "America/New_York"), Ok(utc("2024-03-12T04:00:00Z")));
    }

    #[test]
    fn us_and_jira_forms() {
        assert_eq!(parse("03/12/2024 09:41", "UTC"), Ok(utc("2024-03-12T09:41:00Z")));
        assert_eq!(parse("3/12/2024 9:41 PM", "UTC"), Ok(utc("2024-03-12T21:41:00Z")));
        assert_eq!(parse("03/12/2024", "UTC"), Ok(utc("2024-03-12T00:00:00Z")));
        assert_eq!(parse("12/Mar/24 9:41 AM", "UTC"), Ok(utc("2024-03-12T09:41:00Z")));
        assert_eq!(parse("12/mar/24 12:05 AM", "UTC"), Ok(utc("2024-03-12T00:05:00Z")));
        assert_eq!(parse("12/Mar/24 12:05 PM", "UTC"), Ok(utc("2024-03-12T12:05:00Z")));
        assert_eq!(parse("12/Mar/24 09:41", "UTC"), Ok(utc("2024-03-12T09:41:00Z")));
        assert_eq!(parse("12/Mar/2024 9:41pm", "UTC"), Ok(utc("2024-03-12T21:41:00Z")));
        // Berlin is UTC+1 in March before the switch on the 31st, UTC+2 after it.
        assert_eq!(parse("12/Mar/24 9:41 AM", "Europe/Berlin"), Ok(utc("2024-03-12T08:41:00Z")));
        assert_eq!(parse("02/Apr/24 9:41 AM", "Europe/Berlin"), Ok(utc("2024-04-02T07:41:00Z")));
    }

    #[test]
    fn daylight_saving_gaps_resolve_forward() {
        // 02:30 on 2024-03-31 does not exist in Berlin; "compatible" gives 03:30 CEST.
        assert_eq!(parse("2024-03-31 02:30", "Europe/Berlin"), Ok(utc("2024-03-31T01:30:00Z")));
    }

    #[test]
    fn malformed_dates_are_refused_with_the_accepted_forms() {
        for text in [
            "yesterday",
            "2024-13-01",
            "2024-02-30 10:00",
            "31/12/2024 10:00",
            "12/Mrz/24 9:41 AM",
            "12/Mar/24 13:41 PM",
            "12/Mar/24 9:41 AM extra",
            "2024-03-12T09:41:00+1:00",
            "1710236460",
        ] {
            let reason = parse(text, "UTC").unwrap_err();
            assert!(reason.contains("expected ISO 8601"), "{text}: {reason}");
        }
    }
}
