//! Schemas held on the heap, for schemas only known at run time (a config
//! file, a region opened by name).
//!
//! The core's [`Schema`] borrows its variables and name index from storage
//! that someone else owns; [`OwnedSchema`] is that storage for std code, and
//! lends out a [`Schema`] with [`OwnedSchema::as_schema`].

use memwire::schema::{Schema, SchemaError, Variable, name_index, place};

/// A schema's variables and name index in `Vec`s; always a valid schema.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnedSchema {
    vars: Vec<Variable>,
    index: Vec<u32>,
}

impl OwnedSchema {
    /// Places `vars` in the order given, each at its natural alignment right
    /// after the one before (as the core's `SchemaBuilder` and a `#[repr(C)]`
    /// struct do; offsets in `vars` are overwritten), and builds the name
    /// index.
    pub fn new(mut vars: Vec<Variable>) -> Result<OwnedSchema, SchemaError> {
        place(&mut vars)?;
        OwnedSchema::from_placed(vars)
    }

    /// Copies `schema`, offsets and all.
    pub fn from_schema(schema: Schema<'_>) -> OwnedSchema {
        OwnedSchema {
            vars: schema.variables().to_vec(),
            index: schema.name_order().to_vec(),
        }
    }

    /// Builds the name index of variables already placed (offsets as
    /// given, e.g. from a hub's variable table), and checks them.
    pub fn from_placed(vars: Vec<Variable>) -> Result<OwnedSchema, SchemaError> {
        let mut index = vec![0; vars.len()];
        name_index(&vars, &mut index)?;
        Schema::new_checked(&vars, &index)?;
        Ok(OwnedSchema { vars, index })
    }

    /// The schema.
    ///
    /// The core's `Schema` can only be made by checking it, so this costs a
    /// pass over the variables (no hashing): borrow it once, not per byte.
    pub fn as_schema(&self) -> Schema<'_> {
        #[allow(
            clippy::expect_used,
            reason = "the fields are private and were checked by the same function when built"
        )]
        Schema::new_checked(&self.vars, &self.index).expect("an OwnedSchema is checked when built")
    }

    /// The variables, in offset order.
    pub fn variables(&self) -> &[Variable] {
        &self.vars
    }
}

impl From<Schema<'_>> for OwnedSchema {
    fn from(schema: Schema<'_>) -> OwnedSchema {
        OwnedSchema::from_schema(schema)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use memwire::schema::{Kind, Name, SchemaBuf, SchemaBuilder};

    static TELEMETRY: SchemaBuf<5> = SchemaBuilder::new()
        .var("enabled", Kind::Bool, 1)
        .writable()
        .var("uptime_ms", Kind::U64, 1)
        .var("samples", Kind::I16, 3)
        .var("temperature", Kind::F32, 1)
        .var("setpoint", Kind::F64, 1)
        .writable()
        .build();

    fn var(name: &str, kind: Kind, count: u32) -> Variable {
        Variable::new(Name::new(name).unwrap(), kind, count, 0)
    }

    fn telemetry_vars() -> Vec<Variable> {
        let mut vars = vec![
            var("enabled", Kind::Bool, 1),
            var("uptime_ms", Kind::U64, 1),
            var("samples", Kind::I16, 3),
            var("temperature", Kind::F32, 1),
            var("setpoint", Kind::F64, 1),
        ];
        vars[0].writable = true;
        vars[4].writable = true;
        vars
    }

    #[test]
    fn places_like_the_const_builder() {
        let owned = OwnedSchema::new(telemetry_vars()).unwrap();
        let schema = owned.as_schema();
        let built = TELEMETRY.as_schema();
        assert_eq!(schema.fingerprint(), built.fingerprint());
        assert_eq!(schema, built);
        let offsets: Vec<u32> = schema.variables().iter().map(|v| v.offset).collect();
        assert_eq!(offsets, [0, 8, 16, 24, 32]);
        assert_eq!(schema.data_len(), 40);
        assert_eq!(schema.name_order(), built.name_order());
        assert_eq!(
            schema.lookup("setpoint").map(|(_, v)| v.writable),
            Some(true)
        );
    }

    #[test]
    fn given_offsets_are_replaced() {
        let mut vars = telemetry_vars();
        vars[1].offset = 1;
        vars[4].offset = 999;
        let owned = OwnedSchema::new(vars).unwrap();
        assert_eq!(
            owned.as_schema().fingerprint(),
            TELEMETRY.as_schema().fingerprint()
        );
    }

    #[test]
    fn refuses_invalid_variable_lists() {
        let dup = vec![
            var("a", Kind::U8, 1),
            var("b", Kind::U8, 1),
            var("a", Kind::U32, 1),
        ];
        assert_eq!(OwnedSchema::new(dup), Err(SchemaError::DuplicateName));
        let zero = vec![var("a", Kind::U8, 1), var("b", Kind::U16, 0)];
        assert_eq!(OwnedSchema::new(zero), Err(SchemaError::ZeroCount));
        let huge = vec![var("a", Kind::U64, u32::MAX / 8), var("b", Kind::U64, 2)];
        assert_eq!(OwnedSchema::new(huge), Err(SchemaError::TooLarge));
        let empty = OwnedSchema::new(Vec::new()).unwrap();
        assert!(empty.as_schema().is_empty());
        assert_eq!(empty.as_schema().fingerprint(), Schema::EMPTY.fingerprint());
    }

    #[test]
    fn placed_variables_keep_their_offsets() {
        let mut vars = telemetry_vars();
        for (var, offset) in vars.iter_mut().zip([0, 8, 20, 28, 40]) {
            var.offset = offset;
        }
        let owned = OwnedSchema::from_placed(vars.clone()).unwrap();
        assert_eq!(owned.variables(), &vars[..]);
        assert_ne!(
            owned.as_schema().fingerprint(),
            TELEMETRY.as_schema().fingerprint()
        );
        vars[4].offset = 36;
        assert_eq!(
            OwnedSchema::from_placed(vars.clone()),
            Err(SchemaError::Misaligned)
        );
        vars[4].offset = 24;
        assert_eq!(OwnedSchema::from_placed(vars), Err(SchemaError::Overlap));
    }

    #[test]
    fn copies_a_borrowed_schema() {
        let copy = OwnedSchema::from_schema(TELEMETRY.as_schema());
        assert_eq!(copy.as_schema(), TELEMETRY.as_schema());
        assert_eq!(copy, OwnedSchema::new(telemetry_vars()).unwrap());
        assert_eq!(OwnedSchema::from(TELEMETRY.as_schema()), copy);
        let clone = copy.clone();
        assert_eq!(clone.variables(), TELEMETRY.as_schema().variables());
        assert_ne!(
            copy,
            OwnedSchema::new(telemetry_vars()[..4].to_vec()).unwrap()
        );
    }
}
