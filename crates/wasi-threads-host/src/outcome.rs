//! How a run ended, and what its report says.

use std::fmt;
use std::sync::Arc;

/// The event that ended a run: the first one wins.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Outcome {
    /// `_start` returned (code 0), or a thread called `proc_exit(code)`
    /// (or an embedder's host function ended the run with a code).
    Exit(i32),
    /// A thread trapped (wasm trap, or a host function's error).
    Trap(ThreadTrap),
    /// The run's time limit passed.
    TimedOut,
    /// The embedder cancelled the run ([`crate::Run::cancel`]).
    Cancelled,
    /// A host function panicked on thread `tid` (0 is the main thread).
    /// The panic is contained: the run ends, the process goes on.
    Panic { tid: u32, message: String },
}

/// A trap in one thread.
#[derive(Clone)]
pub struct ThreadTrap {
    /// The thread's id; 0 is the main thread.
    pub tid: u32,
    /// The root cause, as one line (`wasm trap: ...`, or a host function's
    /// error).
    pub message: String,
    /// The error wasmtime returned, with its context and backtrace.
    pub error: Arc<wasmtime::Error>,
}

impl ThreadTrap {
    pub(crate) fn new(tid: u32, error: wasmtime::Error) -> ThreadTrap {
        ThreadTrap {
            tid,
            message: error.root_cause().to_string(),
            error: Arc::new(error),
        }
    }

    /// The kind of wasm trap, when it was one.
    pub fn trap_code(&self) -> Option<wasmtime::Trap> {
        self.error.downcast_ref::<wasmtime::Trap>().copied()
    }

    /// The wasm frames at the trap, when wasmtime captured them.
    pub fn backtrace(&self) -> Option<&wasmtime::WasmBacktrace> {
        self.error.downcast_ref::<wasmtime::WasmBacktrace>()
    }
}

impl fmt::Debug for ThreadTrap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThreadTrap")
            .field("tid", &self.tid)
            .field("message", &self.message)
            .finish_non_exhaustive()
    }
}

/// Outcomes compare by what happened: a trap by its thread and message.
impl PartialEq for Outcome {
    fn eq(&self, other: &Outcome) -> bool {
        match (self, other) {
            (Outcome::Exit(a), Outcome::Exit(b)) => a == b,
            (Outcome::Trap(a), Outcome::Trap(b)) => a.tid == b.tid && a.message == b.message,
            (Outcome::TimedOut, Outcome::TimedOut) => true,
            (Outcome::Cancelled, Outcome::Cancelled) => true,
            (
                Outcome::Panic { tid, message },
                Outcome::Panic {
                    tid: t2,
                    message: m2,
                },
            ) => tid == t2 && message == m2,
            _ => false,
        }
    }
}

impl Eq for Outcome {}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Exit(code) => write!(f, "exit {code}"),
            Outcome::TimedOut => write!(f, "time limit reached"),
            Outcome::Cancelled => write!(f, "cancelled"),
            Outcome::Trap(t) => write!(f, "thread {} trapped: {}", t.tid, t.message),
            Outcome::Panic { tid, message } => {
                write!(f, "a host function panicked in thread {tid}: {message}")
            }
        }
    }
}

/// Why `thread-spawn` refused to start a thread (it returned a negative
/// value to the guest).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SpawnRefusal {
    /// The limit of live threads was reached (`again`).
    ThreadLimit { limit: usize },
    /// Every thread id in [1, 2^29) is live (`overflow`).
    NoThreadId,
    /// The module exports no `wasi_thread_start (param i32 i32)` (`inval`).
    NoEntryPoint,
    /// Instantiating the new thread failed (`nomem`): a resource limit, or
    /// a trap in a start function.
    Instantiate { message: String },
    /// The operating system refused a thread (`io`).
    Os { message: String },
}

impl fmt::Display for SpawnRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpawnRefusal::ThreadLimit { limit } => {
                write!(f, "the limit of {limit} live threads was reached")
            }
            SpawnRefusal::NoThreadId => f.write_str("every thread id is in use"),
            SpawnRefusal::NoEntryPoint => {
                f.write_str("the module exports no `wasi_thread_start (param i32 i32)`")
            }
            SpawnRefusal::Instantiate { message } => {
                write!(
                    f,
                    "the new thread's instance could not be created: {message}"
                )
            }
            SpawnRefusal::Os { message } => {
                write!(f, "the operating system refused a thread: {message}")
            }
        }
    }
}

/// What waiting for a run returns.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RunReport {
    pub outcome: Outcome,
    /// Threads that had not stopped within the grace period after the
    /// outcome (see [`crate::Run::set_grace`]). They hold no lock of the
    /// host and are left where they are; the process ends them when it
    /// exits.
    pub abandoned: usize,
    /// The first `thread-spawn` the host refused, if any.
    pub refused_spawn: Option<SpawnRefusal>,
}

impl RunReport {
    /// A report, as [`crate::Run::wait`] makes them (for code that handles
    /// reports, and its tests).
    pub fn new(outcome: Outcome, abandoned: usize, refused_spawn: Option<SpawnRefusal>) -> Self {
        RunReport {
            outcome,
            abandoned,
            refused_spawn,
        }
    }
}
