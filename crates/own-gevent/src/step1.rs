//! Step 1 of the chapter: section 五's readiness loop, with a callback per socket.
//!
//! This is where the runtime starts from. One poller waits for every socket; when one is
//! ready, the loop calls the function registered for it. It works, but the connection's
//! logic is cut into pieces that the loop calls back: whatever a callback must remember
//! until its next call (a half-sent reply, the state of a conversation) has to live in a
//! structure of its own. Steps 2 and 3 give that memory back to the code as a future.
//!
//! Level-triggered (`PollMode::Level`), as `select`: a socket with unread data is reported
//! on every wait, so a callback may read once and trust the loop to call it again.

use polling::{Event, Events, PollMode, Poller};
use std::io;
use std::net::TcpStream;

/// Whether a callback wants to be called again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    Open,
    Close,
}

/// What runs when a socket is readable.
pub type Callback = Box<dyn FnMut(&mut TcpStream) -> Keep>;

// ANCHOR: callbacks
/// Calls each socket's callback whenever it is readable, until every callback said `Close`.
pub fn run(mut sockets: Vec<(TcpStream, Callback)>) -> io::Result<()> {
    // Made after `sockets`, so dropped before them: on an early `?` return the poller is
    // gone before any registered socket closes (polling's contract for `add`).
    let poller = Poller::new()?;
    for (key, (socket, _)) in sockets.iter().enumerate() {
        socket.set_nonblocking(true)?;
        // SAFETY: every socket is deleted below when its callback closes it, or outlives
        // the poller (see above), so none is closed while registered.
        unsafe { poller.add_with_mode(socket, Event::readable(key), PollMode::Level)? };
    }
    let mut open = sockets.len();
    let mut events = Events::new();
    while open > 0 {
        events.clear();
        poller.wait(&mut events, None)?; // wait data, for every socket at once
        for ev in events.iter() {
            let (socket, callback) = &mut sockets[ev.key];
            if callback(socket) == Keep::Close {
                poller.delete(&*socket)?;
                open -= 1;
            }
        }
    }
    Ok(())
}
// ANCHOR_END: callbacks

// ANCHOR: upper_once
/// The callback of the echo-upper service: one read, one reply; `Close` at EOF or error.
/// Simplified on purpose: a short write's tail is lost here (the multiplexing crate keeps
/// it in a per-connection buffer, which is exactly the state a callback must carry).
pub fn upper_once() -> Callback {
    Box::new(|socket: &mut TcpStream| {
        use std::io::{Read, Write};
        let mut buf = [0u8; protocol::limits::READ_SIZE];
        match socket.read(&mut buf) {
            Ok(0) => Keep::Close,
            Ok(n) => {
                protocol::upper_in_place(&mut buf[..n]);
                match socket.write(&buf[..n]) {
                    Ok(_) => Keep::Open,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => Keep::Open,
                    Err(_) => Keep::Close,
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Keep::Open,
            Err(_) => Keep::Close,
        }
    })
}
// ANCHOR_END: upper_once

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::{Shutdown, TcpListener};

    #[test]
    fn each_ready_socket_gets_its_callback_until_it_closes() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut clients = Vec::new();
        let mut served = Vec::new();
        for word in ["abc", "xyz"] {
            let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
            client.write_all(word.as_bytes()).unwrap();
            client.shutdown(Shutdown::Write).unwrap();
            served.push((listener.accept().unwrap().0, upper_once()));
            clients.push(client);
        }
        run(served).unwrap();
        let replies: Vec<String> = clients
            .iter_mut()
            .map(|c| {
                let mut s = String::new();
                c.read_to_string(&mut s).unwrap();
                s
            })
            .collect();
        assert_eq!(replies, ["ABC", "XYZ"]);
    }
}
