//! Running a module: the shared memory, `thread-spawn`, and termination.

use std::fmt;
use std::os::fd::OwnedFd;
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use wasmtime::{
    Config, Engine, Extern, ExternType, InstancePre, Linker, Memory, Module, SharedMemory, Store,
};

use crate::bindings::wasi::threads::thread_spawn;
use crate::bindings::ThreadsExports;
use crate::fs::{Preopen, Table};
use crate::net::Socket;
use crate::outcome::{Outcome, RunReport};
use crate::spawn_error;
use crate::tids::Tids;
use crate::wasi::{self, Input, Output, Wasi};

/// The core import that starts a thread.
pub const SPAWN_MODULE: &str = "wasi";
pub const SPAWN_NAME: &str = "thread-spawn";

impl thread_spawn::Host for ThreadCtx {
    fn thread_spawn(&mut self, start_arg: u32) -> wasmtime::Result<i32> {
        Ok(self.shared.spawn(start_arg))
    }
}

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
///
/// Every limit reaches every thread's store.
pub struct Runner {
    max_threads: usize,
    grace: Duration,
    memory_limit: Option<u64>,
    fuel: Option<u64>,
    time_limit: Option<Duration>,
    args: Vec<String>,
    env: Vec<String>,
    stdin: Arc<Mutex<Option<Input>>>,
    stdout: Arc<Mutex<Output>>,
    stderr: Arc<Mutex<Output>>,
    definers: Vec<Box<Definer>>,
    preopens: Vec<Preopen>,
    sockets: Vec<Arc<OwnedFd>>,
}

impl Default for Runner {
    fn default() -> Self {
        Runner {
            max_threads: 8192,
            grace: Duration::from_secs(1),
            memory_limit: None,
            fuel: None,
            time_limit: None,
            args: Vec::new(),
            env: Vec::new(),
            stdin: Arc::new(Mutex::new(Some(Box::new(std::io::stdin())))),
            stdout: Arc::new(Mutex::new(Box::new(std::io::stdout()))),
            stderr: Arc::new(Mutex::new(Box::new(std::io::stderr()))),
            definers: Vec::new(),
            preopens: Vec::new(),
            sockets: Vec::new(),
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

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }
}

struct RunState {
    outcome: Option<Outcome>,
    /// Threads whose wasm is running, the main thread included.
    running: usize,
    children: usize,
}

pub(crate) struct Shared {
    engine: Engine,
    wasi: Arc<Wasi>,
    fuel: Option<u64>,
    /// The memory every thread imports, when it is shared.
    memory: OnceLock<SharedMemory>,
    pre: OnceLock<InstancePre<ThreadCtx>>,
    max_threads: usize,
    tids: Mutex<Tids>,
    state: Mutex<RunState>,
    changed: Condvar,
}

impl Shared {
    pub(crate) fn wasi(&self) -> &Arc<Wasi> {
        &self.wasi
    }

