//! The body of one function's glue in Rust: wit-bindgen-core's instruction
//! stream (lifting and lowering per the canonical ABI) turned into
//! statements, for the host (through `_rt::Cx`, which checks every guest
//! pointer) or for the guest (raw memory access).

use std::fmt::Write;

use wit_bindgen_core::abi::{Bindgen, Bitcast, Instruction, WasmType};
use wit_parser::{
    Alignment, ArchitectureSize, Function, FunctionKind, Handle, Resolve, SizeAlign, Type,
    TypeDefKind, TypeId,
};

use super::{camel, RustGen};

/// Which glue is being emitted.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Glue {
    /// A host trampoline for a guest import: lift arguments, call the
    /// `Host` trait, lower results.
    HostImport,
    /// A host call of a guest export: lower arguments, call, lift results.
    HostExport,
    /// A guest wrapper of an import.
    GuestImport,
    /// A guest entry point of an export.
    GuestExport,
}

/// Makes the expression calling the host from the lifted arguments.
pub(crate) type HostCall<'g> = Box<dyn Fn(&[String]) -> String + 'g>;

pub(crate) struct FuncGen<'g, 'a> {
    pub gen: &'g RustGen<'a>,
    pub glue: Glue,
    pub depth: usize,
    pub func: &'g Function,
    /// The expression that calls the Rust implementation (`CallInterface`)
    /// or the core function (`CallWasm`), given the arguments joined.
    pub callee: String,
    /// Names of the Rust arguments, for lowering.
    pub params: Vec<String>,
    /// What each core argument is, for trap messages (host imports).
    pub arg_labels: Vec<String>,
    pub src: String,
    blocks: Vec<String>,
    finished: Vec<(String, Vec<String>)>,
    payloads: Vec<String>,
    tmp: usize,
    label: String,
    /// Guest import glue keeps what the callee reads until the call returns.
    pub uses_keep: bool,
    pub uses_memory: bool,
    pub uses_realloc: bool,
    pub lifts_lists: bool,
    /// The field holding the export's `cabi_post_*` function, if the glue
    /// calls it after lifting the results (host exports).
    pub post_return: Option<String>,
    wasm_ret: Option<String>,
    /// An instruction this generator has no code for: the glue is refused.
    pub error: Option<String>,
    /// Host glue for an async store: guest calls are `call_async`.
    pub is_async: bool,
    /// Host imports: the expression calling the host with the lifted
    /// arguments (the trait call, with its error handling and tracing).
    pub host_call: Option<HostCall<'g>>,
    /// How guest trap messages name the function (`iface#func`).
    pub context: String,
    /// Host exports: the expression of each exported resource's `[dtor]`
    /// export, which owned results carry.
    pub dtors: Vec<(TypeId, String)>,
    /// Host exports: the glue moves owned handles in or out of the guest's
    /// table, which the store's data gives out.
    pub uses_guest_resources: bool,
}

impl<'g, 'a> FuncGen<'g, 'a> {
    pub fn new(gen: &'g RustGen<'a>, glue: Glue, depth: usize, func: &'g Function) -> Self {
        FuncGen {
            gen,
            glue,
            depth,
            func,
            callee: String::new(),
            params: Vec::new(),
            arg_labels: Vec::new(),
            src: String::new(),
            blocks: Vec::new(),
            finished: Vec::new(),
            payloads: Vec::new(),
            tmp: 0,
            label: "arguments".to_string(),
            uses_keep: false,
            uses_memory: false,
            uses_realloc: false,
            lifts_lists: false,
            post_return: None,
            wasm_ret: None,
            error: None,
            is_async: false,
            host_call: None,
            context: func.name.clone(),
            dtors: Vec::new(),
            uses_guest_resources: false,
        }
    }

    fn tmp(&mut self) -> usize {
        self.tmp += 1;
        self.tmp
    }

    fn line(&mut self, s: impl AsRef<str>) {
        self.src.push_str(s.as_ref());
        self.src.push('\n');
    }

    fn host(&self) -> bool {
        matches!(self.glue, Glue::HostImport | Glue::HostExport)
    }

    fn rt(&self) -> String {
        if self.host() {
            super::HOST_RT.to_string()
        } else {
            format!("{}_rt", RustGen::root(self.depth))
        }
    }

    /// A guest allocation from host glue.
    fn realloc_call(&self, size: &str, align: impl std::fmt::Display) -> String {
        let what = self.what();
        if self.is_async {
            format!("cx.realloc_async({what}, {size}, {align}).await?")
        } else {
            format!("cx.realloc({what}, {size}, {align})?")
        }
    }

    /// `.call(...)` of a guest function from host glue.
    fn guest_call(&self, func: &str, args: &str) -> String {
        if self.is_async {
            format!("{func}.call_async(&mut cx.store, {args}).await?")
        } else {
            format!("{func}.call(&mut cx.store, {args})?")
        }
    }

