//! The threads part: `wasi` `thread-spawn` for the embedder's own
//! `Linker<T>` and store data, thread ids, and the rules of termination.
//! It knows nothing of WASI preview 1.
//!
//! A [`WasiThreadsCtx`] is made per run from the embedder's compiled
//! module and `Linker<T>` ([`WasiThreadsCtx::builder`]): it creates the
//! memory the module imports (shared, from the import's own type), and
//! every thread's instance, the main thread's included, imports the same
//! objects from one `InstancePre`. [`add_to_linker`] defines
//! `thread-spawn`, which instantiates the new thread before it returns (so
//! every failure reaches the guest as a negative value, see
//! [`spawn_error`]) and runs `wasi_thread_start` on an OS thread of the
//! process's [`pool`]: one parked after an earlier thread's
//! `wasi_thread_start` returned, else a new one. Each new thread's store
//! data comes from the spawning thread's, by `Clone` or the embedder's
//! factory; its context's [`WasiThreadsCtx::tid`] is its own id.
//!
//! ```
//! use wasi_threads_host::threads::{self, WasiThreadsCtx};
//! use wasi_threads_host::{Outcome, Run};
//! use wasmtime::{Config, Engine, Linker, Module, Store};
//!
//! #[derive(Clone)]
//! struct Host {
//!     threads: WasiThreadsCtx<Host>,
//! }
//!
//! let mut config = Config::new();
//! wasi_threads_host::configure(&mut config);
//! let engine = Engine::new(&config)?;
//! // Eight threads each add their id (1 to 8) to a sum and count
//! // themselves; the main thread waits for all and checks the sum.
//! let module = wasi_threads_host::compile(&engine, br#"(module
//!   (import "wasi" "thread-spawn" (func $spawn (param i32) (result i32)))
//!   (import "env" "memory" (memory 1 1 shared))
//!   (func (export "wasi_thread_start") (param $tid i32) (param i32)
//!     (drop (i32.atomic.rmw.add (i32.const 0) (local.get $tid)))
//!     (drop (i32.atomic.rmw.add (i32.const 4) (i32.const 1)))
//!     (drop (memory.atomic.notify (i32.const 4) (i32.const 1))))
//!   (func (export "_start") (local $i i32) (local $n i32)
//!     ;; Spawn eight threads, wait until all have counted, check the sum.
//!     (loop $spawn_more
//!       (drop (call $spawn (i32.const 0)))
//!       (local.set $i (i32.add (local.get $i) (i32.const 1)))
//!       (br_if $spawn_more (i32.lt_u (local.get $i) (i32.const 8))))
//!     (loop $wait
//!       (local.set $n (i32.atomic.load (i32.const 4)))
//!       (if (i32.lt_u (local.get $n) (i32.const 8)) (then
//!         (drop (memory.atomic.wait32 (i32.const 4) (local.get $n) (i64.const -1)))
//!         (br $wait))))
//!     (if (i32.ne (i32.atomic.load (i32.const 0)) (i32.const 36)) (then unreachable))))"#)?;
//!
//! let mut linker: Linker<Host> = Linker::new(&engine);
//! threads::add_to_linker(&mut linker, |h: &mut Host| &mut h.threads)?;
//!
//! let run = Run::new(&engine)?;
//! let ctx = WasiThreadsCtx::builder(&module, &run).build(&linker)?;
//! ctx.start(Store::new(&engine, Host { threads: ctx.clone() }))?;
//! let report = run.wait();
//! assert_eq!(report.outcome, Outcome::Exit(0));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod module;
pub mod pool;
pub mod spawn_error;
mod tids;
pub(crate) mod waits;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use wasmtime::{
    Caller, Extern, Instance, InstancePre, Linker, Memory, Module, SharedMemory, Store,
};

use crate::bindings::ThreadsIndices;
use crate::outcome::SpawnRefusal;
use crate::run::{Run, ThreadGuard};
use crate::Error;

pub(crate) use module::inspect;
pub use module::{ENTRY_POINT, SPAWN_MODULE, SPAWN_NAME};
pub use tids::MAX_TID;

type Factory<T> = dyn Fn(&T) -> T + Send + Sync;
type StoreSetup<T> = dyn Fn(&mut Store<T>) -> wasmtime::Result<()> + Send + Sync;

/// The threads context of one run, in every thread's store data; clones
/// share the run's threads (each thread's own clone knows its id).
pub struct WasiThreadsCtx<T: 'static> {
    shared: Arc<Shared<T>>,
    tid: u32,
    /// Where this thread waits, when its waits go through the host.
    slot: Arc<AtomicU64>,
}

