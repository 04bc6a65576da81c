//! `fd_*`: calls on a descriptor (files, directories, stdio, sockets).

use std::io::Write;
use std::path::Path;

use wiggle::{GuestMemory, GuestPtr};

use super::descriptors::{file_flags, Desc};
use super::iov::{gather, read_buffer, read_full_at, scatter, MAX_IO};
use super::stat;
use super::types::{self, Errno, Error, Rights as R};
use super::WasiCtx;
use crate::resources::fs;
use crate::resources::stdio::{self, StreamKind};

pub(super) fn fd_advise(cx: &WasiCtx, fd: types::Fd) -> Result<(), Error> {
    // Advice is only advice.
    cx.file(fd, R::FD_ADVISE).map(drop)
}

pub(super) fn fd_allocate(
    cx: &WasiCtx,
    fd: types::Fd,
    offset: types::Filesize,
    len: types::Filesize,
) -> Result<(), Error> {
    let file = cx.file(fd, R::FD_ALLOCATE)?;
    let end = offset.checked_add(len).ok_or(Errno::Fbig)?;
    if end > i64::MAX as u64 {
        return Err(Errno::Fbig.into());
    }
    // One system call: the file grows to `end` if it is shorter, and a
    // concurrent append is never cut off.
    match rustix::fs::fallocate(&file.file, rustix::fs::FallocateFlags::empty(), offset, len) {
        Ok(()) => Ok(()),
        // A file system without fallocate: grow it under the position lock,
        // which every append through this host takes.
        Err(rustix::io::Errno::OPNOTSUPP) => {
            let _position = file.position();
            if end > file.file.metadata()?.len() {
                file.file.set_len(end)?;
            }
            Ok(())
        }
        Err(e) => Err(std::io::Error::from(e).into()),
    }
}

pub(super) fn fd_close(cx: &WasiCtx, fd: types::Fd) -> Result<(), Error> {
    Ok(cx.fds.close(u32::from(fd))?)
}

pub(super) fn fd_datasync(cx: &WasiCtx, fd: types::Fd) -> Result<(), Error> {
    match cx.get(fd, R::FD_DATASYNC)? {
        Desc::Stdio(_) | Desc::Socket(_) => Err(Errno::Inval.into()),
        Desc::Dir(_) => Ok(()),
        Desc::File(f) => Ok(f.file.sync_data()?),
    }
}

pub(super) fn fd_fdstat_get(cx: &WasiCtx, fd: types::Fd) -> Result<types::Fdstat, Error> {
    let entry = cx.entry(fd)?;
    let (fs_filetype, fs_flags) = match &entry.desc {
        Desc::Stdio(n) => (stdio_filetype(cx, *n), types::Fdflags::empty()),
        Desc::File(f) => (types::Filetype::RegularFile, file_flags(f)),
        Desc::Socket(socket) => (
            types::Filetype::SocketStream,
            if socket.is_nonblocking() {
                types::Fdflags::NONBLOCK
            } else {
                types::Fdflags::empty()
            },
        ),
        Desc::Dir(_) => (types::Filetype::Directory, types::Fdflags::empty()),
    };
    Ok(types::Fdstat {
        fs_filetype,
        fs_flags,
        fs_rights_base: entry.base,
        fs_rights_inheriting: entry.inheriting,
    })
}

pub(super) fn fd_fdstat_set_flags(
    cx: &WasiCtx,
    fd: types::Fd,
    flags: types::Fdflags,
) -> Result<(), Error> {
    use types::Fdflags as F;
    let synced = F::SYNC | F::DSYNC | F::RSYNC;
    match cx.get(fd, R::FD_FDSTAT_SET_FLAGS)? {
        // Append and non-blocking switch; the synchronised-I/O flags stay
        // as the file was opened (`notsup` to change them).
        Desc::File(f) => {
            if flags & synced != file_flags(&f) & synced {
                return Err(Errno::Notsup.into());
            }
            if flags.contains(F::APPEND) != f.is_append() {
                f.set_append(flags.contains(F::APPEND))?;
            }
            f.set_nonblocking(flags.contains(F::NONBLOCK));
            Ok(())
        }
        Desc::Socket(socket) if (flags - F::NONBLOCK).is_empty() => {
            socket.set_nonblocking(flags.contains(F::NONBLOCK));
            Ok(())
        }
        Desc::Socket(_) => Err(Errno::Inval.into()),
        _ => Err(Errno::Notsup.into()),
    }
}

