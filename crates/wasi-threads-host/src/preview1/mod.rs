//! The preview-1 part: a thread-safe WASI preview 1 for the embedder's own
//! `Linker<T>` and store data. It works with the threads part or without.
//!
//! One [`WasiCtx`] serves every thread of a run (clones share it):
//! arguments, environment, clocks, random, stdio, one descriptor table of
//! preopened directories and sockets, and `poll_oneoff`. No lock is held
//! while a call blocks, and every blocking call also waits for the run's
//! end (see [`crate::EndSignal`]), so a thread blocked in the host stops as
//! promptly as one running wasm. `proc_exit` ends the run.
//!
//! The glue comes from wiggle, generated from `witx/preview1/`; like
//! wasmtime's, it reaches the guest's memory through its `memory` export.
//! Its implementation is split by call family: `args` (arguments and
//! environment), `clocks` (clocks and random), `fd` (descriptors),
//! `path` (paths), `poll` (`poll_oneoff`), `sock` (sockets) and `proc`
//! (`proc_exit`, `proc_raise`, `sched_yield`).
//!
//! ```
//! use wasi_threads_host::preview1::{self, Output, WasiCtx};
//! use wasi_threads_host::{MemoryOutput, Run};
//! use wasmtime::{Config, Engine, Linker, Module, Store};
//!
//! let mut config = Config::new();
//! wasi_threads_host::configure(&mut config);
//! let engine = Engine::new(&config)?;
//! let module = Module::new(&engine, r#"(module
//!   (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
//!   (memory (export "memory") 1)
//!   (data (i32.const 16) "hello\n")
//!   (func (export "_start")
//!     (i32.store (i32.const 0) (i32.const 16))
//!     (i32.store (i32.const 4) (i32.const 6))
//!     (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))"#)?;
//!
//! let mut linker: Linker<WasiCtx> = Linker::new(&engine);
//! preview1::add_to_linker(&mut linker, |cx: &mut WasiCtx| cx)?;
//!
//! let run = Run::new(&engine)?;
//! let stdout = MemoryOutput::new();
//! let wasi = WasiCtx::builder().arg("hello").stdout(stdout.clone()).build(&run)?;
//! let mut store = Store::new(&engine, wasi);
//! run.configure_store(&mut store);
//! let instance = linker.instantiate(&mut store, &module)?;
//! instance.get_typed_func::<(), ()>(&mut store, "_start")?.call(&mut store, ())?;
//! assert_eq!(stdout.contents(), b"hello\n");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod args;
mod clocks;
mod descriptors;
mod errno;
mod fd;
mod iov;
mod path;
mod poll;
mod proc;
mod rights;
mod sock;
mod stat;

/// What every handle to a context shares.
mod state {
    use std::sync::Mutex;

    use super::descriptors::Entry;
    use super::Clock;
    use crate::resources::stdio::{Output, StdinStream};
    use crate::resources::table::Table;
    use crate::run::Run;

    pub struct Inner {
        pub(crate) run: Run,
        pub(crate) args: Vec<String>,
        pub(crate) env: Vec<String>,
        pub(crate) stdin: StdinStream,
        pub(crate) stdout: Output,
        pub(crate) stderr: Output,
        pub(crate) fds: Table<Entry>,
        pub(crate) clock: Box<dyn Clock>,
        pub(crate) random: Mutex<Box<dyn rand_core::RngCore + Send>>,
    }
}

use std::ops::Deref;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use wiggle::{GuestMemory, GuestPtr};

use crate::resources::fs::Preopen;
use crate::resources::net::Socket;
use crate::resources::stdio::StdinStream;
use crate::resources::table::Table;
use crate::run::Run;
use crate::Error;

pub use crate::resources::stdio::{MemoryOutput, Output, Stdin};
pub use clocks::{Clock, SystemClock};

use descriptors::{Desc, Entry};
use state::Inner;

/// The glue wiggle generates; preview 1 has functions of up to 9 core
/// parameters.
#[allow(clippy::too_many_arguments)]
mod glue {
    wiggle::from_witx!({
        witx: ["witx/preview1/wasi_snapshot_preview1.witx"],
        errors: { errno => trappable Error },
    });
}

pub(crate) use glue::types;
use glue::wasi_snapshot_preview1::WasiSnapshotPreview1;
use types::{Error as WasiError, Rights};

