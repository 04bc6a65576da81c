//! `host!` with the options of wasmtime's `bindgen!`, each serving a real
//! (WAT) guest: two invocations sharing the runtime's types (and `with`
//! reusing one's resource in the other), `trappable` and
//! `trappable_error_type`, `tracing` and `additional_derives`, generated
//! names that WIT names cannot clash with, and async host functions and
//! exports, for the canonical world and for strings allocated in the guest.

mod support;

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use wasi_threads_bindgen_rt::{GuestMemory, Resource};
use wasmtime::{Caller, Engine, Instance, Linker, Module, Store};

fn instance<T: 'static>(
    engine: &Engine,
    linker: &Linker<T>,
    data: T,
    wat: &str,
) -> (Store<T>, Instance) {
    let module = Module::new(engine, wat).unwrap();
    let mut store = Store::new(engine, data);
    let instance = linker.instantiate(&mut store, &module).unwrap();
    (store, instance)
}

fn call<T: 'static, R: wasmtime::WasmResults>(
    store: &mut Store<T>,
    instance: &Instance,
    name: &str,
) -> wasmtime::Result<R> {
    instance
        .get_typed_func::<(), R>(&mut *store, name)?
        .call(&mut *store, ())
}

fn read<T: 'static>(store: &mut Store<T>, instance: &Instance, ptr: usize, len: usize) -> Vec<u8> {
    let memory = instance.get_memory(&mut *store, "memory").unwrap();
    memory.data(&*store)[ptr..ptr + len].to_vec()
}

/// Two worlds bound by two invocations in one crate; the second reuses the
/// first's resource through `with`.
mod shared {
    pub mod a {
        wasi_threads_bindgen_rt::host!({
            inline: "
                package t:a;
                interface blobs {
                    resource blob {
                        constructor(size: u32);
                        size: func() -> u32;
                    }
                }
                world a { import blobs; }
            ",
        });
    }
    pub mod b {
        wasi_threads_bindgen_rt::host!({
            inline: r#"
                package t:b;
                interface inspect {
                    resource blob;
                    measure: func(b: borrow<blob>) -> u32;
                    make: func(size: u32) -> blob;
                }
                world b { import inspect; }
            "#,
            with: { "t:b/inspect.blob": crate::shared::a::t::a::blobs::Blob },
        });
    }
}

use shared::a::t::a::blobs::{self, Blob};
use shared::b::t::b::inspect;

#[derive(Default)]
struct Blobs {
    sizes: HashMap<u32, u32>,
    next: u32,
    dropped: Vec<u32>,
}

impl blobs::HostBlob for Blobs {
    fn new(&mut self, size: u32) -> Resource<Blob> {
        self.next += 1;
        self.sizes.insert(self.next, size);
        Resource::new(self.next)
    }
    fn size(&mut self, this: Resource<Blob>) -> u32 {
        self.sizes[&this.rep()]
    }
    fn drop(&mut self, rep: Resource<Blob>) -> wasmtime::Result<()> {
        self.sizes.remove(&rep.rep());
        self.dropped.push(rep.rep());
        Ok(())
    }
}

impl blobs::Host for Blobs {}

impl inspect::HostBlob for Blobs {
    fn drop(&mut self, rep: Resource<Blob>) -> wasmtime::Result<()> {
        <Self as blobs::HostBlob>::drop(self, rep)
    }
}

impl inspect::Host for Blobs {
    fn measure(&mut self, b: Resource<Blob>) -> u32 {
        // A handle of the first world's type, used by the second's host.
        <Self as blobs::HostBlob>::size(self, b)
    }
    fn make(&mut self, size: u32) -> Resource<Blob> {
        <Self as blobs::HostBlob>::new(self, size)
    }
}

/// One memory lookup for both worlds: they share `GuestMemory`.
fn blobs_memory(caller: &mut Caller<'_, Blobs>) -> Option<GuestMemory> {
    wasi_threads_bindgen_rt::exported_memory(caller)
}

