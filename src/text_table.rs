//! Plain-text tables for the commands that print one (`plan`, `status`, `history`,
//! `state show`): every column padded to its widest cell, two spaces between columns.

/// The rows as aligned lines, trailing spaces trimmed.
pub fn aligned<R: AsRef<[String]>>(rows: &[R]) -> Vec<String> {
    let n = rows.iter().map(|r| r.as_ref().len()).max().unwrap_or(0);
    let widths: Vec<usize> = (0..n)
        .map(|i| {
            rows.iter()
                .filter_map(|r| r.as_ref().get(i))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    rows.iter()
        .map(|r| {
            let cells: Vec<String> = r
                .as_ref()
                .iter()
                .zip(&widths)
                .map(|(c, w)| format!("{c:<w$}"))
                .collect();
            cells.join("  ").trim_end().to_string()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn columns_line_up_and_lines_end_without_spaces() {
        let rows = [
            ["a".to_string(), "bb".to_string(), String::new()],
            ["ccc".to_string(), "d".to_string(), "e".to_string()],
        ];
        assert_eq!(super::aligned(&rows), ["a    bb", "ccc  d   e"]);
    }
}