/// Rights can only be dropped: asking for one the descriptor lacks is
/// `notcapable`.
pub(super) fn fd_fdstat_set_rights(
    cx: &WasiCtx,
    fd: types::Fd,
    base: types::Rights,
    inheriting: types::Rights,
) -> Result<(), Error> {
    cx.fds.update(u32::from(fd), |entry| {
        if !entry.base.contains(base) || !entry.inheriting.contains(inheriting) {
            return Err(Error::from(Errno::Notcapable));
        }
        entry.base = base;
        entry.inheriting = inheriting;
        Ok(())
    })?
}

pub(super) fn fd_filestat_get(cx: &WasiCtx, fd: types::Fd) -> Result<types::Filestat, Error> {
    match cx.get(fd, R::FD_FILESTAT_GET)? {
        Desc::Stdio(n) => Ok(types::Filestat {
            dev: 0,
            ino: 0,
            filetype: stdio_filetype(cx, n),
            nlink: 0,
            size: 0,
            atim: 0,
            mtim: 0,
            ctim: 0,
        }),
        Desc::File(f) => stat::std_filestat(&f.file).map_err(Error::from),
        Desc::Socket(socket) => {
            let stat = socket.stat().map_err(Error::from)?;
            Ok(types::Filestat {
                dev: stat.st_dev,
                ino: stat.st_ino,
                filetype: types::Filetype::SocketStream,
                nlink: stat.st_nlink,
                size: 0,
                atim: 0,
                mtim: 0,
                ctim: 0,
            })
        }
        Desc::Dir(d) => Ok(stat::filestat(&d.dir.dir_metadata().map_err(Error::from)?)),
    }
}

pub(super) fn fd_filestat_set_size(
    cx: &WasiCtx,
    fd: types::Fd,
    size: types::Filesize,
) -> Result<(), Error> {
    Ok(cx.file(fd, R::FD_FILESTAT_SET_SIZE)?.file.set_len(size)?)
}

pub(super) fn fd_filestat_set_times(
    cx: &WasiCtx,
    fd: types::Fd,
    atim: types::Timestamp,
    mtim: types::Timestamp,
    flags: types::Fstflags,
) -> Result<(), Error> {
    let atime = stat::time_spec(
        atim,
        flags,
        types::Fstflags::ATIM,
        types::Fstflags::ATIM_NOW,
    )?;
    let mtime = stat::time_spec(
        mtim,
        flags,
        types::Fstflags::MTIM,
        types::Fstflags::MTIM_NOW,
    )?;
    match cx.get(fd, R::FD_FILESTAT_SET_TIMES)? {
        Desc::Stdio(_) | Desc::Socket(_) => Err(Errno::Notsup.into()),
        Desc::Dir(d) => {
            fs::set_times(&d.dir, Path::new("."), atime, mtime, true).map_err(Error::from)
        }
        Desc::File(f) => {
            let mut times = std::fs::FileTimes::new();
            if let Some(t) = atime {
                times = times.set_accessed(stat::spec_time(t));
            }
            if let Some(t) = mtime {
                times = times.set_modified(stat::spec_time(t));
            }
            f.file.set_times(times).map_err(Error::from)
        }
    }
}

pub(super) fn fd_pread(
    cx: &WasiCtx,
    mem: &mut GuestMemory<'_>,
    fd: types::Fd,
    iovs: types::IovecArray,
    offset: types::Filesize,
) -> Result<types::Size, Error> {
    let file = cx.file(fd, R::FD_READ | R::FD_SEEK)?;
    let (iovs, mut data) = read_buffer(mem, iovs, MAX_IO)?;
    let n = read_full_at(&file.file, &mut data, offset)?;
    scatter(mem, &iovs, &data[..n])
}

