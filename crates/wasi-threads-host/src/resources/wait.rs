//! Waiting in the host without outliving the run.
//!
//! Every host call that blocks (a read of stdin, `sock_accept`, a socket
//! read or write, `poll_oneoff`, and an embedder's own host functions) waits
//! in one `poll(2)` over the descriptors it needs and the run's end signal:
//! a pipe whose write end is closed when the run ends, which leaves its read
//! end readable for good. So every thread blocked in the host wakes at once
//! when the run ends, and stops as promptly as a thread running wasm. No lock
//! is held while a thread waits.

use std::io::{self, PipeReader, PipeWriter};
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec};

/// Why a wait returned without a ready descriptor or a passed deadline.
#[derive(Debug)]
pub(crate) enum WaitError {
    /// The run has ended: the waiting call must stop its thread.
    Ended,
    /// `poll(2)` itself failed: too many descriptors for the process's
    /// limit (`inval`), or no memory.
    Os(io::Error),
}

/// The end-of-run signal of one run.
///
/// Host functions that wait for something outside wasm wait through it, so
/// that the end of the run (an exit, a trap, a cancellation, a time limit)
/// wakes them: [`EndSignal::sleep`], [`EndSignal::wait_readable`],
/// [`EndSignal::wait_writable`], or their own `poll(2)` including
/// [`EndSignal::as_fd`], which becomes readable when the run ends.
pub struct EndSignal {
    reader: PipeReader,
    writer: Mutex<Option<PipeWriter>>,
    /// Set before the pipe closes, for cheap checks.
    ended: AtomicBool,
}

impl EndSignal {
    pub(crate) fn new() -> io::Result<EndSignal> {
        let (reader, writer) = io::pipe()?;
        Ok(EndSignal {
            reader,
            writer: Mutex::new(Some(writer)),
            ended: AtomicBool::new(false),
        })
    }

    /// Wakes every waiting thread, now and from now on.
    pub(crate) fn end(&self) {
        self.ended.store(true, Ordering::SeqCst);
        self.writer.lock().unwrap_or_else(|e| e.into_inner()).take();
    }

    /// Whether the run has ended.
    pub fn is_ended(&self) -> bool {
        self.ended.load(Ordering::SeqCst)
    }

    /// Sleeps for `duration`, or less when the run ends; returns whether
    /// the run has ended.
    pub fn sleep(&self, duration: Duration) -> bool {
        matches!(
            self.wait(&[], Some(Instant::now() + duration)),
            Err(WaitError::Ended)
        )
    }

    /// Waits until `fd` can be read without blocking, `deadline` passes
    /// (`Ok(false)`), or the run ends (`Err` of kind `Interrupted`).
    pub fn wait_readable(&self, fd: impl AsFd, deadline: Option<Instant>) -> io::Result<bool> {
        self.wait_one(fd.as_fd(), PollFlags::IN, deadline)
    }

    /// Like [`EndSignal::wait_readable`], for writing.
    pub fn wait_writable(&self, fd: impl AsFd, deadline: Option<Instant>) -> io::Result<bool> {
        self.wait_one(fd.as_fd(), PollFlags::OUT, deadline)
    }

    fn wait_one(
        &self,
        fd: BorrowedFd<'_>,
        events: PollFlags,
        deadline: Option<Instant>,
    ) -> io::Result<bool> {
        match self.wait(&[(fd, events)], deadline) {
            Ok(ready) => Ok(!ready[0].is_empty()),
            Err(WaitError::Ended) => Err(io::Error::new(
                io::ErrorKind::Interrupted,
                "the run has ended",
            )),
            Err(WaitError::Os(e)) => Err(e),
        }
    }

    /// Waits until one of `fds` is ready for what it is asked for, the
    /// deadline passes, or the run ends. Returns what each descriptor is
    /// ready for (all empty when the deadline passed).
    pub(crate) fn wait(
        &self,
        fds: &[(BorrowedFd<'_>, PollFlags)],
        deadline: Option<Instant>,
    ) -> Result<Vec<PollFlags>, WaitError> {
        let mut polled: Vec<PollFd<'_>> = Vec::with_capacity(fds.len() + 1);
        polled.push(PollFd::new(&self.reader, PollFlags::IN));
        for (fd, events) in fds {
            polled.push(PollFd::from_borrowed_fd(*fd, *events));
        }
        loop {
            let timeout = deadline.map(|d| {
                let left = d.saturating_duration_since(Instant::now());
                Timespec {
                    tv_sec: left.as_secs() as i64,
                    tv_nsec: left.subsec_nanos() as i64,
                }
            });
            match rustix::event::poll(&mut polled, timeout.as_ref()) {
                Ok(_) => break,
                Err(rustix::io::Errno::INTR) => continue,
                Err(_) if self.is_ended() => return Err(WaitError::Ended),
                Err(e) => return Err(WaitError::Os(e.into())),
            }
        }
        if !polled[0].revents().is_empty() {
            return Err(WaitError::Ended);
        }
        Ok(polled[1..].iter().map(|p| p.revents()).collect())
    }

    /// Waits until `fd` is ready for `events` or the run ends.
    pub(crate) fn wait_for(&self, fd: impl AsFd, events: PollFlags) -> Result<(), WaitError> {
        self.wait(&[(fd.as_fd(), events)], None).map(drop)
    }
}

impl AsFd for EndSignal {
    /// A descriptor that becomes readable (end of file) when the run ends,
    /// for an embedder's own `poll(2)`.
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.reader.as_fd()
    }
}

impl std::fmt::Debug for EndSignal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EndSignal")
            .field("ended", &self.is_ended())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_end_wakes_a_sleeper_and_every_later_wait() {
        let signal = std::sync::Arc::new(EndSignal::new().unwrap());
        let sleeper = {
            let signal = signal.clone();
            std::thread::spawn(move || {
                let started = Instant::now();
                (signal.sleep(Duration::from_secs(60)), started.elapsed())
            })
        };
        std::thread::sleep(Duration::from_millis(50));
        signal.end();
        let (ended, took) = sleeper.join().unwrap();
        assert!(ended);
        assert!(took < Duration::from_secs(30));
        assert!(signal.sleep(Duration::from_secs(60)));
        let (r, _w) = io::pipe().unwrap();
        let e = signal.wait_readable(&r, None).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::Interrupted);
    }

    #[test]
    fn a_deadline_passes_without_the_end() {
        let signal = EndSignal::new().unwrap();
        assert!(!signal.sleep(Duration::from_millis(5)));
        let (r, _w) = io::pipe().unwrap();
        let later = Instant::now() + Duration::from_millis(5);
        assert!(!signal.wait_readable(&r, Some(later)).unwrap());
    }
}