impl<T: 'static> Clone for WasiThreadsCtx<T> {
    fn clone(&self) -> Self {
        WasiThreadsCtx {
            shared: self.shared.clone(),
            tid: self.tid,
            slot: self.slot.clone(),
        }
    }
}

struct Shared<T: 'static> {
    run: Run,
    module: Module,
    /// The embedder's linker and the memory to define in it, until the
    /// first instance is made from them.
    pending: Mutex<Option<(Linker<T>, Option<module::MemoryImport>)>>,
    pre: OnceLock<InstancePre<T>>,
    /// Where `wasi_thread_start` is in the module (`None`: it has none),
    /// resolved at the first spawn.
    indices: OnceLock<Option<ThreadsIndices>>,
    memory: Option<SharedMemory>,
    memory_limit: Option<u64>,
    entry_point: bool,
    max_threads: usize,
    tids: Mutex<tids::Tids>,
    factory: Box<Factory<T>>,
    setup: Option<Box<StoreSetup<T>>>,
    waiters: Arc<waits::Waiters>,
}

/// Builds a [`WasiThreadsCtx`]; see [`WasiThreadsCtx::builder`].
pub struct WasiThreadsBuilder<T: 'static> {
    module: Module,
    run: Run,
    factory: Box<Factory<T>>,
    max_threads: usize,
    memory_limit: Option<u64>,
    setup: Option<Box<StoreSetup<T>>>,
}

impl<T: Clone + Send + 'static> WasiThreadsCtx<T> {
    /// Starts building the context of `run` for `module`; each new
    /// thread's store data is a clone of the spawning thread's.
    pub fn builder(module: &Module, run: &Run) -> WasiThreadsBuilder<T> {
        WasiThreadsCtx::builder_with_factory(module, run, T::clone)
    }
}

