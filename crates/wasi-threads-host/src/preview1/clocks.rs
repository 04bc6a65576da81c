//! `clock_*` and `random_get`: clocks and random bytes, from sources the
//! embedder may replace ([`Clock`], any `rand_core::RngCore`).

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use wiggle::{GuestMemory, GuestPtr};

use super::types::{self, Errno, Error};
use super::WasiCtx;

/// The clocks a program reads: `realtime` and `monotonic`.
pub trait Clock: Send + Sync {
    /// Nanoseconds since 1970-01-01 00:00:00 UTC.
    fn realtime(&self) -> u64;
    /// Nanoseconds since a fixed point of the run; never decreases.
    fn monotonic(&self) -> u64;
    /// The resolution of both, in nanoseconds.
    fn resolution(&self) -> u64 {
        1
    }
}

/// The system's clocks; monotonic time counts from the clock's creation.
#[derive(Clone, Debug)]
pub struct SystemClock {
    start: Instant,
}

impl SystemClock {
    pub fn new() -> SystemClock {
        SystemClock {
            start: Instant::now(),
        }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        SystemClock::new()
    }
}

impl Clock for SystemClock {
    fn realtime(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
    }

    fn monotonic(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }
}

/// The operating system's random source.
pub(super) struct OsRandom;

impl rand_core::RngCore for OsRandom {
    fn next_u32(&mut self) -> u32 {
        rand_core::impls::next_u32_via_fill(self)
    }

    fn next_u64(&mut self) -> u64 {
        rand_core::impls::next_u64_via_fill(self)
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        getrandom::fill(dest).expect("the operating system gives random bytes");
    }
}

pub(super) fn clock_res_get(cx: &WasiCtx, id: types::Clockid) -> Result<types::Timestamp, Error> {
    match id {
        types::Clockid::Realtime | types::Clockid::Monotonic => Ok(cx.clock.resolution()),
        _ => Err(Errno::Badf.into()),
    }
}

pub(super) fn clock_time_get(cx: &WasiCtx, id: types::Clockid) -> Result<types::Timestamp, Error> {
    match id {
        types::Clockid::Realtime => Ok(cx.clock.realtime()),
        types::Clockid::Monotonic => Ok(cx.clock.monotonic()),
        _ => Err(Errno::Badf.into()),
    }
}

pub(super) fn random_get(
    cx: &WasiCtx,
    mem: &mut GuestMemory<'_>,
    buf: GuestPtr<u8>,
    len: types::Size,
) -> Result<(), Error> {
    // The whole range is checked first; the bytes go out in chunks, so the
    // host allocates at most one chunk whatever the length.
    super::iov::check_range(mem, buf.offset(), len)?;
    const CHUNK: u32 = 64 << 10;
    let mut bytes = vec![0; CHUNK.min(len) as usize];
    let mut done = 0;
    while done < len {
        let n = CHUNK.min(len - done);
        let chunk = &mut bytes[..n as usize];
        cx.random
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .fill_bytes(chunk);
        mem.copy_from_slice(chunk, buf.add(done)?.as_array(n))?;
        done += n;
    }
    Ok(())
}
