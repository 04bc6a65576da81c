//! What a preview-1 descriptor names (stdio, a file, a directory, a
//! socket), the lookups every call family shares, and the stream calls
//! (stdin, stdout, stderr, sockets) that `fd_read`, `fd_write` and the
//! `sock_*` calls share.

use std::sync::Arc;

use wiggle::GuestMemory;

use super::iov::{gather, read_buffer, scatter, MAX_IO, MAX_STREAM_IO};
use super::types::{self, Errno, Error, Rights};
use super::WasiCtx;
use crate::resources::fs::{OpenDir, OpenFile};
use crate::resources::net::Socket;

/// What a descriptor names.
#[derive(Clone)]
pub(crate) enum Desc {
    /// 0, 1 or 2, served by the stdio code.
    Stdio(u32),
    File(Arc<OpenFile>),
    Dir(Arc<OpenDir>),
    Socket(Arc<Socket>),
}

/// A descriptor: what it names and its rights (see `rights`).
#[derive(Clone)]
pub(crate) struct Entry {
    pub desc: Desc,
    pub base: Rights,
    pub inheriting: Rights,
}

impl Entry {
    pub fn new(desc: Desc, base: Rights, inheriting: Rights) -> Entry {
        Entry {
            desc,
            base,
            inheriting,
        }
    }

    /// `notcapable` unless the descriptor has every right in `need`.
    pub fn require(&self, need: Rights) -> Result<(), Error> {
        if self.base.contains(need) {
            Ok(())
        } else {
            Err(Errno::Notcapable.into())
        }
    }
}

impl WasiCtx {
    /// The descriptor `fd`, whatever it is and whatever rights it has.
    pub(super) fn entry(&self, fd: types::Fd) -> Result<Entry, Error> {
        Ok(self.fds.get(u32::from(fd))?)
    }

    /// What `fd` names, when it has the rights in `need`.
    pub(super) fn get(&self, fd: types::Fd, need: Rights) -> Result<Desc, Error> {
        let entry = self.entry(fd)?;
        entry.require(need)?;
        Ok(entry.desc)
    }

    /// The directory `fd` names (`notdir` for any other descriptor), when
    /// it has the rights in `need`.
    pub(super) fn dir(&self, fd: types::Fd, need: Rights) -> Result<Arc<OpenDir>, Error> {
        let entry = self.entry(fd)?;
        match &entry.desc {
            Desc::Dir(d) => {
                entry.require(need)?;
                Ok(d.clone())
            }
            _ => Err(Errno::Notdir.into()),
        }
    }

    /// The regular file `fd` names, for the calls that use a position or
    /// an offset (`spipe` for stdio and sockets, `isdir` for a directory),
    /// when it has the rights in `need`.
    pub(super) fn file(&self, fd: types::Fd, need: Rights) -> Result<Arc<OpenFile>, Error> {
        let entry = self.entry(fd)?;
        match &entry.desc {
            Desc::Stdio(_) | Desc::Socket(_) => Err(Errno::Spipe.into()),
            Desc::Dir(_) => Err(Errno::Isdir.into()),
            Desc::File(f) if f.stream => Err(Errno::Spipe.into()),
            Desc::File(f) => {
                entry.require(need)?;
                Ok(f.clone())
            }
        }
    }

    /// The socket `fd` names (`notsock` for any other descriptor), when it
    /// has the rights in `need`; with its inheriting rights.
    pub(super) fn socket(
        &self,
        fd: types::Fd,
        need: Rights,
    ) -> Result<(Arc<Socket>, Rights), Error> {
        let entry = self.entry(fd)?;
        match &entry.desc {
            Desc::Socket(socket) => {
                entry.require(need)?;
                Ok((socket.clone(), entry.inheriting))
            }
            _ => Err(Errno::Notsock.into()),
        }
    }

    /// Adds a descriptor under the lowest free number.
    pub(super) fn insert(&self, entry: Entry) -> Result<types::Fd, Error> {
        Ok(types::Fd::from(self.fds.insert(entry)?))
    }

    /// `fd_read` and `sock_recv` of a socket.
    pub(super) fn socket_read(
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
        let n = socket.recv(self.run.end_signal(), &mut data, peek, waitall)?;
        scatter(mem, &iovs, &data[..n])
    }

