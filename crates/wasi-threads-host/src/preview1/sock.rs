//! `sock_*`: calls on preopened stream sockets and their connections.

use std::sync::Arc;

use wiggle::GuestMemory;

use super::descriptors::{Desc, Entry};
use super::rights;
use super::types::{self, Errno, Error, Rights as R};
use super::WasiCtx;

pub(super) fn sock_accept(
    cx: &WasiCtx,
    fd: types::Fd,
    flags: types::Fdflags,
) -> Result<types::Fd, Error> {
    let (socket, inheriting) = cx.socket(fd, R::SOCK_ACCEPT)?;
    if !(flags - types::Fdflags::NONBLOCK).is_empty() {
        return Err(Errno::Inval.into());
    }
    let stream = socket
        .accept(
            cx.run.end_signal(),
            flags.contains(types::Fdflags::NONBLOCK),
        )
        .map_err(Error::from)?;
    cx.insert(Entry::new(
        Desc::Socket(Arc::new(stream)),
        inheriting & rights::connection(),
        R::empty(),
    ))
}

pub(super) fn sock_recv(
    cx: &WasiCtx,
    mem: &mut GuestMemory<'_>,
    fd: types::Fd,
    iovs: types::IovecArray,
    flags: types::Riflags,
) -> Result<(types::Size, types::Roflags), Error> {
    let (socket, _) = cx.socket(fd, R::FD_READ)?;
    let n = cx.socket_read(
        mem,
        &socket,
        iovs,
        flags.contains(types::Riflags::RECV_PEEK),
        flags.contains(types::Riflags::RECV_WAITALL),
    )?;
    // Stream sockets never truncate.
    Ok((n, types::Roflags::empty()))
}

pub(super) fn sock_send(
    cx: &WasiCtx,
    mem: &mut GuestMemory<'_>,
    fd: types::Fd,
    ciovs: types::CiovecArray,
    flags: types::Siflags,
) -> Result<types::Size, Error> {
    let (socket, _) = cx.socket(fd, R::FD_WRITE)?;
    // Preview 1 defines no send flags.
    if flags != 0 {
        return Err(Errno::Inval.into());
    }
    cx.socket_write(mem, &socket, ciovs)
}

pub(super) fn sock_shutdown(cx: &WasiCtx, fd: types::Fd, how: types::Sdflags) -> Result<(), Error> {
    let (socket, _) = cx.socket(fd, R::SOCK_SHUTDOWN)?;
    socket
        .shutdown(
            how.contains(types::Sdflags::RD),
            how.contains(types::Sdflags::WR),
        )
        .map_err(Error::from)
}
