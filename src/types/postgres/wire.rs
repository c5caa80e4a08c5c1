//! PostgreSQL's binary `send`/`recv` formats (as in binary COPY), except `numeric`: the
//! stream signature, fixed-width big-endian values, dates and timestamps against
//! PostgreSQL's 2000-01-01 epoch, intervals as ISO 8601 text, `timetz`, `inet`/`cidr`,
//! `macaddr`, and one-dimensional array headers. Nothing here rounds.

/// Seconds from 1970-01-01 to 2000-01-01 (PostgreSQL's epoch).
const PG_EPOCH_SECONDS: i64 = 946_684_800;
/// Days from 1970-01-01 to 2000-01-01.
pub const PG_EPOCH_DAYS: i32 = 10_957;
const PG_EPOCH_MICROS: i64 = PG_EPOCH_SECONDS * 1_000_000;

/// The signature that opens a binary COPY stream.
pub const COPY_SIGNATURE: &[u8; 11] = b"PGCOPY\n\xff\r\n\0";

#[inline]
pub fn be_i16(b: &[u8]) -> i16 {
    i16::from_be_bytes([b[0], b[1]])
}
#[inline]
pub fn be_u16(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}
#[inline]
pub fn be_i32(b: &[u8]) -> i32 {
    i32::from_be_bytes([b[0], b[1], b[2], b[3]])
}
#[inline]
pub fn be_i64(b: &[u8]) -> i64 {
    i64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
}

/// Checks a fixed-width value's length.
#[inline]
pub fn expect_len(bytes: &[u8], n: usize, what: &str) -> Result<(), String> {
    if bytes.len() == n {
        Ok(())
    } else {
        Err(wrong_len(bytes.len(), n, what))
    }
}

#[cold]
fn wrong_len(got: usize, n: usize, what: &str) -> String {
    format!("a {what} value of {got} bytes (expected {n})")
}

/// PostgreSQL days (since 2000-01-01) → Arrow Date32 days (since 1970-01-01).
#[inline]
pub fn pg_date_to_days(v: i32) -> Result<i32, String> {
    match v {
        i32::MAX => Err("date 'infinity' has no Arrow representation".into()),
        i32::MIN => Err("date '-infinity' has no Arrow representation".into()),
        v => v
            .checked_add(PG_EPOCH_DAYS)
            .ok_or_else(|| "date out of range".to_string()),
    }
}

#[inline]
pub fn days_to_pg_date(days: i32) -> Result<i32, String> {
    days.checked_sub(PG_EPOCH_DAYS)
        .filter(|v| *v != i32::MIN && *v != i32::MAX)
        .ok_or_else(|| "date out of PostgreSQL's range".to_string())
}

/// PostgreSQL µs since 2000-01-01 → µs since 1970-01-01.
#[inline]
pub fn pg_timestamp_to_unix(v: i64) -> Result<i64, String> {
    match v {
        i64::MAX => Err("timestamp 'infinity' has no Arrow representation".into()),
        i64::MIN => Err("timestamp '-infinity' has no Arrow representation".into()),
        v => v
            .checked_add(PG_EPOCH_MICROS)
            .ok_or_else(|| "timestamp out of range".to_string()),
    }
}

#[inline]
pub fn unix_to_pg_timestamp(micros: i64) -> Result<i64, String> {
    micros
        .checked_sub(PG_EPOCH_MICROS)
        .filter(|v| *v != i64::MIN && *v != i64::MAX)
        .ok_or_else(|| "timestamp out of PostgreSQL's range".to_string())
}

