//! A threaded server on preopened sockets (std only):
//!
//! `serve N`: descriptor 3 is a listener. Four threads accept from it at
//! once; each connection is read to its end, answered with the bytes
//! reversed and a line naming nothing but the length, and closed. A
//! connection that sends slowly holds one thread in a blocking read while
//! the others keep serving. After N connections the main thread checks the
//! listener at descriptor 4 in non-blocking mode (nobody connects to it:
//! `accept` answers `WouldBlock`), prints `served N`, and exits.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::fd::FromRawFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;

const WORKERS: usize = 4;

fn answer(mut stream: TcpStream) {
    let mut request = Vec::new();
    stream.read_to_end(&mut request).unwrap();
    let mut reply: Vec<u8> = request.iter().rev().copied().collect();
    reply.extend_from_slice(format!("\n{} bytes\n", request.len()).as_bytes());
    stream.write_all(&reply).unwrap();
    stream.shutdown(Shutdown::Write).unwrap();
}

fn serve(total: usize) {
    // SAFETY: the host preopens a listening socket as descriptor 3 and
    // nothing else in this program owns it.
    let listener = Arc::new(unsafe { TcpListener::from_raw_fd(3) });
    let taken = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            let listener = listener.clone();
            let taken = taken.clone();
            thread::spawn(move || {
                let mut served = 0;
                // Each worker takes a ticket before accepting, so exactly
                // `total` connections are accepted between them.
                while taken.fetch_add(1, Ordering::SeqCst) < total {
                    let (stream, _) = listener.accept().unwrap();
                    answer(stream);
                    served += 1;
                }
                served
            })
        })
        .collect();
    let served: usize = workers.into_iter().map(|w| w.join().unwrap()).sum();

    // SAFETY: as above, for the listener at descriptor 4.
    let idle = unsafe { TcpListener::from_raw_fd(4) };
    idle.set_nonblocking(true).unwrap();
    match idle.accept() {
        Err(e) if e.kind() == ErrorKind::WouldBlock => println!("idle accept: WouldBlock"),
        other => panic!("accept on an idle non-blocking listener: {other:?}"),
    }
    println!("served {served}");
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("serve") => serve(args[2].parse().unwrap()),
        _ => panic!("usage: rust-net serve N"),
    }
}