/// The most descriptors open at once, unless the builder says otherwise.
pub const DEFAULT_MAX_FDS: usize = 4096;

/// The preview-1 context of one run, shared by all its threads; clones
/// are handles to the same context.
#[derive(Clone)]
pub struct WasiCtx {
    inner: Arc<Inner>,
}

impl Deref for WasiCtx {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.inner
    }
}

impl WasiCtx {
    /// The end of the thread when the run has ended: a call that begins
    /// after the outcome does nothing.
    fn live(&self) -> Result<(), WasiError> {
        if self.run.is_ended() {
            Err(errno::ending())
        } else {
            Ok(())
        }
    }

    pub fn builder() -> WasiCtxBuilder {
        WasiCtxBuilder::default()
    }

    /// The run this context belongs to.
    pub fn run(&self) -> &Run {
        &self.inner.run
    }
}

impl std::fmt::Debug for WasiCtx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasiCtx")
            .field("args", &self.args)
            .field("open_descriptors", &self.fds.len())
            .finish_non_exhaustive()
    }
}

/// Builds a [`WasiCtx`]: by default no arguments, no environment, the
/// process's stdio, no preopens, the system's clocks and random source,
/// and at most [`DEFAULT_MAX_FDS`] descriptors.
pub struct WasiCtxBuilder {
    args: Vec<String>,
    env: Vec<String>,
    stdin: Stdin,
    stdout: Output,
    stderr: Output,
    preopens: Vec<Preopen>,
    sockets: Vec<OwnedFd>,
    clock: Box<dyn Clock>,
    random: Box<dyn rand_core::RngCore + Send>,
    max_fds: usize,
}

impl Default for WasiCtxBuilder {
    fn default() -> Self {
        WasiCtxBuilder {
            args: Vec::new(),
            env: Vec::new(),
            stdin: Stdin::inherit(),
            stdout: Output::inherit_stdout(),
            stderr: Output::inherit_stderr(),
            preopens: Vec::new(),
            sockets: Vec::new(),
            clock: Box::new(SystemClock::new()),
            random: Box::new(clocks::OsRandom),
            max_fds: DEFAULT_MAX_FDS,
        }
    }
}

impl WasiCtxBuilder {
    /// Appends an argument (`argv[0]` first, conventionally the program).
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Appends arguments.
    pub fn args(mut self, args: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Adds an environment variable.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push(format!("{key}={value}"));
        self
    }

    /// Adds the process's environment variables (those whose name and
    /// value are UTF-8).
    pub fn inherit_env(mut self) -> Self {
        for (k, v) in std::env::vars() {
            self.env.push(format!("{k}={v}"));
        }
        self
    }

    /// Standard input (default: the process's).
    pub fn stdin(mut self, stdin: Stdin) -> Self {
        self.stdin = stdin;
        self
    }

    /// Standard output (default: the process's).
    pub fn stdout(mut self, out: impl Into<Output>) -> Self {
        self.stdout = out.into();
        self
    }

    /// Standard error (default: the process's).
    pub fn stderr(mut self, out: impl Into<Output>) -> Self {
        self.stderr = out.into();
        self
    }

    /// Preopens the host directory `host` as `guest`: the program may read
    /// and change what is beneath it, and reach nothing else. Preopens get
    /// descriptors 3, 4, ... in the order given.
    pub fn preopen_dir(mut self, host: impl Into<PathBuf>, guest: &str) -> Self {
        self.preopens.push(Preopen {
            host: host.into(),
            guest: guest.to_string(),
            writable: true,
        });
        self
    }

    /// Like [`WasiCtxBuilder::preopen_dir`], read-only: every call that
    /// would change something beneath it fails with `perm`.
    pub fn preopen_dir_readonly(mut self, host: impl Into<PathBuf>, guest: &str) -> Self {
        self.preopens.push(Preopen {
            host: host.into(),
            guest: guest.to_string(),
            writable: false,
        });
        self
    }

    /// Preopens a stream socket: a listener whose connections the program
    /// takes with `sock_accept`, or a connected stream. Sockets get the
    /// descriptors after the preopened directories, in the order given.
    /// The socket is switched to non-blocking mode in the system (the host
    /// waits in `poll(2)`; the program still sees blocking calls unless it
    /// asks for `nonblock`).
    pub fn preopen_socket(mut self, socket: impl Into<OwnedFd>) -> Self {
        self.sockets.push(socket.into());
        self
    }

