//! Running a module: the shared memory, `thread-spawn`, and termination.

use std::fmt;
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use wasmtime::{
    Caller, Config, Engine, Extern, ExternType, InstancePre, Linker, Memory, Module, SharedMemory,
    Store, TypedFunc,
};

use crate::outcome::{Outcome, RunReport};
use crate::spawn_error;
use crate::tids::Tids;

/// The core import that starts a thread.
pub const SPAWN_MODULE: &str = "wasi";
pub const SPAWN_NAME: &str = "thread-spawn";
/// The core export every new thread calls.
pub const START_EXPORT: &str = "wasi_thread_start";

/// A problem found before anything runs.
#[derive(Debug)]
pub struct HostError(pub String);

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HostError {}

type Definer = dyn Fn(&mut Linker<ThreadCtx>) -> wasmtime::Result<()> + Send + Sync;

/// Runs wasi-threads modules. Build one, then [`Runner::run`] a module.
pub struct Runner {
    max_threads: usize,
    grace: Duration,
    definers: Vec<Box<Definer>>,
}

impl Default for Runner {
    fn default() -> Self {
        Runner {
            max_threads: 8192,
            grace: Duration::from_secs(1),
            definers: Vec::new(),
        }
    }
}

/// The data of every thread's store.
pub struct ThreadCtx {
    shared: Arc<Shared>,
    tid: u32,
}

impl ThreadCtx {
    /// This thread's id; 0 for the main thread.
    pub fn tid(&self) -> u32 {
        self.tid
    }
}

struct RunState {
    outcome: Option<Outcome>,
    /// Threads whose wasm is running, the main thread included.
    running: usize,
    children: usize,
}

struct Shared {
    engine: Engine,
    /// The memory every thread imports, when it is shared.
    memory: OnceLock<SharedMemory>,
    pre: OnceLock<InstancePre<ThreadCtx>>,
    max_threads: usize,
    tids: Mutex<Tids>,
    state: Mutex<RunState>,
    changed: Condvar,
}

impl Shared {
    fn ending(&self) -> bool {
        self.state.lock().unwrap().outcome.is_some()
    }

    /// Records the first outcome; interrupts every running thread.
    fn end(&self, outcome: Outcome) {
        let mut st = self.state.lock().unwrap();
        if st.outcome.is_none() {
            st.outcome = Some(outcome);
            self.engine.increment_epoch();
            self.changed.notify_all();
        }
    }

    fn thread_finished(&self, tid: u32, result: wasmtime::Result<()>) {
        match result {
            Ok(()) if tid == 0 => self.end(Outcome::Exit(0)),
            Ok(()) => {}
            Err(e) => self.end(Outcome::Trap {
                tid,
                message: e.root_cause().to_string(),
            }),
        }
        if tid != 0 {
            self.tids.lock().unwrap().free(tid);
        }
        let mut st = self.state.lock().unwrap();
        st.running -= 1;
        if tid != 0 {
            st.children -= 1;
        }
        self.changed.notify_all();
    }

    fn new_store(self: &Arc<Self>, tid: u32) -> Store<ThreadCtx> {
        let mut store = Store::new(
            &self.engine,
            ThreadCtx {
                shared: self.clone(),
                tid,
            },
        );
        // Only the end of the run advances the epoch: the next advance
        // traps every store.
        store.set_epoch_deadline(1);
        store.epoch_deadline_trap();
        store
    }

