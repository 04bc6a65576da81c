//! File metadata in preview 1's terms: file types, `filestat`, and the
//! times `*_set_times` asks for.

use std::io;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cap_fs_ext::MetadataExt;
use cap_std::fs::Metadata;

use super::types::{self, Errno};
use crate::resources::fs::SystemTimeSpec;

pub(super) fn filetype(ft: cap_std::fs::FileType) -> types::Filetype {
    use cap_fs_ext::FileTypeExt;
    if ft.is_dir() {
        types::Filetype::Directory
    } else if ft.is_symlink() {
        types::Filetype::SymbolicLink
    } else if ft.is_file() {
        types::Filetype::RegularFile
    } else if ft.is_char_device() {
        types::Filetype::CharacterDevice
    } else if ft.is_block_device() {
        types::Filetype::BlockDevice
    } else {
        types::Filetype::Unknown
    }
}

fn nanos(t: io::Result<SystemTime>) -> u64 {
    t.ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos() as u64)
}

pub(super) fn filestat(m: &Metadata) -> types::Filestat {
    let modified = nanos(m.modified().map(|t| t.into_std()));
    types::Filestat {
        dev: m.dev(),
        ino: m.ino(),
        filetype: filetype(m.file_type()),
        nlink: m.nlink(),
        size: m.len(),
        atim: nanos(m.accessed().map(|t| t.into_std())),
        mtim: modified,
        ctim: modified,
    }
}

pub(super) fn std_filestat(file: &std::fs::File) -> io::Result<types::Filestat> {
    let m = Metadata::from_file(file)?;
    Ok(filestat(&m))
}

/// The time a `*_set_times` call asks for.
pub(super) fn time_spec(
    value: types::Timestamp,
    flags: types::Fstflags,
    set: types::Fstflags,
    now: types::Fstflags,
) -> Result<Option<cap_fs_ext::SystemTimeSpec>, Errno> {
    match (flags.contains(set), flags.contains(now)) {
        (true, true) => Err(Errno::Inval),
        (true, false) => Ok(Some(cap_fs_ext::SystemTimeSpec::Absolute(
            cap_std::time::SystemTime::from_std(UNIX_EPOCH + Duration::from_nanos(value)),
        ))),
        (false, true) => Ok(Some(cap_fs_ext::SystemTimeSpec::SymbolicNow)),
        (false, false) => Ok(None),
    }
}

/// A time given to `*_set_times`, as the system's time.
pub(super) fn spec_time(t: SystemTimeSpec) -> SystemTime {
    match t {
        SystemTimeSpec::Absolute(t) => t.into_std(),
        SystemTimeSpec::SymbolicNow => SystemTime::now(),
    }
}
