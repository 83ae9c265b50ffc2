//! How two schemas differ: the first variable, in offset order, that is
//! not the same in both, and in what ([`Difference`]). A region file whose
//! table is not the schema a caller expects is refused with it, so the
//! message names the variable to fix rather than only saying that the
//! schemas differ.

use core::fmt;

use super::{Kind, Name, Schema};

/// The first difference between a region's variables and an expected
/// schema, from [`Schema::difference`]. "Found" is the region's (the
/// schema the method is called on), "expected" the other.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Difference {
    /// Variable `index` (in offset order) has another name.
    Name {
        /// The variable's index in both schemas.
        index: u32,
        /// The region's name for it.
        found: Name,
        /// The expected name.
        expected: Name,
    },
    /// The variable's elements are of another kind.
    Kind {
        /// The variable.
        name: Name,
        /// The region's kind.
        found: Kind,
        /// The expected kind.
        expected: Kind,
    },
    /// The variable has another number of elements.
    Count {
        /// The variable.
        name: Name,
        /// The region's count.
        found: u32,
        /// The expected count.
        expected: u32,
    },
    /// The variable starts at another offset of the data area.
    Offset {
        /// The variable.
        name: Name,
        /// The region's offset.
        found: u32,
        /// The expected offset.
        expected: u32,
    },
    /// The variable is writable by remote peers in one and not the other.
    Writable {
        /// The variable.
        name: Name,
        /// Whether the region's is writable.
        found: bool,
    },
    /// The region ends before an expected variable.
    Missing {
        /// The first expected variable the region lacks.
        name: Name,
    },
    /// The region has a variable after the last expected one.
    Extra {
        /// The first of the region's variables that the expected schema
        /// lacks.
        name: Name,
    },
}

impl Schema<'_> {
    /// The first variable, in offset order, that differs between this
    /// schema (a region's, "found") and `expected`, and how; `None` when
    /// they hold the same variables.
    pub fn difference(&self, expected: Schema<'_>) -> Option<Difference> {
        let found = self.variables();
        let wanted = expected.variables();
        for (i, (f, e)) in found.iter().zip(wanted).enumerate() {
            let name = e.name;
            let difference = if f.name != e.name {
                Difference::Name {
                    index: u32::try_from(i).unwrap_or(u32::MAX),
                    found: f.name,
                    expected: e.name,
                }
            } else if f.kind != e.kind {
                Difference::Kind {
                    name,
                    found: f.kind,
                    expected: e.kind,
                }
            } else if f.count != e.count {
                Difference::Count {
                    name,
                    found: f.count,
                    expected: e.count,
                }
            } else if f.offset != e.offset {
                Difference::Offset {
                    name,
                    found: f.offset,
                    expected: e.offset,
                }
            } else if f.writable != e.writable {
                Difference::Writable {
                    name,
                    found: f.writable,
                }
            } else {
                continue;
            };
            return Some(difference);
        }
        match (found.get(wanted.len()), wanted.get(found.len())) {
            (Some(extra), _) => Some(Difference::Extra { name: extra.name }),
            (_, Some(missing)) => Some(Difference::Missing { name: missing.name }),
            _ => None,
        }
    }
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let writable = |w: bool| if w { "writable" } else { "read-only" };
        match self {
            Difference::Name {
                index,
                found,
                expected,
            } => write!(
                f,
                "variable {index} is `{found}` in the region, `{expected}` expected"
            ),
            Difference::Kind {
                name,
                found,
                expected,
            } => write!(
                f,
                "variable `{name}` is of kind {found} in the region, {expected} expected"
            ),
            Difference::Count {
                name,
                found,
                expected,
            } => write!(
                f,
                "variable `{name}` has {found} elements in the region, {expected} expected"
            ),
            Difference::Offset {
                name,
                found,
                expected,
            } => write!(
                f,
                "variable `{name}` is at offset {found} in the region, {expected} expected"
            ),
            Difference::Writable { name, found } => write!(
                f,
                "variable `{name}` is {} in the region, {} expected",
                writable(*found),
                writable(!*found)
            ),
            Difference::Missing { name } => {
                write!(f, "the region has no variable `{name}` (expected)")
            }
            Difference::Extra { name } => write!(
                f,
                "the region has a variable `{name}` after the expected ones"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{SchemaBuf, SchemaBuilder};
    use std::string::{String, ToString};

    static BASE: SchemaBuf<2> = SchemaBuilder::new()
        .var("a", Kind::U32, 1)
        .var("b", Kind::F64, 4)
        .build();

    fn text(found: Schema<'_>) -> Option<String> {
        found.difference(BASE.as_schema()).map(|d| d.to_string())
    }

    #[test]
    fn the_same_variables_have_no_difference() {
        assert_eq!(BASE.as_schema().difference(BASE.as_schema()), None);
    }

    #[test]
    fn the_first_differing_variable_is_named() {
        static KIND: SchemaBuf<2> = SchemaBuilder::new()
            .var("a", Kind::U32, 1)
            .var("b", Kind::F32, 4)
            .build();
        static COUNT: SchemaBuf<2> = SchemaBuilder::new()
            .var("a", Kind::U32, 1)
            .var("b", Kind::F64, 8)
            .build();
        static NAME: SchemaBuf<2> = SchemaBuilder::new()
            .var("x", Kind::U32, 1)
            .var("b", Kind::F64, 4)
            .build();
        static WRITABLE: SchemaBuf<2> = SchemaBuilder::new()
            .var("a", Kind::U32, 1)
            .var("b", Kind::F64, 4)
            .writable()
            .build();
        static SHORT: SchemaBuf<1> = SchemaBuilder::new().var("a", Kind::U32, 1).build();
        static LONG: SchemaBuf<3> = SchemaBuilder::new()
            .var("a", Kind::U32, 1)
            .var("b", Kind::F64, 4)
            .var("c", Kind::U8, 1)
            .build();
        assert_eq!(
            text(KIND.as_schema()).as_deref(),
            Some("variable `b` is of kind f32 in the region, f64 expected")
        );
        assert_eq!(
            text(COUNT.as_schema()).as_deref(),
            Some("variable `b` has 8 elements in the region, 4 expected")
        );
        assert_eq!(
            text(NAME.as_schema()).as_deref(),
            Some("variable 0 is `x` in the region, `a` expected")
        );
        assert_eq!(
            text(WRITABLE.as_schema()).as_deref(),
            Some("variable `b` is writable in the region, read-only expected")
        );
        assert_eq!(
            text(SHORT.as_schema()).as_deref(),
            Some("the region has no variable `b` (expected)")
        );
        assert_eq!(
            text(LONG.as_schema()).as_deref(),
            Some("the region has a variable `c` after the expected ones")
        );
    }
}
