//! WASI preview 1, shared by every thread of a run.
//!
//! The glue comes from wiggle, generated from `witx/preview1/`. One
//! [`Wasi`] context serves all threads: arguments, environment, clocks,
//! random, stdio and `poll_oneoff`. No lock is held while a call blocks:
//! stdin is read by a host thread into a buffer, and every wait (for stdin,
//! for a `poll_oneoff` clock) also wakes when the run ends, so a thread
//! blocked in the host stops as promptly as one running wasm.
//!
//! Calls this host does not provide yet return an errno (see the README):
//! `badf` for any descriptor but 0, 1 and 2 (there are no preopens),
//! `spipe` for seeking stdio, `notsup` for the rest.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use wiggle::{GuestMemory, GuestPtr};

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
}

impl Wasi {
    pub(crate) fn new(
        args: Vec<String>,
        env: Vec<String>,
        stdin: Option<Input>,
        stdout: Arc<Mutex<Output>>,
        stderr: Arc<Mutex<Output>>,
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

fn stdio(fd: types::Fd) -> Result<u32, Error> {
    match u32::from(fd) {
        fd @ 0..=2 => Ok(fd),
        _ => Err(Errno::Badf.into()),
    }
}

fn realtime() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
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
        stdio(fd)?;
        Err(Errno::Spipe.into())
    }

    fn fd_allocate(
        &mut self,
        _: &mut GuestMemory<'_>,
        fd: types::Fd,
        _: types::Filesize,
        _: types::Filesize,
    ) -> Result<(), Error> {
        stdio(fd)?;
        Err(Errno::Spipe.into())
    }

    fn fd_close(&mut self, _: &mut GuestMemory<'_>, fd: types::Fd) -> Result<(), Error> {
        stdio(fd)?;
        Err(Errno::Notsup.into())
    }

    fn fd_datasync(&mut self, _: &mut GuestMemory<'_>, fd: types::Fd) -> Result<(), Error> {
        stdio(fd)?;
        Err(Errno::Inval.into())
    }

    fn fd_fdstat_get(
        &mut self,
        _: &mut GuestMemory<'_>,
        fd: types::Fd,
    ) -> Result<types::Fdstat, Error> {
        let rights = match stdio(fd)? {
            0 => types::Rights::FD_READ | types::Rights::POLL_FD_READWRITE,
            _ => types::Rights::FD_WRITE | types::Rights::POLL_FD_READWRITE,
        };
        Ok(types::Fdstat {
            fs_filetype: types::Filetype::CharacterDevice,
            fs_flags: types::Fdflags::empty(),
            fs_rights_base: rights,
            fs_rights_inheriting: types::Rights::empty(),
        })
    }

    fn fd_fdstat_set_flags(
        &mut self,
        _: &mut GuestMemory<'_>,
        fd: types::Fd,
        _: types::Fdflags,
    ) -> Result<(), Error> {
        stdio(fd)?;
        Err(Errno::Notsup.into())
    }

    fn fd_fdstat_set_rights(
        &mut self,
        _: &mut GuestMemory<'_>,
        fd: types::Fd,
        _: types::Rights,
        _: types::Rights,
    ) -> Result<(), Error> {
        stdio(fd)?;
        Err(Errno::Notsup.into())
    }

    fn fd_filestat_get(
        &mut self,
        _: &mut GuestMemory<'_>,
        fd: types::Fd,
    ) -> Result<types::Filestat, Error> {
        stdio(fd)?;
        Ok(types::Filestat {
            dev: 0,
            ino: 0,
            filetype: types::Filetype::CharacterDevice,
            nlink: 0,
            size: 0,
            atim: 0,
            mtim: 0,
            ctim: 0,
        })
    }

    fn fd_filestat_set_size(
        &mut self,
        _: &mut GuestMemory<'_>,
        fd: types::Fd,
        _: types::Filesize,
    ) -> Result<(), Error> {
        stdio(fd)?;
        Err(Errno::Inval.into())
    }

    fn fd_filestat_set_times(
        &mut self,
        _: &mut GuestMemory<'_>,
        fd: types::Fd,
        _: types::Timestamp,
        _: types::Timestamp,
        _: types::Fstflags,
    ) -> Result<(), Error> {
        stdio(fd)?;
        Err(Errno::Notsup.into())
    }

