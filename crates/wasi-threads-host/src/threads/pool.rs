//! OS threads for wasi-threads' threads, reused: a thread whose
//! `wasi_thread_start` has returned parks for a while, and the next spawn
//! hands it its work instead of creating an OS thread (creating one costs
//! about as much as a whole native `pthread_create` and join).
//!
//! One pool serves the process. A parked thread holds no store, instance or
//! lock: the work it ran is dropped before it parks. At most
//! [`MAX_IDLE`] threads park at once, each for at most [`IDLE`]; past
//! either, the thread ends.

use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How long a finished thread waits for new work before it ends.
pub const IDLE: Duration = Duration::from_secs(2);
/// The most threads parked at once.
pub const MAX_IDLE: usize = 64;

type Work = Box<dyn FnOnce() + Send>;

struct Worker {
    work: Mutex<Option<Work>>,
    given: Condvar,
}

/// The process's parked threads.
pub struct Pool {
    idle: Mutex<Vec<Arc<Worker>>>,
    /// OS threads created, for the tests of reuse.
    created: std::sync::atomic::AtomicUsize,
}

impl Pool {
    /// The process's pool.
    pub fn get() -> &'static Pool {
        static POOL: OnceLock<Pool> = OnceLock::new();
        POOL.get_or_init(|| Pool {
            idle: Mutex::new(Vec::new()),
            created: Default::default(),
        })
    }

    /// How many OS threads the pool has created so far.
    pub fn created(&self) -> usize {
        self.created.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Runs `work` on a parked thread, or on a new one. On failure (the
    /// system refuses a thread) `work` is given back.
    pub fn run(&'static self, work: Work) -> Result<(), (Work, std::io::Error)> {
        let parked = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        if let Some(worker) = parked {
            *worker.work.lock().unwrap_or_else(|e| e.into_inner()) = Some(work);
            worker.given.notify_one();
            return Ok(());
        }
        let worker = Arc::new(Worker {
            work: Mutex::new(Some(work)),
            given: Condvar::new(),
        });
        let mine = worker.clone();
        match std::thread::Builder::new()
            .name("wasi-thread".to_string())
            .spawn(move || self.serve(mine))
        {
            Ok(_) => {
                self.created
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                Ok(())
            }
            Err(e) => {
                let work = worker
                    .work
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .take()
                    .expect("the thread never started");
                Err((work, e))
            }
        }
    }

    /// A pool thread: runs its work, parks, and runs what it is given
    /// next, until it has waited [`IDLE`] for nothing.
    fn serve(&'static self, me: Arc<Worker>) {
        loop {
            let work = me.work.lock().unwrap_or_else(|e| e.into_inner()).take();
            if let Some(work) = work {
                work();
            }
            {
                let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
                if idle.len() >= MAX_IDLE {
                    return;
                }
                idle.push(me.clone());
            }
            let deadline = Instant::now() + IDLE;
            let mut slot = me.work.lock().unwrap_or_else(|e| e.into_inner());
            while slot.is_none() {
                let now = Instant::now();
                if now >= deadline {
                    drop(slot);
                    let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
                    if let Some(at) = idle.iter().position(|w| Arc::ptr_eq(w, &me)) {
                        idle.swap_remove(at);
                        return;
                    }
                    // A spawn took this thread just now: its work is on
                    // the way.
                    drop(idle);
                    slot = me.work.lock().unwrap_or_else(|e| e.into_inner());
                    while slot.is_none() {
                        slot = me.given.wait(slot).unwrap_or_else(|e| e.into_inner());
                    }
                    break;
                }
                slot = me
                    .given
                    .wait_timeout(slot, deadline - now)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
        }
    }
}