impl<T: Send + 'static> WasiThreadsCtx<T> {
    /// Like [`WasiThreadsCtx::builder`], with `factory` making each new
    /// thread's store data from the spawning thread's.
    pub fn builder_with_factory(
        module: &Module,
        run: &Run,
        factory: impl Fn(&T) -> T + Send + Sync + 'static,
    ) -> WasiThreadsBuilder<T> {
        WasiThreadsBuilder {
            module: module.clone(),
            run: run.clone(),
            factory: Box::new(factory),
            max_threads: 8192,
            memory_limit: None,
            setup: None,
        }
    }

    /// This thread's id: 0 for the main thread.
    pub fn tid(&self) -> u32 {
        self.tid
    }

    /// The run this context belongs to.
    pub fn run(&self) -> &Run {
        &self.shared.run
    }

    /// The shared memory every thread imports (`None` when the module
    /// imports no shared memory).
    pub fn memory(&self) -> Option<&SharedMemory> {
        self.shared.memory.as_ref()
    }

    /// Instantiates the module in `store` (the main thread's) and makes
    /// `store` trap once the run ends. The first call resolves the
    /// module's imports against the linker, for this and every later
    /// thread.
    pub fn instantiate(&self, store: &mut Store<T>) -> Result<Instance, Error> {
        let pre = self.instance_pre(store)?;
        self.shared.run.configure_store(store);
        pre.instantiate(store).map_err(Error::Instantiate)
    }

    /// The `InstancePre` every thread is made from, made with `store` the
    /// first time.
    pub fn instance_pre(&self, store: &mut Store<T>) -> Result<&InstancePre<T>, Error> {
        if let Some(pre) = self.shared.pre.get() {
            return Ok(pre);
        }
        let mut pending = self
            .shared
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some((mut linker, memory)) = pending.take() {
            if let Some(import) = &memory {
                let ty = module::limited(import, self.shared.memory_limit)?;
                let create_error = |source| Error::CreateMemory {
                    module: import.module.clone(),
                    name: import.name.clone(),
                    source,
                };
                let item: Extern = match &self.shared.memory {
                    Some(shared) => shared.clone().into(),
                    None => Memory::new(&mut *store, ty).map_err(create_error)?.into(),
                };
                linker
                    .allow_shadowing(true)
                    .define(&*store, &import.module, &import.name, item)
                    .map_err(Error::Link)?;
            }
            let pre = linker
                .instantiate_pre(&self.shared.module)
                .map_err(Error::Link)?;
            let _ = self.shared.pre.set(pre);
        }
        drop(pending);
        Ok(self
            .shared
            .pre
            .get()
            .expect("set above or by another thread"))
    }

    /// Runs the program: instantiates it in `store` and calls `_start`,
    /// as the main thread (id 0), on a new OS thread. Wait with
    /// [`Run::wait`].
    pub fn start(&self, mut store: Store<T>) -> Result<(), Error> {
        if self.shared.module.get_export("_start").is_none() {
            return Err(Error::NoStart);
        }
        let pre = self.instance_pre(&mut store)?.clone();
        self.shared.run.configure_store(&mut store);
        let guard = self.shared.run.enter_thread(0).map_err(|_| Error::Io {
            what: "start a run that has ended",
            source: std::io::ErrorKind::Interrupted.into(),
        })?;
        let slot = Arc::new(Mutex::new(Some(guard)));
        let taken = slot.clone();
        let spawned = std::thread::Builder::new()
            .name("wasi-thread-main".to_string())
            .spawn(move || {
                let guard = take(&taken).expect("the guard is the thread's");
                guard.run(|| {
                    let instance = pre.instantiate(&mut store)?;
                    let start = instance.get_typed_func::<(), ()>(&mut store, "_start")?;
                    start.call(&mut store, ())
                });
            });
        spawned.map(drop).map_err(|source| {
            if let Some(guard) = take(&slot) {
                guard.discard();
            }
            Error::Io {
                what: "start the main thread",
                source,
            }
        })
    }

    /// `thread-spawn`: instantiates the new thread before returning its
    /// id, or a negative errno.
    fn spawn(
        &self,
        parent: &T,
        get: impl Fn(&mut T) -> &mut WasiThreadsCtx<T>,
        start_arg: u32,
    ) -> i32 {
        let shared = &self.shared;
        if shared.run.is_ended() {
            return spawn_error::ENDING;
        }
        let Some(pre) = shared.pre.get() else {
            // Only an instance made by this context can call thread-spawn.
            return self.refuse(
                SpawnRefusal::Instantiate {
                    message: "the module was instantiated without this context".to_string(),
                },
                spawn_error::INSTANTIATE,
            );
        };
        if !shared.entry_point {
            return self.refuse(SpawnRefusal::NoEntryPoint, spawn_error::NO_ENTRY);
        }
        let tid = {
            let mut tids = shared.tids.lock().unwrap_or_else(|e| e.into_inner());
            if tids.live() >= shared.max_threads {
                drop(tids);
                return self.refuse(
                    SpawnRefusal::ThreadLimit {
                        limit: shared.max_threads,
                    },
                    spawn_error::LIMIT,
                );
            }
            match tids.alloc() {
                Some(tid) => tid,
                None => {
                    drop(tids);
                    return self.refuse(SpawnRefusal::NoThreadId, spawn_error::NO_TID);
                }
            }
        };
        let free = |code| {
            shared
                .tids
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .free(tid);
            code
        };
        let Ok(guard) = shared.run.enter_thread(tid) else {
            return free(spawn_error::ENDING);
        };
        let mut data = (shared.factory)(parent);
        let child = get(&mut data);
        child.tid = tid;
        child.slot = shared.waiters.slot();
        let mut store = Store::new(shared.module.engine(), data);
        shared.run.configure_store(&mut store);
        let made = match &shared.setup {
            Some(setup) => setup(&mut store),
            None => Ok(()),
        }
        .and_then(|()| pre.instantiate(&mut store));
        let instance = match made {
            Ok(instance) => instance,
            Err(e) => {
                guard.discard();
                shared.run.record_refusal(SpawnRefusal::Instantiate {
                    message: format!("{e:#}"),
                });
                return free(spawn_error::INSTANTIATE);
            }
        };
        let indices = shared
            .indices
            .get_or_init(|| ThreadsIndices::new(&shared.module).ok());
        let loaded = match indices {
            Some(indices) => indices.load(&mut store, &instance),
            None => Err(wasmtime::format_err!("no wasi_thread_start")),
        };
        let exports = match loaded {
            Ok(exports) => exports,
            Err(_) => {
                guard.discard();
                shared.run.record_refusal(SpawnRefusal::NoEntryPoint);
                return free(spawn_error::NO_ENTRY);
            }
        };
        let slot = Arc::new(Mutex::new(Some(guard)));
        let taken = slot.clone();
        let ctx = self.clone();
        let work: Box<dyn FnOnce() + Send> = Box::new(move || {
            let guard = take(&taken).expect("the guard is the thread's");
            guard.run(|| exports.call_wasi_thread_start(&mut store, tid as i32, start_arg));
            drop(store);
            ctx.shared
                .tids
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .free(tid);
        });
        match pool::Pool::get().run(work) {
            Ok(()) => tid as i32,
            Err((work, e)) => {
                drop(work);
                if let Some(guard) = take(&slot) {
                    guard.discard();
                }
                shared.run.record_refusal(SpawnRefusal::Os {
                    message: e.to_string(),
                });
                free(spawn_error::OS)
            }
        }
    }

    fn refuse(&self, refusal: SpawnRefusal, code: i32) -> i32 {
        self.shared.run.record_refusal(refusal);
        code
    }
}