    fn fd_pread(
        &mut self,
        _: &mut GuestMemory<'_>,
        fd: types::Fd,
        _: types::IovecArray,
        _: types::Filesize,
    ) -> Result<types::Size, Error> {
        stdio(fd)?;
        Err(Errno::Spipe.into())
    }

    fn fd_prestat_get(
        &mut self,
        _: &mut GuestMemory<'_>,
        _: types::Fd,
    ) -> Result<types::Prestat, Error> {
        Err(Errno::Badf.into())
    }

    fn fd_prestat_dir_name(
        &mut self,
        _: &mut GuestMemory<'_>,
        _: types::Fd,
        _: GuestPtr<u8>,
        _: types::Size,
    ) -> Result<(), Error> {
        Err(Errno::Badf.into())
    }

    fn fd_pwrite(
        &mut self,
        _: &mut GuestMemory<'_>,
        fd: types::Fd,
        _: types::CiovecArray,
        _: types::Filesize,
    ) -> Result<types::Size, Error> {
        stdio(fd)?;
        Err(Errno::Spipe.into())
    }

    fn fd_read(
        &mut self,
        mem: &mut GuestMemory<'_>,
        fd: types::Fd,
        iovs: types::IovecArray,
    ) -> Result<types::Size, Error> {
        if stdio(fd)? != 0 {
            return Err(Errno::Badf.into());
        }
        let wasi = self.wasi().clone();
        wasi.pump_stdin();
        // The iovecs are read once: in a shared memory another thread may
        // change them while this one waits for input.
        let iovs: Vec<types::Iovec> = iovs
            .iter()
            .map(|iov| mem.read(iov?))
            .collect::<Result<_, wiggle::GuestError>>()?;
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
        let mut written = 0;
        for iov in &iovs {
            // An empty iovec takes nothing; later ones still get the rest.
            let n = (iov.buf_len as usize).min(data.len() - written);
            if n > 0 {
                mem.copy_from_slice(&data[written..written + n], iov.buf.as_array(n as u32))?;
                written += n;
            }
        }
        Ok(written as u32)
    }

    fn fd_readdir(
        &mut self,
        _: &mut GuestMemory<'_>,
        fd: types::Fd,
        _: GuestPtr<u8>,
        _: types::Size,
        _: types::Dircookie,
    ) -> Result<types::Size, Error> {
        stdio(fd)?;
        Err(Errno::Notdir.into())
    }

    fn fd_renumber(
        &mut self,
        _: &mut GuestMemory<'_>,
        fd: types::Fd,
        to: types::Fd,
    ) -> Result<(), Error> {
        stdio(fd)?;
        stdio(to)?;
        Err(Errno::Notsup.into())
    }

    fn fd_seek(
        &mut self,
        _: &mut GuestMemory<'_>,
        fd: types::Fd,
        _: types::Filedelta,
        _: types::Whence,
    ) -> Result<types::Filesize, Error> {
        stdio(fd)?;
        Err(Errno::Spipe.into())
    }

    fn fd_sync(&mut self, _: &mut GuestMemory<'_>, fd: types::Fd) -> Result<(), Error> {
        stdio(fd)?;
        Err(Errno::Inval.into())
    }

    fn fd_tell(
        &mut self,
        _: &mut GuestMemory<'_>,
        fd: types::Fd,
    ) -> Result<types::Filesize, Error> {
        stdio(fd)?;
        Err(Errno::Spipe.into())
    }

    fn fd_write(
        &mut self,
        mem: &mut GuestMemory<'_>,
        fd: types::Fd,
        ciovs: types::CiovecArray,
    ) -> Result<types::Size, Error> {
        let out = match stdio(fd)? {
            1 => self.wasi().stdout.clone(),
            2 => self.wasi().stderr.clone(),
            _ => return Err(Errno::Badf.into()),
        };
        let mut bytes = Vec::new();
        for ciov in ciovs.iter() {
            let ciov: types::Ciovec = mem.read(ciov?)?;
            bytes.extend_from_slice(&mem.as_cow(ciov.buf.as_array(ciov.buf_len))?);
        }
        let mut out = out.lock().unwrap();
        out.write_all(&bytes)
            .and_then(|()| out.flush())
            .map_err(|_| Error::from(Errno::Io))?;
        Ok(bytes.len() as u32)
    }

    fn path_create_directory(
        &mut self,
        _: &mut GuestMemory<'_>,
        _: types::Fd,
        _: GuestPtr<str>,
    ) -> Result<(), Error> {
        Err(Errno::Badf.into())
    }

