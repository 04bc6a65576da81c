//! Moving bytes between the guest's memory and the host: path arguments,
//! iovecs (read once: in a shared memory another thread may change them
//! during the call) and the buffers of reads and writes.
//!
//! What the host allocates for one call is bounded whatever the guest
//! asks: every pointer and length is checked against the memory before
//! anything is allocated, a read or write moves at most [`MAX_IO`] bytes
//! (a shorter count is a legal preview-1 result), at most [`MAX_IOVS`]
//! iovecs are taken (`inval` beyond, as POSIX's `IOV_MAX`), and a path is at
//! most [`MAX_PATH`] bytes (`nametoolong` beyond).

use wiggle::{GuestMemory, GuestPtr};

use super::types::{self, Errno, Error};

/// The most bytes one read or write moves, and so the most one call
/// allocates for its data: the bytes of a write are copied once, straight
/// from the guest's memory (shared or not) into one buffer of at most this
/// size.
pub const MAX_IO: usize = 16 << 20;
/// The most bytes one read of stdin or a socket moves: a read there
/// returns what has arrived, so the buffer need not be the guest's size.
pub(super) const MAX_STREAM_IO: usize = 256 << 10;
/// The most iovecs one call takes.
pub const MAX_IOVS: u32 = 1024;
/// The longest path argument, in bytes.
pub const MAX_PATH: u32 = 4096;

/// The size of the guest's memory.
pub(super) fn memory_len(mem: &GuestMemory<'_>) -> u64 {
    match mem {
        GuestMemory::Unshared(b) => b.len() as u64,
        GuestMemory::Shared(b) => b.len() as u64,
    }
}

/// `fault` unless `len` bytes at `offset` are inside the memory.
pub(super) fn check_range(mem: &GuestMemory<'_>, offset: u32, len: u32) -> Result<(), Error> {
    if offset as u64 + len as u64 <= memory_len(mem) {
        Ok(())
    } else {
        Err(Errno::Fault.into())
    }
}

/// A path argument, copied out of (possibly shared) memory.
pub(super) fn read_path(mem: &GuestMemory<'_>, path: GuestPtr<str>) -> Result<String, Error> {
    if path.len() > MAX_PATH {
        return Err(Errno::Nametoolong.into());
    }
    let bytes = mem.to_vec(path.as_bytes())?;
    String::from_utf8(bytes).map_err(|_| Errno::Ilseq.into())
}

/// The iovecs, read once (in a shared memory another thread may change
/// them during the call), each checked against the memory.
fn read_iovecs(mem: &GuestMemory<'_>, iovs: types::IovecArray) -> Result<Vec<types::Iovec>, Error> {
    if iovs.len() > MAX_IOVS {
        return Err(Errno::Inval.into());
    }
    let iovs: Vec<types::Iovec> = iovs
        .iter()
        .map(|iov| mem.read(iov?))
        .collect::<Result<_, wiggle::GuestError>>()?;
    for iov in &iovs {
        check_range(mem, iov.buf.offset(), iov.buf_len)?;
    }
    Ok(iovs)
}

/// The iovecs of a read, and a buffer for what they can take, at most
/// `cap` bytes; [`scatter`] then copies what was read into them.
pub(super) fn read_buffer(
    mem: &GuestMemory<'_>,
    iovs: types::IovecArray,
    cap: usize,
) -> Result<(Vec<types::Iovec>, Vec<u8>), Error> {
    let iovs = read_iovecs(mem, iovs)?;
    let total: u64 = iovs.iter().map(|iov| iov.buf_len as u64).sum();
    Ok((iovs, vec![0u8; total.min(cap as u64) as usize]))
}

/// Copies `data` into the iovecs in order; returns how much was copied.
pub(super) fn scatter(
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

/// The bytes of the ciovecs, in order, at most [`MAX_IO`] of them (the
/// write is then short).
pub(super) fn gather(mem: &GuestMemory<'_>, ciovs: types::CiovecArray) -> Result<Vec<u8>, Error> {
    if ciovs.len() > MAX_IOVS {
        return Err(Errno::Inval.into());
    }
    let ciovs: Vec<types::Ciovec> = ciovs
        .iter()
        .map(|c| mem.read(c?))
        .collect::<Result<_, wiggle::GuestError>>()?;
    let mut total: u64 = 0;
    for ciov in &ciovs {
        check_range(mem, ciov.buf.offset(), ciov.buf_len)?;
        total += ciov.buf_len as u64;
    }
    let mut bytes = Vec::with_capacity(total.min(MAX_IO as u64) as usize);
    for ciov in &ciovs {
        let take = (ciov.buf_len as usize).min(MAX_IO - bytes.len());
        if take > 0 {
            extend_from_guest(mem, ciov.buf.offset(), take, &mut bytes)?;
        }
    }
    Ok(bytes)
}

/// Appends the `len` bytes at `offset` of the guest's memory to `out`,
/// copied once: wiggle's `as_cow` would first copy a shared memory's bytes
/// into a vector of their own, doubling what a write holds.
fn extend_from_guest(
    mem: &GuestMemory<'_>,
    offset: u32,
    len: usize,
    out: &mut Vec<u8>,
) -> Result<(), Error> {
    let start = offset as usize;
    let end = start
        .checked_add(len)
        .filter(|&end| end as u64 <= memory_len(mem))
        .ok_or(Errno::Fault)?;
    match mem {
        GuestMemory::Unshared(b) => out.extend_from_slice(&b[start..end]),
        GuestMemory::Shared(cells) => {
            let cells = &cells[start..end];
            out.reserve(len);
            // SAFETY: `cells` lies inside the shared memory, which stays
            // mapped for the call; `out` has room for `len` more bytes. Other
            // threads may change the bytes while they are copied, as they
            // may during any host call; this is the copy wiggle's own
            // `GuestMemory::to_vec` makes, without its extra vector.
            unsafe {
                std::ptr::copy(
                    cells.as_ptr().cast::<u8>(),
                    out.as_mut_ptr().add(out.len()),
                    len,
                );
                out.set_len(out.len() + len);
            }
        }
    }
    Ok(())
}

/// Reads at `offset` until `buf` is full or the file ends.
pub(super) fn read_full_at(
    file: &std::fs::File,
    buf: &mut [u8],
    offset: u64,
) -> std::io::Result<usize> {
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
