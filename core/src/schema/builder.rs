//! A `const` builder for schemas with a fixed capacity.

use super::{Kind, Name, Schema, SchemaError, Variable, check_variables, name_index, place};

/// A schema's storage: up to `N` variables and their name index.
///
/// Made by [`SchemaBuilder`]; borrow it as a [`Schema`] with
/// [`as_schema`](SchemaBuf::as_schema).
#[derive(Clone, Copy, Debug)]
pub struct SchemaBuf<const N: usize> {
    vars: [Variable; N],
    by_name: [u32; N],
    len: usize,
}

impl<const N: usize> SchemaBuf<N> {
    /// Checks `vars` as [`Schema::new_checked`] does (offsets included) and
    /// builds the name index.
    pub const fn from_variables(vars: [Variable; N]) -> Result<SchemaBuf<N>, SchemaError> {
        if let Err(e) = check_variables(&vars) {
            return Err(e);
        }
        let mut by_name = [0u32; N];
        if let Err(e) = name_index(&vars, &mut by_name) {
            return Err(e);
        }
        Ok(SchemaBuf {
            vars,
            by_name,
            len: N,
        })
    }

    /// The schema.
    pub const fn as_schema(&self) -> Schema<'_> {
        let (vars, _) = self.vars.split_at(self.len);
        let (by_name, _) = self.by_name.split_at(self.len);
        Schema { vars, by_name }
    }
}

const PLACEHOLDER: Variable = Variable {
    name: match Name::new("_") {
        Ok(n) => n,
        Err(_) => panic!("placeholder name"),
    },
    kind: Kind::U8,
    count: 1,
    offset: 0,
    writable: false,
};

/// Builds a schema in `const` context: variables are placed in the order
/// given, each at its natural alignment, as in a `#[repr(C)]` struct.
///
/// ```
/// use memwire::schema::{Kind, SchemaBuf, SchemaBuilder};
///
/// static TELEMETRY: SchemaBuf<3> = SchemaBuilder::new()
///     .var("uptime_ms", Kind::U64, 1)
///     .var("temperature", Kind::F32, 1)
///     .var("setpoint", Kind::F32, 1)
///     .writable()
///     .build();
///
/// let schema = TELEMETRY.as_schema();
/// assert_eq!(schema.len(), 3);
/// let (_, setpoint) = schema.lookup("setpoint").unwrap();
/// assert_eq!(setpoint.offset, 12);
/// assert!(setpoint.writable);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct SchemaBuilder<const N: usize> {
    vars: [Variable; N],
    len: usize,
    error: Option<SchemaError>,
}

impl<const N: usize> Default for SchemaBuilder<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> SchemaBuilder<N> {
    /// An empty builder with room for `N` variables.
    pub const fn new() -> Self {
        SchemaBuilder {
            vars: [PLACEHOLDER; N],
            len: 0,
            error: None,
        }
    }

    /// Appends a read-only variable of `count` elements of `kind`.
    ///
    /// Errors (bad name, zero count, no room) are kept and reported by
    /// [`try_build`](Self::try_build).
    #[allow(
        clippy::indexing_slicing,
        reason = "const fn: every index is bounded by the loop condition; iterators are not usable in const"
    )]
    pub const fn var(mut self, name: &str, kind: Kind, count: u32) -> Self {
        if self.error.is_some() {
            return self;
        }
        let name = match Name::new(name) {
            Ok(n) => n,
            Err(e) => {
                self.error = Some(SchemaError::Name(e));
                return self;
            }
        };
        if self.len == N {
            self.error = Some(SchemaError::TooManyVariables);
            return self;
        }
        self.vars[self.len] = Variable::new(name, kind, count, 0);
        self.len += 1;
        self
    }

    /// Marks the variable added last as writable by remote peers.
    #[allow(
        clippy::indexing_slicing,
        reason = "const fn: every index is bounded by the loop condition; iterators are not usable in const"
    )]
    pub const fn writable(mut self) -> Self {
        if self.len > 0 {
            self.vars[self.len - 1].writable = true;
        }
        self
    }

    /// Places the variables and builds the name index.
    pub const fn try_build(self) -> Result<SchemaBuf<N>, SchemaError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let mut vars = self.vars;
        let (used, _) = vars.split_at_mut(self.len);
        if let Err(e) = place(used) {
            return Err(e);
        }
        let mut by_name = [0u32; N];
        let (index, _) = by_name.split_at_mut(self.len);
        if let Err(e) = name_index(used, index) {
            return Err(e);
        }
        Ok(SchemaBuf {
            vars,
            by_name,
            len: self.len,
        })
    }

    /// [`try_build`](Self::try_build), panicking on error: in a `const` or
    /// `static` initializer the panic is a compile error.
    #[allow(
        clippy::panic,
        reason = "in a const initializer the panic is a compile error; try_build is the fallible form"
    )]
    pub const fn build(self) -> SchemaBuf<N> {
        match self.try_build() {
            Ok(buf) => buf,
            Err(SchemaError::Name(_)) => panic!("invalid variable name in schema"),
            Err(SchemaError::DuplicateName) => panic!("duplicate variable name in schema"),
            Err(SchemaError::ZeroCount) => panic!("variable with zero elements in schema"),
            Err(SchemaError::TooManyVariables) => panic!("more variables than the builder holds"),
            Err(_) => panic!("schema larger than 4 GiB"),
        }
    }
}
