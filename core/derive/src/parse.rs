//! Reading and checking the derive's input: the struct, its `repr`, its
//! fields and their `#[memwire(...)]` attributes.
//!
//! Everything that can be judged from the syntax is rejected here with a span
//! on the offending tokens. What cannot (a type alias, a type from another
//! crate) is left to the `Value` bound and the layout assertions in the
//! generated code.

use std::collections::HashMap;

use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::{
    Attribute, Data, DeriveInput, Error, Fields, Ident, LitStr, Path, Result, Type, parse_quote,
};

/// The longest variable name, in bytes (`memwire::schema::NAME_MAX`).
const NAME_MAX: usize = 40;

/// The element types of a variable, as written in Rust.
const SCALARS: [&str; 11] = [
    "u8", "u16", "u32", "u64", "i8", "i16", "i32", "i64", "f32", "f64", "bool",
];

const FIELD_HELP: &str =
    "a field is a scalar (u8..u64, i8..i64, f32, f64, bool) or an array [S; N] of one";

/// A checked struct: everything the expansion needs.
pub(crate) struct Record<'a> {
    /// The struct's name.
    pub(crate) ident: &'a Ident,
    /// The path of the `memwire` crate in the generated code.
    pub(crate) krate: Path,
    /// The variables, in declaration order.
    pub(crate) fields: Vec<Field<'a>>,
}

/// One field of the struct: one variable.
pub(crate) struct Field<'a> {
    /// The field, for `offset_of!`.
    pub(crate) member: &'a Ident,
    /// The variable name.
    pub(crate) name: LitStr,
    /// The field's type.
    pub(crate) ty: &'a Type,
    /// `#[memwire(writable)]`.
    pub(crate) writable: bool,
}

/// Collects errors so that one compile reports all of them.
#[derive(Default)]
struct Errors(Option<Error>);

impl Errors {
    fn push(&mut self, e: Error) {
        match &mut self.0 {
            Some(all) => all.combine(e),
            None => self.0 = Some(e),
        }
    }

    fn take<T>(&mut self, r: Result<T>) -> Option<T> {
        r.map_err(|e| self.push(e)).ok()
    }

    fn finish(self) -> Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}

