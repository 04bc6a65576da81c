//! The run handle: one program's run, shared by its threads, its preview-1
//! context and the embedder.
//!
//! A [`Run`] records the first event that ends the program (its
//! [`Outcome`]), counts the threads still running, and stops them when the
//! run ends: it signals the end (host waits wake at once, see
//! [`EndSignal`]), advances the Engine's epoch so that each of the run's
//! stores traps at its next epoch check (the store's epoch callback asks
//! this run whether it has ended, so other stores of the same Engine run
//! on), and calls what the threads part registered to wake threads parked
//! in `memory.atomic.wait`. It knows nothing of WASI or of wasi-threads.

use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use wasmtime::{Engine, Store, UpdateDeadline};

use crate::outcome::{Outcome, RunReport, SpawnRefusal, ThreadTrap};
use crate::resources::wait::EndSignal;
use crate::Error;

/// The error a thread unwinds with when its program exits with a code:
/// returned by `proc_exit` and by [`Run::exit`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct I32Exit(pub i32);

impl fmt::Display for I32Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "exit with code {}", self.0)
    }
}

impl std::error::Error for I32Exit {}

/// The error a thread of an ended run unwinds with.
#[derive(Clone, Copy, Debug)]
pub struct RunEnded;

impl fmt::Display for RunEnded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the run has ended")
    }
}

impl std::error::Error for RunEnded {}

type Stopper = Box<dyn Fn(Instant) + Send + Sync>;
type AfterStop = Box<dyn FnOnce() + Send>;
/// Reports how a run ended and gives the process's exit code.
pub(crate) type ExitReport = Arc<dyn Fn(&RunReport) -> i32 + Send + Sync>;

/// One run of a program; clones are handles to the same run.
///
/// Create one per run with [`Run::new`], give it to the parts
/// ([`crate::preview1::WasiCtxBuilder::build`],
/// [`crate::threads::WasiThreadsCtx::builder`]), then [`Run::wait`] for its
/// report, from any thread; [`Run::cancel`] ends it from any thread.
#[derive(Clone)]
pub struct Run {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    end: Arc<EndSignal>,
    state: Mutex<State>,
    changed: Condvar,
    stoppers: Mutex<Vec<Stopper>>,
    after_stop: Mutex<Vec<AfterStop>>,
    /// Set in process-exit mode: the outcome ends the process.
    exit_process: Option<ExitReport>,
}

struct State {
    outcome: Option<Outcome>,
    /// Threads whose wasm is running, the main thread included.
    running: usize,
    refused_spawn: Option<SpawnRefusal>,
    time_limit: Option<Instant>,
    grace: Duration,
    /// Set once the threads were stopped (or given up on).
    report: Option<RunReport>,
}

impl Run {
    /// A run on `engine`, which must have epoch interruption on (see
    /// [`crate::configure`]).
    pub fn new(engine: &Engine) -> Result<Run, Error> {
        crate::engine::check_ending(engine)?;
        Run::with_ending(engine, None)
    }

    /// A run that ends the process as soon as it has an outcome (the
    /// process-exit mode of [`crate::Runner::exit_process`]): `report`
    /// says how the run ended and gives the exit code. Threads are never
    /// stopped one by one, so the Engine needs no epoch interruption.
    pub(crate) fn exiting_process(engine: &Engine, report: ExitReport) -> Result<Run, Error> {
        Run::with_ending(engine, Some(report))
    }

