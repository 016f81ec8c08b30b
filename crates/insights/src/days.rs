//! Days in UTC, as the rollups and reports count them: instants are microseconds since the
//! epoch (as `store` keeps them), days are whole UTC days since the epoch.

use jiff::civil::Date;

pub const MICROS_PER_DAY: i64 = 86_400_000_000;
pub const MICROS_PER_WEEK: i64 = 7 * MICROS_PER_DAY;

/// The instant a UTC day begins.
pub fn day_start(date: Date) -> i64 {
    date.to_zoned(jiff::tz::TimeZone::UTC).map_or(0, |z| z.timestamp().as_microsecond())
}

/// The UTC date an instant falls in (1970-01-01 for one outside years -9999 to 9999).
pub fn date_of(micros: i64) -> Date {
    jiff::Timestamp::from_microsecond(micros)
        .map(|t| t.to_zoned(jiff::tz::TimeZone::UTC).date())
        .unwrap_or_default()
}

/// The UTC day (since the epoch) an instant falls in.
pub fn day_of(micros: i64) -> i64 {
    micros.div_euclid(MICROS_PER_DAY)
}

/// Today, in UTC.
pub fn today() -> Date {
    jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_starts_at_utc_midnight_and_an_instant_before_the_epoch_is_on_the_day_before() {
        let date: Date = "1970-01-02".parse().unwrap();
        assert_eq!(day_start(date), MICROS_PER_DAY);
        assert_eq!(day_of(MICROS_PER_DAY), 1);
        assert_eq!(day_of(-1), -1);
        assert_eq!(date_of(MICROS_PER_DAY - 1).to_string(), "1970-01-01");
        assert_eq!(date_of(day_start(date)), date);
    }
}