pub(super) fn fd_prestat_get(cx: &WasiCtx, fd: types::Fd) -> Result<types::Prestat, Error> {
    match cx.entry(fd)?.desc {
        Desc::Dir(d) => match &d.preopen {
            Some(name) => Ok(types::Prestat::Dir(types::PrestatDir {
                pr_name_len: name.len() as u32,
            })),
            None => Err(Errno::Badf.into()),
        },
        _ => Err(Errno::Badf.into()),
    }
}

pub(super) fn fd_prestat_dir_name(
    cx: &WasiCtx,
    mem: &mut GuestMemory<'_>,
    fd: types::Fd,
    path: GuestPtr<u8>,
    len: types::Size,
) -> Result<(), Error> {
    let name = match cx.entry(fd)?.desc {
        Desc::Dir(d) => d.preopen.clone().ok_or(Errno::Badf)?,
        _ => return Err(Errno::Badf.into()),
    };
    if name.len() > len as usize {
        return Err(Errno::Nametoolong.into());
    }
    mem.copy_from_slice(name.as_bytes(), path.as_array(name.len() as u32))?;
    Ok(())
}

pub(super) fn fd_pwrite(
    cx: &WasiCtx,
    mem: &mut GuestMemory<'_>,
    fd: types::Fd,
    ciovs: types::CiovecArray,
    offset: types::Filesize,
) -> Result<types::Size, Error> {
    let file = cx.file(fd, R::FD_WRITE | R::FD_SEEK)?;
    let bytes = gather(mem, ciovs)?;
    std::os::unix::fs::FileExt::write_all_at(&file.file, &bytes, offset)?;
    Ok(bytes.len() as u32)
}

pub(super) fn fd_read(
    cx: &WasiCtx,
    mem: &mut GuestMemory<'_>,
    fd: types::Fd,
    iovs: types::IovecArray,
) -> Result<types::Size, Error> {
    let entry = cx.entry(fd)?;
    if let Desc::Dir(_) = entry.desc {
        return Err(Errno::Isdir.into());
    }
    entry.require(R::FD_READ)?;
    let file = match entry.desc {
        Desc::Stdio(_) => return cx.stdin_read(mem, iovs),
        Desc::Socket(socket) => return cx.socket_read(mem, &socket, iovs, false, false),
        Desc::Dir(_) => unreachable!("answered above"),
        Desc::File(f) if f.stream => return cx.stream_read(mem, &f, iovs),
        Desc::File(f) => f,
    };
    let (iovs, mut data) = read_buffer(mem, iovs, MAX_IO)?;
    // The position is the descriptor's: reads through it from several
    // threads each get their own bytes.
    let n = {
        let mut position = file.position();
        let n = read_full_at(&file.file, &mut data, *position)?;
        *position += n as u64;
        n
    };
    scatter(mem, &iovs, &data[..n])
}

pub(super) fn fd_readdir(
    cx: &WasiCtx,
    mem: &mut GuestMemory<'_>,
    fd: types::Fd,
    buf: GuestPtr<u8>,
    len: types::Size,
    cookie: types::Dircookie,
) -> Result<types::Size, Error> {
    let dir = cx.dir(fd, R::FD_READDIR)?;
    super::iov::check_range(mem, buf.offset(), len)?;
    // The entries are laid out in `out` and copied to the guest a stretch
    // at a time, so what the host holds stays small whatever `len` is.
    const STRETCH: usize = 64 << 10;
    let len = len as usize;
    let (mut out, mut copied) = (Vec::new(), 0usize);
    let mut failed = None;
    dir.read_entries(cookie, |index, entry| {
        let full = dirent(&mut out, index, entry, len - copied);
        if out.len() >= STRETCH || full {
            failed = flush(mem, buf, &mut out, &mut copied).err();
        }
        !full && failed.is_none()
    })?;
    match failed {
        Some(e) => Err(e.into()),
        None => {
            flush(mem, buf, &mut out, &mut copied)?;
            Ok(copied as u32)
        }
    }
}

/// Copies the entries laid out in `out` to the guest's buffer `buf`, after
/// the `copied` bytes already there. Nothing to copy touches no pointer (a
/// full buffer may end at the top of memory, where `buf + copied` does
/// not exist).
fn flush(
    mem: &mut GuestMemory<'_>,
    buf: GuestPtr<u8>,
    out: &mut Vec<u8>,
    copied: &mut usize,
) -> Result<(), wiggle::GuestError> {
    if out.is_empty() {
        return Ok(());
    }
    let to = buf.add(*copied as u32)?.as_array(out.len() as u32);
    mem.copy_from_slice(out, to)?;
    *copied += out.len();
    out.clear();
    Ok(())
}