    fn path_filestat_get(
        &mut self,
        _: &mut GuestMemory<'_>,
        _: types::Fd,
        _: types::Lookupflags,
        _: GuestPtr<str>,
    ) -> Result<types::Filestat, Error> {
        Err(Errno::Badf.into())
    }

    fn path_filestat_set_times(
        &mut self,
        _: &mut GuestMemory<'_>,
        _: types::Fd,
        _: types::Lookupflags,
        _: GuestPtr<str>,
        _: types::Timestamp,
        _: types::Timestamp,
        _: types::Fstflags,
    ) -> Result<(), Error> {
        Err(Errno::Badf.into())
    }

    fn path_link(
        &mut self,
        _: &mut GuestMemory<'_>,
        _: types::Fd,
        _: types::Lookupflags,
        _: GuestPtr<str>,
        _: types::Fd,
        _: GuestPtr<str>,
    ) -> Result<(), Error> {
        Err(Errno::Badf.into())
    }

    fn path_open(
        &mut self,
        _: &mut GuestMemory<'_>,
        _: types::Fd,
        _: types::Lookupflags,
        _: GuestPtr<str>,
        _: types::Oflags,
        _: types::Rights,
        _: types::Rights,
        _: types::Fdflags,
    ) -> Result<types::Fd, Error> {
        Err(Errno::Badf.into())
    }

    fn path_readlink(
        &mut self,
        _: &mut GuestMemory<'_>,
        _: types::Fd,
        _: GuestPtr<str>,
        _: GuestPtr<u8>,
        _: types::Size,
    ) -> Result<types::Size, Error> {
        Err(Errno::Badf.into())
    }

    fn path_remove_directory(
        &mut self,
        _: &mut GuestMemory<'_>,
        _: types::Fd,
        _: GuestPtr<str>,
    ) -> Result<(), Error> {
        Err(Errno::Badf.into())
    }

    fn path_rename(
        &mut self,
        _: &mut GuestMemory<'_>,
        _: types::Fd,
        _: GuestPtr<str>,
        _: types::Fd,
        _: GuestPtr<str>,
    ) -> Result<(), Error> {
        Err(Errno::Badf.into())
    }

    fn path_symlink(
        &mut self,
        _: &mut GuestMemory<'_>,
        _: GuestPtr<str>,
        _: types::Fd,
        _: GuestPtr<str>,
    ) -> Result<(), Error> {
        Err(Errno::Badf.into())
    }

    fn path_unlink_file(
        &mut self,
        _: &mut GuestMemory<'_>,
        _: types::Fd,
        _: GuestPtr<str>,
    ) -> Result<(), Error> {
        Err(Errno::Badf.into())
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
                    types::SubscriptionU::FdRead(r) => match u32::from(r.file_descriptor) {
                        0 if !w.stdin.is_empty() || w.stdin_eof => ready.push(event(
                            types::Eventtype::FdRead,
                            Errno::Success,
                            w.stdin.len() as u64,
                        )),
                        0 => {}
                        _ => ready.push(event(types::Eventtype::FdRead, Errno::Badf, 0)),
                    },
                    types::SubscriptionU::FdWrite(r) => match u32::from(r.file_descriptor) {
                        1 | 2 => ready.push(event(types::Eventtype::FdWrite, Errno::Success, 0)),
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
        stdio(fd)?;
        Err(Errno::Notsock.into())
    }

    fn sock_recv(
        &mut self,
        _: &mut GuestMemory<'_>,
        fd: types::Fd,
        _: types::IovecArray,
        _: types::Riflags,
    ) -> Result<(types::Size, types::Roflags), Error> {
        stdio(fd)?;
        Err(Errno::Notsock.into())
    }

    fn sock_send(
        &mut self,
        _: &mut GuestMemory<'_>,
        fd: types::Fd,
        _: types::CiovecArray,
        _: types::Siflags,
    ) -> Result<types::Size, Error> {
        stdio(fd)?;
        Err(Errno::Notsock.into())
    }

    fn sock_shutdown(
        &mut self,
        _: &mut GuestMemory<'_>,
        fd: types::Fd,
        _: types::Sdflags,
    ) -> Result<(), Error> {
        stdio(fd)?;
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
    fn wasi(&self) -> &Arc<Wasi> {
        self.shared().wasi()
    }

    /// `proc_exit`: the first outcome wins.
    fn exit(&self, code: i32) {
        self.shared().end(Outcome::Exit(code));
    }
}
