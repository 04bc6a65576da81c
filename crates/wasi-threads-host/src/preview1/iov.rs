//! Moving bytes between the guest's memory and the host: path arguments,
//! iovecs (read once: in a shared memory another thread may change them
//! during the call) and the buffers of reads and writes.

use wiggle::{GuestMemory, GuestPtr};

use super::types::{self, Errno, Error};

/// A path argument, copied out of (possibly shared) memory.
pub(super) fn read_path(mem: &GuestMemory<'_>, path: GuestPtr<str>) -> Result<String, Error> {
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
pub(super) fn read_buffer(
    mem: &GuestMemory<'_>,
    iovs: types::IovecArray,
    cap: usize,
) -> Result<(Vec<types::Iovec>, Vec<u8>), Error> {
    let iovs = read_iovecs(mem, iovs)?;
    let total: usize = iovs.iter().map(|iov| iov.buf_len as usize).sum();
    Ok((iovs, vec![0u8; total.min(cap)]))
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

/// The bytes of the ciovecs, in order.
pub(super) fn gather(mem: &GuestMemory<'_>, ciovs: types::CiovecArray) -> Result<Vec<u8>, Error> {
    let mut bytes = Vec::new();
    for ciov in ciovs.iter() {
        let ciov: types::Ciovec = mem.read(ciov?)?;
        bytes.extend_from_slice(&mem.as_cow(ciov.buf.as_array(ciov.buf_len))?);
    }
    Ok(bytes)
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

/// The most bytes one read of a file moves.
pub(super) const MAX_IO: usize = 16 << 20;
/// The most bytes one read of stdin or a socket moves: a read there
/// returns what has arrived, so the buffer need not be the guest's size.
pub(super) const MAX_STREAM_IO: usize = 256 << 10;