    fn what(&self) -> String {
        format!("{:?}", self.label)
    }

    /// Where a guest's trap message says the invalid value was: "the
    /// result of `iface#func`", as a string literal.
    fn guest_what(&self) -> String {
        format!("{:?}", format!("the {} of `{}`", self.label, self.context))
    }

    fn load(&mut self, ty: &str, addr: &str, offset: ArchitectureSize, results: &mut Vec<String>) {
        let off = offset.size_wasm32();
        let n = self.tmp();
        let expr = if self.host() {
            self.uses_memory = true;
            format!("cx.load::<{ty}>({}, {addr}, {off})?", self.what())
        } else {
            format!("*(({addr} as usize + {off}) as *const {ty})")
        };
        let widened = match ty {
            "u8" | "i8" | "u16" | "i16" => format!("i32::from({expr})"),
            _ => expr,
        };
        self.line(format!("let l{n} = {widened};"));
        results.push(format!("l{n}"));
    }

    fn store(&mut self, ty: &str, operands: &[String], offset: ArchitectureSize) {
        let off = offset.size_wasm32();
        let (value, addr) = (&operands[0], &operands[1]);
        let value = match ty {
            "u8" | "u16" => format!("({value}) as {ty}"),
            _ => value.clone(),
        };
        if self.host() {
            self.uses_memory = true;
            let what = self.what();
            self.line(format!(
                "cx.store::<{ty}>({what}, {addr}, {off}, {value})?;"
            ));
        } else {
            self.line(format!(
                "*(({addr} as usize + {off}) as *mut {ty}) = {value};"
            ));
        }
    }

    fn type_name(&self, ty: &Type) -> String {
        self.gen.ty(ty, self.depth, false)
    }

    /// The `match` that lowers one variant-like value into `results.len()`
    /// joined core values, one arm per block.
    fn lower_arms(
        &mut self,
        value: &str,
        arms: Vec<String>,
        nresults: usize,
        results: &mut Vec<String>,
    ) {
        let blocks = self
            .finished
            .split_off(self.finished.len().saturating_sub(arms.len()));
        let payloads = self
            .payloads
            .split_off(self.payloads.len().saturating_sub(arms.len()));
        let names: Vec<String> = (0..nresults).map(|_| format!("v{}", self.tmp())).collect();
        let mut s = String::new();
        if names.is_empty() {
            let _ = writeln!(s, "match {value} {{");
        } else {
            let _ = writeln!(s, "let ({},) = match {value} {{", names.join(", "));
        }
        for ((pattern, (code, ops)), payload) in arms.iter().zip(blocks).zip(payloads) {
            let pattern = pattern.replace("PAYLOAD", &payload);
            let tuple = if ops.is_empty() {
                "()".to_string()
            } else {
                format!("({},)", ops.join(", "))
            };
            let _ = writeln!(s, "{pattern} => {{\n{code}{tuple}\n}}");
        }
        s.push_str(if names.is_empty() { "}\n" } else { "};\n" });
        self.src.push_str(&s);
        results.extend(names);
    }

    /// The `match` that lifts a discriminant into a value, one arm per
    /// block; `build` makes each arm's value from the block's operand.
    fn lift_arms(
        &mut self,
        disc: &str,
        arms: Vec<(String, bool)>,
        ty: &str,
        results: &mut Vec<String>,
    ) {
        let blocks = self
            .finished
            .split_off(self.finished.len().saturating_sub(arms.len()));
        let n = self.tmp();
        let mut s = format!("let v{n}: {ty} = match {disc} {{\n");
        for (i, ((ctor, has_payload), (code, ops))) in arms.into_iter().zip(blocks).enumerate() {
            let value = if has_payload {
                format!("{ctor}({})", ops.first().cloned().unwrap_or_default())
            } else {
                ctor
            };
            let _ = writeln!(s, "{i} => {{\n{code}{value}\n}}");
        }
        if self.host() {
            let _ = writeln!(
                s,
                "_ => return Err(cx.discriminant({}, {disc})),",
                self.what()
            );
        } else {
            let _ = writeln!(
                s,
                "_ => {}::invalid_discriminant({}),",
                self.rt(),
                self.guest_what()
            );
        }
        s.push_str("};\n");
        self.src.push_str(&s);
        results.push(format!("v{n}"));
    }

    fn alloc_list(&mut self, vec: &str, size: usize, align: usize, keep: bool) -> String {
        let n = self.tmp();
        let rt = self.rt();
        if self.host() {
            self.uses_realloc = true;
            self.uses_memory = true;
            let call = self.realloc_call(&format!("{vec}.len() * {size}"), align);
            self.line(format!("let p{n} = {call};"));
        } else {
            self.line(format!(
                "let layout{n} = {rt}::Layout::from_size_align({vec}.len() * {size}, {align}).unwrap();
let p{n} = {rt}::alloc_bytes(layout{n}) as i32;"
            ));
            if !keep {
                self.uses_keep = true;
                self.line(format!(
                    "keep.push({rt}::Box::new({rt}::Temp {{ ptr: p{n} as *mut u8, layout: layout{n} }}));"
                ));
            }
        }
        format!("p{n}")
    }
}

