//! `wasi-threads`: see `wasi_threads_cli` for the commands and exit codes.

fn main() -> std::process::ExitCode {
    wasi_threads_cli::main()
}