pub(super) fn fd_renumber(cx: &WasiCtx, fd: types::Fd, to: types::Fd) -> Result<(), Error> {
    Ok(cx.fds.renumber(u32::from(fd), u32::from(to))?)
}

pub(super) fn fd_seek(
    cx: &WasiCtx,
    fd: types::Fd,
    offset: types::Filedelta,
    whence: types::Whence,
) -> Result<types::Filesize, Error> {
    // Asking where the position is needs only `fd_tell`.
    let need = if offset == 0 && whence == types::Whence::Cur {
        R::FD_TELL
    } else {
        R::FD_SEEK
    };
    let file = cx.file(fd, need)?;
    let mut position = file.position();
    let base = match whence {
        types::Whence::Set => 0,
        types::Whence::Cur => *position as i128,
        types::Whence::End => file.file.metadata()?.len() as i128,
    };
    let target = base + offset as i128;
    if target < 0 || target > i64::MAX as i128 {
        return Err(Errno::Inval.into());
    }
    *position = target as u64;
    Ok(*position)
}

pub(super) fn fd_sync(cx: &WasiCtx, fd: types::Fd) -> Result<(), Error> {
    match cx.get(fd, R::FD_SYNC)? {
        Desc::Stdio(_) | Desc::Socket(_) => Err(Errno::Inval.into()),
        Desc::Dir(_) => Ok(()),
        Desc::File(f) => f.file.sync_all().map_err(Error::from),
    }
}

pub(super) fn fd_tell(cx: &WasiCtx, fd: types::Fd) -> Result<types::Filesize, Error> {
    Ok(*cx.file(fd, R::FD_TELL)?.position())
}

pub(super) fn fd_write(
    cx: &WasiCtx,
    mem: &mut GuestMemory<'_>,
    fd: types::Fd,
    ciovs: types::CiovecArray,
) -> Result<types::Size, Error> {
    let entry = cx.entry(fd)?;
    if let Desc::Dir(_) = entry.desc {
        return Err(Errno::Isdir.into());
    }
    entry.require(R::FD_WRITE)?;
    let file = match entry.desc {
        Desc::Stdio(n) => return cx.stdio_write(mem, n, ciovs),
        Desc::Socket(socket) => return cx.socket_write(mem, &socket, ciovs),
        Desc::Dir(_) => unreachable!("answered above"),
        Desc::File(f) if f.stream => return cx.stream_write(mem, &f, ciovs),
        Desc::File(f) => f,
    };
    let bytes = gather(mem, ciovs)?;
    let mut position = file.position();
    if file.is_append() {
        // O_APPEND: the system appends atomically, whoever else writes.
        (&file.file).write_all(&bytes)?;
        *position = file.file.metadata()?.len();
    } else {
        std::os::unix::fs::FileExt::write_all_at(&file.file, &bytes, *position)?;
        *position += bytes.len() as u64;
    }
    Ok(bytes.len() as u32)
}

/// Appends the entry at `index` in preview 1's `fd_readdir` layout
/// (`dirent`, whose `d_next` cookie is the index plus one, then the name)
/// to `out`, at most `room` bytes in all; whether `out` is then full (a
/// truncated last entry tells the caller to retry with a bigger buffer).
fn dirent(out: &mut Vec<u8>, index: u64, entry: &fs::DirEntry, room: usize) -> bool {
    let file_type = entry
        .file_type
        .map(stat::filetype)
        .unwrap_or(types::Filetype::Unknown);
    out.extend_from_slice(&(index + 1).to_le_bytes());
    out.extend_from_slice(&entry.ino.to_le_bytes());
    out.extend_from_slice(&(entry.name.len() as u32).to_le_bytes());
    out.push(file_type as u8);
    out.extend_from_slice(&[0; 3]);
    out.extend_from_slice(&entry.name);
    if out.len() >= room {
        out.truncate(room);
        true
    } else {
        false
    }
}