    /// `thread-spawn`: instantiates the new thread before returning its id.
    fn spawn(self: &Arc<Self>, start_arg: i32) -> i32 {
        {
            let mut st = self.state.lock().unwrap();
            if st.outcome.is_some() {
                return spawn_error::ENDING;
            }
            if st.children >= self.max_threads {
                return spawn_error::LIMIT;
            }
            st.children += 1;
            st.running += 1;
        }
        let tid = match self.tids.lock().unwrap().alloc() {
            Some(tid) => tid,
            None => return self.undo(None, spawn_error::NO_TID),
        };
        let mut store = self.new_store(tid);
        let pre = self
            .pre
            .get()
            .expect("instance-pre is set before any thread runs");
        let instance = match pre.instantiate(&mut store) {
            Ok(i) => i,
            Err(_) => return self.undo(Some(tid), spawn_error::INSTANTIATE),
        };
        let start: TypedFunc<(i32, i32), ()> =
            match instance.get_typed_func(&mut store, START_EXPORT) {
                Ok(f) => f,
                Err(_) => return self.undo(Some(tid), spawn_error::NO_ENTRY),
            };
        let shared = self.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("wasi-thread-{tid}"))
            .spawn(move || {
                let result = start.call(&mut store, (tid as i32, start_arg));
                shared.thread_finished(tid, result);
            });
        match spawned {
            Ok(_) => tid as i32,
            Err(_) => self.undo(Some(tid), spawn_error::OS),
        }
    }

    fn undo(&self, tid: Option<u32>, code: i32) -> i32 {
        if let Some(tid) = tid {
            self.tids.lock().unwrap().free(tid);
        }
        let mut st = self.state.lock().unwrap();
        st.children -= 1;
        st.running -= 1;
        code
    }
}

/// What the module imports that the host provides.
struct Imports {
    spawn: bool,
    memory: Option<(String, String, wasmtime::MemoryType)>,
}

fn inspect(module: &Module) -> Result<Imports, HostError> {
    let mut imports = Imports {
        spawn: false,
        memory: None,
    };
    for import in module.imports() {
        match import.ty() {
            ExternType::Memory(ty) => {
                imports.memory = Some((import.module().to_string(), import.name().to_string(), ty))
            }
            ExternType::Func(f)
                if import.module() == SPAWN_MODULE && import.name() == SPAWN_NAME =>
            {
                let expected = [wasmtime::ValType::I32];
                let ok = f.params().len() == 1
                    && f.params().all(|p| p.matches(&expected[0]))
                    && f.results().len() == 1
                    && f.results().all(|r| r.matches(&expected[0]));
                if !ok {
                    return Err(HostError(format!(
                        "the import \"{SPAWN_MODULE}\" \"{SPAWN_NAME}\" has type {f}, not (func (param i32) (result i32))"
                    )));
                }
                imports.spawn = true;
            }
            _ => {}
        }
    }
    if imports.spawn {
        match &imports.memory {
            Some((m, n, ty)) if !ty.is_shared() => {
                return Err(HostError(format!(
                    "the module imports thread-spawn but its memory import \"{m}\" \"{n}\" is not shared; threads need a shared memory"
                )))
            }
            None if module
                .exports()
                .any(|e| matches!(e.ty(), ExternType::Memory(_))) =>
            {
                return Err(HostError(
                    "the module imports thread-spawn but defines its own memory: every thread would get a memory of its own; wasi-threads modules import a shared memory".to_string(),
                ))
            }
            _ => {}
        }
    }
    Ok(imports)
}

impl Runner {
    pub fn new() -> Runner {
        Runner::default()
    }

    /// The most threads started with `thread-spawn` alive at once.
    pub fn max_threads(mut self, n: usize) -> Runner {
        self.max_threads = n;
        self
    }

    /// How long the run waits, after its outcome, for threads to stop.
    pub fn grace(mut self, grace: Duration) -> Runner {
        self.grace = grace;
        self
    }

    /// Defines more imports, in every thread's instance.
    pub fn define(
        mut self,
        f: impl Fn(&mut Linker<ThreadCtx>) -> wasmtime::Result<()> + Send + Sync + 'static,
    ) -> Runner {
        self.definers.push(Box::new(f));
        self
    }

