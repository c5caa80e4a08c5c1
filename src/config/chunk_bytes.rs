//! `SRC_CHUNK_BYTES`: the bytes bound of a batch (and of a Parquet part), beside the rows
//! bound `SRC_CHUNK_SIZE`; whichever is reached first ends the batch.

/// 64 MiB.
pub const DEFAULT_CHUNK_BYTES: usize = 64 << 20;
/// The smallest bound accepted: 1 MiB.
pub const MIN_CHUNK_BYTES: usize = 1 << 20;
/// The largest: 1 GiB, so that a batch under construction plus one value stays within
/// Arrow's 2 GiB of text or binary per column.
pub const MAX_CHUNK_BYTES: usize = 1 << 30;

/// What a valid value looks like, for messages.
pub const EXPECTED: &str =
    "a size from 1MiB to 1GiB: bytes, or a whole number with KiB, MiB or GiB (e.g. 64MiB)";

/// Bytes from `64MiB`, `512KiB`, `1GiB` (also `K`, `M`, `G`, `KB`, `MB`, `GB`: all binary)
/// or a plain number of bytes; `None` when malformed or outside 1 MiB–1 GiB.
pub fn parse(text: &str) -> Option<usize> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: usize = digits.parse().ok()?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        _ => return None,
    };
    let bytes = n.checked_mul(1usize << shift)?;
    (MIN_CHUNK_BYTES..=MAX_CHUNK_BYTES)
        .contains(&bytes)
        .then_some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_take_binary_units_and_stay_within_one_mib_to_one_gib() {
        assert_eq!(parse("64MiB"), Some(64 << 20));
        assert_eq!(parse(" 2048 kib "), Some(2 << 20));
        assert_eq!(parse("512KiB"), None);
        assert_eq!(parse("1G"), Some(1 << 30));
        assert_eq!(parse("1048576"), Some(1 << 20));
        assert_eq!(parse("1048575"), None);
        assert_eq!(parse("2GiB"), None);
        assert_eq!(parse("64 MB"), Some(64 << 20));
        assert_eq!(parse("MiB"), None);
        assert_eq!(parse("-5MiB"), None);
        assert_eq!(parse("5TiB"), None);
    }
}