    /// The clocks `clock_time_get` and `poll_oneoff` read, and whose
    /// resolution `clock_res_get` answers (for realtime and monotonic
    /// alike). The host adds nothing: the guest gets the values as given.
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Box::new(clock);
        self
    }

    /// The source of `random_get`, the only call that reads it: the guest
    /// gets its bytes in order, asked for in pieces of at most 64 KiB.
    pub fn random(mut self, random: impl rand_core::RngCore + Send + 'static) -> Self {
        self.random = Box::new(random);
        self
    }

    /// The most descriptors open at once, stdio and preopens included
    /// (at least 3: the stdio); past it, a call that would open one
    /// (`path_open`, `sock_accept`) answers `mfile`, until one is closed.
    pub fn max_fds(mut self, n: usize) -> Self {
        self.max_fds = n;
        self
    }

    /// Opens the preopens and makes the context of `run`. Its descriptors
    /// are closed when `run` has stopped its threads.
    pub fn build(self, run: &Run) -> Result<WasiCtx, Error> {
        let fds = Table::new(self.max_fds.max(3));
        fds.set(
            0,
            Entry::new(Desc::Stdio(0), rights::stdin(), Rights::empty()),
        );
        for fd in 1..3 {
            fds.set(
                fd,
                Entry::new(Desc::Stdio(fd), rights::stdout(), Rights::empty()),
            );
        }
        let mut next = 3;
        for p in &self.preopens {
            let dir = p.open().map_err(|source| Error::Preopen {
                path: p.host.clone(),
                source,
            })?;
            let (base, inheriting) = rights::preopen(p.writable);
            fds.set(next, Entry::new(Desc::Dir(Arc::new(dir)), base, inheriting));
            next += 1;
        }
        for socket in self.sockets {
            let socket = Socket::preopened(socket).map_err(Error::Socket)?;
            let (base, inheriting) = if socket.listener {
                rights::listener()
            } else {
                (rights::connection(), Rights::empty())
            };
            fds.set(
                next,
                Entry::new(Desc::Socket(Arc::new(socket)), base, inheriting),
            );
            next += 1;
        }
        let stdin = StdinStream::new(self.stdin).map_err(|source| Error::Io {
            what: "set up the program's stdin",
            source,
        })?;
        let cx = WasiCtx {
            inner: Arc::new(Inner {
                run: run.clone(),
                args: self.args,
                env: self.env,
                stdin,
                stdout: self.stdout,
                stderr: self.stderr,
                fds,
                clock: self.clock,
                random: Mutex::new(self.random),
            }),
        };
        // Connections and listeners close when the run is over, even while
        // a thread the run could not stop holds the context.
        let weak = Arc::downgrade(&cx.inner);
        run.after_stop(move || {
            if let Some(inner) = weak.upgrade() {
                inner.fds.close_all();
            }
        });
        Ok(cx)
    }
}

/// Defines every preview-1 function (module `wasi_snapshot_preview1`) in
/// `linker`; `get` finds the context in the store's data.
pub fn add_to_linker<T: 'static>(
    linker: &mut wasmtime::Linker<T>,
    get: impl Fn(&mut T) -> &mut WasiCtx + Send + Sync + Copy + 'static,
) -> wasmtime::Result<()> {
    glue::wasi_snapshot_preview1::add_to_linker(linker, get)
}

impl WasiSnapshotPreview1 for WasiCtx {
    fn args_get(
        &mut self,
        mem: &mut GuestMemory<'_>,
        argv: GuestPtr<GuestPtr<u8>>,
        argv_buf: GuestPtr<u8>,
    ) -> Result<(), WasiError> {
        self.live()?;
        args::args_get(self, mem, argv, argv_buf)
    }

    fn args_sizes_get(
        &mut self,
        _: &mut GuestMemory<'_>,
    ) -> Result<(types::Size, types::Size), WasiError> {
        self.live()?;
        args::args_sizes_get(self)
    }

