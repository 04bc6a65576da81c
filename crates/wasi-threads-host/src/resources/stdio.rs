//! Standard input, output and error of a run.
//!
//! Each run has its own: the process's own streams (inherited), nothing,
//! bytes in memory, or any reader or writer the embedder gives. A read of
//! stdin never holds a lock another call needs: the process's stdin is
//! polled together with the run's end signal, bytes in memory are simply
//! copied, and a reader is pumped by a host thread into a pipe that is
//! polled the same way. The process's stdout and stderr are written with
//! `write(2)` directly: a pipe or terminal in chunks of at most `PIPE_BUF`
//! bytes, each after a poll says there is room, one thread of the process
//! at a time per stream (see [`write_polled`]); no lock is held across a
//! wait. An embedder's writer is one object: its writes are serialised,
//! and one that blocks holds up the other writes to that stream, out of
//! reach of the end of the run.

use std::io::{self, Cursor, PipeReader, PipeWriter, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::{Arc, Mutex};

use rustix::event::{PollFd, PollFlags, Timespec};

use super::wait::{EndSignal, WaitError};

/// Where a run's standard input comes from.
pub struct Stdin(StdinKind);

enum StdinKind {
    Inherit,
    Bytes(Vec<u8>),
    Reader(Box<dyn Read + Send>),
}

impl Stdin {
    /// The process's standard input.
    pub fn inherit() -> Stdin {
        Stdin(StdinKind::Inherit)
    }

    /// No input: the program reads end-of-file at once.
    pub fn null() -> Stdin {
        Stdin::bytes(Vec::new())
    }

    /// These bytes, then end-of-file.
    pub fn bytes(bytes: impl Into<Vec<u8>>) -> Stdin {
        Stdin(StdinKind::Bytes(bytes.into()))
    }

    /// What `reader` gives, until it ends or fails. A host thread reads it
    /// (as the program asks for input) into a pipe the program reads.
    pub fn reader(reader: impl Read + Send + 'static) -> Stdin {
        Stdin(StdinKind::Reader(Box::new(reader)))
    }
}

impl std::fmt::Debug for Stdin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self.0 {
            StdinKind::Inherit => "Stdin::inherit()",
            StdinKind::Bytes(_) => "Stdin::bytes(..)",
            StdinKind::Reader(_) => "Stdin::reader(..)",
        })
    }
}

/// Where a run's standard output or error goes; clones share the same
/// destination.
#[derive(Clone)]
pub struct Output(Arc<OutputKind>);

enum OutputKind {
    /// The process's stdout (1) or stderr (2).
    Inherit(i32),
    Null,
    Memory(MemoryOutput),
    Writer(Mutex<Box<dyn Write + Send>>),
}

impl Output {
    /// The process's standard output.
    pub fn inherit_stdout() -> Output {
        Output(Arc::new(OutputKind::Inherit(1)))
    }

    /// The process's standard error.
    pub fn inherit_stderr() -> Output {
        Output(Arc::new(OutputKind::Inherit(2)))
    }

    /// Discards everything.
    pub fn null() -> Output {
        Output(Arc::new(OutputKind::Null))
    }

    /// Any writer; writes are serialised, each flushed. A write that
    /// blocks holds up the other threads' writes to this output, and the
    /// end of the run cannot interrupt it (the thread is then reported as
    /// abandoned); a writer that may block should hand the bytes to a
    /// thread of its own.
    pub fn writer(writer: impl Write + Send + 'static) -> Output {
        Output(Arc::new(OutputKind::Writer(Mutex::new(Box::new(writer)))))
    }

    /// Writes `bytes` whole.
    pub(crate) fn write_all(&self, bytes: &[u8], end: &EndSignal) -> io::Result<()> {
        match &*self.0 {
            OutputKind::Inherit(fd) => {
                // SAFETY: 1 and 2 stay open for the life of the process.
                let fd = unsafe { BorrowedFd::borrow_raw(*fd) };
                if kind_of(Some(fd)) == StreamKind::File {
                    write_fd(fd, bytes, end)
                } else {
                    write_polled(fd, bytes, end)
                }
            }
            OutputKind::Null => Ok(()),
            OutputKind::Memory(m) => {
                m.0.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .extend_from_slice(bytes);
                Ok(())
            }
            OutputKind::Writer(w) => {
                let mut w = w.lock().unwrap_or_else(|e| e.into_inner());
                w.write_all(bytes)?;
                w.flush()
            }
        }
    }

    /// The system descriptor behind the stream, for the process's own.
    pub(crate) fn fd(&self) -> Option<BorrowedFd<'static>> {
        match &*self.0 {
            // SAFETY: as above.
            OutputKind::Inherit(fd) => Some(unsafe { BorrowedFd::borrow_raw(*fd) }),
            _ => None,
        }
    }
}

impl From<MemoryOutput> for Output {
    fn from(m: MemoryOutput) -> Output {
        Output(Arc::new(OutputKind::Memory(m)))
    }
}

