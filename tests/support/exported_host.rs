//! A hand-written host of the resource intrinsics a guest that exports a
//! resource imports, written from the component model's rules for
//! `canon resource.new`, `resource.rep` and `resource.drop` and independent
//! of this project's generators: guest bindings are checked against it
//! before they meet the generated host.
//!
//! The rules kept: a handle is a nonzero index into the guest's table of
//! owned handles; `[resource-new]` adds one for a representation;
//! `[resource-rep]` reads it; `[resource-drop]` removes it and runs the
//! guest's `[dtor]` export on the representation. A handle the guest
//! returns as `own` moves out of the table to the host ([`Handles::lift`]);
//! one the host passes as `own` moves in ([`Handles::lower`]). An unknown
//! handle traps.

use wasmtime::{Caller, Instance, Linker, Module, SharedMemory, Store};

/// The guest's table of owned handles, and what the host saw.
#[derive(Default)]
pub struct Handles {
    slots: Vec<Option<u32>>,
    /// Representations the `[dtor]` export was called with, in order.
    pub destroyed: Vec<u32>,
}

impl Handles {
    /// A new handle for `rep`: the lowest free index, from 1.
    pub fn insert(&mut self, rep: u32) -> u32 {
        match self.slots.iter().position(Option::is_none) {
            Some(i) => {
                self.slots[i] = Some(rep);
                i as u32 + 1
            }
            None => {
                self.slots.push(Some(rep));
                self.slots.len() as u32
            }
        }
    }

    /// The representation behind `handle`.
    pub fn rep(&self, handle: u32) -> wasmtime::Result<u32> {
        handle
            .checked_sub(1)
            .and_then(|i| self.slots.get(i as usize).copied().flatten())
            .ok_or_else(|| wasmtime::format_err!("unknown handle {handle}"))
    }

    /// Removes `handle`; returns its representation.
    pub fn remove(&mut self, handle: u32) -> wasmtime::Result<u32> {
        let rep = self.rep(handle)?;
        self.slots[handle as usize - 1] = None;
        Ok(rep)
    }

    /// Handles still in the table.
    pub fn live(&self) -> usize {
        self.slots.iter().flatten().count()
    }
}

/// A guest instance with the intrinsics of `interface`'s `resource` served
/// by [`Handles`].
pub struct Guest {
    pub store: Store<Handles>,
    pub instance: Instance,
    pub memory: SharedMemory,
    interface: String,
    resource: String,
}

impl Guest {
    /// Instantiates `wasm` (a reactor importing a shared memory); imports
    /// other than the intrinsics trap.
    pub fn new(wasm: &std::path::Path, interface: &str, resource: &str) -> Guest {
        let module = Module::from_file(&super::threads_engine(), wasm).unwrap();
        let module_name = format!("[export]{interface}");
        let dtor = format!("{interface}#[dtor]{resource}");
        let mut imported = None;
        let (store, instance) = super::instantiate_reactor(
            &module,
            Handles::default(),
            |linker: &mut Linker<Handles>, _, memory| {
                imported = memory;
                linker
                    .func_wrap(
                        &module_name,
                        &format!("[resource-new]{resource}"),
                        |mut c: Caller<'_, Handles>, rep: u32| c.data_mut().insert(rep),
                    )
                    .unwrap()
                    .func_wrap(
                        &module_name,
                        &format!("[resource-rep]{resource}"),
                        |c: Caller<'_, Handles>, handle: u32| c.data().rep(handle),
                    )
                    .unwrap()
                    .func_wrap(
                        &module_name,
                        &format!("[resource-drop]{resource}"),
                        move |mut c: Caller<'_, Handles>, handle: u32| -> wasmtime::Result<()> {
                            let rep = c.data_mut().remove(handle)?;
                            c.data_mut().destroyed.push(rep);
                            let dtor = c
                                .get_export(&dtor)
                                .and_then(|e| e.into_func())
                                .ok_or_else(|| wasmtime::format_err!("no export `{dtor}`"))?;
                            dtor.typed::<u32, ()>(&c)?.call(&mut c, rep)
                        },
                    )
                    .unwrap();
            },
        );
        Guest {
            store,
            instance,
            memory: imported.expect("the guest imports a shared memory"),
            interface: interface.to_string(),
            resource: resource.to_string(),
        }
    }

    /// The export `<interface>#<name>`.
    pub fn export<P: wasmtime::WasmParams, R: wasmtime::WasmResults>(
        &mut self,
        name: &str,
    ) -> wasmtime::TypedFunc<P, R> {
        let full = format!("{}#{name}", self.interface);
        self.export_named(&full)
    }

    /// The export named `full`.
    pub fn export_named<P: wasmtime::WasmParams, R: wasmtime::WasmResults>(
        &mut self,
        full: &str,
    ) -> wasmtime::TypedFunc<P, R> {
        self.instance
            .get_typed_func(&mut self.store, full)
            .unwrap_or_else(|e| panic!("export `{full}`: {e}"))
    }

    /// Takes an `own` handle the guest returned: it leaves the guest's
    /// table; the host now holds the representation.
    pub fn lift(&mut self, handle: u32) -> u32 {
        self.store.data_mut().remove(handle).unwrap()
    }

    /// Passes a representation the host holds to the guest as `own`.
    pub fn lower(&mut self, rep: u32) -> u32 {
        self.store.data_mut().insert(rep)
    }

    /// The host drops a representation it holds: the destructor runs.
    pub fn drop_rep(&mut self, rep: u32) {
        self.store.data_mut().destroyed.push(rep);
        let dtor = format!("[dtor]{}", self.resource);
        let f = self.export::<u32, ()>(&dtor);
        f.call(&mut self.store, rep).unwrap();
    }

    /// `len` bytes of the guest's memory at `ptr`.
    pub fn read(&self, ptr: u32, len: u32) -> Vec<u8> {
        let data = self.memory.data();
        data[ptr as usize..(ptr + len) as usize]
            .iter()
            .map(|b| unsafe { *b.get() })
            .collect()
    }

    /// Writes `bytes` into a block the guest's `cabi_realloc` gives.
    pub fn write(&mut self, bytes: &[u8], align: u32) -> u32 {
        let realloc = self
            .instance
            .get_typed_func::<(u32, u32, u32, u32), u32>(&mut self.store, "cabi_realloc")
            .unwrap();
        let ptr = realloc
            .call(&mut self.store, (0, 0, align, bytes.len() as u32))
            .unwrap();
        let data = self.memory.data();
        for (i, b) in bytes.iter().enumerate() {
            unsafe { *data[ptr as usize + i].get() = *b };
        }
        ptr
    }
}

