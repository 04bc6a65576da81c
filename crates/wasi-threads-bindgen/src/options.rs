//! Options of the host bindings, in the spelling and with the meaning of
//! wasmtime's `bindgen!` (as far as they apply to core modules): what the
//! `host!` macro, build scripts ([`crate::build::Build::host_options`]) and
//! library callers ([`crate::generate_host`]) pass to the generator.

use std::cell::Cell;

use wit_parser::{InterfaceId, Resolve};

/// How the bindings treat one function, as `bindgen!`'s
/// `imports: { "...": trappable | async | tracing }`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flags {
    /// The host function returns `wasmtime::Result<T>` (and may trap), or,
    /// for a `result<_, E>` whose `E` has a `trappable_error_type`,
    /// `Result<_, UserError>`. Without it the host returns the plain value.
    pub trappable: bool,
    /// An async host function (`func_wrap_async`) or export call
    /// (`call_async`); the store needs async support.
    pub async_: bool,
    /// A `tracing` span per call, with events for the arguments and result
    /// (values with lists shown as `...`).
    pub tracing: bool,
    /// With `tracing`: lists shown too.
    pub verbose_tracing: bool,
}

/// Flags per function: the first rule whose name matches, else the default.
/// A rule names a function as `bindgen!` does: `"ns:pkg/iface.func"` (with
/// or without the package version), or a whole interface, package or
/// namespace (`"ns:pkg/iface"`, `"ns:pkg"`, `"ns"`); a world's own function
/// by its name. Resource functions use their WIT names
/// (`"ns:pkg/iface.[method]res.name"`), a resource's drop
/// `"ns:pkg/iface.[drop]res"`.
#[derive(Clone, Debug, Default)]
pub struct FunctionConfig {
    pub rules: Vec<(String, Flags)>,
    pub default: Flags,
}

/// Everything the host generator can be told.
#[derive(Clone, Debug, Default)]
pub struct HostOptions {
    /// Flags of host functions the guest imports.
    pub imports: FunctionConfig,
    /// Flags of the guest's exports the host calls (`async` only).
    pub exports: FunctionConfig,
    /// `("ns:pkg/iface.error-type", "path::to::RustError")`: a trappable
    /// function returning `result<_, error-type>` returns
    /// `Result<_, RustError>`, and the interface's `Host` trait gains
    /// `convert_error_type(&mut self, RustError) -> wasmtime::Result<ErrorType>`
    /// (an `Err` traps).
    pub trappable_error_type: Vec<(String, String)>,
    /// `("ns:pkg/iface.type", "path::to::Type")`: the type is not generated;
    /// the user's type (of the same shape: field and case names) is used.
    pub with: Vec<(String, String)>,
    /// Derives added to every generated record, variant, enum and flags.
    pub additional_derives: Vec<String>,
}

/// The names a rule may use for `item` of `interface` (or of the world), most
/// specific first, as `bindgen!` looks them up.
pub(crate) fn lookup_keys(
    resolve: &Resolve,
    interface: Option<InterfaceId>,
    item: &str,
) -> Vec<String> {
    let Some(id) = interface else {
        return vec![item.to_string()];
    };
    let iface = &resolve.interfaces[id];
    let name = iface.name.clone().unwrap_or_default();
    let Some(pkg) = iface.package else {
        return vec![format!("{name}.{item}")];
    };
    let pkg = &resolve.packages[pkg].name;
    let unversioned = format!("{}:{}", pkg.namespace, pkg.name);
    let versioned = match &pkg.version {
        Some(v) => format!("{unversioned}@{v}"),
        None => unversioned.clone(),
    };
    let iface_unversioned = format!("{unversioned}/{name}");
    let iface_versioned = match &pkg.version {
        Some(v) => format!("{iface_unversioned}@{v}"),
        None => iface_unversioned.clone(),
    };
    let mut keys = vec![
        format!("{iface_versioned}.{item}"),
        format!("{iface_unversioned}.{item}"),
        iface_versioned,
        iface_unversioned,
        versioned,
        unversioned,
        pkg.namespace.clone(),
    ];
    keys.dedup();
    keys
}

/// A [`FunctionConfig`] being applied: remembers which rules matched, so
/// a rule naming nothing is reported instead of silently ignored.
pub(crate) struct Rules<'o> {
    config: &'o FunctionConfig,
    used: Vec<Cell<bool>>,
}

impl<'o> Rules<'o> {
    pub fn new(config: &'o FunctionConfig) -> Self {
        Rules {
            config,
            used: config.rules.iter().map(|_| Cell::new(false)).collect(),
        }
    }

    /// The flags of `item` (a WIT function name or `[drop]res`).
    pub fn flags(&self, resolve: &Resolve, interface: Option<InterfaceId>, item: &str) -> Flags {
        for key in lookup_keys(resolve, interface, item) {
            if let Some(i) = self.config.rules.iter().position(|(k, _)| *k == key) {
                self.used[i].set(true);
                return self.config.rules[i].1;
            }
        }
        self.config.default
    }

    /// The first rule that matched no function.
    pub fn unused(&self) -> Option<&'o str> {
        self.config
            .rules
            .iter()
            .zip(&self.used)
            .find(|(_, used)| !used.get())
            .map(|((k, _), _)| k.as_str())
    }
}
