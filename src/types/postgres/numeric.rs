//! PostgreSQL's binary `numeric` (base-10000 digit groups with weight, sign and display
//! scale): decoding into Decimal128/Decimal256 unscaled integers or exact text, and encoding
//! from digits, unscaled integers or decimal text. Nothing here rounds.

use arrow::datatypes::i256;

use super::wire::{be_i16, be_u16};

const NUMERIC_POS: u16 = 0x0000;
const NUMERIC_NEG: u16 = 0x4000;
const NUMERIC_NAN: u16 = 0xC000;
const NUMERIC_PINF: u16 = 0xD000;
const NUMERIC_NINF: u16 = 0xF000;

/// A decoded numeric header with its base-10000 digits.
struct NumericParts<'a> {
    weight: i16,
    sign: u16,
    dscale: u16,
    digits: &'a [u8],
}

fn numeric_parts(b: &[u8]) -> Result<NumericParts<'_>, String> {
    if b.len() < 8 {
        return Err("a truncated numeric value".into());
    }
    let ndigits = be_i16(b) as usize;
    let digits = &b[8..];
    if digits.len() != ndigits * 2 {
        return Err("a numeric value with a wrong digit count".into());
    }
    Ok(NumericParts {
        weight: be_i16(&b[2..]),
        sign: be_u16(&b[4..]),
        dscale: be_u16(&b[6..]),
        digits,
    })
}

fn special_numeric(sign: u16) -> Option<&'static str> {
    match sign {
        NUMERIC_NAN => Some("NaN"),
        NUMERIC_PINF => Some("Infinity"),
        NUMERIC_NINF => Some("-Infinity"),
        _ => None,
    }
}

macro_rules! numeric_to_int {
    ($name:ident, $t:ty, $from:expr, $ten:expr) => {
        /// A binary numeric as the unscaled integer at `scale`; fails when digits would be
        /// lost, on overflow, and for NaN/±Infinity.
        pub fn $name(b: &[u8], scale: i8) -> Result<$t, String> {
            let n = numeric_parts(b)?;
            if let Some(s) = special_numeric(n.sign) {
                return Err(format!("numeric {s} has no decimal representation"));
            }
            let overflow =
                || "the numeric value does not fit the column's decimal type".to_string();
            let from = $from;
            let ten: $t = $ten;
            let min_exp = -i32::from(scale);
            let mut acc: $t = from(0);
            // Decimal exponent of acc's last digit.
            let mut cur_exp = 4 * (i32::from(n.weight) + 1);
            for (i, d) in n.digits.chunks_exact(2).enumerate() {
                let d = be_u16(d);
                if d >= 10_000 {
                    return Err("a numeric digit above 9999".into());
                }
                let base = 4 * (i32::from(n.weight) - i as i32);
                // Bring acc to this group's top exponent (+4) first.
                let gap = cur_exp - (base + 4);
                if gap > 0 {
                    acc = acc
                        .checked_mul(ten.checked_pow(gap as u32).ok_or_else(overflow)?)
                        .ok_or_else(overflow)?;
                }
                if base >= min_exp {
                    acc = acc
                        .checked_mul(from(10_000))
                        .and_then(|a| a.checked_add(from(i64::from(d))))
                        .ok_or_else(overflow)?;
                    cur_exp = base;
                } else if base + 3 >= min_exp {
                    let drop = (min_exp - base) as u32;
                    let div = 10i64.pow(drop);
                    if i64::from(d) % div != 0 {
                        return Err(format!(
                            "the numeric value has more than {scale} decimal places"
                        ));
                    }
                    let keep = 4 - drop;
                    acc = acc
                        .checked_mul(from(10i64.pow(keep)))
                        .and_then(|a| a.checked_add(from(i64::from(d) / div)))
                        .ok_or_else(overflow)?;
                    cur_exp = min_exp;
                } else if d != 0 {
                    return Err(format!(
                        "the numeric value has more than {scale} decimal places"
                    ));
                }
            }
            if cur_exp > min_exp {
                acc = acc
                    .checked_mul(
                        ten.checked_pow((cur_exp - min_exp) as u32)
                            .ok_or_else(overflow)?,
                    )
                    .ok_or_else(overflow)?;
            }
            Ok(if n.sign == NUMERIC_NEG {
                acc.checked_neg().ok_or_else(overflow)?
            } else {
                acc
            })
        }
    };
}

