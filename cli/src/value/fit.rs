//! A value in a given number of characters, for `memwire watch`: the text
//! form when it fits, else, for a numeric array, a summary in which a change
//! anywhere shows.
//!
//! The summary of a numeric array is its smallest, largest and last
//! element, then a sparkline of its newest elements (the end of the array),
//! one character per element, as many as fit:
//!
//! ```text
//! min 18.0  max 21.5  last 21.4  ▁▁▂▃▃▄▅▆▆▇██
//! ```
//!
//! The sparkline's eight heights span the smallest to the largest element
//! of the whole array (all the lowest when they are equal); a NaN is a
//! space. Other values too long for the width, and arrays whose summary does
//! not fit either, are cut, ending in `…`.

use std::fmt::{self, Write as _};

use memwire::schema::{Kind, Variable};

use super::{Element, decode, has_len, text, write_element};

/// The heights of a sparkline, lowest first.
const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// The variable's value in at most `width` characters: its text form when
/// it fits, else for a numeric array its [`summary`] when that fits, else
/// the text cut, ending in `…`.
pub fn fitted(var: &Variable, bytes: &[u8], width: usize) -> String {
    // Stop formatting one character past the width: a long array costs no
    // more than what fits.
    let mut full = Bounded {
        out: String::new(),
        left: width.saturating_add(1),
    };
    // An error here only means the text did not fit.
    if write!(full, "{}", text(var, bytes)).is_ok() && full.left > 0 {
        return full.out;
    }
    // A summary too wide to hold even its numbers says less than the start
    // of the array.
    match summary(var, bytes, width) {
        Some(summary) if summary.chars().count() <= width => summary,
        _ => cut(full.out, width),
    }
}

/// `text` in at most `width` characters, its last one `…` when cut.
fn cut(text: String, width: usize) -> String {
    match text.char_indices().nth(width) {
        None => text,
        Some(_) if width == 0 => String::new(),
        Some(_) => {
            let keep = text.char_indices().nth(width - 1).map_or(0, |(i, _)| i);
            let mut out = text.get(..keep).unwrap_or_default().to_owned();
            out.push('…');
            out
        }
    }
}

/// The summary of a numeric array: its smallest, largest and last element,
/// then a sparkline of its newest elements (the end of the array), one
/// character per element, as many as `width` leaves room for:
/// `min 18.0  max 21.5  last 21.4  ▁▁▂▃▃▄▅▆▆▇██`. The sparkline's eight
/// heights span the smallest to the largest element of the whole array (all
/// the lowest when they are equal); a NaN is a space.
///
/// `None` for one element, a `bool` or `bytes` variable, or bytes of the
/// wrong length.
pub fn summary(var: &Variable, bytes: &[u8], width: usize) -> Option<String> {
    let numeric = !matches!(var.kind, Kind::Bool | Kind::Bytes);
    if !numeric || var.count < 2 || !has_len(var.kind, var.count, bytes) {
        return None;
    }
    let elements: Vec<(f64, &[u8])> = bytes
        .chunks_exact(var.kind.size())
        .map(|chunk| (as_f64(decode(var.kind, chunk)), chunk))
        .collect();
    let first = *elements.first()?;
    let last = *elements.last()?;
    // NaN neither wins nor loses a comparison; an array of NaN keeps the
    // first for both.
    let (mut min, mut max) = (first, first);
    for &element in &elements {
        if element.0 < min.0 || min.0.is_nan() {
            min = element;
        }
        if element.0 > max.0 || max.0.is_nan() {
            max = element;
        }
    }
    let kind = var.kind;
    let mut out = format!(
        "min {}  max {}  last {}",
        One(kind, min.1),
        One(kind, max.1),
        One(kind, last.1)
    );
    let room = width.saturating_sub(out.chars().count() + 2);
    if room > 0 {
        out.push_str("  ");
        let newest = elements.len().saturating_sub(room);
        let span = max.0 - min.0;
        for &(v, _) in elements.get(newest..).unwrap_or_default() {
            out.push(if v.is_nan() {
                ' '
            } else if span > 0.0 {
                // Truncation is the point: 0.0 ..= 7.0 to an index.
                let level = ((v - min.0) / span * 7.0).round() as usize;
                BARS[level.min(BARS.len() - 1)]
            } else {
                BARS[0]
            });
        }
    }
    Some(out)
}

