//! WASI preview 1, shared by every thread of a run.
//!
//! The glue comes from wiggle, generated from `witx/preview1/`. One
//! [`Wasi`] context serves all threads: arguments, environment, clocks,
//! random, stdio and `poll_oneoff`. No lock is held while a call blocks:
//! stdin is pumped by a host thread into a pipe, and every wait (for stdin,
//! a socket, a `poll_oneoff` clock) is one poll that also wakes when the run
//! ends (see `wait`), so a thread blocked in the host stops as promptly as
//! one running wasm.
//!
//! Files, directories and sockets live in one descriptor table for the
//! whole run (see `fs`): directories preopened with `Runner::preopen_dir`,
//! sandboxed with cap-std, and stream sockets preopened with
//! `Runner::preopen_socket` (see `net`).

use std::io::{PipeReader, PipeWriter, Read, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use wiggle::{GuestMemory, GuestPtr};

use std::path::Path;

use cap_fs_ext::DirExt;

use crate::fs::{self, Desc};
use crate::net::{NetError, Socket};
use crate::outcome::Outcome;
use crate::runner::ThreadCtx;
use crate::wait::{Ending, WaitError};
use rustix::event::PollFlags;

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

/// The process-wide preview-1 context of one run.
pub(crate) struct Wasi {
    args: Vec<String>,
    env: Vec<String>,
    start: Instant,
    /// The embedder's stdin and the pipe it is pumped into, until the
    /// first read of stdin starts the pump.
    stdin_source: Mutex<Option<(Input, PipeWriter)>>,
    /// What the program reads as stdin (non-blocking).
    stdin: Arc<PipeReader>,
    stdout: Arc<Mutex<Output>>,
    stderr: Arc<Mutex<Output>>,
    /// Wakes every thread blocked in the host when the run ends.
    pub(crate) ending: Arc<Ending>,
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
    ) -> std::io::Result<Arc<Wasi>> {
        let (reader, writer) = std::io::pipe()?;
        rustix::io::ioctl_fionbio(&reader, true)?;
        Ok(Arc::new(Wasi {
            args,
            env,
            start: Instant::now(),
            // Without an embedder's stdin the writer is dropped here: the
            // program reads end-of-file.
            stdin_source: Mutex::new(stdin.map(|input| (input, writer))),
            stdin: Arc::new(reader),
            stdout,
            stderr,
            ending: Arc::new(Ending::new()?),
            fds,
        }))
    }

    /// Wakes every thread blocked in the host: the run is ending.
    pub(crate) fn interrupt(&self) {
        self.ending.end();
    }

    /// Starts the thread that pumps the embedder's stdin into the pipe the
    /// program reads, once. It stops at the end of the input or of the run.
    fn pump_stdin(self: &Arc<Self>) {
        let Some((mut input, writer)) = self.stdin_source.lock().unwrap().take() else {
            return;
        };
        // The pump holds the pipe's read end too, so its writes never meet
        // a closed pipe; it holds nothing else of the run.
        let reader = self.stdin.clone();
        let ending = self.ending.clone();
        let _ = std::thread::Builder::new()
            .name("wasi-stdin".to_string())
            .spawn(move || {
                let _open = reader;
                if rustix::io::ioctl_fionbio(&writer, true).is_err() {
                    return;
                }
                let mut buf = vec![0; 64 * 1024];
                loop {
                    let n = match input.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    let mut data = &buf[..n];
                    while !data.is_empty() {
                        match (&writer).write(data) {
                            Ok(k) => data = &data[k..],
                            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                                if ending.wait_for(&writer, PollFlags::OUT).is_err() {
                                    return;
                                }
                            }
                            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                            Err(_) => return,
                        }
                    }
                    if ending.has_ended() {
                        return;
                    }
                }
            });
    }

    fn monotonic(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }
}

fn ending() -> Error {
    Error::trap(wasmtime::Error::msg("the program is ending"))
}

fn wait_error(e: WaitError) -> Error {
    match e {
        WaitError::Ended => ending(),
        WaitError::Os(e) => io_error(e),
    }
}

fn realtime() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// The most bytes one read of a file moves.
const MAX_IO: usize = 16 << 20;
/// The most bytes one read of stdin or a socket moves: a read there
/// returns what has arrived, so the buffer need not be the guest's size.
const MAX_STREAM_IO: usize = 256 << 10;

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

