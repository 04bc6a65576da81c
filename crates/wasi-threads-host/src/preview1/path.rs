//! `path_*`: calls on a path beneath a directory descriptor.

use std::sync::Arc;

use cap_fs_ext::DirExt;
use wiggle::{GuestMemory, GuestPtr};

use super::descriptors::Desc;
use super::iov::read_path;
use super::stat;
use super::types::{self, Errno, Error};
use super::WasiCtx;
use crate::resources::fs;

pub(super) fn path_create_directory(
    cx: &WasiCtx,
    mem: &mut GuestMemory<'_>,
    fd: types::Fd,
    path: GuestPtr<str>,
) -> Result<(), Error> {
    let dir = cx.dir(fd)?;
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
    let dir = cx.dir(fd)?;
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
    let dir = cx.dir(fd)?;
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
    old_path: GuestPtr<str>,
    new_fd: types::Fd,
    new_path: GuestPtr<str>,
) -> Result<(), Error> {
    let old_dir = cx.dir(old_fd)?;
    let new_dir = cx.dir(new_fd)?;
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
    rights: types::Rights,
    fdflags: types::Fdflags,
) -> Result<types::Fd, Error> {
    let dir = cx.dir(fd)?;
    let path = read_path(mem, path)?;
    let request = fs::OpenRequest {
        follow: dirflags.contains(types::Lookupflags::SYMLINK_FOLLOW),
        directory: oflags.contains(types::Oflags::DIRECTORY),
        create: oflags.contains(types::Oflags::CREAT),
        exclusive: oflags.contains(types::Oflags::EXCL),
        truncate: oflags.contains(types::Oflags::TRUNC),
        read: rights.contains(types::Rights::FD_READ) || rights.contains(types::Rights::FD_READDIR),
        write: rights.contains(types::Rights::FD_WRITE),
        append: fdflags.contains(types::Fdflags::APPEND),
        nonblocking: fdflags.contains(types::Fdflags::NONBLOCK),
    };
    let desc = match fs::open(&dir, fs::guest_path(&path)?, &request)? {
        fs::Opened::File(f) => Desc::File(Arc::new(f)),
        fs::Opened::Dir(d) => Desc::Dir(Arc::new(d)),
    };
    cx.insert(desc)
}

pub(super) fn path_readlink(
    cx: &WasiCtx,
    mem: &mut GuestMemory<'_>,
    fd: types::Fd,
    path: GuestPtr<str>,
    buf: GuestPtr<u8>,
    len: types::Size,
) -> Result<types::Size, Error> {
    let dir = cx.dir(fd)?;
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
    let dir = cx.dir(fd)?;
    let path = read_path(mem, path)?;
    dir.check_writable()?;
    dir.dir
        .remove_dir(fs::guest_path(&path)?)
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
    let old_dir = cx.dir(fd)?;
    let new_dir = cx.dir(new_fd)?;
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
    let dir = cx.dir(fd)?;
    let old_path = read_path(mem, old_path)?;
    let new_path = read_path(mem, new_path)?;
    dir.check_writable()?;
    // The link's text is stored as given; following it later still
    // resolves beneath the directory.
    dir.dir
        .symlink_contents(fs::guest_path(&old_path)?, fs::guest_path(&new_path)?)
        .map_err(Error::from)
}

pub(super) fn path_unlink_file(
    cx: &WasiCtx,
    mem: &mut GuestMemory<'_>,
    fd: types::Fd,
    path: GuestPtr<str>,
) -> Result<(), Error> {
    let dir = cx.dir(fd)?;
    let path = read_path(mem, path)?;
    dir.check_writable()?;
    dir.dir
        .remove_file_or_symlink(fs::guest_path(&path)?)
        .map_err(Error::from)
}