/// An interval (months, days, µs) in ISO 8601 with a sign per component, as PostgreSQL's
/// `iso_8601` style prints it: `P1Y2M3DT4H5M6.5S`, `P-1M`, `PT0S`.
pub fn interval_to_text(months: i32, days: i32, micros: i64) -> String {
    let mut out = String::from("P");
    let years = months / 12;
    let mons = months % 12;
    if years != 0 {
        out.push_str(&format!("{years}Y"));
    }
    if mons != 0 {
        out.push_str(&format!("{mons}M"));
    }
    if days != 0 {
        out.push_str(&format!("{days}D"));
    }
    if micros != 0 {
        out.push('T');
        let neg = micros < 0;
        let m = micros.unsigned_abs();
        let hours = m / 3_600_000_000;
        let minutes = (m / 60_000_000) % 60;
        let secs = (m / 1_000_000) % 60;
        let frac = m % 1_000_000;
        let sign = if neg { "-" } else { "" };
        if hours != 0 {
            out.push_str(&format!("{sign}{hours}H"));
        }
        if minutes != 0 {
            out.push_str(&format!("{sign}{minutes}M"));
        }
        if secs != 0 || frac != 0 {
            if frac == 0 {
                out.push_str(&format!("{sign}{secs}S"));
            } else {
                let f = format!("{frac:06}");
                out.push_str(&format!("{sign}{secs}.{}S", f.trim_end_matches('0')));
            }
        }
    }
    if out == "P" {
        out.push_str("T0S");
    }
    out
}

/// Parses [`interval_to_text`]'s form back to (months, days, µs).
pub fn parse_interval_text(text: &str) -> Result<(i32, i32, i64), String> {
    let bad = || format!("\"{text}\" is not an ISO 8601 interval (like P1Y2M3DT4H5M6.5S)");
    let t = text.trim();
    let body = t.strip_prefix('P').ok_or_else(bad)?;
    let (date, time) = match body.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (body, None),
    };
    let (mut months, mut days, mut micros) = (0i64, 0i64, 0i64);
    let mut rest = date;
    while !rest.is_empty() {
        let end = rest
            .find(|c: char| c.is_ascii_alphabetic())
            .ok_or_else(bad)?;
        let n: i64 = rest[..end].parse().map_err(|_| bad())?;
        match &rest[end..end + 1] {
            "Y" => months += n.checked_mul(12).ok_or_else(bad)?,
            "M" => months += n,
            "W" => days += n.checked_mul(7).ok_or_else(bad)?,
            "D" => days += n,
            _ => return Err(bad()),
        }
        rest = &rest[end + 1..];
    }
    if let Some(time) = time {
        let mut rest = time;
        if rest.is_empty() {
            return Err(bad());
        }
        while !rest.is_empty() {
            let end = rest
                .find(|c: char| c.is_ascii_alphabetic())
                .ok_or_else(bad)?;
            let num = &rest[..end];
            let unit = &rest[end..end + 1];
            let us = match unit {
                "H" => 3_600_000_000i64,
                "M" => 60_000_000,
                "S" => 1_000_000,
                _ => return Err(bad()),
            };
            let (neg, digits) = match num.strip_prefix('-') {
                Some(d) => (true, d),
                None => (false, num.strip_prefix('+').unwrap_or(num)),
            };
            let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
            if whole.is_empty() && frac.is_empty()
                || !whole.bytes().all(|b| b.is_ascii_digit())
                || !frac.bytes().all(|b| b.is_ascii_digit())
            {
                return Err(bad());
            }
            let whole: i64 = if whole.is_empty() {
                0
            } else {
                whole.parse().map_err(|_| bad())?
            };
            let mut v = whole.checked_mul(us).ok_or_else(bad)?;
            if !frac.is_empty() {
                // Fractions only on seconds, to the microsecond.
                if unit != "S" || frac.len() > 6 {
                    return Err(bad());
                }
                let f: i64 = format!("{frac:0<6}").parse().map_err(|_| bad())?;
                v += f;
            }
            micros = micros
                .checked_add(if neg { -v } else { v })
                .ok_or_else(bad)?;
            rest = &rest[end + 1..];
        }
    }
    let months = i32::try_from(months).map_err(|_| bad())?;
    let days = i32::try_from(days).map_err(|_| bad())?;
    Ok((months, days, micros))
}

