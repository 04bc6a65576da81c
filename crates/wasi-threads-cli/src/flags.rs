//! wasmtime's `-W` (wasm) and `-S` (WASI) options, as scripts written for
//! wasmtime 46 pass them to `run`: comma-separated `KEY[=VAL]` lists. Every
//! key this host knows is honoured; any other is an error naming it.

use std::time::Duration;

/// What `-W` and `-S` asked for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Flags {
    /// `-W threads=`: the threads proposal (default on).
    pub wasm_threads: Option<bool>,
    /// `-W shared-memory=`: shared memories (default on).
    pub shared_memory: Option<bool>,
    /// `-W fuel=N`: fuel for each thread.
    pub fuel: Option<u64>,
    /// `-W timeout=DUR`: the run's time limit.
    pub timeout: Option<Duration>,
    /// `-W max-memory-size=N`: the most bytes a memory may grow to.
    pub max_memory_size: Option<u64>,
    /// `-W epoch-interruption=y`: the end of a run stops threads through
    /// epoch checks in compiled code and reports those it could not stop,
    /// as an embedding does, instead of ending the process at once.
    pub epoch_interruption: bool,
    /// `-S threads=`: define `wasi` `thread-spawn` (default on).
    pub wasi_threads: Option<bool>,
    /// `-S tcplisten=ADDR`, repeatable.
    pub tcplisten: Vec<String>,
    /// `-S inherit-env`: the host's whole environment.
    pub inherit_env: bool,
    /// `-S inherit-stdin=n` etc.: the stream reads or writes nothing.
    pub inherit_stdin: Option<bool>,
    pub inherit_stdout: Option<bool>,
    pub inherit_stderr: Option<bool>,
}

/// The `-W` keys this host honours.
pub const WASM_KEYS: &[&str] = &[
    "threads",
    "shared-memory",
    "fuel",
    "timeout",
    "max-memory-size",
    "epoch-interruption",
];
/// The `-S` keys this host honours.
pub const WASI_KEYS: &[&str] = &[
    "threads",
    "cli",
    "common",
    "preview2",
    "tcplisten",
    "inherit-env",
    "inherit-stdin",
    "inherit-stdout",
    "inherit-stderr",
];

impl Flags {
    /// Parses every `-W` and `-S` value given.
    pub fn parse(wasm: &[String], wasi: &[String]) -> Result<Flags, String> {
        let mut flags = Flags::default();
        for list in wasm {
            for (key, value) in pairs(list) {
                let value = value.as_deref();
                match key {
                    "threads" => flags.wasm_threads = Some(boolean("-W", key, value)?),
                    "shared-memory" => flags.shared_memory = Some(boolean("-W", key, value)?),
                    "fuel" => flags.fuel = Some(number("-W", key, value)?),
                    "timeout" => flags.timeout = Some(duration(key, value)?),
                    "max-memory-size" => flags.max_memory_size = Some(number("-W", key, value)?),
                    "epoch-interruption" => flags.epoch_interruption = boolean("-W", key, value)?,
                    _ => return Err(unknown("-W", key, WASM_KEYS)),
                }
            }
        }
        for list in wasi {
            for (key, value) in pairs(list) {
                let value = value.as_deref();
                match key {
                    "threads" => flags.wasi_threads = Some(boolean("-S", key, value)?),
                    // WASI preview 1 itself: always on here.
                    "cli" | "common" => {
                        if !boolean("-S", key, value)? {
                            return Err(format!(
                                "`-S {key}=n` is not supported: this host always provides WASI preview 1"
                            ));
                        }
                    }
                    // wasmtime 46 implemented preview 1 over preview 2 unless
                    // told otherwise (and `-S threads` implied otherwise);
                    // this host has its own preview 1 only.
                    "preview2" => {
                        if boolean("-S", key, value)? {
                            return Err(
                                "`-S preview2=y` is not supported: this host implements WASI preview 1 directly (as wasmtime 46 did with `-S threads`)"
                                    .to_string(),
                            );
                        }
                    }
                    "tcplisten" => match value {
                        Some(addr) if !addr.is_empty() => flags.tcplisten.push(addr.to_string()),
                        _ => {
                            return Err(
                                "`-S tcplisten` needs an address: tcplisten=HOST:PORT".to_string()
                            )
                        }
                    },
                    "inherit-env" => flags.inherit_env = boolean("-S", key, value)?,
                    "inherit-stdin" => flags.inherit_stdin = Some(boolean("-S", key, value)?),
                    "inherit-stdout" => flags.inherit_stdout = Some(boolean("-S", key, value)?),
                    "inherit-stderr" => flags.inherit_stderr = Some(boolean("-S", key, value)?),
                    _ => return Err(unknown("-S", key, WASI_KEYS)),
                }
            }
        }
        Ok(flags)
    }
}

