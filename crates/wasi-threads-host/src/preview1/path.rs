//! `path_*`: calls on a path beneath a directory descriptor.

use std::sync::Arc;

use cap_fs_ext::DirExt;
use wiggle::{GuestMemory, GuestPtr};

use super::descriptors::{Desc, Entry};
use super::iov::read_path;
use super::rights;
use super::stat;
use super::types::{self, Errno, Error, Rights as R};
use super::WasiCtx;
use crate::resources::fs;

pub(super) fn path_create_directory(
    cx: &WasiCtx,
    mem: &mut GuestMemory<'_>,
    fd: types::Fd,
    path: GuestPtr<str>,
) -> Result<(), Error> {
    let dir = cx.dir(fd, R::PATH_CREATE_DIRECTORY)?;
    let path = read_path(mem, path)?;
    dir.check_writable()?;
    dir.dir
        .create_dir(fs::guest_path(&path)?)
        .map_err(Error::from)
}

pub(super) fn path_filestat_get(
    cx: &WasiCtx,
    mem: &mut GuestMemory<'_>,
    fd: types::Fd,
    flags: types::Lookupflags,
    path: GuestPtr<str>,
) -> Result<types::Filestat, Error> {
    let dir = cx.dir(fd, R::PATH_FILESTAT_GET)?;
    let path = read_path(mem, path)?;
    let path = fs::guest_path(&path)?;
    let meta = if flags.contains(types::Lookupflags::SYMLINK_FOLLOW) {
        dir.dir.metadata(path)
    } else {
        dir.dir.symlink_metadata(path)
    }
    .map_err(Error::from)?;
    Ok(stat::filestat(&meta))
}

// Preview 1's own parameters, one each.
#[allow(clippy::too_many_arguments)]
pub(super) fn path_filestat_set_times(
    cx: &WasiCtx,
    mem: &mut GuestMemory<'_>,
    fd: types::Fd,
    flags: types::Lookupflags,
    path: GuestPtr<str>,
    atim: types::Timestamp,
    mtim: types::Timestamp,
    fst: types::Fstflags,
) -> Result<(), Error> {
    let dir = cx.dir(fd, R::PATH_FILESTAT_SET_TIMES)?;
    let path = read_path(mem, path)?;
    dir.check_writable()?;
    let atime = stat::time_spec(atim, fst, types::Fstflags::ATIM, types::Fstflags::ATIM_NOW)?;
    let mtime = stat::time_spec(mtim, fst, types::Fstflags::MTIM, types::Fstflags::MTIM_NOW)?;
    let follow = flags.contains(types::Lookupflags::SYMLINK_FOLLOW);
    fs::set_times(&dir.dir, fs::guest_path(&path)?, atime, mtime, follow).map_err(Error::from)
}

pub(super) fn path_link(
    cx: &WasiCtx,
    mem: &mut GuestMemory<'_>,
    old_fd: types::Fd,
    flags: types::Lookupflags,
    old_path: GuestPtr<str>,
    new_fd: types::Fd,
    new_path: GuestPtr<str>,
) -> Result<(), Error> {
    let old_dir = cx.dir(old_fd, R::PATH_LINK_SOURCE)?;
    let new_dir = cx.dir(new_fd, R::PATH_LINK_TARGET)?;
    // Linking to what a symlink names is not supported: the link is made
    // to the path itself (`inval` when asked to follow, as wasmtime).
    if flags.contains(types::Lookupflags::SYMLINK_FOLLOW) {
        return Err(Errno::Inval.into());
    }
    let old_path = read_path(mem, old_path)?;
    let new_path = read_path(mem, new_path)?;
    new_dir.check_writable()?;
    old_dir
        .dir
        .hard_link(
            fs::guest_path(&old_path)?,
            &new_dir.dir,
            fs::guest_path(&new_path)?,
        )
        .map_err(Error::from)
}

