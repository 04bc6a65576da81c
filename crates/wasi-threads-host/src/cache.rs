//! Compiled modules kept on disk, so a module is compiled once per Engine
//! configuration, as wasmtime's CLI does with its cache.
//!
//! An entry is named by a SHA-256 of the module's bytes, the version of the
//! load-time rewrite ([`crate::compile`]) and the Engine's compatibility
//! hash (its settings and wasmtime's version); it holds a SHA-256 of the
//! serialized module, then the module. An entry whose checksum does not
//! match (truncated, corrupted) is compiled again and replaced, never
//! deserialized. Entries are written to a temporary file and renamed into
//! place, so concurrent runs writing the same entry are safe.

use std::hash::{Hash, Hasher};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::{Engine, Module};

use crate::Error;

/// A directory of compiled modules.
#[derive(Clone, Debug)]
pub struct ModuleCache {
    dir: PathBuf,
}

/// What a lookup did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheUse {
    /// The entry was there and sound.
    Hit,
    /// There was none: the module was compiled and stored.
    Miss,
    /// The entry was damaged: the module was compiled and the entry
    /// replaced.
    Replaced,
}

impl ModuleCache {
    /// A cache in `dir` (created when first written).
    pub fn new(dir: impl Into<PathBuf>) -> ModuleCache {
        ModuleCache { dir: dir.into() }
    }

    /// The default directory: `$WASI_THREADS_CACHE`, else
    /// `$XDG_CACHE_HOME/wasi-threads`, else `$HOME/.cache/wasi-threads`.
    pub fn default_dir() -> Option<PathBuf> {
        if let Some(dir) = std::env::var_os("WASI_THREADS_CACHE") {
            return Some(PathBuf::from(dir));
        }
        if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
            return Some(PathBuf::from(dir).join("wasi-threads"));
        }
        std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache/wasi-threads"))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The entry `wasm` has on `engine`.
    pub fn entry(&self, engine: &Engine, wasm: &[u8]) -> PathBuf {
        self.entry_for(engine, wasm, crate::threads::waits::REWRITE_VERSION)
    }

    /// The entry of `wasm` on `engine` once rewritten by the rewrite of
    /// version `rewrite`: a new rewrite never loads an old one's code.
    fn entry_for(&self, engine: &Engine, wasm: &[u8], rewrite: u32) -> PathBuf {
        let mut compat = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut compat);
        let mut key = Sha256::new();
        key.update(b"wasi-threads-host module cache\0");
        key.update(rewrite.to_le_bytes());
        key.update(compat.finish().to_le_bytes());
        key.update(wasm);
        self.dir.join(format!("{}.cwasm", hex(&key.finalize())))
    }

    /// [`crate::compile`], from the cache when it holds the module.
    /// Failing to write the cache is not an error: the module is compiled.
    pub fn compile(&self, engine: &Engine, wasm: &[u8]) -> Result<(Module, CacheUse), Error> {
        let entry = self.entry(engine, wasm);
        let found = std::fs::read(&entry).ok();
        if let Some(bytes) = &found {
            if let Some(payload) = checked(bytes) {
                // SAFETY: the bytes are what `Module::serialize` wrote for
                // an Engine of the same compatibility hash (the entry's
                // name), and their checksum matches.
                if let Ok(module) = unsafe { Module::deserialize(engine, payload) } {
                    crate::threads::inspect(&module)?;
                    return Ok((module, CacheUse::Hit));
                }
            }
        }
        let module = crate::compile(engine, wasm)?;
        if let Ok(serialized) = module.serialize() {
            let _ = self.store(&entry, &serialized);
        }
        let used = if found.is_some() {
            CacheUse::Replaced
        } else {
            CacheUse::Miss
        };
        Ok((module, used))
    }

    fn store(&self, entry: &Path, serialized: &[u8]) -> io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let tmp = self
            .dir
            .join(format!(".tmp-{}-{:x}", std::process::id(), rand_suffix()));
        let written = (|| {
            let mut file = std::fs::File::create(&tmp)?;
            file.write_all(&Sha256::digest(serialized))?;
            file.write_all(serialized)?;
            file.sync_all()?;
            std::fs::rename(&tmp, entry)
        })();
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        written
    }
}