/// `HH:MM[:SS[.ffffff]]±HH[:MM[:SS]]` → (µs since midnight, zone offset in seconds *west* of
/// UTC, as PostgreSQL stores it).
pub fn parse_timetz(text: &str) -> Result<(i64, i32), String> {
    let bad = || format!("\"{text}\" is not a time with time zone (like 10:30:00+02)");
    let t = text.trim();
    let pos = t.rfind(['+', '-']).ok_or_else(bad)?;
    let (time, zone) = t.split_at(pos);
    let micros = if time.starts_with("24:00")
        && time
            .trim_start_matches("24:00")
            .trim_matches([':', '0', '.'])
            .is_empty()
    {
        86_400_000_000
    } else {
        crate::types::parse_time(time).map_err(|_| bad())?
    };
    let sign: i32 = if zone.starts_with('-') { -1 } else { 1 };
    let mut parts = zone[1..].split(':');
    let mut secs = 0i32;
    for mult in [3600, 60, 1] {
        if let Some(p) = parts.next() {
            if p.is_empty() || p.len() > 2 || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            secs += p.parse::<i32>().map_err(|_| bad())? * mult;
        }
    }
    if parts.next().is_some() {
        return Err(bad());
    }
    Ok((micros, -sign * secs))
}

/// Appends the binary `inet`/`cidr` value of `text` (`10.0.0.1`, `10.0.0.0/8`, `::1/128`).
pub fn encode_inet(text: &str, cidr: bool, out: &mut Vec<u8>) -> Result<(), String> {
    let bad = || {
        format!(
            "\"{text}\" is not an IP address{}",
            if cidr { " or network" } else { "" }
        )
    };
    let t = text.trim();
    let (addr, bits) = match t.split_once('/') {
        Some((a, b)) => (a, Some(b.parse::<u8>().map_err(|_| bad())?)),
        None => (t, None),
    };
    let ip: std::net::IpAddr = addr.parse().map_err(|_| bad())?;
    let (family, max, bytes): (u8, u8, Vec<u8>) = match ip {
        std::net::IpAddr::V4(v4) => (2, 32, v4.octets().to_vec()),
        std::net::IpAddr::V6(v6) => (3, 128, v6.octets().to_vec()),
    };
    let bits = bits.unwrap_or(max);
    if bits > max {
        return Err(bad());
    }
    out.extend_from_slice(&[family, bits, u8::from(cidr), bytes.len() as u8]);
    out.extend_from_slice(&bytes);
    Ok(())
}

/// Appends a binary `macaddr` (6 bytes) or `macaddr8` (8 bytes) parsed from its text form.
pub fn encode_mac(text: &str, len: usize, out: &mut Vec<u8>) -> Result<(), String> {
    let bad = || format!("\"{text}\" is not a MAC address of {len} bytes");
    let hex: String = text
        .trim()
        .chars()
        .filter(|c| !matches!(c, ':' | '-' | '.'))
        .collect();
    let raw = hex::decode(&hex).map_err(|_| bad())?;
    if raw.len() != len {
        return Err(bad());
    }
    out.extend_from_slice(&raw);
    Ok(())
}

/// A binary array's header: `(element count, offset of the first element)`. One dimension
/// with lower bound 1, or none (empty); anything else is an error.
pub fn array_header(b: &[u8]) -> Result<(usize, usize), String> {
    if b.len() < 12 {
        return Err("a truncated array value".into());
    }
    let ndim = be_i32(b);
    match ndim {
        0 => Ok((0, 12)),
        1 => {
            if b.len() < 20 {
                return Err("a truncated array value".into());
            }
            let n = be_i32(&b[12..]);
            let lbound = be_i32(&b[16..]);
            if lbound != 1 {
                return Err(format!(
                    "an array with lower bound {lbound}: only arrays starting at 1 map to an Arrow list"
                ));
            }
            usize::try_from(n)
                .map(|n| (n, 20))
                .map_err(|_| "an array with a negative length".to_string())
        }
        n => Err(format!(
            "a {n}-dimensional array: only one-dimensional arrays map to an Arrow list"
        )),
    }
}

