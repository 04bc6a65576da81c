//! Errors in preview 1's terms: every failure of a call becomes an errno
//! here, once (a bad pointer or value from the guest, a system error, a
//! full descriptor table), or the end of the thread when the run has
//! ended.

use std::io::{self, ErrorKind};

use super::types::{Errno, Error};
use crate::resources::net::NetError;
use crate::resources::stdio::ReadError;
use crate::resources::table::TableError;
use crate::resources::wait::WaitError;
use crate::run::RunEnded;

impl wiggle::GuestErrorType for Errno {
    fn success() -> Self {
        Errno::Success
    }
}

/// A bad pointer, length or value from the guest is the guest's error:
/// an errno, as preview 1 specifies, never a host failure.
impl From<wiggle::GuestError> for Error {
    fn from(e: wiggle::GuestError) -> Error {
        use wiggle::GuestError as G;
        match e {
            G::InvalidFlagValue(_) | G::InvalidEnumValue(_) | G::PtrNotAligned(..) => Errno::Inval,
            G::PtrOverflow | G::PtrOutOfBounds(_) | G::SliceLengthsDiffer => Errno::Fault,
            G::InvalidUtf8(_) => Errno::Ilseq,
            G::TryFromIntError(_) => Errno::Overflow,
            G::InFunc { err, .. } => return Error::from(*err),
        }
        .into()
    }
}

impl From<TableError> for Error {
    fn from(e: TableError) -> Error {
        match e {
            TableError::NotOpen => Errno::Badf,
            TableError::Full => Errno::Mfile,
        }
        .into()
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Error {
        errno(&e).into()
    }
}

/// The end of the thread: the run has ended while it waited.
pub(super) fn ending() -> Error {
    Error::trap(wasmtime::Error::new(RunEnded))
}

impl From<WaitError> for Error {
    fn from(e: WaitError) -> Error {
        match e {
            WaitError::Ended => ending(),
            WaitError::Os(e) => e.into(),
        }
    }
}

impl From<ReadError> for Error {
    fn from(e: ReadError) -> Error {
        match e {
            ReadError::Ended => ending(),
            ReadError::Os(e) => e.into(),
        }
    }
}

/// The errno (or the end of the thread) for a failed socket call.
impl From<NetError> for Error {
    fn from(e: NetError) -> Error {
        match e {
            NetError::Os(e) => e.into(),
            NetError::Again => Errno::Again.into(),
            NetError::Ended => ending(),
        }
    }
}

/// The preview-1 errno of an I/O error.
pub(super) fn errno(e: &io::Error) -> Errno {
    // cap-std refuses a path that leads outside its directory with a
    // PermissionDenied error that carries no OS code.
    if e.kind() == ErrorKind::PermissionDenied && e.raw_os_error().is_none() {
        return Errno::Notcapable;
    }
    if let Some(code) = e.raw_os_error() {
        if let Some(errno) = from_os(code) {
            return errno;
        }
    }
    match e.kind() {
        ErrorKind::NotFound => Errno::Noent,
        ErrorKind::PermissionDenied => Errno::Acces,
        ErrorKind::AlreadyExists => Errno::Exist,
        ErrorKind::InvalidInput => Errno::Inval,
        ErrorKind::NotADirectory => Errno::Notdir,
        ErrorKind::IsADirectory => Errno::Isdir,
        ErrorKind::DirectoryNotEmpty => Errno::Notempty,
        ErrorKind::ReadOnlyFilesystem => Errno::Rofs,
        ErrorKind::CrossesDevices => Errno::Xdev,
        ErrorKind::StorageFull => Errno::Nospc,
        ErrorKind::TooManyLinks => Errno::Mlink,
        ErrorKind::InvalidFilename => Errno::Nametoolong,
        ErrorKind::Unsupported => Errno::Notsup,
        ErrorKind::Interrupted => Errno::Intr,
        ErrorKind::WouldBlock => Errno::Again,
        _ => Errno::Io,
    }
}

/// Linux error numbers the kinds above do not tell apart.
fn from_os(code: i32) -> Option<Errno> {
    Some(match code {
        1 => Errno::Perm,
        2 => Errno::Noent,
        4 => Errno::Intr,
        5 => Errno::Io,
        9 => Errno::Badf,
        11 => Errno::Again,
        12 => Errno::Nomem,
        13 => Errno::Acces,
        17 => Errno::Exist,
        18 => Errno::Xdev,
        20 => Errno::Notdir,
        21 => Errno::Isdir,
        22 => Errno::Inval,
        23 => Errno::Nfile,
        24 => Errno::Mfile,
        27 => Errno::Fbig,
        28 => Errno::Nospc,
        29 => Errno::Spipe,
        30 => Errno::Rofs,
        31 => Errno::Mlink,
        32 => Errno::Pipe,
        36 => Errno::Nametoolong,
        39 => Errno::Notempty,
        40 => Errno::Loop,
        71 => Errno::Proto,
        88 => Errno::Notsock,
        95 => Errno::Notsup,
        98 => Errno::Addrinuse,
        99 => Errno::Addrnotavail,
        100 => Errno::Netdown,
        101 => Errno::Netunreach,
        102 => Errno::Netreset,
        103 => Errno::Connaborted,
        104 => Errno::Connreset,
        105 => Errno::Nobufs,
        106 => Errno::Isconn,
        107 => Errno::Notconn,
        110 => Errno::Timedout,
        111 => Errno::Connrefused,
        113 => Errno::Hostunreach,
        _ => return None,
    })
}