    fn environ_get(
        &mut self,
        mem: &mut GuestMemory<'_>,
        environ: GuestPtr<GuestPtr<u8>>,
        environ_buf: GuestPtr<u8>,
    ) -> Result<(), WasiError> {
        self.live()?;
        args::environ_get(self, mem, environ, environ_buf)
    }

    fn environ_sizes_get(
        &mut self,
        _: &mut GuestMemory<'_>,
    ) -> Result<(types::Size, types::Size), WasiError> {
        self.live()?;
        args::environ_sizes_get(self)
    }

    fn clock_res_get(
        &mut self,
        _: &mut GuestMemory<'_>,
        id: types::Clockid,
    ) -> Result<types::Timestamp, WasiError> {
        self.live()?;
        clocks::clock_res_get(self, id)
    }
    fn clock_time_get(
        &mut self,
        _: &mut GuestMemory<'_>,
        id: types::Clockid,
        _: types::Timestamp,
    ) -> Result<types::Timestamp, WasiError> {
        self.live()?;
        clocks::clock_time_get(self, id)
    }
    fn fd_advise(
        &mut self,
        _: &mut GuestMemory<'_>,
        fd: types::Fd,
        _: types::Filesize,
        _: types::Filesize,
        _: types::Advice,
    ) -> Result<(), WasiError> {
        self.live()?;
        fd::fd_advise(self, fd)
    }
    fn fd_allocate(
        &mut self,
        _: &mut GuestMemory<'_>,
        fd: types::Fd,
        offset: types::Filesize,
        len: types::Filesize,
    ) -> Result<(), WasiError> {
        self.live()?;
        fd::fd_allocate(self, fd, offset, len)
    }
    fn fd_close(&mut self, _: &mut GuestMemory<'_>, fd: types::Fd) -> Result<(), WasiError> {
        self.live()?;
        fd::fd_close(self, fd)
    }
    fn fd_datasync(&mut self, _: &mut GuestMemory<'_>, fd: types::Fd) -> Result<(), WasiError> {
        self.live()?;
        fd::fd_datasync(self, fd)
    }
    fn fd_fdstat_get(
        &mut self,
        _: &mut GuestMemory<'_>,
        fd: types::Fd,
    ) -> Result<types::Fdstat, WasiError> {
        self.live()?;
        fd::fd_fdstat_get(self, fd)
    }
    fn fd_fdstat_set_flags(
        &mut self,
        _: &mut GuestMemory<'_>,
        fd: types::Fd,
        flags: types::Fdflags,
    ) -> Result<(), WasiError> {
        self.live()?;
        fd::fd_fdstat_set_flags(self, fd, flags)
    }
    fn fd_fdstat_set_rights(
        &mut self,
        _: &mut GuestMemory<'_>,
        fd: types::Fd,
        base: types::Rights,
        inheriting: types::Rights,
    ) -> Result<(), WasiError> {
        self.live()?;
        fd::fd_fdstat_set_rights(self, fd, base, inheriting)
    }
    fn fd_filestat_get(
        &mut self,
        _: &mut GuestMemory<'_>,
        fd: types::Fd,
    ) -> Result<types::Filestat, WasiError> {
        self.live()?;
        fd::fd_filestat_get(self, fd)
    }
    fn fd_filestat_set_size(
        &mut self,
        _: &mut GuestMemory<'_>,
        fd: types::Fd,
        size: types::Filesize,
    ) -> Result<(), WasiError> {
        self.live()?;
        fd::fd_filestat_set_size(self, fd, size)
    }
    fn fd_filestat_set_times(
        &mut self,
        _: &mut GuestMemory<'_>,
        fd: types::Fd,
        atim: types::Timestamp,
        mtim: types::Timestamp,
        flags: types::Fstflags,
    ) -> Result<(), WasiError> {
        self.live()?;
        fd::fd_filestat_set_times(self, fd, atim, mtim, flags)
    }
    fn fd_pread(
        &mut self,
        mem: &mut GuestMemory<'_>,
        fd: types::Fd,
        iovs: types::IovecArray,
        offset: types::Filesize,
    ) -> Result<types::Size, WasiError> {
        self.live()?;
        fd::fd_pread(self, mem, fd, iovs, offset)
    }
    fn fd_prestat_get(
        &mut self,
        _: &mut GuestMemory<'_>,
        fd: types::Fd,
    ) -> Result<types::Prestat, WasiError> {
        self.live()?;
        fd::fd_prestat_get(self, fd)
    }
    fn fd_prestat_dir_name(
        &mut self,
        mem: &mut GuestMemory<'_>,
        fd: types::Fd,
        path: GuestPtr<u8>,
        len: types::Size,
    ) -> Result<(), WasiError> {
        self.live()?;
        fd::fd_prestat_dir_name(self, mem, fd, path, len)
    }
    fn fd_pwrite(
        &mut self,
        mem: &mut GuestMemory<'_>,
        fd: types::Fd,
        ciovs: types::CiovecArray,
        offset: types::Filesize,
    ) -> Result<types::Size, WasiError> {
        self.live()?;
        fd::fd_pwrite(self, mem, fd, ciovs, offset)
    }
    fn fd_read(
        &mut self,
        mem: &mut GuestMemory<'_>,
        fd: types::Fd,
        iovs: types::IovecArray,
    ) -> Result<types::Size, WasiError> {
        self.live()?;
        fd::fd_read(self, mem, fd, iovs)
    }
    fn fd_readdir(
        &mut self,
        mem: &mut GuestMemory<'_>,
        fd: types::Fd,
        buf: GuestPtr<u8>,
        len: types::Size,
        cookie: types::Dircookie,
    ) -> Result<types::Size, WasiError> {
        self.live()?;
        fd::fd_readdir(self, mem, fd, buf, len, cookie)
    }
    fn fd_renumber(
        &mut self,
        _: &mut GuestMemory<'_>,
        fd: types::Fd,
        to: types::Fd,
    ) -> Result<(), WasiError> {
        self.live()?;
        fd::fd_renumber(self, fd, to)
    }
    fn fd_seek(
        &mut self,
        _: &mut GuestMemory<'_>,
        fd: types::Fd,
        offset: types::Filedelta,
        whence: types::Whence,
    ) -> Result<types::Filesize, WasiError> {
        self.live()?;
        fd::fd_seek(self, fd, offset, whence)
    }
    fn fd_sync(&mut self, _: &mut GuestMemory<'_>, fd: types::Fd) -> Result<(), WasiError> {
        self.live()?;
        fd::fd_sync(self, fd)
    }
    fn fd_tell(
        &mut self,
        _: &mut GuestMemory<'_>,
        fd: types::Fd,
    ) -> Result<types::Filesize, WasiError> {
        self.live()?;
        fd::fd_tell(self, fd)
    }
    fn fd_write(
        &mut self,
        mem: &mut GuestMemory<'_>,
        fd: types::Fd,
        ciovs: types::CiovecArray,
    ) -> Result<types::Size, WasiError> {
        self.live()?;
        fd::fd_write(self, mem, fd, ciovs)
    }
    fn path_create_directory(
        &mut self,
        mem: &mut GuestMemory<'_>,
        fd: types::Fd,
        path: GuestPtr<str>,
    ) -> Result<(), WasiError> {
        self.live()?;
        path::path_create_directory(self, mem, fd, path)
    }
    fn path_filestat_get(
        &mut self,
        mem: &mut GuestMemory<'_>,
        fd: types::Fd,
        flags: types::Lookupflags,
        path: GuestPtr<str>,
    ) -> Result<types::Filestat, WasiError> {
        self.live()?;
        path::path_filestat_get(self, mem, fd, flags, path)
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
    ) -> Result<(), WasiError> {
        self.live()?;
        path::path_filestat_set_times(self, mem, fd, flags, path, atim, mtim, fst)
    }
    fn path_link(
        &mut self,
        mem: &mut GuestMemory<'_>,
        old_fd: types::Fd,
        flags: types::Lookupflags,
        old_path: GuestPtr<str>,
        new_fd: types::Fd,
        new_path: GuestPtr<str>,
    ) -> Result<(), WasiError> {
        self.live()?;
        path::path_link(self, mem, old_fd, flags, old_path, new_fd, new_path)
    }
    fn path_open(
        &mut self,
        mem: &mut GuestMemory<'_>,
        fd: types::Fd,
        dirflags: types::Lookupflags,
        path: GuestPtr<str>,
        oflags: types::Oflags,
        base: types::Rights,
        inheriting: types::Rights,
        fdflags: types::Fdflags,
    ) -> Result<types::Fd, WasiError> {
        self.live()?;
        let rights = (base, inheriting);
        path::path_open(self, mem, fd, dirflags, path, oflags, rights, fdflags)
    }
    fn path_readlink(
        &mut self,
        mem: &mut GuestMemory<'_>,
        fd: types::Fd,
        path: GuestPtr<str>,
        buf: GuestPtr<u8>,
        len: types::Size,
    ) -> Result<types::Size, WasiError> {
        self.live()?;
        path::path_readlink(self, mem, fd, path, buf, len)
    }
    fn path_remove_directory(
        &mut self,
        mem: &mut GuestMemory<'_>,
        fd: types::Fd,
        path: GuestPtr<str>,
    ) -> Result<(), WasiError> {
        self.live()?;
        path::path_remove_directory(self, mem, fd, path)
    }
    fn path_rename(
        &mut self,
        mem: &mut GuestMemory<'_>,
        fd: types::Fd,
        old_path: GuestPtr<str>,
        new_fd: types::Fd,
        new_path: GuestPtr<str>,
    ) -> Result<(), WasiError> {
        self.live()?;
        path::path_rename(self, mem, fd, old_path, new_fd, new_path)
    }
    fn path_symlink(
        &mut self,
        mem: &mut GuestMemory<'_>,
        old_path: GuestPtr<str>,
        fd: types::Fd,
        new_path: GuestPtr<str>,
    ) -> Result<(), WasiError> {
        self.live()?;
        path::path_symlink(self, mem, old_path, fd, new_path)
    }
    fn path_unlink_file(
        &mut self,
        mem: &mut GuestMemory<'_>,
        fd: types::Fd,
        path: GuestPtr<str>,
    ) -> Result<(), WasiError> {
        self.live()?;
        path::path_unlink_file(self, mem, fd, path)
    }
    fn poll_oneoff(
        &mut self,
        mem: &mut GuestMemory<'_>,
        subs: GuestPtr<types::Subscription>,
        events: GuestPtr<types::Event>,
        nsubscriptions: types::Size,
    ) -> Result<types::Size, WasiError> {
        self.live()?;
        poll::poll_oneoff(self, mem, subs, events, nsubscriptions)
    }
    fn proc_exit(&mut self, _: &mut GuestMemory<'_>, status: types::Exitcode) -> wasmtime::Error {
        proc::proc_exit(self, status)
    }
    fn proc_raise(&mut self, _: &mut GuestMemory<'_>, _: types::Signal) -> Result<(), WasiError> {
        self.live()?;
        proc::proc_raise()
    }
    fn sched_yield(&mut self, _: &mut GuestMemory<'_>) -> Result<(), WasiError> {
        self.live()?;
        proc::sched_yield()
    }
    fn random_get(
        &mut self,
        mem: &mut GuestMemory<'_>,
        buf: GuestPtr<u8>,
        len: types::Size,
    ) -> Result<(), WasiError> {
        self.live()?;
        clocks::random_get(self, mem, buf, len)
    }
    fn sock_accept(
        &mut self,
        _: &mut GuestMemory<'_>,
        fd: types::Fd,
        flags: types::Fdflags,
    ) -> Result<types::Fd, WasiError> {
        self.live()?;
        sock::sock_accept(self, fd, flags)
    }
    fn sock_recv(
        &mut self,
        mem: &mut GuestMemory<'_>,
        fd: types::Fd,
        iovs: types::IovecArray,
        flags: types::Riflags,
    ) -> Result<(types::Size, types::Roflags), WasiError> {
        self.live()?;
        sock::sock_recv(self, mem, fd, iovs, flags)
    }
    fn sock_send(
        &mut self,
        mem: &mut GuestMemory<'_>,
        fd: types::Fd,
        ciovs: types::CiovecArray,
        flags: types::Siflags,
    ) -> Result<types::Size, WasiError> {
        self.live()?;
        sock::sock_send(self, mem, fd, ciovs, flags)
    }
    fn sock_shutdown(
        &mut self,
        _: &mut GuestMemory<'_>,
        fd: types::Fd,
        how: types::Sdflags,
    ) -> Result<(), WasiError> {
        self.live()?;
        sock::sock_shutdown(self, fd, how)
    }
}
