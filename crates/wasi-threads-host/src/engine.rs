//! What the parts need of the embedder's Engine: [`configure`] sets it on a
//! `Config`; the parts check it on the Engine they are given, reading the
//! Engine's own settings.

use wasmtime::{Config, Engine, WasmFeatures};

use crate::Error;

/// Turns on, in `config`, what the threads and preview-1 parts need:
/// the threads proposal (`wasm_threads`), shared memories
/// (`shared_memory`), and epoch interruption (`epoch_interruption`), by
/// which the end of a run stops threads running wasm. Everything else in
/// `config` is the embedder's.
///
/// ```
/// let mut config = wasmtime::Config::new();
/// wasi_threads_host::configure(&mut config);
/// let engine = wasmtime::Engine::new(&config)?;
/// wasi_threads_host::check_engine(&engine)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn configure(config: &mut Config) -> &mut Config {
    config
        .wasm_threads(true)
        .shared_memory(true)
        .epoch_interruption(true)
}

/// Checks that `engine` has every setting [`configure`] turns on; the
/// error names the first one missing.
pub fn check_engine(engine: &Engine) -> Result<(), Error> {
    check_ending(engine)?;
    check_threads(engine)
}

/// What ending a run needs: epoch interruption.
pub(crate) fn check_ending(engine: &Engine) -> Result<(), Error> {
    if !engine.get_epoch_interruption() {
        return Err(Error::EngineSetting {
            setting: "epoch_interruption",
            why: "stops threads running wasm when the run ends",
        });
    }
    Ok(())
}

/// What threads need: the threads proposal and shared memories.
pub(crate) fn check_threads(engine: &Engine) -> Result<(), Error> {
    if !engine.get_wasm_features().contains(WasmFeatures::THREADS) {
        return Err(Error::EngineSetting {
            setting: "wasm_threads",
            why: "lets wasi-threads modules use atomics and shared memories",
        });
    }
    if !engine.get_shared_memory() {
        return Err(Error::EngineSetting {
            setting: "shared_memory",
            why: "lets the host create the shared memory every thread imports",
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_missing_setting_is_named() {
        let engine = |off: fn(&mut Config)| {
            let mut config = Config::new();
            configure(&mut config);
            off(&mut config);
            Engine::new(&config).unwrap()
        };
        assert!(check_engine(&engine(|_| {})).is_ok());
        type Off = fn(&mut Config);
        let cases: [(&str, Off); 3] = [
            ("epoch_interruption", |c| {
                c.epoch_interruption(false);
            }),
            ("wasm_threads", |c| {
                c.wasm_threads(false);
            }),
            ("shared_memory", |c| {
                c.shared_memory(false);
            }),
        ];
        for (setting, off) in cases {
            match check_engine(&engine(off)) {
                Err(Error::EngineSetting { setting: s, .. }) => assert_eq!(s, setting),
                other => panic!("{setting}: {other:?}"),
            }
        }
    }
}
