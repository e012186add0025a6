//! Tables in the official CLI's layout: header upper-cased, no borders, every cell
//! left-aligned, padded to the column width and followed by two spaces (so lines carry
//! trailing spaces), columns whose cells are all blank dropped, whitespace runs collapsed.

/// Render `rows` under `headers`. With zero rows the full header line is printed.
pub fn render(headers: &[&str], rows: &[Vec<String>]) -> String {
    let clean = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.iter().map(|c| clean(c)).collect())
        .collect();
    let keep: Vec<usize> = (0..headers.len())
        .filter(|&i| {
            rows.is_empty() || rows.iter().any(|r| r.get(i).is_some_and(|c| !c.is_empty()))
        })
        .collect();
    let width = |i: usize| {
        rows.iter()
            .filter_map(|r| r.get(i))
            .map(|c| c.chars().count())
            .chain([headers[i].chars().count()])
            .max()
            .unwrap_or(0)
    };
    let widths: Vec<usize> = keep.iter().map(|&i| width(i)).collect();
    let mut out = String::new();
    let mut line = |cells: Vec<String>| {
        for (cell, w) in cells.iter().zip(&widths) {
            out.push_str(cell);
            out.push_str(&" ".repeat(w - cell.chars().count() + 2));
        }
        out.push('\n');
    };
    line(
        keep.iter()
            .map(|&i| headers[i].to_uppercase().replace('_', " "))
            .collect(),
    );
    for r in &rows {
        line(
            keep.iter()
                .map(|&i| r.get(i).cloned().unwrap_or_default())
                .collect(),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_blank_columns_and_pads_with_two_spaces() {
        let t = render(
            &["NAME", "SCOPES", "AGE"],
            &[vec!["statestore".into(), "".into(), "5s".into()]],
        );
        assert_eq!(t, "NAME        AGE  \nstatestore  5s   \n");
    }

    #[test]
    fn empty_rows_print_the_whole_header() {
        assert_eq!(render(&["A", "B"], &[]), "A  B  \n");
    }
}
