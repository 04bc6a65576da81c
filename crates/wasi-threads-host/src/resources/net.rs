//! Sockets: the stream sockets an embedder preopens, and the connections
//! `sock_accept` takes from its listeners.
//!
//! Preview 1 cannot create, bind or connect a socket; a guest only uses
//! what the host hands it. A socket is kept non-blocking at the OS level:
//! a call the guest made in blocking mode (the default) waits in the run's
//! [`EndSignal`] poll, so it never holds a lock, never stalls another thread,
//! and stops when the run ends. In non-blocking mode (`fdflags::nonblock`,
//! per descriptor) such a call answers `again` instead.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rustix::event::PollFlags;
use rustix::net::{RecvFlags, SendFlags, SocketFlags, SocketType};

use super::wait::{EndSignal, WaitError};

/// One socket descriptor.
pub(crate) struct Socket {
    fd: OwnedFd,
    /// Whether it listens (`sock_accept`) rather than carries a stream.
    pub listener: bool,
    /// The guest's `fdflags::nonblock` for this descriptor.
    nonblocking: AtomicBool,
}

/// Why a socket call failed.
pub(crate) enum NetError {
    Os(io::Error),
    /// Non-blocking mode, and the call would block.
    Again,
    Ended,
}

impl From<WaitError> for NetError {
    fn from(e: WaitError) -> NetError {
        match e {
            WaitError::Ended => NetError::Ended,
            WaitError::Os(e) => NetError::Os(e),
        }
    }
}

impl From<rustix::io::Errno> for NetError {
    fn from(e: rustix::io::Errno) -> NetError {
        NetError::Os(e.into())
    }
}

impl Socket {
    /// Takes over a socket the embedder preopens: a listening or connected
    /// stream socket.
    pub fn preopened(fd: OwnedFd) -> Result<Socket, String> {
        let kind = rustix::net::sockopt::socket_type(&fd)
            .map_err(|e| format!("a preopened socket is not a socket: {e}"))?;
        if kind != SocketType::STREAM {
            return Err(format!(
                "a preopened socket must be a stream socket (TCP or Unix stream), not {kind:?}"
            ));
        }
        let listener = rustix::net::sockopt::socket_acceptconn(&fd)
            .map_err(|e| format!("cannot read the state of a preopened socket: {e}"))?;
        rustix::io::ioctl_fionbio(&fd, true)
            .map_err(|e| format!("cannot make a preopened socket non-blocking: {e}"))?;
        Ok(Socket {
            fd,
            listener,
            nonblocking: AtomicBool::new(false),
        })
    }

    pub fn is_nonblocking(&self) -> bool {
        self.nonblocking.load(Ordering::Relaxed)
    }

    pub fn set_nonblocking(&self, on: bool) {
        self.nonblocking.store(on, Ordering::Relaxed);
    }

    /// Runs `op` until it does not answer "would block", waiting for
    /// `events` in between (or answering `again` in non-blocking mode).
    fn blocking<T>(
        &self,
        ending: &EndSignal,
        events: PollFlags,
        mut op: impl FnMut() -> rustix::io::Result<T>,
    ) -> Result<T, NetError> {
        loop {
            match op() {
                Ok(v) => return Ok(v),
                Err(rustix::io::Errno::INTR) => {}
                Err(rustix::io::Errno::AGAIN) if self.is_nonblocking() => {
                    return Err(NetError::Again)
                }
                Err(rustix::io::Errno::AGAIN) => ending.wait_for(&self.fd, events)?,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// `sock_accept`: the next connection, as a stream socket.
    pub fn accept(&self, ending: &EndSignal, nonblocking: bool) -> Result<Socket, NetError> {
        let fd = self.blocking(ending, PollFlags::IN, || {
            rustix::net::accept_with(&self.fd, SocketFlags::NONBLOCK | SocketFlags::CLOEXEC)
        })?;
        Ok(Socket {
            fd,
            listener: false,
            nonblocking: AtomicBool::new(nonblocking),
        })
    }

    /// Reads into `buf`: at least one byte, or 0 at the end of the stream.
    /// `waitall` keeps reading until `buf` is full or the stream ends;
    /// `peek` leaves the bytes to be read again.
    pub fn recv(
        &self,
        ending: &EndSignal,
        buf: &mut [u8],
        peek: bool,
        waitall: bool,
    ) -> Result<usize, NetError> {
        let flags = if peek {
            RecvFlags::PEEK
        } else {
            RecvFlags::empty()
        };
        let mut done = 0;
        loop {
            let n = match self.blocking(ending, PollFlags::IN, || {
                rustix::net::recv(&self.fd, &mut buf[done..], flags).map(|(n, _)| n)
            }) {
                Ok(n) => n,
                // What arrived before a failure stays the caller's, as on
                // POSIX; the failure shows on the next call.
                Err(NetError::Ended) => return Err(NetError::Ended),
                Err(_) if done > 0 => return Ok(done),
                Err(e) => return Err(e),
            };
            if peek {
                // Peeking moves nothing, so the socket stays readable and
                // poll cannot say when more has come: a peek that must see
                // the whole buffer looks again every millisecond, until the
                // peer shuts its side down.
                if !waitall || n == 0 || n == buf.len() || self.is_nonblocking() {
                    return Ok(n);
                }
                let deadline = Some(Instant::now() + Duration::from_millis(1));
                let revents = ending.wait(&[(self.fd.as_fd(), PollFlags::RDHUP)], deadline)?;
                if revents[0].intersects(PollFlags::RDHUP | PollFlags::HUP | PollFlags::ERR) {
                    return Ok(n);
                }
                continue;
            }
            done += n;
            if !waitall || n == 0 || done == buf.len() {
                return Ok(done);
            }
        }
    }

    /// Writes `bytes`: all of them in blocking mode, as many as the socket
    /// takes without waiting in non-blocking mode (`again` if none). Never
    /// raises SIGPIPE: a write to a closed connection answers `pipe`.
    pub fn send(&self, ending: &EndSignal, bytes: &[u8]) -> Result<usize, NetError> {
        let mut done = 0;
        while done < bytes.len() {
            match self.blocking(ending, PollFlags::OUT, || {
                rustix::net::send(&self.fd, &bytes[done..], SendFlags::NOSIGNAL)
            }) {
                Ok(n) => done += n,
                Err(NetError::Ended) => return Err(NetError::Ended),
                // What went out before a failure counts, as on POSIX.
                Err(_) if done > 0 => return Ok(done),
                Err(e) => return Err(e),
            }
        }
        Ok(done)
    }

    pub fn shutdown(&self, read: bool, write: bool) -> Result<(), NetError> {
        let how = match (read, write) {
            (true, true) => rustix::net::Shutdown::Both,
            (true, false) => rustix::net::Shutdown::Read,
            (false, true) => rustix::net::Shutdown::Write,
            (false, false) => return Err(NetError::Os(io::ErrorKind::InvalidInput.into())),
        };
        Ok(rustix::net::shutdown(&self.fd, how)?)
    }

    /// Bytes that can be read without waiting, for `poll_oneoff`.
    pub fn ready_bytes(&self) -> u64 {
        if self.listener {
            0
        } else {
            rustix::io::ioctl_fionread(&self.fd).unwrap_or(0)
        }
    }

    pub fn stat(&self) -> io::Result<rustix::fs::Stat> {
        Ok(rustix::fs::fstat(&self.fd)?)
    }
}

impl AsFd for Socket {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.fd.as_fd()
    }
}
