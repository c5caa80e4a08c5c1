//! The demo's value makers: the splitmix64 stream, civil-calendar arithmetic, the text
//! formats SQLite stores (dates, timestamps, decimals), test BSNs, IBANs and fake files.

use super::SEED;

/// splitmix64: tiny, fast and identical on every platform.
pub(super) struct Rng(u64);

impl Rng {
    pub(super) fn new(stream: u64) -> Self {
        Rng(SEED ^ stream.wrapping_mul(0xa076_1d64_78bd_642f))
    }

    pub(super) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (multiply-shift; the bias is far below anything a demo could show).
    pub(super) fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `lo..=hi`.
    pub(super) fn range(&mut self, lo: i64, hi: i64) -> i64 {
        debug_assert!(lo <= hi, "empty range {lo}..={hi}");
        lo + self.below((hi - lo) as u64 + 1) as i64
    }

    pub(super) fn percent(&mut self, p: u64) -> bool {
        self.below(100) < p
    }

    /// Uniform in `[0, 1)`.
    pub(super) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub(super) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    pub(super) fn weighted<'a, T>(&mut self, items: &'a [(u64, T)]) -> &'a T {
        let total: u64 = items.iter().map(|(w, _)| w).sum();
        let mut x = self.below(total);
        for (w, item) in items {
            if x < *w {
                return item;
            }
            x -= w;
        }
        unreachable!("x < total")
    }
}

pub(super) const DAY_US: i64 = 86_400_000_000;

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
pub(super) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let (era, yoe) = (y.div_euclid(400), y.rem_euclid(400));
    let (m, d) = (i64::from(m), i64::from(d));
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`].
pub(super) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let (era, doe) = (z.div_euclid(146_097), z.rem_euclid(146_097));
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

pub(super) fn add_years(days: i64, years: i64) -> i64 {
    let (y, m, d) = civil_from_days(days);
    days_from_civil(y + years, m, d.min(28))
}

pub(super) fn next_month(y: i64, m: u32) -> (i64, u32) {
    if m == 12 {
        (y + 1, 1)
    } else {
        (y, m + 1)
    }
}

/// A moment on `day` between `from_hour` and `to_hour`, in microseconds since 1970.
pub(super) fn at(r: &mut Rng, day: i64, from_hour: i64, to_hour: i64) -> i64 {
    day * DAY_US + r.range(from_hour * 3_600_000_000, to_hour * 3_600_000_000 - 1)
}

pub(super) fn fmt_date(days: i64) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// `YYYY-MM-DD HH:MM:SS.ffffff` (naive local time).
pub(super) fn fmt_timestamp(us: i64) -> String {
    let (date, time) = split_micros(us);
    format!("{date} {time}")
}

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ` (an instant in UTC).
pub(super) fn fmt_instant(us: i64) -> String {
    let (date, time) = split_micros(us);
    format!("{date}T{time}Z")
}

pub(super) fn split_micros(us: i64) -> (String, String) {
    let (day, rest) = (us.div_euclid(DAY_US), us.rem_euclid(DAY_US));
    let (secs, micros) = (rest / 1_000_000, rest % 1_000_000);
    let time = format!(
        "{:02}:{:02}:{:02}.{micros:06}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    );
    (fmt_date(day), time)
}

/// `units` / 10^`scale` as exact decimal text: `fmt_decimal(-5, 2)` is `"-0.05"`.
pub(super) fn fmt_decimal(units: i64, scale: u32) -> String {
    let p = 10u64.pow(scale);
    let sign = if units < 0 { "-" } else { "" };
    let a = units.unsigned_abs();
    format!("{sign}{}.{:0w$}", a / p, a % p, w = scale as usize)
}

/// A made-up 9-digit number starting with 9 that passes the BSN eleven-test
/// (`9·d1 + 8·d2 + … + 2·d8 − d9 ≡ 0 mod 11`).
pub(super) fn test_bsn(r: &mut Rng) -> String {
    loop {
        let mut digits = [9u64; 9];
        for d in &mut digits[1..8] {
            *d = r.below(10);
        }
        let sum: u64 = digits[..8]
            .iter()
            .zip((2..=9).rev())
            .map(|(d, w)| d * w)
            .sum();
        if sum % 11 < 10 {
            digits[8] = sum % 11;
            return digits.iter().map(|d| char::from(b'0' + *d as u8)).collect();
        }
    }
}

/// A Dutch IBAN with correct ISO 7064 check digits.
pub(super) fn nl_iban(r: &mut Rng) -> String {
    let bank = *r.pick(&[
        "INGB", "RABO", "ABNA", "SNSB", "TRIO", "ASNB", "BUNQ", "KNAB",
    ]);
    let rekening: String = (0..10)
        .map(|_| char::from(b'0' + r.below(10) as u8))
        .collect();
    format!(
        "NL{:02}{bank}{rekening}",
        iban_check_digits(bank, &rekening)
    )
}

pub(super) fn iban_check_digits(bank: &str, rekening: &str) -> u64 {
    let rest = format!("{bank}{rekening}NL00")
        .bytes()
        .fold(0u64, |acc, b| {
            if b.is_ascii_digit() {
                (acc * 10 + u64::from(b - b'0')) % 97
            } else {
                (acc * 100 + u64::from(b - b'A') + 10) % 97
            }
        });
    98 - rest
}

/// Lower-case ASCII for e-mail addresses: `"Ĳzerman"` → `"ijzerman"`, `"Groß"` → `"gross"`.
pub(super) fn ascii_fold(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars().flat_map(char::to_lowercase) {
        match c {
            'a'..='z' | '0'..='9' => out.push(c),
            'á' | 'à' | 'ä' | 'â' | 'å' => out.push('a'),
            'é' | 'è' | 'ë' | 'ê' | 'ễ' => out.push('e'),
            'í' | 'ï' | 'ı' => out.push('i'),
            'ó' | 'ö' | 'ø' | 'ô' => out.push('o'),
            'ú' | 'ü' => out.push('u'),
            'ç' => out.push('c'),
            'ş' => out.push('s'),
            'ł' => out.push('l'),
            'ß' => out.push_str("ss"),
            'ĳ' => out.push_str("ij"),
            _ => {}
        }
    }
    out
}

pub(super) fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Soort {
    Pdf,
    Jpeg,
    Png,
}

impl Soort {
    pub(super) fn mime(self) -> &'static str {
        match self {
            Soort::Pdf => "application/pdf",
            Soort::Jpeg => "image/jpeg",
            Soort::Png => "image/png",
        }
    }
}

/// `size` bytes that start and end like a file of kind `soort`, with random bytes in between.
pub(super) fn fake_file(r: &mut Rng, soort: Soort, size: usize) -> Vec<u8> {
    if size == 0 {
        return Vec::new();
    }
    let (head, tail): (&[u8], &[u8]) = match soort {
        Soort::Pdf => (
            b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n\
              3 0 obj\n<< /Filter /FlateDecode >>\nstream\n",
            b"\nendstream\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n",
        ),
        Soort::Jpeg => (
            b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x48\x00\x48\x00\x00",
            b"\xff\xd9",
        ),
        Soort::Png => (
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR",
            b"\x00\x00\x00\x00IEND\xaeB`\x82",
        ),
    };
    let mut bytes = Vec::with_capacity(size.max(head.len() + tail.len()));
    bytes.extend_from_slice(head);
    while bytes.len() + tail.len() < size {
        let room = size - tail.len() - bytes.len();
        bytes.extend_from_slice(&r.next_u64().to_le_bytes()[..room.min(8)]);
    }
    bytes.extend_from_slice(tail);
    bytes
}