#[test]
fn two_invocations_share_resource_and_memory_types() {
    let engine = Engine::default();
    let mut linker = Linker::new(&engine);
    shared::a::add_to_linker_with_memory(&mut linker, |b: &mut Blobs| b, blobs_memory).unwrap();
    shared::b::add_to_linker_with_memory(&mut linker, |b: &mut Blobs| b, blobs_memory).unwrap();
    let wat = r#"(module
      (import "t:a/blobs" "[constructor]blob" (func $new (param i32) (result i32)))
      (import "t:a/blobs" "[method]blob.size" (func $size (param i32) (result i32)))
      (import "t:a/blobs" "[resource-drop]blob" (func $drop_a (param i32)))
      (import "t:b/inspect" "measure" (func $measure (param i32) (result i32)))
      (import "t:b/inspect" "make" (func $make (param i32) (result i32)))
      (import "t:b/inspect" "[resource-drop]blob" (func $drop_b (param i32)))
      (memory (export "memory") 1)
      (func (export "go") (result i32)
        (local $x i32) (local $y i32)
        (local.set $x (call $new (i32.const 40)))
        (local.set $y (call $make (i32.const 2)))
        (i32.add (call $measure (local.get $x)) (call $size (local.get $y)))
        (call $drop_a (local.get $x))
        (call $drop_b (local.get $y))))"#;
    let (mut store, instance) = instance(&engine, &linker, Blobs::default(), wat);
    assert_eq!(call::<_, i32>(&mut store, &instance, "go").unwrap(), 42);
    assert_eq!(store.data().dropped, [1, 2]);
    assert!(store.data().sizes.is_empty());
}

/// `trappable` functions whose error type has a `trappable_error_type`.
mod files_bindings {
    use super::FileError;

    wasi_threads_bindgen_rt::host!({
        inline: "
            package t:e;
            interface files {
                enum error-code { not-found, denied }
                open: func(name: string) -> result<u32, error-code>;
                touch: func(n: u32) -> result<_, error-code>;
                count: func() -> u32;
            }
            world w { import files; }
        ",
        imports: { "t:e/files.open": trappable, "t:e/files.touch": trappable },
        trappable_error_type: { "t:e/files.error-code" => FileError },
    });
}

use files_bindings::t::e::files::{self, ErrorCode};

/// The host's own error: a WIT error the guest receives, or a trap.
#[derive(Debug)]
pub enum FileError {
    Code(ErrorCode),
    Fatal(String),
}

struct Files;

impl files::Host for Files {
    fn open(&mut self, name: String) -> Result<u32, FileError> {
        match name.as_str() {
            "a" => Ok(7),
            "boom" => Err(FileError::Fatal("disk on fire".to_string())),
            _ => Err(FileError::Code(ErrorCode::NotFound)),
        }
    }
    fn touch(&mut self, n: u32) -> Result<(), FileError> {
        if n == 0 {
            Err(FileError::Code(ErrorCode::Denied))
        } else {
            Ok(())
        }
    }
    fn count(&mut self) -> u32 {
        3
    }
    fn convert_error_code(&mut self, err: FileError) -> wasmtime::Result<ErrorCode> {
        match err {
            FileError::Code(code) => Ok(code),
            FileError::Fatal(message) => Err(wasmtime::format_err!("fatal: {message}")),
        }
    }
}

