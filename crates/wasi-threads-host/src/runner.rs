//! The convenience on top of the parts: one builder for a whole run (its
//! Engine, limits, preview-1 context and threads), as the CLI uses it.

use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use wasmtime::{Config, Engine, Linker, Module, Store};

use crate::preview1::{self, Output, Stdin, WasiCtx, WasiCtxBuilder};
use crate::threads::{self, WasiThreadsCtx};
use crate::{Error, Run, RunReport};

/// The store data of every thread the [`Runner`] starts.
#[derive(Clone)]
pub struct ThreadCtx {
    wasi: WasiCtx,
    threads: WasiThreadsCtx<ThreadCtx>,
}

impl ThreadCtx {
    /// This thread's id; 0 for the main thread.
    pub fn tid(&self) -> u32 {
        self.threads.tid()
    }

    pub fn wasi(&self) -> &WasiCtx {
        &self.wasi
    }

    pub fn threads(&self) -> &WasiThreadsCtx<ThreadCtx> {
        &self.threads
    }

    /// The run the thread belongs to.
    pub fn run(&self) -> &Run {
        self.threads.run()
    }
}

type Definer = dyn Fn(&mut Linker<ThreadCtx>) -> wasmtime::Result<()> + Send + Sync;
type ConfigTweak = dyn Fn(&mut Config) + Send + Sync;

/// Runs wasi-threads modules. Build one, then [`Runner::run`] a module, as
/// many times as wanted; every limit reaches every thread's store.
pub struct Runner {
    engine: OnceLock<Engine>,
    cache: Option<crate::cache::ModuleCache>,
    exit_process: Option<crate::run::ExitReport>,
    tweaks: Vec<Box<ConfigTweak>>,
    thread_spawn: bool,
    inherit_env: bool,
    max_threads: usize,
    grace: Duration,
    memory_limit: Option<u64>,
    fuel: Option<u64>,
    time_limit: Option<Duration>,
    args: Vec<String>,
    env: Vec<(String, String)>,
    /// The embedder's stdin, taken by the first run; `None` inherits the
    /// process's.
    stdin: Arc<Mutex<Option<Stdin>>>,
    stdin_given: bool,
    stdout: Output,
    stderr: Output,
    definers: Vec<Box<Definer>>,
    preopens: Vec<(PathBuf, String, bool)>,
    sockets: Vec<Arc<OwnedFd>>,
}

impl Default for Runner {
    fn default() -> Self {
        Runner {
            engine: OnceLock::new(),
            cache: None,
            exit_process: None,
            tweaks: Vec::new(),
            thread_spawn: true,
            inherit_env: false,
            max_threads: 8192,
            grace: Duration::from_secs(1),
            memory_limit: None,
            fuel: None,
            time_limit: None,
            args: Vec::new(),
            env: Vec::new(),
            stdin: Arc::new(Mutex::new(None)),
            stdin_given: false,
            stdout: Output::inherit_stdout(),
            stderr: Output::inherit_stderr(),
            definers: Vec::new(),
            preopens: Vec::new(),
            sockets: Vec::new(),
        }
    }
}

impl Runner {
    pub fn new() -> Runner {
        Runner::default()
    }

    /// The Engine the runner compiles and runs on: [`crate::configure`]d,
    /// with fuel consumption when a fuel limit is set. Made at the first
    /// use; a later [`Runner::fuel`] makes a new one.
    pub fn engine(&self) -> &Engine {
        self.engine.get_or_init(|| {
            let mut config = Config::new();
            crate::configure(&mut config).consume_fuel(self.fuel.is_some());
            for tweak in &self.tweaks {
                tweak(&mut config);
            }
            if self.exit_process.is_some() {
                config.epoch_interruption(false);
            }
            Engine::new(&config).expect("the runner's configuration is valid")
        })
    }