    /// Runs a module, given as wasm binary or WAT text, to its outcome.
    pub fn run(&self, wasm: &[u8]) -> Result<RunReport, HostError> {
        let mut config = Config::new();
        config
            .wasm_threads(true)
            .shared_memory(true)
            .epoch_interruption(true);
        let engine = Engine::new(&config).map_err(|e| HostError(format!("{e:#}")))?;
        let module = Module::new(&engine, wasm).map_err(|e| HostError(format!("{e:#}")))?;
        let imports = inspect(&module)?;

        let shared = Arc::new(Shared {
            engine: engine.clone(),
            memory: OnceLock::new(),
            pre: OnceLock::new(),
            max_threads: self.max_threads,
            tids: Mutex::new(Tids::default()),
            state: Mutex::new(RunState {
                outcome: None,
                running: 1,
                children: 0,
            }),
            changed: Condvar::new(),
        });
        let mut store = shared.new_store(0);
        let mut linker: Linker<ThreadCtx> = Linker::new(&engine);
        if let Some((m, n, ty)) = &imports.memory {
            let memory: Extern = if ty.is_shared() {
                let memory = SharedMemory::new(&engine, ty.clone()).map_err(|e| {
                    HostError(format!(
                        "cannot create the shared memory \"{m}\" \"{n}\": {e:#}"
                    ))
                })?;
                let _ = shared.memory.set(memory.clone());
                memory.into()
            } else {
                Memory::new(&mut store, ty.clone())
                    .map_err(|e| {
                        HostError(format!("cannot create the memory \"{m}\" \"{n}\": {e:#}"))
                    })?
                    .into()
            };
            linker
                .define(&store, m, n, memory)
                .map_err(|e| HostError(format!("{e:#}")))?;
        }
        linker
            .func_wrap(
                SPAWN_MODULE,
                SPAWN_NAME,
                |caller: Caller<'_, ThreadCtx>, start_arg: i32| {
                    caller.data().shared.spawn(start_arg)
                },
            )
            .map_err(|e| HostError(format!("{e:#}")))?;
        for define in &self.definers {
            define(&mut linker).map_err(|e| HostError(format!("{e:#}")))?;
        }
        let pre = linker
            .instantiate_pre(&module)
            .map_err(|e| HostError(format!("{e:#}")))?;
        if module.get_export("_start").is_none() {
            return Err(HostError("the module exports no `_start`".to_string()));
        }
        let _ = shared.pre.set(pre.clone());

        let main_shared = shared.clone();
        std::thread::Builder::new()
            .name("wasi-thread-main".to_string())
            .spawn(move || {
                let result = pre.instantiate(&mut store).and_then(|instance| {
                    let start = instance.get_typed_func::<(), ()>(&mut store, "_start")?;
                    start.call(&mut store, ())
                });
                main_shared.thread_finished(0, result);
            })
            .map_err(|e| HostError(format!("cannot start the main thread: {e}")))?;

        let mut st = shared.state.lock().unwrap();
        while st.outcome.is_none() {
            st = shared.changed.wait(st).unwrap();
        }
        // Stop every thread, until all have stopped or the grace period
        // ends. Advancing the epoch traps running wasm at its next loop
        // header or call (again and again: a thread instantiated as the
        // outcome came may have missed the first advance). Threads parked in
        // `memory.atomic.wait` see no epoch: only a notify of their address
        // wakes them, so the sweep notifies every aligned address.
        let deadline = Instant::now() + self.grace;
        while st.running > 0 && Instant::now() < deadline {
            engine.increment_epoch();
            drop(st);
            if let Some(memory) = shared.memory.get() {
                wake_all(memory, deadline);
            }
            st = shared.state.lock().unwrap();
            if st.running > 0 {
                let wait = deadline
                    .saturating_duration_since(Instant::now())
                    .min(Duration::from_millis(1));
                st = shared.changed.wait_timeout(st, wait).unwrap().0;
            }
        }
        Ok(RunReport {
            outcome: st.outcome.clone().expect("the loop above waits for it"),
            abandoned: st.running,
        })
    }
}

/// Notifies every waiter of `memory`, address by address, until done or
/// past `deadline`.
fn wake_all(memory: &SharedMemory, deadline: Instant) {
    let size = memory.data_size() as u64;
    let mut addr = 0;
    while addr + 4 <= size {
        let _ = memory.atomic_notify(addr, u32::MAX);
        addr += 4;
        if addr % (1 << 18) == 0 && Instant::now() >= deadline {
            return;
        }
    }
}

impl Runner {
    /// Whether the run that defined `ctx` is ending (for host functions).
    pub fn is_ending(ctx: &ThreadCtx) -> bool {
        ctx.shared.ending()
    }
}
