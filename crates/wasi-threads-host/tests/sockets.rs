//! Preopened sockets, call by call: the errnos preview 1 specifies, peek
//! and wait-all reads, non-blocking mode, shutdown, and `poll_oneoff`
//! readiness, against a client on a host thread.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

mod support;

use wasi_threads_host::{Outcome, Runner};

/// Memory: 0 the descriptor `sock_accept` returns; 8 an iovec of the
/// buffer at 1024 (its length set per call); 16 the size a call returns;
/// 20 `roflags`; 24 an fdstat; 64 a prestat; 2048 three subscriptions;
/// 2400 the events; 2600 their count.
const PROGRAM: &str = r#"(module
  (import "test" "record" (func $record (param i32 i32)))
  (import "wasi_snapshot_preview1" "fd_fdstat_get" (func $fdstat (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_fdstat_set_flags" (func $set_flags (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_prestat_get" (func $prestat (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_close" (func $close (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_accept" (func $accept (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_recv" (func $recv (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_send" (func $send (param i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_shutdown" (func $shutdown (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func $iov (param $len i32)
    (i32.store (i32.const 8) (i32.const 1024))
    (i32.store (i32.const 12) (local.get $len)))
  (func $recv_into (param $fd i32) (param $len i32) (param $flags i32) (result i32)
    (call $iov (local.get $len))
    (call $recv (local.get $fd) (i32.const 8) (i32.const 1) (local.get $flags) (i32.const 16) (i32.const 20)))
  (func (export "_start")
    (local $conn i32)
    (call $record (i32.const 1) (call $fdstat (i32.const 3) (i32.const 24)))
    (call $record (i32.const 101) (i32.load8_u (i32.const 24)))
    (call $record (i32.const 2) (call $prestat (i32.const 3) (i32.const 64)))
    ;; fdflags other than nonblock
    (call $record (i32.const 3) (call $accept (i32.const 3) (i32.const 1) (i32.const 0)))
    ;; nobody connects to 4, in non-blocking mode (accept's flags are the
    ;; new connection's)
    (call $record (i32.const 104) (call $set_flags (i32.const 4) (i32.const 4)))
    (call $record (i32.const 4) (call $accept (i32.const 4) (i32.const 0) (i32.const 0)))
    (call $record (i32.const 5) (call $recv_into (i32.const 1) (i32.const 4) (i32.const 0)))
    (call $record (i32.const 6) (call $recv_into (i32.const 99) (i32.const 4) (i32.const 0)))
    (call $record (i32.const 7) (call $accept (i32.const 3) (i32.const 0) (i32.const 0)))
    (local.set $conn (i32.load (i32.const 0)))
    (call $record (i32.const 107) (local.get $conn))
    ;; a connection does not listen
    (call $record (i32.const 8) (call $accept (local.get $conn) (i32.const 0) (i32.const 0)))
    (call $record (i32.const 9) (call $shutdown (local.get $conn) (i32.const 0)))
    (call $iov (i32.const 1))
    (call $record (i32.const 10)
      (call $send (local.get $conn) (i32.const 8) (i32.const 1) (i32.const 1) (i32.const 16)))
    ;; peek 5 ("hello " is there, "world" comes 200 ms later)
    (call $record (i32.const 11) (call $recv_into (local.get $conn) (i32.const 5) (i32.const 1)))
    (call $record (i32.const 111) (i32.load (i32.const 16)))
    ;; peek all 11: waits for "world" without taking anything
    (call $record (i32.const 211) (call $recv_into (local.get $conn) (i32.const 11) (i32.const 3)))
    (call $record (i32.const 311) (i32.load (i32.const 16)))
    ;; wait for all 11
    (call $record (i32.const 12) (call $recv_into (local.get $conn) (i32.const 11) (i32.const 2)))
    (call $record (i32.const 112) (i32.load (i32.const 16)))
    (call $record (i32.const 212) (i32.load16_u (i32.const 20)))
    ;; echo it, then end the sending side
    (call $iov (i32.const 11))
    (call $record (i32.const 13)
      (call $send (local.get $conn) (i32.const 8) (i32.const 1) (i32.const 0) (i32.const 16)))
    (call $record (i32.const 113) (i32.load (i32.const 16)))
    (call $record (i32.const 14) (call $shutdown (local.get $conn) (i32.const 2)))
    ;; non-blocking: nothing has arrived yet
    (call $record (i32.const 15) (call $set_flags (local.get $conn) (i32.const 4)))
    (drop (call $fdstat (local.get $conn) (i32.const 24)))
    (call $record (i32.const 115) (i32.load16_u (i32.const 26)))
    (call $record (i32.const 16) (call $recv_into (local.get $conn) (i32.const 4) (i32.const 0)))
    ;; poll: the idle listener (userdata 1), the connection (2), 5 seconds (3)
    (i64.store (i32.const 2048) (i64.const 1))
    (i32.store8 (i32.const 2056) (i32.const 1))
    (i32.store (i32.const 2064) (i32.const 4))
    (i64.store (i32.const 2096) (i64.const 2))
    (i32.store8 (i32.const 2104) (i32.const 1))
    (i32.store (i32.const 2112) (local.get $conn))
    (i64.store (i32.const 2144) (i64.const 3))
    (i32.store8 (i32.const 2152) (i32.const 0))
    (i32.store (i32.const 2160) (i32.const 1))
    (i64.store (i32.const 2168) (i64.const 5000000000))
    (call $record (i32.const 17) (call $poll (i32.const 2048) (i32.const 2400) (i32.const 3) (i32.const 2600)))
    (call $record (i32.const 117) (i32.load (i32.const 2600)))
    (call $record (i32.const 118) (i32.wrap_i64 (i64.load (i32.const 2400))))
    (call $record (i32.const 119) (i32.load16_u (i32.const 2408)))
    (call $record (i32.const 120) (i32.wrap_i64 (i64.load (i32.const 2416))))
    (call $record (i32.const 18) (call $recv_into (local.get $conn) (i32.const 16) (i32.const 0)))
    (call $record (i32.const 118) (i32.load (i32.const 16)))
    (call $record (i32.const 19) (call $close (local.get $conn)))
    (call $record (i32.const 20) (call $recv_into (local.get $conn) (i32.const 4) (i32.const 0)))))"#;

#[test]
fn socket_calls_answer_as_preview_1_specifies() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let idle = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = std::thread::spawn(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(b"hello ").unwrap();
        // The guest's wait-all read must wait for the rest.
        std::thread::sleep(Duration::from_millis(200));
        s.write_all(b"world").unwrap();
        let mut echo = Vec::new();
        s.read_to_end(&mut echo).unwrap();
        // The guest polls in non-blocking mode meanwhile.
        std::thread::sleep(Duration::from_millis(100));
        s.write_all(b"!!!").unwrap();
        let _ = s.read(&mut [0; 1]);
        echo
    });
    let (runner, log) =
        support::recording(Runner::new().preopen_socket(listener).preopen_socket(idle));
    let report = runner.run(PROGRAM.as_bytes()).unwrap();
    assert_eq!(report.outcome, Outcome::Exit(0));
    assert_eq!(client.join().unwrap(), b"hello world");
    let log = support::calls(&log);
    let conn = log.iter().find(|(step, _)| *step == 107).unwrap().1;
    assert_eq!(
        log,
        vec![
            (1, 0),
            (101, 6), // socket_stream
            (2, 8),   // badf: not a preopened directory
            (3, 28),  // inval
            (104, 0),
            (4, 6),  // again
            (5, 57), // notsock
            (6, 8),  // badf
            (7, 0),
            (107, conn),
            (8, 76),  // notcapable: a connection has no sock_accept right
            (9, 28),  // inval: shut down nothing
            (10, 28), // inval: no send flags exist
            (11, 0),
            (111, 5),
            (211, 0),
            (311, 11),
            (12, 0),
            (112, 11),
            (212, 0), // no roflags
            (13, 0),
            (113, 11),
            (14, 0),
            (15, 0),
            (115, 4), // nonblock
            (16, 6),  // again
            (17, 0),
            (117, 1), // only the connection is ready
            (118, 2),
            (119, 0),
            (120, 3), // three bytes to read
            (18, 0),
            (118, 3),
            (19, 0),
            (20, 8), // badf after close
        ]
    );
    assert_eq!(
        conn, 5,
        "the lowest free descriptor after the two listeners"
    );
}

/// Descriptor 3 a Unix listener, 4 one end of a connected Unix stream pair:
/// each gets what it receives sent back; the exit code counts the bytes.
const ECHO: &str = r#"(module
  (import "wasi_snapshot_preview1" "sock_accept" (func $accept (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (func $echo (param $fd i32) (result i32)
    (i32.store (i32.const 8) (i32.const 1024))
    (i32.store (i32.const 12) (i32.const 64))
    (if (call $read (local.get $fd) (i32.const 8) (i32.const 1) (i32.const 16)) (then unreachable))
    (i32.store (i32.const 12) (i32.load (i32.const 16)))
    (if (call $write (local.get $fd) (i32.const 8) (i32.const 1) (i32.const 20)) (then unreachable))
    (i32.load (i32.const 20)))
  (func (export "_start")
    (if (call $accept (i32.const 3) (i32.const 0) (i32.const 0)) (then unreachable))
    (call $exit (i32.add (call $echo (i32.load (i32.const 0))) (call $echo (i32.const 4))))))"#;

#[test]
fn unix_listeners_and_connected_streams_can_be_preopened() {
    use std::os::unix::net::{UnixListener, UnixStream};
    let dir = std::env::temp_dir().join(format!("wasi-threads-unix-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("socket");
    let listener = UnixListener::bind(&path).unwrap();
    let (mut ours, theirs) = UnixStream::pair().unwrap();
    let client = std::thread::spawn(move || {
        let mut s = UnixStream::connect(&path).unwrap();
        s.write_all(b"unix").unwrap();
        let mut back = [0; 4];
        s.read_exact(&mut back).unwrap();
        // The program exits without closing the connection: the run
        // closes it.
        assert_eq!(s.read(&mut [0; 1]).unwrap(), 0);
        back
    });
    ours.write_all(b"a pair").unwrap();
    let report = Runner::new()
        .preopen_socket(listener)
        .preopen_socket(theirs)
        .run(ECHO.as_bytes())
        .unwrap();
    assert_eq!(report.outcome, Outcome::Exit(10));
    assert_eq!(&client.join().unwrap(), b"unix");
    let mut back = [0; 6];
    ours.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"a pair");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn only_stream_sockets_can_be_preopened() {
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let e = Runner::new()
        .preopen_socket(udp)
        .run(ECHO.as_bytes())
        .unwrap_err();
    assert!(e.to_string().contains("must be a stream socket"), "{e}");
    let file = std::fs::File::open(env!("CARGO_MANIFEST_PATH")).unwrap();
    let e = Runner::new()
        .preopen_socket(file)
        .run(ECHO.as_bytes())
        .unwrap_err();
    assert!(e.to_string().contains("is not a socket"), "{e}");
}

/// Descriptor 3 is a connection whose peer sent "abc" and shut its side
/// down. A peek that waits for 16 bytes returns the 3 there are; then 1500
/// `fd_read` subscriptions on that one descriptor are all ready.
const AT_THE_END: &str = r#"(module
  (import "test" "record" (func $record (param i32 i32)))
  (import "wasi_snapshot_preview1" "sock_recv" (func $recv (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 3)
  (func (export "_start")
    (local $i i32)
    (i32.store (i32.const 16) (i32.const 1024))
    (i32.store (i32.const 20) (i32.const 16))
    (call $record (i32.const 1)
      (call $recv (i32.const 3) (i32.const 16) (i32.const 1) (i32.const 3) (i32.const 24) (i32.const 28)))
    (call $record (i32.const 101) (i32.load (i32.const 24)))
    (loop $subscribe
      (i64.store (i32.add (i32.const 4096) (i32.mul (local.get $i) (i32.const 48))) (i64.extend_i32_u (local.get $i)))
      (i32.store8 (i32.add (i32.const 4104) (i32.mul (local.get $i) (i32.const 48))) (i32.const 1))
      (i32.store (i32.add (i32.const 4112) (i32.mul (local.get $i) (i32.const 48))) (i32.const 3))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $subscribe (i32.lt_u (local.get $i) (i32.const 1500))))
    (call $record (i32.const 2) (call $poll (i32.const 4096) (i32.const 80000) (i32.const 1500) (i32.const 8)))
    (call $record (i32.const 102) (i32.load (i32.const 8)))
    ;; the last event: userdata 1499, 3 bytes, hangup
    (call $record (i32.const 103) (i32.wrap_i64 (i64.load (i32.const 127968))))
    (call $record (i32.const 104) (i32.wrap_i64 (i64.load (i32.const 127984))))
    (call $record (i32.const 105) (i32.load16_u (i32.const 127992)))))"#;

#[test]
fn a_peek_waiting_for_all_returns_at_the_end_of_the_stream_and_a_descriptor_polled_many_times_counts_once(
) {
    use std::os::unix::net::UnixStream;
    let (mut ours, theirs) = UnixStream::pair().unwrap();
    ours.write_all(b"abc").unwrap();
    ours.shutdown(std::net::Shutdown::Write).unwrap();
    let (runner, log) = support::recording(
        Runner::new()
            .preopen_socket(theirs)
            .time_limit(Duration::from_secs(20)),
    );
    let report = runner.run(AT_THE_END.as_bytes()).unwrap();
    assert_eq!(report.outcome, Outcome::Exit(0));
    assert_eq!(
        support::calls(&log),
        vec![
            (1, 0),
            (101, 3),
            (2, 0),
            (102, 1500),
            (103, 1499),
            (104, 3),
            (105, 1), // fd_readwrite_hangup
        ]
    );
}
