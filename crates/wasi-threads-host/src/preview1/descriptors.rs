//! What a preview-1 descriptor names (stdio, a file, a directory, a
//! socket), the lookups every call family shares, and the stream calls
//! (stdin, stdout, stderr, sockets) that `fd_read`, `fd_write` and the
//! `sock_*` calls share.

use std::sync::Arc;

use wiggle::GuestMemory;

use super::iov::{gather, read_buffer, scatter, MAX_IO, MAX_STREAM_IO};
use super::types::{self, Errno, Error};
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

impl WasiCtx {
    pub(super) fn get(&self, fd: types::Fd) -> Result<Desc, Error> {
        Ok(self.fds.get(u32::from(fd))?)
    }

    /// The directory `fd` names: `notdir` for any other descriptor.
    pub(super) fn dir(&self, fd: types::Fd) -> Result<Arc<OpenDir>, Error> {
        match self.get(fd)? {
            Desc::Dir(d) => Ok(d),
            _ => Err(Errno::Notdir.into()),
        }
    }

    /// The regular file `fd` names, for the calls that use a position or
    /// an offset: `spipe` for stdio and sockets, `isdir` for a directory.
    pub(super) fn file(&self, fd: types::Fd) -> Result<Arc<OpenFile>, Error> {
        match self.get(fd)? {
            Desc::Stdio(_) | Desc::Socket(_) => Err(Errno::Spipe.into()),
            Desc::Dir(_) => Err(Errno::Isdir.into()),
            Desc::File(f) => Ok(f),
        }
    }

    /// The socket `fd` names: `notsock` for any other descriptor.
    pub(super) fn socket(&self, fd: types::Fd) -> Result<Arc<Socket>, Error> {
        match self.get(fd)? {
            Desc::Socket(socket) => Ok(socket),
            _ => Err(Errno::Notsock.into()),
        }
    }

    /// Adds a descriptor under the lowest free number.
    pub(super) fn insert(&self, desc: Desc) -> Result<types::Fd, Error> {
        Ok(types::Fd::from(self.fds.insert(desc)?))
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
    if file.is_append() {
        flags |= types::Fdflags::APPEND;
    }
    if file.is_nonblocking() {
        flags |= types::Fdflags::NONBLOCK;
    }
    flags
}
