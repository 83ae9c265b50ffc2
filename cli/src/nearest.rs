//! The name nearest to one a user mistyped, for the "did you mean" of an
//! unknown region or variable.

/// The candidate nearest to `name` by edit distance (insertions, deletions
/// and substitutions of characters), if it is near enough to be a likely
/// typo: at most one edit in three characters of `name`, and at least one.
/// Of candidates equally near, the first wins.
pub(crate) fn nearest<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let limit = (name.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|candidate| (distance(name, candidate), candidate))
        .filter(|&(d, candidate)| d <= limit && candidate != name)
        .min_by_key(|&(d, _)| d)
        .map(|(_, candidate)| candidate)
}

/// The Levenshtein distance between `a` and `b`, in characters, with one
/// row of memory.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitute = diagonal + usize::from(ca != cb);
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::{distance, nearest};

    #[test]
    fn distances() {
        assert_eq!(distance("sensor", "sensors"), 1);
        assert_eq!(distance("snesors", "sensors"), 2);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("même", "meme"), 1);
    }

    #[test]
    fn a_typo_finds_its_name_and_a_stranger_finds_none() {
        let names = ["sensors", "setpoint", "enabled"];
        assert_eq!(nearest("sensor", names), Some("sensors"));
        assert_eq!(nearest("setpiont", names), Some("setpoint"));
        assert_eq!(nearest("motors", names), None);
        // A short name allows one edit.
        assert_eq!(nearest("ab", ["ac", "xy"]), Some("ac"));
        assert_eq!(nearest("ab", ["xy"]), None);
        assert_eq!(nearest("sensors", names), None);
    }
}
