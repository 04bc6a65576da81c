//! The resources both parts use, knowing nothing of WASI's types or of
//! wasmtime: the run's end signal and waits, descriptor tables, files and
//! directories (over cap-std), sockets and standard streams. Their errors
//! are the system's; the preview-1 part converts them to errnos.

pub(crate) mod fs;
pub(crate) mod net;
pub(crate) mod stdio;
pub(crate) mod table;
pub(crate) mod wait;
