//! The generated code: a `static` schema built by `SchemaBuilder`, the
//! `Record` impl (the sizes a region of the record needs, and each field
//! encoded and decoded in its variable's stored form), and compile-time
//! assertions that the struct's layout is the schema's.

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

    // Where each field's stored form sits in the data area: the struct's
    // own offset, which the assertions below prove is the schema's.
    let span_of = |f: &crate::parse::Field<'_>| {
        let ty = f.ty;
        let member = f.member;
        quote! {
            ::core::mem::offset_of!(#ident, #member)
                ..::core::mem::offset_of!(#ident, #member)
                    + <#ty as #schema::Value>::KIND.size()
                        * <#ty as #schema::Value>::COUNT as usize
        }
    };
    let encodes = record.fields.iter().map(|f| {
        let ty = f.ty;
        let member = f.member;
        let span = span_of(f);
        quote! {
            <#ty as #schema::Value>::write_le(
                &self.#member,
                data.get_mut(#span).ok_or(#schema::RecordError::TooShort)?,
            )
            .ok_or(#schema::RecordError::TooShort)?;
        }
    });
    let decodes = record.fields.iter().zip(0u32..).map(|(f, id)| {
        let ty = f.ty;
        let member = f.member;
        let span = span_of(f);
        quote! {
            #member: <#ty as #schema::Value>::read_le(
                data.get(#span).ok_or(#schema::RecordError::TooShort)?,
            )
            .ok_or(#schema::RecordError::InvalidValue {
                variable: #schema::VarId(#id),
            })?,
        }
    });
    let writable_lens = record.fields.iter().filter(|f| f.writable).map(|f| {
        let ty = f.ty;
        quote! {
            let largest = {
                let len = <#ty as #schema::Value>::KIND.size()
                    * <#ty as #schema::Value>::COUNT as usize;
                if len > largest { len } else { largest }
            };
        }
    });
    let too_large = format!(
        "memwire: #[derive(Schema)] struct `{ident}` is too large for a region (over 4 GiB)"
    );

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
            const __MEMWIRE_SECTIONS: #krate::layout::Sections =
                match #krate::layout::sections(&__MEMWIRE_SCHEMA.as_schema()) {
                    ::core::result::Result::Ok(sections) => sections,
                    ::core::result::Result::Err(_) => ::core::panic!(#too_large),
                };

            #[automatically_derived]
            impl #schema::Record for #ident {
                const REGION_LEN: usize = __MEMWIRE_SECTIONS.total_len as usize;
                const REGION_WORDS: usize = __MEMWIRE_SECTIONS.total_len as usize / 4;
                const DATA_LEN: usize = __MEMWIRE_SECTIONS.data_len as usize;
                const TABLE_LEN: usize = #krate::session::OwnRegion::table_len(
                    __MEMWIRE_SECTIONS.data_len as usize,
                );
                const WRITE_LEN: usize = {
                    let largest = 0usize;
                    #(#writable_lens)*
                    largest
                };
                const FRAME_LEN: usize = {
                    let write = <Self as #schema::Record>::WRITE_LEN + #krate::codec::WRITE_OVERHEAD;
                    let min = #krate::codec::MIN_FRAME as usize;
                    if write > min { write } else { min }
                };

                #[inline]
                fn schema() -> #schema::Schema<'static> {
                    __MEMWIRE_BUF.as_schema()
                }

                fn encode(
                    &self,
                    data: &mut [u8],
                ) -> ::core::result::Result<(), #schema::RecordError> {
                    let _ = &data;
                    #(#encodes)*
                    ::core::result::Result::Ok(())
                }

                fn decode(
                    data: &[u8],
                ) -> ::core::result::Result<Self, #schema::RecordError> {
                    let _ = data;
                    ::core::result::Result::Ok(#ident {
                        #(#decodes)*
                    })
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