    /// Changes the Engine's configuration after [`crate::configure`]
    /// (e.g. turning the threads proposal off, as `-W threads=n` does).
    /// The parts refuse an Engine without what they need, naming it.
    pub fn configure_engine(
        mut self,
        tweak: impl Fn(&mut Config) + Send + Sync + 'static,
    ) -> Runner {
        self.tweaks.push(Box::new(tweak));
        self.engine = OnceLock::new();
        self
    }

    /// Whether `wasi` `thread-spawn` is defined (default: yes). Without it
    /// a module that imports it cannot be linked.
    pub fn thread_spawn(mut self, define: bool) -> Runner {
        self.thread_spawn = define;
        self
    }

    /// Passes the process's environment to the program, before the
    /// variables [`Runner::env`] adds.
    pub fn inherit_env(mut self) -> Runner {
        self.inherit_env = true;
        self
    }

    /// Standard input of the program as a [`Stdin`]; the first run reads
    /// it, later runs read nothing unless it is the process's.
    pub fn stdin_from(mut self, stdin: Stdin) -> Runner {
        self.stdin = Arc::new(Mutex::new(Some(stdin)));
        self.stdin_given = true;
        self
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

    /// The most bytes the memory may grow to (it may not start larger):
    /// the memory is created with this maximum when its import allows
    /// more.
    pub fn memory_limit(mut self, bytes: u64) -> Runner {
        self.memory_limit = Some(bytes);
        self
    }

    /// Fuel for each thread's store; a thread out of fuel traps.
    pub fn fuel(mut self, fuel: u64) -> Runner {
        if self.fuel.is_none() {
            self.engine = OnceLock::new();
        }
        self.fuel = Some(fuel);
        self
    }

    /// Wall-clock limit of each run: past it, the run ends with
    /// [`crate::Outcome::TimedOut`].
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
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    /// Standard input of the program (default: the process's); the first
    /// run reads it, later runs read nothing.
    pub fn stdin(mut self, input: impl std::io::Read + Send + 'static) -> Runner {
        self.stdin = Arc::new(Mutex::new(Some(Stdin::reader(input))));
        self.stdin_given = true;
        self
    }

    /// Standard output of the program (default: the process's).
    pub fn stdout(mut self, output: impl std::io::Write + Send + 'static) -> Runner {
        self.stdout = Output::writer(output);
        self
    }

    /// Standard error of the program (default: the process's).
    pub fn stderr(mut self, output: impl std::io::Write + Send + 'static) -> Runner {
        self.stderr = Output::writer(output);
        self
    }

    /// Standard output as any [`Output`] (e.g. a [`crate::MemoryOutput`]).
    pub fn stdout_to(mut self, output: impl Into<Output>) -> Runner {
        self.stdout = output.into();
        self
    }

    /// Standard error as any [`Output`].
    pub fn stderr_to(mut self, output: impl Into<Output>) -> Runner {
        self.stderr = output.into();
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

    /// Preopens the host directory `host` as `guest`: the program may read
    /// and change what is beneath it, and reach nothing else. Preopens get
    /// descriptors 3, 4, ... in the order given.
    pub fn preopen_dir(mut self, host: impl Into<PathBuf>, guest: &str) -> Runner {
        self.preopens.push((host.into(), guest.to_string(), true));
        self
    }

    /// Like [`Runner::preopen_dir`], read-only: every call that would change
    /// something beneath it fails with `perm`.
    pub fn preopen_dir_readonly(mut self, host: impl Into<PathBuf>, guest: &str) -> Runner {
        self.preopens.push((host.into(), guest.to_string(), false));
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

    /// Process-exit mode, for a command-line host: the first outcome (an
    /// exit, a trap, the time limit, a cancellation, a panic) ends the
    /// whole process at once, as wasmtime 46's wasi-threads did, with the
    /// exit code `report` gives after saying what it has to say. Compiled
    /// code then carries no epoch checks, so computing threads run at the
    /// Engine's full speed. [`Runner::run`] does not return once the
    /// program has started. Without this mode (the default) the runner
    /// never exits the process: it stops the threads and returns a report.
    pub fn exit_process(
        mut self,
        report: impl Fn(&RunReport) -> i32 + Send + Sync + 'static,
    ) -> Runner {
        self.exit_process = Some(Arc::new(report));
        self.engine = OnceLock::new();
        self
    }

    /// Keeps compiled modules in `cache` (none by default): a module is
    /// then compiled once per Engine configuration.
    pub fn module_cache(mut self, cache: crate::cache::ModuleCache) -> Runner {
        self.cache = Some(cache);
        self
    }

    /// Compiles a module (wasm binary or WAT text) on the runner's Engine,
    /// or loads it from the module cache.
    pub fn compile(&self, wasm: &[u8]) -> Result<Module, Error> {
        match &self.cache {
            Some(cache) => Ok(cache.compile(self.engine(), wasm)?.0),
            None => crate::compile(self.engine(), wasm),
        }
    }

    /// Compiles and runs a module, given as wasm binary or WAT text, to its
    /// outcome.
    pub fn run(&self, wasm: &[u8]) -> Result<RunReport, Error> {
        let module = self.compile(wasm)?;
        self.run_module(&module)
    }

    /// Runs a module compiled on the runner's Engine ([`Runner::compile`])
    /// to its outcome.
    pub fn run_module(&self, module: &Module) -> Result<RunReport, Error> {
        let engine = self.engine();
        let run = match &self.exit_process {
            Some(report) => Run::exiting_process(engine, report.clone())?,
            None => Run::new(engine)?,
        };
        run.set_grace(self.grace);
        let wasi = self.wasi_builder()?.build(&run)?;

        let mut linker: Linker<ThreadCtx> = Linker::new(engine);
        preview1::add_to_linker(&mut linker, |cx: &mut ThreadCtx| &mut cx.wasi)
            .map_err(Error::Link)?;
        if self.thread_spawn {
            threads::add_to_linker(&mut linker, |cx: &mut ThreadCtx| &mut cx.threads)
                .map_err(Error::Link)?;
        }
        for define in &self.definers {
            define(&mut linker).map_err(Error::Link)?;
        }

        let fuel = self.fuel;
        let mut threads = WasiThreadsCtx::builder(module, &run)
            .max_threads(self.max_threads)
            .on_new_store(move |store| match fuel {
                Some(fuel) => store.set_fuel(fuel),
                None => Ok(()),
            });
        if let Some(limit) = self.memory_limit {
            threads = threads.memory_limit(limit);
        }
        let threads = threads.build(&linker)?;
        let mut store = Store::new(
            engine,
            ThreadCtx {
                wasi,
                threads: threads.clone(),
            },
        );
        if let Some(fuel) = fuel {
            store.set_fuel(fuel).map_err(Error::Instantiate)?;
        }
        threads.start(store)?;
        if let Some(limit) = self.time_limit {
            run.set_time_limit(limit);
        }
        Ok(run.wait())
    }

    fn wasi_builder(&self) -> Result<WasiCtxBuilder, Error> {
        let mut builder = WasiCtx::builder()
            .args(self.args.iter().cloned())
            .stdout(self.stdout.clone())
            .stderr(self.stderr.clone());
        if self.inherit_env {
            builder = builder.inherit_env();
        }
        for (k, v) in &self.env {
            builder = builder.env(k, v);
        }
        if self.stdin_given {
            let stdin = self
                .stdin
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take()
                .unwrap_or_else(Stdin::null);
            builder = builder.stdin(stdin);
        }
        for (host, guest, writable) in &self.preopens {
            builder = if *writable {
                builder.preopen_dir(host, guest)
            } else {
                builder.preopen_dir_readonly(host, guest)
            };
        }
        for socket in &self.sockets {
            let fd = socket.try_clone().map_err(|source| Error::Io {
                what: "duplicate a preopened socket",
                source,
            })?;
            builder = builder.preopen_socket(fd);
        }
        Ok(builder)
    }
}