/// What stdio descriptor `n` is: a character device only for a terminal,
/// a regular file for a file, unknown for a pipe, a socket, or the
/// embedder's reader, writer or memory (as wasmtime 46 reports them).
fn stdio_filetype(cx: &WasiCtx, n: u32) -> types::Filetype {
    let kind = match n {
        0 => cx.stdin.kind(),
        1 => stdio::kind_of(cx.stdout.fd()),
        _ => stdio::kind_of(cx.stderr.fd()),
    };
    match kind {
        StreamKind::Terminal => types::Filetype::CharacterDevice,
        StreamKind::File => types::Filetype::RegularFile,
        StreamKind::Other => types::Filetype::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::Run;

    /// A fresh scratch directory holding `n` empty files named by
    /// `name(i)`.
    fn scratch(tag: &str, n: usize, name: impl Fn(usize) -> String) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("wasi-threads-readdir-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for i in 0..n {
            std::fs::write(dir.join(name(i)), b"").unwrap();
        }
        dir
    }

    fn context(dir: &std::path::Path) -> (Run, WasiCtx) {
        let mut config = wasmtime::Config::new();
        crate::configure(&mut config);
        let engine = wasmtime::Engine::new(&config).unwrap();
        let run = Run::new(&engine).unwrap();
        let cx = WasiCtx::builder()
            .preopen_dir(dir, "/d")
            .build(&run)
            .unwrap();
        (run, cx)
    }

    fn open_dir(cx: &WasiCtx) -> std::sync::Arc<fs::OpenDir> {
        let Desc::Dir(d) = cx.entry(types::Fd::from(3)).unwrap().desc else {
            unreachable!()
        };
        d
    }

    /// Reads the directory of fd 3 with `fd_readdir` from `cookie` to its
    /// end through a `len`-byte buffer, following the cookies, as
    /// wasi-libc's `readdir` does; the (cookie, name) of every entry, and
    /// how many calls it took. `check` runs after every call.
    fn read_dir(
        cx: &WasiCtx,
        mut cookie: u64,
        len: u32,
        mut check: impl FnMut(),
    ) -> (Vec<(u64, String)>, usize) {
        let mut bytes = vec![0u8; 4096];
        let mut mem = GuestMemory::Unshared(&mut bytes);
        let (mut entries, mut calls) = (Vec::new(), 0);
        loop {
            calls += 1;
            let n = fd_readdir(
                cx,
                &mut mem,
                types::Fd::from(3),
                GuestPtr::new(0),
                len,
                cookie,
            )
            .unwrap();
            check();
            let GuestMemory::Unshared(buf) = &mem else {
                unreachable!()
            };
            let mut at = 0;
            let mut whole = false;
            while at + 24 <= n as usize {
                let next = u64::from_le_bytes(buf[at..at + 8].try_into().unwrap());
                let len = u32::from_le_bytes(buf[at + 16..at + 20].try_into().unwrap()) as usize;
                if at + 24 + len > n as usize {
                    break;
                }
                let name = String::from_utf8(buf[at + 24..at + 24 + len].to_vec()).unwrap();
                entries.push((next, name));
                cookie = next;
                at += 24 + len;
                whole = true;
            }
            if n < len {
                break;
            }
            assert!(whole, "a {len}-byte buffer holds at least one entry");
        }
        (entries, calls)
    }

    /// `fd_pread` and `fd_pwrite` never wait for the descriptor's position,
    /// which `fd_read`, `fd_write` and `fd_seek` hold while they use it: a
    /// thread holding it (here the test, as a read from a slow file system
    /// would) keeps neither from answering.
    #[test]
    fn positioned_reads_and_writes_do_not_wait_for_the_position() {
        let dir = scratch("positioned", 0, |_| unreachable!());
        std::fs::write(dir.join("f"), b"0123456789").unwrap();
        let (_run, cx) = context(&dir);
        let mut bytes = vec![0u8; 256];
        bytes[0] = b'f';
        // One iovec at 16: 4 bytes at 64.
        bytes[16..20].copy_from_slice(&64u32.to_le_bytes());
        bytes[20..24].copy_from_slice(&4u32.to_le_bytes());
        bytes[64..68].copy_from_slice(b"WXYZ");
        let fd = super::super::path::path_open(
            &cx,
            &mut GuestMemory::Unshared(&mut bytes),
            types::Fd::from(3),
            types::Lookupflags::empty(),
            GuestPtr::new((0, 1)),
            types::Oflags::empty(),
            (R::all(), R::all()),
            types::Fdflags::empty(),
        )
        .unwrap();
        let file = cx.file(fd, R::empty()).unwrap();
        let held = file.position();
        let (done, answers) = std::sync::mpsc::channel();
        let other = cx.clone();
        std::thread::spawn(move || {
            let mut mem = bytes.clone();
            let wrote = fd_pwrite(
                &other,
                &mut GuestMemory::Unshared(&mut mem),
                fd,
                GuestPtr::new((16, 1)),
                6,
            )
            .unwrap();
            mem[64..68].fill(0);
            let read = fd_pread(
                &other,
                &mut GuestMemory::Unshared(&mut mem),
                fd,
                GuestPtr::new((16, 1)),
                4,
            )
            .unwrap();
            let _ = done.send((wrote, read, mem[64..68].to_vec()));
        });
        let answered = answers.recv_timeout(std::time::Duration::from_secs(10));
        drop(held);
        let (wrote, read, got) = answered.expect("a positioned call waited for the position");
        assert_eq!((wrote, read), (4, 4));
        assert_eq!(got, b"45WX");
        assert_eq!(std::fs::read(dir.join("f")).unwrap(), b"012345WXYZ");
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Reads a directory of 300 entries with `fd_readdir` through a small
    /// buffer, following the cookies: one scan of the directory.
    #[test]
    fn a_directory_read_in_many_calls_is_listed_once_and_wholly() {
        let dir = scratch("small", 300, |i| format!("entry-{i:03}"));
        let (_run, cx) = context(&dir);
        let (entries, calls) = read_dir(&cx, 0, 256, || {});
        assert!(calls > 30, "{calls}");
        assert_eq!(entries.len(), 302, "., .. and the 300 entries");
        let d = open_dir(&cx);
        assert_eq!(d.listings.load(std::sync::atomic::Ordering::Relaxed), 1);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A directory of several pages (3000 names of 200 bytes), read in
    /// small calls: every name once, in order, with cookies that stay
    /// valid for a rewind to the start or to the middle; the open
    /// directory never keeps more than a page.
    #[test]
    fn a_directory_of_many_pages_is_listed_whole_in_order_within_the_bound() {
        let long = |i: usize| format!("{i:05}{}", "n".repeat(195));
        let dir = scratch("pages", 3000, long);
        let (_run, cx) = context(&dir);
        let d = open_dir(&cx);
        let mut largest = 0;
        let (entries, calls) = read_dir(&cx, 0, 1024, || largest = largest.max(d.page_bytes()));
        let scans = d.listings.load(std::sync::atomic::Ordering::Relaxed);

        let mut expected: Vec<String> = vec![".".into(), "..".into()];
        expected.extend((0..3000).map(long));
        let names: Vec<&String> = entries.iter().map(|(_, n)| n).collect();
        assert_eq!(names, expected.iter().collect::<Vec<_>>());
        let cookies: Vec<u64> = entries.iter().map(|&(c, _)| c).collect();
        assert_eq!(cookies, (1..=3002).collect::<Vec<u64>>());
        // One scan per page, not per call.
        let pages = 3000 * (200 + 2 * std::mem::size_of::<fs::DirEntry>()) / fs::DIR_PAGE_BYTES + 1;
        assert!(calls > 500, "{calls}");
        assert!(
            scans >= 2 && scans <= pages + 1,
            "{scans} scans, {pages} pages"
        );
        assert!(largest > fs::DIR_PAGE_BYTES / 2, "{largest}");
        assert!(largest <= fs::DIR_PAGE_BYTES, "{largest}");

        // Back to the start, and to the middle (a rescan from the start).
        let (again, _) = read_dir(&cx, 0, 4096, || {});
        assert_eq!(again, entries);
        let (middle, _) = read_dir(&cx, 1700, 700, || largest = largest.max(d.page_bytes()));
        assert_eq!(middle, entries[1700..]);
        assert!(largest <= fs::DIR_PAGE_BYTES, "{largest}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
