//! Waiting in the host without outliving the run.
//!
//! Every call that blocks (a read of stdin, `sock_accept`, a socket read or
//! write, `poll_oneoff`) waits in one `poll(2)` over the descriptors it
//! needs and the run's ending pipe. [`Ending::end`] closes the pipe's write
//! end, which leaves its read end readable for good, so every thread blocked
//! in the host wakes at once when the run ends, and stops as promptly as a
//! thread running wasm. No lock is held while a thread waits.

use std::io::{self, PipeReader, PipeWriter};
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::Mutex;
use std::time::Instant;

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

/// The run's ending pipe.
pub(crate) struct Ending {
    reader: PipeReader,
    writer: Mutex<Option<PipeWriter>>,
}

impl Ending {
    pub fn new() -> io::Result<Ending> {
        let (reader, writer) = io::pipe()?;
        Ok(Ending {
            reader,
            writer: Mutex::new(Some(writer)),
        })
    }

    /// Wakes every waiting thread, now and from now on.
    pub fn end(&self) {
        self.writer.lock().unwrap().take();
    }

    pub fn has_ended(&self) -> bool {
        self.writer.lock().unwrap().is_none()
    }

    /// Waits until one of `fds` is ready for what it is asked for, the
    /// deadline passes, or the run ends. Returns what each descriptor is
    /// ready for (all empty when the deadline passed).
    pub fn wait(
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
                Err(_) if self.has_ended() => return Err(WaitError::Ended),
                Err(e) => return Err(WaitError::Os(e.into())),
            }
        }
        if !polled[0].revents().is_empty() {
            return Err(WaitError::Ended);
        }
        Ok(polled[1..].iter().map(|p| p.revents()).collect())
    }

    /// Waits until `fd` is ready for `events` or the run ends.
    pub fn wait_for(&self, fd: impl AsFd, events: PollFlags) -> Result<(), WaitError> {
        self.wait(&[(fd.as_fd(), events)], None).map(drop)
    }
}