    /// Records the first outcome; interrupts every running thread, in wasm
    /// (epoch) and blocked in the host (WASI waits).
    pub(crate) fn end(&self, outcome: Outcome) {
        let mut st = self.state.lock().unwrap();
        if st.outcome.is_none() {
            st.outcome = Some(outcome);
            self.engine.increment_epoch();
            self.wasi.interrupt();
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
        if let Some(fuel) = self.fuel {
            store
                .set_fuel(fuel)
                .expect("fuel is enabled with the limit");
        }
        store
    }

    /// `thread-spawn`: instantiates the new thread before returning its id.
    fn spawn(self: &Arc<Self>, start_arg: u32) -> i32 {
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
        let exports = match ThreadsExports::new(&mut store, &instance) {
            Ok(e) => e,
            Err(_) => return self.undo(Some(tid), spawn_error::NO_ENTRY),
        };
        let shared = self.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("wasi-thread-{tid}"))
            .spawn(move || {
                let result = exports.call_wasi_thread_start(&mut store, tid as i32, start_arg);
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

    /// How long the run waits, after its outcome, for threads to stop
    /// (default 1 s); threads still running then are reported abandoned.
    pub fn grace(mut self, grace: Duration) -> Runner {
        self.grace = grace;
        self
    }

    /// The most bytes the shared memory may grow to (it may not start
    /// larger): the memory is created with this maximum when its import
    /// allows more.
    pub fn memory_limit(mut self, bytes: u64) -> Runner {
        self.memory_limit = Some(bytes);
        self
    }

    /// Fuel for each thread's store; a thread out of fuel traps.
    pub fn fuel(mut self, fuel: u64) -> Runner {
        self.fuel = Some(fuel);
        self
    }

    /// Wall-clock limit of the run: past it, the run ends with
    /// [`Outcome::TimedOut`].
    pub fn time_limit(mut self, limit: Duration) -> Runner {
        self.time_limit = Some(limit);
        self
    }

    /// Appends an argument (`argv[0]` first, conventionally the program).
    pub fn arg(mut self, arg: impl Into<String>) -> Runner {
        self.args.push(arg.into());
        self
    }

    /// Adds an environment variable.
    pub fn env(mut self, key: &str, value: &str) -> Runner {
        self.env.push(format!("{key}={value}"));
        self
    }

    /// Standard input of the program (default: the process's).
    pub fn stdin(mut self, input: impl std::io::Read + Send + 'static) -> Runner {
        self.stdin = Arc::new(Mutex::new(Some(Box::new(input))));
        self
    }

    /// Standard output of the program (default: the process's).
    pub fn stdout(mut self, output: impl std::io::Write + Send + 'static) -> Runner {
        self.stdout = Arc::new(Mutex::new(Box::new(output)));
        self
    }

    /// Standard error of the program (default: the process's).
    pub fn stderr(mut self, output: impl std::io::Write + Send + 'static) -> Runner {
        self.stderr = Arc::new(Mutex::new(Box::new(output)));
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
    /// Preopens the host directory `host` as `guest`: the program may read
    /// and change what is beneath it, and reach nothing else. Preopens get
    /// descriptors 3, 4, ... in the order given.
    pub fn preopen_dir(mut self, host: impl Into<std::path::PathBuf>, guest: &str) -> Runner {
        self.preopens.push(Preopen {
            host: host.into(),
            guest: guest.to_string(),
            writable: true,
        });
        self
    }

    /// Like [`Runner::preopen_dir`], read-only: every call that would change
    /// something beneath it fails with `perm`.
    pub fn preopen_dir_readonly(
        mut self,
        host: impl Into<std::path::PathBuf>,
        guest: &str,
    ) -> Runner {
        self.preopens.push(Preopen {
            host: host.into(),
            guest: guest.to_string(),
            writable: false,
        });
        self
    }

    /// Preopens a stream socket: a listener (`std::net::TcpListener`,
    /// `std::os::unix::net::UnixListener`) whose connections the program
    /// takes with `sock_accept`, or a connected stream. Sockets get the
    /// descriptors after the preopened directories, in the order given.
    /// Each run uses a duplicate of the socket, so a runner can run again.
    /// The socket is switched to non-blocking mode in the system (the host
    /// waits in `poll(2)`; the program still sees blocking calls unless it
    /// asks for `nonblock`).
    ///
    /// ```
    /// # use wasi_threads_host::Runner;
    /// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// // The program's descriptor 3 accepts the connections.
    /// let runner = Runner::new().preopen_socket(listener);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn preopen_socket(mut self, socket: impl Into<OwnedFd>) -> Runner {
        self.sockets.push(Arc::new(socket.into()));
        self
    }

    pub fn run(&self, wasm: &[u8]) -> Result<RunReport, HostError> {
        let mut config = Config::new();
        config
            .wasm_threads(true)
            .shared_memory(true)
            .epoch_interruption(true)
            .consume_fuel(self.fuel.is_some());
        let engine = Engine::new(&config).map_err(|e| HostError(format!("{e:#}")))?;
        let module = Module::new(&engine, wasm).map_err(|e| HostError(format!("{e:#}")))?;
        let imports = inspect(&module)?;

        let stdin = self.stdin.lock().unwrap().take();
        let sockets = self
            .sockets
            .iter()
            .map(|fd| {
                let fd = fd
                    .try_clone()
                    .map_err(|e| format!("cannot duplicate a preopened socket: {e}"))?;
                Socket::preopened(fd)
            })
            .collect::<Result<Vec<_>, String>>()
            .map_err(HostError)?;
        let fds = Table::new(&self.preopens, sockets).map_err(HostError)?;
        let wasi = Wasi::new(
            self.args.clone(),
            self.env.clone(),
            stdin,
            self.stdout.clone(),
            self.stderr.clone(),
            fds,
        )
        .map_err(|e| HostError(format!("cannot set up the program's stdin: {e}")))?;
        let shared = Arc::new(Shared {
            engine: engine.clone(),
            wasi,
            fuel: self.fuel,
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
            let ty = self.limit_memory(m, n, ty)?;
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
        thread_spawn::add_to_linker(&mut linker, |ctx: &mut ThreadCtx| ctx)
            .map_err(|e| HostError(format!("{e:#}")))?;
        wasi::wasi_snapshot_preview1::add_to_linker(&mut linker, |ctx: &mut ThreadCtx| ctx)
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

        let started = Instant::now();
        let mut st = shared.state.lock().unwrap();
        while st.outcome.is_none() {
            st = match self.time_limit {
                None => shared.changed.wait(st).unwrap(),
                Some(limit) => {
                    let left = limit.saturating_sub(started.elapsed());
                    if left.is_zero() {
                        drop(st);
                        shared.end(Outcome::TimedOut);
                        shared.state.lock().unwrap()
                    } else {
                        shared.changed.wait_timeout(st, left).unwrap().0
                    }
                }
            };
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
        shared.wasi.fds.close_all();
        Ok(RunReport {
            outcome: st.outcome.clone().expect("the loop above waits for it"),
            abandoned: st.running,
        })
    }
}

impl Runner {
    /// The memory type to create for the import: its own, with the
    /// maximum lowered to the memory limit.
    fn limit_memory(
        &self,
        module: &str,
        name: &str,
        ty: &wasmtime::MemoryType,
    ) -> Result<wasmtime::MemoryType, HostError> {
        let Some(limit) = self.memory_limit else {
            return Ok(ty.clone());
        };
        let page = ty.page_size();
        let limit_pages = limit / page;
        if ty.minimum() > limit_pages {
            return Err(HostError(format!(
                "the memory import \"{module}\" \"{name}\" needs {} bytes, over the memory limit of {limit}",
                ty.minimum() * page
            )));
        }
        let max = ty.maximum().map_or(limit_pages, |m| m.min(limit_pages));
        let mut builder = wasmtime::MemoryTypeBuilder::new();
        builder
            .min(ty.minimum())
            .max(Some(max))
            .shared(ty.is_shared())
            .memory64(ty.is_64())
            .page_size_log2(ty.page_size_log2());
        builder.build().map_err(|e| HostError(format!("{e:#}")))
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