fn take(slot: &Mutex<Option<ThreadGuard>>) -> Option<ThreadGuard> {
    slot.lock().unwrap_or_else(|e| e.into_inner()).take()
}

impl<T: Send + 'static> WasiThreadsBuilder<T> {
    /// The most threads started with `thread-spawn` alive at once (default
    /// 8192); past it, `thread-spawn` returns `-6` (`again`).
    pub fn max_threads(mut self, n: usize) -> Self {
        self.max_threads = n;
        self
    }

    /// The most bytes the memory may grow to: it is created with this
    /// maximum when its import allows more, and refused when its minimum
    /// is more.
    pub fn memory_limit(mut self, bytes: u64) -> Self {
        self.memory_limit = Some(bytes);
        self
    }

    /// Called on every new thread's store before its instance is made
    /// (fuel, a resource limiter, ...). The main thread's store is the
    /// embedder's own. An error refuses the spawn.
    pub fn on_new_store(
        mut self,
        setup: impl Fn(&mut Store<T>) -> wasmtime::Result<()> + Send + Sync + 'static,
    ) -> Self {
        self.setup = Some(Box::new(setup));
        self
    }

    /// Checks the module and the Engine, and creates the shared memory.
    /// `linker` must define `thread-spawn` (see [`add_to_linker`]) and
    /// everything else the module imports but its memory; it is cloned.
    pub fn build(self, linker: &Linker<T>) -> Result<WasiThreadsCtx<T>, Error> {
        let shape = inspect(&self.module)?;
        let engine = self.module.engine();
        let mut memory = None;
        if let Some(import) = &shape.memory {
            if import.ty.is_shared() {
                crate::engine::check_threads(engine)?;
                let ty = module::limited(import, self.memory_limit)?;
                let shared =
                    SharedMemory::new(engine, ty).map_err(|source| Error::CreateMemory {
                        module: import.module.clone(),
                        name: import.name.clone(),
                        source,
                    })?;
                memory = Some(shared);
            }
        }
        let waiters = Arc::new(waits::Waiters::default());
        if let Some(shared) = &memory {
            register_waker(&self.run, &self.module, shared, &waiters);
        }
        let slot = waiters.slot();
        Ok(WasiThreadsCtx {
            shared: Arc::new(Shared {
                run: self.run,
                module: self.module.clone(),
                pending: Mutex::new(Some((linker.clone(), shape.memory))),
                pre: OnceLock::new(),
                indices: OnceLock::new(),
                memory,
                memory_limit: self.memory_limit,
                entry_point: shape.entry_point,
                max_threads: self.max_threads,
                tids: Mutex::new(tids::Tids::default()),
                factory: self.factory,
                setup: self.setup,
                waiters,
            }),
            tid: 0,
            slot,
        })
    }
}

impl<T: Send + 'static> WasiThreadsBuilder<T> {
    /// Like [`WasiThreadsBuilder::build`], for an embedder that made the
    /// `InstancePre` itself, with the memory the module imports already
    /// defined in its linker: `memory` is that memory when it is shared
    /// (the run wakes threads parked on it when it ends, and
    /// [`WasiThreadsCtx::memory`] returns it). The limits of the memory are
    /// then the embedder's; [`WasiThreadsBuilder::memory_limit`] does not
    /// apply.
    pub fn build_with_instance_pre(
        self,
        pre: InstancePre<T>,
        memory: Option<SharedMemory>,
    ) -> Result<WasiThreadsCtx<T>, Error> {
        let shape = inspect(pre.module())?;
        if shape.spawn {
            crate::engine::check_threads(pre.module().engine())?;
        }
        let waiters = Arc::new(waits::Waiters::default());
        if let Some(shared) = &memory {
            register_waker(&self.run, pre.module(), shared, &waiters);
        }
        let slot = waiters.slot();
        let prepared = OnceLock::new();
        let _ = prepared.set(pre.clone());
        Ok(WasiThreadsCtx {
            shared: Arc::new(Shared {
                run: self.run,
                module: pre.module().clone(),
                pending: Mutex::new(None),
                pre: prepared,
                indices: OnceLock::new(),
                memory,
                memory_limit: None,
                entry_point: shape.entry_point,
                max_threads: self.max_threads,
                tids: Mutex::new(tids::Tids::default()),
                factory: self.factory,
                setup: self.setup,
                waiters,
            }),
            tid: 0,
            slot,
        })
    }
}