impl std::fmt::Debug for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &*self.0 {
            OutputKind::Inherit(1) => f.write_str("Output::inherit_stdout()"),
            OutputKind::Inherit(_) => f.write_str("Output::inherit_stderr()"),
            OutputKind::Null => f.write_str("Output::null()"),
            OutputKind::Memory(_) => f.write_str("Output::from(MemoryOutput)"),
            OutputKind::Writer(_) => f.write_str("Output::writer(..)"),
        }
    }
}

/// Output kept in memory; clones share the bytes, so the embedder keeps
/// one and reads what the program wrote.
#[derive(Clone, Default)]
pub struct MemoryOutput(Arc<Mutex<Vec<u8>>>);

impl MemoryOutput {
    pub fn new() -> MemoryOutput {
        MemoryOutput::default()
    }

    /// A copy of everything written so far.
    pub fn contents(&self) -> Vec<u8> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl std::fmt::Debug for MemoryOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let len = self.0.lock().unwrap_or_else(|e| e.into_inner()).len();
        write!(f, "MemoryOutput({len} bytes)")
    }
}

/// `write(2)` until all of `bytes` is written; waits (interruptibly) when
/// the descriptor is in non-blocking mode and full.
fn write_fd(fd: BorrowedFd<'_>, mut bytes: &[u8], end: &EndSignal) -> io::Result<()> {
    while !bytes.is_empty() {
        match rustix::io::write(fd, bytes) {
            Ok(n) => bytes = &bytes[n..],
            Err(rustix::io::Errno::INTR) => {}
            Err(rustix::io::Errno::AGAIN) => {
                end.wait_writable(fd, None)?;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Writes to a pipe, terminal or socket of the process (which may be in
/// blocking mode, shared with other processes) without blocking in
/// `write(2)`: each chunk, no larger than `PIPE_BUF`, is written once
/// `poll(2)` says there is room, so a full pipe is waited for in the poll,
/// where the end of the run reaches the thread.
///
/// A pipe that polls writable has room for `PIPE_BUF` bytes, so such a
/// write cannot block, unless someone else fills the pipe between the poll
/// and the write. Within this process nobody can: the poll that decides
/// and the write that follows happen under the stream's turn
/// ([`TURN`]), taken by one thread at a time and held only for a poll that
/// does not wait and one write that does not block, so the wait for a turn
/// is short; the waits for room happen outside it, each with its run's end
/// signal. Another process writing to the same pipe can still fill it in
/// between, and then the write blocks until the pipe is read (so can a
/// terminal whose output is stopped, or has less room than a chunk); the
/// other threads' wait for the turn is then still reached by the end of
/// their run ([`take_turn`]).
fn write_polled(fd: BorrowedFd<'_>, mut bytes: &[u8], end: &EndSignal) -> io::Result<()> {
    while !bytes.is_empty() {
        {
            let _turn = take_turn(end)?;
            if has_room(fd)? {
                let chunk = &bytes[..bytes.len().min(rustix::pipe::PIPE_BUF)];
                match rustix::io::write(fd, chunk) {
                    Ok(n) => bytes = &bytes[n..],
                    Err(rustix::io::Errno::INTR | rustix::io::Errno::AGAIN) => {}
                    Err(e) => return Err(e.into()),
                }
                continue;
            }
        }
        // No room: wait for it without the turn, where the end of the run
        // reaches the thread.
        end.wait_writable(fd, None)?;
    }
    Ok(())
}

/// Whether a poll that does not wait finds room to write in `fd` (an
/// interrupted poll found none).
fn has_room(fd: BorrowedFd<'_>) -> io::Result<bool> {
    const NOW: Timespec = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    let mut polled = [PollFd::new(&fd, PollFlags::OUT)];
    match rustix::event::poll(&mut polled, Some(&NOW)) {
        Ok(_) => Ok(!polled[0].revents().is_empty()),
        Err(rustix::io::Errno::INTR) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// The turn to poll and write the process's stdout or stderr, shared by
/// every run of the process: one for both, as they may be one pipe.
static TURN: Mutex<()> = Mutex::new(());

/// Waits for [`TURN`], a tenth of a millisecond at a time, until the run
/// ends.
fn take_turn(end: &EndSignal) -> io::Result<std::sync::MutexGuard<'static, ()>> {
    loop {
        if end.is_ended() {
            return Err(io::ErrorKind::Interrupted.into());
        }
        match TURN.try_lock() {
            Ok(turn) => return Ok(turn),
            Err(std::sync::TryLockError::Poisoned(e)) => return Ok(e.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => {
                if end.sleep(std::time::Duration::from_micros(100)) {
                    return Err(io::ErrorKind::Interrupted.into());
                }
            }
        }
    }
}

/// Why a read of stdin failed.
pub(crate) enum ReadError {
    Ended,
    Os(io::Error),
}

impl From<WaitError> for ReadError {
    fn from(e: WaitError) -> ReadError {
        match e {
            WaitError::Ended => ReadError::Ended,
            WaitError::Os(e) => ReadError::Os(e),
        }
    }
}

/// The standard input of a run, as the program reads it.
pub(crate) struct StdinStream(Source);

enum Source {
    /// The process's stdin, polled before each read.
    Process,
    Memory(Mutex<Cursor<Vec<u8>>>),
    /// The embedder's reader, until the first read starts the pump, and
    /// the (non-blocking) pipe it is pumped into.
    Pumped {
        source: Mutex<Option<(Box<dyn Read + Send>, PipeWriter)>>,
        pipe: Arc<PipeReader>,
    },
}

impl StdinStream {
    pub fn new(stdin: Stdin) -> io::Result<StdinStream> {
        Ok(StdinStream(match stdin.0 {
            StdinKind::Inherit => Source::Process,
            StdinKind::Bytes(bytes) => Source::Memory(Mutex::new(Cursor::new(bytes))),
            StdinKind::Reader(reader) => {
                let (pipe, writer) = io::pipe()?;
                rustix::io::ioctl_fionbio(&pipe, true)?;
                Source::Pumped {
                    source: Mutex::new(Some((reader, writer))),
                    pipe: Arc::new(pipe),
                }
            }
        }))
    }

    /// The descriptor to poll for input, `None` when input is always ready.
    /// Starts the pump of a reader.
    pub fn poll_fd(&self, end: &Arc<EndSignal>) -> Option<BorrowedFd<'_>> {
        match &self.0 {
            Source::Process => Some(process_stdin()),
            Source::Memory(_) => None,
            Source::Pumped { pipe, .. } => {
                self.pump(end);
                Some(pipe.as_fd())
            }
        }
    }

    /// Bytes that can be read without waiting.
    pub fn ready_bytes(&self, end: &Arc<EndSignal>) -> u64 {
        match &self.0 {
            Source::Memory(c) => {
                let c = c.lock().unwrap_or_else(|e| e.into_inner());
                (c.get_ref().len() as u64).saturating_sub(c.position())
            }
            _ => self
                .poll_fd(end)
                .and_then(|fd| rustix::io::ioctl_fionread(fd).ok())
                .unwrap_or(0),
        }
    }

    /// Reads what is there, at least one byte, or 0 at the end of input;
    /// waits for input without holding any lock.
    pub fn read(&self, buf: &mut [u8], end: &Arc<EndSignal>) -> Result<usize, ReadError> {
        if let Source::Memory(c) = &self.0 {
            return c
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .read(buf)
                .map_err(ReadError::Os);
        }
        let fd = self
            .poll_fd(end)
            .expect("only memory input has no descriptor");
        loop {
            // Wait first: the process's stdin may be in blocking mode.
            end.wait_for(fd, PollFlags::IN)?;
            match rustix::io::read(fd, &mut *buf) {
                Ok(n) => return Ok(n),
                Err(rustix::io::Errno::INTR | rustix::io::Errno::AGAIN) => {}
                Err(e) => return Err(ReadError::Os(e.into())),
            }
        }
    }

    /// Starts the thread that pumps the embedder's reader into the pipe
    /// the program reads, once. It stops at the end of the input or of the
    /// run.
    fn pump(&self, end: &Arc<EndSignal>) {
        let Source::Pumped { source, pipe } = &self.0 else {
            return;
        };
        let Some((mut input, writer)) = source.lock().unwrap_or_else(|e| e.into_inner()).take()
        else {
            return;
        };
        // The pump holds the pipe's read end too, so its writes never meet
        // a closed pipe; it holds nothing else of the run.
        let reader = pipe.clone();
        let end = end.clone();
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
                    if write_fd(writer.as_fd(), &buf[..n], &end).is_err() || end.is_ended() {
                        return;
                    }
                }
            });
    }
}

fn process_stdin() -> BorrowedFd<'static> {
    // SAFETY: 0 stays open for the life of the process.
    unsafe { BorrowedFd::borrow_raw(0) }
}

/// What a stream of the process is, as preview 1 sorts descriptors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StreamKind {
    Terminal,
    File,
    /// A pipe, a socket, memory, an embedder's reader or writer.
    Other,
}

/// What the descriptor is.
pub(crate) fn kind_of(fd: Option<BorrowedFd<'_>>) -> StreamKind {
    let Some(fd) = fd else {
        return StreamKind::Other;
    };
    if rustix::termios::isatty(fd) {
        return StreamKind::Terminal;
    }
    match rustix::fs::fstat(fd) {
        Ok(st) if rustix::fs::FileType::from_raw_mode(st.st_mode).is_file() => StreamKind::File,
        _ => StreamKind::Other,
    }
}

impl StdinStream {
    /// What the program's stdin is.
    pub fn kind(&self) -> StreamKind {
        match self.0 {
            Source::Process => kind_of(Some(process_stdin())),
            _ => StreamKind::Other,
        }
    }
}