    fn with_ending(engine: &Engine, exit_process: Option<ExitReport>) -> Result<Run, Error> {
        let end = EndSignal::new().map_err(|source| Error::Io {
            what: "create the run's end signal",
            source,
        })?;
        Ok(Run {
            inner: Arc::new(Inner {
                engine: engine.clone(),
                end: Arc::new(end),
                state: Mutex::new(State {
                    outcome: None,
                    running: 0,
                    refused_spawn: None,
                    time_limit: None,
                    grace: Duration::from_secs(1),
                    report: None,
                }),
                changed: Condvar::new(),
                stoppers: Mutex::new(Vec::new()),
                after_stop: Mutex::new(Vec::new()),
                exit_process,
            }),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// Ends the run with [`Outcome::TimedOut`] `limit` from now, unless it
    /// has ended before. Enforced while someone waits ([`Run::wait`],
    /// [`Run::wait_outcome_timeout`]).
    pub fn set_time_limit(&self, limit: Duration) {
        self.state().time_limit = Some(Instant::now() + limit);
        self.inner.changed.notify_all();
    }

    /// How long [`Run::wait`] waits, once the outcome is known, for the
    /// threads to stop (default 1 s); those still running then are
    /// reported as abandoned.
    pub fn set_grace(&self, grace: Duration) {
        self.state().grace = grace;
    }

    /// The end-of-run signal, for host functions that wait.
    pub fn end_signal(&self) -> &EndSignal {
        &self.inner.end
    }

    pub(crate) fn end_signal_arc(&self) -> &Arc<EndSignal> {
        &self.inner.end
    }

    /// Whether the run has an outcome (it may still be stopping threads).
    pub fn is_ended(&self) -> bool {
        self.inner.end.is_ended()
    }

    /// The outcome, once there is one.
    pub fn outcome(&self) -> Option<Outcome> {
        self.state().outcome.clone()
    }

    /// Records `outcome` unless the run already has one, and stops every
    /// thread: those waiting in the host wake, those running wasm trap at
    /// their next loop header or call. Returns whether this outcome won.
    pub(crate) fn end(&self, outcome: Outcome) -> bool {
        let mut st = self.state();
        if st.outcome.is_some() {
            return false;
        }
        st.outcome = Some(outcome.clone());
        let refused_spawn = st.refused_spawn.clone();
        drop(st);
        self.inner.end.end();
        if let Some(report) = &self.inner.exit_process {
            // Output is never buffered in the host: what the program wrote
            // is out. Every other thread ends with the process.
            let code = report(&RunReport::new(outcome, 0, refused_spawn));
            std::process::exit(code);
        }
        self.inner.engine.increment_epoch();
        self.inner.changed.notify_all();
        true
    }

    /// Ends the run with exit code `code`; returns the error a host
    /// function returns to unwind its thread:
    ///
    /// ```
    /// # use wasi_threads_host::Run;
    /// fn quit(run: &Run, code: i32) -> wasmtime::Result<()> {
    ///     Err(run.exit(code))
    /// }
    /// ```
    pub fn exit(&self, code: i32) -> wasmtime::Error {
        self.end(Outcome::Exit(code));
        wasmtime::Error::new(I32Exit(code))
    }

    /// Ends the run with [`Outcome::Cancelled`], unless it has ended.
    pub fn cancel(&self) {
        self.end(Outcome::Cancelled);
    }

    /// Makes `store` trap at its next epoch check once this run has ended;
    /// other stores of the Engine are not affected. Replaces the store's
    /// epoch deadline behaviour.
    pub fn configure_store<T: 'static>(&self, store: &mut Store<T>) {
        if !self.inner.engine.get_epoch_interruption() {
            // Process-exit mode: nothing to check in compiled code.
            return;
        }
        let end = self.inner.end.clone();
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |_| {
            if end.is_ended() {
                Err(wasmtime::Error::new(RunEnded))
            } else {
                Ok(UpdateDeadline::Continue(1))
            }
        });
    }

    /// Counts a thread as running until its guard finishes. Fails when the
    /// run has ended.
    pub fn enter_thread(&self, tid: u32) -> Result<ThreadGuard, RunEnded> {
        let mut st = self.state();
        if st.outcome.is_some() {
            return Err(RunEnded);
        }
        st.running += 1;
        Ok(ThreadGuard {
            run: self.clone(),
            tid,
            done: false,
        })
    }

    /// Records the first refused `thread-spawn`.
    pub(crate) fn record_refusal(&self, refusal: SpawnRefusal) {
        let mut st = self.state();
        if st.refused_spawn.is_none() {
            st.refused_spawn = Some(refusal);
        }
    }

    /// Adds a step of stopping threads, called again and again (with the
    /// grace deadline) until every thread has stopped.
    pub(crate) fn on_stop(&self, stop: impl Fn(Instant) + Send + Sync + 'static) {
        self.inner
            .stoppers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Box::new(stop));
    }

