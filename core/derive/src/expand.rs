//! The generated code: a `static` schema built by `SchemaBuilder`, the
//! `Record` impl, and compile-time assertions that the struct's layout is the
//! schema's.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;

use crate::parse::Record;

/// Expands a checked struct.
pub(crate) fn expand(record: &Record<'_>) -> TokenStream {
    let ident = record.ident;
    let krate = &record.krate;
    let schema = quote!(#krate::schema);
    let n = record.fields.len();

    let vars = record.fields.iter().map(|f| {
        let name = &f.name;
        let ty = f.ty;
        // The type's span makes a failed `Value` bound point at the field.
        let value = quote_spanned!(ty.span()=> <#ty as #schema::Value>);
        let writable = f.writable.then(|| quote!(.writable()));
        quote!(.var(#name, #value::KIND, #value::COUNT) #writable)
    });

    let bindings: Vec<_> = (0..n).map(|i| format_ident!("__memwire_var{i}")).collect();
    let checks = record.fields.iter().zip(&bindings).map(|(f, var)| {
        let member = f.member;
        let misplaced = format!(
            "memwire: #[derive(Schema)] field `{member}` of `{ident}` is not where the schema \
             puts it (the next multiple of its element size); on this target its type is \
             aligned differently: put larger fields first"
        );
        let padded = format!(
            "memwire: #[derive(Schema)] struct `{ident}` has padding bytes before field \
             `{member}`; reorder fields or add explicit padding fields"
        );
        // The field's span makes a failed assertion point at the field.
        quote_spanned! {member.span()=>
            ::core::assert!(
                #var.offset as usize == ::core::mem::offset_of!(#ident, #member),
                #misplaced
            );
            ::core::assert!(#var.offset as u64 == __memwire_end, #padded);
            let __memwire_end = #var.end();
        }
    });
    let trailing = format!(
        "memwire: #[derive(Schema)] struct `{ident}` has padding bytes after its last field; \
         reorder fields or add explicit padding fields"
    );

    let tail_check = quote_spanned! {ident.span()=>
        ::core::assert!(__memwire_end == ::core::mem::size_of::<#ident>() as u64, #trailing);
    };

    quote! {
        const _: () = {
            const __MEMWIRE_SCHEMA: #schema::SchemaBuf<#n> =
                #schema::SchemaBuilder::<#n>::new() #(#vars)* .build();
            static __MEMWIRE_BUF: #schema::SchemaBuf<#n> = __MEMWIRE_SCHEMA;

            #[automatically_derived]
            impl #schema::Record for #ident {
                #[inline]
                fn schema() -> #schema::Schema<'static> {
                    __MEMWIRE_BUF.as_schema()
                }
            }

            // The layout of the struct must be the schema's, byte for byte:
            // every field where the builder placed its variable, and no
            // padding, whose bytes are uninitialised.
            let __memwire_buf = __MEMWIRE_SCHEMA;
            let [#(#bindings),*] = __memwire_buf.as_schema().variables() else {
                ::core::panic!("memwire: #[derive(Schema)] internal error: variable count");
            };
            let __memwire_end: u64 = 0;
            #(#checks)*
            #tail_check
        };
    }
}