numeric_to_int!(numeric_to_i128_wide, i128, |v: i64| v as i128, 10i128);
numeric_to_int!(numeric_to_i64, i64, |v: i64| v, 10i64);

/// A binary numeric as the unscaled `i128` at `scale`; fails when digits would be lost, on
/// overflow, and for NaN/±Infinity. Values that fit 64 bits (most) are summed in 64-bit
/// arithmetic; the rest, and every error, go the 128-bit way.
#[inline]
pub fn numeric_to_i128(b: &[u8], scale: i8) -> Result<i128, String> {
    match numeric_to_i64(b, scale) {
        Ok(v) => Ok(i128::from(v)),
        Err(_) => numeric_to_i128_wide(b, scale),
    }
}
numeric_to_int!(
    numeric_to_i256,
    i256,
    i256::from_i128_i64,
    i256::from_i128(10)
);

/// `i256::from_i128` for an i64, usable as a plain fn.
trait FromI64 {
    fn from_i128_i64(v: i64) -> Self;
}
impl FromI64 for i256 {
    fn from_i128_i64(v: i64) -> Self {
        i256::from_i128(i128::from(v))
    }
}

/// Number of decimal digits of an unscaled value's magnitude.
pub fn decimal_digits_i128(v: i128) -> u32 {
    let m = v.unsigned_abs();
    if m == 0 {
        1
    } else if let Ok(small) = u64::try_from(m) {
        small.ilog10() + 1
    } else {
        m.ilog10() + 1
    }
}

pub fn fits_precision_i256(v: i256, precision: u8) -> bool {
    match i256::from_i128(10).checked_pow(u32::from(precision)) {
        Some(limit) => v < limit && v > limit.wrapping_neg(),
        None => true,
    }
}

/// A binary numeric as PostgreSQL prints it (`-12.50`, `NaN`, `Infinity`).
pub fn numeric_to_text(b: &[u8]) -> Result<String, String> {
    let n = numeric_parts(b)?;
    if let Some(s) = special_numeric(n.sign) {
        return Ok(s.to_string());
    }
    let groups: Vec<u16> = n.digits.chunks_exact(2).map(be_u16).collect();
    if groups.iter().any(|&d| d >= 10_000) {
        return Err("a numeric digit above 9999".into());
    }
    let weight = i32::from(n.weight);
    let mut out = String::with_capacity(groups.len() * 4 + 4);
    if n.sign == NUMERIC_NEG {
        out.push('-');
    }
    // Integer part: groups 0..=weight.
    if weight < 0 {
        out.push('0');
    } else {
        for i in 0..=weight {
            let d = groups.get(i as usize).copied().unwrap_or(0);
            if i == 0 {
                out.push_str(&d.to_string());
            } else {
                out.push_str(&format!("{d:04}"));
            }
        }
    }
    if n.dscale > 0 {
        out.push('.');
        let mut frac = String::with_capacity(n.dscale as usize + 4);
        let mut i = weight + 1;
        while (frac.len() as u16) < n.dscale {
            let d = if i < 0 {
                0
            } else {
                groups.get(i as usize).copied().unwrap_or(0)
            };
            frac.push_str(&format!("{d:04}"));
            i += 1;
        }
        frac.truncate(n.dscale as usize);
        out.push_str(&frac);
    }
    Ok(out)
}

