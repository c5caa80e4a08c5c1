//! SQL Server value conversions (pure; the source and the loader both use them): `date`,
//! `time(n)`, `datetime2`/`datetimeoffset`, `datetime` and `smalldatetime` day numbers and
//! ticks ↔ Arrow dates, times and timestamps, and `uniqueidentifier` text.

use arrow::datatypes::TimeUnit;

/// Days from 0001-01-01 (SQL Server `date`/`datetime2` day 0) to 1970-01-01.
pub const DAYS_0001_TO_1970: i64 = 719_162;
/// Days from 1900-01-01 (`datetime`/`smalldatetime` day 0) to 1970-01-01.
pub const DAYS_1900_TO_1970: i64 = 25_567;
/// Last valid `date` day number (9999-12-31) counted from 0001-01-01.
pub const MAX_DATE_DAYS: i64 = 3_652_058;

const US_PER_DAY: i64 = 86_400_000_000;
const NS_PER_DAY: i64 = 86_400_000_000_000;

/// `date` day number (since 0001-01-01) → Arrow Date32 (days since 1970-01-01).
pub fn date_days_to_date32(days: u32) -> i32 {
    (i64::from(days) - DAYS_0001_TO_1970) as i32
}

/// Arrow Date32 → `date` day number, or why it does not fit.
pub fn date32_to_date_days(days: i32) -> Result<u32, String> {
    let d = i64::from(days) + DAYS_0001_TO_1970;
    if (0..=MAX_DATE_DAYS).contains(&d) {
        Ok(d as u32)
    } else {
        Err(format!(
            "day {days} since 1970-01-01 is outside SQL Server's DATE range 0001-01-01..9999-12-31"
        ))
    }
}

/// `time(n)` increments of 10^-scale s → nanoseconds since midnight.
pub fn time_to_nanos(increments: u64, scale: u8) -> Result<i64, String> {
    if scale > 9 {
        return Err(format!("time scale {scale} is not a SQL Server scale"));
    }
    let ns = i128::from(increments) * 10i128.pow(u32::from(9 - scale));
    i64::try_from(ns)
        .ok()
        .filter(|n| *n < NS_PER_DAY)
        .ok_or_else(|| format!("time value of {increments} ticks is past midnight"))
}

/// Nanoseconds since midnight → `time(7)` increments (100 ns), or why not exact.
pub fn nanos_to_time7(ns: i64) -> Result<u64, String> {
    if !(0..NS_PER_DAY).contains(&ns) {
        return Err(format!("{ns} ns is not a time of day"));
    }
    if ns % 100 != 0 {
        return Err(format!(
            "time of day {ns} ns is finer than SQL Server's 100 ns (TIME(7))"
        ));
    }
    Ok((ns / 100) as u64)
}

/// `datetime2`/`datetimeoffset` parts → a timestamp in `unit` since 1970 (UTC or naive).
pub fn datetime2_to_unit(
    days: u32,
    increments: u64,
    scale: u8,
    unit: TimeUnit,
) -> Result<i64, String> {
    let ns_of_day = i128::from(time_to_nanos(increments, scale)?);
    let day = i128::from(days) - i128::from(DAYS_0001_TO_1970);
    let total_ns = day * i128::from(NS_PER_DAY) + ns_of_day;
    let per = match unit {
        TimeUnit::Second => 1_000_000_000,
        TimeUnit::Millisecond => 1_000_000,
        TimeUnit::Microsecond => 1_000,
        TimeUnit::Nanosecond => 1,
    };
    if total_ns % per != 0 {
        return Err(format!(
            "the value has more fractional digits than Arrow {unit:?} holds"
        ));
    }
    i64::try_from(total_ns / per).map_err(|_| {
        "the value is outside the range of a nanosecond timestamp (1677-09-21..2262-04-11); declare the column datetime2(6) in a view to stage it".to_string()
    })
}

/// `datetime` (days since 1900-01-01, 1/300 s ticks) → µs since 1970, rounded to the nearest µs.
pub fn datetime_to_micros(days: i32, ticks_300: u32) -> i64 {
    let day_us = (i64::from(days) - DAYS_1900_TO_1970) * US_PER_DAY;
    // ticks · 10^6 / 300, rounded half away from zero (ticks are non-negative).
    let us = (i64::from(ticks_300) * 1_000_000 * 2 + 300) / 600;
    day_us + us
}

/// `smalldatetime` (days since 1900-01-01, minutes) → µs since 1970 (exact).
pub fn smalldatetime_to_micros(days: u16, minutes: u16) -> i64 {
    (i64::from(days) - DAYS_1900_TO_1970) * US_PER_DAY + i64::from(minutes) * 60_000_000
}

