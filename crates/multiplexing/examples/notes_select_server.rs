//! 五, the notes' select server, as minimal Rust on `libc::select`: `r_list` starts with the
//! listener, `w_list` holds sockets with a reply waiting, `w_data` the reply. The crate
//! (`src/select_backend.rs` and the other backends) is this plus what production needs.
//!
//! ```text
//! cargo run -p multiplexing --example notes_select_server -- --addr 127.0.0.1:8080
//! nc 127.0.0.1 8080
//! ```
//!
//! What to watch: no CPU used while idle (select waits), unlike 四. Its bugs are kept: two
//! messages read in two passes before the reply goes out overwrite `w_data` (the first reply
//! is lost) and put the socket in `w_list` twice, and the second send then finds no `w_data`
//! (Python's KeyError): the server stops (lab scenarios `back to back` and `queued twice`).
use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsRawFd, RawFd};

/// `select.select(r_list, w_list, [])`: blocks until some are ready, returns which.
fn select(r_list: &[RawFd], w_list: &[RawFd]) -> std::io::Result<(Vec<RawFd>, Vec<RawFd>)> {
    let too_big = r_list
        .iter()
        .chain(w_list)
        .any(|&fd| fd as usize >= libc::FD_SETSIZE);
    if too_big {
        return Err(std::io::Error::other(
            "filedescriptor out of range in select()",
        ));
    }
    // SAFETY: fd_set is plain bits, all-zero is empty; every fd was checked against
    // FD_SETSIZE above, so FD_SET/FD_ISSET stay inside the set; null means no timeout.
    unsafe {
        let (mut r, mut w) = (std::mem::zeroed::<libc::fd_set>(), std::mem::zeroed());
        r_list.iter().for_each(|&fd| libc::FD_SET(fd, &mut r));
        w_list.iter().for_each(|&fd| libc::FD_SET(fd, &mut w));
        let nfds = r_list.iter().chain(w_list).max().map_or(0, |m| m + 1);
        let (no_x, no_timeout) = (std::ptr::null_mut(), std::ptr::null_mut());
        if libc::select(nfds, &mut r, &mut w, no_x, no_timeout) < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let rl = r_list
            .iter()
            .copied()
            .filter(|&fd| libc::FD_ISSET(fd, &r))
            .collect();
        Ok((
            rl,
            w_list
                .iter()
                .copied()
                .filter(|&fd| libc::FD_ISSET(fd, &w))
                .collect(),
        ))
    }
}

// ANCHOR: serve
pub fn serve(s: TcpListener) -> std::io::Result<()> {
    s.set_nonblocking(true)?;
    // Python's lists hold socket objects; here they hold descriptors, and `conns` owns the
    // sockets (closing one = removing it from `conns`).
    let mut conns: HashMap<RawFd, TcpStream> = HashMap::new();
    let mut r_list = vec![s.as_raw_fd()];
    let mut w_list: Vec<RawFd> = Vec::new();
    let mut w_data: HashMap<RawFd, Vec<u8>> = HashMap::new();
    loop {
        let (rl, wl) = select(&r_list, &w_list)?;
        // Receive: `rl` may hold the listener (a client is waiting) or a connection.
        for r in rl {
            if r == s.as_raw_fd() {
                let (conn, _addr) = s.accept()?;
                r_list.push(conn.as_raw_fd());
                conns.insert(conn.as_raw_fd(), conn);
                continue;
            }
            let mut buf = [0u8; 1024];
            match conns.get_mut(&r).map(|conn| conn.read(&mut buf)) {
                // `if not data` (a FIN, Linux) or a reset (Windows): close it, stop watching.
                Some(Ok(0)) => {
                    conns.remove(&r);
                    r_list.retain(|&fd| fd != r);
                }
                Some(Err(e)) if e.kind() == ErrorKind::ConnectionReset => {
                    conns.remove(&r);
                    r_list.retain(|&fd| fd != r);
                }
                Some(Err(e)) => return Err(e),
                Some(Ok(n)) => {
                    w_list.push(r); // bug: pushed again if it is already there
                    w_data.insert(r, buf[..n].to_ascii_uppercase()); // bug: overwrites
                }
                None => {}
            }
        }
        // Send: one reply per writable socket, then forget it.
        for w in wl {
            let data = w_data
                .get(&w)
                .ok_or_else(|| std::io::Error::other("KeyError"))?;
            // A short send's tail is dropped, as in the notes.
            if let Some(conn) = conns.get_mut(&w) {
                let _sent = conn.write(data)?;
            }
            let at = w_list
                .iter()
                .position(|&fd| fd == w)
                .ok_or(ErrorKind::NotFound)?;
            w_list.remove(at);
            w_data.remove(&w);
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