/// Appends the binary numeric of `[-]int.frac` (ASCII digits) to `out`.
pub fn encode_numeric_digits(negative: bool, int: &[u8], frac: &[u8], out: &mut Vec<u8>) {
    let dscale = frac.len() as u16;
    // Integer digits, left-padded to a multiple of 4; fraction right-padded.
    let int = {
        let first_nonzero = int.iter().position(|&c| c != b'0').unwrap_or(int.len());
        &int[first_nonzero..]
    };
    let int_pad = (4 - int.len() % 4) % 4;
    let frac_pad = (4 - frac.len() % 4) % 4;
    let total = int_pad + int.len() + frac.len() + frac_pad;
    let mut groups: Vec<u16> = Vec::with_capacity(total / 4);
    let mut cur: u16 = 0;
    let mut n = 0;
    let digit_iter = std::iter::repeat_n(b'0', int_pad)
        .chain(int.iter().copied())
        .chain(frac.iter().copied())
        .chain(std::iter::repeat_n(b'0', frac_pad));
    for c in digit_iter {
        cur = cur * 10 + u16::from(c - b'0');
        n += 1;
        if n == 4 {
            groups.push(cur);
            cur = 0;
            n = 0;
        }
    }
    let int_groups = (int_pad + int.len()) / 4;
    let mut weight = int_groups as i32 - 1;
    // Strip leading and trailing zero groups.
    let lead = groups.iter().position(|&g| g != 0).unwrap_or(groups.len());
    weight -= lead as i32;
    let groups = &groups[lead..];
    let end = groups.iter().rposition(|&g| g != 0).map_or(0, |p| p + 1);
    let groups = &groups[..end];
    let (weight, sign) = if groups.is_empty() {
        (0, NUMERIC_POS)
    } else {
        (weight, if negative { NUMERIC_NEG } else { NUMERIC_POS })
    };
    out.extend_from_slice(&(groups.len() as i16).to_be_bytes());
    out.extend_from_slice(&(weight as i16).to_be_bytes());
    out.extend_from_slice(&sign.to_be_bytes());
    out.extend_from_slice(&dscale.to_be_bytes());
    for g in groups {
        out.extend_from_slice(&g.to_be_bytes());
    }
}

/// Appends the binary numeric of the unscaled `value` at `scale`, by arithmetic: the hot
/// path of loading decimals (`encode_numeric_unscaled` formats digits first). Produces the
/// same bytes as `encode_numeric_unscaled`.
pub fn encode_numeric_i128(value: i128, scale: i8, out: &mut Vec<u8>) {
    let negative = value < 0;
    let magnitude = value.unsigned_abs();
    // Align the decimal point to a base-10000 group boundary; beyond 10^34 the shift could
    // overflow u128, and negative scales are rare: both take the digit path.
    if scale < 0 || magnitude >= 10u128.pow(34) {
        encode_numeric_unscaled(negative, &magnitude.to_string(), scale, out);
        return;
    }
    let dscale = scale as u16;
    let frac_groups = (scale as i32 + 3) / 4;
    let m = magnitude * 10u128.pow((frac_groups * 4 - scale as i32) as u32);
    // Base-10000 digits, least significant first, trailing zero groups dropped.
    let mut groups = [0u16; 10];
    let mut n = 0;
    let mut low_zeros = 0;
    let mut push = |g: u16| {
        if n == 0 && g == 0 {
            low_zeros += 1;
        } else {
            groups[n] = g;
            n += 1;
        }
    };
    // 64-bit division where the value fits (128-bit division is a library call).
    match u64::try_from(m) {
        Ok(mut m) => {
            while m > 0 {
                push((m % 10_000) as u16);
                m /= 10_000;
            }
        }
        Err(_) => {
            let mut m = m;
            while m > 0 {
                push((m % 10_000) as u16);
                m /= 10_000;
            }
        }
    }
    let (weight, sign) = if n == 0 {
        (0, NUMERIC_POS)
    } else {
        let weight = (n as i32 + low_zeros) - 1 - frac_groups;
        (weight, if negative { NUMERIC_NEG } else { NUMERIC_POS })
    };
    out.extend_from_slice(&(n as i16).to_be_bytes());
    out.extend_from_slice(&(weight as i16).to_be_bytes());
    out.extend_from_slice(&sign.to_be_bytes());
    out.extend_from_slice(&dscale.to_be_bytes());
    for g in groups[..n].iter().rev() {
        out.extend_from_slice(&g.to_be_bytes());
    }
}

/// Appends the binary numeric of an unscaled integer's decimal digits at `scale`.
pub fn encode_numeric_unscaled(negative: bool, magnitude: &str, scale: i8, out: &mut Vec<u8>) {
    let digits = magnitude.as_bytes();
    if scale <= 0 {
        let mut int = digits.to_vec();
        int.extend(std::iter::repeat_n(b'0', (-i32::from(scale)) as usize));
        encode_numeric_digits(negative, &int, b"", out);
    } else {
        let s = scale as usize;
        if digits.len() > s {
            let (i, f) = digits.split_at(digits.len() - s);
            encode_numeric_digits(negative, i, f, out);
        } else {
            let mut f = vec![b'0'; s - digits.len()];
            f.extend_from_slice(digits);
            encode_numeric_digits(negative, b"", &f, out);
        }
    }
}