/// Runs the scenario of `tests/bindgen/exported-resources.wit` on a guest
/// through the core exports alone: counters created, called, lent in a
/// list, handed back, dropped by the host and by the guest, also through
/// the interface that reaches the resource by `use`; each destructor run
/// once; at the end no handle is left in the table.
pub fn exercise(wasm: &std::path::Path) {
    let mut g = Guest::new(wasm, "test:exported/counters", "counter");
    let new = g.export::<u32, u32>("[constructor]counter");
    let add = g.export::<(u32, u32), ()>("[method]counter.add");
    let get = g.export::<u32, u32>("[method]counter.get");
    let describe = g.export::<u32, u32>("[method]counter.describe");
    let merge = g.export::<(u32, u32), u32>("[static]counter.merge");
    let finish = g.export::<u32, u32>("finish");
    let total = g.export::<(u32, u32), u32>("total");
    let destroyed = g.export::<(), u32>("destroyed");

    // Created: the constructor returns an owned handle, which moves to
    // the host.
    let h = new.call(&mut g.store, 5).unwrap();
    let a = g.lift(h);
    assert_eq!(
        g.store.data().live(),
        0,
        "the returned handle left the table"
    );
    // Called: methods take the representation.
    add.call(&mut g.store, (a, 3)).unwrap();
    assert_eq!(get.call(&mut g.store, a).unwrap(), 8);
    let area = describe.call(&mut g.store, a).unwrap();
    let words = g.read(area, 8);
    let (ptr, len) = (
        u32::from_le_bytes(words[..4].try_into().unwrap()),
        u32::from_le_bytes(words[4..].try_into().unwrap()),
    );
    assert_eq!(g.read(ptr, len), b"counter 8");
    if let Ok(post) = g.instance.get_typed_func::<u32, ()>(
        &mut g.store,
        "cabi_post_test:exported/counters#[method]counter.describe",
    ) {
        post.call(&mut g.store, area).unwrap();
    }

    // Lent in a list: borrows of the guest's own resource are reps.
    let h = new.call(&mut g.store, 10).unwrap();
    let b = g.lift(h);
    let list: Vec<u8> = [a, b].iter().flat_map(|r| r.to_le_bytes()).collect();
    let ptr = g.write(&list, 4);
    assert_eq!(total.call(&mut g.store, (ptr, 2)).unwrap(), 18);

    // Handed back: `merge` lends `a` and takes `b`, which the guest drops.
    let b_handle = g.lower(b);
    let h = merge.call(&mut g.store, (a, b_handle)).unwrap();
    let m = g.lift(h);
    assert_eq!(get.call(&mut g.store, m).unwrap(), 18);
    assert_eq!(g.store.data().destroyed, [b], "the guest dropped `b`");
    assert_eq!(destroyed.call(&mut g.store, ()).unwrap(), 1);

    // Handed back and dropped by the guest through `finish`.
    let m_handle = g.lower(m);
    assert_eq!(finish.call(&mut g.store, m_handle).unwrap(), 18);
    assert_eq!(g.store.data().destroyed, [b, m]);
    assert_eq!(destroyed.call(&mut g.store, ()).unwrap(), 2);

    // Dropped by the host: the destructor runs.
    g.drop_rep(a);
    assert_eq!(destroyed.call(&mut g.store, ()).unwrap(), 3);
    assert_eq!(g.store.data().live(), 0, "no handle is left");

    // The same resource through `use` from another interface (`tally`):
    // made, lent, handed back and dropped there.
    let make = g.export_named::<u32, u32>("test:exported/tally#make");
    let peek = g.export_named::<u32, u32>("test:exported/tally#peek");
    let consume = g.export_named::<u32, u32>("test:exported/tally#consume");
    let h = make.call(&mut g.store, 40).unwrap();
    let t = g.lift(h);
    add.call(&mut g.store, (t, 2)).unwrap();
    assert_eq!(peek.call(&mut g.store, t).unwrap(), 42);
    let h = g.lower(t);
    assert_eq!(consume.call(&mut g.store, h).unwrap(), 42);
    assert_eq!(g.store.data().destroyed, [b, m, a, t]);
    assert_eq!(destroyed.call(&mut g.store, ()).unwrap(), 4);
    assert_eq!(g.store.data().live(), 0);

    // Many rounds leave no handle and run every destructor.
    for i in 0..200 {
        let h = new.call(&mut g.store, i).unwrap();
        let r = g.lift(h);
        let h = g.lower(r);
        assert_eq!(finish.call(&mut g.store, h).unwrap(), i);
    }
    assert_eq!(destroyed.call(&mut g.store, ()).unwrap(), 204);
    assert_eq!(g.store.data().live(), 0);
}