// Preview 1's own parameters, one each.
#[allow(clippy::too_many_arguments)]
pub(super) fn path_open(
    cx: &WasiCtx,
    mem: &mut GuestMemory<'_>,
    fd: types::Fd,
    dirflags: types::Lookupflags,
    path: GuestPtr<str>,
    oflags: types::Oflags,
    (base, inheriting): (types::Rights, types::Rights),
    fdflags: types::Fdflags,
) -> Result<types::Fd, Error> {
    use types::{Fdflags as F, Oflags as O};
    let entry = cx.entry(fd)?;
    let Desc::Dir(dir) = &entry.desc else {
        return Err(Errno::Notdir.into());
    };
    let mut need = R::PATH_OPEN;
    if oflags.contains(O::CREAT) {
        need |= R::PATH_CREATE_FILE;
    }
    if oflags.contains(O::TRUNC) {
        need |= R::PATH_FILESTAT_SET_SIZE;
    }
    entry.require(need)?;
    // What the new descriptor gets: what it asks for, within what the
    // directory passes on.
    let base = base & entry.inheriting;
    let inheriting = inheriting & entry.inheriting;
    let path = read_path(mem, path)?;
    let request = fs::OpenRequest {
        follow: dirflags.contains(types::Lookupflags::SYMLINK_FOLLOW),
        directory: oflags.contains(O::DIRECTORY),
        create: oflags.contains(O::CREAT),
        exclusive: oflags.contains(O::EXCL),
        truncate: oflags.contains(O::TRUNC),
        read: base.intersects(R::FD_READ | R::FD_READDIR),
        write: base.contains(R::FD_WRITE),
        append: fdflags.contains(F::APPEND),
        nonblocking: fdflags.contains(F::NONBLOCK),
        sync: fs::SyncFlags {
            sync: fdflags.contains(F::SYNC),
            dsync: fdflags.contains(F::DSYNC),
            rsync: fdflags.contains(F::RSYNC),
        },
    };
    let opened = fs::open(dir, fs::guest_path(&path)?, &request, cx.run.end_signal());
    if opened.is_err() && cx.run.is_ended() {
        // An open that waited (for a FIFO's reader) until the run ended.
        return Err(super::errno::ending());
    }
    let entry = match opened? {
        fs::Opened::File(f) => Entry::new(
            Desc::File(Arc::new(f)),
            base & rights::file(),
            inheriting & rights::file(),
        ),
        fs::Opened::Dir(d) => Entry::new(
            Desc::Dir(Arc::new(d)),
            base & rights::dir(),
            inheriting & (rights::dir() | rights::file()),
        ),
    };
    cx.insert(entry)
}

pub(super) fn path_readlink(
    cx: &WasiCtx,
    mem: &mut GuestMemory<'_>,
    fd: types::Fd,
    path: GuestPtr<str>,
    buf: GuestPtr<u8>,
    len: types::Size,
) -> Result<types::Size, Error> {
    let dir = cx.dir(fd, R::PATH_READLINK)?;
    let path = read_path(mem, path)?;
    let target = dir
        .dir
        .read_link_contents(fs::guest_path(&path)?)
        .map_err(Error::from)?;
    let target = target.to_str().ok_or(Errno::Ilseq)?.as_bytes();
    let n = target.len().min(len as usize);
    mem.copy_from_slice(&target[..n], buf.as_array(n as u32))?;
    Ok(n as u32)
}

pub(super) fn path_remove_directory(
    cx: &WasiCtx,
    mem: &mut GuestMemory<'_>,
    fd: types::Fd,
    path: GuestPtr<str>,
) -> Result<(), Error> {
    let dir = cx.dir(fd, R::PATH_REMOVE_DIRECTORY)?;
    let path = read_path(mem, path)?;
    dir.check_writable()?;
    // `rmdir("dir/")` removes `dir`, as on POSIX (a file so named is
    // still `notdir`).
    let trimmed = match path.trim_end_matches('/') {
        "" => path.as_str(),
        trimmed => trimmed,
    };
    dir.dir
        .remove_dir(fs::guest_path(trimmed)?)
        .map_err(Error::from)
}

pub(super) fn path_rename(
    cx: &WasiCtx,
    mem: &mut GuestMemory<'_>,
    fd: types::Fd,
    old_path: GuestPtr<str>,
    new_fd: types::Fd,
    new_path: GuestPtr<str>,
) -> Result<(), Error> {
    let old_dir = cx.dir(fd, R::PATH_RENAME_SOURCE)?;
    let new_dir = cx.dir(new_fd, R::PATH_RENAME_TARGET)?;
    let old_path = read_path(mem, old_path)?;
    let new_path = read_path(mem, new_path)?;
    old_dir.check_writable()?;
    new_dir.check_writable()?;
    old_dir
        .dir
        .rename(
            fs::guest_path(&old_path)?,
            &new_dir.dir,
            fs::guest_path(&new_path)?,
        )
        .map_err(Error::from)
}

pub(super) fn path_symlink(
    cx: &WasiCtx,
    mem: &mut GuestMemory<'_>,
    old_path: GuestPtr<str>,
    fd: types::Fd,
    new_path: GuestPtr<str>,
) -> Result<(), Error> {
    let dir = cx.dir(fd, R::PATH_SYMLINK)?;
    let old_path = read_path(mem, old_path)?;
    let new_path = read_path(mem, new_path)?;
    dir.check_writable()?;
    // A link to an absolute path is refused (`notcapable`): following it
    // would leave the sandbox, and another program on the host might.
    // Relative links are stored as given; following one still resolves
    // beneath the directory.
    dir.dir
        .symlink(fs::guest_path(&old_path)?, fs::guest_path(&new_path)?)
        .map_err(Error::from)
}

pub(super) fn path_unlink_file(
    cx: &WasiCtx,
    mem: &mut GuestMemory<'_>,
    fd: types::Fd,
    path: GuestPtr<str>,
) -> Result<(), Error> {
    let dir = cx.dir(fd, R::PATH_UNLINK_FILE)?;
    let path = read_path(mem, path)?;
    dir.check_writable()?;
    dir.dir
        .remove_file_or_symlink(fs::guest_path(&path)?)
        .map_err(Error::from)
}
