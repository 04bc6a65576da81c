//! Termination: `proc_exit` from the main thread or from a child, and a
//! return from `_start`, end every thread, whatever the others are doing:
//! parked in `memory.atomic.wait` with no timeout, spinning, sleeping in
//! `poll_oneoff`, blocked reading stdin, blocked in `sock_accept` on a
//! listener nobody connects to, or blocked reading a connection that sends
//! nothing.

use std::time::Duration;

mod support;

use support::SYNC;
use wasi_threads_host::{Outcome, Runner};

#[derive(Clone, Copy, Debug)]
enum Blocked {
    Parked = 1,
    Spinning = 2,
    Sleeping = 3,
    ReadingStdin = 4,
    Accepting = 5,
    ReceivingFromASocket = 6,
}

#[derive(Clone, Copy, Debug)]
enum Ender {
    /// The main thread calls `proc_exit(7)`.
    MainExits,
    /// A second child calls `proc_exit(9)` while main is parked.
    ChildExits,
    /// The main thread returns from `_start`.
    MainReturns,
    /// Nothing ends the program: main parks; the time limit ends the run.
    Nobody,
}

/// Memory: 0 counts blocked children; 1024 holds a one-hour clock
/// subscription; 2048 an iovec for stdin or a socket; 2080 the descriptor
/// `sock_accept` returns. Descriptor 3 is a listener with one client
/// connected that sends nothing; 4 a listener nobody connects to.
fn program(ender: Ender) -> String {
    let main_tail = match ender {
        Ender::MainExits => "(call $proc_exit (i32.const 7))",
        Ender::ChildExits => {
            "(drop (call $spawn (i32.const 100))) (call $wait_for (i32.const 8) (i32.const 1))"
        }
        Ender::MainReturns => "",
        Ender::Nobody => "(call $wait_for (i32.const 8) (i32.const 1))",
    };
    format!(
        r#"(module
  (import "wasi" "thread-spawn" (func $spawn (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_accept" (func $accept (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_recv" (func $recv (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "env" "memory" (memory 1 1 shared))
  (export "memory" (memory 0))
  {SYNC}
  (func (export "wasi_thread_start") (param $tid i32) (param $what i32)
    (if (i32.eq (local.get $what) (i32.const 100))
      (then
        (call $wait_for (i32.const 0) (i32.const 1))
        (call $proc_exit (i32.const 9))))
    (call $bump (i32.const 0))
    (if (i32.eq (local.get $what) (i32.const 1))
      (then (drop (memory.atomic.wait32 (i32.const 4) (i32.const 0) (i64.const -1)))))
    (if (i32.eq (local.get $what) (i32.const 2))
      (then (loop $spin (br $spin))))
    (if (i32.eq (local.get $what) (i32.const 3))
      (then
        ;; clock subscription: tag 0 (clock) at 8, monotonic, 1 hour, relative
        (i32.store8 (i32.const 1032) (i32.const 0))
        (i32.store (i32.const 1040) (i32.const 1))
        (i64.store (i32.const 1048) (i64.const 3600000000000))
        (drop (call $poll (i32.const 1024) (i32.const 1536) (i32.const 1) (i32.const 1600)))))
    (if (i32.eq (local.get $what) (i32.const 4))
      (then
        (i32.store (i32.const 2048) (i32.const 4096))
        (i32.store (i32.const 2052) (i32.const 16))
        (drop (call $read (i32.const 0) (i32.const 2048) (i32.const 1) (i32.const 2064)))))
    (if (i32.eq (local.get $what) (i32.const 5))
      (then (drop (call $accept (i32.const 4) (i32.const 0) (i32.const 2080)))))
    (if (i32.eq (local.get $what) (i32.const 6))
      (then
        (if (call $accept (i32.const 3) (i32.const 0) (i32.const 2080)) (then unreachable))
        (i32.store (i32.const 2048) (i32.const 4096))
        (i32.store (i32.const 2052) (i32.const 16))
        (drop (call $recv (i32.load (i32.const 2080)) (i32.const 2048) (i32.const 1)
          (i32.const 0) (i32.const 2064) (i32.const 2068)))))
    ;; Returning would end this thread only: the test wants it still blocked.
    unreachable)
  (func (export "_start")
    (drop (call $spawn (global.get $blocked)))
    (call $wait_for (i32.const 0) (i32.const 1))
    {main_tail})
  (global $blocked (mut i32) (i32.const 0)))"#
    )
}

fn run(blocked: Blocked, ender: Ender) {
    let wat = program(ender).replace(
        "(global $blocked (mut i32) (i32.const 0))",
        &format!("(global $blocked (mut i32) (i32.const {}))", blocked as i32),
    );
    // Stdin that never has data and never ends: a pipe whose writer lives
    // until the run is over.
    let (reader, writer) = std::io::pipe().unwrap();
    let connected = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let client = std::net::TcpStream::connect(connected.local_addr().unwrap()).unwrap();
    let idle = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let report = Runner::new()
        .stdin(reader)
        .preopen_socket(connected)
        .preopen_socket(idle)
        .time_limit(Duration::from_millis(300))
        .grace(Duration::from_secs(10))
        .run(wat.as_bytes())
        .unwrap_or_else(|e| panic!("{blocked:?}, {ender:?}: {e}"));
    drop(writer);
    drop(client);
    let expected = match ender {
        Ender::MainExits => Outcome::Exit(7),
        Ender::ChildExits => Outcome::Exit(9),
        Ender::MainReturns => Outcome::Exit(0),
        // The blocked thread stayed blocked (it traps if its call returns).
        Ender::Nobody => Outcome::TimedOut,
    };
    assert_eq!(report.outcome, expected, "{blocked:?}, {ender:?}");
    assert_eq!(
        report.abandoned, 0,
        "{blocked:?}, {ender:?}: every thread stopped"
    );
}

macro_rules! cases {
    ($($name:ident: $blocked:ident, $ender:ident;)*) => {
        $(
            #[test]
            fn $name() {
                run(Blocked::$blocked, Ender::$ender);
            }
        )*
    };
}

cases! {
    main_exits_while_a_thread_is_parked_in_atomic_wait: Parked, MainExits;
    main_exits_while_a_thread_spins: Spinning, MainExits;
    main_exits_while_a_thread_sleeps_in_poll_oneoff: Sleeping, MainExits;
    main_exits_while_a_thread_reads_stdin: ReadingStdin, MainExits;
    main_exits_while_a_thread_accepts: Accepting, MainExits;
    main_exits_while_a_thread_receives: ReceivingFromASocket, MainExits;
    child_exits_while_a_thread_is_parked_in_atomic_wait: Parked, ChildExits;
    child_exits_while_a_thread_spins: Spinning, ChildExits;
    child_exits_while_a_thread_sleeps_in_poll_oneoff: Sleeping, ChildExits;
    child_exits_while_a_thread_reads_stdin: ReadingStdin, ChildExits;
    child_exits_while_a_thread_accepts: Accepting, ChildExits;
    child_exits_while_a_thread_receives: ReceivingFromASocket, ChildExits;
    main_returns_while_a_thread_is_parked_in_atomic_wait: Parked, MainReturns;
    main_returns_while_a_thread_spins: Spinning, MainReturns;
    main_returns_while_a_thread_sleeps_in_poll_oneoff: Sleeping, MainReturns;
    main_returns_while_a_thread_reads_stdin: ReadingStdin, MainReturns;
    main_returns_while_a_thread_accepts: Accepting, MainReturns;
    main_returns_while_a_thread_receives: ReceivingFromASocket, MainReturns;
    a_parked_thread_stays_parked_until_the_time_limit: Parked, Nobody;
    a_spinning_thread_spins_until_the_time_limit: Spinning, Nobody;
    a_sleeping_thread_sleeps_until_the_time_limit: Sleeping, Nobody;
    a_thread_reading_stdin_waits_until_the_time_limit: ReadingStdin, Nobody;
    a_thread_accepting_waits_until_the_time_limit: Accepting, Nobody;
    a_thread_receiving_waits_until_the_time_limit: ReceivingFromASocket, Nobody;
}