    /// `fd_write` and `sock_send` of a socket.
    pub(super) fn socket_write(
        &self,
        mem: &mut GuestMemory<'_>,
        socket: &Socket,
        ciovs: types::CiovecArray,
    ) -> Result<types::Size, Error> {
        let bytes = gather(mem, ciovs)?;
        let n = socket.send(self.run.end_signal(), &bytes)?;
        Ok(n as u32)
    }

    /// `fd_read` of stdin: waits for input (or the end of the run) without
    /// holding any lock another call needs.
    pub(super) fn stdin_read(
        &self,
        mem: &mut GuestMemory<'_>,
        iovs: types::IovecArray,
    ) -> Result<types::Size, Error> {
        let (iovs, mut data) = read_buffer(mem, iovs, MAX_STREAM_IO)?;
        let n = self.stdin.read(&mut data, self.run.end_signal_arc())?;
        scatter(mem, &iovs, &data[..n])
    }

    /// `fd_read` of a FIFO or character device: what is there, waiting
    /// (in blocking mode) in the host's poll.
    pub(super) fn stream_read(
        &self,
        mem: &mut GuestMemory<'_>,
        file: &OpenFile,
        iovs: types::IovecArray,
    ) -> Result<types::Size, Error> {
        let (iovs, mut data) = read_buffer(mem, iovs, MAX_STREAM_IO)?;
        loop {
            match rustix::io::read(&file.file, &mut data[..]) {
                Ok(n) => return scatter(mem, &iovs, &data[..n]),
                Err(rustix::io::Errno::INTR) => {}
                Err(rustix::io::Errno::AGAIN) if file.is_nonblocking() => {
                    return Err(Errno::Again.into())
                }
                Err(rustix::io::Errno::AGAIN) => self
                    .run
                    .end_signal()
                    .wait_for(&file.file, rustix::event::PollFlags::IN)?,
                Err(e) => return Err(std::io::Error::from(e).into()),
            }
        }
    }

    /// `fd_write` of a FIFO or character device: everything in blocking
    /// mode (waiting in the host's poll), what fits in non-blocking mode.
    pub(super) fn stream_write(
        &self,
        mem: &mut GuestMemory<'_>,
        file: &OpenFile,
        ciovs: types::CiovecArray,
    ) -> Result<types::Size, Error> {
        let bytes = gather(mem, ciovs)?;
        let mut done = 0;
        while done < bytes.len() {
            match rustix::io::write(&file.file, &bytes[done..]) {
                Ok(n) => done += n,
                Err(rustix::io::Errno::INTR) => {}
                Err(rustix::io::Errno::AGAIN) if file.is_nonblocking() => break,
                Err(rustix::io::Errno::AGAIN) => self
                    .run
                    .end_signal()
                    .wait_for(&file.file, rustix::event::PollFlags::OUT)?,
                Err(_) if done > 0 => break,
                Err(e) => return Err(std::io::Error::from(e).into()),
            }
        }
        if done == 0 && !bytes.is_empty() {
            return Err(Errno::Again.into());
        }
        Ok(done as u32)
    }

    /// `fd_write` of stdout (1) or stderr (2).
    pub(super) fn stdio_write(
        &self,
        mem: &mut GuestMemory<'_>,
        n: u32,
        ciovs: types::CiovecArray,
    ) -> Result<types::Size, Error> {
        let out = if n == 1 { &self.stdout } else { &self.stderr };
        let bytes = gather(mem, ciovs)?;
        out.write_all(&bytes, self.run.end_signal())
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::Interrupted if self.run.is_ended() => super::errno::ending(),
                _ => Error::from(Errno::Io),
            })?;
        Ok(bytes.len() as u32)
    }
}

/// The `fdflags` of an open file.
pub(super) fn file_flags(file: &OpenFile) -> types::Fdflags {
    let mut flags = types::Fdflags::empty();
    for (on, flag) in [
        (file.is_append(), types::Fdflags::APPEND),
        (file.is_nonblocking(), types::Fdflags::NONBLOCK),
        (file.sync.sync, types::Fdflags::SYNC),
        (file.sync.dsync, types::Fdflags::DSYNC),
        (file.sync.rsync, types::Fdflags::RSYNC),
    ] {
        if on {
            flags |= flag;
        }
    }
    flags
}