/// How the end of a run wakes threads parked in `memory.atomic.wait`: the
/// addresses the host recorded, when the module's waits go through it
/// ([`crate::compile`] arranges that); else every aligned address of the
/// memory, which takes time in proportion to its size.
fn register_waker(
    run: &Run,
    module: &Module,
    memory: &SharedMemory,
    waiters: &Arc<waits::Waiters>,
) {
    let memory = memory.clone();
    if waits::is_rewritten(module) {
        let waiters = waiters.clone();
        run.on_stop(move |_| waiters.wake(&memory));
    } else {
        run.on_stop(move |deadline| wake_all(&memory, deadline));
    }
}

/// Defines `wasi` `thread-spawn` in `linker`; `get` finds the calling
/// thread's context in its store data.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: impl Fn(&mut T) -> &mut WasiThreadsCtx<T> + Send + Sync + Copy + 'static,
) -> wasmtime::Result<()> {
    linker.func_wrap(
        SPAWN_MODULE,
        SPAWN_NAME,
        move |mut caller: Caller<'_, T>, start_arg: i32| -> i32 {
            let ctx = get(caller.data_mut()).clone();
            ctx.spawn(caller.data(), get, start_arg as u32)
        },
    )?;
    linker.func_wrap(
        waits::MODULE,
        waits::WAIT32,
        move |mut caller: Caller<'_, T>, addr: i32, expected: i32, timeout: i64, offset: i64| {
            let ctx = get(caller.data_mut()).clone();
            ctx.wait(addr, offset, timeout, |m, at, t| {
                m.atomic_wait32(at, expected as u32, t)
            })
        },
    )?;
    linker.func_wrap(
        waits::MODULE,
        waits::WAIT64,
        move |mut caller: Caller<'_, T>, addr: i32, expected: i64, timeout: i64, offset: i64| {
            let ctx = get(caller.data_mut()).clone();
            ctx.wait(addr, offset, timeout, |m, at, t| {
                m.atomic_wait64(at, expected as u64, t)
            })
        },
    )?;
    Ok(())
}

impl<T: Send + 'static> WasiThreadsCtx<T> {
    /// `memory.atomic.wait32/64` through the host: the effective address
    /// is `addr + offset` (u64, so it cannot wrap); the memory checks it as
    /// the instruction does. The address is recorded while the thread
    /// waits, and the end of the run, before or after, ends the thread.
    fn wait(
        &self,
        addr: i32,
        offset: i64,
        timeout: i64,
        wait: impl FnOnce(
            &SharedMemory,
            u64,
            Option<std::time::Duration>,
        ) -> Result<wasmtime::WaitResult, wasmtime::Trap>,
    ) -> wasmtime::Result<i32> {
        let Some(memory) = self.memory() else {
            wasmtime::bail!("memory.atomic.wait through the host needs a shared memory");
        };
        let run = self.run();
        let at = addr as u32 as u64 + offset as u64;
        let timeout = u64::try_from(timeout)
            .ok()
            .map(std::time::Duration::from_nanos);
        self.slot.store(at, Ordering::SeqCst);
        let result = if run.is_ended() {
            None
        } else {
            Some(wait(memory, at, timeout))
        };
        self.slot.store(waits::NONE, Ordering::SeqCst);
        match result {
            _ if run.is_ended() => Err(wasmtime::Error::new(crate::run::RunEnded)),
            None => Err(wasmtime::Error::new(crate::run::RunEnded)),
            Some(Ok(r)) => Ok(match r {
                wasmtime::WaitResult::Ok => 0,
                wasmtime::WaitResult::Mismatch => 1,
                wasmtime::WaitResult::TimedOut => 2,
            }),
            Some(Err(trap)) => Err(wasmtime::Error::new(trap)),
        }
    }
}

/// Notifies every waiter of `memory`, address by address, until done or
/// past `deadline`: in wasmtime 48 only a notify of its own address wakes a
/// thread parked in `memory.atomic.wait`.
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
