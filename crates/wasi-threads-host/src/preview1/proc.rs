//! `proc_exit`, `proc_raise` and `sched_yield`.

use super::types::{self, Errno, Error};
use super::WasiCtx;

pub(super) fn proc_exit(cx: &WasiCtx, status: types::Exitcode) -> wasmtime::Error {
    cx.run.exit(status as i32)
}

pub(super) fn proc_raise() -> Result<(), Error> {
    Err(Errno::Notsup.into())
}

pub(super) fn sched_yield() -> Result<(), Error> {
    std::thread::yield_now();
    Ok(())
}
