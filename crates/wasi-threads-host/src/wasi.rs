//! WASI preview 1, shared by every thread of a run.
//!
//! The glue comes from wiggle, generated from `witx/preview1/`. One
//! [`Wasi`] context serves all threads: arguments, environment, clocks,
//! random, stdio and `poll_oneoff`. No lock is held while a call blocks:
//! stdin is read by a host thread into a buffer, and every wait (for stdin,
//! for a `poll_oneoff` clock) also wakes when the run ends, so a thread
//! blocked in the host stops as promptly as one running wasm.
//!
//! Files and directories live in one descriptor table for the whole run
//! (see `fs`): preopens from `Runner::preopen_dir`, sandboxed with cap-std.
//! Sockets cannot be preopened: `sock_*` answer `notsock` (`badf` for a
//! descriptor that is not open).

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use wiggle::{GuestMemory, GuestPtr};

use std::path::Path;

use cap_fs_ext::DirExt;

use crate::fs::{self, Desc};
use crate::outcome::Outcome;
use crate::runner::ThreadCtx;

/// The glue wiggle generates; preview 1 has functions of up to 9 core
/// parameters.
#[allow(clippy::too_many_arguments)]
mod preview1 {
    wiggle::from_witx!({
        witx: ["../../witx/preview1/wasi_snapshot_preview1.witx"],
        errors: { errno => trappable Error },
    });
}

pub(crate) use preview1::{types, wasi_snapshot_preview1};
use types::{Errno, Error};

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

/// A reader of the program's standard input.
pub type Input = Box<dyn Read + Send>;
/// A writer of the program's standard output or error.
pub type Output = Box<dyn Write + Send>;

/// What a thread blocked in the host waits for.
struct Waits {
    stdin: VecDeque<u8>,
    stdin_eof: bool,
    ending: bool,
}

/// The process-wide preview-1 context of one run.
pub(crate) struct Wasi {
    args: Vec<String>,
    env: Vec<String>,
    start: Instant,
    stdin: Mutex<Option<Input>>,
    stdout: Arc<Mutex<Output>>,
    stderr: Arc<Mutex<Output>>,
    waits: Mutex<Waits>,
    changed: Condvar,
    /// The descriptor table of the run.
    pub(crate) fds: fs::Table,
}

impl Wasi {
    pub(crate) fn new(
        args: Vec<String>,
        env: Vec<String>,
        stdin: Option<Input>,
        stdout: Arc<Mutex<Output>>,
        stderr: Arc<Mutex<Output>>,
        fds: fs::Table,
    ) -> Arc<Wasi> {
        Arc::new(Wasi {
            args,
            env,
            start: Instant::now(),
            stdin: Mutex::new(stdin),
            stdout,
            stderr,
            waits: Mutex::new(Waits {
                stdin: VecDeque::new(),
                stdin_eof: false,
                ending: false,
            }),
            changed: Condvar::new(),
            fds,
        })
    }

    /// Wakes every thread blocked in the host: the run is ending.
    pub(crate) fn interrupt(&self) {
        self.waits.lock().unwrap().ending = true;
        self.changed.notify_all();
    }

    /// Starts the thread that reads stdin, once.
    fn pump_stdin(self: &Arc<Self>) {
        let Some(mut input) = self.stdin.lock().unwrap().take() else {
            return;
        };
        let wasi = self.clone();
        let started = std::thread::Builder::new()
            .name("wasi-stdin".to_string())
            .spawn(move || {
                let mut buf = vec![0; 64 * 1024];
                loop {
                    let n = input.read(&mut buf).unwrap_or(0);
                    let mut w = wasi.waits.lock().unwrap();
                    if n == 0 {
                        w.stdin_eof = true;
                    } else {
                        w.stdin.extend(&buf[..n]);
                    }
                    wasi.changed.notify_all();
                    if n == 0 || w.ending {
                        return;
                    }
                }
            });
        if started.is_err() {
            self.waits.lock().unwrap().stdin_eof = true;
        }
    }

    fn monotonic(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }
}

fn ending() -> Error {
    Error::trap(wasmtime::Error::msg("the program is ending"))
}

fn realtime() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// The most bytes one read moves.
const MAX_IO: usize = 16 << 20;

fn io_error(e: std::io::Error) -> Error {
    fs::errno(&e).into()
}

fn writable(dir: &fs::OpenDir) -> Result<(), Error> {
    if dir.writable {
        Ok(())
    } else {
        Err(Errno::Perm.into())
    }
}

fn spec_time(t: fs::SystemTimeSpec) -> SystemTime {
    match t {
        fs::SystemTimeSpec::Absolute(t) => t.into_std(),
        fs::SystemTimeSpec::SymbolicNow => SystemTime::now(),
    }
}

/// A path argument, copied out of (possibly shared) memory.
fn read_path(mem: &GuestMemory<'_>, path: GuestPtr<str>) -> Result<String, Error> {
    let bytes = mem.to_vec(path.as_bytes())?;
    String::from_utf8(bytes).map_err(|_| Errno::Ilseq.into())
}