impl<'a> Record<'a> {
    /// Checks the input and extracts the variables.
    pub(crate) fn from_input(input: &'a DeriveInput) -> Result<Record<'a>> {
        let named = match &input.data {
            Data::Struct(s) => match &s.fields {
                Fields::Named(named) => named,
                Fields::Unnamed(fields) => {
                    return Err(Error::new_spanned(
                        fields,
                        "#[derive(Schema)] needs named fields: each field name is a variable name",
                    ));
                }
                Fields::Unit => {
                    return Err(Error::new(
                        input.ident.span(),
                        "#[derive(Schema)] needs a struct with named fields: each field is a variable",
                    ));
                }
            },
            Data::Enum(e) => {
                return Err(Error::new(
                    e.enum_token.span,
                    "#[derive(Schema)] works on structs with named fields, not enums",
                ));
            }
            Data::Union(u) => {
                return Err(Error::new(
                    u.union_token.span,
                    "#[derive(Schema)] works on structs with named fields, not unions",
                ));
            }
        };

        let mut errors = Errors::default();
        if !input.generics.params.is_empty() || input.generics.where_clause.is_some() {
            errors.push(Error::new_spanned(
                &input.generics,
                "#[derive(Schema)] does not support generic structs: the schema is one static",
            ));
        }
        errors.take(check_repr(input));
        let krate = errors
            .take(struct_options(&input.attrs))
            .flatten()
            .unwrap_or_else(|| parse_quote!(::memwire));

        let mut fields = Vec::with_capacity(named.named.len());
        let mut seen: HashMap<String, Span> = HashMap::new();
        for field in &named.named {
            let Some(member) = field.ident.as_ref() else {
                continue;
            };
            errors.take(check_type(&field.ty));
            let Some(options) = errors.take(field_options(&field.attrs)) else {
                continue;
            };
            let name = match options.name {
                Some(lit) => {
                    if !valid_name(&lit.value()) {
                        errors.push(Error::new(
                            lit.span(),
                            "not a valid variable name: 1 to 40 bytes of [A-Za-z0-9_.-]",
                        ));
                    }
                    lit
                }
                None => {
                    let text = member.unraw().to_string();
                    if !valid_name(&text) {
                        errors.push(Error::new(
                            member.span(),
                            format!(
                                "field name `{text}` is not a valid variable name (1 to 40 bytes \
                                 of [A-Za-z0-9_.-]); name the variable with \
                                 #[memwire(name = \"...\")]"
                            ),
                        ));
                    }
                    LitStr::new(&text, member.span())
                }
            };
            if seen.insert(name.value(), name.span()).is_some() {
                errors.push(Error::new(
                    name.span(),
                    format!("two variables are named `{}`", name.value()),
                ));
            }
            fields.push(Field {
                member,
                name,
                ty: &field.ty,
                writable: options.writable,
            });
        }
        errors.finish()?;
        Ok(Record {
            ident: &input.ident,
            krate,
            fields,
        })
    }
}

/// Requires `#[repr(C)]` and rejects `packed`.
fn check_repr(input: &DeriveInput) -> Result<()> {
    let mut has_c = false;
    let mut errors = Errors::default();
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("repr")) {
        let parsed = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("C") {
                has_c = true;
            } else if meta.path.is_ident("packed") {
                errors.push(meta.error(
                    "#[derive(Schema)] does not support #[repr(packed)]: variables sit at their \
                     natural alignment",
                ));
            }
            // Skip the arguments of `packed(N)` and `align(N)`; `align` only
            // adds trailing padding, which the layout assertions report.
            if meta.input.peek(syn::token::Paren) {
                let content;
                syn::parenthesized!(content in meta.input);
                content.parse::<proc_macro2::TokenStream>()?;
            }
            Ok(())
        });
        errors.take(parsed);
    }
    if !has_c {
        errors.push(Error::new(
            input.ident.span(),
            "#[derive(Schema)] needs #[repr(C)] on the struct: only repr(C) fixes the field \
             offsets that the schema records",
        ));
    }
    errors.finish()
}

/// Struct-level `#[memwire(crate = "...")]`: the path of the `memwire` crate.
fn struct_options(attrs: &[Attribute]) -> Result<Option<Path>> {
    let mut krate = None;
    for attr in attrs.iter().filter(|a| a.path().is_ident("memwire")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("crate") {
                if krate.is_some() {
                    return Err(meta.error("`crate` is given twice"));
                }
                let lit: LitStr = meta.value()?.parse()?;
                krate = Some(lit.parse::<Path>()?);
                Ok(())
            } else {
                Err(meta.error(
                    "unknown #[memwire(...)] option on the struct; expected `crate = \"...\"`",
                ))
            }
        })?;
    }
    Ok(krate)
}

/// The `#[memwire(...)]` options of one field.
#[derive(Default)]
struct FieldOptions {
    name: Option<LitStr>,
    writable: bool,
}

fn field_options(attrs: &[Attribute]) -> Result<FieldOptions> {
    let mut options = FieldOptions::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident("memwire")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("name") {
                if options.name.is_some() {
                    return Err(meta.error("`name` is given twice"));
                }
                options.name = Some(meta.value()?.parse()?);
                Ok(())
            } else if meta.path.is_ident("writable") {
                if options.writable {
                    return Err(meta.error("`writable` is given twice"));
                }
                options.writable = true;
                Ok(())
            } else {
                Err(meta.error(
                    "unknown #[memwire(...)] option on a field; expected `name = \"...\"` or \
                     `writable`",
                ))
            }
        })?;
    }
    Ok(options)
}

