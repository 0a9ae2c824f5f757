//! Opening the listening socket: the notes' `socket()`, `bind`, `listen(5)`, done once.
//!
//! This is set-up, not a model: every model crate takes the (blocking) std listener this
//! returns and then makes it non-blocking, registers it with a poller, or hands it to a ring.

use crate::limits::BACKLOG;
use socket2::{Domain, Protocol, Socket, Type};
use std::net::{SocketAddr, TcpListener};

// ANCHOR: bind
/// Binds `addr` with `SO_REUSEADDR` and a listen queue of [`BACKLOG`].
///
/// `SO_REUSEADDR` lets a restarted server bind while old connections sit in TIME_WAIT (the
/// notes' students meet "Address already in use" on the second run). The queue is longer
/// than the notes' `listen(5)`: the lab opens hundreds of connections at once.
pub fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    Ok(socket.into())
}
// ANCHOR_END: bind