/// A timestamp in `unit` since 1970 → (`date` day number, `time(7)` increments).
pub fn unit_to_datetime2(value: i64, unit: TimeUnit) -> Result<(u32, u64), String> {
    let per_100ns: i128 = match unit {
        TimeUnit::Second => 10_000_000,
        TimeUnit::Millisecond => 10_000,
        TimeUnit::Microsecond => 10,
        TimeUnit::Nanosecond => {
            if value % 100 != 0 {
                return Err(format!(
                    "timestamp {value} ns is finer than SQL Server's 100 ns (DATETIME2(7))"
                ));
            }
            return split_100ns(i128::from(value) / 100);
        }
    };
    split_100ns(i128::from(value) * per_100ns)
}

fn split_100ns(ticks: i128) -> Result<(u32, u64), String> {
    const PER_DAY: i128 = 864_000_000_000;
    let day = ticks.div_euclid(PER_DAY) + i128::from(DAYS_0001_TO_1970);
    let inc = ticks.rem_euclid(PER_DAY);
    if !(0..=i128::from(MAX_DATE_DAYS)).contains(&day) {
        return Err("timestamp is outside SQL Server's range 0001-01-01..9999-12-31".into());
    }
    Ok((day as u32, inc as u64))
}

/// Canonical text of a `uniqueidentifier`, as SQL Server prints it (upper case).
pub fn guid_text(g: &tiberius::Uuid) -> String {
    g.to_string().to_ascii_uppercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_times_convert_exactly() {
        assert_eq!(date_days_to_date32(719_162), 0);
        assert_eq!(date_days_to_date32(0), -719_162);
        assert_eq!(date32_to_date_days(0), Ok(719_162));
        assert_eq!(date32_to_date_days(-719_162), Ok(0));
        assert!(date32_to_date_days(-719_163).is_err());
        assert_eq!(date32_to_date_days(2_932_896), Ok(3_652_058)); // 9999-12-31
        assert!(date32_to_date_days(2_932_897).is_err());
        assert_eq!(time_to_nanos(1, 7), Ok(100));
        assert_eq!(time_to_nanos(5, 1), Ok(500_000_000));
        assert!(time_to_nanos(864_000_000_000, 7).is_err());
        assert_eq!(nanos_to_time7(100), Ok(1));
        assert!(nanos_to_time7(150).is_err());
    }

    #[test]
    fn datetime2_keeps_100ns_and_rejects_out_of_range_nanos() {
        // 1970-01-01 00:00:00.0000001
        assert_eq!(
            datetime2_to_unit(719_162, 1, 7, TimeUnit::Nanosecond),
            Ok(100)
        );
        // 1969-12-31 23:59:59.999999 at scale 6
        assert_eq!(
            datetime2_to_unit(719_161, 86_399_999_999, 6, TimeUnit::Microsecond),
            Ok(-1)
        );
        // 9999-12-31 fits microseconds but not nanoseconds.
        assert!(datetime2_to_unit(3_652_058, 0, 7, TimeUnit::Microsecond).is_ok());
        let e = datetime2_to_unit(3_652_058, 0, 7, TimeUnit::Nanosecond).unwrap_err();
        assert!(e.contains("datetime2(6)"), "{e}");
        // 100 ns cannot be microseconds.
        assert!(datetime2_to_unit(719_162, 1, 7, TimeUnit::Microsecond).is_err());
        // Round trip through the loader's encoding.
        assert_eq!(
            unit_to_datetime2(100, TimeUnit::Nanosecond),
            Ok((719_162, 1))
        );
        assert_eq!(
            unit_to_datetime2(-1, TimeUnit::Microsecond),
            Ok((719_161, 863_999_999_990))
        );
        assert!(unit_to_datetime2(150, TimeUnit::Nanosecond).is_err());
    }

    #[test]
    fn legacy_datetimes() {
        // 1900-01-01 00:00:00.003 (one 1/300 s tick) → 3333 µs (nearest).
        assert_eq!(datetime_to_micros(0, 1), -2_208_988_800_000_000 + 3_333);
        // two ticks = 6666.67 µs → 6667.
        assert_eq!(datetime_to_micros(25_567, 2), 6_667);
        assert_eq!(datetime_to_micros(25_567, 300), 1_000_000);
        assert_eq!(smalldatetime_to_micros(25_567, 61), 3_660_000_000);
    }

    #[test]
    fn guid_text_is_sql_server_canonical() {
        let g = tiberius::Uuid::parse_str("6f9619ff-8b86-d011-b42d-00c04fd430c8").unwrap();
        assert_eq!(guid_text(&g), "6F9619FF-8B86-D011-B42D-00C04FD430C8");
    }
}