/// The rule of `memwire::schema::Name`, checked here to point at the field.
fn valid_name(name: &str) -> bool {
    (1..=NAME_MAX).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// Rejects field types that are plainly not a variable. Paths that may name
/// a supported type (aliases, re-exports) pass, and the `Value` bound in the
/// generated code decides.
fn check_type(ty: &Type) -> Result<()> {
    match ty {
        Type::Group(g) => check_type(&g.elem),
        Type::Paren(p) => check_type(&p.elem),
        Type::Array(array) => match strip(&array.elem) {
            Type::Array(inner) => Err(Error::new_spanned(
                inner,
                "nested arrays are not supported: use one flat array [S; N]",
            )),
            Type::Path(_) => check_type(&array.elem),
            Type::Macro(_) | Type::Verbatim(_) => Ok(()),
            elem => Err(Error::new_spanned(
                elem,
                format!("unsupported array element type; {FIELD_HELP}"),
            )),
        },
        Type::Path(p) if p.qself.is_none() => check_path(&p.path),
        Type::Path(_) | Type::Macro(_) | Type::Verbatim(_) => Ok(()),
        Type::Reference(_) => Err(Error::new_spanned(
            ty,
            format!(
                "references are not supported: a variable holds its value inline (use [u8; N] \
                 for bytes); {FIELD_HELP}"
            ),
        )),
        Type::Tuple(_) => Err(Error::new_spanned(
            ty,
            format!("tuples are not supported: make each element its own field; {FIELD_HELP}"),
        )),
        Type::Slice(_) => Err(Error::new_spanned(
            ty,
            "slices are not supported: a variable has a fixed size; use an array [S; N]",
        )),
        Type::Ptr(_) => Err(Error::new_spanned(
            ty,
            format!("pointers are not supported; {FIELD_HELP}"),
        )),
        _ => Err(Error::new_spanned(
            ty,
            format!("unsupported field type; {FIELD_HELP}"),
        )),
    }
}

fn strip(ty: &Type) -> &Type {
    match ty {
        Type::Group(g) => strip(&g.elem),
        Type::Paren(p) => strip(&p.elem),
        other => other,
    }
}

/// Rejects the well-known names of unsupported types, written bare or under
/// `std`/`core`/`alloc`. Any other path is left to the `Value` bound.
fn check_path(path: &Path) -> Result<()> {
    let Some(last) = path.segments.last() else {
        return Ok(());
    };
    let prelude = path.segments.len() == 1
        || path
            .segments
            .first()
            .is_some_and(|s| s.ident == "std" || s.ident == "core" || s.ident == "alloc");
    if !prelude {
        return Ok(());
    }
    let ident = last.ident.to_string();
    if SCALARS.contains(&ident.as_str()) && last.arguments.is_empty() {
        return Ok(());
    }
    let why = match ident.as_str() {
        "char" => "store it as u32",
        "usize" | "isize" => "its size depends on the target; use u32 or u64 (i32 or i64)",
        "u128" | "i128" => "use [u64; 2]",
        "String" | "str" | "Vec" | "Box" | "Cow" => {
            "a variable has a fixed size and holds its value inline; use [u8; N] for bytes"
        }
        "Option" | "Result" | "Cell" | "RefCell" | "Rc" | "Arc" | "PhantomData" => {
            "not a variable type"
        }
        _ => return Ok(()),
    };
    Err(Error::new_spanned(
        path,
        format!("unsupported field type `{ident}`: {why}; {FIELD_HELP}"),
    ))
}

#[cfg(test)]
mod tests {
    use super::valid_name;

    /// The derive's name rule must be the core's, or a name the derive accepts
    /// would fail the builder with a message that names no field.
    #[test]
    fn name_rule_matches_the_core() {
        let long = "a".repeat(NAME_MAX_CORE);
        let too_long = "a".repeat(NAME_MAX_CORE + 1);
        let cases = [
            "",
            "a",
            "motor.rpm",
            "a-b_c",
            "_",
            "0",
            "has space",
            "é",
            "a/b",
            "a\0",
            &long,
            &too_long,
        ];
        for name in cases {
            assert_eq!(
                valid_name(name),
                memwire::schema::Name::new(name).is_ok(),
                "{name:?}"
            );
        }
    }

    const NAME_MAX_CORE: usize = memwire::schema::NAME_MAX;
}
