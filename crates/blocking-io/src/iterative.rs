//! `--mode iterative`: section 二's server, one client at a time.
//!
//! A connection loop (连接循环) around the communication loop. While one client is served,
//! the thread is blocked in that client's `recv`; a second client completes its handshake
//! (the kernel does that from the listen queue) and its bytes sit in the kernel, but nobody
//! calls `accept` for it until the first client leaves. Run two `nc 127.0.0.1 8080` and see.

use std::net::TcpListener;

// ANCHOR: iterative
pub fn run(listener: TcpListener) -> crate::Result<()> {
    let mut episode = protocol::accept::Episode::new();
    loop {
        // Wait data + copy data, for a connection this time: `accept` blocks here.
        let Some((stream, peer)) = crate::conn::accept(&listener, &mut episode) else {
            continue;
        };
        protocol::log!("[{peer}] connected; every other client waits until it leaves");
        crate::conn::serve(stream, peer);
    }
}
// ANCHOR_END: iterative
