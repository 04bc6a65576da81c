//! How a run ended.

use std::fmt;

/// The event that ended a run: the first one wins.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// `_start` returned (code 0), or a thread called `proc_exit(code)`.
    Exit(i32),
    /// The run's time limit passed.
    TimedOut,
    /// A thread trapped; `tid` 0 is the main thread.
    Trap { tid: u32, message: String },
}

/// What [`crate::Runner::run`] returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunReport {
    pub outcome: Outcome,
    /// Threads that had not stopped within the grace period after the
    /// outcome (see [`crate::Runner::grace`]). They hold no lock of the host
    /// and are left where they are; the process ends them when it exits.
    pub abandoned: usize,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Exit(code) => write!(f, "exit {code}"),
            Outcome::TimedOut => write!(f, "time limit reached"),
            Outcome::Trap { tid, message } => write!(f, "thread {tid} trapped: {message}"),
        }
    }
}
