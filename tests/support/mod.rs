//! Helpers shared by the end-to-end tests.
#![allow(dead_code)]

pub mod corpus;
pub mod exported_host;
pub mod golden;
pub mod smith;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

/// The repository root.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// What a run of the `wasi-threads` binary gave.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// The `wasi-threads` binary, with its compilation cache in the build's
/// scratch directory: tests never write the user's cache.
pub fn binary() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_wasi-threads"));
    command.env("WASI_THREADS_CACHE", cache_dir());
    command
}

/// The compilation cache of the tests' runs of the binary, in the build's
/// scratch folder (never the user's cache).
pub fn cache_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("wasi-threads-cache")
}

/// Runs the `wasi-threads` binary with `args`, from the repository root.
pub fn wasi_threads(args: &[&str]) -> Run {
    wasi_threads_env(args, &[])
}

/// Like [`wasi_threads`], with these variables added to its environment.
pub fn wasi_threads_env(args: &[&str], env: &[(&str, &str)]) -> Run {
    let out = binary()
        .args(args)
        .envs(env.iter().copied())
        .current_dir(root())
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run wasi-threads");
    Run {
        code: out.status.code().expect("exit code, not a signal"),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

/// A fresh scratch directory for one test.
pub fn scratch(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("wasi-threads-tests-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Core function signatures by (module, name): (parameter types, result
/// types), as wasmparser spells them.
pub type Signatures = std::collections::BTreeMap<(String, String), (Vec<String>, Vec<String>)>;

/// The function imports and exports of a core module, as wasmparser reads
/// them; exports under the key ("", name).
pub fn module_functions(wasm: &[u8]) -> Signatures {
    let mut types = Vec::new();
    let mut funcs: Vec<u32> = Vec::new();
    let mut out = Signatures::new();
    let sig = |f: &wasmparser::FuncType| {
        (
            f.params().iter().map(|t| t.to_string()).collect(),
            f.results().iter().map(|t| t.to_string()).collect(),
        )
    };
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        match payload.unwrap() {
            wasmparser::Payload::TypeSection(reader) => {
                for ty in reader.into_iter_err_on_gc_types() {
                    types.push(ty.unwrap());
                }
            }
            wasmparser::Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    let import = import.unwrap();
                    if let wasmparser::TypeRef::Func(i) = import.ty {
                        funcs.push(i);
                        out.insert(
                            (import.module.to_string(), import.name.to_string()),
                            sig(&types[i as usize]),
                        );
                    }
                }
            }
            wasmparser::Payload::FunctionSection(reader) => {
                for ty in reader {
                    funcs.push(ty.unwrap());
                }
            }
            wasmparser::Payload::ExportSection(reader) => {
                for export in reader {
                    let export = export.unwrap();
                    if export.kind == wasmparser::ExternalKind::Func {
                        let ty = funcs[export.index as usize];
                        out.insert(
                            (String::new(), export.name.to_string()),
                            sig(&types[ty as usize]),
                        );
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// An engine with wasm threads and shared memories, as wasi-threads guests
/// need.
pub fn threads_engine() -> wasmtime::Engine {
    let mut config = wasmtime::Config::new();
    config.wasm_threads(true).shared_memory(true);
    wasmtime::Engine::new(&config).unwrap()
}

/// Instantiates `module`, a reactor, with `data`: the shared memory it
/// imports is created and defined first, then `add` defines the host's
/// functions (and may hand the memory to the store's data), every other
/// import traps, and `_initialize` runs.
pub fn instantiate_reactor<T: 'static>(
    module: &wasmtime::Module,
    data: T,
    add: impl FnOnce(&mut wasmtime::Linker<T>, &mut wasmtime::Store<T>, Option<wasmtime::SharedMemory>),
) -> (wasmtime::Store<T>, wasmtime::Instance) {
    let mut store = wasmtime::Store::new(module.engine(), data);
    let mut linker = wasmtime::Linker::new(module.engine());
    let memory = define_imported_memory(&mut linker, &store, module);
    add(&mut linker, &mut store, memory);
    linker.define_unknown_imports_as_traps(module).unwrap();
    let instance = linker.instantiate(&mut store, module).unwrap();
    if let Ok(init) = instance.get_typed_func::<(), ()>(&mut store, "_initialize") {
        init.call(&mut store, ()).unwrap();
    }
    (store, instance)
}

/// Runs a future on this thread; returns its value and how many times it
/// was pending (a host function that really suspended makes it so).
pub fn block_on<F: std::future::Future>(future: F) -> (F::Output, usize) {
    use std::task::{Context, Poll, Wake, Waker};
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    let mut pending = 0;
    loop {
        if let Poll::Ready(value) = future.as_mut().poll(&mut cx) {
            return (value, pending);
        }
        pending += 1;
        std::thread::park();
    }
}

/// Creates the shared memory a module imports, from the import's type, and
/// defines it in `linker`, as a wasi-threads host does; `None` when the
/// module imports no memory.
pub fn define_imported_memory<T: 'static>(
    linker: &mut wasmtime::Linker<T>,
    store: &wasmtime::Store<T>,
    module: &wasmtime::Module,
) -> Option<wasmtime::SharedMemory> {
    let import = module
        .imports()
        .find(|i| matches!(i.ty(), wasmtime::ExternType::Memory(_)))?;
    let wasmtime::ExternType::Memory(ty) = import.ty() else {
        unreachable!()
    };
    let memory = wasmtime::SharedMemory::new(linker.engine(), ty).unwrap();
    linker
        .define(store, import.module(), import.name(), memory.clone())
        .unwrap();
    Some(memory)
}

/// clang-19 for wasm32-wasip1-threads with `warnings`, wasi-libc's headers
/// from `WASI_LIBC_INCLUDE` (set by `scripts/test.sh`) and no default
/// libraries; returns the command, the threaded wasi-libc directory of the
/// Rust target and clang's resource directory, for [`build_wasm`].
fn clang_wasi_libc(warnings: &[&str]) -> (Command, PathBuf, PathBuf) {
    let include = PathBuf::from(std::env::var("WASI_LIBC_INCLUDE").expect(
        "WASI_LIBC_INCLUDE names wasi-libc's headers (generic-musl and wasm-wasi-musl); scripts/test.sh sets it up",
    ));
    // Asked once per test binary: the property test compiles hundreds of
    // files.
    static DIRS: std::sync::OnceLock<(PathBuf, PathBuf)> = std::sync::OnceLock::new();
    let (libc, resource) = DIRS
        .get_or_init(|| {
            let sysroot = Command::new("rustc")
                .args(["--print", "sysroot"])
                .output()
                .expect("run rustc");
            let sysroot = PathBuf::from(String::from_utf8(sysroot.stdout).unwrap().trim());
            let libc = sysroot.join("lib/rustlib/wasm32-wasip1-threads/lib/self-contained");
            let resource = Command::new("clang-19")
                .arg("-print-resource-dir")
                .output()
                .expect("run clang-19");
            let resource = PathBuf::from(String::from_utf8(resource.stdout).unwrap().trim());
            (libc, resource)
        })
        .clone();
    let mut clang = Command::new("clang-19");
    clang
        .args(["--target=wasm32-wasip1-threads", "-O2"])
        .args(warnings)
        .args(["-matomics", "-mbulk-memory", "-pthread"])
        .args(["-nostdinc", "-isystem"])
        .arg(resource.join("include"))
        .arg("-isystem")
        .arg(include.join("wasm-wasi-musl"))
        .arg("-isystem")
        .arg(include.join("generic-musl"))
        .args(["-nostdlib", "-fuse-ld=/usr/bin/wasm-ld-19"]);
    (clang, libc, resource)
}

/// Compiles C `sources` for wasm32 against wasi-libc's headers, checking
/// syntax and types only, C11 with every warning an error and `include` on
/// the include path; `Err` holds clang's messages.
pub fn c_syntax_check(sources: &[PathBuf], include: &Path) -> Result<(), String> {
    let (mut clang, _, _) = clang_wasi_libc(&[
        "-std=c11",
        "-Wall",
        "-Wextra",
        "-Werror",
        "-Wno-unused-command-line-argument",
    ]);
    let out = clang
        .arg("-fsyntax-only")
        .arg("-I")
        .arg(include)
        .args(sources)
        .output()
        .expect("run clang-19 (scripts/test.sh installs it)");
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// Links what `clang` was given between `crt` and wasi-libc into
/// `target/guests/<name>`; a failure names `what`.
fn build_wasm(
    mut clang: Command,
    (libc, resource): (&Path, &Path),
    crt: &str,
    sources: &[&Path],
    link: &str,
    name: &str,
    what: &str,
) -> PathBuf {
    let out_dir = root().join("target/guests");
    std::fs::create_dir_all(&out_dir).unwrap();
    let wasm = out_dir.join(name);
    let out = clang
        .arg(libc.join(crt))
        .args(sources)
        .arg(libc.join("libc.a"))
        .arg(resource.join("lib/wasi/libclang_rt.builtins-wasm32.a"))
        .arg(link)
        .arg("-o")
        .arg(&wasm)
        .output()
        .expect("run clang-19 (scripts/test.sh installs it)");
    assert!(
        out.status.success(),
        "building {what} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    wasm
}

/// Builds the C guest with clang-19 against the threaded wasi-libc of the
/// Rust target; the headers come from `WASI_LIBC_INCLUDE` (set by
/// `scripts/test.sh`).
pub fn build_c_guest(source: &Path, name: &str) -> PathBuf {
    let (clang, libc, resource) = clang_wasi_libc(&["-Wall", "-Werror"]);
    build_wasm(
        clang,
        (&libc, &resource),
        "crt1-command.o",
        &[source],
        "-Wl,--shared-memory,--import-memory,--export-memory,--max-memory=67108864",
        name,
        &source.display().to_string(),
    )
}

/// Builds a C reactor (no `main`; exports `_initialize`) from `sources`
/// with clang-19 against the threaded wasi-libc, with every warning an
/// error and `include` on the include path; returns `target/guests/<name>`.
pub fn build_c_reactor(sources: &[&Path], include: &Path, name: &str) -> PathBuf {
    let (mut clang, libc, resource) = clang_wasi_libc(&["-std=c11", "-Wall", "-Wextra", "-Werror"]);
    clang.arg("-I").arg(include);
    build_wasm(
        clang,
        (&libc, &resource),
        "crt1-reactor.o",
        sources,
        "-Wl,--no-entry,--export=_initialize,--shared-memory,--import-memory,--export-memory,--max-memory=67108864",
        name,
        name,
    )
}

/// Builds a Rust guest crate of `tests/guests/<dir>` for
/// wasm32-wasip1-threads; returns the path of `<file>`.
pub fn build_rust_guest(dir: &str, file: &str) -> PathBuf {
    let target_dir = root().join("target/guests");
    let out = Command::new(env!("CARGO"))
        .args([
            "build",
            "--release",
            "--locked",
            "--target",
            "wasm32-wasip1-threads",
            "--target-dir",
        ])
        .arg(&target_dir)
        .current_dir(root().join("tests/guests").join(dir))
        .env_remove("RUSTFLAGS")
        .output()
        .expect("run cargo");
    assert!(
        out.status.success(),
        "building tests/guests/{dir} failed (scripts/test.sh installs the wasm32-wasip1-threads target):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let wasm = target_dir.join("wasm32-wasip1-threads/release").join(file);
    assert!(wasm.exists(), "{} was not built", wasm.display());
    wasm
}

/// An output stream a test reads back: give a clone to the runner.
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
