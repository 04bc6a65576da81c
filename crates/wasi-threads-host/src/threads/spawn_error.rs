//! The negative values `thread-spawn` returns when it cannot start a
//! thread: WASI preview-1 errno numbers, negated.

/// The limit of live threads is reached (`again`).
pub const LIMIT: i32 = -6;
/// Every thread id in [1, 2^29) is taken by a live thread (`overflow`).
pub const NO_TID: i32 = -61;
/// The module exports no `wasi_thread_start (param i32 i32)` (`inval`).
pub const NO_ENTRY: i32 = -28;
/// Instantiating the new thread's instance failed, e.g. a limit or a trap
/// in a start function (`nomem`).
pub const INSTANTIATE: i32 = -48;
/// The operating system refused to start a thread (`io`).
pub const OS: i32 = -29;
/// The program is ending: no new thread starts (`canceled`).
pub const ENDING: i32 = -11;