    /// Adds something to do once the threads have stopped (or been given
    /// up on), such as closing the run's descriptors.
    pub(crate) fn after_stop(&self, f: impl FnOnce() + Send + 'static) {
        self.inner
            .after_stop
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Box::new(f));
    }

    /// Waits at most `timeout` for an outcome (the time limit ends the
    /// run when it passes meanwhile); `None` if there is none yet. Does not
    /// stop threads.
    pub fn wait_outcome_timeout(&self, timeout: Duration) -> Option<Outcome> {
        let st = self.wait_outcome(Some(Instant::now() + timeout));
        st.outcome.clone()
    }

    /// Waits until the run has an outcome or `until` passes, ending it
    /// with [`Outcome::TimedOut`] when its time limit passes first.
    fn wait_outcome(&self, until: Option<Instant>) -> MutexGuard<'_, State> {
        let mut st = self.state();
        while st.outcome.is_none() {
            let now = Instant::now();
            if st.time_limit.is_some_and(|limit| limit <= now) {
                drop(st);
                self.end(Outcome::TimedOut);
                st = self.state();
                continue;
            }
            if until.is_some_and(|until| until <= now) {
                break;
            }
            let wake = match (st.time_limit, until) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            st = match wake {
                None => self
                    .inner
                    .changed
                    .wait(st)
                    .unwrap_or_else(|e| e.into_inner()),
                Some(wake) => {
                    self.inner
                        .changed
                        .wait_timeout(st, wake.saturating_duration_since(now))
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
            };
        }
        st
    }

    /// Waits for the outcome (or the time limit), then stops every
    /// thread, and reports. Any number of threads may wait.
    pub fn wait(&self) -> RunReport {
        let mut st = self.wait_outcome(None);
        if let Some(report) = &st.report {
            return report.clone();
        }
        // Stop every thread, until all have stopped or the grace period
        // ends. The epoch advances again and again: a thread whose store
        // was set up just after an advance waits for the next one.
        let deadline = Instant::now() + st.grace;
        while st.running > 0 && Instant::now() < deadline {
            drop(st);
            self.inner.engine.increment_epoch();
            for stop in self
                .inner
                .stoppers
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
            {
                stop(deadline);
            }
            st = self.state();
            if st.running > 0 {
                let wait = deadline
                    .saturating_duration_since(Instant::now())
                    .min(Duration::from_millis(1));
                st = self
                    .inner
                    .changed
                    .wait_timeout(st, wait)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
        }
        let report = match &st.report {
            Some(report) => report.clone(),
            None => {
                let report = RunReport {
                    outcome: st.outcome.clone().expect("the loop above waits for it"),
                    abandoned: st.running,
                    refused_spawn: st.refused_spawn.clone(),
                };
                st.report = Some(report.clone());
                report
            }
        };
        drop(st);
        let after: Vec<AfterStop> = std::mem::take(
            &mut *self
                .inner
                .after_stop
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        );
        for f in after {
            f();
        }
        report
    }

    fn thread_done(&self) {
        let mut st = self.state();
        st.running -= 1;
        // Before the outcome, waiters wait for the outcome only: a thread's
        // end wakes them only when they wait for the threads to stop.
        let stopping = st.outcome.is_some();
        drop(st);
        if stopping {
            self.inner.changed.notify_all();
        }
    }
}

impl fmt::Debug for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.state();
        f.debug_struct("Run")
            .field("outcome", &st.outcome)
            .field("running", &st.running)
            .finish_non_exhaustive()
    }
}

/// A running thread of a run: finish it with the thread's result. A guard
/// dropped unfinished (its thread unwound past it) ends the run with
/// [`Outcome::Panic`], so a run never waits for a thread that is gone.
#[must_use = "a thread guard counts its thread as running until it finishes"]
pub struct ThreadGuard {
    run: Run,
    tid: u32,
    done: bool,
}

impl ThreadGuard {
    /// Records how the thread ended: returning from the main thread's
    /// entry (tid 0) ends the run with exit code 0; an exit code ends it
    /// with that code; any other error is a trap of this thread. After the
    /// run's outcome, a thread's end changes nothing.
    pub fn finish(mut self, result: wasmtime::Result<()>) {
        self.done = true;
        match result {
            Ok(()) if self.tid == 0 => {
                self.run.end(Outcome::Exit(0));
            }
            Ok(()) => {}
            Err(e) => {
                if let Some(exit) = e.downcast_ref::<I32Exit>() {
                    self.run.end(Outcome::Exit(exit.0));
                } else if !self.run.is_ended() {
                    self.run.end(Outcome::Trap(ThreadTrap::new(self.tid, e)));
                }
            }
        }
        self.run.thread_done();
    }

    /// Runs `body` as the thread's work, catching a panic (which becomes
    /// the run's outcome) and finishing with its result.
    pub fn run(self, body: impl FnOnce() -> wasmtime::Result<()>) {
        match catch_unwind(AssertUnwindSafe(body)) {
            Ok(result) => self.finish(result),
            Err(payload) => {
                let message = payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a panic without a message".to_string());
                self.panicked(message);
            }
        }
    }

    fn panicked(mut self, message: String) {
        self.done = true;
        self.run.end(Outcome::Panic {
            tid: self.tid,
            message,
        });
        self.run.thread_done();
    }

    /// The thread never started: it stops counting, with no outcome.
    pub(crate) fn discard(mut self) {
        self.done = true;
        self.run.thread_done();
    }

    /// The thread's id.
    pub fn tid(&self) -> u32 {
        self.tid
    }
}

impl Drop for ThreadGuard {
    fn drop(&mut self) {
        if !self.done {
            self.run.end(Outcome::Panic {
                tid: self.tid,
                message: "the thread ended without reporting its result".to_string(),
            });
            self.run.thread_done();
        }
    }
}