#[test]
fn trappable_error_types_reach_the_guest_or_trap() {
    let engine = Engine::default();
    let mut linker = Linker::new(&engine);
    files_bindings::add_to_linker(&mut linker, |f: &mut Files| f).unwrap();
    let wat = r#"(module
      (import "t:e/files" "open" (func $open (param i32 i32 i32)))
      (import "t:e/files" "touch" (func $touch (param i32 i32)))
      (import "t:e/files" "count" (func $count (result i32)))
      (memory (export "memory") 1)
      (data (i32.const 16) "a")
      (data (i32.const 20) "missing")
      (data (i32.const 32) "boom")
      (func (export "open_a") (call $open (i32.const 16) (i32.const 1) (i32.const 256)))
      (func (export "open_missing") (call $open (i32.const 20) (i32.const 7) (i32.const 264)))
      (func (export "open_boom") (call $open (i32.const 32) (i32.const 4) (i32.const 272)))
      (func (export "touch0") (call $touch (i32.const 0) (i32.const 280)))
      (func (export "touch1") (call $touch (i32.const 1) (i32.const 288)))
      (func (export "count") (result i32) (call $count)))"#;
    let (mut store, instance) = instance(&engine, &linker, Files, wat);
    call::<_, ()>(&mut store, &instance, "open_a").unwrap();
    assert_eq!(
        read(&mut store, &instance, 256, 8),
        [0, 0, 0, 0, 7, 0, 0, 0]
    );
    call::<_, ()>(&mut store, &instance, "open_missing").unwrap();
    assert_eq!(
        read(&mut store, &instance, 264, 8),
        [1, 0, 0, 0, 0, 0, 0, 0]
    );
    let trap = call::<_, ()>(&mut store, &instance, "open_boom").unwrap_err();
    assert!(
        format!("{trap:?}").contains("fatal: disk on fire"),
        "{trap:?}"
    );
    call::<_, ()>(&mut store, &instance, "touch0").unwrap();
    assert_eq!(read(&mut store, &instance, 280, 2), [1, 1], "err(denied)");
    call::<_, ()>(&mut store, &instance, "touch1").unwrap();
    assert_eq!(read(&mut store, &instance, 288, 1), [0], "ok");
    assert_eq!(call::<_, i32>(&mut store, &instance, "count").unwrap(), 3);
}

/// A `trappable_error_type` for an error type one interface defines and
/// another uses: the conversion is a method of the defining interface's
/// `Host`, as in `bindgen!`.
mod store_bindings {
    use super::StoreError;

    wasi_threads_bindgen_rt::host!({
        inline: "
            package t:x;
            interface types {
                enum error-code { missing, locked }
            }
            interface store {
                use types.{error-code};
                get: func(key: u32) -> result<u32, error-code>;
            }
            world w { import store; }
        ",
        imports: { "t:x/store.get": trappable },
        trappable_error_type: { "t:x/types.error-code" => StoreError },
    });
}

use store_bindings::t::x::{store, types};

/// The host's error for the store: a WIT error, or a trap.
#[derive(Debug)]
pub enum StoreError {
    Code(types::ErrorCode),
    Corrupt,
}

struct KeyStore;

impl store::Host for KeyStore {
    fn get(&mut self, key: u32) -> Result<u32, StoreError> {
        match key {
            1 => Ok(10),
            2 => Err(StoreError::Code(types::ErrorCode::Locked)),
            _ => Err(StoreError::Corrupt),
        }
    }
}

impl types::Host for KeyStore {
    fn convert_error_code(&mut self, err: StoreError) -> wasmtime::Result<types::ErrorCode> {
        match err {
            StoreError::Code(code) => Ok(code),
            StoreError::Corrupt => Err(wasmtime::format_err!("the store is corrupt")),
        }
    }
}

