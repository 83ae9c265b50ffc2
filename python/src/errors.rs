//! The Python exceptions, one per error kind a caller tells apart, and the
//! mapping from the Rust errors to them. Every exception carries the Rust
//! error's message.

use memwire::codec::ErrorCode;
use memwire::region::AccessError;
use memwire_std::client::ClientError;
use memwire_std::shm::ShmError;
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;

create_exception!(
    memwire,
    MemwireError,
    PyException,
    "Every error memwire raises."
);
create_exception!(
    memwire,
    BadPath,
    MemwireError,
    "A region path is not `tenant/region`."
);
create_exception!(
    memwire,
    BadAddress,
    MemwireError,
    "A hub URL is not tcp://, tls:// or unix://."
);
create_exception!(
    memwire,
    RegionNotFound,
    MemwireError,
    "No region has that path."
);
create_exception!(
    memwire,
    RegionExists,
    MemwireError,
    "A region already exists at the path."
);
create_exception!(
    memwire,
    RegionUnusable,
    MemwireError,
    "The region file is unfit to map (owner, mode, links, header) or was removed, replaced or truncated while open."
);
create_exception!(
    memwire,
    SchemaMismatch,
    MemwireError,
    "The region's variables are not the schema expected."
);
create_exception!(
    memwire,
    UnknownVariable,
    MemwireError,
    "No variable has that name."
);
create_exception!(
    memwire,
    WrongValue,
    MemwireError,
    "A value does not fit its variable (kind, length, or a bool other than 0 or 1)."
);
create_exception!(
    memwire,
    WriterBusy,
    MemwireError,
    "Another writer holds the region."
);
create_exception!(
    memwire,
    WriterStalled,
    MemwireError,
    "A write stayed in progress longer than the stall bound: its writer is stuck or died."
);
create_exception!(
    memwire,
    ConnectFailed,
    MemwireError,
    "The hub could not be reached."
);
create_exception!(
    memwire,
    AuthFailed,
    MemwireError,
    "The hub refused the client's name, tenant or secret."
);
create_exception!(
    memwire,
    AccessDenied,
    MemwireError,
    "The client has no right to do that (read another tenant's region, write as a read-only client, write a read-only variable)."
);
create_exception!(
    memwire,
    NotConnected,
    MemwireError,
    "The client is reconnecting; try again."
);
create_exception!(
    memwire,
    HubRefused,
    MemwireError,
    "The hub refused for another reason, named in the message."
);
create_exception!(
    memwire,
    Closed,
    MemwireError,
    "The handle or client is closed."
);

/// Adds every exception to the module.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("MemwireError", py.get_type::<MemwireError>())?;
    m.add("BadPath", py.get_type::<BadPath>())?;
    m.add("BadAddress", py.get_type::<BadAddress>())?;
    m.add("RegionNotFound", py.get_type::<RegionNotFound>())?;
    m.add("RegionExists", py.get_type::<RegionExists>())?;
    m.add("RegionUnusable", py.get_type::<RegionUnusable>())?;
    m.add("SchemaMismatch", py.get_type::<SchemaMismatch>())?;
    m.add("UnknownVariable", py.get_type::<UnknownVariable>())?;
    m.add("WrongValue", py.get_type::<WrongValue>())?;
    m.add("WriterBusy", py.get_type::<WriterBusy>())?;
    m.add("WriterStalled", py.get_type::<WriterStalled>())?;
    m.add("ConnectFailed", py.get_type::<ConnectFailed>())?;
    m.add("AuthFailed", py.get_type::<AuthFailed>())?;
    m.add("AccessDenied", py.get_type::<AccessDenied>())?;
    m.add("NotConnected", py.get_type::<NotConnected>())?;
    m.add("HubRefused", py.get_type::<HubRefused>())?;
    m.add("Closed", py.get_type::<Closed>())?;
    Ok(())
}

/// A shared-memory error as the exception of its kind.
pub(crate) fn shm(e: ShmError) -> PyErr {
    let message = e.to_string();
    match e {
        ShmError::BadPath(_) => BadPath::new_err(message),
        ShmError::NotFound { .. } => RegionNotFound::new_err(message),
        ShmError::AlreadyExists { .. } => RegionExists::new_err(message),
        ShmError::SchemaMismatch { .. } => SchemaMismatch::new_err(message),
        ShmError::WriterBusy { .. } => WriterBusy::new_err(message),
        ShmError::WriterStalled { .. } => WriterStalled::new_err(message),
        ShmError::Access(a) => access(a, message),
        ShmError::InvalidValue { .. } => WrongValue::new_err(message),
        ShmError::Symlink { .. }
        | ShmError::WrongFileType { .. }
        | ShmError::ForeignOwner { .. }
        | ShmError::Writable { .. }
        | ShmError::Readable { .. }
        | ShmError::HardLinked { .. }
        | ShmError::OpenDirectory { .. }
        | ShmError::TooShort { .. }
        | ShmError::BadHeader { .. }
        | ShmError::Removed { .. }
        | ShmError::Replaced { .. }
        | ShmError::HeaderChanged { .. }
        | ShmError::Unavailable { .. }
        | ShmError::Truncated { .. } => RegionUnusable::new_err(message),
        _ => MemwireError::new_err(message),
    }
}

/// A client error as the exception of its kind.
pub(crate) fn client(e: ClientError) -> PyErr {
    let message = e.to_string();
    match e {
        ClientError::BadUrl(_) => BadAddress::new_err(message),
        ClientError::Connect { .. } | ClientError::Tls(_) | ClientError::Disconnected => {
            ConnectFailed::new_err(message)
        }
        ClientError::Refused(code) | ClientError::Hub(code) => hub(code, message),
        ClientError::UnknownVariable(_) => UnknownVariable::new_err(message),
        ClientError::SchemaMismatch => SchemaMismatch::new_err(message),
        ClientError::Access(a) => access(a, message),
        ClientError::InvalidValue { .. } | ClientError::TooLarge => WrongValue::new_err(message),
        ClientError::Local(_) => RegionUnusable::new_err(message),
        ClientError::Closed => Closed::new_err(message),
        ClientError::NotConnected => NotConnected::new_err(message),
        ClientError::BadPath(_) => BadPath::new_err(message),
        _ => MemwireError::new_err(message),
    }
}

/// A refusal by the hub, by its code.
fn hub(code: ErrorCode, message: String) -> PyErr {
    match code {
        ErrorCode::AuthFailed => AuthFailed::new_err(message),
        ErrorCode::AccessDenied | ErrorCode::ReadOnly => AccessDenied::new_err(message),
        ErrorCode::UnknownRegion => RegionNotFound::new_err(message),
        ErrorCode::SchemaMismatch => SchemaMismatch::new_err(message),
        ErrorCode::UnknownVariable => UnknownVariable::new_err(message),
        ErrorCode::BadValue | ErrorCode::OutOfBounds => WrongValue::new_err(message),
        ErrorCode::Busy => WriterBusy::new_err(message),
        _ => HubRefused::new_err(message),
    }
}

/// A refused read or write of a region.
fn access(a: AccessError, message: String) -> PyErr {
    match a {
        AccessError::UnknownVariable => UnknownVariable::new_err(message),
        AccessError::Busy => WriterStalled::new_err(message),
        _ => WrongValue::new_err(message),
    }
}