impl FuncGen<'_, '_> {
    /// The call of a guest's implementation of an export. A method of an
    /// exported resource gets `&T` from the representation; a constructor's
    /// value becomes an owned handle (`R::new`), as wit-bindgen does.
    fn guest_export_call(&self, func: &Function, operands: &[String]) -> String {
        let mut args = operands.to_vec();
        if let (FunctionKind::Method(_), Some(first)) = (&func.kind, args.first_mut()) {
            first.push_str(".get::<T>()");
        }
        let call = format!("{}({})", self.callee, args.join(", "));
        match &func.kind {
            FunctionKind::Constructor(r) => {
                let path = self.gen.type_path(*r, self.depth);
                if super::guest::constructor_is_fallible(self.gen.resolve(), func) {
                    format!("{call}.map({path}::new)")
                } else {
                    format!("{path}::new({call})")
                }
            }
            _ => call,
        }
    }
}

fn bitcast(cast: &Bitcast, op: &str) -> String {
    match cast {
        Bitcast::I32ToF32 => format!("f32::from_bits({op} as u32)"),
        Bitcast::F32ToI32 => format!("({op}).to_bits() as i32"),
        Bitcast::I64ToF64 => format!("f64::from_bits({op} as u64)"),
        Bitcast::F64ToI64 => format!("({op}).to_bits() as i64"),
        Bitcast::I32ToI64 | Bitcast::PToP64 | Bitcast::LToI64 => format!("i64::from({op})"),
        Bitcast::I64ToI32 | Bitcast::P64ToP | Bitcast::I64ToL => format!("{op} as i32"),
        Bitcast::F32ToI64 => format!("i64::from(({op}).to_bits())"),
        Bitcast::I64ToF32 => format!("f32::from_bits({op} as u32)"),
        Bitcast::P64ToI64
        | Bitcast::I64ToP64
        | Bitcast::I32ToP
        | Bitcast::PToI32
        | Bitcast::PToL
        | Bitcast::LToP
        | Bitcast::I32ToL
        | Bitcast::LToI32
        | Bitcast::None => op.to_string(),
        Bitcast::Sequence(seq) => bitcast(&seq[1], &bitcast(&seq[0], op)),
    }
}

pub(crate) fn wasm_type(ty: WasmType) -> &'static str {
    match ty {
        WasmType::I32 | WasmType::Pointer | WasmType::Length => "i32",
        WasmType::I64 | WasmType::PointerOrI64 => "i64",
        WasmType::F32 => "f32",
        WasmType::F64 => "f64",
    }
}

impl crate::Glue for FuncGen<'_, '_> {
    fn take_error(&mut self) -> Option<String> {
        self.error.take()
    }
}

impl Bindgen for FuncGen<'_, '_> {
    type Operand = String;

