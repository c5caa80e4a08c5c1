//! Fast exact parsers for the two text forms CONNECTORX reads most on PostgreSQL: a
//! decimal as `numeric::text` prints it and a `uuid` as `uuid::text` prints it. Each takes
//! only the plain form whose value is unambiguous and answers `None` for anything else,
//! which then goes through the general parser (`types::parse_decimal`, the hex path), so
//! accepted values and error messages stay those of the general parsers. Profiled: the
//! general parsers' allocations were a sixth of a CONNECTORX run's CPU.

/// `[-]digits[.digits]` at `scale` as an unscaled integer, when it has at most `scale`
/// fraction digits and fits 18 digits; `None` otherwise (including when it does not fit
/// `precision`: the general parser says why).
#[inline]
pub(super) fn decimal(text: &str, precision: u8, scale: i8) -> Option<i128> {
    let b = text.as_bytes();
    let (negative, body) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        _ => (false, b),
    };
    let (int, frac) = match body.iter().position(|&c| c == b'.') {
        Some(dot) => (&body[..dot], &body[dot + 1..]),
        None => (body, &[][..]),
    };
    let scale = usize::try_from(scale).ok()?;
    if int.is_empty() || frac.len() > scale || int.len() + scale > 18 {
        return None;
    }
    let mut v: i64 = 0;
    for &c in int.iter().chain(frac) {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + i64::from(c - b'0');
    }
    v *= 10i64.pow((scale - frac.len()) as u32);
    // 10^precision bounds the magnitude (v < 10^18 here).
    if precision < 19 && v >= 10i64.pow(u32::from(precision)) {
        return None;
    }
    Some(i128::from(if negative { -v } else { v }))
}

/// The 16 bytes of a UUID in its canonical text form (`8-4-4-4-12` hex digits, either
/// case); `None` for any other form. The `uuid` crate's table-driven parser does the hex
/// (profiled: a digit-by-digit loop here was 6 % of a CONNECTORX run's CPU); the form is
/// checked first because that parser also takes the simple, braced and URN forms.
#[inline]
pub(super) fn uuid(text: &str) -> Option<[u8; 16]> {
    let b = text.as_bytes();
    if b.len() != 36 || b[8] != b'-' || b[13] != b'-' || b[18] != b'-' || b[23] != b'-' {
        return None;
    }
    uuid::Uuid::try_parse_ascii(b)
        .ok()
        .map(uuid::Uuid::into_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_decimals_parse_exactly_and_the_rest_is_left_to_the_general_parser() {
        assert_eq!(decimal("1234.56", 15, 2), Some(123_456));
        assert_eq!(decimal("-0.05", 15, 2), Some(-5));
        assert_eq!(decimal("-0.00", 15, 2), Some(0));
        assert_eq!(decimal("7", 15, 2), Some(700));
        assert_eq!(decimal("7.5", 15, 2), Some(750));
        assert_eq!(
            decimal("9999999999999.99", 15, 2),
            Some(999_999_999_999_999)
        );
        assert_eq!(decimal("123", 3, 0), Some(123));
        // Each of these is the general parser's to accept or refuse.
        for (t, p, s) in [
            ("1000", 3, 0),
            ("1.234", 15, 2),
            ("", 15, 2),
            (".5", 15, 2),
            ("-", 15, 2),
            ("1e3", 15, 2),
            ("+1", 15, 2),
            (" 1", 15, 2),
            ("1.2.3", 15, 2),
            ("NaN", 15, 2),
            ("12345678901234567", 20, 2),
            ("1", 15, -2),
            ("١٢", 15, 2),
        ] {
            assert_eq!(decimal(t, p, s), None, "{t}");
        }
        // Agrees with the general parser wherever it answers.
        for t in ["0", "-1.5", "42.07", "100000.00", "-99999.9"] {
            assert_eq!(
                decimal(t, 10, 3).map(Ok),
                Some(crate::types::parse_decimal(t, 10, 3)),
                "{t}"
            );
        }
    }

    #[test]
    fn canonical_uuids_parse_and_other_forms_are_left_to_the_general_path() {
        let want = [
            0xa0, 0xee, 0xbc, 0x99, 0x9c, 0x0b, 0x4e, 0xf8, 0xbb, 0x6d, 0x6b, 0xb9, 0xbd, 0x38,
            0x0a, 0x11,
        ];
        assert_eq!(uuid("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), Some(want));
        assert_eq!(uuid("A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11"), Some(want));
        for t in [
            "a0eebc999c0b4ef8bb6d6bb9bd380a11",
            "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}",
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1g",
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1",
            "a0eebc99x9c0b-4ef8-bb6d-6bb9bd380a11",
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1é",
        ] {
            assert_eq!(uuid(t), None, "{t}");
        }
    }
}
