//! 四 b, the notes' fixed non-blocking server, as minimal Rust: receive into `w_list`,
//! send from it, and remove finished entries after each loop (`del_rlist`, `del_wlist`).
//! The crate's `src/fixed.rs` is this plus what production needs.
//!
//! ```text
//! cargo run -p nonblocking-io --example notes_nonblocking_b -- --addr 127.0.0.1:8080
//! nc 127.0.0.1 8080
//! ```
//!
//! What to watch: still one core at 100%. Its remaining bug is kept: a connection closed
//! (on EOF or a reset) while its reply still waits in `w_list` is later sent to. Python then
//! fails with EBADF, an error the notes do not catch, and the server stops. Here `close`
//! is a `shutdown` of the socket (its descriptor is freed once the last `Rc` goes), and the
//! later send fails with EPIPE, which is not caught either: the same stop, without ever
//! touching a closed descriptor (lab scenario `reset while a reply waits`).
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::rc::Rc;

// ANCHOR: serve
pub fn serve(s: TcpListener) -> std::io::Result<()> {
    s.set_nonblocking(true)?;
    // Python keeps the same socket object in both lists; `Rc` shares it the same way (and
    // `&TcpStream` reads and writes, so no `RefCell` is needed).
    let mut r_list: Vec<Rc<TcpStream>> = Vec::new();
    let mut w_list: Vec<(Rc<TcpStream>, Vec<u8>)> = Vec::new();
    loop {
        match s.accept() {
            Ok((conn, _addr)) => {
                conn.set_nonblocking(true)?; // Linux's accept does not inherit it
                r_list.push(Rc::new(conn));
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                // Receive: collect replies in w_list; never send from here (send may block).
                let mut del_rlist = Vec::new();
                for (i, conn) in r_list.iter().enumerate() {
                    let mut buf = [0u8; 1024];
                    match (&**conn).read(&mut buf) {
                        Ok(0) => {
                            let _ = conn.shutdown(Shutdown::Both); // `conn.close()`
                            del_rlist.push(i);
                        }
                        Ok(n) => w_list.push((Rc::clone(conn), buf[..n].to_ascii_uppercase())),
                        Err(e) if e.kind() == ErrorKind::WouldBlock => continue,
                        Err(e) if e.kind() == ErrorKind::ConnectionReset => {
                            let _ = conn.shutdown(Shutdown::Both);
                            del_rlist.push(i);
                        }
                        Err(e) => return Err(e),
                    }
                }
                // Send: each waiting reply once. A short send's tail is dropped, as in the
                // notes (Python's `send` returns the count, and they ignore it).
                let mut del_wlist = Vec::new();
                for (i, (conn, res)) in w_list.iter().enumerate() {
                    match (&**conn).write(res) {
                        Ok(_) => del_wlist.push(i),
                        Err(e) if e.kind() == ErrorKind::WouldBlock => continue,
                        Err(e) if e.kind() == ErrorKind::ConnectionReset => {
                            let _ = conn.shutdown(Shutdown::Both);
                            del_wlist.push(i);
                        }
                        // EPIPE after our own `close` above: the notes' uncaught error.
                        Err(e) => return Err(e),
                    }
                }
                // Tidy up after the loops, never during them. Indices from the back, so
                // each `remove` leaves the ones still to come where they were.
                for i in del_rlist.into_iter().rev() {
                    r_list.remove(i);
                }
                for i in del_wlist.into_iter().rev() {
                    w_list.remove(i);
                }
            }
            Err(e) => return Err(e),
        }
    }
}
// ANCHOR_END: serve

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let addr = match args.iter().position(|a| a == "--addr") {
        Some(i) => args.get(i + 1).map_or("127.0.0.1:8080", String::as_str),
        None => "127.0.0.1:8080",
    };
    let s = TcpListener::bind(addr)?;
    println!("listening on {}", s.local_addr()?); // the lab waits for this line
    std::io::stdout().flush()?;
    serve(s)
}