    fn emit(
        &mut self,
        resolve: &Resolve,
        inst: &Instruction<'_>,
        operands: &mut Vec<String>,
        results: &mut Vec<String>,
    ) {
        let rt = self.rt();
        match inst {
            Instruction::GetArg { nth } => match self.glue {
                Glue::HostImport | Glue::GuestExport => {
                    if let Some(label) = self.arg_labels.get(*nth) {
                        self.label = label.clone();
                    }
                    results.push(format!("arg{nth}"));
                }
                Glue::HostExport | Glue::GuestImport => {
                    self.label = format!("argument `{}`", self.func.params[*nth].name);
                    results.push(self.params[*nth].clone());
                }
            },
            Instruction::I32Const { val } => results.push(format!("{val}i32")),
            Instruction::ConstZero { tys } => {
                for ty in tys.iter() {
                    results.push(format!("0{}", wasm_type(*ty)));
                }
            }
            Instruction::Bitcasts { casts } => {
                for (cast, op) in casts.iter().zip(operands.iter()) {
                    results.push(bitcast(cast, op));
                }
            }
            Instruction::I32Load { offset }
            | Instruction::PointerLoad { offset }
            | Instruction::LengthLoad { offset } => {
                self.load("i32", &operands[0], *offset, results)
            }
            Instruction::I32Load8U { offset } => self.load("u8", &operands[0], *offset, results),
            Instruction::I32Load8S { offset } => self.load("i8", &operands[0], *offset, results),
            Instruction::I32Load16U { offset } => self.load("u16", &operands[0], *offset, results),
            Instruction::I32Load16S { offset } => self.load("i16", &operands[0], *offset, results),
            Instruction::I64Load { offset } => self.load("i64", &operands[0], *offset, results),
            Instruction::F32Load { offset } => self.load("f32", &operands[0], *offset, results),
            Instruction::F64Load { offset } => self.load("f64", &operands[0], *offset, results),
            Instruction::I32Store { offset }
            | Instruction::PointerStore { offset }
            | Instruction::LengthStore { offset } => self.store("i32", operands, *offset),
            Instruction::I32Store8 { offset } => self.store("u8", operands, *offset),
            Instruction::I32Store16 { offset } => self.store("u16", operands, *offset),
            Instruction::I64Store { offset } => self.store("i64", operands, *offset),
            Instruction::F32Store { offset } => self.store("f32", operands, *offset),
            Instruction::F64Store { offset } => self.store("f64", operands, *offset),

            Instruction::I32FromChar
            | Instruction::I32FromU32
            | Instruction::I32FromS32
            | Instruction::I32FromU16
            | Instruction::I32FromS16
            | Instruction::I32FromU8
            | Instruction::I32FromS8 => results.push(format!("({}) as i32", operands[0])),
            Instruction::I32FromBool => results.push(format!("i32::from({})", operands[0])),
            Instruction::I64FromU64 | Instruction::I64FromS64 => {
                results.push(format!("({}) as i64", operands[0]))
            }
            Instruction::CoreF32FromF32
            | Instruction::CoreF64FromF64
            | Instruction::F32FromCoreF32
            | Instruction::F64FromCoreF64
            | Instruction::S32FromI32
            | Instruction::S64FromI64 => results.push(operands[0].clone()),
            Instruction::S8FromI32 => results.push(format!("({}) as i8", operands[0])),
            Instruction::U8FromI32 => results.push(format!("({}) as u8", operands[0])),
            Instruction::S16FromI32 => results.push(format!("({}) as i16", operands[0])),
            Instruction::U16FromI32 => results.push(format!("({}) as u16", operands[0])),
            Instruction::U32FromI32 => results.push(format!("({}) as u32", operands[0])),
            Instruction::U64FromI64 => results.push(format!("({}) as u64", operands[0])),
            Instruction::BoolFromI32 => results.push(format!("({} != 0)", operands[0])),
            Instruction::CharFromI32 => {
                let n = self.tmp();
                if self.host() {
                    let what = self.what();
                    self.line(format!("let c{n} = cx.char({what}, {})?;", operands[0]));
                } else {
                    let what = self.guest_what();
                    self.line(format!(
                        "let c{n} = {rt}::char_lift({}, {what});",
                        operands[0]
                    ));
                }
                results.push(format!("c{n}"));
            }

            Instruction::StringLower { realloc } => {
                let n = self.tmp();
                self.line(format!("let bytes{n} = {}.into_bytes();", operands[0]));
                if self.host() {
                    let p = self.alloc_list(&format!("bytes{n}"), 1, 1, true);
                    let what = self.what();
                    self.line(format!("cx.write({what}, {p}, 0, &bytes{n})?;"));
                    results.push(p);
                } else if realloc.is_some() {
                    self.line(format!(
                        "let bytes{n} = core::mem::ManuallyDrop::new(bytes{n}.into_boxed_slice());"
                    ));
                    results.push(format!("bytes{n}.as_ptr() as i32"));
                } else {
                    // The bytes must outlive the call, even when lowered in
                    // a loop or a match arm.
                    self.uses_keep = true;
                    self.line(format!(
                        "let ptr{n} = bytes{n}.as_ptr() as i32;\nlet len{n} = bytes{n}.len() as i32;\nkeep.push({rt}::Box::new(bytes{n}));"
                    ));
                    results.push(format!("ptr{n}"));
                    results.push(format!("len{n}"));
                    return;
                }
                results.push(format!("bytes{n}.len() as i32"));
            }
            Instruction::ListCanonLower { realloc, .. } => {
                // Only guests treat lists as canonical.
                let n = self.tmp();
                if realloc.is_some() {
                    self.line(format!(
                        "let vec{n} = core::mem::ManuallyDrop::new({}.into_boxed_slice());",
                        operands[0]
                    ));
                } else {
                    self.uses_keep = true;
                    self.line(format!(
                        "let vec{n} = {};\nlet ptr{n} = vec{n}.as_ptr() as i32;\nlet len{n} = vec{n}.len() as i32;\nkeep.push({rt}::Box::new(vec{n}));",
                        operands[0]
                    ));
                    results.push(format!("ptr{n}"));
                    results.push(format!("len{n}"));
                    return;
                }
                results.push(format!("vec{n}.as_ptr() as i32"));
                results.push(format!("vec{n}.len() as i32"));
            }
            Instruction::ListLower { element, realloc } => {
                let (code, _) = self.finished.pop().unwrap_or_default();
                let size = self.gen.wm.sizes.size(element).size_wasm32();
                let align = self.gen.wm.sizes.align(element).align_wasm32();
                let n = self.tmp();
                self.line(format!(
                    "let vec{n} = {};\nlet len{n} = vec{n}.len() as i32;",
                    operands[0]
                ));
                let p = self.alloc_list(&format!("vec{n}"), size, align, realloc.is_some());
                self.line(format!(
                    "for (i, e) in vec{n}.into_iter().enumerate() {{\nlet base = {p} + (i * {size}) as i32;\n{code}}}"
                ));
                results.push(p);
                results.push(format!("len{n}"));
            }
            Instruction::ListCanonLift { element, .. } => {
                self.lifts_lists = true;
                let n = self.tmp();
                let ty = self.type_name(element);
                let size = self.gen.wm.sizes.size(element).size_wasm32();
                let align = self.gen.wm.sizes.align(element).align_wasm32();
                let what = self.guest_what();
                self.line(format!(
                    "let len{n} = {} as usize;\nlet _ = {rt}::list_layout(len{n}, {size}, {align}, {what});\nlet v{n}: {rt}::Vec<{ty}> = if len{n} == 0 {{ {rt}::Vec::new() }} else {{ {rt}::Vec::from_raw_parts({} as *mut {ty}, len{n}, len{n}) }};",
                    operands[1], operands[0]
                ));
                results.push(format!("v{n}"));
            }
            Instruction::StringLift => {
                let n = self.tmp();
                if self.host() {
                    self.uses_memory = true;
                    let what = self.what();
                    self.line(format!(
                        "let s{n} = cx.string({what}, {}, {})?;",
                        operands[0], operands[1]
                    ));
                } else {
                    self.lifts_lists = true;
                    let what = self.guest_what();
                    self.line(format!(
                        "let s{n} = {rt}::string_lift({}, {}, {what});",
                        operands[0], operands[1]
                    ));
                }
                results.push(format!("s{n}"));
            }
            Instruction::ListLift { element, .. } => {
                let (code, ops) = self.finished.pop().unwrap_or_default();
                let size = self.gen.wm.sizes.size(element).size_wasm32();
                let align = self.gen.wm.sizes.align(element).align_wasm32();
                let ty = self.type_name(element);
                let n = self.tmp();
                self.line(format!("let base{n} = {};", operands[0]));
                if self.host() {
                    self.uses_memory = true;
                    let what = self.what();
                    self.line(format!(
                        "let len{n} = cx.list({what}, base{n}, {}, {size}, {align})?;",
                        operands[1]
                    ));
                } else {
                    self.lifts_lists = true;
                    let what = self.guest_what();
                    self.line(format!(
                        "let len{n} = {} as usize;\nlet layout{n} = {rt}::list_layout(len{n}, {size}, {align}, {what});",
                        operands[1]
                    ));
                }
                let vec = if self.host() {
                    "Vec".to_string()
                } else {
                    format!("{rt}::Vec")
                };
                self.line(format!(
                    "let mut v{n}: {vec}<{ty}> = {vec}::with_capacity(len{n}.min(4096));
for i in 0..len{n} {{
let base = base{n} + (i * {size}) as i32;
{code}v{n}.push({});
}}",
                    ops[0]
                ));
                if !self.host() {
                    self.line(format!(
                        "{rt}::dealloc_bytes(base{n} as *mut u8, layout{n});"
                    ));
                }
                results.push(format!("v{n}"));
            }
            Instruction::IterElem { .. } => results.push("e".into()),
            Instruction::IterBasePointer => results.push("base".into()),

            Instruction::RecordLower { record, ty, .. } => {
                let n = self.tmp();
                let path = self.gen.type_path(*ty, self.depth);
                let mut fields = Vec::new();
                for f in &record.fields {
                    let name = super::snake(&f.name);
                    fields.push(format!("{name}: f{n}_{name}"));
                    results.push(format!("f{n}_{name}"));
                }
                self.line(format!(
                    "let {path} {{ {} }} = {};",
                    fields.join(", "),
                    operands[0]
                ));
            }
            Instruction::RecordLift { record, ty, .. } => {
                let path = self.gen.type_path(*ty, self.depth);
                let fields: Vec<String> = record
                    .fields
                    .iter()
                    .zip(operands.iter())
                    .map(|(f, op)| format!("{}: {op}", super::snake(&f.name)))
                    .collect();
                results.push(format!("{path} {{ {} }}", fields.join(", ")));
            }
            Instruction::TupleLower { tuple, .. } => {
                let n = self.tmp();
                let names: Vec<String> = (0..tuple.types.len())
                    .map(|i| format!("t{n}_{i}"))
                    .collect();
                if names.is_empty() {
                    self.line(format!("let () = {};", operands[0]));
                } else {
                    self.line(format!("let ({},) = {};", names.join(", "), operands[0]));
                }
                results.extend(names);
            }
            Instruction::TupleLift { .. } => {
                if operands.is_empty() {
                    results.push("()".to_string());
                } else {
                    results.push(format!("({},)", operands.join(", ")));
                }
            }
            Instruction::FlagsLower { flags, .. } => {
                let n = self.tmp();
                self.line(format!("let bits{n} = {}.bits() as u64;", operands[0]));
                for i in 0..flags.repr().count() {
                    results.push(format!("(bits{n} >> {}) as i32", i * 32));
                }
            }
            Instruction::FlagsLift { ty, .. } => {
                let path = self.gen.type_path(*ty, self.depth);
                let bits: Vec<String> = operands
                    .iter()
                    .enumerate()
                    .map(|(i, op)| format!("(({op}) as u32 as u64) << {}", i * 32))
                    .collect();
                results.push(format!(
                    "{path}::from_bits_truncate(({}) as _)",
                    bits.join(" | ")
                ));
            }
            Instruction::HandleLower {
                handle: Handle::Own(r),
                ..
            } if self.host() && self.gen.is_exported_resource(*r) => {
                // The host hands its resource to the guest: a new handle in
                // the guest's table.
                self.uses_guest_resources = true;
                let path = self.gen.type_path(*r, self.depth);
                let what = self.what();
                let n = self.tmp();
                self.line(format!(
                    "let h{n} = {rt}::GuestResourceView::guest_resources(cx.store.data()).insert::<{path}>(({}).into_rep()).map_err(|e| cx.trap({what}, e))? as i32;",
                    operands[0]
                ));
                results.push(format!("h{n}"));
            }
            Instruction::HandleLift {
                handle: Handle::Own(r),
                ..
            } if self.host() && self.gen.is_exported_resource(*r) => {
                // The guest hands its resource to the host: the handle
                // leaves the guest's table.
                self.uses_guest_resources = true;
                let path = self.gen.type_path(*r, self.depth);
                let what = self.what();
                // `r` may name the resource through `use` or an alias.
                let resource = self.gen.exported_resource_id(*r);
                let dtor = self
                    .dtors
                    .iter()
                    .find(|(id, _)| Some(*id) == resource)
                    .map(|(_, dtor)| dtor.clone());
                let Some(dtor) = dtor else {
                    self.error
                        .get_or_insert_with(|| "internal: no destructor export".to_string());
                    results.push("()".to_string());
                    return;
                };
                let n = self.tmp();
                self.line(format!(
                    "let rep{n} = {rt}::GuestResourceView::guest_resources(cx.store.data()).remove::<{path}>({} as u32).map_err(|e| cx.trap({what}, e))?;
let r{n} = {rt}::GuestResource::<{path}>::new(rep{n}, {dtor}.clone());",
                    operands[0]
                ));
                results.push(format!("r{n}"));
            }
            Instruction::HandleLower {
                handle: Handle::Borrow(r),
                ..
            } if self.host() && self.gen.is_exported_resource(*r) => {
                // A loan of the host's resource: refused once the resource
                // is gone, as the canonical ABI traps on it.
                let what = self.what();
                let n = self.tmp();
                self.line(format!(
                    "let b{n} = ({}).lower().map_err(|e| cx.trap({what}, e))? as i32;",
                    operands[0]
                ));
                results.push(format!("b{n}"));
            }
            Instruction::HandleLower { handle, .. } => {
                if self.host() {
                    results.push(format!("({}).rep() as i32", operands[0]));
                } else {
                    match handle {
                        Handle::Own(_) => results.push(format!("({}).take_handle()", operands[0])),
                        Handle::Borrow(_) => results.push(format!("({}).handle()", operands[0])),
                    }
                }
            }
            Instruction::HandleLift { handle, .. } => {
                if self.host() {
                    results.push(format!("{rt}::Resource::new({} as u32)", operands[0]));
                } else {
                    let (Handle::Own(r) | Handle::Borrow(r)) = handle;
                    let path = self.gen.type_path(*r, self.depth);
                    match (handle, self.gen.exported_resource_id(*r)) {
                        // The exporter of a resource receives a borrow as
                        // the representation itself.
                        (Handle::Borrow(_), Some(exported)) => {
                            let path = self.gen.type_path(exported, self.depth);
                            results.push(format!("{path}Borrow::lift({})", operands[0]))
                        }
                        (Handle::Own(_), _) => {
                            results.push(format!("{path}::from_handle({})", operands[0]))
                        }
                        (Handle::Borrow(_), None) => {
                            let n = self.tmp();
                            self.line(format!(
                                "let h{n} = core::mem::ManuallyDrop::new({path}::from_handle({}));",
                                operands[0]
                            ));
                            results.push(format!("&*h{n}"));
                        }
                    }
                }
            }

            Instruction::VariantPayloadName => {
                let n = self.tmp();
                self.payloads.push(format!("e{n}"));
                results.push(format!("e{n}"));
            }
            Instruction::VariantLower {
                variant,
                ty,
                results: types,
                ..
            } => {
                let path = self.gen.type_path(*ty, self.depth);
                let arms = variant
                    .cases
                    .iter()
                    .map(|c| match c.ty {
                        Some(_) => format!("{path}::{}(PAYLOAD)", camel(&c.name)),
                        None => format!("{path}::{}", camel(&c.name)),
                    })
                    .collect();
                self.lower_arms(&operands[0], arms, types.len(), results);
            }
            Instruction::OptionLower { results: types, .. } => {
                let arms = vec!["None".to_string(), "Some(PAYLOAD)".to_string()];
                self.lower_arms(&operands[0], arms, types.len(), results);
            }
            Instruction::ResultLower {
                result,
                results: types,
                ..
            } => {
                let ok = if result.ok.is_some() {
                    "Ok(PAYLOAD)"
                } else {
                    "Ok(_)"
                };
                let err = if result.err.is_some() {
                    "Err(PAYLOAD)"
                } else {
                    "Err(_)"
                };
                let arms = vec![ok.to_string(), err.to_string()];
                self.lower_arms(&operands[0], arms, types.len(), results);
            }
            Instruction::EnumLower { .. } => results.push(format!("({}) as i32", operands[0])),
            Instruction::VariantLift { variant, ty, .. } => {
                let path = self.gen.type_path(*ty, self.depth);
                let arms = variant
                    .cases
                    .iter()
                    .map(|c| (format!("{path}::{}", camel(&c.name)), c.ty.is_some()))
                    .collect();
                self.lift_arms(&operands[0], arms, &path, results);
            }
            Instruction::OptionLift { payload, .. } => {
                let ty = format!("Option<{}>", self.type_name(payload));
                let arms = vec![("None".to_string(), false), ("Some".to_string(), true)];
                self.lift_arms(&operands[0], arms, &ty, results);
            }
            Instruction::ResultLift { result, .. } => {
                let ty = format!(
                    "Result<{}, {}>",
                    result
                        .ok
                        .as_ref()
                        .map_or("()".into(), |t| self.type_name(t)),
                    result
                        .err
                        .as_ref()
                        .map_or("()".into(), |t| self.type_name(t))
                );
                let ok = if result.ok.is_some() { "Ok" } else { "Ok(())" };
                let err = if result.err.is_some() {
                    "Err"
                } else {
                    "Err(())"
                };
                let arms = vec![
                    (ok.to_string(), result.ok.is_some()),
                    (err.to_string(), result.err.is_some()),
                ];
                self.lift_arms(&operands[0], arms, &ty, results);
            }
            Instruction::EnumLift { enum_, ty, .. } => {
                let path = self.gen.type_path(*ty, self.depth);
                for _ in &enum_.cases {
                    self.finished.push((String::new(), Vec::new()));
                }
                let arms = enum_
                    .cases
                    .iter()
                    .map(|c| (format!("{path}::{}", camel(&c.name)), false))
                    .collect();
                self.lift_arms(&operands[0], arms, &path, results);
            }

            Instruction::CallWasm { sig, .. } => {
                let n = self.tmp();
                let call = if self.host() {
                    let args: String = operands.iter().map(|op| format!("{op}, ")).collect();
                    self.guest_call(&self.callee, &format!("({args})"))
                } else {
                    format!("{}({})", self.callee, operands.join(", "))
                };
                match sig.results.len() {
                    0 => self.line(format!("{call};")),
                    _ => {
                        self.line(format!("let ret{n} = {call};"));
                        results.push(format!("ret{n}"));
                        self.wasm_ret = Some(format!("ret{n}"));
                    }
                }
                self.label = "result".to_string();
            }
            Instruction::CallInterface { func, .. } => {
                let n = self.tmp();
                let call = if let Some(host_call) = &self.host_call {
                    host_call(operands)
                } else if self.host() {
                    let args: String = operands.iter().map(|op| format!(", {op}")).collect();
                    format!("{}(get(cx.store.data_mut()){args})?", self.callee)
                } else if self.glue == Glue::GuestExport {
                    self.guest_export_call(func, operands)
                } else {
                    format!("{}({})", self.callee, operands.join(", "))
                };
                if func.result.is_some() {
                    self.line(format!("let ret{n} = {call};"));
                    results.push(format!("ret{n}"));
                } else {
                    self.line(format!("{call};"));
                }
                self.label = "result".to_string();
            }
            Instruction::Return { amt, .. } => {
                let value = match amt {
                    0 => "()".to_string(),
                    1 => operands[0].clone(),
                    _ => format!("({})", operands.join(", ")),
                };
                if self.host() {
                    // The results are copied out: the guest may free them.
                    if let (Some(post), Some(ret)) =
                        (self.post_return.clone(), self.wasm_ret.clone())
                    {
                        let n = self.tmp();
                        let call = self.guest_call("post", &ret);
                        self.line(format!(
                            "let v{n} = {value};\nif let Some(post) = &{post} {{\n{call};\n}}\nOk(v{n})"
                        ));
                    } else if self.is_async {
                        // An async block's error type is not inferred from `?`.
                        self.line(format!("Ok::<_, wasmtime::Error>({value})"));
                    } else {
                        self.line(format!("Ok({value})"));
                    }
                } else if *amt > 0 {
                    self.line(value);
                }
            }
            Instruction::Malloc { size, align, .. } => {
                self.uses_realloc = true;
                self.uses_memory = true;
                let n = self.tmp();
                let call = self.realloc_call(&size.size_wasm32().to_string(), align.align_wasm32());
                self.line(format!("let p{n} = {call};"));
                results.push(format!("p{n}"));
            }
            Instruction::GuestDeallocate { size, align } => {
                self.line(format!(
                    "{rt}::dealloc_bytes({} as *mut u8, {rt}::Layout::from_size_align({}, {}).unwrap());",
                    operands[0],
                    size.size_wasm32(),
                    align.align_wasm32()
                ));
            }
            Instruction::GuestDeallocateString => {
                self.line(format!(
                    "{rt}::dealloc_bytes({} as *mut u8, {rt}::Layout::from_size_align({} as usize, 1).unwrap());",
                    operands[0], operands[1]
                ));
            }
            Instruction::GuestDeallocateList { element } => {
                let (code, _) = self.finished.pop().unwrap_or_default();
                let size = self.gen.wm.sizes.size(element).size_wasm32();
                let align = self.gen.wm.sizes.align(element).align_wasm32();
                let n = self.tmp();
                self.line(format!(
                    "let base{n} = {};\nlet len{n} = {} as usize;\nfor i in 0..len{n} {{\nlet base = base{n} + (i * {size}) as i32;\n{code}}}\n{rt}::dealloc_bytes(base{n} as *mut u8, {rt}::Layout::from_size_align(len{n} * {size}, {align}).unwrap());",
                    operands[0], operands[1]
                ));
            }
            Instruction::GuestDeallocateVariant { blocks } => {
                let arms = self
                    .finished
                    .split_off(self.finished.len().saturating_sub(*blocks));
                let mut s = format!("match {} {{\n", operands[0]);
                for (i, (code, _)) in arms.into_iter().enumerate() {
                    let _ = writeln!(s, "{i} => {{\n{code}}}");
                }
                s.push_str("_ => {}\n}");
                self.line(s);
            }
            Instruction::Flush { amt } => {
                for op in operands.iter().take(*amt) {
                    let n = self.tmp();
                    self.line(format!("let f{n} = {op};"));
                    results.push(format!("f{n}"));
                }
            }
            other => {
                // Futures, streams, maps, fixed-length lists and async
                // functions are refused before any glue is emitted; should
                // another instruction come, the glue is refused, not output.
                let _ = resolve;
                self.error
                    .get_or_insert_with(|| format!("no glue for the instruction {other:?}"));
                for _ in 0..other.results_len() {
                    results.push("()".to_string());
                }
            }
        }
    }