/// Appends the binary numeric of a decimal text (`-12.50`, `NaN`, `Infinity`, `1.5e3`).
pub fn encode_numeric_text(text: &str, out: &mut Vec<u8>) -> Result<(), String> {
    let t = text.trim();
    let special = match t.to_ascii_lowercase().as_str() {
        "nan" => Some(NUMERIC_NAN),
        "infinity" | "+infinity" | "inf" | "+inf" => Some(NUMERIC_PINF),
        "-infinity" | "-inf" => Some(NUMERIC_NINF),
        _ => None,
    };
    if let Some(sign) = special {
        out.extend_from_slice(&0i16.to_be_bytes());
        out.extend_from_slice(&0i16.to_be_bytes());
        out.extend_from_slice(&sign.to_be_bytes());
        out.extend_from_slice(&0u16.to_be_bytes());
        return Ok(());
    }
    let bad = || format!("\"{text}\" is not a decimal number");
    let (negative, body) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let (mantissa, exp) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], body[i + 1..].parse::<i32>().map_err(|_| bad())?),
        None => (body, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if (int.is_empty() && frac.is_empty())
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
        || exp.unsigned_abs() > 100_000
    {
        return Err(bad());
    }
    if exp == 0 {
        encode_numeric_digits(negative, int.as_bytes(), frac.as_bytes(), out);
        return Ok(());
    }
    // Shift the decimal point by the exponent.
    let digits: Vec<u8> = int.bytes().chain(frac.bytes()).collect();
    let point = int.len() as i64 + i64::from(exp);
    let (i, f): (Vec<u8>, Vec<u8>) = if point <= 0 {
        let mut f = vec![b'0'; (-point) as usize];
        f.extend_from_slice(&digits);
        (Vec::new(), f)
    } else if point as usize >= digits.len() {
        let mut i = digits.clone();
        i.extend(std::iter::repeat_n(b'0', point as usize - digits.len()));
        (i, Vec::new())
    } else {
        (
            digits[..point as usize].to_vec(),
            digits[point as usize..].to_vec(),
        )
    };
    encode_numeric_digits(negative, &i, &f, out);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(text: &str) -> Vec<u8> {
        let mut out = Vec::new();
        encode_numeric_text(text, &mut out).unwrap();
        out
    }

    /// PostgreSQL's own binary form of 12345.678 (numeric_send): ndigits 3, weight 1,
    /// sign 0, dscale 3, digits 1 2345 6780.
    const PG_12345_678: [u8; 14] = [0, 3, 0, 1, 0, 0, 0, 3, 0, 1, 0x09, 0x29, 0x1a, 0x7c];

    #[test]
    fn numeric_encodes_like_postgres() {
        assert_eq!(num("12345.678"), PG_12345_678);
        let mut out = Vec::new();
        encode_numeric_unscaled(false, "12345678", 3, &mut out);
        assert_eq!(out, PG_12345_678);
        // Zero: no digits, dscale kept.
        assert_eq!(num("0.00"), [0, 0, 0, 0, 0, 0, 0, 2]);
        // 1e20: one digit group at weight 5.
        assert_eq!(num("100000000000000000000"), [0, 1, 0, 5, 0, 0, 0, 0, 0, 1]);
        assert_eq!(num("NaN")[4..6], [0xC0, 0]);
        assert_eq!(num("-0.0001"), [0, 1, 0xff, 0xff, 0x40, 0, 0, 4, 0, 1]);
    }

    #[test]
    fn numeric_decodes_to_decimals_exactly() {
        assert_eq!(numeric_to_i128(&PG_12345_678, 3), Ok(12_345_678));
        assert_eq!(numeric_to_i128(&PG_12345_678, 5), Ok(1_234_567_800));
        assert!(numeric_to_i128(&PG_12345_678, 2).is_err());
        assert_eq!(numeric_to_i128(&num("-0.0001"), 4), Ok(-1));
        assert_eq!(numeric_to_i128(&num("1e20"), 2), Ok(10i128.pow(22)));
        assert_eq!(numeric_to_i128(&num("0"), 2), Ok(0));
        let max38 = "9".repeat(38);
        assert_eq!(numeric_to_i128(&num(&max38), 0).unwrap().to_string(), max38);
        let frac38 = format!("-{}.{}", "9".repeat(36), "99");
        assert_eq!(
            numeric_to_i128(&num(&frac38), 2).unwrap().to_string(),
            format!("-{}", "9".repeat(38))
        );
        let max76 = "9".repeat(76);
        assert_eq!(numeric_to_i256(&num(&max76), 0).unwrap().to_string(), max76);
        assert!(numeric_to_i128(&num(&"9".repeat(39)), 0).is_err());
        assert!(numeric_to_i128(&num("NaN"), 2).is_err());
        assert!(numeric_to_i128(&num("Infinity"), 2).is_err());
        // Negative scale: numeric(5,-2) holds 12300.
        assert_eq!(numeric_to_i128(&num("12300"), -2), Ok(123));
        assert!(numeric_to_i128(&num("12345"), -2).is_err());
    }

    #[test]
    fn numeric_text_round_trips() {
        for t in [
            "0",
            "12345.678",
            "-0.0001",
            "100000000000000000000",
            "0.00",
            "-123.4500",
            "NaN",
            "Infinity",
            "-Infinity",
            "1.000000000000000000000000000000000000000000000001",
        ] {
            assert_eq!(numeric_to_text(&num(t)).unwrap(), t, "{t}");
        }
        assert_eq!(numeric_to_text(&num("1.5e3")).unwrap(), "1500");
        assert_eq!(numeric_to_text(&num("-15e-3")).unwrap(), "-0.015");
        assert!(encode_numeric_text("1.2.3", &mut Vec::new()).is_err());
    }

    #[test]
    fn the_64_bit_decode_agrees_with_the_128_bit_one() {
        let mut values: Vec<i128> = vec![0, 1, -1, 999_999_999_999_999, -(10i128.pow(30))];
        for edge in [
            i128::from(i64::MAX),
            i128::from(i64::MIN),
            i128::from(u64::MAX),
        ] {
            values.extend([edge - 1, edge, edge + 1]);
        }
        for p in 15..20 {
            values.extend([10i128.pow(p) - 1, 10i128.pow(p), -(10i128.pow(p))]);
        }
        for v in values {
            for scale in [0i8, 2, 4, 5] {
                let mut b = Vec::new();
                encode_numeric_i128(v, scale, &mut b);
                for read in [scale - 1, scale, scale + 3, -1] {
                    assert_eq!(
                        numeric_to_i128(&b, read),
                        numeric_to_i128_wide(&b, read),
                        "{v} at scale {scale} read at {read}"
                    );
                }
                assert_eq!(numeric_to_i128(&b, scale), Ok(v), "{v} at scale {scale}");
            }
        }
    }

    #[test]
    fn arithmetic_numeric_encoding_equals_the_digit_path() {
        let mut values: Vec<i128> = vec![
            0,
            1,
            -1,
            9_999,
            10_000,
            -10_000,
            100_010_000,
            999_999_999_999_999,
            1_000_000_000_000_000,
            i128::from(u64::MAX / 1000),
            i128::from(u64::MAX),
            i128::from(u64::MAX) + 1,
            i128::MAX,
            i128::MIN + 1,
        ];
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let digits = (x % 39) as u32;
            let v = i128::from(x).wrapping_mul(i128::from(x.rotate_left(17)))
                % 10i128.pow(digits.min(38)).max(1);
            values.push(if x & 1 == 0 { v } else { -v });
            values.push(v - v % 10i128.pow(x as u32 % 9));
        }
        for v in values {
            for scale in [-3i8, 0, 1, 2, 3, 4, 5, 8, 9, 17, 30, 38] {
                let mut fast = Vec::new();
                encode_numeric_i128(v, scale, &mut fast);
                let mut slow = Vec::new();
                encode_numeric_unscaled(v < 0, &v.unsigned_abs().to_string(), scale, &mut slow);
                assert_eq!(fast, slow, "{v} at scale {scale}");
            }
        }
    }
}
