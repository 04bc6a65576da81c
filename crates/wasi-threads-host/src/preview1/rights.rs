//! Preview 1's rights: what each descriptor may be used for.
//!
//! Every descriptor carries base rights (what calls on it may do) and
//! inheriting rights (what descriptors opened through it may get). A
//! preopened directory starts with every right a directory and the files
//! beneath it can use, less those that change something when it is
//! read-only; `path_open` gives the new descriptor what it asks for,
//! narrowed by the directory's inheriting rights; `fd_fdstat_set_rights`
//! can only drop rights. A call that needs a right its descriptor lacks
//! answers `notcapable`.

use super::types::Rights as R;

/// What a regular file descriptor can use.
pub(super) fn file() -> R {
    R::FD_DATASYNC
        | R::FD_READ
        | R::FD_SEEK
        | R::FD_FDSTAT_SET_FLAGS
        | R::FD_SYNC
        | R::FD_TELL
        | R::FD_WRITE
        | R::FD_ADVISE
        | R::FD_ALLOCATE
        | R::FD_FILESTAT_GET
        | R::FD_FILESTAT_SET_SIZE
        | R::FD_FILESTAT_SET_TIMES
        | R::POLL_FD_READWRITE
}

/// What a directory descriptor can use.
pub(super) fn dir() -> R {
    R::PATH_CREATE_DIRECTORY
        | R::PATH_CREATE_FILE
        | R::PATH_LINK_SOURCE
        | R::PATH_LINK_TARGET
        | R::PATH_OPEN
        | R::FD_READDIR
        | R::PATH_READLINK
        | R::PATH_RENAME_SOURCE
        | R::PATH_RENAME_TARGET
        | R::PATH_FILESTAT_GET
        | R::PATH_FILESTAT_SET_SIZE
        | R::PATH_FILESTAT_SET_TIMES
        | R::FD_FILESTAT_GET
        | R::FD_FILESTAT_SET_TIMES
        | R::PATH_SYMLINK
        | R::PATH_REMOVE_DIRECTORY
        | R::PATH_UNLINK_FILE
        | R::FD_SYNC
        | R::FD_DATASYNC
}

/// The rights that change something: a read-only preopen has none.
pub(super) fn changing() -> R {
    R::FD_WRITE
        | R::FD_ALLOCATE
        | R::FD_FILESTAT_SET_SIZE
        | R::FD_FILESTAT_SET_TIMES
        | R::PATH_CREATE_DIRECTORY
        | R::PATH_CREATE_FILE
        | R::PATH_LINK_SOURCE
        | R::PATH_LINK_TARGET
        | R::PATH_RENAME_SOURCE
        | R::PATH_RENAME_TARGET
        | R::PATH_FILESTAT_SET_SIZE
        | R::PATH_FILESTAT_SET_TIMES
        | R::PATH_SYMLINK
        | R::PATH_REMOVE_DIRECTORY
        | R::PATH_UNLINK_FILE
}

/// A preopened directory's (base, inheriting) rights.
pub(super) fn preopen(writable: bool) -> (R, R) {
    let (base, inheriting) = (dir(), dir() | file());
    if writable {
        (base, inheriting)
    } else {
        (base - changing(), inheriting - changing())
    }
}

/// Standard input's rights: reading, polling, its filestat.
pub(super) fn stdin() -> R {
    R::FD_READ | R::POLL_FD_READWRITE | R::FD_FILESTAT_GET
}

/// Standard output's and error's rights.
pub(super) fn stdout() -> R {
    R::FD_WRITE | R::POLL_FD_READWRITE | R::FD_FILESTAT_GET
}

/// A connected stream socket's rights.
pub(super) fn connection() -> R {
    R::FD_READ
        | R::FD_WRITE
        | R::POLL_FD_READWRITE
        | R::SOCK_SHUTDOWN
        | R::FD_FDSTAT_SET_FLAGS
        | R::FD_FILESTAT_GET
}

/// A listening socket's (base, inheriting) rights: its connections get
/// the inheriting ones.
pub(super) fn listener() -> (R, R) {
    (
        R::SOCK_ACCEPT | R::POLL_FD_READWRITE | R::FD_FDSTAT_SET_FLAGS | R::FD_FILESTAT_GET,
        connection(),
    )
}
