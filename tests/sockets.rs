//! Sockets on the reference host: real guests whose threads serve
//! connections on preopened listeners, from the CLI (`--tcplisten`) and
//! from the embedder API, while a connection that sends slowly holds a
//! thread in a blocking read.

mod support;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use support::{build_c_guest, build_rust_guest, root, wasi_threads, Captured};
use wasi_threads_host::{Outcome, Runner};

/// Connects, retrying while the program is not listening yet.
fn connect(addr: &str) -> TcpStream {
    let start = Instant::now();
    loop {
        match TcpStream::connect(addr) {
            Ok(s) => return s,
            Err(_) if start.elapsed() < Duration::from_secs(120) => {
                thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("connect to {addr}: {e}"),
        }
    }
}

/// A port nothing listens on now, for `--tcplisten`.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// What the Rust guest answers to `request`.
fn reversed(request: &[u8]) -> Vec<u8> {
    let mut reply: Vec<u8> = request.iter().rev().copied().collect();
    reply.extend_from_slice(format!("\n{} bytes\n", request.len()).as_bytes());
    reply
}

/// Sends `request`, ends the sending side, and reads the whole answer.
fn exchange(mut s: TcpStream, request: &[u8]) -> Vec<u8> {
    s.write_all(request).unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    let mut reply = Vec::new();
    s.read_to_end(&mut reply).unwrap();
    reply
}

#[test]
fn rust_threads_serve_connections_while_one_reads_slowly() {
    const FAST: usize = 6;
    let wasm = build_rust_guest("rust-net", "rust-net.wasm");
    let addr = format!("127.0.0.1:{}", free_port());

    // The slow client connects first, so a worker takes it first and
    // blocks reading it until every fast client has been answered.
    let (connected_tx, connected_rx) = mpsc::channel();
    let (answered_tx, answered_rx) = mpsc::channel();
    let slow = {
        let addr = addr.clone();
        thread::spawn(move || {
            let mut s = connect(&addr);
            s.write_all(b"slow ").unwrap();
            connected_tx.send(()).unwrap();
            let others_done = answered_rx.recv_timeout(Duration::from_secs(120)).is_ok();
            (others_done, exchange(s, b"client"))
        })
    };
    let fast = {
        let addr = addr.clone();
        thread::spawn(move || {
            connected_rx.recv().unwrap();
            let clients: Vec<_> = (0..FAST)
                .map(|i| {
                    let addr = addr.clone();
                    thread::spawn(move || {
                        // Larger than one read of the host's socket buffer.
                        let request: Vec<u8> = (0..300_000 + i).map(|n| (n % 251) as u8).collect();
                        let reply = exchange(connect(&addr), &request);
                        reply == reversed(&request)
                    })
                })
                .collect();
            let ok: Vec<bool> = clients.into_iter().map(|c| c.join().unwrap()).collect();
            answered_tx.send(()).unwrap();
            ok
        })
    };

    let run = wasi_threads(&[
        "run",
        "--tcplisten",
        &addr,
        "--tcplisten",
        "127.0.0.1:0",
        wasm.to_str().unwrap(),
        "serve",
        &(FAST + 1).to_string(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "idle accept: WouldBlock\nserved 7\n");
    assert_eq!(fast.join().unwrap(), vec![true; FAST]);
    let (others_done, reply) = slow.join().unwrap();
    assert!(
        others_done,
        "the fast clients were answered while a thread was blocked reading the slow one"
    );
    assert_eq!(reply, reversed(b"slow client"));
}

#[test]
fn c_threads_serve_connections_through_wasi_libc_sockets() {
    const CLIENTS: usize = 5;
    let wasm = build_c_guest(&root().join("tests/guests/c-net/net.c"), "c-net.wasm");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let idle = TcpListener::bind("127.0.0.1:0").unwrap();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| {
            thread::spawn(move || {
                let body = format!("request {i} ").repeat(1000 * (i + 1));
                let mut s = TcpStream::connect(addr).unwrap();
                s.write_all(&(body.len() as u32).to_le_bytes()).unwrap();
                // The guest's MSG_WAITALL read must wait for the rest.
                s.write_all(&body.as_bytes()[..10]).unwrap();
                thread::sleep(Duration::from_millis(100));
                s.write_all(&body.as_bytes()[10..]).unwrap();
                let mut reply = String::new();
                s.read_to_string(&mut reply).unwrap();
                assert_eq!(reply, format!("{}:{}", body.len(), body.to_uppercase()));
            })
        })
        .collect();
    let out = Captured::default();
    let report = Runner::new()
        .arg("net")
        .arg(CLIENTS.to_string())
        .preopen_socket(listener)
        .preopen_socket(idle)
        .stdout(out.clone())
        .run(&std::fs::read(wasm).unwrap())
        .unwrap();
    for c in clients {
        c.join().unwrap();
    }
    assert_eq!(report.outcome, Outcome::Exit(0));
    assert_eq!(
        out.text(),
        format!("idle accept: EAGAIN\nserved {CLIENTS}\n")
    );
}

#[test]
fn an_address_that_cannot_be_listened_on_is_an_error_before_anything_runs() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    for bad in [addr.as_str(), "not an address"] {
        let run = wasi_threads(&["run", "--tcplisten", bad, "examples/threads.wat"]);
        assert_eq!(run.code, 2, "{bad}");
        assert!(
            run.stderr.contains(&format!("cannot listen on {bad}")),
            "{bad}: {}",
            run.stderr
        );
        assert_eq!(run.stdout, "", "nothing ran");
    }
}