/// Appends the header of a one-dimensional binary array of `n` elements.
pub fn encode_array_header(n: usize, has_null: bool, elem_oid: u32, out: &mut Vec<u8>) {
    if n == 0 {
        out.extend_from_slice(&0i32.to_be_bytes());
        out.extend_from_slice(&0i32.to_be_bytes());
        out.extend_from_slice(&elem_oid.to_be_bytes());
        return;
    }
    out.extend_from_slice(&1i32.to_be_bytes());
    out.extend_from_slice(&i32::from(has_null).to_be_bytes());
    out.extend_from_slice(&elem_oid.to_be_bytes());
    out.extend_from_slice(&(n as i32).to_be_bytes());
    out.extend_from_slice(&1i32.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epochs_and_infinities() {
        assert_eq!(pg_date_to_days(0), Ok(10_957));
        assert_eq!(pg_date_to_days(-10_957), Ok(0));
        assert!(pg_date_to_days(i32::MAX).is_err());
        assert_eq!(days_to_pg_date(0), Ok(-10_957));
        assert_eq!(pg_timestamp_to_unix(0), Ok(946_684_800_000_000));
        assert!(pg_timestamp_to_unix(i64::MIN).is_err());
        assert_eq!(unix_to_pg_timestamp(946_684_800_000_000), Ok(0));
    }

    #[test]
    fn intervals_round_trip_through_iso_text() {
        let cases = [
            (
                14,
                3,
                4 * 3_600_000_000 + 5 * 60_000_000 + 6_500_000,
                "P1Y2M3DT4H5M6.5S",
            ),
            (-1, 0, 0, "P-1M"),
            (0, 0, 0, "PT0S"),
            (0, -2, -1, "P-2DT-0.000001S"),
            (0, 0, 90_000_000_000, "PT25H"),
            (i32::MIN, i32::MAX, i64::MIN, ""),
        ];
        for (m, d, us, text) in cases {
            let t = interval_to_text(m, d, us);
            if !text.is_empty() {
                assert_eq!(t, text);
            }
            assert_eq!(parse_interval_text(&t), Ok((m, d, us)), "{t}");
        }
        assert!(parse_interval_text("1 day").is_err());
    }

    #[test]
    fn timetz_inet_mac() {
        assert_eq!(parse_timetz("10:30:00+02"), Ok((37_800_000_000, -7200)));
        assert_eq!(parse_timetz("00:00:00.5-05:30"), Ok((500_000, 19_800)));
        let mut out = Vec::new();
        encode_inet("10.1.2.3/8", false, &mut out).unwrap();
        assert_eq!(out, [2, 8, 0, 4, 10, 1, 2, 3]);
        out.clear();
        encode_inet("::1", true, &mut out).unwrap();
        assert_eq!(out[..4], [3, 128, 1, 16]);
        out.clear();
        encode_mac("08:00:2b:01:02:03", 6, &mut out).unwrap();
        assert_eq!(out, [8, 0, 0x2b, 1, 2, 3]);
        assert!(encode_mac("08:00:2b", 6, &mut Vec::new()).is_err());
    }

    #[test]
    fn arrays_have_one_dimension_from_one() {
        let mut out = Vec::new();
        encode_array_header(2, true, 23, &mut out);
        assert_eq!(array_header(&out), Ok((2, 20)));
        out.clear();
        encode_array_header(0, false, 23, &mut out);
        assert_eq!(array_header(&out), Ok((0, 12)));
        let mut two_d = vec![0, 0, 0, 2];
        two_d.extend_from_slice(&[0; 8]);
        assert!(array_header(&two_d).is_err());
    }
}