/// The iovecs, read once: in a shared memory another thread may change
/// them during the call.
fn read_iovecs(mem: &GuestMemory<'_>, iovs: types::IovecArray) -> Result<Vec<types::Iovec>, Error> {
    Ok(iovs
        .iter()
        .map(|iov| mem.read(iov?))
        .collect::<Result<_, wiggle::GuestError>>()?)
}

/// Copies `data` into the iovecs in order; returns how much was copied.
fn scatter(
    mem: &mut GuestMemory<'_>,
    iovs: &[types::Iovec],
    data: &[u8],
) -> Result<types::Size, Error> {
    let mut written = 0;
    for iov in iovs {
        // An empty iovec takes nothing; later ones still get the rest.
        let n = (iov.buf_len as usize).min(data.len() - written);
        if n > 0 {
            mem.copy_from_slice(&data[written..written + n], iov.buf.as_array(n as u32))?;
            written += n;
        }
    }
    Ok(written as u32)
}

/// The bytes of the ciovecs, in order.
fn gather(mem: &GuestMemory<'_>, ciovs: types::CiovecArray) -> Result<Vec<u8>, Error> {
    let mut bytes = Vec::new();
    for ciov in ciovs.iter() {
        let ciov: types::Ciovec = mem.read(ciov?)?;
        bytes.extend_from_slice(&mem.as_cow(ciov.buf.as_array(ciov.buf_len))?);
    }
    Ok(bytes)
}