/// The iovecs of a read, and a buffer for what they can take, at most
/// `cap` bytes; [`scatter`] then copies what was read into them.
fn read_buffer(
    mem: &GuestMemory<'_>,
    iovs: types::IovecArray,
    cap: usize,
) -> Result<(Vec<types::Iovec>, Vec<u8>), Error> {
    let iovs = read_iovecs(mem, iovs)?;
    let total: usize = iovs.iter().map(|iov| iov.buf_len as usize).sum();
    Ok((iovs, vec![0u8; total.min(cap)]))
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
        // Advice is only advice.
        self.file(fd).map(drop)
    }

    fn fd_allocate(
        &mut self,
        _: &mut GuestMemory<'_>,
        fd: types::Fd,
        offset: types::Filesize,
        len: types::Filesize,
    ) -> Result<(), Error> {
        let file = self.file(fd)?;
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
            Desc::Stdio(_) | Desc::Socket(_) => Err(Errno::Inval.into()),
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
                    fs_flags: file_flags(&f),
                    fs_rights_base: rights,
                    fs_rights_inheriting: R::empty(),
                }
            }
            Desc::Socket(socket) => types::Fdstat {
                fs_filetype: types::Filetype::SocketStream,
                fs_flags: if socket.is_nonblocking() {
                    types::Fdflags::NONBLOCK
                } else {
                    types::Fdflags::empty()
                },
                fs_rights_base: if socket.listener {
                    R::SOCK_ACCEPT | R::POLL_FD_READWRITE | R::FD_FDSTAT_SET_FLAGS
                } else {
                    R::FD_READ
                        | R::FD_WRITE
                        | R::POLL_FD_READWRITE
                        | R::SOCK_SHUTDOWN
                        | R::FD_FDSTAT_SET_FLAGS
                },
                fs_rights_inheriting: if socket.listener {
                    R::FD_READ
                        | R::FD_WRITE
                        | R::POLL_FD_READWRITE
                        | R::SOCK_SHUTDOWN
                        | R::FD_FDSTAT_SET_FLAGS
                } else {
                    R::empty()
                },
            },
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
        use types::Fdflags as F;
        match self.fds().get(fd)? {
            // Append and non-blocking switch; the synchronised-I/O flags
            // cannot be switched on after opening (`notsup`).
            Desc::File(f) if (flags - F::APPEND - F::NONBLOCK).is_empty() => {
                if flags.contains(F::APPEND) != f.is_append() {
                    f.set_append(flags.contains(F::APPEND)).map_err(io_error)?;
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
            Desc::Socket(socket) => {
                let stat = socket.stat().map_err(io_error)?;
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
            Desc::Stdio(_) | Desc::Socket(_) => Err(Errno::Inval.into()),
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
            Desc::Stdio(_) | Desc::Socket(_) => Err(Errno::Notsup.into()),
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
        let file = self.file(fd)?;
        if !file.read {
            return Err(Errno::Badf.into());
        }
        let (iovs, mut data) = read_buffer(mem, iovs, MAX_IO)?;
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
        let file = self.file(fd)?;
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
            Desc::Socket(socket) => return self.socket_read(mem, &socket, iovs, false, false),
            Desc::Dir(_) => return Err(Errno::Isdir.into()),
            Desc::File(f) => f,
        };
        if !file.read {
            return Err(Errno::Badf.into());
        }
        let (iovs, mut data) = read_buffer(mem, iovs, MAX_IO)?;
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
        let file = self.file(fd)?;
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
            Desc::Stdio(_) | Desc::Socket(_) => Err(Errno::Inval.into()),
            Desc::Dir(_) => Ok(()),
            Desc::File(f) => f.file.sync_all().map_err(io_error),
        }
    }

    fn fd_tell(
        &mut self,
        _: &mut GuestMemory<'_>,
        fd: types::Fd,
    ) -> Result<types::Filesize, Error> {
        Ok(*self.file(fd)?.position.lock().unwrap())
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
            Desc::Socket(socket) => return self.socket_write(mem, &socket, ciovs),
            Desc::Dir(_) => return Err(Errno::Isdir.into()),
            Desc::File(f) => f,
        };
        if !file.write {
            return Err(Errno::Badf.into());
        }
        let bytes = gather(mem, ciovs)?;
        let mut position = file.position.lock().unwrap();
        if file.is_append() {
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
            nonblocking: fdflags.contains(types::Fdflags::NONBLOCK),
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
        // Each descriptor is looked up once, as the call starts: what
        // another thread closes meanwhile is still waited on, as on POSIX.
        let descs: Vec<Option<Result<Desc, Errno>>> = subs
            .iter()
            .map(|s| match &s.u {
                types::SubscriptionU::Clock(_) => None,
                types::SubscriptionU::FdRead(r) | types::SubscriptionU::FdWrite(r) => {
                    Some(wasi.fds.get(r.file_descriptor))
                }
            })
            .collect();
        // Descriptors the system is asked about, and subscriptions that are
        // ready (or failed) whatever happens.
        // One entry per descriptor, however many subscriptions name it, so
        // the count stays within the process's limit.
        let mut polled: Vec<(std::os::fd::BorrowedFd<'_>, PollFlags)> = Vec::new();
        let mut slots: std::collections::HashMap<std::os::fd::RawFd, usize> =
            std::collections::HashMap::new();
        // (subscription, its entry in `polled`, what it waits for)
        let mut polled_subs: Vec<(usize, usize, PollFlags)> = Vec::new();
        let mut settled: Vec<(usize, Errno)> = Vec::new();
        for (i, (s, desc)) in subs.iter().zip(&descs).enumerate() {
            let read = matches!(s.u, types::SubscriptionU::FdRead(_));
            let Some(desc) = desc else { continue };
            let fd = match (desc, read) {
                (Err(e), _) => {
                    settled.push((i, *e));
                    continue;
                }
                (Ok(Desc::Stdio(0)), true) => {
                    wasi.pump_stdin();
                    wasi.stdin.as_fd()
                }
                (Ok(Desc::Socket(socket)), _) => socket.as_fd(),
                // Regular files and the output streams are always ready.
                (Ok(Desc::File(_)), _) | (Ok(Desc::Stdio(1 | 2)), false) => {
                    settled.push((i, Errno::Success));
                    continue;
                }
                (Ok(_), _) => {
                    settled.push((i, Errno::Badf));
                    continue;
                }
            };
            // A peer that shut its side down (RDHUP) is a hangup for reads.
            let events = if read {
                PollFlags::IN | PollFlags::RDHUP
            } else {
                PollFlags::OUT
            };
            let slot = *slots.entry(fd.as_raw_fd()).or_insert_with(|| {
                polled.push((fd, PollFlags::empty()));
                polled.len() - 1
            });
            polled[slot].1 |= events;
            polled_subs.push((i, slot, events));
        }
        let next_deadline = deadlines.iter().flatten().min().copied();
        let event = |i: usize, error, nbytes, flags| {
            let s = &subs[i];
            types::Event {
                userdata: s.userdata,
                error,
                type_: match s.u {
                    types::SubscriptionU::Clock(_) => types::Eventtype::Clock,
                    types::SubscriptionU::FdRead(_) => types::Eventtype::FdRead,
                    types::SubscriptionU::FdWrite(_) => types::Eventtype::FdWrite,
                },
                fd_readwrite: types::EventFdReadwrite { nbytes, flags },
            }
        };
        let ready: Vec<types::Event> = loop {
            let timeout = if settled.is_empty() {
                next_deadline
            } else {
                Some(Instant::now())
            };
            let revents = wasi.ending.wait(&polled, timeout).map_err(wait_error)?;
            let mut ready: Vec<(usize, types::Event)> = settled
                .iter()
                .map(|&(i, error)| (i, event(i, error, 0, types::Eventrwflags::empty())))
                .collect();
            for &(i, slot, events) in &polled_subs {
                let revents =
                    revents[slot] & (events | PollFlags::HUP | PollFlags::ERR | PollFlags::NVAL);
                if revents.is_empty() {
                    continue;
                }
                let error = if revents.contains(PollFlags::NVAL) {
                    Errno::Badf
                } else {
                    Errno::Success
                };
                let mut flags = types::Eventrwflags::empty();
                if revents.intersects(PollFlags::HUP | PollFlags::RDHUP) {
                    flags |= types::Eventrwflags::FD_READWRITE_HANGUP;
                }
                let nbytes = match (&descs[i], &subs[i].u) {
                    (Some(Ok(Desc::Socket(socket))), types::SubscriptionU::FdRead(_)) => {
                        socket.ready_bytes()
                    }
                    (Some(Ok(Desc::Stdio(0))), _) => {
                        rustix::io::ioctl_fionread(&wasi.stdin).unwrap_or(0)
                    }
                    _ => 0,
                };
                ready.push((i, event(i, error, nbytes, flags)));
            }
            let now = Instant::now();
            for (i, deadline) in deadlines.iter().enumerate() {
                if deadline.is_some_and(|d| d <= now) {
                    ready.push((i, event(i, Errno::Success, 0, types::Eventrwflags::empty())));
                }
            }
            if !ready.is_empty() {
                ready.sort_by_key(|(i, _)| *i);
                break ready.into_iter().map(|(_, e)| e).collect();
            }
        };
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
        flags: types::Fdflags,
    ) -> Result<types::Fd, Error> {
        let socket = self.socket(fd)?;
        if !(flags - types::Fdflags::NONBLOCK).is_empty() {
            return Err(Errno::Inval.into());
        }
        let stream = socket
            .accept(
                &self.wasi().ending,
                flags.contains(types::Fdflags::NONBLOCK),
            )
            .map_err(net_error)?;
        Ok(self.fds().insert(Desc::Socket(Arc::new(stream)))?)
    }

    fn sock_recv(
        &mut self,
        mem: &mut GuestMemory<'_>,
        fd: types::Fd,
        iovs: types::IovecArray,
        flags: types::Riflags,
    ) -> Result<(types::Size, types::Roflags), Error> {
        let socket = self.socket(fd)?;
        let n = self.socket_read(
            mem,
            &socket,
            iovs,
            flags.contains(types::Riflags::RECV_PEEK),
            flags.contains(types::Riflags::RECV_WAITALL),
        )?;
        // Stream sockets never truncate.
        Ok((n, types::Roflags::empty()))
    }

    fn sock_send(
        &mut self,
        mem: &mut GuestMemory<'_>,
        fd: types::Fd,
        ciovs: types::CiovecArray,
        flags: types::Siflags,
    ) -> Result<types::Size, Error> {
        let socket = self.socket(fd)?;
        // Preview 1 defines no send flags.
        if flags != 0 {
            return Err(Errno::Inval.into());
        }
        self.socket_write(mem, &socket, ciovs)
    }

    fn sock_shutdown(
        &mut self,
        _: &mut GuestMemory<'_>,
        fd: types::Fd,
        how: types::Sdflags,
    ) -> Result<(), Error> {
        let socket = self.socket(fd)?;
        socket
            .shutdown(
                how.contains(types::Sdflags::RD),
                how.contains(types::Sdflags::WR),
            )
            .map_err(net_error)
    }
}

/// The `fdflags` of an open file.
fn file_flags(file: &fs::OpenFile) -> types::Fdflags {
    let mut flags = types::Fdflags::empty();
    if file.is_append() {
        flags |= types::Fdflags::APPEND;
    }
    if file.is_nonblocking() {
        flags |= types::Fdflags::NONBLOCK;
    }
    flags
}

/// The errno (or the end of the thread) for a failed socket call.
fn net_error(e: NetError) -> Error {
    match e {
        NetError::Os(e) => io_error(e),
        NetError::Again => Errno::Again.into(),
        NetError::Ended => ending(),
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

    /// The regular file `fd` names, for the calls that use a position or
    /// an offset: `spipe` for stdio and sockets, `isdir` for a directory.
    fn file(&self, fd: types::Fd) -> Result<Arc<fs::OpenFile>, Error> {
        match self.fds().get(fd)? {
            Desc::Stdio(_) | Desc::Socket(_) => Err(Errno::Spipe.into()),
            Desc::Dir(_) => Err(Errno::Isdir.into()),
            Desc::File(f) => Ok(f),
        }
    }

    /// The socket `fd` names: `notsock` for any other descriptor.
    fn socket(&self, fd: types::Fd) -> Result<Arc<Socket>, Error> {
        match self.fds().get(fd)? {
            Desc::Socket(socket) => Ok(socket),
            _ => Err(Errno::Notsock.into()),
        }
    }

    /// `fd_read` and `sock_recv` of a socket.
    fn socket_read(
        &self,
        mem: &mut GuestMemory<'_>,
        socket: &Socket,
        iovs: types::IovecArray,
        peek: bool,
        waitall: bool,
    ) -> Result<types::Size, Error> {
        // All of it for `waitall`, which promises to fill the buffers.
        let cap = if waitall { MAX_IO } else { MAX_STREAM_IO };
        let (iovs, mut data) = read_buffer(mem, iovs, cap)?;
        let n = socket
            .recv(&self.wasi().ending, &mut data, peek, waitall)
            .map_err(net_error)?;
        scatter(mem, &iovs, &data[..n])
    }

    /// `fd_write` and `sock_send` of a socket.
    fn socket_write(
        &self,
        mem: &mut GuestMemory<'_>,
        socket: &Socket,
        ciovs: types::CiovecArray,
    ) -> Result<types::Size, Error> {
        let bytes = gather(mem, ciovs)?;
        let n = socket
            .send(&self.wasi().ending, &bytes)
            .map_err(net_error)?;
        Ok(n as u32)
    }

    /// `fd_read` of stdin: waits for the pump's bytes (or the end of the
    /// run) without holding any lock another call needs.
    fn stdin_read(
        &self,
        mem: &mut GuestMemory<'_>,
        iovs: types::IovecArray,
    ) -> Result<types::Size, Error> {
        let wasi = self.wasi().clone();
        wasi.pump_stdin();
        let (iovs, mut data) = read_buffer(mem, iovs, MAX_STREAM_IO)?;
        loop {
            match (&*wasi.stdin).read(&mut data) {
                Ok(n) => return scatter(mem, &iovs, &data[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => wasi
                    .ending
                    .wait_for(&*wasi.stdin, PollFlags::IN)
                    .map_err(wait_error)?,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(io_error(e)),
            }
        }
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