    fn return_pointer(&mut self, size: ArchitectureSize, align: Alignment) -> String {
        let n = self.tmp();
        let size = size.size_wasm32();
        let align = align.align_wasm32();
        let rt = self.rt();
        match self.glue {
            Glue::GuestImport => {
                self.line(format!(
                    "#[repr(align({align}))]
struct RetArea{n}([core::mem::MaybeUninit<u8>; {size}]);
let mut ret_area{n} = RetArea{n}([core::mem::MaybeUninit::uninit(); {size}]);
let ptr{n} = ret_area{n}.0.as_mut_ptr() as i32;"
                ));
            }
            _ => {
                // An export's result outlives the call: it goes in memory the
                // caller frees with `cabi_post_*`, or leaks.
                self.line(format!(
                    "let ptr{n} = {rt}::alloc_bytes({rt}::Layout::from_size_align({size}, {align}).unwrap()) as i32;"
                ));
            }
        }
        format!("ptr{n}")
    }

    fn push_block(&mut self) {
        let outer = std::mem::take(&mut self.src);
        self.blocks.push(outer);
    }

    fn finish_block(&mut self, operands: &mut Vec<String>) {
        let code = std::mem::replace(&mut self.src, self.blocks.pop().unwrap_or_default());
        self.finished.push((code, std::mem::take(operands)));
    }

    fn sizes(&self) -> &SizeAlign {
        &self.gen.wm.sizes
    }

    fn is_list_canonical(&self, resolve: &Resolve, element: &Type) -> bool {
        if self.host() {
            return false;
        }
        match element {
            Type::U8
            | Type::S8
            | Type::U16
            | Type::S16
            | Type::U32
            | Type::S32
            | Type::U64
            | Type::S64
            | Type::F32
            | Type::F64 => true,
            Type::Id(id) => match &resolve.types[*id].kind {
                TypeDefKind::Type(t) => self.is_list_canonical(resolve, t),
                _ => false,
            },
            _ => false,
        }
    }
}