#[test]
fn a_trappable_error_type_of_another_interface_converts_through_its_host() {
    let engine = Engine::default();
    let mut linker = Linker::new(&engine);
    store_bindings::add_to_linker(&mut linker, |s: &mut KeyStore| s).unwrap();
    let wat = r#"(module
      (import "t:x/store" "get" (func $get (param i32 i32)))
      (memory (export "memory") 1)
      (func (export "get1") (call $get (i32.const 1) (i32.const 256)))
      (func (export "get2") (call $get (i32.const 2) (i32.const 264)))
      (func (export "get3") (call $get (i32.const 3) (i32.const 272))))"#;
    let (mut store, instance) = instance(&engine, &linker, KeyStore, wat);
    call::<_, ()>(&mut store, &instance, "get1").unwrap();
    assert_eq!(
        read(&mut store, &instance, 256, 8),
        [0, 0, 0, 0, 10, 0, 0, 0]
    );
    call::<_, ()>(&mut store, &instance, "get2").unwrap();
    assert_eq!(
        read(&mut store, &instance, 264, 5),
        [1, 0, 0, 0, 1],
        "err(locked)"
    );
    let trap = call::<_, ()>(&mut store, &instance, "get3").unwrap_err();
    assert!(
        format!("{trap:?}").contains("the store is corrupt"),
        "{trap:?}"
    );
}

/// `tracing` (lists elided as in `bindgen!`, shown with `verbose_tracing`)
/// and `additional_derives`.
mod calc_bindings {
    wasi_threads_bindgen_rt::host!({
        inline: "
            package t:t;
            interface calc {
                record pair { a: u32, b: u32 }
                add: func(p: pair) -> u32;
                sum: func(xs: list<u32>) -> u32;
                sum-loud: func(xs: list<u32>) -> u32;
                quiet: func() -> u32;
            }
            world w { import calc; }
        ",
        imports: {
            "t:t/calc.add": tracing,
            "t:t/calc.sum": tracing,
            "t:t/calc.sum-loud": verbose_tracing,
        },
        additional_derives: [Eq, Hash, PartialOrd],
    });
}

use calc_bindings::t::t::calc::{self, Pair};

#[derive(Default)]
struct Calc {
    seen: HashSet<Pair>,
}

impl calc::Host for Calc {
    fn add(&mut self, p: Pair) -> u32 {
        self.seen.insert(p.clone());
        p.a + p.b
    }
    fn sum(&mut self, xs: Vec<u32>) -> u32 {
        xs.iter().sum()
    }
    fn sum_loud(&mut self, xs: Vec<u32>) -> u32 {
        xs.iter().sum()
    }
    fn quiet(&mut self) -> u32 {
        1
    }
}

/// Records span attributes and events as text.
struct Recorder(Arc<Mutex<Vec<String>>>);

struct Fields(String);

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!(" {}={value:?}", field.name()));
    }
}

impl tracing::Subscriber for Recorder {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        let mut fields = Fields(format!("span {}:", span.metadata().name()));
        span.record(&mut fields);
        self.0.lock().unwrap().push(fields.0);
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut fields = Fields("event:".to_string());
        event.record(&mut fields);
        self.0.lock().unwrap().push(fields.0);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[test]
fn traced_imports_record_a_span_their_arguments_and_result() {
    let engine = Engine::default();
    let mut linker = Linker::new(&engine);
    calc_bindings::add_to_linker(&mut linker, |c: &mut Calc| c).unwrap();
    let wat = r#"(module
      (import "t:t/calc" "add" (func $add (param i32 i32) (result i32)))
      (import "t:t/calc" "sum" (func $sum (param i32 i32) (result i32)))
      (import "t:t/calc" "sum-loud" (func $sum_loud (param i32 i32) (result i32)))
      (import "t:t/calc" "quiet" (func $quiet (result i32)))
      (memory (export "memory") 1)
      (data (i32.const 16) "\01\00\00\00\02\00\00\00\03\00\00\00")
      (func (export "go") (result i32)
        (i32.add
          (i32.add (call $add (i32.const 2) (i32.const 3)) (call $sum (i32.const 16) (i32.const 3)))
          (i32.add (call $sum_loud (i32.const 16) (i32.const 2)) (call $quiet)))))"#;
    let (mut store, instance) = instance(&engine, &linker, Calc::default(), wat);
    let records = Arc::new(Mutex::new(Vec::new()));
    let result = tracing::subscriber::with_default(Recorder(records.clone()), || {
        call::<_, i32>(&mut store, &instance, "go").unwrap()
    });
    assert_eq!(result, 15);
    assert_eq!(
        *records.lock().unwrap(),
        [
            r#"span wit-bindgen import: module="calc" function="add""#,
            "event: message=call p=Pair { a: 2, b: 3 }",
            "event: message=return result=5",
            r#"span wit-bindgen import: module="calc" function="sum""#,
            r#"event: message=call xs="...""#,
            "event: message=return result=6",
            r#"span wit-bindgen import: module="calc" function="sum-loud""#,
            "event: message=call xs=[1, 2]",
            "event: message=return result=3",
        ]
    );
    // The additional derives: `Hash` and `Eq` (a set), `PartialOrd`.
    assert!(store.data().seen.contains(&Pair { a: 2, b: 3 }));
    assert!(Pair { a: 2, b: 3 } < Pair { a: 3, b: 0 });
}