/// `a=1,b,c=x` as (key, value) pairs.
fn pairs(list: &str) -> impl Iterator<Item = (&str, Option<String>)> {
    list.split(',')
        .filter(|s| !s.is_empty())
        .map(|item| match item.split_once('=') {
            Some((k, v)) => (k, Some(v.to_string())),
            None => (item, None),
        })
}

fn unknown(option: &str, key: &str, known: &[&str]) -> String {
    format!(
        "unknown `{option}` option `{key}`; this host knows: {}",
        known.join(", ")
    )
}

/// wasmtime's booleans: nothing, `y`, `yes`, `true`, `n`, `no`, `false`.
fn boolean(option: &str, key: &str, value: Option<&str>) -> Result<bool, String> {
    match value {
        None | Some("y") | Some("yes") | Some("true") => Ok(true),
        Some("n") | Some("no") | Some("false") => Ok(false),
        Some(v) => Err(format!(
            "`{option} {key}={v}`: expected y, yes, true, n, no or false"
        )),
    }
}

/// wasmtime's numbers: decimal or `0x` hex, `_` ignored.
fn number(option: &str, key: &str, value: Option<&str>) -> Result<u64, String> {
    let v = value.ok_or_else(|| format!("`{option} {key}` needs a value: {key}=N"))?;
    let digits = v.replace('_', "");
    match digits.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => digits.parse(),
    }
    .map_err(|_| format!("`{option} {key}={v}`: not a number"))
}

/// wasmtime's durations: `N` (seconds), `Ns`, `Nms`, `Nus`, `Nns`.
fn duration(key: &str, value: Option<&str>) -> Result<Duration, String> {
    let v = value.ok_or_else(|| format!("`-W {key}` needs a value: {key}=N|Ns|Nms|Nus|Nns"))?;
    let parse = |n: &str| n.parse::<u64>().ok();
    let d = if let Some(n) = parse(v) {
        Some(Duration::from_secs(n))
    } else if let Some(n) = v.strip_suffix("ms").and_then(parse) {
        Some(Duration::from_millis(n))
    } else if let Some(n) = v.strip_suffix("us").and_then(parse) {
        Some(Duration::from_micros(n))
    } else if let Some(n) = v.strip_suffix("ns").and_then(parse) {
        Some(Duration::from_nanos(n))
    } else {
        v.strip_suffix('s').and_then(parse).map(Duration::from_secs)
    };
    d.ok_or_else(|| format!("`-W {key}={v}`: not a duration (N, Ns, Nms, Nus or Nns)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(w: &[&str], s: &[&str]) -> Result<Flags, String> {
        let own = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        Flags::parse(&own(w), &own(s))
    }

    #[test]
    fn wasmtime_46_spellings() {
        let f = parse(
            &[
                "threads=y,shared-memory=y",
                "fuel=1_000,timeout=250ms",
                "max-memory-size=0x10000",
            ],
            &[
                "threads=y",
                "preview2=n,tcplisten=127.0.0.1:0",
                "inherit-env",
            ],
        )
        .unwrap();
        assert_eq!(f.wasm_threads, Some(true));
        assert_eq!(f.shared_memory, Some(true));
        assert_eq!(f.fuel, Some(1000));
        assert_eq!(f.timeout, Some(Duration::from_millis(250)));
        assert_eq!(f.max_memory_size, Some(65536));
        assert_eq!(f.wasi_threads, Some(true));
        assert_eq!(f.tcplisten, ["127.0.0.1:0"]);
        assert!(f.inherit_env);
        assert_eq!(
            parse(&["timeout=3"], &[]).unwrap().timeout,
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            parse(&["timeout=2s"], &[]).unwrap().timeout,
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            parse(&["threads=n"], &[]).unwrap().wasm_threads,
            Some(false)
        );
    }

    #[test]
    fn unknown_keys_and_bad_values_are_named() {
        let e = parse(&["threads,simd"], &[]).unwrap_err();
        assert!(e.contains("unknown `-W` option `simd`"), "{e}");
        let e = parse(&[], &["nn"]).unwrap_err();
        assert!(e.contains("unknown `-S` option `nn`"), "{e}");
        let e = parse(&["fuel=lots"], &[]).unwrap_err();
        assert!(e.contains("fuel=lots"), "{e}");
        let e = parse(&["timeout=1h"], &[]).unwrap_err();
        assert!(e.contains("timeout=1h"), "{e}");
        let e = parse(&["threads=maybe"], &[]).unwrap_err();
        assert!(e.contains("threads=maybe"), "{e}");
        let e = parse(&[], &["preview2"]).unwrap_err();
        assert!(e.contains("preview2=y"), "{e}");
        let e = parse(&[], &["cli=n"]).unwrap_err();
        assert!(e.contains("cli=n"), "{e}");
    }
}
