//! `args_*` and `environ_*`: the program's arguments and environment.

use wiggle::{GuestMemory, GuestPtr};

use super::types::{self, Error};
use super::WasiCtx;

pub(super) fn args_get(
    cx: &WasiCtx,
    mem: &mut GuestMemory<'_>,
    argv: GuestPtr<GuestPtr<u8>>,
    argv_buf: GuestPtr<u8>,
) -> Result<(), Error> {
    write_strings(mem, &cx.args, argv, argv_buf)
}

pub(super) fn args_sizes_get(cx: &WasiCtx) -> Result<(types::Size, types::Size), Error> {
    sizes(&cx.args)
}

pub(super) fn environ_get(
    cx: &WasiCtx,
    mem: &mut GuestMemory<'_>,
    environ: GuestPtr<GuestPtr<u8>>,
    environ_buf: GuestPtr<u8>,
) -> Result<(), Error> {
    write_strings(mem, &cx.env, environ, environ_buf)
}

pub(super) fn environ_sizes_get(cx: &WasiCtx) -> Result<(types::Size, types::Size), Error> {
    sizes(&cx.env)
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