/// Reads at `offset` until `buf` is full or the file ends.
fn read_full_at(file: &std::fs::File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
    use std::os::unix::fs::FileExt;
    let mut done = 0;
    while done < buf.len() {
        match file.read_at(&mut buf[done..], offset + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

impl wasi_snapshot_preview1::WasiSnapshotPreview1 for ThreadCtx {
    fn args_get(
        &mut self,
        mem: &mut GuestMemory<'_>,
        argv: GuestPtr<GuestPtr<u8>>,
        argv_buf: GuestPtr<u8>,
    ) -> Result<(), Error> {
        write_strings(mem, &self.wasi().args, argv, argv_buf)
    }

    fn args_sizes_get(
        &mut self,
        _: &mut GuestMemory<'_>,
    ) -> Result<(types::Size, types::Size), Error> {
        sizes(&self.wasi().args)
    }

    fn environ_get(
        &mut self,
        mem: &mut GuestMemory<'_>,
        environ: GuestPtr<GuestPtr<u8>>,
        environ_buf: GuestPtr<u8>,
    ) -> Result<(), Error> {
        write_strings(mem, &self.wasi().env, environ, environ_buf)
    }

    fn environ_sizes_get(
        &mut self,
        _: &mut GuestMemory<'_>,
    ) -> Result<(types::Size, types::Size), Error> {
        sizes(&self.wasi().env)
    }

    fn clock_res_get(
        &mut self,
        _: &mut GuestMemory<'_>,
        id: types::Clockid,
    ) -> Result<types::Timestamp, Error> {
        match id {
            types::Clockid::Realtime | types::Clockid::Monotonic => Ok(1),
            _ => Err(Errno::Badf.into()),
        }
    }

    fn clock_time_get(
        &mut self,
        _: &mut GuestMemory<'_>,
        id: types::Clockid,
        _precision: types::Timestamp,
    ) -> Result<types::Timestamp, Error> {
        match id {
            types::Clockid::Realtime => Ok(realtime()),
            types::Clockid::Monotonic => Ok(self.wasi().monotonic()),
            _ => Err(Errno::Badf.into()),
        }
    }

    fn fd_advise(
        &mut self,
        _: &mut GuestMemory<'_>,
        fd: types::Fd,
        _: types::Filesize,
        _: types::Filesize,
        _: types::Advice,
    ) -> Result<(), Error> {
        match self.fds().get(fd)? {
            Desc::Stdio(_) => Err(Errno::Spipe.into()),
            Desc::Dir(_) => Err(Errno::Isdir.into()),
            // Advice is only advice.
            Desc::File(_) => Ok(()),
        }
    }

    fn fd_allocate(
        &mut self,
        _: &mut GuestMemory<'_>,
        fd: types::Fd,
        offset: types::Filesize,
        len: types::Filesize,
    ) -> Result<(), Error> {
        let file = match self.fds().get(fd)? {
            Desc::Stdio(_) => return Err(Errno::Spipe.into()),
            Desc::Dir(_) => return Err(Errno::Isdir.into()),
            Desc::File(f) => f,
        };
        if !file.write {
            return Err(Errno::Badf.into());
        }
        let end = offset.checked_add(len).ok_or(Errno::Fbig)?;
        let size = file.file.metadata().map_err(io_error)?.len();
        if end > size {
            file.file.set_len(end).map_err(io_error)?;
        }
        Ok(())
    }

    fn fd_close(&mut self, _: &mut GuestMemory<'_>, fd: types::Fd) -> Result<(), Error> {
        Ok(self.fds().close(fd)?)
    }

    fn fd_datasync(&mut self, _: &mut GuestMemory<'_>, fd: types::Fd) -> Result<(), Error> {
        match self.fds().get(fd)? {
            Desc::Stdio(_) => Err(Errno::Inval.into()),
            Desc::Dir(_) => Ok(()),
            Desc::File(f) => f.file.sync_data().map_err(io_error),
        }
    }

    fn fd_fdstat_get(
        &mut self,
        _: &mut GuestMemory<'_>,
        fd: types::Fd,
    ) -> Result<types::Fdstat, Error> {
        use types::Rights as R;
        let file_rights = R::FD_DATASYNC
            | R::FD_SEEK
            | R::FD_FDSTAT_SET_FLAGS
            | R::FD_SYNC
            | R::FD_TELL
            | R::FD_ADVISE
            | R::FD_FILESTAT_GET
            | R::POLL_FD_READWRITE;
        let dir_rights = R::PATH_CREATE_DIRECTORY
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
            | R::PATH_UNLINK_FILE;
        Ok(match self.fds().get(fd)? {
            Desc::Stdio(n) => types::Fdstat {
                fs_filetype: types::Filetype::CharacterDevice,
                fs_flags: types::Fdflags::empty(),
                fs_rights_base: if n == 0 {
                    R::FD_READ | R::POLL_FD_READWRITE
                } else {
                    R::FD_WRITE | R::POLL_FD_READWRITE
                },
                fs_rights_inheriting: R::empty(),
            },
            Desc::File(f) => {
                let mut rights = file_rights;
                if f.read {
                    rights |= R::FD_READ;
                }
                if f.write {
                    rights |= R::FD_WRITE
                        | R::FD_ALLOCATE
                        | R::FD_FILESTAT_SET_SIZE
                        | R::FD_FILESTAT_SET_TIMES;
                }
                types::Fdstat {
                    fs_filetype: types::Filetype::RegularFile,
                    fs_flags: if f.append {
                        types::Fdflags::APPEND
                    } else {
                        types::Fdflags::empty()
                    },
                    fs_rights_base: rights,
                    fs_rights_inheriting: R::empty(),
                }
            }
            Desc::Dir(_) => types::Fdstat {
                fs_filetype: types::Filetype::Directory,
                fs_flags: types::Fdflags::empty(),
                fs_rights_base: dir_rights,
                fs_rights_inheriting: dir_rights
                    | file_rights
                    | R::FD_READ
                    | R::FD_WRITE
                    | R::FD_ALLOCATE
                    | R::FD_FILESTAT_SET_SIZE,
            },
        })
    }

    fn fd_fdstat_set_flags(
        &mut self,
        _: &mut GuestMemory<'_>,
        fd: types::Fd,
        flags: types::Fdflags,
    ) -> Result<(), Error> {
        match self.fds().get(fd)? {
            Desc::File(f) if flags == types::Fdflags::empty() && !f.append => Ok(()),
            Desc::File(f) if flags == types::Fdflags::APPEND && f.append => Ok(()),
            _ => Err(Errno::Notsup.into()),
        }
    }

    fn fd_fdstat_set_rights(
        &mut self,
        _: &mut GuestMemory<'_>,
        fd: types::Fd,
        _: types::Rights,
        _: types::Rights,
    ) -> Result<(), Error> {
        // Rights are not enforced beyond read, write and read-only
        // preopens; dropping them is accepted and changes nothing.
        self.fds().get(fd)?;
        Ok(())
    }

    fn fd_filestat_get(
        &mut self,
        _: &mut GuestMemory<'_>,
        fd: types::Fd,
    ) -> Result<types::Filestat, Error> {
        match self.fds().get(fd)? {
            Desc::Stdio(_) => Ok(types::Filestat {
                dev: 0,
                ino: 0,
                filetype: types::Filetype::CharacterDevice,
                nlink: 0,
                size: 0,
                atim: 0,
                mtim: 0,
                ctim: 0,
            }),
            Desc::File(f) => fs::std_filestat(&f.file).map_err(io_error),
            Desc::Dir(d) => Ok(fs::filestat(&d.dir.dir_metadata().map_err(io_error)?)),
        }
    }

    fn fd_filestat_set_size(
        &mut self,
        _: &mut GuestMemory<'_>,
        fd: types::Fd,
        size: types::Filesize,
    ) -> Result<(), Error> {
        match self.fds().get(fd)? {
            Desc::Stdio(_) => Err(Errno::Inval.into()),
            Desc::Dir(_) => Err(Errno::Isdir.into()),
            Desc::File(f) if !f.write => Err(Errno::Badf.into()),
            Desc::File(f) => f.file.set_len(size).map_err(io_error),
        }
    }

    fn fd_filestat_set_times(
        &mut self,
        _: &mut GuestMemory<'_>,
        fd: types::Fd,
        atim: types::Timestamp,
        mtim: types::Timestamp,
        flags: types::Fstflags,
    ) -> Result<(), Error> {
        let atime = fs::time_spec(
            atim,
            flags,
            types::Fstflags::ATIM,
            types::Fstflags::ATIM_NOW,
        )?;
        let mtime = fs::time_spec(
            mtim,
            flags,
            types::Fstflags::MTIM,
            types::Fstflags::MTIM_NOW,
        )?;
        match self.fds().get(fd)? {
            Desc::Stdio(_) => Err(Errno::Notsup.into()),
            Desc::Dir(d) => {
                fs::set_dir_times(&d.dir, Path::new("."), atime, mtime, true).map_err(io_error)
            }
            Desc::File(f) => {
                let mut times = std::fs::FileTimes::new();
                if let Some(t) = atime {
                    times = times.set_accessed(spec_time(t));
                }
                if let Some(t) = mtime {
                    times = times.set_modified(spec_time(t));
                }
                f.file.set_times(times).map_err(io_error)
            }
        }
    }

    fn fd_pread(
        &mut self,
        mem: &mut GuestMemory<'_>,
        fd: types::Fd,
        iovs: types::IovecArray,
        offset: types::Filesize,
    ) -> Result<types::Size, Error> {
        let file = match self.fds().get(fd)? {
            Desc::Stdio(_) => return Err(Errno::Spipe.into()),
            Desc::Dir(_) => return Err(Errno::Isdir.into()),
            Desc::File(f) => f,
        };
        if !file.read {
            return Err(Errno::Badf.into());
        }
        let iovs = read_iovecs(mem, iovs)?;
        let total: usize = iovs.iter().map(|iov| iov.buf_len as usize).sum();
        let mut data = vec![0u8; total.min(MAX_IO)];
        let n = read_full_at(&file.file, &mut data, offset).map_err(io_error)?;
        scatter(mem, &iovs, &data[..n])
    }

    fn fd_prestat_get(
        &mut self,
        _: &mut GuestMemory<'_>,
        fd: types::Fd,
    ) -> Result<types::Prestat, Error> {
        match self.fds().get(fd)? {
            Desc::Dir(d) => match &d.preopen {
                Some(name) => Ok(types::Prestat::Dir(types::PrestatDir {
                    pr_name_len: name.len() as u32,
                })),
                None => Err(Errno::Badf.into()),
            },
            _ => Err(Errno::Badf.into()),
        }
    }

    fn fd_prestat_dir_name(
        &mut self,
        mem: &mut GuestMemory<'_>,
        fd: types::Fd,
        path: GuestPtr<u8>,
        len: types::Size,
    ) -> Result<(), Error> {
        let name = match self.fds().get(fd)? {
            Desc::Dir(d) => d.preopen.clone().ok_or(Errno::Badf)?,
            _ => return Err(Errno::Badf.into()),
        };
        if name.len() > len as usize {
            return Err(Errno::Nametoolong.into());
        }
        mem.copy_from_slice(name.as_bytes(), path.as_array(name.len() as u32))?;
        Ok(())
    }

    fn fd_pwrite(
        &mut self,
        mem: &mut GuestMemory<'_>,
        fd: types::Fd,
        ciovs: types::CiovecArray,
        offset: types::Filesize,
    ) -> Result<types::Size, Error> {
        let file = match self.fds().get(fd)? {
            Desc::Stdio(_) => return Err(Errno::Spipe.into()),
            Desc::Dir(_) => return Err(Errno::Isdir.into()),
            Desc::File(f) => f,
        };
        if !file.write {
            return Err(Errno::Badf.into());
        }
        let bytes = gather(mem, ciovs)?;
        std::os::unix::fs::FileExt::write_all_at(&file.file, &bytes, offset).map_err(io_error)?;
        Ok(bytes.len() as u32)
    }

    fn fd_read(
        &mut self,
        mem: &mut GuestMemory<'_>,
        fd: types::Fd,
        iovs: types::IovecArray,
    ) -> Result<types::Size, Error> {
        let file = match self.fds().get(fd)? {
            Desc::Stdio(0) => return self.stdin_read(mem, iovs),
            Desc::Stdio(_) => return Err(Errno::Badf.into()),
            Desc::Dir(_) => return Err(Errno::Isdir.into()),
            Desc::File(f) => f,
        };
        if !file.read {
            return Err(Errno::Badf.into());
        }
        let iovs = read_iovecs(mem, iovs)?;
        let total: usize = iovs.iter().map(|iov| iov.buf_len as usize).sum();
        let mut data = vec![0u8; total.min(MAX_IO)];
        // The position is the descriptor's: reads through it from several
        // threads each get their own bytes.
        let n = {
            let mut position = file.position.lock().unwrap();
            let n = read_full_at(&file.file, &mut data, *position).map_err(io_error)?;
            *position += n as u64;
            n
        };
        scatter(mem, &iovs, &data[..n])
    }

    fn fd_readdir(
        &mut self,
        mem: &mut GuestMemory<'_>,
        fd: types::Fd,
        buf: GuestPtr<u8>,
        len: types::Size,
        cookie: types::Dircookie,
    ) -> Result<types::Size, Error> {
        let dir = match self.fds().get(fd)? {
            Desc::Dir(d) => d,
            _ => return Err(Errno::Notdir.into()),
        };
        let bytes = fs::readdir(&dir, cookie, len as usize)?;
        mem.copy_from_slice(&bytes, buf.as_array(bytes.len() as u32))?;
        Ok(bytes.len() as u32)
    }

    fn fd_renumber(
        &mut self,
        _: &mut GuestMemory<'_>,
        fd: types::Fd,
        to: types::Fd,
    ) -> Result<(), Error> {
        Ok(self.fds().renumber(fd, to)?)
    }

    fn fd_seek(
        &mut self,
        _: &mut GuestMemory<'_>,
        fd: types::Fd,
        offset: types::Filedelta,
        whence: types::Whence,
    ) -> Result<types::Filesize, Error> {
        let file = match self.fds().get(fd)? {
            Desc::Stdio(_) => return Err(Errno::Spipe.into()),
            Desc::Dir(_) => return Err(Errno::Isdir.into()),
            Desc::File(f) => f,
        };
        let mut position = file.position.lock().unwrap();
        let base = match whence {
            types::Whence::Set => 0,
            types::Whence::Cur => *position as i128,
            types::Whence::End => file.file.metadata().map_err(io_error)?.len() as i128,
        };
        let target = base + offset as i128;
        if target < 0 || target > i64::MAX as i128 {
            return Err(Errno::Inval.into());
        }
        *position = target as u64;
        Ok(*position)
    }

    fn fd_sync(&mut self, _: &mut GuestMemory<'_>, fd: types::Fd) -> Result<(), Error> {
        match self.fds().get(fd)? {
            Desc::Stdio(_) => Err(Errno::Inval.into()),
            Desc::Dir(_) => Ok(()),
            Desc::File(f) => f.file.sync_all().map_err(io_error),
        }
    }

    fn fd_tell(
        &mut self,
        _: &mut GuestMemory<'_>,
        fd: types::Fd,
    ) -> Result<types::Filesize, Error> {
        match self.fds().get(fd)? {
            Desc::Stdio(_) => Err(Errno::Spipe.into()),
            Desc::Dir(_) => Err(Errno::Isdir.into()),
            Desc::File(f) => Ok(*f.position.lock().unwrap()),
        }
    }

    fn fd_write(
        &mut self,
        mem: &mut GuestMemory<'_>,
        fd: types::Fd,
        ciovs: types::CiovecArray,
    ) -> Result<types::Size, Error> {
        let file = match self.fds().get(fd)? {
            Desc::Stdio(0) => return Err(Errno::Badf.into()),
            Desc::Stdio(n) => return self.stdio_write(mem, n, ciovs),
            Desc::Dir(_) => return Err(Errno::Isdir.into()),
            Desc::File(f) => f,
        };
        if !file.write {
            return Err(Errno::Badf.into());
        }
        let bytes = gather(mem, ciovs)?;
        let mut position = file.position.lock().unwrap();
        if file.append {
            // O_APPEND: the system appends atomically, whoever else writes.
            (&file.file).write_all(&bytes).map_err(io_error)?;
            *position = file.file.metadata().map_err(io_error)?.len();
        } else {
            std::os::unix::fs::FileExt::write_all_at(&file.file, &bytes, *position)
                .map_err(io_error)?;
            *position += bytes.len() as u64;
        }
        Ok(bytes.len() as u32)
    }

    fn path_create_directory(
        &mut self,
        mem: &mut GuestMemory<'_>,
        fd: types::Fd,
        path: GuestPtr<str>,
    ) -> Result<(), Error> {
        let dir = self.fds().dir(fd)?;
        let path = read_path(mem, path)?;
        writable(&dir)?;
        dir.dir.create_dir(fs::guest_path(&path)?).map_err(io_error)
    }

    fn path_filestat_get(
        &mut self,
        mem: &mut GuestMemory<'_>,
        fd: types::Fd,
        flags: types::Lookupflags,
        path: GuestPtr<str>,
    ) -> Result<types::Filestat, Error> {
        let dir = self.fds().dir(fd)?;
        let path = read_path(mem, path)?;
        let path = fs::guest_path(&path)?;
        let meta = if flags.contains(types::Lookupflags::SYMLINK_FOLLOW) {
            dir.dir.metadata(path)
        } else {
            dir.dir.symlink_metadata(path)
        }
        .map_err(io_error)?;
        Ok(fs::filestat(&meta))
    }

    fn path_filestat_set_times(
        &mut self,
        mem: &mut GuestMemory<'_>,
        fd: types::Fd,
        flags: types::Lookupflags,
        path: GuestPtr<str>,
        atim: types::Timestamp,
        mtim: types::Timestamp,
        fst: types::Fstflags,
    ) -> Result<(), Error> {
        let dir = self.fds().dir(fd)?;
        let path = read_path(mem, path)?;
        writable(&dir)?;
        let atime = fs::time_spec(atim, fst, types::Fstflags::ATIM, types::Fstflags::ATIM_NOW)?;
        let mtime = fs::time_spec(mtim, fst, types::Fstflags::MTIM, types::Fstflags::MTIM_NOW)?;
        let follow = flags.contains(types::Lookupflags::SYMLINK_FOLLOW);
        fs::set_dir_times(&dir.dir, fs::guest_path(&path)?, atime, mtime, follow).map_err(io_error)
    }

    fn path_link(
        &mut self,
        mem: &mut GuestMemory<'_>,
        old_fd: types::Fd,
        _: types::Lookupflags,
        old_path: GuestPtr<str>,
        new_fd: types::Fd,
        new_path: GuestPtr<str>,
    ) -> Result<(), Error> {
        let old_dir = self.fds().dir(old_fd)?;
        let new_dir = self.fds().dir(new_fd)?;
        let old_path = read_path(mem, old_path)?;
        let new_path = read_path(mem, new_path)?;
        writable(&new_dir)?;
        old_dir
            .dir
            .hard_link(
                fs::guest_path(&old_path)?,
                &new_dir.dir,
                fs::guest_path(&new_path)?,
            )
            .map_err(io_error)
    }

    fn path_open(
        &mut self,
        mem: &mut GuestMemory<'_>,
        fd: types::Fd,
        dirflags: types::Lookupflags,
        path: GuestPtr<str>,
        oflags: types::Oflags,
        rights: types::Rights,
        _: types::Rights,
        fdflags: types::Fdflags,
    ) -> Result<types::Fd, Error> {
        let dir = self.fds().dir(fd)?;
        let path = read_path(mem, path)?;
        let request = fs::OpenRequest {
            follow: dirflags.contains(types::Lookupflags::SYMLINK_FOLLOW),
            directory: oflags.contains(types::Oflags::DIRECTORY),
            create: oflags.contains(types::Oflags::CREAT),
            exclusive: oflags.contains(types::Oflags::EXCL),
            truncate: oflags.contains(types::Oflags::TRUNC),
            read: rights.contains(types::Rights::FD_READ)
                || rights.contains(types::Rights::FD_READDIR),
            write: rights.contains(types::Rights::FD_WRITE),
            append: fdflags.contains(types::Fdflags::APPEND),
        };
        let desc = fs::open(&dir, fs::guest_path(&path)?, &request)?;
        Ok(self.fds().insert(desc)?)
    }

    fn path_readlink(
        &mut self,
        mem: &mut GuestMemory<'_>,
        fd: types::Fd,
        path: GuestPtr<str>,
        buf: GuestPtr<u8>,
        len: types::Size,
    ) -> Result<types::Size, Error> {
        let dir = self.fds().dir(fd)?;
        let path = read_path(mem, path)?;
        let target = dir
            .dir
            .read_link_contents(fs::guest_path(&path)?)
            .map_err(io_error)?;
        let target = target.to_str().ok_or(Errno::Ilseq)?.as_bytes();
        let n = target.len().min(len as usize);
        mem.copy_from_slice(&target[..n], buf.as_array(n as u32))?;
        Ok(n as u32)
    }

    fn path_remove_directory(
        &mut self,
        mem: &mut GuestMemory<'_>,
        fd: types::Fd,
        path: GuestPtr<str>,
    ) -> Result<(), Error> {
        let dir = self.fds().dir(fd)?;
        let path = read_path(mem, path)?;
        writable(&dir)?;
        dir.dir.remove_dir(fs::guest_path(&path)?).map_err(io_error)
    }

    fn path_rename(
        &mut self,
        mem: &mut GuestMemory<'_>,
        fd: types::Fd,
        old_path: GuestPtr<str>,
        new_fd: types::Fd,
        new_path: GuestPtr<str>,
    ) -> Result<(), Error> {
        let old_dir = self.fds().dir(fd)?;
        let new_dir = self.fds().dir(new_fd)?;
        let old_path = read_path(mem, old_path)?;
        let new_path = read_path(mem, new_path)?;
        writable(&old_dir)?;
        writable(&new_dir)?;
        old_dir
            .dir
            .rename(
                fs::guest_path(&old_path)?,
                &new_dir.dir,
                fs::guest_path(&new_path)?,
            )
            .map_err(io_error)
    }

    fn path_symlink(
        &mut self,
        mem: &mut GuestMemory<'_>,
        old_path: GuestPtr<str>,
        fd: types::Fd,
        new_path: GuestPtr<str>,
    ) -> Result<(), Error> {
        let dir = self.fds().dir(fd)?;
        let old_path = read_path(mem, old_path)?;
        let new_path = read_path(mem, new_path)?;
        writable(&dir)?;
        // The link's text is stored as given; following it later still
        // resolves beneath the directory.
        dir.dir
            .symlink_contents(fs::guest_path(&old_path)?, fs::guest_path(&new_path)?)
            .map_err(io_error)
    }

    fn path_unlink_file(
        &mut self,
        mem: &mut GuestMemory<'_>,
        fd: types::Fd,
        path: GuestPtr<str>,
    ) -> Result<(), Error> {
        let dir = self.fds().dir(fd)?;
        let path = read_path(mem, path)?;
        writable(&dir)?;
        dir.dir
            .remove_file_or_symlink(fs::guest_path(&path)?)
            .map_err(io_error)
    }

    fn poll_oneoff(
        &mut self,
        mem: &mut GuestMemory<'_>,
        subs: GuestPtr<types::Subscription>,
        events: GuestPtr<types::Event>,
        nsubscriptions: types::Size,
    ) -> Result<types::Size, Error> {
        if nsubscriptions == 0 {
            return Err(Errno::Inval.into());
        }
        let wasi = self.wasi().clone();
        let subs: Vec<types::Subscription> = subs
            .as_array(nsubscriptions)
            .iter()
            .map(|s| mem.read(s?))
            .collect::<Result<_, wiggle::GuestError>>()?;
        // Each clock subscription's deadline on the monotonic clock.
        let now = Instant::now();
        let deadlines: Vec<Option<Instant>> = subs
            .iter()
            .map(|s| match &s.u {
                types::SubscriptionU::Clock(c) => {
                    let abs = c
                        .flags
                        .contains(types::Subclockflags::SUBSCRIPTION_CLOCK_ABSTIME);
                    let wait = match (c.id, abs) {
                        (_, false) => c.timeout,
                        (types::Clockid::Realtime, true) => c.timeout.saturating_sub(realtime()),
                        (_, true) => c.timeout.saturating_sub(wasi.monotonic()),
                    };
                    Some(now + Duration::from_nanos(wait))
                }
                _ => None,
            })
            .collect();
        if subs.iter().any(|s| matches!(&s.u, types::SubscriptionU::FdRead(r) if u32::from(r.file_descriptor) == 0)) {
            wasi.pump_stdin();
        }
        let mut ready: Vec<types::Event> = Vec::new();
        let mut w = wasi.waits.lock().unwrap();
        loop {
            if w.ending {
                return Err(ending());
            }
            let now = Instant::now();
            for (s, deadline) in subs.iter().zip(&deadlines) {
                let event = |type_, error, nbytes| types::Event {
                    userdata: s.userdata,
                    error,
                    type_,
                    fd_readwrite: types::EventFdReadwrite {
                        nbytes,
                        flags: types::Eventrwflags::empty(),
                    },
                };
                match &s.u {
                    types::SubscriptionU::Clock(_) => {
                        if deadline.is_some_and(|d| d <= now) {
                            ready.push(event(types::Eventtype::Clock, Errno::Success, 0));
                        }
                    }
                    types::SubscriptionU::FdRead(r) => match wasi.fds.get(r.file_descriptor) {
                        Ok(Desc::Stdio(0)) if !w.stdin.is_empty() || w.stdin_eof => {
                            ready.push(event(
                                types::Eventtype::FdRead,
                                Errno::Success,
                                w.stdin.len() as u64,
                            ))
                        }
                        Ok(Desc::Stdio(0)) => {}
                        // Regular files are always ready.
                        Ok(Desc::File(_)) => {
                            ready.push(event(types::Eventtype::FdRead, Errno::Success, 0))
                        }
                        _ => ready.push(event(types::Eventtype::FdRead, Errno::Badf, 0)),
                    },
                    types::SubscriptionU::FdWrite(r) => match wasi.fds.get(r.file_descriptor) {
                        Ok(Desc::Stdio(1 | 2)) | Ok(Desc::File(_)) => {
                            ready.push(event(types::Eventtype::FdWrite, Errno::Success, 0))
                        }
                        _ => ready.push(event(types::Eventtype::FdWrite, Errno::Badf, 0)),
                    },
                }
            }
            if !ready.is_empty() {
                break;
            }
            let next = deadlines.iter().flatten().min().copied();
            w = match next {
                Some(d) => {
                    wasi.changed
                        .wait_timeout(w, d.saturating_duration_since(now))
                        .unwrap()
                        .0
                }
                None => wasi.changed.wait(w).unwrap(),
            };
        }
        drop(w);
        let count = ready.len() as u32;
        for (i, e) in ready.into_iter().enumerate() {
            mem.write(events.add(i as u32)?, e)?;
        }
        Ok(count)
    }

    fn proc_exit(&mut self, _: &mut GuestMemory<'_>, status: types::Exitcode) -> wasmtime::Error {
        self.exit(status as i32);
        wasmtime::Error::msg(format!("proc_exit({status})"))
    }

    fn proc_raise(&mut self, _: &mut GuestMemory<'_>, _: types::Signal) -> Result<(), Error> {
        Err(Errno::Notsup.into())
    }

    fn sched_yield(&mut self, _: &mut GuestMemory<'_>) -> Result<(), Error> {
        std::thread::yield_now();
        Ok(())
    }

    fn random_get(
        &mut self,
        mem: &mut GuestMemory<'_>,
        buf: GuestPtr<u8>,
        len: types::Size,
    ) -> Result<(), Error> {
        let mut bytes = vec![0; len as usize];
        getrandom::fill(&mut bytes).map_err(|_| Error::from(Errno::Io))?;
        mem.copy_from_slice(&bytes, buf.as_array(len))?;
        Ok(())
    }

    fn sock_accept(
        &mut self,
        _: &mut GuestMemory<'_>,
        fd: types::Fd,
        _: types::Fdflags,
    ) -> Result<types::Fd, Error> {
        self.fds().get(fd)?;
        Err(Errno::Notsock.into())
    }

    fn sock_recv(
        &mut self,
        _: &mut GuestMemory<'_>,
        fd: types::Fd,
        _: types::IovecArray,
        _: types::Riflags,
    ) -> Result<(types::Size, types::Roflags), Error> {
        self.fds().get(fd)?;
        Err(Errno::Notsock.into())
    }

    fn sock_send(
        &mut self,
        _: &mut GuestMemory<'_>,
        fd: types::Fd,
        _: types::CiovecArray,
        _: types::Siflags,
    ) -> Result<types::Size, Error> {
        self.fds().get(fd)?;
        Err(Errno::Notsock.into())
    }

    fn sock_shutdown(
        &mut self,
        _: &mut GuestMemory<'_>,
        fd: types::Fd,
        _: types::Sdflags,
    ) -> Result<(), Error> {
        self.fds().get(fd)?;
        Err(Errno::Notsock.into())
    }
}

/// The counts and total size (with NULs) of a list of strings.
fn sizes(strings: &[String]) -> Result<(types::Size, types::Size), Error> {
    let bytes: usize = strings.iter().map(|s| s.len() + 1).sum();
    Ok((strings.len() as u32, bytes as u32))
}

/// Writes NUL-terminated strings to `buf` and their addresses to `ptrs`.
fn write_strings(
    mem: &mut GuestMemory<'_>,
    strings: &[String],
    ptrs: GuestPtr<GuestPtr<u8>>,
    buf: GuestPtr<u8>,
) -> Result<(), Error> {
    let mut at = buf;
    for (i, s) in strings.iter().enumerate() {
        let mut bytes = s.as_bytes().to_vec();
        bytes.push(0);
        mem.copy_from_slice(&bytes, at.as_array(bytes.len() as u32))?;
        mem.write(ptrs.add(i as u32)?, at)?;
        at = at.add(bytes.len() as u32)?;
    }
    Ok(())
}

impl ThreadCtx {
    fn fds(&self) -> &fs::Table {
        &self.wasi().fds
    }

    /// `fd_read` of stdin: waits for the pump thread's bytes (or the end of
    /// the run) without holding any lock another call needs.
    fn stdin_read(
        &self,
        mem: &mut GuestMemory<'_>,
        iovs: types::IovecArray,
    ) -> Result<types::Size, Error> {
        let wasi = self.wasi().clone();
        wasi.pump_stdin();
        let iovs = read_iovecs(mem, iovs)?;
        let total: usize = iovs.iter().map(|iov| iov.buf_len as usize).sum();
        let data: Vec<u8> = {
            let mut w = wasi.waits.lock().unwrap();
            while w.stdin.is_empty() && !w.stdin_eof && !w.ending {
                w = wasi.changed.wait(w).unwrap();
            }
            if w.ending {
                return Err(ending());
            }
            let n = total.min(w.stdin.len());
            w.stdin.drain(..n).collect()
        };
        scatter(mem, &iovs, &data)
    }

    /// `fd_write` of stdout (1) or stderr (2).
    fn stdio_write(
        &self,
        mem: &mut GuestMemory<'_>,
        n: u32,
        ciovs: types::CiovecArray,
    ) -> Result<types::Size, Error> {
        let out = if n == 1 {
            self.wasi().stdout.clone()
        } else {
            self.wasi().stderr.clone()
        };
        let bytes = gather(mem, ciovs)?;
        let mut out = out.lock().unwrap();
        out.write_all(&bytes)
            .and_then(|()| out.flush())
            .map_err(|_| Error::from(Errno::Io))?;
        Ok(bytes.len() as u32)
    }

    fn wasi(&self) -> &Arc<Wasi> {
        self.shared().wasi()
    }

    /// `proc_exit`: the first outcome wins.
    fn exit(&self, code: i32) {
        self.shared().end(Outcome::Exit(code));
    }
}