/// The payload of an entry whose checksum matches.
fn checked(bytes: &[u8]) -> Option<&[u8]> {
    if bytes.len() < 32 {
        return None;
    }
    let (sum, payload) = bytes.split_at(32);
    (Sha256::digest(payload).as_slice() == sum).then_some(payload)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn rand_suffix() -> u64 {
    let mut b = [0u8; 8];
    let _ = getrandom::fill(&mut b);
    u64::from_le_bytes(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    const WAT: &str = r#"(module
      (import "env" "memory" (memory 1 1 shared))
      (func (export "_start") (drop (memory.atomic.wait32 (i32.const 0) (i32.const 1) (i64.const 0)))))"#;

    fn engine(fuel: bool) -> Engine {
        let mut config = wasmtime::Config::new();
        crate::configure(&mut config).consume_fuel(fuel);
        Engine::new(&config).unwrap()
    }

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("wasi-threads-cache-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn compiled_once_then_loaded_keyed_by_module_and_settings() {
        let cache = ModuleCache::new(scratch("keys"));
        let e = engine(false);
        assert_eq!(cache.compile(&e, WAT.as_bytes()).unwrap().1, CacheUse::Miss);
        let (module, used) = cache.compile(&e, WAT.as_bytes()).unwrap();
        assert_eq!(used, CacheUse::Hit);
        // The cached module is the rewritten one.
        assert!(crate::threads::waits::is_rewritten(&module));
        // Another module, or other Engine settings: other entries.
        let other = WAT.replace("(i32.const 1)", "(i32.const 2)");
        assert_eq!(
            cache.compile(&e, other.as_bytes()).unwrap().1,
            CacheUse::Miss
        );
        assert_ne!(
            cache.entry(&e, WAT.as_bytes()),
            cache.entry(&engine(true), WAT.as_bytes())
        );
        assert_eq!(
            cache.compile(&engine(true), WAT.as_bytes()).unwrap().1,
            CacheUse::Miss
        );
        // Another version of the rewrite of waits: another entry.
        let version = crate::threads::waits::REWRITE_VERSION;
        assert_eq!(
            cache.entry(&e, WAT.as_bytes()),
            cache.entry_for(&e, WAT.as_bytes(), version)
        );
        assert_ne!(
            cache.entry_for(&e, WAT.as_bytes(), version),
            cache.entry_for(&e, WAT.as_bytes(), version + 1)
        );
        let _ = std::fs::remove_dir_all(cache.dir());
    }

    #[test]
    fn a_damaged_entry_is_compiled_again_never_loaded() {
        let cache = ModuleCache::new(scratch("damaged"));
        let e = engine(false);
        cache.compile(&e, WAT.as_bytes()).unwrap();
        let entry = cache.entry(&e, WAT.as_bytes());
        let whole = std::fs::read(&entry).unwrap();
        // Truncated, then one byte flipped in the middle.
        std::fs::write(&entry, &whole[..whole.len() / 2]).unwrap();
        assert_eq!(
            cache.compile(&e, WAT.as_bytes()).unwrap().1,
            CacheUse::Replaced
        );
        assert_eq!(std::fs::read(&entry).unwrap(), whole);
        let mut flipped = whole.clone();
        let mid = flipped.len() / 2;
        flipped[mid] ^= 0x40;
        std::fs::write(&entry, &flipped).unwrap();
        assert_eq!(
            cache.compile(&e, WAT.as_bytes()).unwrap().1,
            CacheUse::Replaced
        );
        assert_eq!(cache.compile(&e, WAT.as_bytes()).unwrap().1, CacheUse::Hit);
        let _ = std::fs::remove_dir_all(cache.dir());
    }

    #[test]
    fn concurrent_writers_of_one_entry_leave_a_sound_one() {
        let cache = ModuleCache::new(scratch("concurrent"));
        let e = engine(false);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| cache.compile(&e, WAT.as_bytes()).unwrap());
            }
        });
        assert_eq!(cache.compile(&e, WAT.as_bytes()).unwrap().1, CacheUse::Hit);
        let leftovers = std::fs::read_dir(cache.dir())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with(".tmp")
            })
            .count();
        assert_eq!(leftovers, 0);
        let _ = std::fs::remove_dir_all(cache.dir());
    }
}