/// A numeric element as `f64` (integers beyond 2^53 rounded: for heights
/// only).
fn as_f64(element: Element) -> f64 {
    match element {
        Element::Int(v) => v as f64,
        Element::F32(v) => f64::from(v),
        Element::F64(v) => v,
        Element::Bool(b) => f64::from(u8::from(b)),
        Element::BadBool(b) => f64::from(b),
    }
}

/// One element in its text form.
struct One<'a>(Kind, &'a [u8]);

impl fmt::Display for One<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_element(self.0, self.1, f)
    }
}

/// A `String` that takes at most `left` more characters, then refuses.
struct Bounded {
    out: String,
    left: usize,
}

impl fmt::Write for Bounded {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for c in s.chars() {
            self.left = self.left.checked_sub(1).ok_or(fmt::Error)?;
            self.out.push(c);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use memwire::schema::{Kind, Name, Variable};

    use super::{Bounded, fitted, summary};

    fn var(kind: Kind, count: u32) -> Variable {
        Variable::new(Name::new("v").unwrap(), kind, count, 0)
    }

    fn f32s(values: &[f32]) -> Vec<u8> {
        values.iter().flat_map(|v| v.to_le_bytes()).collect()
    }

    #[test]
    fn a_value_that_fits_is_written_whole() {
        let v = var(Kind::I16, 3);
        let bytes = [1, 0, 0xfe, 0xff, 16, 0];
        assert_eq!(fitted(&v, &bytes, 11), "[1, -2, 16]");
        assert_eq!(fitted(&var(Kind::U8, 1), &[7], 1), "7");
    }

    #[test]
    fn a_long_numeric_array_is_summarised_with_its_newest_elements() {
        let v = var(Kind::F32, 8);
        let bytes = f32s(&[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]);
        assert_eq!(
            fitted(&v, &bytes, 36),
            "min 0.0  max 7.0  last 7.0  ▁▂▃▄▅▆▇█"
        );
        // Less room: the sparkline keeps the end of the array.
        assert_eq!(fitted(&v, &bytes, 31), "min 0.0  max 7.0  last 7.0  ▆▇█");
        // No room for a sparkline; then none for the summary: the array's
        // start.
        assert_eq!(fitted(&v, &bytes, 28), "min 0.0  max 7.0  last 7.0");
        assert_eq!(fitted(&v, &bytes, 10), "[0.0, 1.0…");
        assert_eq!(fitted(&v, &bytes, 0), "");
    }

    #[test]
    fn a_change_at_the_end_shows_in_the_sparkline() {
        let v = var(Kind::I32, 100);
        let mut values = vec![0i32; 100];
        let before: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        values[99] = 5;
        let after: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(fitted(&v, &before, 32), "min 0  max 0  last 0  ▁▁▁▁▁▁▁▁▁▁");
        assert_eq!(fitted(&v, &after, 32), "min 0  max 5  last 5  ▁▁▁▁▁▁▁▁▁█");
    }

    #[test]
    fn nan_is_a_gap_and_other_kinds_are_cut() {
        let v = var(Kind::F64, 3);
        let bytes: Vec<u8> = [1.0f64, f64::NAN, 3.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        assert_eq!(
            summary(&v, &bytes, 80).unwrap(),
            "min 1.0  max 3.0  last 3.0  ▁ █"
        );
        let nans = f32s(&[f32::NAN, f32::NAN]);
        assert_eq!(
            summary(&var(Kind::F32, 2), &nans, 32).unwrap(),
            "min NaN  max NaN  last NaN    "
        );
        assert_eq!(summary(&var(Kind::Bool, 2), &[0, 1], 80), None);
        assert_eq!(summary(&var(Kind::U8, 1), &[1], 80), None);
        assert_eq!(summary(&var(Kind::U8, 2), &[1], 80), None);
        assert_eq!(fitted(&var(Kind::Bytes, 8), &[0xab; 8], 8), "0xababa…");
        assert_eq!(fitted(&var(Kind::Bool, 4), &[1; 4], 8), "[true, …");
    }

    #[test]
    fn a_bounded_value_stops_at_its_limit() {
        let mut bounded = Bounded {
            out: "> ".to_owned(),
            left: 5,
        };
        let var = var(Kind::U8, 100_000);
        let written = write!(bounded, "{}", super::text(&var, &[7; 100_000]));
        assert!(written.is_err());
        assert_eq!(bounded.out, "> [7, 7");
        let mut exact = Bounded {
            out: String::new(),
            left: 3,
        };
        assert!(write!(exact, "abc").is_ok());
        assert!(write!(exact, "d").is_err());
    }
}
