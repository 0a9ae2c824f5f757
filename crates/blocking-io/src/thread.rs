//! `--mode thread` (the default): one OS thread per connection.
//!
//! The accept loop never waits on a client, so everyone is served at once; each thread is
//! still blocked through wait data and copy data of its own connection. The cost is a thread
//! (a stack, a kernel task, a context switch per wake-up) for every connection, idle or not,
//! and the system's limit on threads is the limit on clients, which is why the notes move on
//! to pools (三) and then to one thread for everything (四, 五).

use std::net::TcpListener;

/// Stack per connection thread. The communication loop needs a 1 KiB buffer and a few
/// frames; std's 2 MiB default would reserve 2 GiB of address space for 1000 clients.
const STACK_SIZE: usize = 64 * 1024;

// ANCHOR: thread
pub fn run(listener: TcpListener) -> crate::Result<()> {
    let mut episode = protocol::accept::Episode::new();
    loop {
        let Some((stream, peer)) = crate::conn::accept(&listener, &mut episode) else {
            continue;
        };
        protocol::log!("[{peer}] connected; served by a thread of its own");
        // The thread is named after its peer, so `top -H` or a debugger shows who it serves.
        let spawned = std::thread::Builder::new()
            .name(peer.to_string())
            .stack_size(STACK_SIZE)
            .spawn(move || crate::conn::serve(stream, peer));
        if let Err(err) = spawned {
            // RLIMIT_NPROC, memory, or the kernel's thread limit. The closure (and with it
            // the socket) was dropped, so the client sees the connection close; the server
            // goes on with the threads it has.
            protocol::log!("[{peer}] refused: cannot start a thread: {err}");
        }
    }
}
// ANCHOR_END: thread