/// Parameters named like the glue's own locals.
mod clash_bindings {
    wasi_threads_bindgen_rt::host!({
        inline: "
            package t:n;
            interface clash {
                f: func(store: u32, cx: string, caller: u32, memory: u32, realloc: u32, get: u32, linker: u32, host-ret: u32, host-arg0: u32, span: u32) -> u32;
            }
            world w {
                import clash;
                export h: func(store: string, cx: u32, arg1: u32, instance: u32) -> u32;
            }
        ",
        imports: { default: tracing },
    });
}

struct Clash;

impl clash_bindings::t::n::clash::Host for Clash {
    #[allow(clippy::too_many_arguments)]
    fn f(
        &mut self,
        store: u32,
        cx: String,
        caller: u32,
        memory: u32,
        realloc: u32,
        get: u32,
        linker: u32,
        host_ret: u32,
        host_arg0: u32,
        span: u32,
    ) -> u32 {
        store
            + cx.len() as u32
            + caller
            + memory
            + realloc
            + get
            + linker
            + host_ret
            + host_arg0
            + span
    }
}

#[test]
fn wit_names_do_not_clash_with_the_glue() {
    let engine = Engine::default();
    let mut linker = Linker::new(&engine);
    clash_bindings::add_to_linker(&mut linker, |c: &mut Clash| c).unwrap();
    let wat = r#"(module
      (import "t:n/clash" "f" (func $f (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
      (memory (export "memory") 1)
      (global $heap (mut i32) (i32.const 1024))
      (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
        (local $p i32)
        (local.set $p (global.get $heap))
        (global.set $heap (i32.add (global.get $heap) (local.get 3)))
        (local.get $p))
      (data (i32.const 16) "four")
      (func (export "go") (result i32)
        (call $f (i32.const 1) (i32.const 16) (i32.const 4) (i32.const 10) (i32.const 100)
                 (i32.const 1000) (i32.const 10000) (i32.const 100000) (i32.const 1000000)
                 (i32.const 10000000) (i32.const 100000000)))
      (func (export "h") (param $p i32) (param $n i32) (param $cx i32) (param $arg1 i32) (param $i i32) (result i32)
        (i32.add (local.get $n) (i32.add (local.get $cx) (i32.add (local.get $arg1) (local.get $i))))))"#;
    let (mut store, instance) = instance(&engine, &linker, Clash, wat);
    assert_eq!(
        call::<_, i32>(&mut store, &instance, "go").unwrap(),
        111_111_115
    );
    let exports = clash_bindings::W::new(&mut store, &instance).unwrap();
    assert_eq!(
        exports
            .call_h(&mut store, "abc".to_string(), 10, 100, 1000)
            .unwrap(),
        1113
    );
}

/// The canonical world, served by async host functions and called through
/// async exports.
mod async_threads {
    wasi_threads_bindgen_rt::host!({
        path: "wit",
        world: "threads",
        imports: { default: async },
        exports: { default: async },
    });
}

/// A future that is pending once before it is ready: the host function
/// really suspends the guest's call.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

/// Runs a future on this thread; the host function suspended it at least
/// once.
fn block_on<F: Future>(future: F) -> F::Output {
    let (value, pending) = support::block_on(future);
    assert!(pending > 0, "the host function suspended the call");
    value
}

#[derive(Default)]
struct Spawner {
    calls: Vec<u32>,
}

impl async_threads::wasi::threads::thread_spawn::Host for Spawner {
    async fn thread_spawn(&mut self, start_arg: u32) -> i32 {
        YieldOnce(false).await;
        self.calls.push(start_arg);
        start_arg as i32 * 2
    }
}

#[test]
fn an_async_host_serves_the_canonical_world() {
    let engine = Engine::default();
    let mut linker = Linker::new(&engine);
    async_threads::add_to_linker(&mut linker, |s: &mut Spawner| s).unwrap();
    let module = Module::new(
        &engine,
        r#"(module
          (import "wasi" "thread-spawn" (func $spawn (param i32) (result i32)))
          (memory (export "memory") 1)
          (func (export "wasi_thread_start") (param $tid i32) (param $arg i32)
            (i32.store (i32.const 64) (call $spawn (i32.add (local.get $tid) (local.get $arg))))))"#,
    )
    .unwrap();
    let pre = async_threads::ThreadsPre::new(linker.instantiate_pre(&module).unwrap()).unwrap();
    let mut store = Store::new(&engine, Spawner::default());
    block_on(async {
        let threads = pre.instantiate_async(&mut store).await.unwrap();
        threads
            .call_wasi_thread_start(&mut store, 1, 20)
            .await
            .unwrap();
        let memory = threads.instance().get_memory(&mut store, "memory").unwrap();
        assert_eq!(memory.data(&store)[64..68], 42i32.to_le_bytes());
    });
    assert_eq!(store.data().calls, [21]);
}

/// Async functions with strings: allocated in the guest with
/// `cabi_realloc` from async glue, both ways.
mod async_strings {
    wasi_threads_bindgen_rt::host!({
        inline: "
            package t:s;
            world greeter {
                import greet: func(name: string) -> string;
                export shout: func(s: string) -> string;
            }
        ",
        imports: { "greet": async },
        exports: { "shout": async },
    });
}

struct Greeter;

impl async_strings::GreeterImports for Greeter {
    async fn greet(&mut self, name: String) -> String {
        YieldOnce(false).await;
        format!("hello, {name}")
    }
}

#[test]
fn async_glue_allocates_strings_in_the_guest() {
    let engine = Engine::default();
    let mut linker = Linker::new(&engine);
    async_strings::add_to_linker(&mut linker, |g: &mut Greeter| g).unwrap();
    let module = Module::new(
        &engine,
        r#"(module
          (import "$root" "greet" (func $greet (param i32 i32 i32)))
          (memory (export "memory") 1)
          (global $heap (mut i32) (i32.const 1024))
          (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32)
            (local $p i32)
            (local.set $p (global.get $heap))
            (global.set $heap (i32.add (global.get $heap) (local.get 3)))
            (local.get $p))
          ;; shout(s) = greet(s): the host's string is the result.
          (func (export "shout") (param $p i32) (param $n i32) (result i32)
            (call $greet (local.get $p) (local.get $n) (i32.const 256))
            (i32.const 256)))"#,
    )
    .unwrap();
    let mut store = Store::new(&engine, Greeter);
    let pre = async_strings::GreeterPre::new(linker.instantiate_pre(&module).unwrap()).unwrap();
    let greeting = block_on(async {
        let greeter = pre.instantiate_async(&mut store).await.unwrap();
        greeter
            .call_shout(&mut store, "bob".to_string())
            .await
            .unwrap()
    });
    assert_eq!(greeting, "hello, bob");
}
